#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every cargo-fuzz target in fuzz/fuzz_targets, into $OUT,
# each with its committed seeds as <target>_seed_corpus.zip.
#
# Most targets embed CPython (pyo3 links libpython and starts an interpreter), and the runner
# image that executes $OUT/<target> is not this builder: so the interpreter goes into $OUT too,
# as $OUT/python (a PYTHONHOME: lib/libpython3.X.so and lib/python3.X/). The binaries find the
# shared library through an rpath of $ORIGIN/python/lib, and fuzz/fuzz_targets/common.rs points
# PYTHONHOME there when it exists beside the executable.
cd "$SRC/pyramid_nacl_session/fuzz"

python="$(command -v python3)"
export PYO3_PYTHON="$python"
config() { "$python" -c "import sysconfig; print(sysconfig.get_config_var('$1') or '')"; }
libdir="$(config LIBDIR)"
soname="$(config INSTSONAME)"
stdlib="$("$python" -c "import sysconfig; print(sysconfig.get_path('stdlib'))")"

export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-rpath,\$ORIGIN/python/lib"
cargo fuzz build -O --debug-assertions

home="$OUT/python"
mkdir -p "$home/lib"
# A shared libpython (--enable-shared); with a static one, pyo3 has linked it in already.
if [[ "$soname" == *.so* && -e "$libdir/$soname" ]]; then
    cp -L "$libdir/$soname" "$home/lib/"
fi
tar -C "$(dirname "$stdlib")" -cf - \
    --exclude=test --exclude=tests --exclude=idlelib --exclude=tkinter \
    --exclude=turtledemo --exclude=site-packages --exclude=__pycache__ \
    "$(basename "$stdlib")" | tar -C "$home/lib" -xf -

for target in $(cargo fuzz list); do
    cp "target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
    if [[ -d "seeds/$target" ]]; then
        (cd "seeds/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
    fi
done
