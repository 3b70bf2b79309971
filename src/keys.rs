//! Secrets as users pass them (raw bytes, hex, or a list for rotation) and fresh ones from the OS.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyMemoryView, PyString, PyTuple};
use zeroize::Zeroizing;

use crate::envelope::{Keys, KEY_LEN};

const HOW_TO_MAKE_ONE: &str =
    "make one with pyramid_nacl_session.generate_secret() or the print_secret command";

/// Parses `secret`: one key, or a non-empty list/tuple of keys whose first one seals.
/// Errors name the type and length of what was given, never its content.
pub fn parse(secret: &Bound<'_, PyAny>) -> PyResult<Keys> {
    let is_list = secret.is_instance_of::<PyList>() || secret.is_instance_of::<PyTuple>();
    let count = if is_list { secret.len()? } else { 1 };
    if count == 0 {
        return Err(PyValueError::new_err(format!(
            "secret is an empty list; give at least one key ({HOW_TO_MAKE_ONE})"
        )));
    }
    // Allocated once and filled in place: no copies of a key are left unwiped behind.
    let mut raw: Zeroizing<Vec<[u8; KEY_LEN]>> = Zeroizing::new(vec![[0; KEY_LEN]; count]);
    if is_list {
        for (index, slot) in raw.iter_mut().enumerate() {
            parse_one(&secret.get_item(index)?, slot).map_err(|e| {
                PyValueError::new_err(format!("secret[{index}]: {}", e.value(secret.py())))
            })?;
        }
    } else {
        parse_one(secret, &mut raw[0])?;
    }
    Ok(Keys::new(&raw))
}

fn parse_one(secret: &Bound<'_, PyAny>, key: &mut [u8; KEY_LEN]) -> PyResult<()> {
    let type_name = secret.get_type().name()?.to_string();
    let bytes: Zeroizing<Vec<u8>> = if let Ok(b) = secret.cast::<PyBytes>() {
        Zeroizing::new(b.as_bytes().to_vec())
    } else if let Ok(b) = secret.cast::<PyByteArray>() {
        Zeroizing::new(b.to_vec())
    } else if secret.is_instance_of::<PyMemoryView>() {
        Zeroizing::new(
            secret
                .call_method0("tobytes")?
                .cast::<PyBytes>()?
                .as_bytes()
                .to_vec(),
        )
    } else if let Ok(s) = secret.cast::<PyString>() {
        // Python's own copies of a str secret are beyond our reach; ours are wiped.
        let text = Zeroizing::new(s.to_cow()?.into_owned());
        if text.len() == 2 * KEY_LEN && text.bytes().all(|c| c.is_ascii_hexdigit()) {
            Zeroizing::new(text.as_bytes().to_vec())
        } else {
            return Err(bad_secret(
                &type_name,
                s.len()?,
                " (a str secret must be 64 hex digits)",
            ));
        }
    } else {
        return Err(PyValueError::new_err(format!(
            "secret must be 32 random bytes or 64 hex digits, got an object of type {type_name}; \
             {HOW_TO_MAKE_ONE}"
        )));
    };
    match bytes.len() {
        KEY_LEN => key.copy_from_slice(&bytes),
        n if n == 2 * KEY_LEN && hex::decode_to_slice(&bytes[..], key).is_ok() => {}
        n => {
            let hint = if n == 2 * KEY_LEN {
                " that are not all hex digits"
            } else {
                ""
            };
            return Err(bad_secret(&type_name, n, hint));
        }
    }
    Ok(())
}

fn bad_secret(type_name: &str, len: usize, hint: &str) -> PyErr {
    PyValueError::new_err(format!(
        "secret must be 32 random bytes or 64 hex digits, got {type_name} of length {len}{hint}; \
         {HOW_TO_MAKE_ONE}"
    ))
}

/// The error for a failed read of the operating system's CSPRNG (keys and nonces alike).
pub fn no_randomness(e: getrandom::Error) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(format!("no OS randomness: {e}"))
}

/// generate_secret(as_hex=True)
/// --
///
/// Return a new random 32-byte secret from the operating system's CSPRNG: as 64 hex digits
/// (bytes) when ``as_hex`` is true (the default), else the 32 raw bytes.
#[pyfunction]
#[pyo3(signature = (as_hex = true))]
pub fn generate_secret(py: Python<'_>, as_hex: bool) -> PyResult<Bound<'_, PyBytes>> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(&mut key[..]).map_err(no_randomness)?;
    if as_hex {
        PyBytes::new_with(py, 2 * KEY_LEN, |out| {
            hex::encode_to_slice(&key[..], out).expect("64 bytes of room for 32 in hex");
            Ok(())
        })
    } else {
        Ok(PyBytes::new(py, &key[..]))
    }
}
