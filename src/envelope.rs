//! The cookie envelope: NaCl secretbox sealed and written as URL-safe base64.
//!
//! Byte layout, the same as pyramid_nacl_session 1.0 (PyNaCl's `SecretBox.encrypt`), so cookies
//! move freely between the two:
//!
//!   urlsafe_b64_nopad( nonce (24) || Poly1305 tag (16) || XSalsa20 ciphertext )
//!
//! Nothing here touches Python, so it is unit-tested and fuzzed on its own.

use crypto_secretbox::aead::AeadInPlace;
use crypto_secretbox::{KeyInit, Nonce, Tag};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::nonce;
#[cfg(target_arch = "x86_64")]
use crate::salsa::XSalsa20Poly1305;
#[cfg(not(target_arch = "x86_64"))]
use crypto_secretbox::XSalsa20Poly1305;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = nonce::NONCE_LEN;
pub const TAG_LEN: usize = 16;
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Longest input `open` works on. Browsers keep cookies up to 4096 bytes; this bound is far
/// above that (for other uses of the serializer) and caps the work a hostile value can cause.
pub const MAX_INPUT_LEN: usize = 1 << 20;

/// We write without padding (as 1.0 did) and read with or without it, as 1.0's
/// `urlsafe_b64decode(bstruct + padding)` does. Trailing bits must be zero, so one cookie has
/// one spelling: a changed character is always a changed ciphertext. Pyramid's signed cookies
/// (src/signed.rs) and session ids (src/revocation) are read the same way: WebOb writes them
/// without padding and pads to read.
///
/// The work is base64-simd's (SSE4.1/AVX2/NEON, chosen when the process starts): base64 was a
/// sixth of sealing and opening a 3.4 KB cookie with the scalar `base64` crate. Its no-padding
/// decoder refuses padding, so the padding rule is ours, here: up to the canonical number of
/// `=` (the `base64` crate's `Indifferent` mode, which the tests hold this to).
pub struct Base64;

pub(crate) const B64: Base64 = Base64;

impl Base64 {
    const ENGINE: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

    /// The length of `n` bytes once encoded.
    pub fn encoded_len(n: usize) -> usize {
        n.checked_mul(4)
            .expect("length overflows usize")
            .div_ceil(3)
    }

    pub fn encode(&self, raw: impl AsRef<[u8]>) -> String {
        Self::ENGINE.encode_to_string(raw)
    }

    pub fn encode_append(&self, raw: &[u8], out: &mut String) {
        Self::ENGINE.encode_append(raw, out);
    }

    /// Fills `out`, which must be `encoded_len(raw.len())` long.
    pub fn encode_slice(&self, raw: &[u8], out: &mut [u8]) {
        let written = Self::ENGINE
            .encode(raw, base64_simd::Out::from_slice(out))
            .len();
        debug_assert_eq!(written, out.len());
    }

    fn unpadded<'a>(&self, text: &'a [u8]) -> Option<&'a [u8]> {
        let pads = text
            .iter()
            .rev()
            .take(2)
            .take_while(|&&b| b == b'=')
            .count();
        let body = &text[..text.len() - pads];
        (pads <= (4 - body.len() % 4) % 4).then_some(body)
    }

    pub fn decode(&self, text: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        Self::ENGINE
            .decode_to_vec(self.unpadded(text.as_ref())?)
            .ok()
    }

    /// Decodes into `out`: the number of bytes, or `None` when `text` is not base64 or does
    /// not fit.
    pub fn decode_slice(&self, text: &[u8], out: &mut [u8]) -> Option<usize> {
        let body = self.unpadded(text)?;
        if Self::ENGINE.decoded_length(body).ok()? > out.len() {
            return None;
        }
        Self::ENGINE
            .decode(body, base64_simd::Out::from_slice(out))
            .ok()
            .map(|d| d.len())
    }
}

