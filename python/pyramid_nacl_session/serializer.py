"""Where 1.0 defined ``EncryptedSerializer``; kept so its import path still works."""

from ._core import EncryptedSerializer

__all__ = ["EncryptedSerializer"]
