//! `pickle.dumps(obj, protocol)` for protocols 4 and 5, done natively for plain data: the exact
//! types `dict`, `list`, `tuple`, `str`, `int` (within i64), `float`, `bool` and `None`, which
//! is what sessions hold. The bytes are the ones CPython's C pickler writes (the same opcodes,
//! memo, batches of 1000 and single frame), so a cookie reads back the same whichever wrote it,
//! and `detect_changes` compares like with like.
//!
//! Written by hand because no crate writes CPython's exact pickle: serde-pickle writes its own
//! opcodes and no memo, so shared values would be copied and identity lost. What it saves is
//! the Python-level machinery around each call (a Pickler object, its memo table and buffers),
//! which is most of what a small session's `pickle.dumps` costs.
//!
//! Anything else (a subclass, a `datetime`, a set, bytes, an int beyond i64, a str with lone
//! surrogates, a tuple that contains itself, nesting deeper than `MAX_DEPTH`, more than
//! `MAX_LEN` bytes) returns `None` before anything is written out: the caller then calls
//! `pickle.dumps`, which decides as it always has (`__reduce__`, errors, recursion limits).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

// The opcodes (Lib/pickletools.py names them).
const PROTO: u8 = 0x80;
const FRAME: u8 = 0x95;
const STOP: u8 = b'.';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE: u8 = b'X';
const MEMOIZE: u8 = 0x94;
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';
const EMPTY_DICT: u8 = b'}';
const EMPTY_LIST: u8 = b']';
const EMPTY_TUPLE: u8 = b')';
const MARK: u8 = b'(';
const SETITEM: u8 = b's';
const SETITEMS: u8 = b'u';
const APPEND: u8 = b'a';
const APPENDS: u8 = b'e';
const TUPLE: u8 = b't';
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;

/// Items per MARK ... SETITEMS or APPENDS, as the C pickler batches them.
const BATCH: usize = 1000;
/// PROTO and its version, then FRAME and its 8-byte length.
const HEADER: usize = 2 + 9;
/// Most bytes written natively. Far above any cookie (4 KB), and below the 64 KiB at which the
/// C pickler starts a second frame, so one frame is always what it would write too.
pub const MAX_LEN: usize = 32 * 1024;
/// Most containers nested in one another; deeper data goes to `pickle.dumps` and its own
/// recursion limit.
pub const MAX_DEPTH: usize = 200;

/// The protocols written natively (their output differs only in the PROTO byte).
pub fn is_native_protocol(protocol: i64) -> bool {
    protocol == 4 || protocol == 5
}

/// `pickle.dumps(obj, protocol)`, or `None` when `obj` holds anything but plain data (see the
/// module doc). `protocol` must be one that `is_native_protocol` accepts.
pub fn dumps(obj: &Bound<'_, PyAny>, protocol: u8) -> Option<Vec<u8>> {
    let mut writer = Writer {
        out: Vec::with_capacity(4096),
        memo: Memo::new(),
        kept: Vec::with_capacity(64),
    };
    writer
        .out
        .extend_from_slice(&[PROTO, protocol, FRAME, 0, 0, 0, 0, 0, 0, 0, 0]);
    writer.save(obj, 0)?;
    writer.out.push(STOP);
    let mut out = writer.out;
    let framed = out.len() - HEADER;
    // As the C pickler: a frame under four bytes is not worth its header.
    if framed >= 4 {
        out[3..HEADER].copy_from_slice(&(framed as u64).to_le_bytes());
    } else {
        out.drain(2..HEADER);
    }
    Some(out)
}

/// The memo: object address to memo index, by identity as pickle's. Open addressing over a
/// power-of-two table, at most half full: a session's memo is a few hundred entries, and this
/// is a multiply and a compare or two per lookup (std's HashMap costs several times that here).
struct Memo {
    /// (address, index); address 0 marks a free slot.
    slots: Vec<(usize, u32)>,
    len: u32,
}

impl Memo {
    fn new() -> Self {
        Memo {
            slots: vec![(0, 0); 64],
            len: 0,
        }
    }

