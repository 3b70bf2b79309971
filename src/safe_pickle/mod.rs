//! Reads pickles of plain data (what JSON can carry) without importing or calling anything a
//! pickle names: the `migrate_pickle` path that turns 1.0 pickle cookies into JSON ones.
//!
//! Hand-written rather than serde-pickle, which does this job badly for untrusted input:
//! - it is not a whitelist: INST, OBJ, NEWOBJ and BUILD are accepted by silently standing in the
//!   object's state or an empty dict, and it resolves globals itself (set, frozenset, bytearray,
//!   `_codecs.encode`), so refusing all of them would need a second opcode parser in front of it;
//! - it copies a memoized value at every reference, so shared sublists nested a few dozen deep
//!   (a pickle of a few hundred bytes) expand exponentially, and it recurses over nesting with
//!   no limit, so a pickle nested 100000 deep overflows the thread stack.
//!
//! This decoder knows only the binary opcodes a protocol 2-5 pickler writes for dict, list,
//! tuple, str, int, float, bool and None; every other opcode is refused, including the text
//! forms (INT, FLOAT, UNICODE, PUT, ...) that such a pickler never writes. It works in two
//! passes so that nothing reaches Python before the whole input is judged: first the opcodes
//! build a graph of nodes in which memo references are shared ids (mutations of a memoized list
//! show through every reference, as in pickle, at no cost); then a walk without recursion
//! refuses cycles and nesting deeper than `MAX_DEPTH`, and lists the nodes children first so
//! that the Python objects are built bottom-up, shared ones once. Dict keys must be str, checked
//! by every opcode that puts a key in a dict (DICT, SETITEM, SETITEMS).
//!
//! Costs are bounded before they are paid:
//! - Reading is linear in the input: every opcode adds at most one node or stack entry, and
//!   every `Vec` that grows with the input grows with `try_reserve`, so running out of memory
//!   is a refusal, not an abort.
//! - Writing the result out is not linear by nature: a memo reference costs two bytes however
//!   big the value it names, so `x = [x, x]` forty times over is a 479-byte pickle of 2**40
//!   empty lists. The walk adds up, saturating, how many bytes of JSON each node expands to, and
//!   refuses a pickle whose result would be longer than `max_json_len` of its size. Everything
//!   that copies the result out (the JSON rewrite, the CLI's `json.dumps`) is then linear too.
//!
//! The files follow the passes: `decode` (opcodes to a graph; `opcodes` names them), `walk`
//! (the graph judged and ordered), `build` (Python objects from the order).

mod build;
mod decode;
mod opcodes;
#[cfg(test)]
mod tests;
mod walk;

use std::ops::Range;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use build::build;
use decode::decode;
use walk::{children_first, Walk};

/// Most nodes on any path from the outermost value to a leaf ((accessed, created, {'a': [1]})
/// is 4): far beyond real sessions, well inside the recursion limits of JSON codecs.
pub const MAX_DEPTH: usize = 100;

/// JSON bytes allowed per pickle byte: the most that a pickle with no shared references can
/// need. A byte of str text becomes at most 6 (`\u0001`), a NEWFALSE byte `false,` (6), a
/// NONE byte `null,` (5); a BINFLOAT (9 bytes) at most 25, a BININT (5 bytes) at most 12, and
/// a LONG1/LONG4 of n bytes at most 2.41n + 3 digits, sign and comma. Only memo references
/// (BINGET, LONG_BINGET) and DUP copy a value out more than once.
pub const JSON_PER_BYTE: usize = 6;
/// JSON bytes allowed on top, for values shared by reference (pickle memoizes every str, so a
/// dict key repeated in many dicts is written once and referenced by two bytes after that):
/// sixteen times what one cookie can hold (4096 bytes), so that no pickle a cookie ever
/// carried is refused, while a few hundred bytes cannot expand to gigabytes.
pub const JSON_ALLOWANCE: usize = 64 * 1024;

/// Most bytes of JSON the result of a pickle of `pickle_len` bytes may expand to.
pub fn max_json_len(pickle_len: usize) -> usize {
    pickle_len
        .saturating_mul(JSON_PER_BYTE)
        .saturating_add(JSON_ALLOWANCE)
}

/// The PROTO opcode, first byte of every protocol 2+ pickle.
const PROTO: u8 = 0x80;

/// Whether a plaintext is a pickle rather than JSON, which never starts with PROTO's byte (a
/// JSON text starts with whitespace or a value). One byte compared: the full check is `loads`.
#[inline]
pub fn looks_like_pickle(plaintext: &[u8]) -> bool {
    plaintext.first() == Some(&PROTO)
}

/// Decode a pickle of plain data into new Python objects, or say what was refused
/// (`ValueError`).
pub fn loads<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let (graph, walk) = judge(data).map_err(PyValueError::new_err)?;
    build(py, data, &graph.nodes, &walk.order)
}

/// Judge a pickle without building anything: the most bytes `json::dumps` writes for what
/// `loads` would return, or what `loads` would refuse.
pub fn json_len_bound(data: &[u8]) -> Result<usize, String> {
    judge(data).map(|(_, walk)| walk.json_len)
}

fn judge(data: &[u8]) -> Res<(Graph, Walk)> {
    let graph = decode(data)?;
    let walk = children_first(data, &graph.nodes, graph.root, max_json_len(data.len()))?;
    Ok((graph, walk))
}

type Id = usize;

#[derive(Debug, PartialEq)]
enum Node {
    None,
    Bool(bool),
    Int(i64),
    /// Little-endian two's complement, at this range of the input.
    Long(Range<usize>),
    Float(f64),
    /// UTF-8 (lone surrogates allowed, as pickle writes them), at this range of the input.
    Str(Range<usize>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    /// Keys and values alternate.
    Dict(Vec<Id>),
}

impl Node {
    fn children(&self) -> &[Id] {
        match self {
            Node::List(kids) | Node::Tuple(kids) | Node::Dict(kids) => kids,
            _ => &[],
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Node::None => "None",
            Node::Bool(_) => "bool",
            Node::Int(_) | Node::Long(_) => "int",
            Node::Float(_) => "float",
            Node::Str(_) => "str",
            Node::List(_) => "list",
            Node::Tuple(_) => "tuple",
            Node::Dict(_) => "dict",
        }
    }
}

struct Graph {
    nodes: Vec<Node>,
    root: Id,
}

type Res<T> = Result<T, String>;

fn too_deep() -> String {
    format!("pickle nested deeper than {MAX_DEPTH} levels refused")
}

/// Room for `more` items in a `Vec` that grows with the input, or a refusal: a failed `Vec`
/// growth aborts the process, `try_reserve` reports it (and amortizes growth as `push` does).
fn room<T>(v: &mut Vec<T>, more: usize) -> Res<()> {
    v.try_reserve(more)
        .map_err(|_| "pickle too large for the memory available".to_owned())
}

/// `n` copies of `value`, or a refusal if memory runs out.
fn filled<T: Clone>(n: usize, value: T) -> Res<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| "pickle too large for the memory available".to_owned())?;
    v.resize(n, value);
    Ok(v)
}
