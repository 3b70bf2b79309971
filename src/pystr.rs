//! A str's UTF-8 text without a copy, where the interpreter offers it.
//!
//! Under abi3 for Python 3.9, PyO3 reads a str's text through `PyUnicode_AsUTF8String`, which
//! makes a new bytes object per string: in a 70-key session that is one allocation, copy and
//! free per key and per string value, a large share of writing it. `PyUnicode_AsUTF8AndSize`
//! returns the text the str holds (ASCII) or caches (other text) instead. It is in the stable
//! ABI from 3.10 and exported by every CPython this package supports on Linux and macOS, where
//! an extension's symbols are found in the running interpreter; Windows links abi3 modules
//! against python3.dll, whose 3.9 build lacks it, so there the copy stays.

use pyo3::prelude::*;
use pyo3::types::PyString;

#[cfg(not(windows))]
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::ffi::c_char;
}

/// The UTF-8 text of `s`, borrowed from it; `None` where that is not offered (Windows) or the
/// str holds a lone surrogate, which UTF-8 cannot carry (the caller then takes the slow road).
#[inline]
pub fn utf8<'a>(s: &'a Bound<'_, PyString>) -> Option<&'a [u8]> {
    #[cfg(not(windows))]
    {
        let mut size: pyo3::ffi::Py_ssize_t = 0;
        // SAFETY: a live str and the thread is attached. The text lives as long as the str,
        // which `'a` borrows; a NULL result (lone surrogate) leaves an error, cleared here.
        unsafe {
            let data = PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size);
            if data.is_null() {
                pyo3::ffi::PyErr_Clear();
                return None;
            }
            Some(std::slice::from_raw_parts(data.cast(), size as usize))
        }
    }
    #[cfg(windows)]
    {
        let _ = s;
        None
    }
}
