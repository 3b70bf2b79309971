//! The revocation set each worker keeps in memory: revoked session ids, per-user cutoffs and one
//! cutoff for everyone, checked on the request path without leaving the process.
//!
//! Entry layout (open addressing, linear probing, backward-shift deletion, no tombstones):
//!
//!   session table slot:  fingerprint (8) || revoked_at, whole seconds (4)   = 12 bytes
//!   user table slot:     fingerprint (8) || cutoff, f64 seconds (8)          = 16 bytes
//!
//! A fingerprint is the 64-bit hash CPython already keeps for a str (the session id's text, or
//! the user's name as text): SipHash under the interpreter's per-process random key, computed
//! once per string and cached in it, so the request path neither copies nor hashes the id
//! again. Each process builds its table from the texts Redis holds, so fingerprints never leave
//! the process. Two different ids share a fingerprint with odds of 1 in 2^64 per pair (a
//! million revoked ids: one request in 10^13 would lose its session, never the reverse). The
//! slot index mixes the fingerprint with two keys of our own, drawn per process.
//!
//! Memory: the table grows by 3/2 when it passes 4/5 full, so it is always between 8/15 and 4/5
//! full once past its first size: a session entry costs at most 12 / (8/15) = 22.5 bytes, about
//! 16 on average. `hashbrown` was the alternative; its control byte per bucket and power-of-two
//! growth cost up to twice the entry size, and it offers no in-place sweep by value; this table
//! is small enough to write here and test on its own.
//!
//! An entry lives as long as a session it names could: `max_age` seconds (the app's
//! `absolute_timeout`) after its revocation time, after which `sweep` drops it.

use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::errors::no_randomness;

pub const ID_LEN: usize = 16;
/// The state key a session's id travels under inside the cookie (session.py's SESSION_ID_KEY).
pub const ID_STATE_KEY: &str = "_sid_";
/// Length of a session id as text: URL-safe base64 of 16 bytes, without padding.
pub const ID_TEXT_LEN: usize = 22;
const MIN_CAPACITY: usize = 16;
/// Growth when the table passes `MAX_LOAD_NUM / MAX_LOAD_DEN` full: to 3/2 of its capacity.
const MAX_LOAD_NUM: usize = 4;
const MAX_LOAD_DEN: usize = 5;

type Key = u64;

/// A value kept per key; `EMPTY` marks a free slot, so no separate occupancy byte is needed.
trait Value: Copy + PartialOrd {
    const EMPTY: Self;
}

impl Value for u32 {
    const EMPTY: u32 = 0;
}

impl Value for f64 {
    const EMPTY: f64 = 0.0;
}

#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Slot<V: Value> {
    key: Key,
    value: V,
}

/// Per-process keys that spread fingerprints over the slots: the index is the high bits of
/// `(fingerprint ^ k1) * k2` scaled to the capacity, unknown to anyone outside the process.
struct Mixer {
    k1: u64,
    k2: u64,
}

impl Mixer {
    fn new() -> PyResult<Self> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(no_randomness)?;
        let (a, b) = raw.split_at(8);
        Ok(Mixer {
            k1: u64::from_le_bytes(a.try_into().expect("8 bytes")),
            k2: u64::from_le_bytes(b.try_into().expect("8 bytes")) | 1,
        })
    }
}

/// Open-addressing map from 8-byte fingerprints to a time. Times are > 0 (0 marks an empty slot).
struct Table<V: Value> {
    slots: Box<[Slot<V>]>,
    len: usize,
}

impl<V: Value> Table<V> {
    fn new() -> Self {
        Table {
            slots: Box::new([]),
            len: 0,
        }
    }

    fn home(&self, hasher: &Mixer, key: Key) -> usize {
        // Multiply-shift maps the hash onto any capacity, so growth need not double.
        let mixed = (key ^ hasher.k1).wrapping_mul(hasher.k2);
        ((mixed as u128 * self.slots.len() as u128) >> 64) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    fn get(&self, hasher: &Mixer, key: Key) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let mut i = self.home(hasher, key);
        loop {
            let slot = self.slots[i];
            let value = slot.value;
            if value == V::EMPTY {
                return None;
            }
            if { slot.key } == key {
                return Some(value);
            }
            i = self.next(i);
        }
    }

    /// Stores `value` for `key`, keeping the larger of it and the value already there.
    /// Returns whether the key is new.
    fn insert_max(&mut self, hasher: &Mixer, key: Key, value: V) -> bool {
        if (self.len + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow(hasher);
        }
        let mut i = self.home(hasher, key);
        loop {
            let slot = &mut self.slots[i];
            let current = slot.value;
            if current == V::EMPTY {
                *slot = Slot { key, value };
                self.len += 1;
                return true;
            }
            if { slot.key } == key {
                if value > current {
                    slot.value = value;
                }
                return false;
            }
            i = self.next(i);
        }
    }

