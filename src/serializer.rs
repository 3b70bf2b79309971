//! `EncryptedSerializer`: the inner serializer (pickle, JSON or the app's own) inside the envelope.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::envelope::{self, Keys, OpenError};
use crate::errors::{
    bad_option, no_randomness, BadPayload, CookieTooShort, DecryptionFailed, MalformedCookie,
    RefusedPickle,
};
use crate::{clock, json, keys, plain_pickle, safe_pickle};

/// The inner serializer: how session state becomes the plaintext that is sealed.
enum Format {
    /// Pyramid's `PickleSerializer` semantics, calling the pickle module directly.
    Pickle {
        dumps: Py<PyAny>,
        loads: Py<PyAny>,
        protocol: Py<PyAny>,
        /// The protocol, when `plain_pickle` writes it natively (4 or 5).
        native: Option<u8>,
    },
    /// `json.dumps`/`json.loads` semantics, done in Rust.
    Json,
    /// Any object with `loads` and `dumps`, honoured exactly as 1.0 did.
    Custom(Py<PyAny>),
}

/// Seal session state with NaCl secretbox (XSalsa20-Poly1305) into a cookie value, and open it.
///
/// ``secret``: 32 random bytes or 64 hex digits, or a list of them to rotate keys (the first
/// seals, every one opens). ``serializer``: ``None`` or ``'pickle'`` (the default, as in 1.0),
/// ``'json'``, or any object with ``loads`` and ``dumps``. ``migrate_pickle``: with JSON, also
/// read cookies whose payload is a pickle of plain data, without running any pickle code.
// `subclass`: 1.0's class was plain Python, and apps may have subclassed it.
#[pyclass(frozen, subclass, module = "pyramid_nacl_session._core")]
pub struct EncryptedSerializer {
    keys: Keys,
    format: Format,
    migrate_pickle: bool,
}

/// Serialized state: written here, or the bytes a Python serializer returned (not copied).
enum Plaintext<'py> {
    Owned(Vec<u8>),
    Python(Bound<'py, PyBytes>),
}

impl Plaintext<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Plaintext::Owned(v) => v,
            Plaintext::Python(b) => b.as_bytes(),
        }
    }
}

/// A Pyramid session read from a cookie: the `(accessed, created, state)` triple, checked.
pub struct OpenedSession<'py> {
    pub state: Bound<'py, PyDict>,
    pub renewed: f64,
    pub created: f64,
    /// Position of the key that opened it; not 0 means it should be resealed under the first.
    pub key_index: usize,
    /// A pickle read by the plain-data reader (`migrate_pickle`), to be rewritten as JSON.
    pub migrated: bool,
    /// What was deserialized, and from which plaintext: for `detect_changes` (session.rs).
    pub value: Bound<'py, PyAny>,
    pub plaintext: Vec<u8>,
}

impl OpenedSession<'_> {
    /// Whether to seal it anew on this response although the app changed nothing.
    pub fn reseal(&self) -> bool {
        self.key_index != 0 || self.migrated
    }
}

/// Pyramid's `renewed, created, state = value`, for a tuple or list of three, with finite times
/// (NaN or infinite times would make the session outlive every timeout), created no later than
/// now plus the clock skew (a session created ahead would outlive `absolute_timeout` and every
/// revocation: only a forger, or a badly wrong clock, writes one), and a dict state.
/// `now`, when the caller has read the one clock already (src/clock.rs), else read here, so
/// every reader (ours and the signed one) applies the one rule.
pub(crate) fn session_triple<'py>(
    value: &Bound<'py, PyAny>,
    now: Option<f64>,
) -> Result<(f64, f64, Bound<'py, PyDict>), BadTriple> {
    let items: Vec<Bound<'py, PyAny>> = if let Ok(t) = value.cast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = value.cast::<PyList>() {
        l.iter().collect()
    } else {
        return Err(BadTriple::NotASession);
    };
    let [renewed, created, state] =
        <[_; 3]>::try_from(items).map_err(|_| BadTriple::NotASession)?;
    let time = |t: Bound<'py, PyAny>| {
        t.extract::<f64>()
            .ok()
            .filter(|t| t.is_finite())
            .ok_or(BadTriple::NotASession)
    };
    let (renewed, created) = (time(renewed)?, time(created)?);
    let state = state
        .cast_into::<PyDict>()
        .map_err(|_| BadTriple::NotASession)?;
    let now = match now {
        Some(now) => now,
        None => clock::now(state.py()).map_err(BadTriple::Clock)?,
    };
    if !clock::not_future(created, now) {
        return Err(BadTriple::InTheFuture);
    }
    // A renewal ahead of now stands for the creation: the timeout then counts from when the
    // session began, never from a moment to come. (Refusing it would break Pyramid's own shared
    // session tests, which carry one with `timeout=None`; taken so, it only shortens a session.)
    let renewed = if clock::not_future(renewed, now) {
        renewed
    } else {
        created
    };
    Ok((renewed, created, state))
}

