"""Type stubs for the Rust core (src/lib.rs). Keep in step with the #[pymodule] there.

A stub package only because the core has a submodule, ``_testing`` (stubs in _testing.pyi); at
run time ``_core`` is the one extension module, which Python finds before this directory.
"""

from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, NoReturn, Protocol, final

from typing_extensions import disjoint_base

# Defined in Python (errors.py) and imported by the core, so both sides raise the one class.
from pyramid_nacl_session.errors import CookieTooLarge as CookieTooLarge
from pyramid_nacl_session.errors import OptionError as OptionError

# PyO3 builds __all__ from what #[pymodule] adds, in that order.
__all__ = [
    "EncryptedSerializer",
    "generate_secret",
    "CookieError",
    "MalformedCookie",
    "CookieTooShort",
    "DecryptionFailed",
    "BadPayload",
    "RefusedPickle",
    "BadSignature",
    "CookieTooLarge",
    "OptionError",
    "ReservedKeyError",
    "CookieSpec",
    "SessionCodec",
    "SignedCookieReader",
    "RevocationSet",
    "new_session_id",
    "is_session_id",
    "SESSION_ID_KEY",
    "TIMEOUT_KEY",
    "RESERVED_KEYS",
    "MAX_AGE_LIMIT",
    "SESSION_ID_LENGTH",
    "DEFAULT_SALT",
    "DEFAULT_HASHALG",
    "CLOCK_SKEW",
    "REVOCATION_TAGS",
]

# The state key a session id travels under in the cookie (hidden from the app; 1.0.0 reads it
# as an ordinary key), and its length: 16 random bytes as URL-safe base64.
SESSION_ID_KEY: Final[str]
SESSION_ID_LENGTH: Final[int]
# Where a session's own timeout travels in the state (adjust_timeout_for_session), and both
# reserved keys, which the app cannot set (src/session.rs).
TIMEOUT_KEY: Final[str]
RESERVED_KEYS: Final[tuple[str, str]]
# A hundred years: the longest own timeout and max_age (an expiry date past 9999 overflows).
MAX_AGE_LIMIT: Final[int]
# Pyramid's SignedCookieSessionFactory defaults, for migrate_signed_* and decode --signed.
DEFAULT_SALT: Final[str]
DEFAULT_HASHALG: Final[str]
# Seconds a time from a cookie, Redis or the channel may lie ahead of this host's clock
# (src/clock.rs); a later one is refused (a cookie, a revocation call) or clamped (an entry).
CLOCK_SKEW: Final[float]
# The tags of the members in Redis: one session, one creation time, one user, everyone.
REVOCATION_TAGS: Final[tuple[str, str, str, str]]

# One key: 32 raw bytes (bytes, bytearray, memoryview) or 64 hex digits (str or bytes).
_Key = bytes | bytearray | memoryview | str
# One key, or a list or tuple of keys whose first one seals and every one opens. (The core takes
# exactly list or tuple; Sequence is what the type system can say without list's invariance
# rejecting a list[str].)
_Secret = _Key | Sequence[_Key]

class _Serializer(Protocol):
    """What a custom inner serializer provides (Pyramid's ``PickleSerializer`` shape)."""

    def loads(self, bstruct: bytes, /) -> Any: ...
    def dumps(self, appstruct: Any, /) -> bytes: ...

_SerializerArg = Literal["pickle", "json"] | _Serializer | None

def generate_secret(as_hex: bool = True) -> bytes: ...

# Subclassable, as 1.0's Python class was; native, so it cannot be mixed with other native bases.
# A bad secret, serializer or migrate_pickle raises pyramid_nacl_session.OptionError: the core
# imports that class from options.py (it defines no exception of its own for options).
@disjoint_base
class EncryptedSerializer:
    def __new__(
        cls,
        secret: _Secret,
        serializer: _SerializerArg = None,
        *,
        migrate_pickle: bool = False,
    ) -> EncryptedSerializer: ...
    def dumps(self, appstruct: Any) -> bytes: ...
    def loads(self, bstruct: bytes | str) -> Any: ...
    # (state, renewed, created, index of the key that opened it, read as a pickle to migrate)
    def open_session(
        self, bstruct: bytes | str
    ) -> tuple[dict[Any, Any], float, float, int, bool]: ...
    @property
    def serializer_name(self) -> Literal["pickle", "json", "custom"]: ...
    @property
    def serializer(self) -> _Serializer | None: ...
    @property
    def key_count(self) -> int: ...
    @property
    def migrate_pickle(self) -> bool: ...
    # Copies and pickles would carry the keys out: this always raises TypeError
    # (copy.copy and copy.deepcopy come to it too).
    def __reduce_ex__(self, protocol: Any, /) -> NoReturn: ...

