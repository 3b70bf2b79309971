//! JSON with the meaning of `json.dumps`/`json.loads` defaults. PLACEHOLDER: calls the json module.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

pub fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let text = obj.py().import("json")?.call_method1("dumps", (obj,))?;
    Ok(text
        .call_method1("encode", ("utf-8",))?
        .cast::<PyBytes>()?
        .as_bytes()
        .to_vec())
}

pub fn loads<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let text = PyBytes::new(py, data).call_method1("decode", ("utf-8",))?;
    py.import("json")?.call_method1("loads", (text,))
}