/// Why a value is not a session we accept.
pub(crate) enum BadTriple {
    /// Not `(accessed, created, state)` with finite times and a dict.
    NotASession,
    /// Created after now plus `clock::CLOCK_SKEW`.
    InTheFuture,
    /// The clock could not be read (a `time.time` patched to something that is not a clock).
    Clock(PyErr),
}

impl BadTriple {
    /// The error for a cookie (`what`: "cookie" or "signed cookie") that held `value`.
    pub(crate) fn error(&self, what: &str, value: &Bound<'_, PyAny>) -> PyErr {
        match self {
            BadTriple::NotASession => match value.get_type().name() {
                Ok(name) => BadPayload::new_err(format!(
                    "{what} holds a {name} where a Pyramid session (accessed, created, state) \
                     belongs"
                )),
                Err(e) => e,
            },
            BadTriple::InTheFuture => BadPayload::new_err(format!(
                "{what} holds a session created more than {} s ahead of this host's clock",
                clock::CLOCK_SKEW
            )),
            BadTriple::Clock(e) => e.clone_ref(value.py()),
        }
    }
}

fn is_exact_class(obj: &Bound<'_, PyAny>, module: &str, qualname: &str) -> PyResult<bool> {
    let ty = obj.get_type();
    Ok(ty.module()?.to_cow()? == module && ty.qualname()?.to_cow()? == qualname)
}

