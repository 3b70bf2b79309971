//! The first pass: the opcodes of a pickle to a graph of nodes, memo references shared by id.
//! Nothing reaches Python here.

use std::mem;
use std::ops::Range;

use super::build::is_utf8_surrogatepass;
use super::opcodes::opcode_name;
use super::{room, too_deep, Graph, Id, Node, Res, MAX_DEPTH};

/// Most bytes after LONG1/LONG4: 1024 bytes is about 2470 decimal digits, under Python's default
/// 4300-digit limit on int-to-str conversion, which would otherwise make the JSON rewrite fail.
const MAX_LONG_BYTES: usize = 1024;

pub(super) fn truncated() -> String {
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

pub(super) fn decode(data: &[u8]) -> Res<Graph> {
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
                let under = d.session_key_note(op);
                return Err(match opcode_name(op) {
                    Some(name) => {
                        format!("pickle opcode {name} refused: only plain data is read{under}")
                    }
                    None => format!("unknown pickle opcode 0x{op:02x}{under}"),
                });
            }
        }
    }
}

impl Decoder<'_> {
    /// On a refusal, the session key whose value holds the refused opcode, as ` (under session
    /// key "when")`, when the pickle is a session's `(accessed, created, state)` and the key
    /// can be told; else nothing. Read off the stack as it stands (the error path only): the
    /// state dict is the third entry of the bottom segment, and the entries pushed after it
    /// (in that segment, or in the one a MARK opened above it) alternate key and value, the
    /// refused value being the last one begun. (A tuple of one to three items under
    /// construction lies in the segment item by item, so a refusal inside one may name the
    /// key after it: a hint for the log, never a decision.)
    #[cold]
    fn session_key_note(&self, op: u8) -> String {
        let mut segments: Vec<&[Id]> = self.marks.iter().map(Vec::as_slice).collect();
        segments.push(&self.stack);
        let bottom = segments[0];
        if bottom.len() < 3 || !matches!(self.nodes[bottom[2]], Node::Dict(_)) {
            return String::new();
        }
        let mut items = if bottom.len() > 3 {
            &bottom[3..]
        } else {
            segments.get(1).copied().unwrap_or(&[])
        };
        if op == 0x93 && std::ptr::eq(items.as_ptr_range().end, self.stack.as_ptr_range().end) {
            // STACK_GLOBAL's module and name, just pushed on the same segment: not the state's.
            items = &items[..items.len().saturating_sub(2)];
        }
        // Pairs already complete take two entries each, so the key being read is the last one
        // at an even place; unless an empty container before it is still being filled (a dict
        // or list of one item is filled without a MARK, in this same segment), which the stack
        // cannot tell from a complete empty one: then both keys are named.
        if items.is_empty() {
            return String::new();
        }
        let by_pairs = items[(items.len() - 1) & !1];
        let mut i = 0;
        let by_filling = loop {
            match (items.get(i), items.get(i + 1)) {
                (Some(&key), None) => break key,
                (Some(&key), Some(&value)) => {
                    let empty =
                        matches!(&self.nodes[value], Node::Dict(v) | Node::List(v) if v.is_empty());
                    if i + 2 == items.len() || empty {
                        break key;
                    }
                    i += 2;
                }
                (None, _) => break by_pairs,
            }
        };
        let name = |key: Id| match &self.nodes[key] {
            Node::Str(range) => std::str::from_utf8(&self.data[range.clone()])
                .ok()
                .map(|text| format!("{text:?}")),
            _ => None,
        };
        match (name(by_filling), name(by_pairs)) {
            (Some(a), Some(b)) if a != b => format!(" (under session key {a} or {b})"),
            (Some(a), _) | (None, Some(a)) => format!(" (under session key {a})"),
            (None, None) => String::new(),
        }
    }

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
