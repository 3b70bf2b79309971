"""Writes the committed seed corpora under fuzz/seeds/<target>/ from real cookies.

Run from the repository root with the package and PyNaCl installed:
    python fuzz/make_seeds.py
The output is deterministic apart from nonces and timestamps; rerunning replaces the files.
"""

import base64
import json
import pickle
import shutil
import struct
from pathlib import Path

from nacl.secret import SecretBox

from pyramid_nacl_session import EncryptedSerializer

SEEDS = Path(__file__).resolve().parent / "seeds"
# The keys the Rust targets and the atheris harnesses use.
ENVELOPE_KEY = bytes([1]) * 32  # envelope_open opens with [1; 32] and [2; 32]
OLD_KEY = bytes([2]) * 32

NOW = 1_700_000_000.5
SMALL = {"user": "alice", "_csrft_": "0" * 40, "_f_": ["Saved."]}
WIDE = {f"key{i:02d}": (i if i % 3 else f"value {i} \u00e9\u2603") for i in range(70)}
ODD = {
    "nested": {"a": [1, 2.5, None, True, False, {"b": []}]},
    "big": 2**80,
    "neg": -(2**70),
    "float": 1e-300,
    "esc": 'quote" back\\ nl\n tab\t nul\x00 \U0001f600',
    "tuple": (1, ("x",)),
}
STATES = {"empty": {}, "small": SMALL, "wide": WIDE, "odd": ODD}


def sessions():
    for name, state in STATES.items():
        yield name, (NOW, NOW - 100, state)


def json_payloads():
    for name, value in sessions():
        yield f"json-{name}", json.dumps(value).encode()
    yield (
        "json-compact-unicode",
        json.dumps([NOW, NOW, ODD], ensure_ascii=False, separators=(",", ":")).encode(),
    )
    yield "json-specials", b'[NaN, -Infinity, {"x": 1e999, "y": -0.0, "z": "\\ud800"}]'


def pickle_payloads():
    for name, value in sessions():
        for protocol in (2, 4, 5):
            yield f"pickle{protocol}-{name}", pickle.dumps(value, protocol)
    shared = [1, 2]
    yield "pickle-shared", pickle.dumps((NOW, NOW, {"a": shared, "b": shared}), 3)


def doubled(levels):
    """x = [x, x], `levels` times: 2**levels empty lists once the shared references are copied."""
    x = []
    for _ in range(levels):
        x = [x, x]
    return x


def hostile_payloads():
    """What an attacker holding a leaked key sends: each must give a fresh session, never a 500."""
    # A 479-byte cookie whose JSON rewrite would be 2**40 empty lists; and one that just fits.
    yield "pickle-doubled-40", pickle.dumps((NOW, NOW, {"x": doubled(40)}), 2)
    yield "pickle-doubled-12", pickle.dumps((NOW, NOW, {"x": doubled(12)}), 4)
    # (t, t, {(): 2}): a tuple key set by the DICT opcode, and an unhashable one.
    t = b"G" + struct.pack(">d", NOW)
    yield "pickle-dict-tuple-key", b"\x80\x02(" + t + t + b"()K\x02dt."
    yield "pickle-dict-unhashable-key", b"\x80\x02(}K\x01d."
    # DUP copies a reference as BINGET does.
    yield "pickle-dup-doubled", b"\x80\x02" + b"(" * 30 + b"]" + b"2l" * 30 + b"."


def nacl_cookie(key, payload):
    """As pyramid_nacl_session 1.0 wrote cookies (PyNaCl, base64 without padding)."""
    return base64.urlsafe_b64encode(SecretBox(key).encrypt(payload)).rstrip(b"=")


def cookies():
    for serializer in ("json", "pickle"):
        sealer = EncryptedSerializer([ENVELOPE_KEY, OLD_KEY], serializer)
        for name, value in sessions():
            yield f"ours-{serializer}-{name}", sealer.dumps(value)
    yield "nacl10-small", nacl_cookie(ENVELOPE_KEY, pickle.dumps((NOW, NOW, SMALL), 2))
    yield (
        "nacl10-wide",
        nacl_cookie(ENVELOPE_KEY, pickle.dumps((NOW, NOW, WIDE), pickle.HIGHEST_PROTOCOL)),
    )
    yield "nacl10-old-key", nacl_cookie(OLD_KEY, pickle.dumps((NOW, NOW, SMALL), 2))
    padded = nacl_cookie(ENVELOPE_KEY, b"x")
    yield "padded", padded + b"=" * (-len(padded) % 4)
    yield "other-key", nacl_cookie(bytes(32), b"{}")
    yield "too-short", base64.urlsafe_b64encode(bytes(39)).rstrip(b"=")


def headers():
    small = cookies_by_name["ours-json-small"].decode()
    wide = cookies_by_name["nacl10-wide"].decode()
    yield "plain", f"session={small}"
    yield "among-others", f"a=1; session={small}; b=2"
    yield "wide", f"csrftoken=abc; session={wide}; _ga=GA1.2.3"
    yield "duplicate", f"session=garbage; session={small}"
    yield "quoted", f'x="a\\"b\\073"; session="{small}"'
    yield "quote-hides", f'x="; session={small}"; y=1'
    yield "unterminated", f'session="a\\"b\\"c; other={small}'
    yield "expires", f"session=Wed, 09-Jun-2021 10:18:14 GMT; z={small}"
    yield "spaces", f"session \t= \r\n{small}"
    yield "latin1", f"x=\u00e9; session={small}"
    yield "other-name", "token\x00a=1; token=" + small
    yield "reserved-name", "path\x00path=1"


def write(target, items, limit=40):
    folder = SEEDS / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in list(items)[:limit]:
        if isinstance(data, str):
            data = data.encode("utf-8")
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    cookies_by_name = dict(cookies())
    write("envelope_open", cookies_by_name.items())
    write("json_loads", json_payloads())
    write("safe_pickle_loads", [*pickle_payloads(), *hostile_payloads()])
    write("sealed_payload", [*json_payloads(), *pickle_payloads(), *hostile_payloads()])
    write("rewrite_bound", [*json_payloads(), *pickle_payloads(), *hostile_payloads()])
    write("find_cookie", headers())
    # signed_payload: the first byte picks the hashalg (its value mod 5) and, with its top bit,
    # the pickle reader instead of JSON.
    write(
        "signed_payload",
        [
            *((name, bytes([i % 5]) + data) for i, (name, data) in enumerate(json_payloads())),
            *(
                (name, bytes([0x80 | i % 5]) + data)
                for i, (name, data) in enumerate([*pickle_payloads(), *hostile_payloads()])
            ),
        ],
    )
    total = sum(p.stat().st_size for p in SEEDS.rglob("*") if p.is_file())
    print(f"{sum(1 for p in SEEDS.rglob('*') if p.is_file())} seed files, {total} bytes")
