//! Where in the data the JSON writer met what it cannot write: the path is gathered on the
//! error path alone, one segment per container as the error passes up through it, and put
//! before the message once it leaves the writer (`session['when']: Object of type datetime is
//! not JSON serializable`). Writing that succeeds never touches this module.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyString, PyTuple};

/// Where the segments wait, on the exception itself, while it travels up the writer.
const PATH: &str = "_pyramid_nacl_session_json_path";

/// `err`, noted as raised inside the value at `key` of a dict.
#[cold]
#[inline(never)]
pub fn at_key(err: PyErr, key: &Bound<'_, PyAny>) -> PyErr {
    note(err, key.py(), key.clone())
}

/// `err`, noted as raised inside the item at `index` of a list or tuple.
#[cold]
#[inline(never)]
pub fn at_index(err: PyErr, py: Python<'_>, index: usize) -> PyErr {
    match index.into_pyobject(py) {
        Ok(index) => note(err, py, index.into_any()),
        Err(_) => err,
    }
}

fn note(err: PyErr, py: Python<'_>, segment: Bound<'_, PyAny>) -> PyErr {
    // Only a value of a type the writer cannot take; a cookie too large or nested too deeply
    // is about the whole, not a place.
    if !err.is_instance_of::<PyTypeError>(py) {
        return err;
    }
    let value = err.value(py);
    let path = match value.getattr(PATH).map(|p| p.cast_into::<PyList>()) {
        Ok(Ok(path)) => path,
        _ => {
            let path = PyList::empty(py);
            if value.setattr(PATH, &path).is_err() {
                return err;
            }
            path
        }
    };
    let _ = path.insert(0, segment);
    err
}

/// `err` with the path noted on it put before its message, as Python subscripts after `root`
/// (`session['cart'][0]`), leaving out the first `skip` segments (the state's place in the
/// `[accessed, created, state]` a cookie holds). Any other error is returned as it is.
#[cold]
#[inline(never)]
pub fn named(py: Python<'_>, err: PyErr, root: &str, skip: usize) -> PyErr {
    if !err.is_instance_of::<PyTypeError>(py) {
        return err;
    }
    let value = err.value(py);
    let Ok(path) = value.getattr(PATH) else {
        return err;
    };
    let _ = value.delattr(PATH);
    let Ok(path) = path.cast_into::<PyList>() else {
        return err;
    };
    let mut place = String::from(root);
    for segment in path.iter().skip(skip) {
        if segment.is_exact_instance_of::<PyInt>() {
            place.push_str(&format!("[{segment}]"));
        } else {
            match segment.repr() {
                Ok(repr) => place.push_str(&format!("[{repr}]")),
                Err(_) => place.push_str("[?]"),
            }
        }
    }
    if place.is_empty() {
        return err;
    }
    // The writer's own message (or the one a Python __iter__ raised), kept whole.
    let message = value
        .getattr("args")
        .ok()
        .and_then(|args| args.cast_into::<PyTuple>().ok())
        .filter(|args| args.len() == 1)
        .and_then(|args| args.get_item(0).ok())
        .and_then(|first| first.cast_into::<PyString>().ok());
    if let Some(message) = message {
        if let Ok(args) = PyTuple::new(py, [format!("{place}: {message}")]) {
            let _ = value.setattr("args", args);
        }
    }
    err
}
