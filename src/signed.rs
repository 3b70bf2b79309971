//! Pyramid's signed session cookies, read once so they can be resealed as ours: the
//! `migrate_signed_*` options, and the CLI's `decode --signed`.
//!
//! `SignedCookieSessionFactory` stores its cookie through WebOb 1.8's `SignedSerializer`. Byte
//! layout (everything a reader of the cookie can see; nothing is encrypted):
//!
//!   urlsafe_b64_nopad( HMAC-H(key = salt || secret, payload) (H's output size) || payload )
//!
//! - H is the factory's `hashalg`: SHA-512 by default (a 64-byte tag), or SHA-384, SHA-256,
//!   SHA-224, SHA-1 (`SIGNED_HASHALGS`). Other `hashlib` names are refused at start-up.
//! - The HMAC key is `salt || secret` used as it is (HMAC itself hashes a key longer than H's
//!   block). Both are encoded as latin-1, or both as UTF-8 when either holds a character
//!   latin-1 cannot write (WebOb's fallback). Pyramid's default salt is `pyramid.session.`.
//! - The payload is `json.dumps((renewed, created, state))` as UTF-8 (Pyramid 2's default), or
//!   `pickle.dumps` of the same triple (Pyramid 1.x, or Pyramid 2 with `PickleSerializer`).
//!
//! The tag is checked in constant time by RustCrypto's `Mac::verify_slice` before any byte of
//! the payload is read; a JSON payload goes to `crate::json`, a pickle only to
//! `crate::safe_pickle`, which builds plain data and never runs pickle code (a leaked signing
//! secret would otherwise be remote code execution). Base64 is read strictly (WebOb's reader
//! skips junk characters): every cookie WebOb wrote reads, other spellings give a fresh session.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use zeroize::Zeroizing;

use crate::cookie_header::find_cookie;
use crate::envelope::{B64, MAX_INPUT_LEN};
use crate::errors::{
    bad_option, BadPayload, BadSignature, CookieTooShort, MalformedCookie, RefusedPickle,
};
use crate::serializer::session_triple;
use crate::{json, safe_pickle};

/// What the session class unpacks: `(state, renewed, created)`.
type SignedRead<'py> = (Bound<'py, PyDict>, f64, f64);

/// Pyramid's `SignedCookieSessionFactory` defaults, exported to Python as `_core.DEFAULT_SALT`
/// and `_core.DEFAULT_HASHALG` so that no other file spells them.
pub const DEFAULT_SALT: &str = "pyramid.session.";
pub const DEFAULT_HASHALG: &str = "sha512";
/// The `hashalg` names we verify, as `hashlib.new` spells them.
pub const SIGNED_HASHALGS: [&str; 5] = ["sha512", "sha384", "sha256", "sha224", "sha1"];
pub const SIGNED_SERIALIZERS: [&str; 2] = ["json", "pickle"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn from_name(name: &str) -> Option<Self> {
        // hashlib.new takes these names in any case.
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Some(HashAlg::Sha1),
            "sha224" => Some(HashAlg::Sha224),
            "sha256" => Some(HashAlg::Sha256),
            "sha384" => Some(HashAlg::Sha384),
            "sha512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha224 => "sha224",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// Bytes of tag in front of the payload.
    pub fn tag_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    fn verify(self, key: &[u8], payload: &[u8], tag: &[u8]) -> bool {
        match self {
            HashAlg::Sha1 => verify::<Hmac<sha1::Sha1>>(key, payload, tag),
            HashAlg::Sha224 => verify::<Hmac<sha2::Sha224>>(key, payload, tag),
            HashAlg::Sha256 => verify::<Hmac<sha2::Sha256>>(key, payload, tag),
            HashAlg::Sha384 => verify::<Hmac<sha2::Sha384>>(key, payload, tag),
            HashAlg::Sha512 => verify::<Hmac<sha2::Sha512>>(key, payload, tag),
        }
    }

    /// The tag WebOb would write; for tests and fixtures only (the `testing` feature).
    #[cfg(any(test, feature = "testing"))]
    pub fn sign(self, key: &[u8], payload: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha1 => sign::<Hmac<sha1::Sha1>>(key, payload),
            HashAlg::Sha224 => sign::<Hmac<sha2::Sha224>>(key, payload),
            HashAlg::Sha256 => sign::<Hmac<sha2::Sha256>>(key, payload),
            HashAlg::Sha384 => sign::<Hmac<sha2::Sha384>>(key, payload),
            HashAlg::Sha512 => sign::<Hmac<sha2::Sha512>>(key, payload),
        }
    }
}

