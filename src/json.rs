//! JSON with the meaning of `json.dumps`/`json.loads` defaults, done natively: `dumps` writes
//! straight from Python objects into bytes and `loads` builds Python objects straight from bytes,
//! with no tree in between (hand-written rather than serde_json, which would need one).
//!
//! The output differs from `json.dumps` only in form, never in what it reads back as: it is
//! compact (no spaces), and non-ASCII text is raw UTF-8 rather than `\uXXXX` escapes (smaller
//! cookies). Python's `json.loads` and webob's `JSONSerializer` read it to an equal object, and
//! `loads` reads everything `json.dumps` writes.

use std::ffi::{c_int, CString};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Most containers nested in one another that `dumps` writes and `loads` reads. Deeper data
/// raises `ValueError` rather than exhausting the stack, which also catches circular references
/// in `dumps`. A session has no use for anything near this deep. The recursive functions keep
/// their leaf work out of line (`#[inline(never)]`) so that their frames stay small: the full
/// depth each way, called from Python, runs in a 96 KiB thread stack (x86-64 release build).
pub const MAX_DEPTH: usize = 255;

#[cold]
fn too_deep() -> PyErr {
    PyValueError::new_err(format!(
        "JSON: nesting deeper than {MAX_DEPTH} containers (or a circular reference)"
    ))
}

// ---------------------------------------------------------------------------------------------
// dumps

pub fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, obj, 0)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    // Exact types first: they are nearly everything a session holds, and a pointer compare each.
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return write_str(out, s);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return write_int(out, obj);
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        write_float(out, f.value());
        return Ok(());
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        return Ok(());
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
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
        write_float(out, f.value());
        return Ok(());
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

fn write_array(out: &mut Vec<u8>, seq: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    out.push(b'[');
    if let Ok(list) = seq.cast_exact::<PyList>() {
        // By index, reading the length each time: Python code that we call (a subclass's
        // __iter__, say) could shrink the list meanwhile.
        let mut i = 0;
        while i < list.len() {
            if i > 0 {
                out.push(b',');
            }
            write_value(out, &list.get_item(i)?, depth + 1)?;
            i += 1;
        }
    } else if let Ok(tuple) = seq.cast_exact::<PyTuple>() {
        for (i, item) in tuple.iter_borrowed().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_value(out, &item, depth + 1)?;
        }
    } else {
        write_iterated(out, seq, depth)?;
    }
    out.push(b']');
    Ok(())
}

/// List and tuple subclasses, through __iter__ as json's encoder reads them.
#[inline(never)] // see MAX_DEPTH
fn write_iterated(out: &mut Vec<u8>, seq: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    for (i, item) in seq.try_iter()?.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, &item?, depth + 1)?;
    }
    Ok(())
}

