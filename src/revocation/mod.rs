//! The revocation set each worker keeps in memory: revoked session ids, revoked creation times
//! (sessions without an id), per-user cutoffs and one cutoff for everyone, checked on the
//! request path without leaving the process. The table itself is in `table.rs`.
//!
//! A fingerprint is the 64-bit hash CPython already keeps for a str (the session id's text, or
//! the user's name as text): SipHash under the interpreter's per-process random key, computed
//! once per string and cached in it, so the request path neither copies nor hashes the id
//! again. Each process builds its table from the texts Redis holds, so fingerprints never leave
//! the process. Two different ids share a fingerprint with odds of 1 in 2^64 per pair (a
//! million revoked ids: one request in 10^13 would lose its session, never the reverse). A
//! creation time's fingerprint is its bits; the slot index mixes every fingerprint with two keys
//! of our own, drawn per process.
//!
//! An entry lives as long as a session it names could: `max_age` seconds (the app's
//! `absolute_timeout`) after its revocation time, after which `sweep` drops it.
//!
//! Members in Redis (and on the channel) are `<tag><name>`, the tags defined here once:
//! `s:<session id>`, `c:<creation time>` (a session without an id: every reissue keeps its
//! creation time), `u:<user>` and `b:`.

mod table;

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyString};

use crate::clock;
use crate::envelope::B64;
use crate::errors::{bad_option, no_randomness};
use table::{Key, Mixer, Table};

pub const ID_LEN: usize = 16;
/// The state key a session's id travels under inside the cookie (the session's reserved keys
/// live together in session.rs).
pub use crate::session::ID_KEY as ID_STATE_KEY;
/// Length of a session id as text: URL-safe base64 of 16 bytes, without padding.
pub const ID_TEXT_LEN: usize = 22;
/// The tags of the members in Redis: one session, one creation time, one user, everyone.
pub const SESSION_TAG: &str = "s:";
pub const CREATED_TAG: &str = "c:";
pub const USER_TAG: &str = "u:";
pub const BEFORE_TAG: &str = "b:";
/// The four, in that order, as `_core.REVOCATION_TAGS`.
pub const TAGS: (&str, &str, &str, &str) = (SESSION_TAG, CREATED_TAG, USER_TAG, BEFORE_TAG);
struct Inner {
    sessions: Table<u32>,
    created: Table<u32>,
    users: Table<f64>,
    before: f64,
}

/// The revoked sessions a worker knows of: ids, creation times, per-user cutoffs and a cutoff
/// for everyone.
///
/// Safe without the GIL (free-threaded CPython): the pyclass is frozen, `max_age` and the
/// index keys never change after construction, and every table sits behind one `Mutex`. No
/// method calls into Python (hashing a str, calling a user getter, building objects) while it
/// holds the lock, so the lock is held only for the table work and cannot deadlock against
/// the interpreter.
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
    sid.len() == ID_TEXT_LEN && B64.decode_slice(sid.as_bytes(), &mut raw) == Some(ID_LEN)
}

/// CPython's hash of a str (cached in it): what a table entry is keyed by.
fn fingerprint(text: &Bound<'_, PyString>) -> PyResult<Key> {
    Ok(text.hash()? as u64)
}

/// A creation time's fingerprint: its bits (the cookie carries the exact float, and Redis the
/// shortest text that reads back to it).
fn created_key(created: f64) -> Key {
    // -0.0 and 0.0 are one time.
    (created + 0.0).to_bits()
}

fn bad_id() -> PyErr {
    bad_option(
        "session",
        format!("expected a session id ({ID_TEXT_LEN} characters of URL-safe base64)"),
    )
}

/// A revocation time as whole seconds, rounded up so an entry never expires early; at least 1,
/// since 0 marks a free slot.
fn whole_seconds(t: f64) -> u32 {
    if t.is_nan() {
        return 1;
    }
    t.ceil().clamp(1.0, u32::MAX as f64) as u32
}

/// One entry read from Redis or the channel, parsed and fingerprinted, ready for the tables.
enum Entry {
    Session(Key, u32),
    Created(Key, u32),
    User(Key, f64),
    Before(f64),
}

impl Inner {
    fn insert(&mut self, hasher: &Mixer, entry: Entry) {
        match entry {
            Entry::Session(key, at) => {
                self.sessions.insert_max(hasher, key, at);
            }
            Entry::Created(key, at) => {
                self.created.insert_max(hasher, key, at);
            }
            Entry::User(key, cutoff) => {
                self.users.insert_max(hasher, key, cutoff);
            }
            Entry::Before(cutoff) => {
                if cutoff > self.before {
                    self.before = cutoff;
                }
            }
        }
    }
}

/// Entries dated ahead of now, as `apply_entries` hands them back: `(member, score)`.
type FutureEntries<'py> = Vec<(Bound<'py, PyBytes>, f64)>;