    fn grow(&mut self, hasher: &Mixer) {
        let capacity = (self.slots.len() * 3 / 2).max(MIN_CAPACITY);
        let empty = Slot {
            key: 0,
            value: V::EMPTY,
        };
        let old = std::mem::replace(&mut self.slots, vec![empty; capacity].into_boxed_slice());
        self.len = 0;
        for slot in old.iter() {
            let value = slot.value;
            if value != V::EMPTY {
                self.insert_max(hasher, slot.key, value);
            }
        }
    }

    /// Drops every entry for which `expired(value)`, in place. Backward-shift deletion keeps
    /// probe runs unbroken without tombstones; an entry only ever moves into the hole just made,
    /// at or after the sweep's position, so every entry is looked at.
    fn sweep(&mut self, hasher: &Mixer, expired: impl Fn(V) -> bool) -> usize {
        let before = self.len;
        let mut i = 0;
        while i < self.slots.len() && self.len > 0 {
            let value = self.slots[i].value;
            if value != V::EMPTY && expired(value) {
                self.remove_at(hasher, i);
            } else {
                i += 1;
            }
        }
        before - self.len
    }

    fn remove_at(&mut self, hasher: &Mixer, mut hole: usize) {
        self.slots[hole].value = V::EMPTY;
        self.len -= 1;
        let mut j = self.next(hole);
        loop {
            let slot = self.slots[j];
            let value = slot.value;
            if value == V::EMPTY {
                return;
            }
            let home = self.home(hasher, slot.key);
            // Move the entry back when the hole lies on its probe path (home..=j, cyclically).
            let on_path = if hole <= j {
                home <= hole || home > j
            } else {
                home <= hole && home > j
            };
            if on_path {
                self.slots[hole] = slot;
                self.slots[j].value = V::EMPTY;
                hole = j;
            }
            j = self.next(j);
        }
    }

    fn nbytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }
}

struct Inner {
    sessions: Table<u32>,
    users: Table<f64>,
    before: f64,
}

/// The revoked sessions a worker knows of: ids, per-user cutoffs and a cutoff for everyone.
///
/// Frozen, with its state behind a mutex: methods never release the GIL while they hold it, so
/// the lock is never contended in practice and is there for soundness.
#[pyclass(frozen, module = "pyramid_nacl_session._core")]
pub struct RevocationSet {
    max_age: u32,
    index_hasher: Mixer,
    inner: Mutex<Inner>,
}

/// Whether `sid` is an id `new_session_id` could have made (checked when revoking only: on the
/// request path an id that is not one simply matches nothing).
fn is_id(sid: &str) -> bool {
    let mut raw = [0u8; ID_LEN];
    sid.len() == ID_TEXT_LEN
        && matches!(
            URL_SAFE_NO_PAD.decode_slice(sid.as_bytes(), &mut raw),
            Ok(ID_LEN)
        )
}

/// CPython's hash of a str (cached in it): what a table entry is keyed by.
fn fingerprint(text: &Bound<'_, PyString>) -> PyResult<Key> {
    Ok(text.hash()? as u64)
}

fn bad_id() -> PyErr {
    PyValueError::new_err(format!(
        "session id: expected {ID_TEXT_LEN} characters of URL-safe base64"
    ))
}

/// A revocation time as whole seconds, rounded up so an entry never expires early; at least 1,
/// since 0 marks a free slot.
fn whole_seconds(t: f64) -> u32 {
    if t.is_nan() {
        return 1;
    }
    t.ceil().clamp(1.0, u32::MAX as f64) as u32
}

impl RevocationSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic cannot happen while the lock is held (no allocation failure is caught), but a
        // poisoned lock still holds a consistent table: recover it rather than fail requests.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A user's fingerprint: of its text (``str()`` of what is not a str, as the CLI and Redis
    /// hold users as text).
    fn user_key(user: &Bound<'_, PyAny>) -> PyResult<Key> {
        match user.cast::<PyString>() {
            Ok(s) => fingerprint(s),
            Err(_) => fingerprint(&user.str()?),
        }
    }
}

#[pymethods]
impl RevocationSet {
    /// ``max_age``: seconds a session can live (the app's ``absolute_timeout``); an entry is
    /// kept that long after its revocation time.
    #[new]
    fn new(max_age: u32) -> PyResult<Self> {
        Ok(RevocationSet {
            max_age,
            index_hasher: Mixer::new()?,
            inner: Mutex::new(Inner {
                sessions: Table::new(),
                users: Table::new(),
                before: 0.0,
            }),
        })
    }