#[inline(never)] // see MAX_DEPTH
fn write_dict(out: &mut Vec<u8>, dict: &Bound<'_, PyDict>, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    let py = dict.py();
    out.push(b'{');
    let mut pos: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    let mut first = true;
    // PyDict_Next rather than PyO3's iterator, which panics if the dict changes size meanwhile
    // (Python code that we call, such as a dict subclass's items(), could do that); PyDict_Next
    // just stops or goes on safely.
    // SAFETY: `dict` is a live dict and the GIL is held; the borrowed key and value are turned
    // into owned references at once, before any Python code can run.
    while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) } != 0 {
        let (k, v) = unsafe {
            (
                Bound::from_borrowed_ptr(py, key),
                Bound::from_borrowed_ptr(py, value),
            )
        };
        if !first {
            out.push(b',');
        }
        first = false;
        write_key(out, &k)?;
        out.push(b':');
        write_value(out, &v, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

/// As json's encoder: a dict subclass is read through items(), which may be overridden (and
/// gives an OrderedDict's order after move_to_end, which the underlying dict does not).
#[inline(never)] // see MAX_DEPTH
fn write_dict_subclass(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    out.push(b'{');
    for (i, item) in obj.call_method0("items")?.try_iter()?.enumerate() {
        let item = item?;
        let pair = item
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| PyValueError::new_err("items must return 2-tuples"))?;
        if i > 0 {
            out.push(b',');
        }
        write_key(out, &pair.get_item(0)?)?;
        out.push(b':');
        write_value(out, &pair.get_item(1)?, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

/// Keys as json.dumps turns them into strings; any other key type is a TypeError.
#[inline(never)] // see MAX_DEPTH
fn write_key(out: &mut Vec<u8>, key: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = key.py();
    if let Ok(s) = key.cast::<PyString>() {
        return write_str(out, s);
    }
    out.push(b'"');
    if let Ok(f) = key.cast::<PyFloat>() {
        let v = f.value();
        if v.is_finite() {
            // Python's repr ("1e+16"), not ryu's ("1e16"): the key text is what the app reads.
            let text = PyFloat::new(py, v).repr()?;
            out.extend_from_slice(text.to_cow()?.as_bytes());
        } else {
            write_float(out, v);
        }
    } else if let Ok(b) = key.cast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if key.is_none() {
        out.extend_from_slice(b"null");
    } else if key.is_instance_of::<PyInt>() {
        write_int(out, key)?;
    } else {
        return Err(PyTypeError::new_err(format!(
            "keys must be str, int, float, bool or None, not {}",
            c_type_name(key)?
        )));
    }
    out.push(b'"');
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
fn write_int(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
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
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        return Ok(());
    }
    // Beyond i64: int.__repr__, as json does, not repr(), which a subclass may override.
    let text = py.get_type::<PyInt>().getattr("__repr__")?.call1((obj,))?;
    out.extend_from_slice(text.cast::<PyString>()?.to_cow()?.as_bytes());
    Ok(())
}

fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        // ryu writes the shortest text that reads back to the same float, and always with a
        // '.' or an 'e' ("1.0", "1e16"), so it reads back as a float and not an int.
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

#[inline(never)] // see MAX_DEPTH
fn write_str(out: &mut Vec<u8>, s: &Bound<'_, PyString>) -> PyResult<()> {
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
    write_escaped(out, bytes.as_bytes());
    Ok(())
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

fn write_u_escape(out: &mut Vec<u8>, cp: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((cp >> shift) & 0xf) as usize]);
    }
}

/// Write UTF-8 (with surrogates as "surrogatepass" gives them) as a JSON string.
fn write_escaped(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        let escape = ESCAPES[b as usize];
        if escape == 0 {
            i += 1;
            continue;
        }
        if escape == SURROGATE_LEAD {
            match (text.get(i + 1), text.get(i + 2)) {
                (Some(&b1), Some(&b2)) if b1 >= 0xa0 => {
                    out.extend_from_slice(&text[copied..i]);
                    let cp = 0xd000 | (u32::from(b1 & 0x3f) << 6) | u32::from(b2 & 0x3f);
                    write_u_escape(out, cp);
                    i += 3;
                    copied = i;
                }
                // ED 80..9F: an ordinary character, U+D000..U+D7FF.
                _ => i += 1,
            }
            continue;
        }
        out.extend_from_slice(&text[copied..i]);
        if escape == b'u' {
            write_u_escape(out, u32::from(b));
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        i += 1;
        copied = i;
    }
    out.extend_from_slice(&text[copied..]);
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// loads

pub fn loads<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // Checked once up front, so that string text can be handed to Python as it is.
    let text = std::str::from_utf8(data)
        .map_err(|e| PyValueError::new_err(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let mut parser = Parser {
        py,
        text,
        pos: 0,
        scratch: Vec::new(),
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < data.len() {
        return Err(parser.error("data after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a, 'py> {
    py: Python<'py>,
    text: &'a str,
    pos: usize,
    /// Reused for strings with escapes.
    scratch: Vec<u8>,
}

impl<'py> Parser<'_, 'py> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[cold]
    fn error(&self, what: &str) -> PyErr {
        PyValueError::new_err(format!("{what} at byte {}", self.pos))
    }

    /// The error for whatever is at `pos` when it is not what the grammar allows there.
    #[cold]
    fn unexpected(&self) -> PyErr {
        if self.pos >= self.text.len() {
            self.error("unexpected end of data")
        } else {
            self.error("unexpected character")
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> PyResult<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn value(&mut self, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                self.pos += 1;
                Ok(self.string()?.into_any())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", PyBool::new(py, true).to_owned().into_any()),
            Some(b'f') => self.literal("false", PyBool::new(py, false).to_owned().into_any()),
            Some(b'n') => self.literal("null", py.None().into_bound(py)),
            Some(b'N') => self.literal("NaN", PyFloat::new(py, f64::NAN).into_any()),
            Some(b'I') => self.literal("Infinity", PyFloat::new(py, f64::INFINITY).into_any()),
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &str, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        for &b in word.as_bytes() {
            self.expect(b)?;
        }
        Ok(value)
    }

    fn object(&mut self, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if depth >= MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} containers")));
        }
        self.pos += 1;
        let dict = PyDict::new(self.py);
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(dict.into_any());
        }
        loop {
            self.expect(b'"')?;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            // As json.loads: a repeated key keeps its first place and takes the last value.
            dict.set_item(key, value)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(dict.into_any());
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if depth >= MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} containers")));
        }
        self.pos += 1;
        let list = PyList::empty(self.py);
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(list.into_any());
        }
        loop {
            list.append(self.value(depth + 1)?)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(list.into_any());
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, or -Infinity.
    #[inline(never)] // see MAX_DEPTH
    fn number(&mut self) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.peek() == Some(b'I') {
                return self.literal("Infinity", PyFloat::new(py, f64::NEG_INFINITY).into_any());
            }
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected()),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected());
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected());
            }
            is_float = true;
        }
        let span = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.unexpected())?;
        if is_float {
            // Correctly rounded, like Python's float(); overflow gives inf as Python does.
            let v: f64 = span.parse().map_err(|_| self.error("bad number"))?;
            return Ok(PyFloat::new(py, v).into_any());
        }
        if let Ok(v) = span.parse::<i64>() {
            return Ok(v.into_pyobject(py)?.into_any());
        }
        let digits = CString::new(span).map_err(|_| self.error("bad number"))?;
        // SAFETY: a NUL-terminated string of decimal digits; the result is checked for NULL.
        // Python's own limit on digits (sys.set_int_max_str_digits) applies, as in json.loads.
        unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                ffi::PyLong_FromString(digits.as_ptr(), std::ptr::null_mut(), 10),
            )
        }
    }

    /// The string whose opening quote is just before `pos`.
    #[inline(never)] // see MAX_DEPTH
    fn string(&mut self) -> PyResult<Bound<'py, PyString>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        loop {
            match bytes.get(self.pos) {
                Some(b'"') => {
                    let s = self
                        .text
                        .get(start..self.pos)
                        .ok_or_else(|| self.unexpected())?;
                    self.pos += 1;
                    return Ok(PyString::new(self.py, s));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
                None => return Err(self.unexpected()),
            }
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let result = self.escaped_string(start, &mut buf);
        self.scratch = buf;
        result
    }

    fn escaped_string(
        &mut self,
        start: usize,
        buf: &mut Vec<u8>,
    ) -> PyResult<Bound<'py, PyString>> {
        let bytes = self.text.as_bytes();
        let mut run = start;
        let mut lone_surrogate = false;
        loop {
            match bytes.get(self.pos) {
                Some(b'"') => break,
                Some(b'\\') => {
                    buf.extend_from_slice(bytes.get(run..self.pos).unwrap_or_default());
                    self.escape(buf, &mut lone_surrogate)?;
                    run = self.pos;
                }
                Some(&b) if b < 0x20 => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
                None => return Err(self.unexpected()),
            }
        }
        buf.extend_from_slice(bytes.get(run..self.pos).unwrap_or_default());
        self.pos += 1;
        if lone_surrogate {
            // Surrogates were written as "surrogatepass" UTF-8; decode them the same way.
            // SAFETY: pointer and length of a live buffer; the result is checked for NULL.
            return unsafe {
                Bound::from_owned_ptr_or_err(
                    self.py,
                    ffi::PyUnicode_DecodeUTF8(
                        buf.as_ptr().cast(),
                        buf.len() as ffi::Py_ssize_t,
                        c"surrogatepass".as_ptr(),
                    ),
                )?
                .cast_into::<PyString>()
                .map_err(PyErr::from)
            };
        }
        let s = std::str::from_utf8(buf).map_err(|_| self.error("invalid UTF-8 in string"))?;
        Ok(PyString::new(self.py, s))
    }

    /// The escape at `pos`, appended to `buf` as UTF-8 (surrogates as "surrogatepass" does).
    fn escape(&mut self, buf: &mut Vec<u8>, lone_surrogate: &mut bool) -> PyResult<()> {
        let byte = match self.text.as_bytes().get(self.pos + 1) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let mut cp = self.hex4(self.pos + 2)?;
                self.pos += 6;
                // As json.loads: a high surrogate escape followed by a low one is one character;
                // any other surrogate stays as it is.
                if (0xd800..0xdc00).contains(&cp)
                    && self.text.as_bytes().get(self.pos..self.pos + 2) == Some(b"\\u")
                {
                    let low = self.hex4(self.pos + 2)?;
                    if (0xdc00..0xe000).contains(&low) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                        self.pos += 6;
                    }
                }
                if (0xd800..0xe000).contains(&cp) {
                    *lone_surrogate = true;
                }
                push_code_point(buf, cp);
                return Ok(());
            }
            Some(_) => return Err(self.error("invalid escape")),
            None => {
                self.pos += 1;
                return Err(self.unexpected());
            }
        };
        buf.push(byte);
        self.pos += 2;
        Ok(())
    }

    fn hex4(&self, at: usize) -> PyResult<u32> {
        let invalid = || PyValueError::new_err(format!("invalid \\u escape at byte {}", at - 2));
        let digits = self.text.as_bytes().get(at..at + 4).ok_or_else(invalid)?;
        let mut cp = 0;
        for &d in digits {
            cp = (cp << 4) | char::from(d).to_digit(16).ok_or_else(invalid)?;
        }
        Ok(cp)
    }
}

