//! `SessionCodec`: the request path's one native crossing each way.
//!
//! Reading goes from the request's `Cookie` header (or, where the app's request class has its
//! own `cookies`, from the value it gives) to a checked `(state, renewed, created, reseal)`;
//! writing goes from the session to the finished `Set-Cookie` header (or, where the app's
//! response class has its own `set_cookie`, to the bare value it is given). The Python session
//! class decides which; this module holds no policy beyond the cookie itself.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::cookie_header::find_cookie;
use crate::envelope;
use crate::errors::MalformedCookie;
use crate::serializer::{EncryptedSerializer, OpenedSession};
use crate::set_cookie::CookieSpec;

/// What the session class unpacks: `(state, renewed, created, reseal)`.
type SessionRead<'py> = (Bound<'py, PyDict>, f64, f64, bool);

fn unpack(opened: OpenedSession<'_>) -> SessionRead<'_> {
    let reseal = opened.reseal();
    (opened.state, opened.renewed, opened.created, reseal)
}

/// One per session factory: its serializer, cookie name and Set-Cookie attributes.
#[pyclass(frozen, module = "pyramid_nacl_session._core")]
pub struct SessionCodec {
    serializer: Py<EncryptedSerializer>,
    name: String,
    spec: CookieSpec,
}

#[pymethods]
impl SessionCodec {
    /// The options arrive checked by options.py.
    #[new]
    #[pyo3(signature = (serializer, name, max_age, path, domain, secure, httponly, samesite))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        serializer: Py<EncryptedSerializer>,
        name: String,
        max_age: Option<u64>,
        path: Option<String>,
        domain: Option<String>,
        secure: bool,
        httponly: bool,
        samesite: Option<String>,
    ) -> Self {
        let spec = CookieSpec::new(
            name.clone(),
            max_age,
            path,
            domain,
            secure,
            httponly,
            samesite,
        );
        SessionCodec {
            serializer,
            name,
            spec,
        }
    }

    /// The session in ``environ['HTTP_COOKIE']`` (``header``), read as WebOb's
    /// ``request.cookies`` would find it: ``None`` when there is no such cookie, else
    /// ``(state, renewed, created, reseal)``; raises a ``CookieError`` when it is unreadable.
    fn read_header<'py>(
        &self,
        py: Python<'py>,
        header: Option<&Bound<'py, PyString>>,
    ) -> PyResult<Option<SessionRead<'py>>> {
        let Some(header) = header else {
            return Ok(None);
        };
        // A str that is not valid Unicode (lone surrogates) makes WebOb raise; no cookie, then.
        let Ok(header) = header.to_cow() else {
            return Ok(None);
        };
        let Some(value) = find_cookie(&header, &self.name) else {
            return Ok(None);
        };
        let opened = self
            .serializer
            .get()
            .open_session_bytes(py, value.as_bytes())?;
        Ok(Some(unpack(opened)))
    }

    /// The session in a cookie value the app's ``request.cookies`` gave:
    /// ``(state, renewed, created, reseal)``; raises a ``CookieError`` when it is unreadable.
    fn read_value<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<SessionRead<'py>> {
        let serializer = self.serializer.get();
        let opened = match value.cast::<PyString>() {
            Ok(text) => match text.to_cow() {
                Ok(text) => serializer.open_session_bytes(py, text.as_bytes())?,
                Err(_) => return Err(MalformedCookie::new_err("bad base64 in session cookie")),
            },
            Err(_) => {
                let bytes = value.extract::<Vec<u8>>()?;
                serializer.open_session_bytes(py, &bytes)?
            }
        };
        Ok(unpack(opened))
    }

    /// The finished Set-Cookie header for this session, as ``response.set_cookie`` on a stock
    /// WebOb response would write it.
    fn header(
        &self,
        py: Python<'_>,
        accessed: &Bound<'_, PyAny>,
        created: &Bound<'_, PyAny>,
        state: &Bound<'_, PyDict>,
    ) -> PyResult<String> {
        let serializer = self.serializer.get();
        let plaintext = serializer.session_plaintext(py, accessed, created, state)?;
        self.spec
            .header_with(envelope::sealed_len(plaintext.len()), |out| {
                serializer.seal_append(&plaintext, out)
            })
    }

    /// The bare cookie value for this session, for an app's own ``response.set_cookie``.
    fn value(
        &self,
        py: Python<'_>,
        accessed: &Bound<'_, PyAny>,
        created: &Bound<'_, PyAny>,
        state: &Bound<'_, PyDict>,
    ) -> PyResult<String> {
        let serializer = self.serializer.get();
        let plaintext = serializer.session_plaintext(py, accessed, created, state)?;
        let mut out = String::with_capacity(envelope::sealed_len(plaintext.len()));
        serializer.seal_append(&plaintext, &mut out)?;
        Ok(out)
    }

    /// The length of the header less the value's, for sizing a bare value.
    #[getter]
    fn overhead(&self) -> usize {
        self.spec.overhead()
    }

    /// The Set-Cookie header that deletes the cookie.
    #[getter]
    fn delete_header(&self) -> &str {
        self.spec.delete()
    }
}