    fn slot(&self, addr: usize) -> usize {
        let mask = self.slots.len() - 1;
        // Fibonacci hashing: the top bits of the product depend on every bit of the address.
        let bits = self.slots.len().trailing_zeros();
        let mut i = ((addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
        while self.slots[i].0 != 0 && self.slots[i].0 != addr {
            i = (i + 1) & mask;
        }
        i
    }

    fn get(&self, addr: usize) -> Option<u32> {
        let (a, index) = self.slots[self.slot(addr)];
        (a == addr).then_some(index)
    }

    /// Adds `addr` (not yet in the memo) as the next index.
    fn push(&mut self, addr: usize) -> Option<u32> {
        if (self.len as usize + 1) * 2 > self.slots.len() {
            let grown = vec![(0, 0); self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, grown);
            for (a, index) in old.into_iter().filter(|&(a, _)| a != 0) {
                let i = self.slot(a);
                self.slots[i] = (a, index);
            }
        }
        let index = self.len;
        self.len = self.len.checked_add(1)?;
        let i = self.slot(addr);
        self.slots[i] = (addr, index);
        Some(index)
    }
}

struct Writer<'py> {
    out: Vec<u8>,
    memo: Memo,
    /// The memoized objects, held so that no address is freed and reused while we write (the
    /// C pickler's memo holds them the same way).
    kept: Vec<Bound<'py, PyAny>>,
}

impl<'py> Writer<'py> {
    fn bytes(&mut self, bytes: &[u8]) -> Option<()> {
        if self.out.len() + bytes.len() > MAX_LEN {
            return None;
        }
        self.out.extend_from_slice(bytes);
        Some(())
    }

    fn byte(&mut self, byte: u8) -> Option<()> {
        self.bytes(&[byte])
    }

    fn memoize(&mut self, obj: &Bound<'py, PyAny>) -> Option<()> {
        self.memo.push(obj.as_ptr() as usize)?;
        self.kept.push(obj.clone());
        self.byte(MEMOIZE)
    }

    fn memo_get(&mut self, index: u32) -> Option<()> {
        match u8::try_from(index) {
            Ok(small) => self.bytes(&[BINGET, small]),
            Err(_) => {
                let [a, b, c, d] = index.to_le_bytes();
                self.bytes(&[LONG_BINGET, a, b, c, d])
            }
        }
    }

