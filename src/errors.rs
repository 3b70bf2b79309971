//! Exceptions. Every cookie we cannot read raises a `ValueError` subclass, which is what
//! Pyramid catches to start a fresh session; the subclass says why.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    pyramid_nacl_session,
    CookieError,
    PyValueError,
    "The session cookie could not be read; the request goes on with a fresh session."
);
create_exception!(
    pyramid_nacl_session,
    MalformedCookie,
    CookieError,
    "The cookie is not URL-safe base64."
);
create_exception!(
    pyramid_nacl_session,
    CookieTooShort,
    CookieError,
    "The cookie is shorter than a nonce and an authentication tag."
);
create_exception!(
    pyramid_nacl_session,
    DecryptionFailed,
    CookieError,
    "The cookie did not authenticate: made under another key, or tampered with."
);
create_exception!(
    pyramid_nacl_session,
    BadSignature,
    CookieError,
    "A signed cookie (Pyramid's SignedCookieSessionFactory) did not verify: another secret, \
     salt or hashalg, or tampered with."
);
create_exception!(
    pyramid_nacl_session,
    BadPayload,
    CookieError,
    "The cookie decrypted, but its payload is not what the serializer reads."
);
create_exception!(
    pyramid_nacl_session,
    RefusedPickle,
    BadPayload,
    "The cookie holds a pickle that the plain-data reader (``migrate_pickle``) refuses: it names \
     code, is not plain data, or would expand far beyond what a cookie can hold."
);
create_exception!(
    pyramid_nacl_session,
    CookieTooLarge,
    PyValueError,
    "The session does not fit in one cookie (browsers drop cookies over 4096 bytes)."
);

create_exception!(
    pyramid_nacl_session,
    ReservedKeyError,
    PyValueError,
    "The app tried to set one of the keys the session keeps for itself (``RESERVED_KEYS``: \
     ``_sid_``, the session's id, and ``_timeout_``, its own timeout): nothing was changed."
);

/// The error for a failed read of the operating system's CSPRNG (keys and nonces alike).
pub fn no_randomness(e: getrandom::Error) -> PyErr {
    PyOSError::new_err(format!("no OS randomness: {e}"))
}

// The one public error for bad options is defined in Python (options.py, where the Python-side
// checks raise it) and imported here, as pyca/cryptography imports its exceptions: one class, so
// `except OptionError` catches what either side raises, and `.option` is set by its constructor.
pyo3::import_exception!(pyramid_nacl_session.options, OptionError);

/// A bad option value: an :class:`OptionError` naming `option`, with `reason` saying what is
/// wrong (never the value itself when it may be a secret).
pub fn bad_option(option: &str, reason: String) -> PyErr {
    OptionError::new_err((option.to_owned(), reason))
}