fn verify<M: Mac + KeyInit>(key: &[u8], payload: &[u8], tag: &[u8]) -> bool {
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(payload);
    mac.verify_slice(tag).is_ok()
}

#[cfg(any(test, feature = "testing"))]
fn sign<M: Mac + KeyInit>(key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedError {
    TooLong,
    BadBase64,
    TooShort,
    BadSignature,
}

/// The payload of a signed cookie value, once its tag verifies under `key`.
pub fn open(alg: HashAlg, key: &[u8], cookie: &[u8]) -> Result<Vec<u8>, SignedError> {
    if cookie.len() > MAX_INPUT_LEN {
        return Err(SignedError::TooLong);
    }
    let mut raw = B64.decode(cookie).ok_or(SignedError::BadBase64)?;
    let tag_len = alg.tag_len();
    // WebOb would check an empty payload against a short tag and fail; same answer, sooner.
    if raw.len() < tag_len {
        return Err(SignedError::TooShort);
    }
    let (tag, payload) = raw.split_at(tag_len);
    if !alg.verify(key, payload, tag) {
        return Err(SignedError::BadSignature);
    }
    raw.drain(..tag_len);
    Ok(raw)
}

/// A signed cookie value as WebOb writes it; for tests and fixtures only (the `testing` feature,
/// which the fuzz targets turn on; the shipped module has no use for it).
#[cfg(any(test, feature = "testing"))]
pub fn seal(alg: HashAlg, key: &[u8], payload: &[u8]) -> String {
    let mut raw = alg.sign(key, payload);
    raw.extend_from_slice(payload);
    B64.encode(raw)
}

/// WebOb's `bytes_(salt or '') + bytes_(secret)`: latin-1, or UTF-8 for both str parts when
/// either is not latin-1. Bytes are taken as they are.
pub fn salted_secret(
    salt: &Bound<'_, PyAny>,
    secret: &Bound<'_, PyAny>,
) -> PyResult<Zeroizing<Vec<u8>>> {
    let parts = [(salt, "salt"), (secret, "secret")];
    let mut texts: Vec<Result<Zeroizing<String>, Zeroizing<Vec<u8>>>> = Vec::with_capacity(2);
    for (obj, name) in parts {
        if obj.is_none() && name == "salt" {
            texts.push(Err(Zeroizing::new(Vec::new())));
        } else if let Ok(b) = obj.cast::<PyBytes>() {
            texts.push(Err(Zeroizing::new(b.as_bytes().to_vec())));
        } else if let Ok(s) = obj.cast::<PyString>() {
            texts.push(Ok(Zeroizing::new(s.to_cow()?.into_owned())));
        } else {
            let type_name = obj.get_type().name()?;
            return Err(bad_option(
                name,
                format!("expected str or bytes, got {type_name}"),
            ));
        }
    }
    let latin1 = texts.iter().all(|t| {
        t.as_ref()
            .map_or(true, |s| s.chars().all(|c| c as u32 <= 0xFF))
    });
    // Sized up front so that no reallocation leaves a copy of the secret behind unwiped.
    let len: usize = texts
        .iter()
        .map(|t| t.as_ref().map_or_else(|b| b.len(), |s| s.len()))
        .sum();
    let mut key = Zeroizing::new(Vec::with_capacity(len));
    for text in &texts {
        match text {
            Ok(s) if latin1 => key.extend(s.chars().map(|c| c as u8)),
            Ok(s) => key.extend_from_slice(s.as_bytes()),
            Err(b) => key.extend_from_slice(b),
        }
    }
    Ok(key)
}

/// Read a cookie written by Pyramid's ``SignedCookieSessionFactory`` with the same ``secret``,
/// ``salt``, ``hashalg`` and serializer (``'json'``, Pyramid 2's default, or ``'pickle'``, read
/// as plain data without running pickle code). ``salt=None`` means Pyramid's default,
/// ``'pyramid.session.'``. Only for migrating off such cookies.
#[pyclass(frozen, module = "pyramid_nacl_session._core")]
pub struct SignedCookieReader {
    key: Zeroizing<Vec<u8>>,
    alg: HashAlg,
    pickle: bool,
}

impl SignedCookieReader {
    fn error(&self, e: SignedError) -> PyErr {
        match e {
            SignedError::TooLong => MalformedCookie::new_err(format!(
                "signed cookie too long: over {MAX_INPUT_LEN} bytes"
            )),
            SignedError::BadBase64 => MalformedCookie::new_err("bad base64 in signed cookie"),
            SignedError::TooShort => CookieTooShort::new_err(format!(
                "signed cookie too short: under the {}-byte {} tag once decoded",
                self.alg.tag_len(),
                self.alg.name()
            )),
            SignedError::BadSignature => {
                BadSignature::new_err("signed cookie did not verify: wrong secret or tampered")
            }
        }
    }

    fn loads_bytes<'py>(&self, py: Python<'py>, cookie: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let payload = open(self.alg, &self.key, cookie).map_err(|e| self.error(e))?;
        let read = if self.pickle {
            safe_pickle::loads(py, &payload)
        } else {
            json::loads(py, &payload)
        };
        read.map_err(|cause| {
            // As for `migrate_pickle`: a pickle the plain-data reader refuses is a RefusedPickle.
            let err = if self.pickle {
                RefusedPickle::new_err(format!(
                    "signed cookie payload is not a pickle of plain data: {}",
                    cause.value(py)
                ))
            } else {
                BadPayload::new_err(format!(
                    "signed cookie payload is not JSON: {}",
                    cause.value(py)
                ))
            };
            err.set_cause(py, Some(cause));
            err
        })
    }
}

