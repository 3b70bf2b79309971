//! The JSON writer: Python objects straight into bytes, with `json.dumps`'s meaning.
//!
//! Every byte goes through `Out`, which refuses to grow past `MAX_LEN` and grows with
//! `try_reserve`: neither data shared many times over nor a failed allocation can abort the
//! process (a failed `Vec` growth aborts; `try_reserve` reports it).

use std::ffi::c_int;

use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{error_path, MAX_DEPTH, MAX_LEN};
use crate::errors::too_large;

#[cold]
fn too_deep() -> PyErr {
    PyValueError::new_err(format!(
        "JSON: nesting deeper than {MAX_DEPTH} containers (or a circular reference)"
    ))
}

/// The output so far. Its capacity never exceeds `MAX_LEN`, so the fast path needs one compare.
struct Out(Vec<u8>);

impl Out {
    #[inline]
    fn bytes(&mut self, bytes: &[u8]) -> PyResult<()> {
        if bytes.len() > self.0.capacity() - self.0.len() {
            self.grow(bytes.len())?;
        }
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn byte(&mut self, byte: u8) -> PyResult<()> {
        self.bytes(&[byte])
    }

    /// `text` between double quotes, as it is.
    #[inline]
    fn quoted(&mut self, text: &[u8]) -> PyResult<()> {
        let n = text.len() + 2;
        if n > self.0.capacity() - self.0.len() {
            self.grow(n)?;
        }
        self.0.push(b'"');
        self.0.extend_from_slice(text);
        self.0.push(b'"');
        Ok(())
    }

    /// Room for `n` more bytes: doubling as `Vec` does, but never past `MAX_LEN`.
    #[cold]
    fn grow(&mut self, n: usize) -> PyResult<()> {
        let len = self.0.len();
        if n > MAX_LEN - len {
            return Err(too_large(
                format!("session JSON over {MAX_LEN} bytes: more than any cookie can carry"),
                len.saturating_add(n),
                MAX_LEN,
            ));
        }
        let extra = n.max(len).min(MAX_LEN - len);
        self.0
            .try_reserve_exact(extra)
            .map_err(|_| PyMemoryError::new_err("out of memory writing JSON"))
    }
}

/// `obj` as compact JSON; `CookieTooLarge` past `MAX_LEN` bytes.
pub fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Out(Vec::with_capacity(256));
    write_value(&mut out, obj, 0)?;
    Ok(out.0)
}

/// The state of a session as `dumps` writes it inside `[accessed, created, state]`: read from
/// the dict's storage (a session subclass's accessors are not called), at the depth it has
/// there. For `detect_changes`, which compares it with what a cookie held.
pub fn dumps_session_state(state: &Bound<'_, PyDict>) -> PyResult<Vec<u8>> {
    let mut out = Out(Vec::with_capacity(256));
    write_dict(&mut out, state, 1)?;
    Ok(out.0)
}

fn write_value(out: &mut Out, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    // Exact types first: they are nearly everything a session holds, and a pointer compare each.
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return write_str(out, s);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return write_int(out, obj);
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return write_float(out, f.value());
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        out.bytes(if b.is_true() { b"true" } else { b"false" })?;
        return Ok(());
    }
    if obj.is_none() {
        out.bytes(b"null")?;
        return Ok(());
    }
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        return write_dict(out, d, depth);
    }
    if obj.is_exact_instance_of::<PyList>() || obj.is_exact_instance_of::<PyTuple>() {
        return write_array(out, obj, depth);
    }
    // Subclasses, tested in the order of json's C encoder, and read as it reads them: the
    // underlying str/int/float value (not __str__ or __repr__, so IntEnum writes as its number),
    // and list, tuple and dict subclasses through __iter__ and items(), which they may override.
    if let Ok(s) = obj.cast::<PyString>() {
        return write_str(out, s);
    }
    if obj.is_instance_of::<PyInt>() {
        return write_int(out, obj);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return write_float(out, f.value());
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return write_array(out, obj, depth);
    }
    if obj.is_instance_of::<PyDict>() {
        return write_dict_subclass(out, obj, depth);
    }
    Err(PyTypeError::new_err(format!(
        "Object of type {} is not JSON serializable",
        obj.get_type().name()?
    )))
}