/// Calls `read` with a cookie value's bytes: `bytes` as they are, a `str`'s UTF-8 (a str that
/// has none, with a lone surrogate, cannot be base64: `not_base64()`); anything else is a
/// `TypeError`. Every reader of cookie values takes them through here.
pub fn with_cookie_bytes<R>(
    value: &Bound<'_, PyAny>,
    not_base64: impl FnOnce() -> PyErr,
    read: impl FnOnce(&[u8]) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return read(b.as_bytes());
    }
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "cookie value must be bytes or str, got {}",
            value.get_type().name()?
        )));
    };
    match text.to_cow() {
        Ok(text) => read(text.as_bytes()),
        Err(_) => Err(not_base64()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    TooLong,
    BadBase64,
    TooShort,
    Unauthenticated,
}

/// One or more secretbox keys: the first seals, any of them opens.
pub struct Keys(Vec<XSalsa20Poly1305>);

impl Keys {
    /// `keys` must be non-empty; each key is exactly `KEY_LEN` bytes.
    pub fn new(keys: &[[u8; KEY_LEN]]) -> Self {
        assert!(!keys.is_empty());
        Keys(
            keys.iter()
                .map(|k| XSalsa20Poly1305::new(k.into()))
                .collect(),
        )
    }

    /// How many keys there are (at least one).
    pub fn count(&self) -> usize {
        self.0.len()
    }
}

/// Length of the base64 text that `seal` writes for `plaintext_len` bytes.
pub fn sealed_len(plaintext_len: usize) -> usize {
    Base64::encoded_len(OVERHEAD + plaintext_len)
}

/// `nonce || tag || ciphertext` of `plaintext` under the first key, with a fresh random nonce.
fn seal_raw(keys: &Keys, plaintext: &[u8]) -> Result<Vec<u8>, getrandom::Error> {
    let mut nonce = [0; NONCE_LEN];
    // OS randomness, handed out once and never shared with a forked child (src/nonce.rs).
    nonce::fill(&mut nonce)?;
    let mut raw = Vec::with_capacity(OVERHEAD + plaintext.len());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&[0; TAG_LEN]);
    raw.extend_from_slice(plaintext);
    let (head, body) = raw.split_at_mut(OVERHEAD);
    let tag = keys.0[0]
        .encrypt_in_place_detached(Nonce::from_slice(&head[..NONCE_LEN]), b"", body)
        .expect("secretbox without associated data cannot fail");
    head[NONCE_LEN..].copy_from_slice(&tag);
    Ok(raw)
}

/// Seals `plaintext` and writes the base64 text into `out`, which must be exactly
/// `sealed_len(plaintext.len())` bytes.
pub fn seal_into(keys: &Keys, plaintext: &[u8], out: &mut [u8]) -> Result<(), getrandom::Error> {
    let raw = seal_raw(keys, plaintext)?;
    B64.encode_slice(&raw, out);
    Ok(())
}

/// Seals `plaintext` and appends the base64 text to `out` (a Set-Cookie header being built).
pub fn seal_append(
    keys: &Keys,
    plaintext: &[u8],
    out: &mut String,
) -> Result<(), getrandom::Error> {
    B64.encode_append(&seal_raw(keys, plaintext)?, out);
    Ok(())
}

/// Convenience form of `seal_into` for tests and the fuzzers.
pub fn seal(keys: &Keys, plaintext: &[u8]) -> Result<Vec<u8>, getrandom::Error> {
    let mut out = vec![0; sealed_len(plaintext.len())];
    seal_into(keys, plaintext, &mut out)?;
    Ok(out)
}

