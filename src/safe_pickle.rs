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

use std::mem;
use std::ops::Range;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::json;

/// Most nodes on any path from the outermost value to a leaf ((accessed, created, {'a': [1]})
/// is 4): far beyond real sessions, well inside the recursion limits of JSON codecs.
pub const MAX_DEPTH: usize = 100;
/// Most bytes after LONG1/LONG4: 1024 bytes is about 2470 decimal digits, under Python's default
/// 4300-digit limit on int-to-str conversion, which would otherwise make the JSON rewrite fail.
const MAX_LONG_BYTES: usize = 1024;

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

fn truncated() -> String {
    "pickle data was truncated".to_owned()
}

fn underflow(op: &str) -> String {
    format!("pickle opcode {op} found too few items on the stack")
}

/// The pickle virtual machine restricted to plain data, with pickle.py's stack discipline:
/// MARK sets the current stack aside and starts an empty one, so no opcode reaches past a mark.
struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<Vec<Id>>,
    memo: Vec<Option<Id>>,
    memo_len: usize,
}

fn decode(data: &[u8]) -> Res<Graph> {
    match data {
        [0x80, 2..=5, ..] => {}
        [0x80, p, ..] => return Err(format!("pickle protocol {p} refused: only 2 to 5 are read")),
        [0x80] => return Err(truncated()),
        _ => return Err("not a pickle: no PROTO header".to_owned()),
    }
    let mut d = Decoder {
        data,
        pos: 2,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
        memo_len: 0,
    };
    loop {
        let op = d.byte()?;
        match op {
            b'.' => return d.stop(), // STOP
            0x95 => {
                // FRAME: only a read-ahead hint; its bytes are decoded as opcodes.
                let n = d.len_prefix::<8>()?;
                if n > data.len() - d.pos {
                    return Err(truncated());
                }
            }
            b'(' => {
                // MARK
                if d.marks.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                d.marks.push(mem::take(&mut d.stack));
            }
            b'0' => {
                // POP
                if d.stack.pop().is_none() {
                    d.pop_mark("POP")?;
                }
            }
            b'1' => drop(d.pop_mark("POP_MARK")?),
            b'2' => {
                let top = d.top("DUP")?;
                room(&mut d.stack, 1)?;
                d.stack.push(top);
            }
            b'q' => {
                let id = d.byte()?;
                d.put(id.into())?; // BINPUT
            }
            b'r' => {
                let id = u32::from_le_bytes(d.array()?);
                d.put(id as usize)?; // LONG_BINPUT
            }
            0x94 => d.put(d.memo_len)?, // MEMOIZE
            b'h' => {
                let id = d.byte()?;
                d.get(id.into())?; // BINGET
            }
            b'j' => {
                let id = u32::from_le_bytes(d.array()?);
                d.get(id as usize)?; // LONG_BINGET
            }
            b'N' => d.push(Node::None)?,
            0x88 => d.push(Node::Bool(true))?,  // NEWTRUE
            0x89 => d.push(Node::Bool(false))?, // NEWFALSE
            b'J' => {
                let n = i32::from_le_bytes(d.array()?);
                d.push(Node::Int(n.into()))?; // BININT
            }
            b'K' => {
                let n = d.byte()?;
                d.push(Node::Int(n.into()))?; // BININT1
            }
            b'M' => {
                let n = u16::from_le_bytes(d.array()?);
                d.push(Node::Int(n.into()))?; // BININT2
            }
            0x8a => {
                let n = d.byte()?;
                d.long(n.into())?; // LONG1
            }
            0x8b => {
                // LONG4: a negative length is as absurd as a huge one.
                let n = i32::from_le_bytes(d.array()?);
                d.long(usize::try_from(n).unwrap_or(usize::MAX))?;
            }
            b'G' => {
                let x = f64::from_be_bytes(d.array()?);
                d.push(Node::Float(x))?; // BINFLOAT
            }
            0x8c => {
                let n = d.len_prefix::<1>()?;
                d.str(n)?; // SHORT_BINUNICODE
            }
            b'X' => {
                let n = d.len_prefix::<4>()?;
                d.str(n)?; // BINUNICODE
            }
            0x8d => {
                let n = d.len_prefix::<8>()?;
                d.str(n)?; // BINUNICODE8
            }
            b')' => d.push(Node::Tuple(Vec::new()))?, // EMPTY_TUPLE
            0x85..=0x87 => {
                // TUPLE1, TUPLE2, TUPLE3
                let n = usize::from(op - 0x84);
                let Some(start) = d.stack.len().checked_sub(n) else {
                    return Err(underflow(opcode_name(op).unwrap_or("TUPLE")));
                };
                let items = d.stack.split_off(start);
                d.push(Node::Tuple(items))?;
            }
            b't' => {
                let items = d.pop_mark("TUPLE")?;
                d.push(Node::Tuple(items))?;
            }
            b']' => d.push(Node::List(Vec::new()))?, // EMPTY_LIST
            b'l' => {
                let items = d.pop_mark("LIST")?;
                d.push(Node::List(items))?;
            }
            b'a' => {
                let item = d.pop("APPEND")?;
                d.extend("APPEND", vec![item])?;
            }
            b'e' => {
                let items = d.pop_mark("APPENDS")?;
                d.extend("APPENDS", items)?;
            }
            b'}' => d.push(Node::Dict(Vec::new()))?, // EMPTY_DICT
            b'd' => {
                let items = d.pop_mark("DICT")?;
                if items.len() % 2 != 0 {
                    return Err("pickle opcode DICT found a key without a value".to_owned());
                }
                d.check_keys(&items)?;
                d.push(Node::Dict(items))?;
            }
            b's' => {
                let value = d.pop("SETITEM")?;
                let key = d.pop("SETITEM")?;
                d.extend("SETITEM", vec![key, value])?;
            }
            b'u' => {
                let items = d.pop_mark("SETITEMS")?;
                if items.len() % 2 != 0 {
                    return Err("pickle opcode SETITEMS found a key without a value".to_owned());
                }
                d.extend("SETITEMS", items)?;
            }
            _ => {
                return Err(match opcode_name(op) {
                    Some(name) => format!("pickle opcode {name} refused: only plain data is read"),
                    None => format!("unknown pickle opcode 0x{op:02x}"),
                })
            }
        }
    }
}

