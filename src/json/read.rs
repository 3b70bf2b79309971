//! The JSON parser: bytes straight into Python objects, with `json.loads`'s meaning.

use std::ffi::CString;

use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};

use super::MAX_DEPTH;

#[cold]
fn out_of_memory() -> PyErr {
    PyMemoryError::new_err("out of memory reading JSON")
}

/// The Python value of the JSON text `data`; `ValueError` saying what and where, if it is not.
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
        let mut digits = Vec::new();
        digits
            .try_reserve_exact(span.len() + 1)
            .map_err(|_| out_of_memory())?;
        digits.extend_from_slice(span.as_bytes());
        let digits = CString::new(digits).map_err(|_| self.error("bad number"))?;
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
        // One tight pass to the first byte that is not plain string text.
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .map_or(bytes.len(), |n| start + n);
        self.pos = end;
        match bytes.get(end) {
            Some(b'"') => {
                let s = self.text.get(start..end).ok_or_else(|| self.unexpected())?;
                self.pos += 1;
                return Ok(PyString::new(self.py, s));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.error("control character in string")),
            None => return Err(self.unexpected()),
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        // Escapes only ever shrink text, so the rest of the input bounds the string: one
        // fallible reservation and no growth after it.
        if buf.try_reserve(self.text.len() - start).is_err() {
            self.scratch = buf;
            return Err(out_of_memory());
        }
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

    fn loads_err(py: Python<'_>, data: &[u8]) -> String {
        let err = loads(py, data).unwrap_err();
        assert!(err.is_instance_of::<PyValueError>(py));
        err.value(py).to_string()
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
