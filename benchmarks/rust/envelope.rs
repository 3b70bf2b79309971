//! `cargo bench --bench envelope`: the envelope alone, without Python, to see the floor.
use std::time::Instant;

use _core::envelope::{open, seal, Keys};
use _core::nonce;
use crypto_secretbox::cipher::{KeyIvInit, StreamCipher};

fn main() {
    let keys = Keys::new(&[[7u8; 32]]);
    let sizes: Vec<usize> = std::env::var("SIZES")
        .ok()
        .map(|v| v.split(",").filter_map(|s| s.parse().ok()).collect())
        .unwrap_or(vec![200, 2000]);
    for size in sizes {
        let plaintext = vec![b'x'; size];
        let n: usize = std::env::var("N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let start = Instant::now();
        let mut last = Vec::new();
        for _ in 0..n {
            last = seal(&keys, &plaintext).unwrap();
        }
        let seal_ns = start.elapsed().as_nanos() as f64 / n as f64;
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(open(&keys, &last).unwrap());
        }
        let open_ns = start.elapsed().as_nanos() as f64 / n as f64;
        let start = Instant::now();
        let mut nonce = [0u8; 24];
        for _ in 0..n {
            getrandom::fill(&mut nonce).unwrap();
        }
        let rand_ns = start.elapsed().as_nanos() as f64 / n as f64;
        let start = Instant::now();
        for _ in 0..n {
            nonce::fill(&mut nonce).unwrap();
        }
        let buffered_ns = start.elapsed().as_nanos() as f64 / n as f64;
        // The keystream alone (what src/salsa.rs replaces): the salsa20 crate's, then ours.
        let (key, iv) = ([7u8; 32].into(), [9u8; 8].into());
        let mut stream = vec![0u8; size];
        let start = Instant::now();
        for _ in 0..n {
            salsa20::Salsa20::new(&key, &iv).apply_keystream(&mut stream);
        }
        let crate_ns = start.elapsed().as_nanos() as f64 / n as f64;
        let start = Instant::now();
        for _ in 0..n {
            #[cfg(target_arch = "x86_64")]
            _core::salsa::Salsa20::new(&key, &iv).apply_keystream(&mut stream);
            #[cfg(not(target_arch = "x86_64"))]
            salsa20::Salsa20::new(&key, &iv).apply_keystream(&mut stream);
        }
        let ours_ns = start.elapsed().as_nanos() as f64 / n as f64;
        std::hint::black_box(&stream);
        println!(
            "{size:5} bytes: seal {seal_ns:6.0} ns, open {open_ns:6.0} ns, \
             getrandom(24) {rand_ns:4.0} ns, nonce::fill {buffered_ns:4.0} ns, \
             keystream: salsa20 crate {crate_ns:5.0} ns, src/salsa.rs {ours_ns:5.0} ns"
        );
    }
}
