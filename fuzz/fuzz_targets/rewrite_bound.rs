//! Reading then rewriting stays within a fixed multiple of the input. The input is a plaintext
//! as `migrate_pickle` reads it (a pickle through `safe_pickle`, anything else through
//! `json::loads`); whatever is read is written back with `json::dumps`, as the session does on
//! its next write. The output must be at most `JSON_PER_BYTE` (6) bytes per input byte, plus
//! `JSON_ALLOWANCE` (64 KiB) for a pickle's shared references, and within the bound the
//! pickle reader computed before building anything. Six is the most a byte can cost without
//! sharing: `\u0001` for a control character in a str, `false,` for NEWFALSE; JSON text grows
//! at most 4.5 times (`1e15` is written `1000000000000000.0`). libFuzzer's `-timeout` and
//! `-rss_limit_mb` catch what a bound on output alone would miss.
#![no_main]

#[path = "common.rs"]
mod common;

use _core::{json, safe_pickle};
use libfuzzer_sys::fuzz_target;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fuzz_target!(
    init: { common::start_python(); },
    |data: &[u8]| {
        Python::attach(|py| {
            let pickle = safe_pickle::looks_like_pickle(data);
            let read = if pickle {
                safe_pickle::loads(py, data)
            } else {
                json::loads(py, data)
            };
            let value = match read {
                Ok(value) => value,
                Err(e) => {
                    assert!(e.is_instance_of::<PyValueError>(py), "{e}");
                    if pickle {
                        assert!(safe_pickle::json_len_bound(data).is_err());
                    }
                    return;
                }
            };
            let out = json::dumps(&value).expect("json::dumps refused what was read");
            let most = if pickle {
                let bound = safe_pickle::json_len_bound(data).expect("judged differently");
                assert!(out.len() <= bound, "{} bytes written, bound {bound}", out.len());
                safe_pickle::max_json_len(data.len())
            } else {
                safe_pickle::JSON_PER_BYTE * data.len()
            };
            assert!(
                out.len() <= most,
                "{} bytes in, {} bytes out, at most {most}",
                data.len(),
                out.len()
            );
        });
    }
);