/// What `apply_entries` found besides the entries it applied.
enum Parsed {
    Entry(Entry),
    /// Not a member we write, or a score that is not a finite time.
    Junk,
    /// Older than any session it could name.
    Expired,
    /// Dated after now plus the clock skew: handed back to the caller.
    Future(f64),
}

impl RevocationSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic cannot happen while the lock is held (no allocation failure is caught), but a
        // poisoned lock still holds a consistent table: recover it rather than fail requests.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a session is revoked: its id ``sid`` was revoked (or, for a session without an
    /// id, ``sid`` ``None``, its creation time was), its ``user`` (``None`` for none; not a str:
    /// its ``str()``) has a cutoff after ``created``, or ``created`` is before the cutoff for
    /// everyone. (The request path calls ``check_state``; tests call ``_testing.is_revoked``.)
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
        let has_id = sid.is_some_and(|s| !s.is_none());
        let inner = self.lock();
        if created < inner.before || created.is_nan() {
            return Ok(true);
        }
        if let Some(key) = sid_key {
            if inner.sessions.get(&self.index_hasher, key).is_some() {
                return Ok(true);
            }
        }
        if !has_id
            && inner
                .created
                .get(&self.index_hasher, created_key(created))
                .is_some()
        {
            return Ok(true);
        }
        if let Some(key) = user_key {
            if let Some(cutoff) = inner.users.get(&self.index_hasher, key) {
                return Ok(created < cutoff);
            }
        }
        Ok(false)
    }

    /// A user's fingerprint: of its text (``str()`` of what is not a str, as the CLI and Redis
    /// hold users as text).
    fn user_key(user: &Bound<'_, PyAny>) -> PyResult<Key> {
        match user.cast::<PyString>() {
            Ok(s) => fingerprint(s),
            Err(_) => fingerprint(&user.str()?),
        }
    }

    /// One member (bytes, as Redis returns it) and its score, checked against `now`.
    fn parse(py: Python<'_>, member: &[u8], score: Option<f64>, now: f64, horizon: f64) -> Parsed {
        let Some(score) = score.filter(|s| s.is_finite()) else {
            return Parsed::Junk;
        };
        if !clock::not_future(score, now) {
            return Parsed::Future(score);
        }
        if score < horizon {
            return Parsed::Expired;
        }
        let Ok(member) = std::str::from_utf8(member) else {
            return Parsed::Junk;
        };
        let text_key = |name: &str| fingerprint(&PyString::new(py, name)).ok();
        let entry = if let Some(sid) = member.strip_prefix(SESSION_TAG) {
            is_id(sid)
                .then(|| text_key(sid))
                .flatten()
                .map(|k| Entry::Session(k, whole_seconds(score)))
        } else if let Some(user) = member.strip_prefix(USER_TAG) {
            text_key(user).map(|k| Entry::User(k, score))
        } else if let Some(created) = member.strip_prefix(CREATED_TAG) {
            created
                .parse::<f64>()
                .ok()
                .filter(|c| c.is_finite())
                .map(|c| Entry::Created(created_key(c), whole_seconds(score)))
        } else if member == BEFORE_TAG {
            Some(Entry::Before(score))
        } else {
            None
        };
        entry.map_or(Parsed::Junk, Parsed::Entry)
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
                created: Table::new(),
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

    /// Revokes the session without an id created at ``created`` (every copy of its cookie, as
    /// every reissue keeps that time), revoked at ``revoked_at``.
    fn revoke_created(&self, created: f64, revoked_at: f64) -> PyResult<bool> {
        if !created.is_finite() {
            return Err(bad_option("created", "expected a finite time".into()));
        }
        let value = whole_seconds(revoked_at);
        Ok(self
            .lock()
            .created
            .insert_max(&self.index_hasher, created_key(created), value))
    }

    /// Revokes every session of ``user`` created before ``cutoff``; the latest cutoff wins.
    fn revoke_user(&self, user: &Bound<'_, PyAny>, cutoff: f64) -> PyResult<bool> {
        if !(cutoff.is_finite() && cutoff > 0.0) {
            return Err(bad_option(
                "cutoff",
                "expected a positive finite time".into(),
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
            return Err(bad_option("cutoff", "expected a finite time".into()));
        }
        self.lock()
            .insert(&self.index_hasher, Entry::Before(cutoff));
        Ok(())
    }

    /// Applies entries as Redis returns them: ``entries`` is an iterable of ``(member,
    /// score)`` pairs, or the flat ``[member, score, member, score, ...]`` of a raw ``ZRANGE
    /// ... WITHSCORES`` reply; members are bytes, scores floats or their text. ``now``: the
    /// time they were received. Returns ``(junk, future)``: how many were not ours (each
    /// skipped), and the ``(member, score)`` pairs dated after ``now`` plus the clock skew, not
    /// applied: the caller decides what time they stand for. Entries older than ``max_age``
    /// are skipped silently.
    fn apply_entries<'py>(
        &self,
        entries: &Bound<'py, PyAny>,
        now: f64,
    ) -> PyResult<(usize, FutureEntries<'py>)> {
        let py = entries.py();
        let horizon = now - self.max_age as f64;
        let mut parsed = Vec::new();
        let mut junk = 0;
        let mut future = Vec::new();
        let mut items = entries.try_iter()?;
        while let Some(item) = items.next() {
            let item = item?;
            // Flat (member, score, member, score...: ZRANGE's raw reply) or pairs.
            let pair = if item.is_instance_of::<PyBytes>() {
                match items.next() {
                    Some(score) => Some((item, score?)),
                    None => None,
                }
            } else {
                item.extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>)>()
                    .ok()
            };
            let Some((member, score)) = pair else {
                junk += 1;
                continue;
            };
            let Ok(member) = member.cast_into::<PyBytes>() else {
                junk += 1;
                continue;
            };
            let score = match score.extract::<f64>() {
                Ok(score) => Some(score),
                Err(_) => score.cast::<PyBytes>().ok().and_then(|b| {
                    std::str::from_utf8(b.as_bytes())
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                }),
            };
            match Self::parse(py, member.as_bytes(), score, now, horizon) {
                Parsed::Entry(entry) => parsed.push(entry),
                Parsed::Junk => junk += 1,
                Parsed::Expired => {}
                Parsed::Future(when) => future.push((member, when)),
            }
        }
        // One lock for the whole page, taken once every Python object has been made.
        let mut inner = self.lock();
        for entry in parsed {
            inner.insert(&self.index_hasher, entry);
        }
        Ok((junk, future))
    }

    /// The cutoff for everyone (0.0 when none).
    #[getter]
    fn before(&self) -> f64 {
        self.lock().before
    }

    /// The request path's one call: takes the session id out of ``state`` (the dict a cookie
    /// opened to), finds the user (``user``: ``None``, a state key, or a callable given the
    /// state) and checks all of them against the set. Returns ``False`` for a revoked session,
    /// else its id (``None`` when it has none: it is then named by ``created``).
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
        // An id that is not a str is dropped (the session gets a new one): checked here as a
        // session without an id.
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
        let expired = |revoked_at: u32| (revoked_at as f64) < horizon;
        let dropped = inner.sessions.sweep(hasher, expired)
            + inner.created.sweep(hasher, expired)
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

    /// Number of revoked creation times (sessions without an id) held.
    #[getter]
    fn created_count(&self) -> usize {
        self.lock().created.len
    }

    /// Number of per-user cutoffs held.
    #[getter]
    fn user_count(&self) -> usize {
        self.lock().users.len
    }

    /// Bytes the tables hold (what grows with the entries; the object itself is ~200 more).
    #[getter]
    fn nbytes(&self) -> usize {
        let inner = self.lock();
        inner.sessions.nbytes() + inner.created.nbytes() + inner.users.nbytes()
    }

    fn __len__(&self) -> usize {
        let inner = self.lock();
        inner.sessions.len + inner.created.len + inner.users.len
    }

    fn __repr__(&self) -> String {
        let inner = self.lock();
        format!(
            "<RevocationSet sessions={} created={} users={} max_age={}>",
            inner.sessions.len, inner.created.len, inner.users.len, self.max_age
        )
    }
}