fn write_array(out: &mut Out, seq: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    out.byte(b'[')?;
    if let Ok(list) = seq.cast_exact::<PyList>() {
        // By index, reading the length each time: Python code that we call (a subclass's
        // __iter__, say) could shrink the list meanwhile.
        let mut i = 0;
        while i < list.len() {
            if i > 0 {
                out.byte(b',')?;
            }
            write_value(out, &list.get_item(i)?, depth + 1)
                .map_err(|e| error_path::at_index(e, seq.py(), i))?;
            i += 1;
        }
    } else if let Ok(tuple) = seq.cast_exact::<PyTuple>() {
        for (i, item) in tuple.iter_borrowed().enumerate() {
            if i > 0 {
                out.byte(b',')?;
            }
            write_value(out, &item, depth + 1).map_err(|e| error_path::at_index(e, seq.py(), i))?;
        }
    } else {
        write_iterated(out, seq, depth)?;
    }
    out.byte(b']')?;
    Ok(())
}

/// List and tuple subclasses, through __iter__ as json's encoder reads them.
#[inline(never)] // see MAX_DEPTH
fn write_iterated(out: &mut Out, seq: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    for (i, item) in seq.try_iter()?.enumerate() {
        if i > 0 {
            out.byte(b',')?;
        }
        write_value(out, &item?, depth + 1).map_err(|e| error_path::at_index(e, seq.py(), i))?;
    }
    Ok(())
}

#[inline(never)] // see MAX_DEPTH
fn write_dict(out: &mut Out, dict: &Bound<'_, PyDict>, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    let py = dict.py();
    out.byte(b'{')?;
    // On a free-threaded CPython, PyDict_Next is only safe while the dict's critical section
    // is held (another thread could otherwise free the entry between the call and our
    // incref). The section pauses while Python code runs below, as it should: PyDict_Next
    // copes with a dict changed in between. With the GIL this is a no-op.
    pyo3::sync::critical_section::with_critical_section(dict.as_any(), || {
        let mut pos: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        let mut first = true;
        // PyDict_Next rather than PyO3's iterator, which panics if the dict changes size
        // meanwhile (Python code that we call, such as a dict subclass's items(), could do
        // that); PyDict_Next just stops or goes on safely.
        // SAFETY: `dict` is a live dict, the thread is attached and holds the dict's critical
        // section; the borrowed key and value are turned into owned references at once,
        // before any Python code can run.
        while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) } != 0 {
            let (k, v) = unsafe {
                (
                    Bound::from_borrowed_ptr(py, key),
                    Bound::from_borrowed_ptr(py, value),
                )
            };
            if !first {
                out.byte(b',')?;
            }
            first = false;
            write_key(out, &k)?;
            out.byte(b':')?;
            write_value(out, &v, depth + 1).map_err(|e| error_path::at_key(e, &k))?;
        }
        Ok::<(), PyErr>(())
    })?;
    out.byte(b'}')?;
    Ok(())
}

/// As json's encoder: a dict subclass is read through items(), which may be overridden (and
/// gives an OrderedDict's order after move_to_end, which the underlying dict does not).
#[inline(never)] // see MAX_DEPTH
fn write_dict_subclass(out: &mut Out, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    out.byte(b'{')?;
    for (i, item) in obj.call_method0("items")?.try_iter()?.enumerate() {
        let item = item?;
        let pair = item
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| PyValueError::new_err("items must return 2-tuples"))?;
        if i > 0 {
            out.byte(b',')?;
        }
        let key = pair.get_item(0)?;
        write_key(out, &key)?;
        out.byte(b':')?;
        write_value(out, &pair.get_item(1)?, depth + 1).map_err(|e| error_path::at_key(e, &key))?;
    }
    out.byte(b'}')?;
    Ok(())
}

/// Keys as json.dumps turns them into strings; any other key type is a TypeError.
#[inline(never)] // see MAX_DEPTH
fn write_key(out: &mut Out, key: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = key.py();
    if let Ok(s) = key.cast::<PyString>() {
        return write_str(out, s);
    }
    out.byte(b'"')?;
    if let Ok(f) = key.cast::<PyFloat>() {
        let v = f.value();
        if v.is_finite() {
            // Python's repr ("1e+16"), not ryu's ("1e16"): the key text is what the app reads.
            let text = PyFloat::new(py, v).repr()?;
            out.bytes(text.to_cow()?.as_bytes())?;
        } else {
            write_float(out, v)?;
        }
    } else if let Ok(b) = key.cast_exact::<PyBool>() {
        out.bytes(if b.is_true() { b"true" } else { b"false" })?;
    } else if key.is_none() {
        out.bytes(b"null")?;
    } else if key.is_instance_of::<PyInt>() {
        write_int(out, key)?;
    } else {
        return Err(PyTypeError::new_err(format!(
            "keys must be str, int, float, bool or None, not {}",
            c_type_name(key)?
        )));
    }
    out.byte(b'"')?;
    Ok(())
}

