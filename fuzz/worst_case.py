"""The costliest plaintexts we know how to build, under a leaked key, read and rewritten.

Each case is a plaintext of about N bytes, sealed under a known key as a cookie, that
``EncryptedSerializer(key, 'json', migrate_pickle=True)`` opens (``loads``: the envelope, then
the pickle or JSON reader) and whose value is then written back (``dumps``: the JSON writer,
then the envelope), as a session does on its next write. Each (case, size) runs in a fresh
process, so that its peak RSS is its own. Run from the repository root, in the venv:

    python fuzz/worst_case.py            # sizes 4 KiB .. the 1 MiB cookie bound
    python fuzz/worst_case.py 65536      # one size

Prints one Markdown table row per run: CPU time (this process's, so that other load on a
shared machine counts less) to read and to rewrite (best of three), bytes of
JSON written, and the growth of peak RSS over a process that imported everything and built the
cookie; last, for scale, the CPU time of the stdlib's ``pickle.loads`` (or ``json.loads``) on
the same plaintext.
"""

import json
import pickle
import resource
import struct
import subprocess
import sys
import time

KEY = bytes(range(32))
# The largest plaintext inside a cookie of at most 1 MiB (envelope::MAX_INPUT_LEN).
MAX_PLAINTEXT = (1 << 20) // 4 * 3 - 40
SIZES = [4096, 65536, 262144, MAX_PLAINTEXT]
NOW = 1_700_000_000.5


# (NOW, NOW, {'x': [ ... ]}) as protocol 4 opcodes: BINFLOAT twice, EMPTY_DICT, the key,
# EMPTY_LIST, MARK; then the items; then APPENDS, SETITEM, TUPLE3, STOP.
START = b"\x80\x04" + (b"G" + struct.pack(">d", NOW)) * 2 + b"}\x8c\x01x]("
END = b"es\x87."


def pickle_of(item, n):
    """The session triple with `item` repeated in its list, to n bytes in all."""
    return START + item * ((n - len(START) - len(END)) // len(item)) + END


def cases(n):
    # Reading: one new Python object per input byte (an empty list each).
    yield "pickle, an empty list per byte", pickle_of(b"]", n)
    # Reading: a node and a memo entry per two bytes.
    yield "pickle, memoized empty lists", pickle_of(b"]\x94", n)
    # Rewriting: six bytes of JSON per byte, the most without shared references.
    yield "pickle, NEWFALSE per byte", pickle_of(b"\x89", n)
    text = b"\x01" * (n - len(START) - len(END) - 9)
    yield (
        "pickle, str of control characters",
        (START + b"\x8d" + len(text).to_bytes(8, "little") + text + END),
    )
    # Rewriting: shared references, as far as the reader lets them expand.
    yield "pickle, shared references to the limit", shared_to_the_limit(n)
    # JSON: one new Python object per three bytes, and numbers that grow when rewritten.
    yield "JSON, empty lists", b"[" + b"[]," * ((n - 4) // 3) + b"[]]"
    yield "JSON, 1e15 (rewritten 1000000000000000.0)", b"[" + b"1e15," * ((n - 3) // 5) + b"0]"


def shared_to_the_limit(n):
    """References (BINGET, two bytes each) to one str of 250 control characters, 1503 bytes of
    JSON each, as many as the reader's bound (6 n + 64 KiB) lets through; padded to n bytes
    with NONE, POP pairs."""
    limit = 6 * n + 64 * 1024
    refs = (limit - 2000) // 1503
    body = b"\x8c\xfa" + b"\x01" * 250 + b"\x94" + b"h\x00" * refs
    pad = (n - len(START) - len(body) - len(END)) // 2
    return START + body + b"N0" * max(0, pad) + END


def run_one(name, n):
    from pyramid_nacl_session import EncryptedSerializer

    serializer = EncryptedSerializer(KEY, "json", migrate_pickle=True)
    plaintext = dict(cases(n))[name]
    sealer = EncryptedSerializer(KEY, _Raw())
    cookie = sealer.dumps(plaintext)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read, value = best_of(3, serializer.loads, cookie)
    if isinstance(value, ValueError):
        print(f"| {name} | {len(plaintext):,} | {ms(read)} | refused: {value} | | | |", flush=True)
        return
    rewrite, out = best_of(3, serializer.dumps, value)
    written = f"refused: {type(out).__name__}" if isinstance(out, ValueError) else len(out)
    if not isinstance(written, str):
        written = f"{written * 3 // 4 - 40:,}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The stdlib on the same plaintext, for scale (safe: the reader accepted it, so it holds
    # no opcode that names or calls anything).
    stdlib = pickle.loads if plaintext[:1] == b"\x80" else json.loads
    reference, _ = best_of(3, stdlib, plaintext)
    print(
        f"| {name} | {len(plaintext):,} | {ms(read)} | {ms(rewrite)} | {written} "
        f"| {(peak - base) / 1024:.1f} | {ms(reference)} |",
        flush=True,
    )


def ms(seconds):
    return f"{seconds * 1e3:.2f}"


def best_of(times, f, arg):
    """The least CPU time of `times` runs of f(arg), and what it returned or raised (the cost
    of a refusal counts as much as that of a success)."""
    best = float("inf")
    for _ in range(times):
        start = time.process_time()
        try:
            result = f(arg)
        except ValueError as e:
            result = e
        best = min(best, time.process_time() - start)
    return best, result


class _Raw:
    """A custom serializer that seals the plaintext as it is."""

    def dumps(self, value):
        return value

    def loads(self, data):
        return data


def main(argv):
    if argv[:1] == ["--one"]:
        run_one(argv[1], int(argv[2]))
        return
    sizes = [int(a) for a in argv] or SIZES
    columns = ["case", "plaintext bytes", "read ms", "rewrite ms", "JSON written"]
    columns += ["peak RSS MB", "stdlib ms"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        for name, _ in cases(n):
            subprocess.run([sys.executable, __file__, "--one", name, str(n)], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