impl EncryptedSerializer {
    fn format_from(py: Python<'_>, serializer: Option<&Bound<'_, PyAny>>) -> PyResult<Format> {
        let pickle = |protocol: Option<Bound<'_, PyAny>>| -> PyResult<Format> {
            let module = py.import("pickle")?;
            let protocol = match protocol {
                Some(p) => p,
                None => module.getattr("HIGHEST_PROTOCOL")?,
            };
            let native = protocol
                .extract::<i64>()
                .ok()
                .filter(|&p| plain_pickle::is_native_protocol(p))
                .map(|p| p as u8);
            Ok(Format::Pickle {
                dumps: module.getattr("dumps")?.unbind(),
                loads: module.getattr("loads")?.unbind(),
                protocol: protocol.unbind(),
                native,
            })
        };
        let Some(obj) = serializer else {
            return pickle(None);
        };
        if let Ok(name) = obj.cast::<PyString>() {
            return match &*name.to_cow()? {
                "pickle" => pickle(None),
                "json" => Ok(Format::Json),
                other => Err(bad_option(
                    "serializer",
                    format!(
                        "serializer must be 'json', 'pickle' or an object with loads and dumps, \
                         got {other:?}"
                    ),
                )),
            };
        }
        // Exactly the stock classes (not subclasses, which may change behaviour): same meaning,
        // done natively. pyramid.session.JSONSerializer is webob's class.
        if is_exact_class(obj, "webob.cookies", "JSONSerializer")? {
            return Ok(Format::Json);
        }
        if is_exact_class(obj, "pyramid.session", "PickleSerializer")? {
            return pickle(Some(obj.getattr("protocol")?));
        }
        for method in ["loads", "dumps"] {
            if !obj.getattr(method).is_ok_and(|m| m.is_callable()) {
                return Err(bad_option(
                    "serializer",
                    format!(
                        "serializer must be 'json', 'pickle' or an object with loads and dumps; \
                         {} has no callable {method}",
                        obj.get_type().name()?
                    ),
                ));
            }
        }
        Ok(Format::Custom(obj.clone().unbind()))
    }

    fn serialize(&self, py: Python<'_>, appstruct: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        Ok(match self.plaintext(py, appstruct)? {
            Plaintext::Owned(v) => v,
            Plaintext::Python(b) => b.as_bytes().to_vec(),
        })
    }

    /// What `serialize` returns, without copying what a Python serializer returned.
    fn plaintext<'py>(
        &self,
        py: Python<'py>,
        appstruct: &Bound<'py, PyAny>,
    ) -> PyResult<Plaintext<'py>> {
        let out = match &self.format {
            Format::Json => return json::dumps(appstruct).map(Plaintext::Owned),
            Format::Pickle {
                dumps,
                protocol,
                native,
                ..
            } => {
                // Plain data is written natively, byte for byte what pickle.dumps writes;
                // anything else goes to pickle.dumps (src/plain_pickle.rs).
                if let Some(written) = native.and_then(|p| plain_pickle::dumps(appstruct, p)) {
                    return Ok(Plaintext::Owned(written));
                }
                dumps.bind(py).call1((appstruct, protocol.bind(py)))?
            }
            Format::Custom(obj) => obj.bind(py).call_method1("dumps", (appstruct,))?,
        };
        match out.cast_into::<PyBytes>() {
            Ok(b) => Ok(Plaintext::Python(b)),
            Err(e) => Err(PyTypeError::new_err(format!(
                "serializer.dumps must return bytes, got {}",
                e.into_inner().get_type().name()?
            ))),
        }
    }

    /// The state read from a plaintext, and whether it was a pickle read for migration to JSON.
    fn deserialize<'py>(
        &self,
        py: Python<'py>,
        plaintext: &[u8],
    ) -> PyResult<(Bound<'py, PyAny>, bool)> {
        let bad = |what: &str, cause: PyErr| {
            let err =
                BadPayload::new_err(format!("cookie payload is not {what}: {}", cause.value(py)));
            err.set_cause(py, Some(cause));
            err
        };
        let value = match &self.format {
            Format::Json if self.migrate_pickle && safe_pickle::looks_like_pickle(plaintext) => {
                let value = safe_pickle::loads(py, plaintext).map_err(|e| {
                    let err = RefusedPickle::new_err(format!(
                        "cookie payload is not a pickle of plain data: {}",
                        e.value(py)
                    ));
                    err.set_cause(py, Some(e));
                    err
                })?;
                return Ok((value, true));
            }
            Format::Json => json::loads(py, plaintext).map_err(|e| bad("JSON", e)),
            // Plain data is read natively, as pickle.loads reads it (shared values shared);
            // anything the plain-data reader refuses goes to pickle.loads.
            Format::Pickle { loads, .. } => match plain_pickle::loads(py, plaintext) {
                Some(value) => Ok(value),
                None => loads
                    .bind(py)
                    .call1((PyBytes::new(py, plaintext),))
                    // As Pyramid's PickleSerializer: any unpickling error is a bad cookie.
                    .map_err(|e| {
                        if e.is_instance_of::<PyException>(py) {
                            bad("a pickle", e)
                        } else {
                            e
                        }
                    }),
            },
            Format::Custom(obj) => obj
                .bind(py)
                .call_method1("loads", (PyBytes::new(py, plaintext),))
                .map_err(|e| {
                    if e.is_instance_of::<PyValueError>(py) {
                        bad("what the serializer reads", e)
                    } else {
                        e
                    }
                }),
        }?;
        Ok((value, false))
    }

    /// Base64 text (bytes or str) to plaintext and the index of the key that opened it.
    fn open_envelope(&self, bstruct: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, usize)> {
        envelope::with_cookie_bytes(bstruct, bad_base64, |cookie| self.open_bytes(cookie))
    }

    fn open_bytes(&self, cookie: &[u8]) -> PyResult<(Vec<u8>, usize)> {
        envelope::open(&self.keys, cookie).map_err(|e| match e {
            OpenError::BadBase64 => bad_base64(),
            OpenError::TooLong => MalformedCookie::new_err(format!(
                "session cookie too long: over {} bytes",
                envelope::MAX_INPUT_LEN
            )),
            OpenError::TooShort => CookieTooShort::new_err(format!(
                "session cookie too short: under {} bytes once decoded",
                envelope::OVERHEAD
            )),
            OpenError::Unauthenticated => {
                DecryptionFailed::new_err("session cookie did not decrypt: wrong key or tampered")
            }
        })
    }

    /// Opens a cookie value and checks that it holds a Pyramid session, against `now` (the one
    /// clock as the caller read it; `None` reads it here).
    pub fn open_session_bytes<'py>(
        &self,
        py: Python<'py>,
        cookie: &[u8],
        now: Option<f64>,
    ) -> PyResult<OpenedSession<'py>> {
        let (plaintext, key_index) = self.open_bytes(cookie)?;
        let (value, migrated) = self.deserialize(py, &plaintext)?;
        let (renewed, created, state) =
            session_triple(&value, now).map_err(|e| e.error("cookie", &value))?;
        Ok(OpenedSession {
            state,
            renewed,
            created,
            key_index,
            migrated,
            value,
            plaintext,
        })
    }

    /// The plaintext of a Pyramid session, `(accessed, created, state)`.
    ///
    /// ``state`` may be the session itself, a dict subclass whose accessors do bookkeeping: it
    /// is copied straight from its storage into a plain dict, never through those accessors
    /// (``dict.copy`` would call them once per key), so serializers see a plain dict, as with
    /// Pyramid's ``dict(session)``.
    pub fn session_plaintext(
        &self,
        py: Python<'_>,
        accessed: &Bound<'_, PyAny>,
        created: &Bound<'_, PyAny>,
        state: &Bound<'_, PyDict>,
    ) -> PyResult<Vec<u8>> {
        let plain = PyDict::new(py);
        for (key, value) in state.iter() {
            plain.set_item(key, value)?;
        }
        let tuple = PyTuple::new(py, [accessed.clone(), created.clone(), plain.into_any()])?;
        // A value JSON cannot hold is named by its key in the session (skipping the state's
        // place, 2, in the tuple).
        self.serialize(py, tuple.as_any())
            .map_err(|e| json::error_path::named(py, e, "session", 1))
    }

    /// What `detect_changes` keeps of an opened session, to tell at the end of the request
    /// whether its state changed in place (`unchanged`): with JSON, the state's own text in
    /// `plaintext`, where our writer puts it (`[r,c,{...}]`: the times are numbers, which hold
    /// no comma, so the state starts after the second), or empty when the plaintext is in
    /// another form (1.0's spaces), which compares unequal and so costs one write; with any
    /// other serializer, `(plaintext, renewed, created)`, the times as they were read (an int
    /// stays an int), since the state is compared by serializing the whole triple again. A
    /// bytes object or a tuple: a class of its own cost several times as much to make and
    /// free, on every request that reads the session.
    pub fn snapshot<'py>(&self, opened: &OpenedSession<'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = opened.state.py();
        let plaintext = opened.plaintext.as_slice();
        if let Format::Json = self.format {
            let mut commas = plaintext.iter().enumerate().filter(|(_, &b)| b == b',');
            let held = match (commas.next(), commas.next()) {
                (Some(_), Some((start, _))) => plaintext
                    .get(start + 1..)
                    .and_then(|rest| rest.strip_suffix(b"]"))
                    .unwrap_or_default(),
                _ => b"",
            };
            return Ok(PyBytes::new(py, held).into_any());
        }
        Ok(PyTuple::new(
            py,
            [
                PyBytes::new(py, plaintext).into_any(),
                opened.value.get_item(0)?,
                opened.value.get_item(1)?,
            ],
        )?
        .into_any())
    }

    /// Whether `state` is still what `snapshot` (made by `snapshot` when it was opened) held,
    /// as bytes: the state is serialized as it would be written, stamped, with a serializer
    /// other than JSON, with the times it was read with.
    pub fn unchanged(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyDict>,
        snapshot: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if let Format::Json = self.format {
            let held = snapshot.cast::<PyBytes>()?;
            return Ok(json::dumps_session_state(state)? == held.as_bytes());
        }
        let snapshot = snapshot.cast::<PyTuple>()?;
        let plaintext = snapshot.get_borrowed_item(0)?;
        let plaintext = plaintext.cast::<PyBytes>()?;
        let (renewed, created) = (snapshot.get_item(1)?, snapshot.get_item(2)?);
        Ok(self.session_plaintext(py, &renewed, &created, state)? == plaintext.as_bytes())
    }

    /// Seals `plaintext` and appends the cookie value to `out`.
    pub fn seal_append(&self, plaintext: &[u8], out: &mut String) -> PyResult<()> {
        envelope::seal_append(&self.keys, plaintext, out).map_err(no_randomness)
    }
}

