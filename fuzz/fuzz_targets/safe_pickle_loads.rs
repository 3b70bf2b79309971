//! `safe_pickle::loads` on hostile bytes: plain data or a `ValueError`. What it accepts holds
//! only whitelisted opcodes, so only then is it safe to hand to the real `pickle.loads`, which
//! must read the same value when it reads one; and the value must be writable as JSON (the
//! migrate rewrite).
//!
//! `pickle.loads` may refuse what we accept: we judge only the values reachable from the result,
//! so a popped or overwritten str that is not UTF-8, or dict with a list key, goes unnoticed
//! (found by this target; tests/test_properties.py holds the strict xfail regressions). Once
//! safe_pickle checks those eagerly, `if let Ok(theirs)` below can become an `expect`.
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
                let pickle = py.import("pickle").unwrap();
                if let Ok(theirs) = pickle.call_method1("loads", (PyBytes::new(py, data),)) {
                    assert_eq!(common::repr(&ours), common::repr(&theirs));
                }
            }
            Err(e) => assert!(e.is_instance_of::<PyValueError>(py), "{e}"),
        });
    }
);
