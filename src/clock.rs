//! The one clock, and the one clock rule.
//!
//! The clock is Python's `time.time()`, read through the `time` module on every call, as the
//! Python layer reads it and as pyca/cryptography's Fernet reads its time: one clock on both
//! sides of the seam, so a test (or an app) that sets `time.time` sets it for the core too (the
//! expiry date of a Set-Cookie, the check of a cookie's times), and no test has to sleep.
//!
//! The rule: a time read from a cookie, from Redis or from the pub/sub channel is never trusted
//! beyond now plus `CLOCK_SKEW`. Hosts behind NTP agree to well under a second; a minute covers
//! a host whose clock drifted, while a time further ahead can only come from a forger (who holds
//! a key, or the old signed secret) or a typo, and would make a session outlive every timeout,
//! or a revocation reset every session made after it.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Seconds a time may lie ahead of this host's clock and still be taken as given.
pub const CLOCK_SKEW: f64 = 60.0;

static TIME_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// This host's clock, in seconds since the epoch: Python's `time.time()` (looked up on each
/// call, so that a patched one is obeyed).
pub fn now(py: Python<'_>) -> PyResult<f64> {
    let time = TIME_MODULE.get_or_try_init(py, || py.import("time").map(Bound::unbind))?;
    time.bind(py)
        .getattr(intern!(py, "time"))?
        .call0()?
        .extract::<f64>()
}

/// Whether `t` lies no further ahead of `now` than the skew allows.
pub fn not_future(t: f64, now: f64) -> bool {
    t <= now + CLOCK_SKEW
}
