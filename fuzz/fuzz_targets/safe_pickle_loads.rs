//! `safe_pickle::loads` on hostile bytes: plain data or a `ValueError`. What it accepts holds
//! only whitelisted opcodes, so only then is it safe to hand to the real `pickle.loads`, which
//! must read the same value; and the value must be writable as JSON (the migrate rewrite).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

fuzz_target!(
    init: { Python::initialize(); },
    |data: &[u8]| {
        Python::attach(|py| match _core::safe_pickle::loads(py, data) {
            Ok(ours) => {
                common::assert_json_stable(&ours);
                let theirs = py
                    .import("pickle")
                    .unwrap()
                    .call_method1("loads", (PyBytes::new(py, data),))
                    .expect("we read a pickle that pickle.loads refuses");
                assert_eq!(common::repr(&ours), common::repr(&theirs));
            }
            Err(e) => assert!(e.is_instance_of::<PyValueError>(py), "{e}"),
        });
    }
);
