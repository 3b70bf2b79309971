//! The old signed secret is known (the reason people migrate): the fuzz input is the payload,
//! signed under that secret, so every cookie passes the HMAC and the payload readers behind it
//! (JSON, and pickle read as plain data) and the session check see hostile bytes. The first
//! byte picks the hashalg and the serializer. Every failure must be a `CookieError`; a session
//! that opens must have finite times, neither ahead of now plus the clock skew.
#![no_main]

#[path = "common.rs"]
mod common;

use _core::clock::{now, CLOCK_SKEW};
use _core::errors::CookieError;
use _core::signed::{seal, HashAlg, SignedCookieReader, SIGNED_HASHALGS};
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

const SECRET: &str = "the weak old secret";
const SALT: &str = "pyramid.session.";

fuzz_target!(
    init: { common::start_python(); },
    |data: &[u8]| {
        let Some((&pick, payload)) = data.split_first() else { return };
        let name = SIGNED_HASHALGS[pick as usize % SIGNED_HASHALGS.len()];
        let serializer = if pick & 0x80 != 0 { "pickle" } else { "json" };
        let alg = HashAlg::from_name(name).unwrap();
        let key = [SALT.as_bytes(), SECRET.as_bytes()].concat();
        let cookie = seal(alg, &key, payload);
        Python::attach(|py| {
            let options = PyDict::new(py);
            options.set_item("hashalg", name).unwrap();
            options.set_item("serializer", serializer).unwrap();
            let reader = py
                .get_type::<SignedCookieReader>()
                .call((SECRET,), Some(&options))
                .unwrap();
            match reader.call_method1("read_value", (PyString::new(py, &cookie),)) {
                Ok(read) => {
                    let (state, renewed, created): (Bound<'_, PyDict>, f64, f64) =
                        read.extract().unwrap();
                    assert!(renewed.is_finite() && created.is_finite());
                    let limit = now(py).unwrap() + CLOCK_SKEW;
                    assert!(renewed <= limit && created <= limit, "a session dated ahead");
                    assert!(state.len() <= payload.len());
                }
                Err(e) => assert!(e.is_instance_of::<CookieError>(py), "{e}"),
            }
        });
    }
);
