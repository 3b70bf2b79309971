//! `SessionCodec`: the request path's one native crossing each way.
//!
//! Reading goes from the request's `Cookie` header (or, where the app's request class has its
//! own `cookies`, from the value it gives) to a checked `(state, renewed, created, reseal,
//! snapshot, own_timeout)`, the session's own timeout taken out of the state here; writing goes
//! from the session, its id and its own timeout to the finished `Set-Cookie` header (or, where
//! the app's response class has its own `set_cookie`, to the bare value it is given), the two
//! put back into what is sealed here, never into the app's dict. The Python session class
//! decides which; this module holds the reserved keys and no policy beyond the cookie itself.
//!
//! With `detect_changes`, reading also keeps what it opened (a snapshot: the state's JSON text,
//! or the pickle and its two times), so that at the end of a request that read the session
//! without marking it changed, writing can first serialize the state as it was stamped then
//! and compare bytes: equal means nothing changed in place and no cookie is written. No copy
//! of the state is made on the way in.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString};

use crate::cookie_header::{add_vary_cookie, find_cookie};
use crate::envelope;
use crate::errors::MalformedCookie;
use crate::serializer::{EncryptedSerializer, OpenedSession};
use crate::set_cookie::CookieSpec;

/// The state keys the session keeps for itself, each written here once: the app can neither set
/// them (`ReservedKeyError`) nor see them. Plain keys, so that 1.0 reads such a cookie (as one
/// more key) and a rollback keeps every session.
///
/// The session's id, with revocation on (src/revocation).
pub const ID_KEY: &str = "_sid_";
/// The session's own inactivity timeout and cookie Max-Age (`adjust_timeout_for_session`).
pub const TIMEOUT_KEY: &str = "_timeout_";
/// Both, for the Python layer's check on every path that sets a key.
pub const RESERVED_KEYS: (&str, &str) = (ID_KEY, TIMEOUT_KEY);
/// A hundred years, the longest own timeout (and `max_age`): a longer one would put the
/// cookie's expiry date past the year 9999.
pub const MAX_AGE_LIMIT: u64 = 100 * 365 * 24 * 3600;

/// What the session class unpacks: `(state, renewed, created, reseal, snapshot, own_timeout)`,
/// the snapshot opaque to Python (`EncryptedSerializer::snapshot`).
type SessionRead<'py> = (
    Bound<'py, PyDict>,
    f64,
    f64,
    bool,
    Option<Bound<'py, PyAny>>,
    Option<u64>,
);

/// Takes the session's own timeout out of `state`: a whole number of seconds from 1 to
/// `MAX_AGE_LIMIT`. Anything else under the key is dropped, never trusted as a timeout nor cut
/// to one (the app cannot set the key, so it is not the app's data either).
fn take_own_timeout(state: &Bound<'_, PyDict>) -> PyResult<Option<u64>> {
    let key = intern!(state.py(), TIMEOUT_KEY);
    let Some(value) = state.get_item(key)? else {
        return Ok(None);
    };
    state.del_item(key)?;
    if !value.is_exact_instance_of::<PyInt>() {
        return Ok(None); // (a bool is an int, but not a number of seconds)
    }
    Ok(value
        .extract::<u64>()
        .ok()
        .filter(|n| (1..=MAX_AGE_LIMIT).contains(n)))
}

/// The state as it is sealed: the app's dict, with the session's id and own timeout put back
/// (in that order, the order they come back in when read) in a copy, only when there are any.
fn sealed_state<'py>(
    state: &Bound<'py, PyDict>,
    sid: Option<&Bound<'py, PyString>>,
    own_timeout: Option<u64>,
) -> PyResult<Bound<'py, PyDict>> {
    if sid.is_none() && own_timeout.is_none() {
        return Ok(state.clone());
    }
    let py = state.py();
    // From the dict's storage: PyDict_Copy of a session would call its keys() accessor.
    let full = PyDict::new(py);
    for (key, value) in state.iter() {
        full.set_item(key, value)?;
    }
    if let Some(sid) = sid {
        full.set_item(intern!(py, ID_KEY), sid)?;
    }
    if let Some(seconds) = own_timeout {
        full.set_item(intern!(py, TIMEOUT_KEY), seconds)?;
    }
    Ok(full)
}

/// One per session factory: its serializer, cookie name and Set-Cookie attributes.
#[pyclass(frozen, module = "pyramid_nacl_session._core")]
pub struct SessionCodec {
    serializer: Py<EncryptedSerializer>,
    spec: Py<CookieSpec>,
    /// Reads keep a snapshot of what they opened.
    detect_changes: bool,
}

impl SessionCodec {
    fn unpack<'py>(&self, opened: OpenedSession<'py>) -> PyResult<SessionRead<'py>> {
        let reseal = opened.reseal();
        let snapshot = if self.detect_changes {
            Some(self.serializer.get().snapshot(&opened)?)
        } else {
            None
        };
        let own_timeout = take_own_timeout(&opened.state)?;
        Ok((
            opened.state,
            opened.renewed,
            opened.created,
            reseal,
            snapshot,
            own_timeout,
        ))
    }
}

#[pymethods]
impl SessionCodec {
    /// ``cookie``: the cookie's name and attributes, made from options checked by options.py.
    #[new]
    #[pyo3(signature = (serializer, cookie, detect_changes=false))]
    fn new(
        serializer: Py<EncryptedSerializer>,
        cookie: Py<CookieSpec>,
        detect_changes: bool,
    ) -> Self {
        SessionCodec {
            serializer,
            spec: cookie,
            detect_changes,
        }
    }