/// UTF-8 encoding that, unlike `char`, also takes surrogates (as "surrogatepass" writes them).
fn push_code_point(buf: &mut Vec<u8>, cp: u32) {
    // The `as u8` casts keep the low bits that each masked and shifted value is known to fit in.
    if cp < 0x80 {
        buf.push(cp as u8);
    } else if cp < 0x800 {
        buf.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]);
    } else if cp < 0x10000 {
        buf.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]);
    } else {
        buf.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_py<R>(f: impl FnOnce(Python<'_>) -> R) -> R {
        Python::initialize();
        Python::attach(f)
    }

    fn dumps_str(py: Python<'_>, code: &str) -> String {
        let obj = py.eval(&CString::new(code).unwrap(), None, None).unwrap();
        String::from_utf8(dumps(&obj).unwrap()).unwrap()
    }

    fn loads_err(py: Python<'_>, data: &[u8]) -> String {
        let err = loads(py, data).unwrap_err();
        assert!(err.is_instance_of::<PyValueError>(py));
        err.value(py).to_string()
    }

    #[test]
    fn floats_are_written_so_they_read_back_as_the_same_float() {
        with_py(|py| {
            for v in [
                1.0,
                -0.0,
                1e16,
                1e-7,
                123456789.0,
                5e-324,
                f64::MAX,
                0.1 + 0.2,
            ] {
                let mut out = Vec::new();
                write_float(&mut out, v);
                let text = String::from_utf8(out.clone()).unwrap();
                assert!(
                    text.contains(['.', 'e']),
                    "{text} would read back as an int"
                );
                let back: f64 = loads(py, &out).unwrap().extract().unwrap();
                assert_eq!(back.to_bits(), v.to_bits(), "{text}");
            }
        })
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
    fn escapes_read_back_as_python_reads_them() {
        with_py(|py| {
            let s = loads(py, br#""\ud83d\ude00 \ud800\u0041 \udc00 \/\b\f""#).unwrap();
            let expected = py
                .eval(c"'\\U0001f600 \\ud800A \\udc00 /\\b\\f'", None, None)
                .unwrap();
            assert!(s.eq(expected).unwrap());
        })
    }

    #[test]
    fn parse_errors_say_what_and_where() {
        with_py(|py| {
            assert_eq!(
                loads_err(py, b"{\"a\": 1, \"b\": x}"),
                "unexpected character at byte 14"
            );
            assert_eq!(loads_err(py, b""), "unexpected end of data at byte 0");
            assert_eq!(
                loads_err(py, b"[1] 2"),
                "data after the JSON value at byte 4"
            );
            assert_eq!(loads_err(py, b"\"a\xff\""), "invalid UTF-8 at byte 2");
            assert_eq!(
                loads_err(py, b"\"a\nb\""),
                "control character in string at byte 2"
            );
            assert_eq!(loads_err(py, b"\"\\x\""), "invalid escape at byte 1");
            assert_eq!(
                loads_err(py, b"\"\\u12G4\""),
                "invalid \\u escape at byte 1"
            );
            for bad in [
                &b"01"[..],
                b"1.",
                b"1e",
                b"-",
                b"[1,]",
                b"{\"a\":1,}",
                b"-NaN",
                b"tru",
                b"\xef\xbb\xbf1",
            ] {
                loads_err(py, bad);
            }
        })
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        with_py(|py| {
            let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
            assert!(loads(py, ok.as_bytes()).is_ok());
            let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
            assert!(loads_err(py, deep.as_bytes()).contains("nesting deeper than 255"));
            assert!(loads_err(py, "[{\"a\":".repeat(100_000).as_bytes()).contains("nesting"));
        })
    }

    #[test]
    fn every_truncation_of_a_document_is_an_error_not_a_panic() {
        with_py(|py| {
            let doc = "{\"k\\u00e9\": [1, -2.5e-3, \"x\\ud83d\\ude00\", true, false, null, NaN, -Infinity], \"n\": 123456789012345678901234}";
            assert!(loads(py, doc.as_bytes()).is_ok());
            for end in 0..doc.len() {
                // A prefix that is itself a whole number is valid JSON.
                let _ = loads(py, &doc.as_bytes()[..end]);
                let _ = loads(py, &doc.as_bytes()[end..]);
            }
            for end in 1..doc.len() - 1 {
                assert!(
                    loads(py, &doc.as_bytes()[..end]).is_err(),
                    "prefix {end} read"
                );
            }
        })
    }
}
