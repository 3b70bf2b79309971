//! `EncryptedSerializer`: the inner serializer (pickle, JSON or the app's own) inside the envelope.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::envelope::{self, Keys, OpenError};
use crate::errors::{BadPayload, CookieTooShort, DecryptionFailed, MalformedCookie, RefusedPickle};
use crate::keys::no_randomness;
use crate::{json, keys, safe_pickle};

enum Payload {
    /// Pyramid's `PickleSerializer` semantics, calling the pickle module directly.
    Pickle {
        dumps: Py<PyAny>,
        loads: Py<PyAny>,
        protocol: Py<PyAny>,
    },
    /// `json.dumps`/`json.loads` semantics, done in Rust.
    Json,
    /// Any object with `loads` and `dumps`, honoured exactly as 1.0 did.
    Custom(Py<PyAny>),
}

/// EncryptedSerializer(secret, serializer=None, *, migrate_pickle=False)
/// --
///
/// Seal session state with NaCl secretbox (XSalsa20-Poly1305) into a cookie value, and open it.
///
/// ``secret``: 32 random bytes or 64 hex digits, or a list of them to rotate keys (the first
/// seals, every one opens). ``serializer``: ``None`` or ``'pickle'`` (the default, as in 1.0),
/// ``'json'``, or any object with ``loads`` and ``dumps``. ``migrate_pickle``: with JSON, also
/// read cookies whose payload is a pickle of plain data, without running any pickle code.
// `subclass`: 1.0's class was plain Python, and apps may have subclassed it.
#[pyclass(frozen, subclass, module = "pyramid_nacl_session")]
pub struct EncryptedSerializer {
    keys: Keys,
    payload: Payload,
    migrate_pickle: bool,
}

fn is_exact_class(obj: &Bound<'_, PyAny>, module: &str, qualname: &str) -> PyResult<bool> {
    let ty = obj.get_type();
    Ok(ty.module()?.to_cow()? == module && ty.qualname()?.to_cow()? == qualname)
}

