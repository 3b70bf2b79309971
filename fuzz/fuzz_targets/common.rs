#![allow(dead_code)] // each target uses only some of these
//! Shared by the targets that need Python: the embedded interpreter and the checks that hold
//! for every decoded value.

use pyo3::prelude::*;
use pyo3::types::PyString;

/// LeakSanitizer suppressions built into every target that embeds Python: the interpreter keeps
/// its interned and cached objects until the process ends, and LeakSanitizer (on by default
/// with AddressSanitizer, and under ClusterFuzzLite, whose options we do not control) would
/// report them at exit as leaks. Allocations made by libpython are suppressed; a leak in our
/// Rust code still shows.
#[no_mangle]
pub extern "C" fn __lsan_default_suppressions() -> *const std::ffi::c_char {
    c"leak:libpython".as_ptr()
}

/// Starts the embedded interpreter, once per process. Under ClusterFuzzLite the target runs
/// from $OUT, beside the Python that .clusterfuzzlite/build.sh copied there as `python/` (the
/// runner image has no Python of ours): that is then its PYTHONHOME.
pub fn start_python() {
    if std::env::var_os("PYTHONHOME").is_none() {
        let exe = std::env::current_exe().expect("no path to this executable");
        let home = exe.with_file_name("python");
        if home.join("lib").is_dir() {
            // Before the interpreter or any thread starts.
            std::env::set_var("PYTHONHOME", home);
        }
    }
    Python::initialize();
}

/// The value's JSON must read back and write out to the same bytes: what the migrate path
/// writes for a pickle (and a JSON session rewrites) must be readable next request.
pub fn assert_json_stable(value: &Bound<'_, PyAny>) {
    let py = value.py();
    let once = _core::json::dumps(value).expect("json::dumps refused a decoded value");
    let again = _core::json::loads(py, &once).expect("json::loads refused what dumps wrote");
    let twice = _core::json::dumps(&again).expect("json::dumps refused its own output");
    assert_eq!(once, twice, "JSON not stable across a round trip");
}

/// `repr` of a Python value, to compare ours with the stdlib's (NaN-safe, unlike `==`).
pub fn repr(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .and_then(|r| r.cast_into::<PyString>().map_err(PyErr::from))
        .map(|r| r.to_cow().map(|c| c.into_owned()).unwrap_or_default())
        .expect("repr failed")
}
