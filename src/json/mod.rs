//! JSON with the meaning of `json.dumps`/`json.loads` defaults, done natively: `dumps` writes
//! straight from Python objects into bytes and `loads` builds Python objects straight from bytes,
//! with no tree in between (hand-written rather than serde_json, which would need one).
//!
//! The output differs from `json.dumps` only in form, never in what it reads back as: it is
//! compact (no spaces), and non-ASCII text is raw UTF-8 rather than `\uXXXX` escapes (smaller
//! cookies). Python's `json.loads` and webob's `JSONSerializer` read it to an equal object, and
//! `loads` reads everything `json.dumps` writes.
//!
//! The writer (`write`) and the parser (`read`) share only the limits below.

pub mod error_path;
mod read;
mod write;

pub use read::loads;
pub use write::{dumps, dumps_session_state, escaped_len};

use crate::envelope;

/// Most containers nested in one another that `dumps` writes and `loads` reads. Deeper data
/// raises `ValueError` rather than exhausting the stack, which also catches circular references
/// in `dumps`. A session has no use for anything near this deep. The recursive functions keep
/// their leaf work out of line (`#[inline(never)]`) so that their frames stay small: the full
/// depth each way, called from Python, runs in a 96 KiB thread stack (x86-64 release build).
pub const MAX_DEPTH: usize = 255;

/// Most bytes `dumps` writes: the largest plaintext inside a cookie that `envelope::open`
/// accepts. Anything longer could never be read back, so it is refused before it is paid for
/// (data shared many times over, such as `x = [x, x]` forty times, would otherwise run the
/// process out of memory).
pub const MAX_LEN: usize = envelope::MAX_INPUT_LEN / 4 * 3 - envelope::OVERHEAD;

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::prelude::*;
    use std::ffi::CString;

    #[test]
    fn what_dumps_writes_loads_reads_back_equal() {
        Python::initialize();
        Python::attach(|py| {
            let code =
                r#"[1.5, -0.0, 10**30, "é\u2603\ud800\"\\\n", {"a": [None, True, False]}, (1, 2)]"#;
            let obj = py.eval(&CString::new(code).unwrap(), None, None).unwrap();
            let text = dumps(&obj).unwrap();
            let back = loads(py, &text).unwrap();
            let list = py
                .eval(
                    c"lambda o: [list(x) if type(x) is tuple else x for x in o]",
                    None,
                    None,
                )
                .unwrap()
                .call1((obj,))
                .unwrap();
            assert!(back.eq(list).unwrap());
        })
    }

    #[test]
    fn floats_are_written_so_they_read_back_as_the_same_float() {
        Python::initialize();
        Python::attach(|py| {
            for v in [
                1.0,
                -0.0,
                1e16,
                1e-7,
                123456789.0,
                5e-324,
                f64::MAX,
                0.1 + 0.2,
            ] {
                let out = dumps(pyo3::types::PyFloat::new(py, v).as_any()).unwrap();
                let text = String::from_utf8(out.clone()).unwrap();
                assert!(
                    text.contains(['.', 'e']),
                    "{text} would read back as an int"
                );
                let back: f64 = loads(py, &out).unwrap().extract().unwrap();
                assert_eq!(back.to_bits(), v.to_bits(), "{text}");
            }
        })
    }

    #[test]
    fn the_longest_output_still_opens_as_a_cookie() {
        let sealed = envelope::Base64::encoded_len(envelope::OVERHEAD + MAX_LEN);
        assert!(sealed <= envelope::MAX_INPUT_LEN);
        let one_more = envelope::Base64::encoded_len(envelope::OVERHEAD + MAX_LEN + 1);
        assert!(one_more > envelope::MAX_INPUT_LEN);
    }
}