impl Decoder<'_> {
    fn byte(&mut self) -> Res<u8> {
        let b = *self.data.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes' range; checked before anything is sized by `n`.
    fn take(&mut self, n: usize) -> Res<Range<usize>> {
        if n > self.data.len() - self.pos {
            return Err(truncated());
        }
        self.pos += n;
        Ok(self.pos - n..self.pos)
    }

    fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let range = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.data[range]);
        Ok(out)
    }

    /// An unsigned little-endian length of `N` bytes (too big for usize reads as truncation).
    fn len_prefix<const N: usize>(&mut self) -> Res<usize> {
        let mut le = [0; 8];
        le[..N].copy_from_slice(&self.array::<N>()?);
        usize::try_from(u64::from_le_bytes(le)).map_err(|_| truncated())
    }

    fn str(&mut self, n: usize) -> Res<()> {
        let range = self.take(n)?;
        // Checked when read, as pickle.loads does, even if the str is later discarded.
        if !is_utf8_surrogatepass(&self.data[range.clone()]) {
            return Err("pickled str is not UTF-8".to_owned());
        }
        self.push(Node::Str(range))
    }

    fn long(&mut self, n: usize) -> Res<()> {
        if n > MAX_LONG_BYTES {
            return Err(format!(
                "pickled int of over {MAX_LONG_BYTES} bytes refused"
            ));
        }
        let range = self.take(n)?;
        self.push(Node::Long(range))
    }

    fn push(&mut self, node: Node) -> Res<()> {
        room(&mut self.stack, 1)?;
        room(&mut self.nodes, 1)?;
        self.stack.push(self.nodes.len());
        self.nodes.push(node);
        Ok(())
    }

    fn pop(&mut self, op: &str) -> Res<Id> {
        self.stack.pop().ok_or_else(|| underflow(op))
    }

    fn top(&self, op: &str) -> Res<Id> {
        self.stack.last().copied().ok_or_else(|| underflow(op))
    }

    /// The items pushed since the last MARK, restoring the stack as it was before it.
    fn pop_mark(&mut self, op: &str) -> Res<Vec<Id>> {
        let outer = self
            .marks
            .pop()
            .ok_or_else(|| format!("pickle opcode {op} found no MARK"))?;
        Ok(mem::replace(&mut self.stack, outer))
    }

    /// Refuses a key that is not str in `items` (keys and values alternating). Checked when a
    /// dict is built or set, as pickle.loads hashes keys, even if the dict is later discarded;
    /// so no key that is unhashable, or that JSON would write as another type, gets through.
    fn check_keys(&self, items: &[Id]) -> Res<()> {
        match items
            .iter()
            .step_by(2)
            .find(|&&k| !matches!(self.nodes[k], Node::Str(_)))
        {
            Some(&key) => Err(format!(
                "dict key of type {} refused: only str keys are read",
                self.nodes[key].kind()
            )),
            None => Ok(()),
        }
    }

    /// Add items to the list (or key/value pairs to the dict) on top of the stack.
    fn extend(&mut self, op: &str, items: Vec<Id>) -> Res<()> {
        let target = self.top(op)?;
        if matches!(self.nodes[target], Node::Dict(_)) {
            self.check_keys(&items)?;
        }
        match (&mut self.nodes[target], op) {
            (Node::List(kids), "APPEND" | "APPENDS")
            | (Node::Dict(kids), "SETITEM" | "SETITEMS") => {
                room(kids, items.len())?;
                kids.extend(items);
                Ok(())
            }
            (other, _) => Err(format!("pickle opcode {op} on a {} refused", other.kind())),
        }
    }

    fn put(&mut self, id: usize) -> Res<()> {
        // Real pickles number memo entries from 0 and spend bytes on each, so an index past the
        // input length is hostile; refusing it keeps the memo no bigger than the input.
        if id >= self.data.len() {
            return Err(format!("pickle memo index {id} out of range"));
        }
        let value = self.top("PUT")?;
        if self.memo.len() <= id {
            let more = id + 1 - self.memo.len();
            room(&mut self.memo, more)?;
            self.memo.resize(id + 1, None);
        }
        if self.memo[id].replace(value).is_none() {
            self.memo_len += 1;
        }
        Ok(())
    }

    fn get(&mut self, id: usize) -> Res<()> {
        let value = self.memo.get(id).copied().flatten();
        let value = value.ok_or_else(|| format!("pickle memo index {id} not set"))?;
        room(&mut self.stack, 1)?;
        self.stack.push(value);
        Ok(())
    }

    /// STOP must end the input and leave exactly the one value on the stack.
    fn stop(mut self) -> Res<Graph> {
        let root = self.pop("STOP")?;
        if !self.stack.is_empty() || !self.marks.is_empty() {
            return Err("pickle left items on its stack at STOP".to_owned());
        }
        if self.pos != self.data.len() {
            return Err("bytes after the end of the pickle".to_owned());
        }
        Ok(Graph {
            nodes: self.nodes,
            root,
        })
    }
}

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

