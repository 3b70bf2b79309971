//! src/salsa.rs against the `salsa20` crate it stands in for: any key, nonce, starting block
//! (the 32-bit counter word's carry included) and split of the data into calls gives the same
//! keystream, byte for byte. Pure Rust, so no interpreter; x86_64 only, as the module is.
#![no_main]

use crypto_secretbox::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 32 bytes of key, 8 of nonce, 4 of starting block (near 2^32 when the top bit is set),
    // 2 of split point; the rest is the data.
    if data.len() < 46 {
        return;
    }
    let (head, text) = data.split_at(46);
    let key: [u8; 32] = head[..32].try_into().unwrap();
    let iv: [u8; 8] = head[32..40].try_into().unwrap();
    let word = u32::from_le_bytes(head[40..44].try_into().unwrap());
    let block = if word & 0x8000_0000 != 0 {
        u64::from(u32::MAX) - u64::from(word & 0xf)
    } else {
        u64::from(word & 0xffff)
    };
    let split = usize::from(u16::from_le_bytes([head[44], head[45]])) % (text.len() + 1);
    let mut theirs = salsa20::Salsa20::new(&key.into(), &iv.into());
    theirs.seek(block * 64);
    let mut expected = text.to_vec();
    theirs.apply_keystream(&mut expected);
    let mut ours = _core::salsa::Salsa20::at_block(&key.into(), &iv.into(), block);
    let mut got = text.to_vec();
    let (a, b) = got.split_at_mut(split);
    ours.apply_keystream(a);
    ours.apply_keystream(b);
    assert_eq!(got, expected);
});