/// Opens a cookie value. Returns the plaintext and the index of the key that opened it.
pub fn open(keys: &Keys, cookie: &[u8]) -> Result<(Vec<u8>, usize), OpenError> {
    if cookie.len() > MAX_INPUT_LEN {
        return Err(OpenError::TooLong);
    }
    let mut raw = B64.decode(cookie).ok_or(OpenError::BadBase64)?;
    if raw.len() < OVERHEAD {
        return Err(OpenError::TooShort);
    }
    let nonce = *Nonce::from_slice(&raw[..NONCE_LEN]);
    let tag = *Tag::from_slice(&raw[NONCE_LEN..OVERHEAD]);
    for (index, key) in keys.0.iter().enumerate() {
        // secretbox checks the tag before it decrypts, so a failed key leaves `raw` untouched.
        if key
            .decrypt_in_place_detached(&nonce, b"", &mut raw[OVERHEAD..], &tag)
            .is_ok()
        {
            raw.drain(..OVERHEAD);
            return Ok((raw, index));
        }
    }
    Err(OpenError::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `base64` crate as the reference: URL-safe, no padding written, padding up to the
    /// canonical amount read (`Indifferent`), nonzero trailing bits refused.
    const REFERENCE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(false),
    );

    /// Every text up to five characters over an alphabet that holds the edge cases (padding,
    /// the standard alphabet's `+` and `/`, a space, letters whose low bits are or are not
    /// zero), then long random data, whole and with one character changed: our base64 reads
    /// and writes exactly what the reference does.
    #[test]
    fn base64_reads_and_writes_as_the_reference() {
        use base64::Engine;
        let alphabet: &[u8] = b"AQgw_-=/+ Bh8z";
        for len in 0..=5u32 {
            for mut i in 0..alphabet.len().pow(len) {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        let b = alphabet[i % alphabet.len()];
                        i /= alphabet.len();
                        b
                    })
                    .collect();
                assert_eq!(B64.decode(&text), REFERENCE.decode(&text).ok(), "{text:?}");
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let raw: Vec<u8> = (0..x % 3000).map(|i| (x >> (i % 57)) as u8).collect();
            let text = B64.encode(&raw);
            assert_eq!(text, REFERENCE.encode(&raw));
            let mut slice = vec![0; Base64::encoded_len(raw.len())];
            B64.encode_slice(&raw, &mut slice);
            assert_eq!(slice, text.as_bytes());
            assert_eq!(B64.decode(&text), Some(raw.clone()));
            let mut changed = text.into_bytes();
            if let Some(c) = changed.get_mut((x % 4099) as usize) {
                *c = alphabet[(x % 14) as usize];
            }
            assert_eq!(B64.decode(&changed), REFERENCE.decode(&changed).ok());
        }
    }

    fn keys(bytes: &[u8]) -> Keys {
        Keys::new(&[bytes.try_into().unwrap()])
    }

    /// The secretbox test vector from NaCl's tests/secretbox.c (also in libsodium and PyNaCl).
    #[test]
    fn nacl_secretbox_test_vector() {
        let key = hex::decode("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389")
            .unwrap();
        let nonce = hex::decode("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37").unwrap();
        let plaintext = hex::decode(concat!(
            "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a",
            "1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057",
            "e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040",
            "e082f937763848645e0705",
        ))
        .unwrap();
        let expected = hex::decode(concat!(
            "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4",
            "476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738",
            "b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de",
            "56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5",
        ))
        .unwrap();
        let k = keys(&key);
        let mut body = plaintext.clone();
        let tag = k.0[0]
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut body)
            .unwrap();
        let mut combined = tag.to_vec();
        combined.extend_from_slice(&body);
        assert_eq!(combined, expected);

        // And the same bytes as a cookie open to the plaintext.
        let mut raw = nonce.clone();
        raw.extend_from_slice(&expected);
        let cookie = B64.encode(&raw);
        assert_eq!(open(&k, cookie.as_bytes()).unwrap(), (plaintext, 0));
    }

    #[test]
    fn seal_then_open_round_trips_and_uses_fresh_nonces() {
        let k = keys(&[7; 32]);
        let a = seal(&k, b"hello").unwrap();
        let b = seal(&k, b"hello").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), sealed_len(5));
        assert!(!a.contains(&b'='));
        assert_eq!(open(&k, &a).unwrap(), (b"hello".to_vec(), 0));
    }

    #[test]
    fn padded_input_is_accepted() {
        let k = keys(&[7; 32]);
        let mut c = seal(&k, b"abc").unwrap();
        while c.len() % 4 != 0 {
            c.push(b'=');
        }
        assert_eq!(open(&k, &c).unwrap().0, b"abc");
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let k = keys(&[1; 32]);
        let c = seal(&k, b"").unwrap();
        assert_eq!(open(&k, &c).unwrap().0, b"");
    }

    #[test]
    fn errors_say_which_failure() {
        let k = keys(&[7; 32]);
        assert_eq!(open(&k, b"not*b64*data"), Err(OpenError::BadBase64));
        assert_eq!(open(&k, b""), Err(OpenError::TooShort));
        assert_eq!(open(&k, b"abcd"), Err(OpenError::TooShort));
        assert_eq!(
            open(&k, &vec![b'A'; MAX_INPUT_LEN + 4]),
            Err(OpenError::TooLong)
        );
        let c = seal(&k, b"payload").unwrap();
        assert_eq!(open(&keys(&[8; 32]), &c), Err(OpenError::Unauthenticated));
        let mut raw = B64.decode(&c).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert_eq!(
                open(&k, B64.encode(&raw).as_bytes()),
                Err(OpenError::Unauthenticated)
            );
            raw[i] ^= 1;
        }
    }

    #[test]
    fn any_listed_key_opens_and_reports_its_index() {
        let old = [1u8; 32];
        let new = [2u8; 32];
        let sealed_old = seal(&Keys::new(&[old]), b"x").unwrap();
        let rotated = Keys::new(&[new, old]);
        assert_eq!(open(&rotated, &sealed_old).unwrap(), (b"x".to_vec(), 1));
        let sealed_new = seal(&rotated, b"y").unwrap();
        assert_eq!(
            open(&Keys::new(&[new]), &sealed_new).unwrap(),
            (b"y".to_vec(), 0)
        );
    }
}