    fn save(&mut self, obj: &Bound<'py, PyAny>, depth: usize) -> Option<()> {
        // The C pickler's order: the atoms (never memoized), then the memo, then the rest.
        if obj.is_none() {
            return self.byte(NONE);
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return self.byte(if b.is_true() { NEWTRUE } else { NEWFALSE });
        }
        if obj.is_exact_instance_of::<PyInt>() {
            return self.int(obj);
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            let mut op = [BINFLOAT; 9];
            op[1..].copy_from_slice(&f.value().to_be_bytes());
            return self.bytes(&op);
        }
        if let Some(index) = self.memo.get(obj.as_ptr() as usize) {
            return self.memo_get(index);
        }
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return self.str(s);
        }
        if depth >= MAX_DEPTH {
            return None;
        }
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return self.dict(d, depth);
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return self.list(l, depth);
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            return self.tuple(t, depth);
        }
        None
    }

    fn int(&mut self, obj: &Bound<'py, PyAny>) -> Option<()> {
        // An int beyond i64 goes to pickle.dumps (rare in a session).
        let v: i64 = obj.extract().ok()?;
        if let Ok(v) = i32::try_from(v) {
            let le = v.to_le_bytes();
            return if le[2] != 0 || le[3] != 0 {
                self.bytes(&[BININT, le[0], le[1], le[2], le[3]])
            } else if le[1] != 0 {
                self.bytes(&[BININT2, le[0], le[1]])
            } else {
                self.bytes(&[BININT1, le[0]])
            };
        }
        // The shortest little-endian two's complement that reads back as `v`.
        let le = v.to_le_bytes();
        let n = (1..=8)
            .find(|&n| {
                let shift = 64 - 8 * n as u32;
                shift == 0 || (v << shift) >> shift == v
            })
            .unwrap_or(8);
        let mut op = [0u8; 10];
        op[0] = LONG1;
        op[1] = n as u8;
        op[2..2 + n].copy_from_slice(&le[..n]);
        self.bytes(&op[..2 + n])
    }

    fn str(&mut self, s: &Bound<'py, PyString>) -> Option<()> {
        // Lone surrogates fail here (pickle writes them with "surrogatepass"): pickle.dumps.
        let owned;
        let text = match crate::pystr::utf8(s) {
            Some(text) => text,
            None => {
                owned = s.encode_utf8().ok()?;
                owned.as_bytes()
            }
        };
        let len = text.len();
        if len <= 0xff {
            self.bytes(&[SHORT_BINUNICODE, len as u8])?;
        } else {
            let [a, b, c, d] = u32::try_from(len).ok()?.to_le_bytes();
            self.bytes(&[BINUNICODE, a, b, c, d])?;
        }
        self.bytes(text)?;
        self.memoize(s.as_any())
    }

    fn dict(&mut self, dict: &Bound<'py, PyDict>, depth: usize) -> Option<()> {
        self.byte(EMPTY_DICT)?;
        self.memoize(dict.as_any())?;
        let size = dict.len();
        if size == 0 {
            return Some(());
        }
        let py = dict.py();
        // PyDict_Next inside the dict's critical section, as src/json/write.rs explains (a
        // free-threaded CPython). No Python code runs while we walk: nothing here calls any.
        pyo3::sync::critical_section::with_critical_section(dict.as_any(), || {
            let mut pos: ffi::Py_ssize_t = 0;
            let mut next = || {
                let mut key: *mut ffi::PyObject = std::ptr::null_mut();
                let mut value: *mut ffi::PyObject = std::ptr::null_mut();
                // SAFETY: a live dict whose critical section we hold; the borrowed key and
                // value become owned references at once.
                unsafe {
                    (ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) != 0).then(
                        || {
                            (
                                Bound::from_borrowed_ptr(py, key),
                                Bound::from_borrowed_ptr(py, value),
                            )
                        },
                    )
                }
            };
            if size == 1 {
                let (k, v) = next()?;
                self.save(&k, depth + 1)?;
                self.save(&v, depth + 1)?;
                return self.byte(SETITEM);
            }
            // The C pickler's loop, an empty batch after a full one included.
            loop {
                self.byte(MARK)?;
                let mut batch = 0;
                while let Some((k, v)) = next() {
                    self.save(&k, depth + 1)?;
                    self.save(&v, depth + 1)?;
                    batch += 1;
                    if batch == BATCH {
                        break;
                    }
                }
                self.byte(SETITEMS)?;
                if dict.len() != size {
                    return None;
                }
                if batch != BATCH {
                    return Some(());
                }
            }
        })
    }

    fn list(&mut self, list: &Bound<'py, PyList>, depth: usize) -> Option<()> {
        self.byte(EMPTY_LIST)?;
        self.memoize(list.as_any())?;
        // By index, reading the length each time, as the C pickler does.
        match list.len() {
            0 => Some(()),
            1 => {
                self.save(&list.get_item(0).ok()?, depth + 1)?;
                self.byte(APPEND)
            }
            _ => {
                let mut total = 0;
                loop {
                    self.byte(MARK)?;
                    let mut batch = 0;
                    while total < list.len() {
                        self.save(&list.get_item(total).ok()?, depth + 1)?;
                        total += 1;
                        batch += 1;
                        if batch == BATCH {
                            break;
                        }
                    }
                    self.byte(APPENDS)?;
                    if total >= list.len() {
                        return Some(());
                    }
                }
            }
        }
    }

    fn tuple(&mut self, tuple: &Bound<'py, PyTuple>, depth: usize) -> Option<()> {
        let len = tuple.len();
        if len == 0 {
            // Not memoized: the C pickler writes the empty tuple each time.
            return self.byte(EMPTY_TUPLE);
        }
        if len > 3 {
            self.byte(MARK)?;
        }
        for item in tuple.iter_borrowed() {
            self.save(&item, depth + 1)?;
        }
        // A tuple that its own items reach (through a list or dict): pickle.dumps.
        if self.memo.get(tuple.as_ptr() as usize).is_some() {
            return None;
        }
        self.byte(match len {
            1 => TUPLE1,
            2 => TUPLE2,
            3 => TUPLE3,
            _ => TUPLE,
        })?;
        self.memoize(tuple.as_any())
    }
}

// The opcodes only the reader meets (the writer never writes them, pickle.dumps may).
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';