    #[getter]
    fn max_age(&self) -> u32 {
        self.max_age
    }

    /// Revokes the session with id ``sid``, revoked at ``revoked_at`` (seconds since the epoch).
    /// Returns whether it was not revoked already.
    fn revoke_session(&self, sid: &Bound<'_, PyString>, revoked_at: f64) -> PyResult<bool> {
        if !is_id(&sid.to_cow()?) {
            return Err(bad_id());
        }
        let key = fingerprint(sid)?;
        let value = whole_seconds(revoked_at);
        Ok(self
            .lock()
            .sessions
            .insert_max(&self.index_hasher, key, value))
    }

    /// Revokes every session of ``user`` created before ``cutoff``; the latest cutoff wins.
    fn revoke_user(&self, user: &Bound<'_, PyAny>, cutoff: f64) -> PyResult<bool> {
        if !(cutoff.is_finite() && cutoff > 0.0) {
            return Err(PyValueError::new_err(
                "cutoff: expected a positive finite time",
            ));
        }
        let key = Self::user_key(user)?;
        Ok(self
            .lock()
            .users
            .insert_max(&self.index_hasher, key, cutoff))
    }

    /// Revokes every session created before ``cutoff``; the latest cutoff wins.
    fn revoke_before(&self, cutoff: f64) -> PyResult<()> {
        if !cutoff.is_finite() {
            return Err(PyValueError::new_err("cutoff: expected a finite time"));
        }
        let mut inner = self.lock();
        if cutoff > inner.before {
            inner.before = cutoff;
        }
        Ok(())
    }

    /// The cutoff for everyone (0.0 when none).
    #[getter]
    fn before(&self) -> f64 {
        self.lock().before
    }

    /// Whether a session is revoked: its id ``sid`` (``None`` for a session without one) was
    /// revoked, its ``user`` (``None`` for none; not a str: its ``str()``) has a cutoff after
    /// ``created``, or ``created`` is before the cutoff for everyone.
    #[pyo3(signature = (sid, user, created))]
    fn is_revoked(
        &self,
        sid: Option<&Bound<'_, PyAny>>,
        user: Option<&Bound<'_, PyAny>>,
        created: f64,
    ) -> PyResult<bool> {
        let user_key = match user {
            Some(u) if !u.is_none() => Some(Self::user_key(u)?),
            _ => None,
        };
        let sid_key = match sid {
            Some(s) if !s.is_none() => match s.cast::<PyString>() {
                Ok(s) => Some(fingerprint(s)?),
                Err(_) => None, // not a str: never an id we made
            },
            _ => None,
        };
        let inner = self.lock();
        if created < inner.before || created.is_nan() {
            return Ok(true);
        }
        if let Some(key) = sid_key {
            if inner.sessions.get(&self.index_hasher, key).is_some() {
                return Ok(true);
            }
        }
        if let Some(key) = user_key {
            if let Some(cutoff) = inner.users.get(&self.index_hasher, key) {
                return Ok(created < cutoff);
            }
        }
        Ok(false)
    }

    /// The request path's one call: takes the session id out of ``state`` (the dict a cookie
    /// opened to), finds the user (``user``: ``None``, a state key, or a callable given the
    /// state) and checks all three against the set. Returns ``False`` for a revoked session,
    /// else its id (``None`` when it has none).
    #[pyo3(signature = (state, user, created))]
    fn check_state<'py>(
        &self,
        state: &Bound<'py, PyDict>,
        user: Option<&Bound<'py, PyAny>>,
        created: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = state.py();
        let key = intern!(py, ID_STATE_KEY);
        let sid = match state.get_item(key)? {
            Some(sid) => {
                state.del_item(key)?;
                sid.cast_into::<PyString>().ok()
            }
            None => None,
        };
        let user = match user {
            Some(u) if u.is_instance_of::<PyString>() => state.get_item(u)?,
            Some(u) if !u.is_none() => Some(u.call1((state,))?),
            _ => None,
        };
        let sid_any = sid.as_ref().map(|s| s.as_any());
        if self.is_revoked(sid_any, user.as_ref(), created)? {
            return Ok(PyBool::new(py, false).to_owned().into_any());
        }
        Ok(match sid {
            Some(s) => s.into_any(),
            None => py.None().into_bound(py),
        })
    }

    /// Drops the entries revoked more than ``max_age`` seconds before ``now``; returns how many.
    fn sweep(&self, now: f64) -> usize {
        let horizon = now - self.max_age as f64;
        let mut inner = self.lock();
        let hasher = &self.index_hasher;
        let dropped = inner
            .sessions
            .sweep(hasher, |revoked_at| (revoked_at as f64) < horizon)
            + inner.users.sweep(hasher, |cutoff| cutoff < horizon);
        if inner.before < horizon {
            inner.before = 0.0;
        }
        dropped
    }

    /// Number of revoked session ids held.
    #[getter]
    fn session_count(&self) -> usize {
        self.lock().sessions.len
    }

    /// Number of per-user cutoffs held.
    #[getter]
    fn user_count(&self) -> usize {
        self.lock().users.len
    }

    /// Bytes the two tables hold (what grows with the entries; the object itself is ~200 more).
    #[getter]
    fn nbytes(&self) -> usize {
        let inner = self.lock();
        inner.sessions.nbytes() + inner.users.nbytes()
    }

    fn __len__(&self) -> usize {
        let inner = self.lock();
        inner.sessions.len + inner.users.len
    }

    fn __repr__(&self) -> String {
        let inner = self.lock();
        format!(
            "<RevocationSet sessions={} users={} max_age={}>",
            inner.sessions.len, inner.users.len, self.max_age
        )
    }
}