impl EncryptedSerializer {
    fn payload_from(py: Python<'_>, serializer: Option<&Bound<'_, PyAny>>) -> PyResult<Payload> {
        let pickle = |protocol: Option<Bound<'_, PyAny>>| -> PyResult<Payload> {
            let module = py.import("pickle")?;
            let protocol = match protocol {
                Some(p) => p,
                None => module.getattr("HIGHEST_PROTOCOL")?,
            };
            Ok(Payload::Pickle {
                dumps: module.getattr("dumps")?.unbind(),
                loads: module.getattr("loads")?.unbind(),
                protocol: protocol.unbind(),
            })
        };
        let Some(obj) = serializer else {
            return pickle(None);
        };
        if let Ok(name) = obj.cast::<PyString>() {
            return match &*name.to_cow()? {
                "pickle" => pickle(None),
                "json" => Ok(Payload::Json),
                other => Err(PyValueError::new_err(format!(
                    "serializer must be 'json', 'pickle' or an object with loads and dumps, \
                     got {other:?}"
                ))),
            };
        }
        // Exactly the stock classes (not subclasses, which may change behaviour): same meaning,
        // done natively. pyramid.session.JSONSerializer is webob's class.
        if is_exact_class(obj, "webob.cookies", "JSONSerializer")? {
            return Ok(Payload::Json);
        }
        if is_exact_class(obj, "pyramid.session", "PickleSerializer")? {
            return pickle(Some(obj.getattr("protocol")?));
        }
        for method in ["loads", "dumps"] {
            if !obj.getattr(method).is_ok_and(|m| m.is_callable()) {
                return Err(PyTypeError::new_err(format!(
                    "serializer must be 'json', 'pickle' or an object with loads and dumps; \
                     {} has no callable {method}",
                    obj.get_type().name()?
                )));
            }
        }
        Ok(Payload::Custom(obj.clone().unbind()))
    }

    fn serialize(&self, py: Python<'_>, appstruct: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let out = match &self.payload {
            Payload::Json => return json::dumps(appstruct),
            Payload::Pickle {
                dumps, protocol, ..
            } => dumps.bind(py).call1((appstruct, protocol.bind(py)))?,
            Payload::Custom(obj) => obj.bind(py).call_method1("dumps", (appstruct,))?,
        };
        match out.cast::<PyBytes>() {
            Ok(b) => Ok(b.as_bytes().to_vec()),
            Err(_) => Err(PyTypeError::new_err(format!(
                "serializer.dumps must return bytes, got {}",
                out.get_type().name()?
            ))),
        }
    }

    fn deserialize<'py>(&self, py: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let bad = |what: &str, cause: PyErr| {
            let err =
                BadPayload::new_err(format!("cookie payload is not {what}: {}", cause.value(py)));
            err.set_cause(py, Some(cause));
            err
        };
        match &self.payload {
            Payload::Json if self.migrate_pickle && safe_pickle::looks_like_pickle(plaintext) => {
                safe_pickle::loads(py, plaintext).map_err(|e| {
                    let err = RefusedPickle::new_err(format!(
                        "cookie payload is not a pickle of plain data: {}",
                        e.value(py)
                    ));
                    err.set_cause(py, Some(e));
                    err
                })
            }
            Payload::Json => json::loads(py, plaintext).map_err(|e| bad("JSON", e)),
            Payload::Pickle { loads, .. } => loads
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
            Payload::Custom(obj) => obj
                .bind(py)
                .call_method1("loads", (PyBytes::new(py, plaintext),))
                .map_err(|e| {
                    if e.is_instance_of::<PyValueError>(py) {
                        bad("what the serializer reads", e)
                    } else {
                        e
                    }
                }),
        }
    }

    fn open_envelope(&self, bstruct: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, usize)> {
        let opened = if let Ok(b) = bstruct.cast::<PyBytes>() {
            envelope::open(&self.keys, b.as_bytes())
        } else if let Ok(s) = bstruct.cast::<PyString>() {
            match s.to_cow() {
                Ok(text) => envelope::open(&self.keys, text.as_bytes()),
                Err(_) => Err(OpenError::BadBase64),
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "cookie value must be bytes or str, got {}",
                bstruct.get_type().name()?
            )));
        };
        opened.map_err(|e| match e {
            OpenError::BadBase64 => MalformedCookie::new_err("bad base64 in session cookie"),
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
        let payload = Self::payload_from(py, serializer)?;
        if migrate_pickle && !matches!(payload, Payload::Json) {
            return Err(PyValueError::new_err(
                "migrate_pickle works only with the JSON serializer (serializer='json')",
            ));
        }
        Ok(EncryptedSerializer {
            keys,
            payload,
            migrate_pickle,
        })
    }

    /// Serialize ``appstruct`` and seal it; returns the cookie value as ASCII bytes.
    fn dumps<'py>(
        &self,
        py: Python<'py>,
        appstruct: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let plaintext = self.serialize(py, appstruct)?;
        // GIL kept for seal/open: 2-9 us of crypto is not worth waiting to win it back (benchmarks/GIL.md).
        PyBytes::new_with(py, envelope::sealed_len(plaintext.len()), |out| {
            envelope::seal_into(&self.keys, &plaintext, out).map_err(no_randomness)
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
        self.deserialize(py, &plaintext)
    }

    /// The cookie value (str) for a Pyramid session: seals ``(accessed, created, state)``.
    ///
    /// ``state`` may be the session itself, a dict subclass whose accessors do bookkeeping:
    /// it is copied straight from its storage into a plain dict, never through those accessors
    /// (``dict.copy`` would call them once per key), so serializers see a plain dict, as with
    /// Pyramid's ``dict(session)``.
    fn dumps_session<'py>(
        &self,
        py: Python<'py>,
        accessed: &Bound<'py, PyAny>,
        created: &Bound<'py, PyAny>,
        state: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyString>> {
        let plain = PyDict::new(py);
        for (key, value) in state.iter() {
            plain.set_item(key, value)?;
        }
        let tuple = PyTuple::new(py, [accessed.clone(), created.clone(), plain.into_any()])?;
        let plaintext = self.serialize(py, tuple.as_any())?;
        let mut out = vec![0; envelope::sealed_len(plaintext.len())];
        envelope::seal_into(&self.keys, &plaintext, &mut out).map_err(no_randomness)?;
        // Base64 is ASCII, so this cannot fail; a failure would be an error, not a panic.
        let text = std::str::from_utf8(&out)
            .map_err(|_| PyValueError::new_err("sealed cookie is not ASCII"))?;
        Ok(PyString::new(py, text))
    }

    /// Like ``loads``, and also says how the cookie was opened: returns ``(value, key_index,
    /// payload)``, where ``key_index`` is the position of the key that opened it (not 0: it
    /// should be resealed under the first key) and ``payload`` is ``'json'``, ``'pickle'`` (with
    /// ``migrate_pickle``: a pickle read by the plain-data decoder) or ``'custom'``.
    fn open_cookie<'py>(
        &self,
        py: Python<'py>,
        bstruct: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, usize, &'static str)> {
        let (plaintext, key_index) = self.open_envelope(bstruct)?;
        let payload = match self.payload {
            Payload::Json if self.migrate_pickle && safe_pickle::looks_like_pickle(&plaintext) => {
                "pickle"
            }
            _ => self.serializer_name(),
        };
        Ok((self.deserialize(py, &plaintext)?, key_index, payload))
    }

    /// The name of the inner serializer: ``'pickle'``, ``'json'`` or ``'custom'``.
    #[getter]
    fn serializer_name(&self) -> &'static str {
        match self.payload {
            Payload::Pickle { .. } => "pickle",
            Payload::Json => "json",
            Payload::Custom(_) => "custom",
        }
    }

    /// The app's own serializer object, or ``None`` for the built-in pickle and JSON.
    #[getter]
    fn serializer<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        match &self.payload {
            Payload::Custom(obj) => Some(obj.bind(py).clone()),
            _ => None,
        }
    }

    #[getter]
    fn key_count(&self) -> usize {
        self.keys.len()
    }

    #[getter]
    fn migrate_pickle(&self) -> bool {
        self.migrate_pickle
    }

    fn __repr__(&self) -> String {
        format!(
            "<EncryptedSerializer serializer={} keys={}{}>",
            self.serializer_name(),
            self.keys.len(),
            if self.migrate_pickle {
                " migrate_pickle"
            } else {
                ""
            }
        )
    }

    // Copies and pickles would carry the keys out of this object.
    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_copyable())
    }

    fn __copy__(&self) -> PyResult<()> {
        Err(not_copyable())
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_copyable())
    }
}

fn not_copyable() -> PyErr {
    PyTypeError::new_err("EncryptedSerializer holds secret keys; it cannot be pickled or copied")
}