/// The type's C-level name, as json's C encoder puts in its key error: "Foo" for a class
/// statement, "datetime.date" for a built-in type outside builtins.
fn c_type_name(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let ty = obj.get_type();
    let name = ty.name()?.to_cow()?.into_owned();
    // SAFETY: a live type object, GIL held.
    let flags = unsafe { ffi::PyType_GetFlags(ty.as_type_ptr()) };
    if flags & ffi::Py_TPFLAGS_HEAPTYPE != 0 {
        return Ok(name);
    }
    let module = ty.module()?;
    let module = module.to_cow()?;
    Ok(if module == "builtins" {
        name
    } else {
        format!("{module}.{name}")
    })
}

#[inline(never)] // see MAX_DEPTH
fn write_int(out: &mut Out, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = obj.py();
    let mut overflow: c_int = 0;
    // SAFETY: `obj` is an int (or subclass, whose value this reads without calling __index__).
    let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    if overflow == 0 {
        if v == -1 {
            if let Some(err) = PyErr::take(py) {
                return Err(err);
            }
        }
        out.bytes(itoa::Buffer::new().format(v).as_bytes())?;
        return Ok(());
    }
    // Beyond i64: int.__repr__, as json does, not repr(), which a subclass may override.
    let text = py.get_type::<PyInt>().getattr("__repr__")?.call1((obj,))?;
    out.bytes(text.cast::<PyString>()?.to_cow()?.as_bytes())?;
    Ok(())
}

fn write_float(out: &mut Out, v: f64) -> PyResult<()> {
    if v.is_nan() {
        out.bytes(b"NaN")
    } else if v.is_infinite() {
        out.bytes(if v > 0.0 { b"Infinity" } else { b"-Infinity" })
    } else {
        // ryu writes the shortest text that reads back to the same float, and always with a
        // '.' or an 'e' ("1.0", "1e16"), so it reads back as a float and not an int.
        out.bytes(ryu::Buffer::new().format_finite(v).as_bytes())
    }
}

#[inline(never)] // see MAX_DEPTH
fn write_str(out: &mut Out, s: &Bound<'_, PyString>) -> PyResult<()> {
    if let Some(text) = crate::pystr::utf8(s) {
        return write_escaped(out, text);
    }
    let bytes = match s.encode_utf8() {
        Ok(b) => b,
        // Only a lone surrogate stops UTF-8. "surrogatepass" encodes it as ED A0..BF xx, which
        // no valid UTF-8 contains, and write_escaped turns it into a \udXXX escape.
        // SAFETY: a live str and NUL-terminated names; the result is checked for NULL.
        Err(_) => unsafe {
            Bound::from_owned_ptr_or_err(
                s.py(),
                ffi::PyUnicode_AsEncodedString(
                    s.as_ptr(),
                    c"utf-8".as_ptr(),
                    c"surrogatepass".as_ptr(),
                ),
            )?
            .cast_into::<PyBytes>()?
        },
    };
    write_escaped(out, bytes.as_bytes())
}

/// What each byte of string text becomes: 0 copied as it is, b'u' a \u00XX escape,
/// SURROGATE_LEAD maybe an escaped surrogate, any other a backslash and that letter.
const SURROGATE_LEAD: u8 = 1;
const ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0xed] = SURROGATE_LEAD;
    table
};
const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_u_escape(out: &mut Out, cp: u32) -> PyResult<()> {
    let hex = |shift: u32| HEX[((cp >> shift) & 0xf) as usize];
    out.bytes(&[b'\\', b'u', hex(12), hex(8), hex(4), hex(0)])
}

