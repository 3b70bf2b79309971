"""Stubs for ``_core._testing`` (registered in src/lib.rs): what only the test suite calls.

Finding a cookie in a Cookie header as WebOb does (src/cookie_header.rs), which the request
path does in Rust; and the revocation set's decision without a state dict
(src/revocation/mod.rs).
"""

from . import RevocationSet

# PyO3 builds __all__ from what lib.rs adds, in that order.
__all__ = ["find_cookie", "is_revoked"]

def find_cookie(header: str | None, name: str) -> str | None: ...

# What RevocationSet.check_state decides, for a session id (None: none), user and creation time.
def is_revoked(revoked: RevocationSet, sid: object, user: object, created: float) -> bool: ...
