//! Native core of pyramid_nacl_session: the cookie envelope, the serializers, keys, and the
//! Cookie/Set-Cookie header work on the request path. The Python package wraps this for Pyramid.

pub mod clock;
pub mod cookie_header;
pub mod envelope;
pub mod errors;
pub mod json;
pub mod keys;
pub mod revocation;
pub mod safe_pickle;
pub mod serializer;
pub mod session;
pub mod set_cookie;
pub mod signed;

use pyo3::prelude::*;

// Everything the module exports is registered here, in one place.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<serializer::EncryptedSerializer>()?;
    m.add_function(wrap_pyfunction!(keys::generate_secret, m)?)?;
    m.add("CookieError", py.get_type::<errors::CookieError>())?;
    m.add("MalformedCookie", py.get_type::<errors::MalformedCookie>())?;
    m.add("CookieTooShort", py.get_type::<errors::CookieTooShort>())?;
    m.add(
        "DecryptionFailed",
        py.get_type::<errors::DecryptionFailed>(),
    )?;
    m.add("BadPayload", py.get_type::<errors::BadPayload>())?;
    m.add("RefusedPickle", py.get_type::<errors::RefusedPickle>())?;
    m.add("BadSignature", py.get_type::<errors::BadSignature>())?;
    m.add("CookieTooLarge", py.get_type::<errors::CookieTooLarge>())?;
    m.add_function(wrap_pyfunction!(cookie_header::py_find_cookie, m)?)?;
    m.add_class::<set_cookie::CookieSpec>()?;
    m.add_class::<session::SessionCodec>()?;
    m.add_class::<signed::SignedCookieReader>()?;
    revocation::register(m)?;
    // Rules both sides need, written once here (issue 18): the Python layer imports them.
    m.add("SESSION_ID_KEY", revocation::ID_STATE_KEY)?;
    m.add("SESSION_ID_LENGTH", revocation::ID_TEXT_LEN)?;
    m.add("DEFAULT_SALT", signed::DEFAULT_SALT)?;
    m.add("DEFAULT_HASHALG", signed::DEFAULT_HASHALG)?;
    m.add("CLOCK_SKEW", clock::CLOCK_SKEW)?;
    Ok(())
}