/// What the walk over the graph found.
struct Walk {
    /// The nodes reachable from the root, each after its children.
    order: Vec<Id>,
    /// The most bytes `json::dumps` writes for the root.
    json_len: usize,
}

/// The longest text ryu writes for an f64 (`-2.2250738585072014e-308`).
const FLOAT_JSON_LEN: usize = 24;

/// Bytes `json::dumps` writes for the node itself, its children aside (an upper bound for ints
/// beyond i64 and for floats; exact for the rest).
fn own_json_len(data: &[u8], node: &Node) -> usize {
    match node {
        Node::None | Node::Bool(true) => 4,
        Node::Bool(false) => 5,
        Node::Int(n) => itoa::Buffer::new().format(*n).len(),
        // n bytes hold a magnitude under 2**(8n): under 8n * 0.30103 + 1 digits, and a sign.
        Node::Long(bytes) => bytes.len() * 8 * 30103 / 100_000 + 2,
        Node::Float(_) => FLOAT_JSON_LEN,
        Node::Str(text) => json::escaped_len(&data[text.clone()]),
        // Brackets and commas.
        Node::List(kids) | Node::Tuple(kids) => 2 + kids.len().saturating_sub(1),
        // Braces, a colon per pair and commas.
        Node::Dict(kids) => 2 + kids.len() / 2 + (kids.len() / 2).saturating_sub(1),
    }
}