class CookieError(ValueError): ...
class MalformedCookie(CookieError): ...
class CookieTooShort(CookieError): ...
class DecryptionFailed(CookieError): ...
class BadPayload(CookieError): ...
class RefusedPickle(BadPayload): ...
class BadSignature(CookieError): ...
class ReservedKeyError(ValueError): ...

# What a read kept of the cookie, for detect_changes: opaque (src/serializer.rs, snapshot).
_Snapshot = object

# The request path's one crossing each way (src/session.rs):
# (state, renewed, created, reseal, snapshot, own_timeout); the snapshot is None without
# detect_changes; own_timeout, taken out of the state, None without one.
_Read = tuple[dict[Any, Any], float, float, bool, _Snapshot | None, int | None]

# The session cookie's name and attributes (src/set_cookie.rs), as WebOb's make_cookie writes
# them.
@final
class CookieSpec:
    def __new__(
        cls,
        name: str,
        max_age: int | None = None,
        path: str | None = ...,  # "/"
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> CookieSpec: ...
    def header(self, value: str) -> str: ...
    def delete_header(self) -> str: ...

@final
class SessionCodec:
    def __new__(
        cls, serializer: EncryptedSerializer, cookie: CookieSpec, detect_changes: bool = False
    ) -> SessionCodec: ...
    # now: the session's reading of time.time(); None reads it here.
    def read_header(self, header: str | None, now: float | None = None) -> _Read | None: ...
    def read_value(self, value: str | bytes, now: float | None = None) -> _Read: ...
    # The write: with a stock WebOb response's headerlist, adds Cookie to its Vary and returns
    # the Set-Cookie header; with None, the bare cookie value; None when the snapshot shows
    # nothing changed. sid and own_timeout are sealed with the state (which is not changed);
    # own_timeout is also the Max-Age, in place of the factory's.
    def write(
        self,
        headerlist: list[tuple[str, str]] | None,
        accessed: float,
        created: float,
        state: dict[Any, Any],
        sid: str | None,
        own_timeout: int | None,
        snapshot: _Snapshot | None,
    ) -> str | None: ...
    def unchanged(
        self, headerlist: list[tuple[str, str]], state: dict[Any, Any], snapshot: _Snapshot
    ) -> bool: ...
    def vary(self, headerlist: list[tuple[str, str]]) -> None: ...
    @property
    def delete_header(self) -> str: ...

# Pyramid's signed session cookies (src/signed.rs), read to migrate off them.

@final
class SignedCookieReader:
    HASHALGS: tuple[str, str, str, str, str]
    SERIALIZERS: tuple[str, str]
    def __new__(
        cls,
        secret: str | bytes,
        *,
        salt: str | bytes | None = None,  # None: Pyramid's default, "pyramid.session."
        hashalg: str = ...,  # DEFAULT_HASHALG, "sha512" (the runtime signature shows no literal)
        serializer: str = "json",
    ) -> SignedCookieReader: ...
    def loads(self, value: str | bytes) -> Any: ...
    # The checked Pyramid session (state, renewed, created), from a value or a Cookie header.
    def read_value(self, value: str | bytes) -> tuple[dict[Any, Any], float, float]: ...
    def read_header(
        self, header: str | None, name: str
    ) -> tuple[dict[Any, Any], float, float] | None: ...
    @property
    def hashalg(self) -> str: ...
    @property
    def serializer(self) -> Literal["json", "pickle"]: ...
    # Copies and pickles would carry the secret out: this always raises TypeError
    # (copy.copy and copy.deepcopy come to it too).
    def __reduce_ex__(self, protocol: Any, /) -> NoReturn: ...

# The revocation set each worker mirrors (src/revocation/).

def new_session_id() -> str: ...
def is_session_id(text: str) -> bool: ...

@final
class RevocationSet:
    def __new__(cls, max_age: int) -> RevocationSet: ...
    @property
    def max_age(self) -> int: ...
    def revoke_session(self, sid: str, revoked_at: float) -> bool: ...
    def revoke_created(self, created: float, revoked_at: float) -> bool: ...
    def revoke_user(self, user: object, cutoff: float) -> bool: ...
    # Entries as Redis returns them, received at now: (junk, entries dated ahead of now).
    def apply_entries(
        self, entries: Iterable[tuple[bytes, float | bytes]], now: float
    ) -> tuple[int, list[tuple[bytes, float]]]: ...
    def revoke_before(self, cutoff: float) -> None: ...
    @property
    def before(self) -> float: ...
    # False for a revoked session, else its id (None when it has none); takes "_sid_" out.
    def check_state(
        self, state: dict[Any, Any], user: object, created: float
    ) -> Literal[False] | str | None: ...
    def sweep(self, now: float) -> int: ...
    @property
    def session_count(self) -> int: ...
    @property
    def created_count(self) -> int: ...
    @property
    def user_count(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    def __len__(self) -> int: ...