#[pymethods]
impl EncryptedSerializer {
    #[new]
    #[pyo3(signature = (secret, serializer = None, *, migrate_pickle = false))]
    fn new(
        py: Python<'_>,
        secret: &Bound<'_, PyAny>,
        serializer: Option<&Bound<'_, PyAny>>,
        migrate_pickle: bool,
    ) -> PyResult<Self> {
        let keys = keys::parse(secret)?;
        let format = Self::format_from(py, serializer)?;
        if migrate_pickle && !matches!(format, Format::Json) {
            return Err(bad_option(
                "migrate_pickle",
                "migrate_pickle works only with the JSON serializer (serializer='json')".into(),
            ));
        }
        Ok(EncryptedSerializer {
            keys,
            format,
            migrate_pickle,
        })
    }

    /// Serialize ``appstruct`` and seal it; returns the cookie value as ASCII bytes.
    fn dumps<'py>(
        &self,
        py: Python<'py>,
        appstruct: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let plaintext = self
            .plaintext(py, appstruct)
            .map_err(|e| json::error_path::named(py, e, "appstruct", 0))?;
        let plaintext = plaintext.as_bytes();
        // GIL kept for seal/open: 2-9 us of crypto is not worth waiting to win it back (benchmarks/GIL.md).
        PyBytes::new_with(py, envelope::sealed_len(plaintext.len()), |out| {
            envelope::seal_into(&self.keys, plaintext, out).map_err(no_randomness)
        })
    }

    /// Open a cookie value (bytes or str, padded or not) and deserialize it.
    /// Raises a ``CookieError`` (a ``ValueError``) that says what was wrong.
    fn loads<'py>(
        &self,
        py: Python<'py>,
        bstruct: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (plaintext, _) = self.open_envelope(bstruct)?;
        Ok(self.deserialize(py, &plaintext)?.0)
    }

    /// Open a Pyramid session cookie: returns ``(state, renewed, created, key_index,
    /// migrated)``, where ``key_index`` is the position of the key that opened it and
    /// ``migrated`` is true for a pickle read by the plain-data reader (``migrate_pickle``).
    /// Raises a ``CookieError`` when the value is unreadable or holds no session
    /// ``(accessed, created, state)`` with finite times and a dict.
    fn open_session<'py>(
        &self,
        py: Python<'py>,
        bstruct: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyDict>, f64, f64, usize, bool)> {
        let opened = envelope::with_cookie_bytes(bstruct, bad_base64, |cookie| {
            self.open_session_bytes(py, cookie, None)
        })?;
        Ok((
            opened.state,
            opened.renewed,
            opened.created,
            opened.key_index,
            opened.migrated,
        ))
    }

    /// The name of the inner serializer: ``'pickle'``, ``'json'`` or ``'custom'``.
    #[getter]
    fn serializer_name(&self) -> &'static str {
        match self.format {
            Format::Pickle { .. } => "pickle",
            Format::Json => "json",
            Format::Custom(_) => "custom",
        }
    }

    /// The app's own serializer object, or ``None`` for the built-in pickle and JSON.
    #[getter]
    fn serializer<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        match &self.format {
            Format::Custom(obj) => Some(obj.bind(py).clone()),
            _ => None,
        }
    }

    #[getter]
    fn key_count(&self) -> usize {
        self.keys.count()
    }

    #[getter]
    fn migrate_pickle(&self) -> bool {
        self.migrate_pickle
    }

    fn __repr__(&self) -> String {
        format!(
            "<EncryptedSerializer serializer={} keys={}{}>",
            self.serializer_name(),
            self.keys.count(),
            if self.migrate_pickle {
                " migrate_pickle"
            } else {
                ""
            }
        )
    }

    // Copies and pickles would carry the keys out of this object. copy.copy and
    // copy.deepcopy fall back to this too.
    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_copyable())
    }
}

fn bad_base64() -> PyErr {
    MalformedCookie::new_err("bad base64 in session cookie")
}

fn not_copyable() -> PyErr {
    PyTypeError::new_err("EncryptedSerializer holds secret keys; it cannot be pickled or copied")
}