/// `pickle.loads(data)` for a protocol 2-5 pickle of plain data, built straight from the
/// opcodes with pickle's own stack machine: every opcode makes at most one object, a memo
/// reference shares the object as pickle does (cycles included), and no tree is built first.
/// `None` for anything else (another opcode, a str with lone surrogates, an int beyond i64,
/// malformed data): the caller then calls `pickle.loads`, which decides as it always has.
pub fn loads<'py>(py: Python<'py>, data: &[u8]) -> Option<Bound<'py, PyAny>> {
    let result = Reader {
        py,
        data,
        pos: 0,
        // A 70-key dict stacks 140 items before its SETITEMS: room for them up front.
        stack: Vec::with_capacity((data.len() / 8).clamp(16, 1024)),
        marks: Vec::new(),
        memo: Vec::with_capacity((data.len() / 8).clamp(16, 1024)),
    }
    .run();
    if result.is_none() {
        // A failed C API call leaves its error set: the fallback starts clean.
        drop(PyErr::take(py));
    }
    result
}

struct Reader<'a, 'py> {
    py: Python<'py>,
    data: &'a [u8],
    pos: usize,
    stack: Vec<Bound<'py, PyAny>>,
    /// Stack lengths at each open MARK.
    marks: Vec<usize>,
    /// Grows one entry at a time (see `put`): bounded by the opcodes read.
    memo: Vec<Bound<'py, PyAny>>,
}