/// A new session id: 16 bytes from the OS, as 22 characters of URL-safe base64.
#[pyfunction]
pub fn new_session_id() -> PyResult<String> {
    let mut raw = [0u8; ID_LEN];
    getrandom::fill(&mut raw).map_err(no_randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> Key {
        // Spread like a real hash (a multiplicative scramble); the tables' own mixing follows.
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn mixer() -> Mixer {
        Mixer {
            k1: 0x0123_4567_89ab_cdef,
            k2: 0xfedc_ba98_7654_3211,
        }
    }

    #[test]
    fn every_inserted_key_is_found_and_no_other() {
        let h = mixer();
        let mut t: Table<u32> = Table::new();
        for n in 0..10_000 {
            assert!(t.insert_max(&h, key(n), 5));
        }
        assert_eq!(t.len, 10_000);
        for n in 0..10_000 {
            assert_eq!(t.get(&h, key(n)), Some(5));
        }
        for n in 10_000..20_000 {
            assert_eq!(t.get(&h, key(n)), None);
        }
    }

    #[test]
    fn insert_keeps_the_larger_value() {
        let h = mixer();
        let mut t: Table<f64> = Table::new();
        t.insert_max(&h, key(1), 10.0);
        assert!(!t.insert_max(&h, key(1), 5.0));
        assert_eq!(t.get(&h, key(1)), Some(10.0));
        t.insert_max(&h, key(1), 20.0);
        assert_eq!(t.get(&h, key(1)), Some(20.0));
    }

    #[test]
    fn sweep_drops_exactly_the_expired_entries_and_keeps_the_rest_reachable() {
        let h = mixer();
        let mut t: Table<u32> = Table::new();
        for n in 0..50_000u64 {
            t.insert_max(&h, key(n), 1 + (n % 7) as u32);
        }
        let dropped = t.sweep(&h, |v| v <= 3);
        let expected = (0..50_000u64).filter(|n| n % 7 < 3).count();
        assert_eq!(dropped, expected);
        assert_eq!(t.len, 50_000 - expected);
        for n in 0..50_000u64 {
            let v = 1 + (n % 7) as u32;
            assert_eq!(t.get(&h, key(n)), if v <= 3 { None } else { Some(v) });
        }
    }

    #[test]
    fn a_million_session_entries_fit_in_23_bytes_each() {
        let h = mixer();
        let mut t: Table<u32> = Table::new();
        for n in 0..1_000_000u64 {
            t.insert_max(&h, key(n), 1);
        }
        assert_eq!(std::mem::size_of::<Slot<u32>>(), 12);
        assert_eq!(std::mem::size_of::<Slot<f64>>(), 16);
        assert!(t.nbytes() <= 23 * 1_000_000, "{} bytes", t.nbytes());
    }

    #[test]
    fn load_stays_between_8_15ths_and_4_5ths_after_the_first_growths() {
        let h = mixer();
        let mut t: Table<u32> = Table::new();
        for n in 0..200_000u64 {
            t.insert_max(&h, key(n), 1);
            if t.slots.len() > 100 {
                assert!(t.len * 5 <= t.slots.len() * 4);
                assert!(t.len * 15 + 15 >= t.slots.len() * 8);
            }
        }
    }

    #[test]
    fn ids_we_make_are_ids_and_junk_is_not() {
        assert!(is_id(&URL_SAFE_NO_PAD.encode([7u8; ID_LEN])));
        assert!(!is_id("short"));
        assert!(!is_id("!!!!!!!!!!!!!!!!!!!!!!"));
    }
}
