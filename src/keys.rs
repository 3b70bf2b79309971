//! Secrets as users pass them (raw bytes, hex, or a list for rotation) and fresh ones from the OS.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyMemoryView, PyString, PyTuple};
use zeroize::Zeroizing;

use crate::envelope::{Keys, KEY_LEN};
use crate::errors::{bad_option, no_randomness};

const HOW_TO_MAKE_ONE: &str = "make one with the command pyramid-nacl-session secret";

/// Parses `secret`: one key, or a non-empty list/tuple of keys whose first one seals.
/// Errors carry `option = 'secret'` and name the type and length of what was given, never its
/// content.
pub fn parse(secret: &Bound<'_, PyAny>) -> PyResult<Keys> {
    let bad = |message: String| bad_option("secret", message);
    let is_list = secret.is_instance_of::<PyList>() || secret.is_instance_of::<PyTuple>();
    let count = if is_list { secret.len()? } else { 1 };
    if count == 0 {
        return Err(bad(format!(
            "secret is an empty list; give at least one key ({HOW_TO_MAKE_ONE})"
        )));
    }
    // Allocated once and filled in place: no copies of a key are left unwiped behind.
    let mut raw: Zeroizing<Vec<[u8; KEY_LEN]>> = Zeroizing::new(vec![[0; KEY_LEN]; count]);
    if is_list {
        for (index, slot) in raw.iter_mut().enumerate() {
            parse_one(&secret.get_item(index)?, slot)?
                .map_err(|why| bad(format!("secret[{index}]: {why}")))?;
        }
    } else {
        parse_one(secret, &mut raw[0])?.map_err(bad)?;
    }
    Ok(Keys::new(&raw))
}

/// Fills `key` from one secret; the inner error says what is wrong with it.
fn parse_one(secret: &Bound<'_, PyAny>, key: &mut [u8; KEY_LEN]) -> PyResult<Result<(), String>> {
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
        let Ok(text) = s.to_cow() else {
            return Ok(Err(bad_secret(
                &type_name,
                s.len()?,
                " that is not all hex digits",
            )));
        };
        let text = Zeroizing::new(text.into_owned());
        let chars = s.len()?;
        if is_quoted(&text) {
            // An .ini value is taken as written, quotes included: say so rather than only
            // "length 66", without showing what is between them.
            let hint = " that starts or ends with a quote mark: remove the quotes (an .ini value \
                        is taken as written)";
            return Ok(Err(bad_secret(&type_name, chars, hint)));
        }
        if chars != 2 * KEY_LEN {
            let hint = " (a str secret must be 64 hex digits)";
            return Ok(Err(bad_secret(&type_name, chars, hint)));
        }
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Err(bad_secret(
                &type_name,
                chars,
                " that is not all hex digits",
            )));
        }
        Zeroizing::new(text.as_bytes().to_vec())
    } else {
        return Ok(Err(format!(
            "secret must be 32 random bytes or 64 hex digits, got an object of type {type_name}; \
             {HOW_TO_MAKE_ONE}"
        )));
    };
    Ok(match bytes.len() {
        KEY_LEN => {
            key.copy_from_slice(&bytes);
            Ok(())
        }
        n if n == 2 * KEY_LEN => hex::decode_to_slice(&bytes[..], key)
            .map_err(|_| bad_secret(&type_name, n, " that are not all hex digits")),
        n => Err(bad_secret(&type_name, n, "")),
    })
}

fn is_quoted(text: &str) -> bool {
    text.starts_with(['"', '\'']) || text.ends_with(['"', '\''])
}

fn bad_secret(type_name: &str, len: usize, hint: &str) -> String {
    format!(
        "secret must be 32 random bytes or 64 hex digits, got {type_name} of length {len}{hint}; \
         {HOW_TO_MAKE_ONE}"
    )
}

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
