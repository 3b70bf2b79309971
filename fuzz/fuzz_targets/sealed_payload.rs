//! A leaked key: the fuzz input is the plaintext, sealed under the known key, so every cookie
//! is a valid envelope and the plaintext decoders behind `EncryptedSerializer.loads` (JSON, and
//! JSON with `migrate_pickle`) see hostile bytes. Every failure must be `BadPayload`.
#![no_main]

#[path = "common.rs"]
mod common;

use _core::envelope::{open, seal, Keys};
use _core::errors::BadPayload;
use _core::serializer::EncryptedSerializer;
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

const KEY: [u8; 32] = [9; 32];

fuzz_target!(
    init: { common::start_python(); },
    |data: &[u8]| {
        let keys = Keys::new(&[KEY]);
        let cookie = seal(&keys, data).unwrap();
        assert_eq!(open(&keys, &cookie).unwrap(), (data.to_vec(), 0));
        Python::attach(|py| {
            let class = py.get_type::<EncryptedSerializer>();
            let key = PyBytes::new(py, &KEY);
            let migrate = PyDict::new(py);
            migrate.set_item("migrate_pickle", true).unwrap();
            let serializers = [
                class.call1((&key, "json")).unwrap(),
                class.call((&key, "json"), Some(&migrate)).unwrap(),
            ];
            let text = PyString::new(py, std::str::from_utf8(&cookie).unwrap());
            for serializer in serializers {
                match serializer.call_method1("loads", (&text,)) {
                    Ok(value) => common::assert_json_stable(&value),
                    Err(e) => assert!(e.is_instance_of::<BadPayload>(py), "{e}"),
                }
            }
        });
    }
);