fn session<'py>(value: &Bound<'py, PyAny>) -> PyResult<SignedRead<'py>> {
    let (renewed, created, state) =
        session_triple(value, None).map_err(|e| e.error("signed cookie", value))?;
    Ok((state, renewed, created))
}

#[pymethods]
impl SignedCookieReader {
    #[new]
    #[pyo3(signature = (secret, *, salt = None, hashalg = DEFAULT_HASHALG, serializer = "json"))]
    fn new(
        py: Python<'_>,
        secret: &Bound<'_, PyAny>,
        salt: Option<&Bound<'_, PyAny>>,
        hashalg: &str,
        serializer: &str,
    ) -> PyResult<Self> {
        let salt = match salt {
            Some(s) => s.clone(),
            None => PyString::new(py, DEFAULT_SALT).into_any(),
        };
        let secret_is_empty = secret.len().is_ok_and(|n| n == 0);
        if secret_is_empty {
            return Err(bad_option("secret", "empty".into()));
        }
        let key = salted_secret(&salt, secret)?;
        let alg = HashAlg::from_name(hashalg).ok_or_else(|| {
            bad_option(
                "hashalg",
                format!("expected one of {}", SIGNED_HASHALGS.join(", ")),
            )
        })?;
        let pickle = match serializer {
            "json" => false,
            "pickle" => true,
            _ => return Err(bad_option("serializer", "expected json or pickle".into())),
        };
        Ok(SignedCookieReader { key, alg, pickle })
    }