/// Walks the graph from `root` without recursion: refuses cycles, nesting deeper than
/// `MAX_DEPTH`, and a result that would expand to more than `max_json` bytes of JSON; lists
/// the nodes children first.
fn children_first(data: &[u8], nodes: &[Node], root: Id, max_json: usize) -> Res<Walk> {
    // Height in nodes, and JSON length, of each finished subtree; a node is on the path while
    // open.
    let mut height: Vec<Option<usize>> = filled(nodes.len(), None)?;
    let mut json_len: Vec<usize> = filled(nodes.len(), 0)?;
    let mut open = filled(nodes.len(), false)?;
    let mut order = Vec::new();
    let mut path = vec![(root, 0)];
    open[root] = true;
    while let Some(&(id, next)) = path.last() {
        let kids = nodes[id].children();
        if let Some(&kid) = kids.get(next) {
            let last = path.len() - 1;
            path[last].1 += 1;
            if height[kid].is_some() {
                continue;
            }
            if open[kid] {
                return Err(format!(
                    "pickled {} that contains itself refused",
                    nodes[kid].kind()
                ));
            }
            if path.len() >= MAX_DEPTH {
                return Err(too_deep());
            }
            open[kid] = true;
            path.push((kid, 0));
            continue;
        }
        path.pop();
        open[id] = false;
        // A subtree first met on a short path may be shared into a deeper spot too.
        let h = 1 + kids.iter().filter_map(|&k| height[k]).max().unwrap_or(0);
        if h > MAX_DEPTH {
            return Err(too_deep());
        }
        // Every reference counts in full: that is what copying the value out costs.
        let len = kids.iter().fold(own_json_len(data, &nodes[id]), |sum, &k| {
            sum.saturating_add(json_len[k])
        });
        if len > max_json {
            return Err(format!(
                "pickle refused: its shared references expand to over {max_json} bytes of JSON"
            ));
        }
        height[id] = Some(h);
        json_len[id] = len;
        room(&mut order, 1)?;
        order.push(id);
    }
    Ok(Walk {
        order,
        json_len: json_len[root],
    })
}

