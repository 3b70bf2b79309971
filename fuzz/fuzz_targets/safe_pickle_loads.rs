//! `safe_pickle::loads` on hostile bytes: plain data or a `ValueError`. What it accepts holds
//! only whitelisted opcodes, so only then is it safe to hand to the real `pickle.loads`, which
//! must read the same value; and the value must be writable as JSON (the
//! migrate rewrite).
//!
//! Whatever we accept, `pickle.loads` must accept too (this target once found a popped str that
//! was not UTF-8, and a discarded dict with a list key: now refused when read).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

fuzz_target!(
    init: { common::start_python(); },
    |data: &[u8]| {
        Python::attach(|py| match _core::safe_pickle::loads(py, data) {
            Ok(ours) => {
                common::assert_json_stable(&ours);
                let pickle = py.import("pickle").unwrap();
                let theirs = pickle
                    .call_method1("loads", (PyBytes::new(py, data),))
                    .expect("pickle.loads refuses what safe_pickle accepted");
                assert_eq!(common::repr(&ours), common::repr(&theirs));
            }
            Err(e) => assert!(e.is_instance_of::<PyValueError>(py), "{e}"),
        });
    }
);