    /// The session in ``environ['HTTP_COOKIE']`` (``header``), checked against ``now`` (the
    /// session's reading of the one clock; ``None``: read here), read as WebOb's
    /// ``request.cookies`` would find it: ``None`` when there is no such cookie, else
    /// ``(state, renewed, created, reseal, snapshot)``, the snapshot ``None`` unless
    /// ``detect_changes``; raises a ``CookieError`` when it is unreadable.
    #[pyo3(signature = (header, now=None))]
    fn read_header<'py>(
        &self,
        py: Python<'py>,
        header: Option<&Bound<'py, PyString>>,
        now: Option<f64>,
    ) -> PyResult<Option<SessionRead<'py>>> {
        let Some(header) = header else {
            return Ok(None);
        };
        // A str that is not valid Unicode (lone surrogates) makes WebOb raise; no cookie, then.
        let Ok(header) = header.to_cow() else {
            return Ok(None);
        };
        let Some(value) = find_cookie(&header, self.spec.get().name()) else {
            return Ok(None);
        };
        let opened = self
            .serializer
            .get()
            .open_session_bytes(py, value.as_bytes(), now)?;
        self.unpack(opened).map(Some)
    }

    /// The session in a cookie value the app's ``request.cookies`` gave, checked against
    /// ``now`` as for ``read_header``:
    /// ``(state, renewed, created, reseal, snapshot, own_timeout)``; raises a ``CookieError``
    /// when it is unreadable.
    #[pyo3(signature = (value, now=None))]
    fn read_value<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
        now: Option<f64>,
    ) -> PyResult<SessionRead<'py>> {
        let serializer = self.serializer.get();
        let opened = match value.cast::<PyString>() {
            Ok(text) => match text.to_cow() {
                Ok(text) => serializer.open_session_bytes(py, text.as_bytes(), now)?,
                Err(_) => return Err(MalformedCookie::new_err("bad base64 in session cookie")),
            },
            Err(_) => {
                let bytes = value.extract::<Vec<u8>>()?;
                serializer.open_session_bytes(py, &bytes, now)?
            }
        };
        self.unpack(opened)
    }

    /// The request path's write, in one crossing. With ``headerlist``, a stock WebOb
    /// response's WSGI header list: adds ``Cookie`` to its ``Vary`` and returns the finished
    /// Set-Cookie header; with ``None`` (the app's own ``response.set_cookie`` writes it):
    /// returns the bare cookie value. ``None`` when ``snapshot`` shows that nothing changed.
    /// ``sid``, the session's id, and ``own_timeout``, its own timeout, are sealed with the
    /// state when not ``None`` (the dict is not changed); ``own_timeout`` is also the cookie's
    /// Max-Age, in place of the factory's.
    #[pyo3(signature = (headerlist, accessed, created, state, sid, own_timeout, snapshot))]
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        py: Python<'_>,
        headerlist: Option<&Bound<'_, PyList>>,
        accessed: &Bound<'_, PyAny>,
        created: &Bound<'_, PyAny>,
        state: &Bound<'_, PyDict>,
        sid: Option<&Bound<'_, PyString>>,
        own_timeout: Option<u64>,
        snapshot: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<String>> {
        if let Some(headerlist) = headerlist {
            add_vary_cookie(py, headerlist)?;
        }
        let state = &sealed_state(state, sid, own_timeout)?;
        let serializer = self.serializer.get();
        // Unchanged: the state, stamped with the snapshot's times, serializes to the very bytes
        // that were opened.
        if let Some(snapshot) = snapshot {
            if serializer.unchanged(py, state, snapshot)? {
                return Ok(None);
            }
        }
        let plaintext = serializer.session_plaintext(py, accessed, created, state)?;
        let value_len = envelope::sealed_len(plaintext.len());
        let seal = |out: &mut String| serializer.seal_append(&plaintext, out);
        if headerlist.is_none() {
            let mut out = String::with_capacity(value_len);
            seal(&mut out)?;
            return Ok(Some(out));
        }
        let spec = self.spec.get();
        spec.header_with(py, value_len, own_timeout, seal).map(Some)
    }

    /// ``detect_changes``' usual end of request on a stock WebOb response, in one crossing
    /// with three arguments (this runs on every request that only read the session): adds
    /// ``Cookie`` to the ``Vary`` of ``headerlist``, and says whether ``state`` is still what
    /// ``snapshot`` was opened from. When not, the caller writes the cookie.
    fn unchanged(
        &self,
        py: Python<'_>,
        headerlist: &Bound<'_, PyList>,
        state: &Bound<'_, PyDict>,
        snapshot: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        add_vary_cookie(py, headerlist)?;
        self.serializer.get().unchanged(py, state, snapshot)
    }

    /// Adds ``Cookie`` to the ``Vary`` of ``headerlist`` (a WSGI header list), unless a
    /// ``Vary`` header already names it or is ``*``.
    fn vary(&self, py: Python<'_>, headerlist: &Bound<'_, PyList>) -> PyResult<()> {
        add_vary_cookie(py, headerlist)
    }

    /// The Set-Cookie header that deletes the cookie.
    #[getter]
    fn delete_header(&self) -> &str {
        self.spec.get().delete()
    }
}