/// Python objects for `order` (children first); returns the last one, the root.
fn build<'py>(
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
fn is_utf8_surrogatepass(mut bytes: &[u8]) -> bool {
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

fn opcode_name(op: u8) -> Option<&'static str> {
    const NAMES: &[(u8, &str)] = &[
        (0x28, "MARK"),
        (0x29, "EMPTY_TUPLE"),
        (0x2e, "STOP"),
        (0x30, "POP"),
        (0x31, "POP_MARK"),
        (0x32, "DUP"),
        (0x42, "BINBYTES"),
        (0x43, "SHORT_BINBYTES"),
        (0x46, "FLOAT"),
        (0x47, "BINFLOAT"),
        (0x49, "INT"),
        (0x4a, "BININT"),
        (0x4b, "BININT1"),
        (0x4c, "LONG"),
        (0x4d, "BININT2"),
        (0x4e, "NONE"),
        (0x50, "PERSID"),
        (0x51, "BINPERSID"),
        (0x52, "REDUCE"),
        (0x53, "STRING"),
        (0x54, "BINSTRING"),
        (0x55, "SHORT_BINSTRING"),
        (0x56, "UNICODE"),
        (0x58, "BINUNICODE"),
        (0x5d, "EMPTY_LIST"),
        (0x61, "APPEND"),
        (0x62, "BUILD"),
        (0x63, "GLOBAL"),
        (0x64, "DICT"),
        (0x65, "APPENDS"),
        (0x67, "GET"),
        (0x68, "BINGET"),
        (0x69, "INST"),
        (0x6a, "LONG_BINGET"),
        (0x6c, "LIST"),
        (0x6f, "OBJ"),
        (0x70, "PUT"),
        (0x71, "BINPUT"),
        (0x72, "LONG_BINPUT"),
        (0x73, "SETITEM"),
        (0x74, "TUPLE"),
        (0x75, "SETITEMS"),
        (0x7d, "EMPTY_DICT"),
        (0x80, "PROTO"),
        (0x81, "NEWOBJ"),
        (0x82, "EXT1"),
        (0x83, "EXT2"),
        (0x84, "EXT4"),
        (0x85, "TUPLE1"),
        (0x86, "TUPLE2"),
        (0x87, "TUPLE3"),
        (0x88, "NEWTRUE"),
        (0x89, "NEWFALSE"),
        (0x8a, "LONG1"),
        (0x8b, "LONG4"),
        (0x8c, "SHORT_BINUNICODE"),
        (0x8d, "BINUNICODE8"),
        (0x8e, "BINBYTES8"),
        (0x8f, "EMPTY_SET"),
        (0x90, "ADDITEMS"),
        (0x91, "FROZENSET"),
        (0x92, "NEWOBJ_EX"),
        (0x93, "STACK_GLOBAL"),
        (0x94, "MEMOIZE"),
        (0x95, "FRAME"),
        (0x96, "BYTEARRAY8"),
        (0x97, "NEXT_BUFFER"),
        (0x98, "READONLY_BUFFER"),
    ];
    NAMES
        .iter()
        .find(|&&(code, _)| code == op)
        .map(|&(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Python-like rendering of a decoded pickle, after the same checks `loads` makes.
    fn read(data: &[u8]) -> Res<String> {
        let (graph, _) = judge(data)?;
        Ok(render(data, &graph.nodes, graph.root))
    }

    fn render(data: &[u8], nodes: &[Node], id: Id) -> String {
        let join = |kids: &[Id], sep: &str| -> Vec<String> {
            let items: Vec<String> = kids.iter().map(|&k| render(data, nodes, k)).collect();
            items
                .chunks(if sep.is_empty() { 1 } else { 2 })
                .map(|c| c.join(sep))
                .collect()
        };
        match &nodes[id] {
            Node::None => "None".into(),
            Node::Bool(b) => if *b { "True" } else { "False" }.into(),
            Node::Int(n) => n.to_string(),
            Node::Long(r) => format!("long{:?}", &data[r.clone()]),
            Node::Float(x) => format!("{x:?}"),
            Node::Str(r) => format!("'{}'", String::from_utf8_lossy(&data[r.clone()])),
            Node::List(kids) => format!("[{}]", join(kids, "").join(", ")),
            Node::Tuple(kids) => format!("({})", join(kids, "").join(", ")),
            Node::Dict(kids) => format!("{{{}}}", join(kids, ": ").join(", ")),
        }
    }

    fn refused(data: &[u8]) -> String {
        read(data).expect_err("should be refused")
    }

    #[test]
    fn reads_a_protocol_2_session_tuple() {
        // pickle.dumps((1.5, 7, {'user': 'alice'}), 2)
        let p = b"\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00K\x07}q\x00X\x04\x00\x00\x00userq\x01X\x05\x00\x00\x00aliceq\x02s\x87q\x03.";
        assert_eq!(read(p).unwrap(), "(1.5, 7, {'user': 'alice'})");
    }

    #[test]
    fn reads_a_protocol_5_pickle_with_frame_memo_and_shared_list() {
        // x = [1, 2]; pickle.dumps({'a': x, 'b': x, 'n': None, 't': True}, 5)
        let p = b"\x80\x05\x95!\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01K\x02e\x8c\x01b\x94h\x02\x8c\x01n\x94N\x8c\x01t\x94\x88u.";
        assert_eq!(
            read(p).unwrap(),
            "{'a': [1, 2], 'b': [1, 2], 'n': None, 't': True}"
        );
    }

    #[test]
    fn reads_ints_of_every_width() {
        // pickle.dumps([-1, 255, 65535, 2**40, -(2**70)], 4)
        let p = b"\x80\x04\x95\"\x00\x00\x00\x00\x00\x00\x00]\x94(J\xff\xff\xff\xffK\xffM\xff\xff\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0e.";
        assert_eq!(
            read(p).unwrap(),
            "[-1, 255, 65535, long[0, 0, 0, 0, 0, 1], long[0, 0, 0, 0, 0, 0, 0, 0, 192]]"
        );
    }

    #[test]
    fn appends_to_a_memoized_list_show_through_every_reference() {
        // L = []; (L, L) with 1 appended to L after both references are on the stack.
        let p = b"\x80\x02]q\x00h\x00K\x01a\x86.";
        assert_eq!(read(p).unwrap(), "([1], [1])");
    }

    #[test]
    fn refuses_globals_and_object_opcodes() {
        // pickle.dumps(os.system, 2) and pickle.dumps(set(), 4) and friends.
        let cases: &[(&[u8], &str)] = &[
            (b"\x80\x02cposix\nsystem\nq\x00.", "GLOBAL"),
            (
                b"\x80\x04\x8c\x08builtins\x8c\x03set\x93)R.",
                "STACK_GLOBAL",
            ),
            (b"\x80\x02)R.", "REDUCE"),
            (b"\x80\x02}}b.", "BUILD"),
            (b"\x80\x02(i__main__\nC\n.", "INST"),
            (b"\x80\x02()o.", "OBJ"),
            (b"\x80\x02)\x81.", "NEWOBJ"),
            (b"\x80\x04\x8f\x94.", "EMPTY_SET"),
            (b"\x80\x04(\x91.", "FROZENSET"),
            (b"\x80\x03C\x01x.", "SHORT_BINBYTES"),
            (
                b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00.",
                "BYTEARRAY8",
            ),
            (b"\x80\x02X\x01\x00\x00\x00xQ.", "BINPERSID"),
            (b"\x80\x02\x82\x01.", "EXT1"),
            (b"\x80\x02I1\n.", "INT"),
            (b"\x80\x02U\x01x.", "SHORT_BINSTRING"),
        ];
        for (p, name) in cases {
            assert_eq!(
                refused(p),
                format!("pickle opcode {name} refused: only plain data is read")
            );
        }
        assert_eq!(refused(b"\x80\x02\xff."), "unknown pickle opcode 0xff");
    }

    #[test]
    fn refuses_what_pickle_refuses_even_when_it_is_discarded() {
        // Found by the safe_pickle_loads fuzz target: a str that is not UTF-8 and a dict with a
        // list key, each popped before STOP, so never part of the result.
        assert!(refused(b"\x80\x05\x8c\x02\x80\x030N.").contains("not UTF-8"));
        assert!(refused(b"\x80\x05}]Ns0N.").contains("dict key of type list"));
        // Lone surrogates are what pickle writes for them: read, as pickle.loads does.
        assert!(is_utf8_surrogatepass(b"a\xed\xa0\x80b"));
        assert!(!is_utf8_surrogatepass(b"a\xed\xa0"));
    }

    #[test]
    fn refuses_non_str_dict_keys() {
        // pickle.dumps({1: 2}, 2)
        let err = refused(b"\x80\x02}q\x00K\x01K\x02s.");
        assert_eq!(err, "dict key of type int refused: only str keys are read");
        assert!(refused(b"\x80\x02})K\x02s.").contains("type tuple"));
    }

    #[test]
    fn refuses_what_is_not_one_whole_pickle() {
        let p = b"\x80\x02K\x01.";
        for end in 0..p.len() {
            assert!(read(&p[..end]).is_err(), "prefix of {end} bytes read");
        }
        assert_eq!(
            refused(b"\x80\x02K\x01.x"),
            "bytes after the end of the pickle"
        );
        assert_eq!(
            refused(b"\x80\x02K\x01K\x02."),
            "pickle left items on its stack at STOP"
        );
        assert_eq!(
            refused(b"\x80\x02(K\x01."),
            "pickle left items on its stack at STOP"
        );
        assert!(refused(b"\x80\x01K\x01.").contains("protocol 1"));
        assert!(refused(b"{}").contains("no PROTO"));
    }

    #[test]
    fn huge_length_prefixes_are_refused_without_allocating() {
        assert_eq!(
            refused(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffx."),
            truncated()
        );
        assert_eq!(refused(b"\x80\x04X\xff\xff\xff\xffx."), truncated());
        assert_eq!(
            refused(b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N."),
            truncated()
        );
        assert!(refused(b"\x80\x02\x8b\xff\xff\xff\x7f.").contains("over 1024 bytes"));
        assert!(refused(b"\x80\x02\x8b\xff\xff\xff\xff.").contains("over 1024 bytes"));
        assert!(refused(b"\x80\x02Nr\xff\xff\xff\xff.").contains("memo index"));
        assert!(refused(b"\x80\x02j\x05\x00\x00\x00.").contains("memo index 5 not set"));
    }

    #[test]
    fn refuses_stack_misuse() {
        assert!(refused(b"\x80\x02\x85.").contains("too few items"));
        assert!(refused(b"\x80\x02]K\x01(a.").contains("too few items"));
        assert!(refused(b"\x80\x02)K\x01a.").contains("APPEND on a tuple refused"));
        assert!(refused(b"\x80\x02]K\x01K\x02s.").contains("SETITEM on a list refused"));
        assert!(refused(b"\x80\x02}(K\x01u.").contains("key without a value"));
        assert!(refused(b"\x80\x02t.").contains("found no MARK"));
        assert!(refused(b"\x80\x02.").contains("too few items"));
    }

    #[test]
    fn refuses_cycles() {
        // L = []; L.append(L)
        assert!(refused(b"\x80\x02]q\x00h\x00a.").contains("list that contains itself"));
        // D = {}; D['d'] = [D]
        let p = b"\x80\x02}q\x00X\x01\x00\x00\x00d]h\x00as.";
        assert!(refused(p).contains("dict that contains itself"));
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let nested =
            |n: usize| [&b"\x80\x02"[..], &vec![b']'; n], &vec![b'a'; n - 1], b"."].concat();
        assert!(read(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(refused(&nested(MAX_DEPTH + 1)), too_deep());
        assert_eq!(refused(&nested(100_000)), too_deep());
        let tuples = [&b"\x80\x02)"[..], &vec![0x85; 100_000], b"."].concat();
        assert_eq!(refused(&tuples), too_deep());
        let marks = [&b"\x80\x02"[..], &vec![b'('; 100_000]].concat();
        assert_eq!(refused(&marks), too_deep());
    }

    #[test]
    fn a_shallow_reference_to_a_deep_subtree_counts_its_full_depth() {
        // (deep, [[deep]]): deep is first walked on a short path, then shared two levels lower.
        let n = MAX_DEPTH - 2;
        let p = [
            &b"\x80\x02"[..],
            &vec![b']'; n],
            &vec![b'a'; n - 1],
            b"q\x00]]h\x00aa\x86.",
        ]
        .concat();
        assert_eq!(refused(&p), too_deep());
    }

    /// x0 = [] ; x(k+1) = [xk, xk], `levels` times: 2**levels empty lists once copied out.
    fn doubled(levels: u8) -> Vec<u8> {
        let mut p = b"\x80\x02]q\x000".to_vec();
        for k in 0..levels {
            p.extend_from_slice(&[b'(', b'h', k, b'h', k, b'l', b'q', k + 1, b'0']);
        }
        p.extend_from_slice(&[b'h', levels, b'.']);
        p
    }

    #[test]
    fn shared_references_are_read_in_linear_time() {
        let p = doubled(12);
        let (graph, walk) = judge(&p).unwrap();
        assert_eq!(walk.order.len(), 13);
        assert_eq!(graph.nodes.len(), 13);
        // [] is 2 bytes, and each level doubles it and adds 3: 5 * 2**k - 3 bytes.
        assert_eq!(walk.json_len, 5 * (1 << 12) - 3);
    }

    #[test]
    fn shared_references_that_expand_far_beyond_a_cookie_are_refused() {
        // The example: 40 levels, 2**40 empty lists, from a few hundred bytes.
        for levels in [14, 40, 60, 98] {
            let p = doubled(levels);
            let err = refused(&p);
            assert!(err.contains("expand to over"), "{err}");
            assert!(err.contains(&max_json_len(p.len()).to_string()), "{err}");
        }
        // DUP copies a reference too: ( [ 2 2 2 ... e, 2**k times by nesting.
        let mut p = b"\x80\x02".to_vec();
        for _ in 0..50 {
            p.extend_from_slice(b"(");
        }
        p.extend_from_slice(b"]");
        for _ in 0..50 {
            p.extend_from_slice(b"2l");
        }
        p.extend_from_slice(b".");
        assert!(refused(&p).contains("expand to over"));
    }

    #[test]
    fn a_pickle_without_shared_references_is_never_refused_for_its_size() {
        // The costliest bytes: str text that JSON escapes six to one, and NEWFALSE (`false,`).
        let n = 200_000;
        let mut p = b"\x80\x04]\x94(X".to_vec();
        p.extend_from_slice(&(n as u32).to_le_bytes());
        p.extend_from_slice(&vec![1; n]);
        p.extend_from_slice(&vec![0x89; n]);
        p.extend_from_slice(b"e.");
        let bound = json_len_bound(&p).unwrap();
        assert_eq!(bound, 2 + 6 * n + 2 + 6 * n);
        assert!(bound <= JSON_PER_BYTE * p.len());
    }

    #[test]
    fn the_json_length_bound_is_what_dumps_writes() {
        Python::initialize();
        Python::attach(|py| {
            let cases: &[&[u8]] = &[
                // pickle.dumps((1.5, 7, {'user': 'alice'}), 2)
                b"\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00K\x07}q\x00X\x04\x00\x00\x00userq\x01X\x05\x00\x00\x00aliceq\x02s\x87q\x03.",
                // {'a': x, 'b': x, 'n': None, 't': True} with x = [1, 2] shared
                b"\x80\x05\x95!\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01K\x02e\x8c\x01b\x94h\x02\x8c\x01n\x94N\x8c\x01t\x94\x88u.",
                // ['\x00"\\é\ud800', -1, 65535, False, ()]
                b"\x80\x02]q\x00(X\x08\x00\x00\x00\x00\"\\\xc3\xa9\xed\xa0\x80J\xff\xff\xff\xffM\xff\xff\x89)e.",
            ];
            for p in cases {
                let value = loads(py, p).unwrap();
                let written = json::dumps(&value).unwrap().len();
                let bound = json_len_bound(p).unwrap();
                // Exact but for floats, counted at their longest.
                assert!(
                    written <= bound && bound <= written + FLOAT_JSON_LEN,
                    "{p:?}"
                );
            }
        })
    }

    #[test]
    fn every_opcode_that_builds_a_dict_applies_the_str_key_rule() {
        // From the issue: pickle of (t, t, {(): 2}), the key set by DICT.
        let t = b"G\x41\xd9\x4c\xe8\x00\x00\x00\x00";
        let p = [&b"\x80\x02("[..], t, t, b"()K\x02dt."].concat();
        assert_eq!(
            refused(&p),
            "dict key of type tuple refused: only str keys are read"
        );
        // Found by the safe_pickle_loads fuzz target: an unhashable key, by DICT.
        assert!(refused(b"\x80\x02(}K\x01d.").contains("dict key of type dict"));
        for (key, kind) in [
            (&b"K\x01"[..], "int"),
            (b"N", "None"),
            (b"\x88", "bool"),
            (b"G\x3f\xf0\x00\x00\x00\x00\x00\x00", "float"),
            (b"]", "list"),
            (b")", "tuple"),
        ] {
            for how in [&b"(%K\x02d."[..], b"}%K\x02s.", b"}(%K\x02u."] {
                let at = how.iter().position(|&b| b == b'%').unwrap();
                let p = [&b"\x80\x02"[..], &how[..at], key, &how[at + 1..]].concat();
                assert_eq!(
                    refused(&p),
                    format!("dict key of type {kind} refused: only str keys are read")
                );
            }
        }
        assert_eq!(
            read(b"\x80\x02(X\x01\x00\x00\x00kK\x02d.").unwrap(),
            "{'k': 2}"
        );
    }
}
