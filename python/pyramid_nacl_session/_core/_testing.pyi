"""Stubs for ``_core._testing`` (registered in src/lib.rs): what only the test suite calls.

The Cookie and Set-Cookie header work of the request path (src/cookie_header.rs and
src/set_cookie.rs), as WebOb reads and writes those headers; and the revocation set's decision
without a state dict (src/revocation/mod.rs).
"""

from typing import final

from . import RevocationSet

# PyO3 builds __all__ from what lib.rs adds, in that order.
__all__ = ["find_cookie", "CookieSpec", "is_revoked"]

def find_cookie(header: str | None, name: str) -> str | None: ...

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

# What RevocationSet.check_state decides, for a session id (None: none), user and creation time.
def is_revoked(revoked: RevocationSet, sid: object, user: object, created: float) -> bool: ...
