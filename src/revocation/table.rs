//! The open-addressing table behind `RevocationSet`: 8-byte fingerprints to a time.
//!
//! Entry layout (linear probing, backward-shift deletion, no tombstones):
//!
//!   session or created-time slot: fingerprint (8) || revoked_at, whole seconds (4) = 12 bytes
//!   user slot:                    fingerprint (8) || cutoff, f64 seconds (8)        = 16 bytes
//!
//! Memory: the table grows by 3/2 when it passes 4/5 full, so it is always between 8/15 and 4/5
//! full once past its first size: a session entry costs at most 12 / (8/15) = 22.5 bytes, about
//! 16 on average. `hashbrown` was the alternative; its control byte per bucket and power-of-two
//! growth cost up to twice the entry size, and it offers no in-place sweep by value; this table
//! is small enough to write here and test on its own.
//!
//! Not synchronised: its one owner (`RevocationSet`) holds it behind a mutex.

use pyo3::prelude::*;

use crate::errors::no_randomness;

const MIN_CAPACITY: usize = 16;
/// Growth when the table passes `MAX_LOAD_NUM / MAX_LOAD_DEN` full: to 3/2 of its capacity.
const MAX_LOAD_NUM: usize = 4;
const MAX_LOAD_DEN: usize = 5;

pub type Key = u64;

/// A value kept per key; `EMPTY` marks a free slot, so no separate occupancy byte is needed.
pub trait Value: Copy + PartialOrd {
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
pub struct Mixer {
    k1: u64,
    k2: u64,
}

impl Mixer {
    pub fn new() -> PyResult<Self> {
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
pub struct Table<V: Value> {
    slots: Box<[Slot<V>]>,
    pub len: usize,
}

impl<V: Value> Table<V> {
    pub fn new() -> Self {
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

    pub fn get(&self, hasher: &Mixer, key: Key) -> Option<V> {
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
    pub fn insert_max(&mut self, hasher: &Mixer, key: Key, value: V) -> bool {
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
    pub fn sweep(&mut self, hasher: &Mixer, expired: impl Fn(V) -> bool) -> usize {
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

    pub fn nbytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }
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
}