impl<'py> Reader<'_, 'py> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let bytes = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn owned(&self, ptr: *mut ffi::PyObject) -> Option<Bound<'py, PyAny>> {
        // SAFETY: a new reference from the C API, or NULL (an error, left for `loads`).
        unsafe { Bound::from_owned_ptr_or_opt(self.py, ptr) }
    }

    /// Where the items pushed since the last MARK start; the mark is closed, and the caller
    /// truncates the stack to this once it has used them.
    fn pop_mark(&mut self) -> Option<usize> {
        self.marks.pop()
    }

    /// The top of the stack above the last MARK.
    fn top(&self) -> Option<&Bound<'py, PyAny>> {
        let floor = self.marks.last().copied().unwrap_or(0);
        (self.stack.len() > floor)
            .then(|| self.stack.last())
            .flatten()
    }

    /// The item just below a closed MARK's items (the list or dict they go into).
    fn below(&self, start: usize) -> Option<&Bound<'py, PyAny>> {
        let floor = self.marks.last().copied().unwrap_or(0);
        (start > floor).then(|| self.stack.get(start - 1)).flatten()
    }

    fn pop(&mut self) -> Option<Bound<'py, PyAny>> {
        self.top()?;
        self.stack.pop()
    }

    fn push(&mut self, obj: Bound<'py, PyAny>) -> Option<()> {
        self.stack.push(obj);
        Some(())
    }

    fn put(&mut self, index: usize) -> Option<()> {
        let top = self.top()?.clone();
        if index == self.memo.len() {
            // MEMOIZE, and BINPUT as picklers write it: the next index.
            self.memo.push(top);
        } else if index < self.memo.len() {
            self.memo[index] = top;
        } else {
            // An index skipping ahead (no pickler writes one) would make us allocate for the
            // gap: pickle.loads decides.
            return None;
        }
        Some(())
    }

    fn get(&mut self, index: usize) -> Option<()> {
        let obj = self.memo.get(index)?.clone();
        self.push(obj)
    }

    fn str(&mut self, len: usize) -> Option<()> {
        let text = self.take(len)?;
        let (ptr, len) = (text.as_ptr(), text.len() as ffi::Py_ssize_t);
        // Strict UTF-8: a lone surrogate (pickle writes them "surrogatepass") goes to
        // pickle.loads. Python checks the text once; no check of ours before it.
        // SAFETY: pointer and length of live input; NULL is handled by `owned`.
        let obj =
            self.owned(unsafe { ffi::PyUnicode_DecodeUTF8(ptr.cast(), len, std::ptr::null()) })?;
        self.push(obj)
    }

    /// The items from `start` up, replaced by a tuple of them.
    fn tuple(&mut self, start: usize) -> Option<()> {
        let tuple = PyTuple::new(self.py, &self.stack[start..]).ok()?.into_any();
        self.stack.truncate(start);
        self.push(tuple)
    }

    fn int(&mut self, v: i64) -> Option<()> {
        // SAFETY: a plain C API call; NULL is handled by `owned`.
        let obj = self.owned(unsafe { ffi::PyLong_FromLongLong(v) })?;
        self.push(obj)
    }

    fn run(mut self) -> Option<Bound<'py, PyAny>> {
        let py = self.py;
        match self.array::<2>()? {
            [PROTO, 2..=5] => {}
            _ => return None,
        }
        loop {
            let [op] = self.array::<1>()?;
            match op {
                FRAME => {
                    let n = u64::from_le_bytes(self.array::<8>()?);
                    if n > (self.data.len() - self.pos) as u64 {
                        return None;
                    }
                }
                STOP => {
                    // Anything unusual left open: pickle.loads says what it makes of it.
                    if !self.marks.is_empty() || self.stack.len() != 1 {
                        return None;
                    }
                    return self.stack.pop();
                }
                MARK => self.marks.push(self.stack.len()),
                NONE => self.push(py.None().into_bound(py))?,
                NEWTRUE => self.push(PyBool::new(py, true).to_owned().into_any())?,
                NEWFALSE => self.push(PyBool::new(py, false).to_owned().into_any())?,
                BININT1 => {
                    let [b] = self.array::<1>()?;
                    self.int(i64::from(b))?
                }
                BININT2 => {
                    let v = u16::from_le_bytes(self.array::<2>()?);
                    self.int(i64::from(v))?
                }
                BININT => {
                    let v = i32::from_le_bytes(self.array::<4>()?);
                    self.int(i64::from(v))?
                }
                LONG1 => {
                    let [n] = self.array::<1>()?;
                    let n = usize::from(n);
                    if n > 8 {
                        return None;
                    }
                    let le = self.take(n)?;
                    let negative = le.last().is_some_and(|b| b & 0x80 != 0);
                    let mut bytes = [if negative { 0xff } else { 0 }; 8];
                    bytes[..n].copy_from_slice(le);
                    self.int(i64::from_le_bytes(bytes))?
                }
                BINFLOAT => {
                    let v = f64::from_be_bytes(self.array::<8>()?);
                    self.push(PyFloat::new(py, v).into_any())?
                }
                SHORT_BINUNICODE => {
                    let [n] = self.array::<1>()?;
                    self.str(usize::from(n))?
                }
                BINUNICODE => {
                    let n = u32::from_le_bytes(self.array::<4>()?);
                    self.str(usize::try_from(n).ok()?)?
                }
                EMPTY_TUPLE => self.push(PyTuple::empty(py).into_any())?,
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = usize::from(op - TUPLE1 + 1);
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return None;
                    }
                    let start = self.stack.len() - n;
                    self.tuple(start)?
                }
                TUPLE => {
                    let start = self.pop_mark()?;
                    self.tuple(start)?
                }
                EMPTY_LIST => self.push(PyList::empty(py).into_any())?,
                EMPTY_DICT => self.push(PyDict::new(py).into_any())?,
                APPEND => {
                    let item = self.pop()?;
                    let list = self.top()?.cast_exact::<PyList>().ok()?;
                    list.append(item).ok()?
                }
                APPENDS => {
                    let start = self.pop_mark()?;
                    let list = self.below(start)?.cast_exact::<PyList>().ok()?;
                    for item in &self.stack[start..] {
                        list.append(item).ok()?;
                    }
                    self.stack.truncate(start);
                }
                SETITEM => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top()?.cast_exact::<PyDict>().ok()?;
                    dict.set_item(key, value).ok()?
                }
                SETITEMS => {
                    let start = self.pop_mark()?;
                    if (self.stack.len() - start) % 2 != 0 {
                        return None;
                    }
                    let dict = self.below(start)?.cast_exact::<PyDict>().ok()?;
                    for pair in self.stack[start..].chunks_exact(2) {
                        dict.set_item(&pair[0], &pair[1]).ok()?;
                    }
                    self.stack.truncate(start);
                }
                MEMOIZE => self.put(self.memo.len())?,
                BINPUT => {
                    let [i] = self.array::<1>()?;
                    self.put(usize::from(i))?
                }
                LONG_BINPUT => {
                    let i = u32::from_le_bytes(self.array::<4>()?);
                    self.put(usize::try_from(i).ok()?)?
                }
                BINGET => {
                    let [i] = self.array::<1>()?;
                    self.get(usize::from(i))?
                }
                LONG_BINGET => {
                    let i = u32::from_le_bytes(self.array::<4>()?);
                    self.get(usize::try_from(i).ok()?)?
                }
                _ => return None,
            }
        }
    }
}
