//! The Cookie header scanner on hostile headers. Input: cookie name, a NUL, then the header (no
//! NUL: the name is "session"). The header is taken both as raw latin-1 bytes and as text.
#![no_main]

use _core::cookie_header::{find_cookie, find_cookie_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (name, header) = match data.iter().position(|&b| b == 0) {
        Some(i) => (String::from_utf8_lossy(&data[..i]), &data[i + 1..]),
        None => ("session".into(), data),
    };
    if let Some(value) = find_cookie_bytes(header, &name) {
        // Unquoting only ever shrinks a value.
        assert!(value.len() <= header.len());
    }
    let text = String::from_utf8_lossy(header);
    if let Some(value) = find_cookie(&text, &name) {
        assert!(value.len() <= text.len());
    }
});
