//! The last pass: Python objects built bottom-up in the walk's order, shared ones once.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{filled, room, Id, Node};

/// Python objects for `order` (children first); returns the last one, the root.
pub(super) fn build<'py>(
    py: Python<'py>,
    data: &[u8],
    nodes: &[Node],
    order: &[Id],
) -> PyResult<Bound<'py, PyAny>> {
    let mut built: Vec<Option<Bound<'py, PyAny>>> =
        filled(nodes.len(), None).map_err(PyValueError::new_err)?;
    let missing = || PyValueError::new_err("pickle graph out of order");
    for &id in order {
        let kids = || -> PyResult<Vec<Bound<'py, PyAny>>> {
            let ids = nodes[id].children();
            let mut objs = Vec::new();
            room(&mut objs, ids.len()).map_err(PyValueError::new_err)?;
            for &k in ids {
                objs.push(built[k].clone().ok_or_else(missing)?);
            }
            Ok(objs)
        };
        let obj = match &nodes[id] {
            Node::None => py.None().into_bound(py),
            Node::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Node::Int(n) => n.into_pyobject(py)?.into_any(),
            Node::Long(range) => long(py, &data[range.clone()])?,
            Node::Float(x) => PyFloat::new(py, *x).into_any(),
            Node::Str(range) => str(py, &data[range.clone()])?,
            Node::List(_) => PyList::new(py, kids()?)?.into_any(),
            Node::Tuple(_) => PyTuple::new(py, kids()?)?.into_any(),
            Node::Dict(_) => {
                let dict = PyDict::new(py);
                for pair in kids()?.chunks_exact(2) {
                    dict.set_item(&pair[0], &pair[1])?;
                }
                dict.into_any()
            }
        };
        built[id] = Some(obj);
    }
    order
        .last()
        .and_then(|&root| built[root].take())
        .ok_or_else(missing)
}

fn long<'py>(py: Python<'py>, le: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if le.len() <= 16 {
        let negative = le.last().is_some_and(|b| b & 0x80 != 0);
        let mut buf = [if negative { 0xff } else { 0 }; 16];
        buf[..le.len()].copy_from_slice(le);
        return Ok(i128::from_le_bytes(buf).into_pyobject(py)?.into_any());
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("signed", true)?;
    py.get_type::<PyInt>().call_method(
        "from_bytes",
        (PyBytes::new(py, le), "little"),
        Some(&kwargs),
    )
}

/// UTF-8 in which lone surrogates (ED A0..BF xx) may appear, as pickle writes them and
/// `bytes.decode('utf-8', 'surrogatepass')` reads them. std's UTF-8 check does the work; we only
/// step over the surrogates it stops at.
pub(super) fn is_utf8_surrogatepass(mut bytes: &[u8]) -> bool {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => return true,
            Err(e) => match &bytes[e.valid_up_to()..] {
                [0xED, 0xA0..=0xBF, 0x80..=0xBF, rest @ ..] => bytes = rest,
                _ => return false,
            },
        }
    }
}

fn str<'py>(py: Python<'py>, utf8: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(s) = std::str::from_utf8(utf8) {
        return Ok(PyString::new(py, s).into_any());
    }
    // Pickle writes lone surrogates as their UTF-8-style bytes; Rust's UTF-8 refuses them.
    PyBytes::new(py, utf8)
        .call_method1("decode", ("utf-8", "surrogatepass"))
        .map_err(|_| PyValueError::new_err("pickled str is not UTF-8"))
}