    /// The hashalg names this reader verifies.
    #[classattr]
    #[pyo3(name = "HASHALGS")]
    fn hashalgs() -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        let [a, b, c, d, e] = SIGNED_HASHALGS;
        (a, b, c, d, e)
    }

    /// The serializer names this reader takes.
    #[classattr]
    #[pyo3(name = "SERIALIZERS")]
    fn serializers() -> (&'static str, &'static str) {
        let [a, b] = SIGNED_SERIALIZERS;
        (a, b)
    }

    /// Verify a cookie value (str or bytes) and return what it holds. Raises a ``CookieError``
    /// (a ``ValueError``) that says what was wrong.
    fn loads<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::envelope::with_cookie_bytes(
            value,
            || self.error(SignedError::BadBase64),
            |cookie| self.loads_bytes(py, cookie),
        )
    }

    /// The Pyramid session in a cookie value the app's ``request.cookies`` gave:
    /// ``(state, renewed, created)``, checked as ``SessionCodec`` checks ours; raises a
    /// ``CookieError`` when it is unreadable.
    fn read_value<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<SignedRead<'py>> {
        let opened = self.loads(py, value)?;
        session(&opened)
    }

    /// The Pyramid session in cookie ``name`` of ``environ['HTTP_COOKIE']`` (``header``), found
    /// as WebOb's ``request.cookies`` would: ``None`` when there is no such cookie.
    fn read_header<'py>(
        &self,
        py: Python<'py>,
        header: Option<&Bound<'py, PyString>>,
        name: &str,
    ) -> PyResult<Option<SignedRead<'py>>> {
        let Some(Ok(header)) = header.map(|h| h.to_cow()) else {
            return Ok(None);
        };
        let Some(value) = find_cookie(&header, name) else {
            return Ok(None);
        };
        let opened = self.loads_bytes(py, value.as_bytes())?;
        session(&opened).map(Some)
    }

    #[getter]
    fn hashalg(&self) -> &'static str {
        self.alg.name()
    }

    #[getter]
    fn serializer(&self) -> &'static str {
        if self.pickle {
            "pickle"
        } else {
            "json"
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<SignedCookieReader hashalg={} serializer={}>",
            self.alg.name(),
            self.serializer()
        )
    }

    // Copies and pickles would carry the signing secret out of this object. copy.copy and
    // copy.deepcopy fall back to this too.
    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_copyable())
    }
}

