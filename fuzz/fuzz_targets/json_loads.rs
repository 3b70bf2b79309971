//! `json::loads` on hostile bytes: a value or a `ValueError`. A value must also be what
//! Python's own `json.loads` reads from the same text (the module claims its semantics), and
//! must survive a dumps/loads round trip.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fuzz_target!(
    init: { common::start_python(); },
    |data: &[u8]| {
        Python::attach(|py| match _core::json::loads(py, data) {
            Ok(ours) => {
                common::assert_json_stable(&ours);
                let text = std::str::from_utf8(data).expect("loads accepted invalid UTF-8");
                let theirs = py
                    .import("json")
                    .unwrap()
                    .call_method1("loads", (text,))
                    .expect("we read JSON that Python's json.loads refuses");
                assert_eq!(common::repr(&ours), common::repr(&theirs));
            }
            Err(e) => assert!(e.is_instance_of::<PyValueError>(py), "{e}"),
        });
    }
);
