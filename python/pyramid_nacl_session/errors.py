"""The two errors both sides of the language seam raise: defined here, once, and imported by the
native core (``src/errors.rs``), so that ``except OptionError`` or ``except CookieTooLarge``
catches what either side raises, with the same attributes.

Nothing else is imported here: the core imports this module while it is itself imported.
"""

__all__ = ["OptionError", "CookieTooLarge"]


class OptionError(ValueError):
    """A bad option value, raised when the factory is made (from Python code or an .ini file).

    ``option`` is the name it was given under (a keyword such as ``timeout``, or the setting such
    as ``session.timeout``); ``reason`` is the message without that name. The native core raises
    this same class. No message quotes the value: it may be a key pasted into the wrong line.
    """

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        #: The keyword or setting the value was given under.
        self.option = option
        #: The message without the option's name, for re-raising under another name.
        self.reason = reason

    def __reduce__(self) -> "tuple[type[OptionError], tuple[str, str]]":
        # Picklable (multiprocessing, logging handlers) with both arguments.
        return (type(self), (self.option, self.reason))


class CookieTooLarge(ValueError):
    """The session does not fit in one cookie (browsers drop cookies over 4096 bytes).

    ``size`` is how large it would have been in bytes (at least that much, when the writer
    stopped early) and ``limit`` the most it may be, as the message counts them.
    """

    def __init__(self, message: str, size: int, limit: int) -> None:
        super().__init__(message)
        #: Bytes the session would have taken (a lower bound when the writer stopped early).
        self.size = size
        #: The most it may take.
        self.limit = limit

    def __reduce__(self) -> "tuple[type[CookieTooLarge], tuple[str, int, int]]":
        return (type(self), (str(self), self.size, self.limit))
