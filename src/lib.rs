//! Native core of pyramid_nacl_session: the cookie envelope, the serializers, keys, and the
//! Cookie/Set-Cookie header work on the request path. The Python package wraps this for Pyramid.

pub mod clock;
pub mod cookie_header;
pub mod envelope;
pub mod errors;
pub mod json;
pub mod keys;
pub mod nonce;
pub mod plain_pickle;
pub mod pystr;
pub mod revocation;
pub mod safe_pickle;
// SSE2 is in every x86_64 CPU; elsewhere the salsa20 crate's keystream serves, as it did.
#[cfg(target_arch = "x86_64")]
pub mod salsa;
pub mod serializer;
pub mod session;
pub mod set_cookie;
pub mod signed;

use pyo3::prelude::*;

// Everything the module exports is registered here, in one place; every class says it lives in
// `pyramid_nacl_session._core` (its pyclass `module=`), where it is defined.
//
// gil_used = false: the module does not rely on the GIL, so a free-threaded CPython (3.14t)
// keeps the GIL off when it imports it. What makes that true: every class is `frozen` (no
// `&mut self`, no borrow flag to race on) and, but for RevocationSet, holds only what its
// constructor set: keys, options, the cookie attributes, all read-only afterwards, so any
// number of threads may share one. RevocationSet's table is behind a std Mutex
// (src/revocation/mod.rs). The JSON writer walks a dict with PyDict_Next inside a critical section
// on that dict (src/json/write.rs), as the free-threaded C API asks. No static is mutable; the
// one piece of mutable state outside the classes is each thread's own nonce buffer
// (src/nonce.rs), which no other thread can reach.
// tests/test_threads.py runs many threads over one factory, serializer and revocation set.
#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<serializer::EncryptedSerializer>()?;
    m.add_function(wrap_pyfunction!(keys::generate_secret, m)?)?;
    // Every exception, in the order of `__all__` (the stubs list them so).
    for (name, error) in [
        ("CookieError", py.get_type::<errors::CookieError>()),
        ("MalformedCookie", py.get_type::<errors::MalformedCookie>()),
        ("CookieTooShort", py.get_type::<errors::CookieTooShort>()),
        (
            "DecryptionFailed",
            py.get_type::<errors::DecryptionFailed>(),
        ),
        ("BadPayload", py.get_type::<errors::BadPayload>()),
        ("RefusedPickle", py.get_type::<errors::RefusedPickle>()),
        ("BadSignature", py.get_type::<errors::BadSignature>()),
        ("CookieTooLarge", py.get_type::<errors::CookieTooLarge>()),
        ("OptionError", py.get_type::<errors::OptionError>()),
        (
            "ReservedKeyError",
            py.get_type::<errors::ReservedKeyError>(),
        ),
    ] {
        m.add(name, error)?;
    }
    m.add_class::<set_cookie::CookieSpec>()?;
    m.add_class::<session::SessionCodec>()?;
    m.add_class::<signed::SignedCookieReader>()?;
    m.add_class::<revocation::RevocationSet>()?;
    m.add_function(wrap_pyfunction!(revocation::new_session_id, m)?)?;
    m.add_function(wrap_pyfunction!(revocation::is_session_id, m)?)?;
    // Rules both sides need, written once here: the Python layer imports them.
    m.add("SESSION_ID_KEY", session::ID_KEY)?;
    m.add("TIMEOUT_KEY", session::TIMEOUT_KEY)?;
    m.add("RESERVED_KEYS", session::RESERVED_KEYS)?;
    m.add("MAX_AGE_LIMIT", session::MAX_AGE_LIMIT)?;
    m.add("SESSION_ID_LENGTH", revocation::ID_TEXT_LEN)?;
    m.add("DEFAULT_SALT", signed::DEFAULT_SALT)?;
    m.add("DEFAULT_HASHALG", signed::DEFAULT_HASHALG)?;
    m.add("CLOCK_SKEW", clock::CLOCK_SKEW)?;
    m.add("REVOCATION_TAGS", revocation::TAGS)?;
    add_testing(m)
}

/// `_core._testing`: what only the test suite calls (finding a cookie in a Cookie header, which
/// the request path does from Rust, and a revocation decision without a state dict), kept out
/// of the public module and its `__all__`.
fn add_testing(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let name = "pyramid_nacl_session._core._testing";
    let testing = PyModule::new(py, name)?;
    testing.add_function(wrap_pyfunction!(cookie_header::py_find_cookie, &testing)?)?;
    testing.add_function(wrap_pyfunction!(revocation::is_revoked, &testing)?)?;
    // An attribute, not `add`, which would list it in `_core.__all__`; and in `sys.modules`, so
    // that `from pyramid_nacl_session._core._testing import ...` works (an extension module has
    // no `__path__` to find submodules by).
    m.setattr("_testing", &testing)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item(name, &testing)?;
    Ok(())
}