fn not_copyable() -> PyErr {
    PyTypeError::new_err("SignedCookieReader holds a secret; it cannot be pickled or copied")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"pyramid.session.seekrit";

    /// Minted by Python: `base64.urlsafe_b64encode(sig + msg).rstrip(b'=')` with
    /// `sig = hmac.new(b'pyramid.session.' + b'seekrit', msg, alg).digest()` and
    /// `msg = json.dumps([1700000000.5, 1699999000.0, {'a': 1}]).encode()`.
    const PYTHON_SHA512: &str = "eUBfBZRlyEgciZoFVpE-hSJlki21QZxXcgxAOEiSvNGq00epZ-TgUB-CM4dlBghMnU2AHptETkHDZIE3wTc0S1sxNzAwMDAwMDAwLjUsIDE2OTk5OTkwMDAuMCwgeyJhIjogMX1d";
    const PYTHON_SHA256: &str =
        "umCOaRgFyE_USVX_pUSKb2WczH8oqQAVsx5zLw4FTZNbMTcwMDAwMDAwMC41LCAxNjk5OTk5MDAwLjAsIHsiYSI6IDF9XQ";
    const PYTHON_SHA1: &str =
        "srTUUirRu0JZps2YjlloQz0cTIZbMTcwMDAwMDAwMC41LCAxNjk5OTk5MDAwLjAsIHsiYSI6IDF9XQ";
    const PAYLOAD: &[u8] = br#"[1700000000.5, 1699999000.0, {"a": 1}]"#;

    #[test]
    fn python_hmac_test_vectors_open() {
        for (alg, cookie) in [
            (HashAlg::Sha512, PYTHON_SHA512),
            (HashAlg::Sha256, PYTHON_SHA256),
            (HashAlg::Sha1, PYTHON_SHA1),
        ] {
            assert_eq!(open(alg, KEY, cookie.as_bytes()).unwrap(), PAYLOAD);
            assert_eq!(seal(alg, KEY, PAYLOAD), cookie);
        }
    }

    /// `hmac.new(...).hexdigest()` from Python, for keys longer than the hash block and for
    /// latin-1 bytes in the key.
    #[test]
    fn python_hmac_tags_for_long_and_latin1_keys() {
        let long_key = [b"pyramid.session.".as_slice(), &[b'k'; 200]].concat();
        assert_eq!(
            hex::encode(HashAlg::Sha384.sign(&long_key, b"{}")),
            "85540bab87a2bc19ed772c56b311d64a538ed6854cd24486ceb62b52bbc0eeeeddab56d3e6a2836701c0190ba1801b27"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha224.sign(b"saltcaf\xe9", b"{}")),
            "d04157484957e67ac5f5da5d6727fe2b19c7aca51349c0ec9c067794"
        );
    }

    #[test]
    fn every_changed_bit_fails_to_verify() {
        let cookie = seal(HashAlg::Sha512, KEY, PAYLOAD);
        let mut raw = B64.decode(&cookie).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 0x01;
            assert_eq!(
                open(HashAlg::Sha512, KEY, B64.encode(&raw).as_bytes()),
                Err(SignedError::BadSignature)
            );
            raw[i] ^= 0x01;
        }
    }

    #[test]
    fn wrong_key_salt_or_algorithm_fails() {
        let cookie = seal(HashAlg::Sha512, KEY, PAYLOAD);
        let c = cookie.as_bytes();
        assert_eq!(
            open(HashAlg::Sha512, b"pyramid.session.other", c),
            Err(SignedError::BadSignature)
        );
        assert_eq!(
            open(HashAlg::Sha512, b"other.seekrit", c),
            Err(SignedError::BadSignature)
        );
        assert_eq!(
            open(HashAlg::Sha256, KEY, c),
            Err(SignedError::BadSignature)
        );
    }

    #[test]
    fn malformed_values_say_why() {
        assert_eq!(
            open(HashAlg::Sha512, KEY, b"a*b"),
            Err(SignedError::BadBase64)
        );
        assert_eq!(open(HashAlg::Sha512, KEY, b""), Err(SignedError::TooShort));
        let short = seal(HashAlg::Sha512, KEY, b"");
        let truncated = B64.encode(&B64.decode(&short).unwrap()[..63]);
        assert_eq!(
            open(HashAlg::Sha512, KEY, truncated.as_bytes()),
            Err(SignedError::TooShort)
        );
        // An empty payload with its own valid tag is a valid (if useless) cookie.
        assert_eq!(open(HashAlg::Sha512, KEY, short.as_bytes()).unwrap(), b"");
        assert_eq!(
            open(HashAlg::Sha512, KEY, &vec![b'A'; MAX_INPUT_LEN + 4]),
            Err(SignedError::TooLong)
        );
        let mut padded = seal(HashAlg::Sha1, KEY, b"x").into_bytes();
        while padded.len() % 4 != 0 {
            padded.push(b'=');
        }
        assert_eq!(open(HashAlg::Sha1, KEY, &padded).unwrap(), b"x");
    }

    #[test]
    fn hashalg_names_round_trip() {
        for name in SIGNED_HASHALGS {
            assert_eq!(HashAlg::from_name(name).unwrap().name(), name);
        }
        assert_eq!(HashAlg::from_name("SHA256"), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_name("md5"), None);
        assert_eq!(HashAlg::from_name("sha3_256"), None);
    }
}