/// Whether ``revoked`` holds a revocation of the session with id ``sid`` (``None`` when it has
/// none), user ``user`` (``None`` for none) and creation time ``created``: what ``check_state``
/// decides, without a state dict. For tests (``_core._testing``).
#[pyfunction]
#[pyo3(signature = (revoked, sid, user, created))]
pub fn is_revoked(
    revoked: &RevocationSet,
    sid: Option<&Bound<'_, PyAny>>,
    user: Option<&Bound<'_, PyAny>>,
    created: f64,
) -> PyResult<bool> {
    revoked.is_revoked(sid, user, created)
}

/// A new session id: 16 bytes from the OS, as 22 characters of URL-safe base64.
#[pyfunction]
pub fn new_session_id() -> PyResult<String> {
    let mut raw = [0u8; ID_LEN];
    getrandom::fill(&mut raw).map_err(no_randomness)?;
    Ok(B64.encode(raw))
}

/// Whether ``text`` is a session id ``new_session_id`` could have made.
#[pyfunction]
pub fn is_session_id(text: &str) -> bool {
    is_id(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_we_make_are_ids_and_junk_is_not() {
        assert!(is_id(&B64.encode([7u8; ID_LEN])));
        assert!(!is_id("short"));
        assert!(!is_id("!!!!!!!!!!!!!!!!!!!!!!"));
    }
}
