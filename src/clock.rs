//! The one clock rule: a time read from a cookie, from Redis or from the pub/sub channel is
//! never trusted beyond now plus `CLOCK_SKEW`. Hosts behind NTP agree to well under a second; a
//! minute covers a host whose clock drifted, while a time further ahead can only come from a
//! forger (who holds a key, or the old signed secret) or a typo, and would make a session
//! outlive every timeout, or a revocation reset every session made after it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds a time may lie ahead of this host's clock and still be taken as given.
pub const CLOCK_SKEW: f64 = 60.0;

/// This host's clock, in seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Whether `t` lies no further ahead of `now` than the skew allows.
pub fn not_future(t: f64, now: f64) -> bool {
    t <= now + CLOCK_SKEW
}