/// Write UTF-8 (with surrogates as "surrogatepass" gives them) as a JSON string.
fn write_escaped(out: &mut Out, text: &[u8]) -> PyResult<()> {
    // Nearly every string in a session needs no escape: find the first byte that may, in one
    // tight pass, and write a clean string with one length check.
    let Some(first) = text.iter().position(|&b| ESCAPES[b as usize] != 0) else {
        return out.quoted(text);
    };
    out.byte(b'"')?;
    let mut copied = 0;
    let mut i = first;
    while let Some(&b) = text.get(i) {
        let escape = ESCAPES[b as usize];
        if escape == 0 {
            i += 1;
            continue;
        }
        if escape == SURROGATE_LEAD {
            match (text.get(i + 1), text.get(i + 2)) {
                (Some(&b1), Some(&b2)) if b1 >= 0xa0 => {
                    out.bytes(&text[copied..i])?;
                    let cp = 0xd000 | (u32::from(b1 & 0x3f) << 6) | u32::from(b2 & 0x3f);
                    write_u_escape(out, cp)?;
                    i += 3;
                    copied = i;
                }
                // ED 80..9F: an ordinary character, U+D000..U+D7FF.
                _ => i += 1,
            }
            continue;
        }
        out.bytes(&text[copied..i])?;
        if escape == b'u' {
            write_u_escape(out, u32::from(b))?;
        } else {
            out.bytes(&[b'\\', escape])?;
        }
        i += 1;
        copied = i;
    }
    out.bytes(&text[copied..])?;
    out.byte(b'"')
}

/// How many bytes `write_escaped` writes for `text` (UTF-8, with surrogates as "surrogatepass"
/// gives them), quotes included: what a str costs once written out.
pub fn escaped_len(text: &[u8]) -> usize {
    let mut len = 2;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        i += 1;
        len += match ESCAPES[b as usize] {
            0 => 1,
            b'u' => 6,
            SURROGATE_LEAD => match text.get(i) {
                Some(&b1) if b1 >= 0xa0 && i + 1 < text.len() => {
                    i += 2;
                    6
                }
                _ => 1,
            },
            _ => 2,
        };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn with_py<R>(f: impl FnOnce(Python<'_>) -> R) -> R {
        Python::initialize();
        Python::attach(f)
    }

    fn dumps_str(py: Python<'_>, code: &str) -> String {
        let obj = py.eval(&CString::new(code).unwrap(), None, None).unwrap();
        String::from_utf8(dumps(&obj).unwrap()).unwrap()
    }

    #[test]
    fn output_is_compact_with_raw_utf8_and_escaped_controls_and_surrogates() {
        with_py(|py| {
            assert_eq!(
                dumps_str(
                    py,
                    r#"{"é": [1, 2.5, None, True], 3: "\x00\x1f\"\\\n\t\ud800\ud7ff"}"#
                ),
                "{\"é\":[1,2.5,null,true],\"3\":\"\\u0000\\u001f\\\"\\\\\\n\\t\\ud800\u{d7ff}\"}"
            );
            assert_eq!(
                dumps_str(py, "[float('nan'), -float('inf'), 10**20]"),
                "[NaN,-Infinity,100000000000000000000]"
            );
        })
    }

    #[test]
    fn escaped_len_is_what_write_escaped_writes() {
        for text in [
            &b""[..],
            b"plain",
            b"\x00\x1f\"\\\n\t\x7f",
            "é\u{2603}\u{d7ff}\u{10348}".as_bytes(),
            b"a\xed\xa0\x80b\xed\xbf\xbf",
            b"\xed\x9f\xbf",
        ] {
            let mut out = Out(Vec::new());
            write_escaped(&mut out, text).unwrap();
            assert_eq!(escaped_len(text), out.0.len(), "{text:?}");
        }
    }

    #[test]
    fn data_shared_past_the_longest_cookie_is_refused_before_it_is_written() {
        with_py(|py| {
            // 2**40 empty lists if written out: refused once the output reaches MAX_LEN.
            let code = c"(lambda: [x := [], [x := [x, x] for _ in range(40)], x][2])()";
            let obj = py.eval(code, None, None).unwrap();
            // Not looked at here: CookieTooLarge is the Python class (errors.py), which this
            // embedded interpreter cannot import; tests/test_json_serializer.py checks it.
            assert!(dumps(&obj).is_err());
            let mut out = Out(Vec::new());
            out.bytes(&vec![b'x'; MAX_LEN]).unwrap();
            assert!(out.byte(b'x').is_err());
            assert!(out.0.capacity() <= MAX_LEN);
        })
    }
}
