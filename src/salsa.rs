//! The Salsa20/20 keystream, several blocks at a time, for `crypto_secretbox::SecretBox`.
//!
//! `crypto_secretbox` composes XSalsa20 and Poly1305 over any stream cipher `C` it is given
//! (`SecretBox<C>`: the HSalsa20 subkey from `C::kdf`, the Poly1305 key from the first 32
//! bytes of `C`'s keystream, the tag compared in constant time); this module only supplies a
//! faster `C`. The `salsa20` crate (0.10 and 0.11 alike) computes one 64-byte block at a time
//! in scalar code, and its keystream was half of what sealing a 1.6 KB cookie cost; `chacha20`
//! has SIMD backends, `salsa20` has none, and no maintained crate offers one. So the one piece
//! written here is the block function over several blocks side by side: each of the 16 state
//! words is a SIMD register holding that word of four (SSE2, every x86_64 CPU) or eight (AVX2,
//! where the CPU has it) consecutive blocks, and every step of the rounds is the same step on
//! every lane. A single block is computed alone, in scalar code, as the crate does. Keystream
//! of 1628 bytes: 2.6-2.9 us for the crate, 1.0-1.1 us here (`cargo bench --bench envelope`,
//! benchmarks/SALSA.md).
//!
//! The rounds, the state layout and HSalsa20 are the `salsa20` crate's (the subkey comes from
//! `salsa20::hsalsa`); the tests hold the keystream byte for byte to that crate's at every
//! length and offset that crosses a block, a four- or an eight-block group and the 32-bit
//! counter word, and the sealed cookies to crypto_secretbox's own and to NaCl's test vector
//! (src/envelope.rs). Salsa20 is add, rotate and xor only, so the code takes the same time
//! whatever the key or data.
//!
//! x86_64 only (lib.rs): on other machines `crypto_secretbox`'s own `XSalsa20Poly1305` serves.
//! NEON would take the same shape, and is left until a machine of ours can run its tests.

use crypto_secretbox::cipher::consts::{U10, U16, U32, U64, U8};
use crypto_secretbox::cipher::generic_array::GenericArray;
use crypto_secretbox::cipher::{
    Block, BlockSizeUser, IvSizeUser, KeyIvInit, KeySizeUser, ParBlocks, ParBlocksSizeUser,
    StreamBackend, StreamCipher, StreamCipherCore, StreamCipherCoreWrapper, StreamCipherError,
    StreamClosure,
};
use crypto_secretbox::{Kdf, Key, SecretBox};
use zeroize::Zeroize;

use std::arch::x86_64::{
    __m128i, __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_or_si256, _mm256_set1_epi32,
    _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256, _mm256_xor_si256, _mm_add_epi32,
    _mm_loadu_si128, _mm_or_si128, _mm_set1_epi32, _mm_slli_epi32, _mm_srli_epi32,
    _mm_storeu_si128, _mm_xor_si128,
};

/// XSalsa20-Poly1305, NaCl's `crypto_secretbox`, with this module's keystream.
pub type XSalsa20Poly1305 = SecretBox<Salsa20>;

/// "expand 32-byte k", in the words Salsa20 puts at 0, 5, 10 and 15.
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
/// Double rounds: Salsa20/20.
const DOUBLE_ROUNDS: usize = 10;

/// Salsa20 with an 8-byte nonce, as `crypto_secretbox` drives it after the HSalsa20 step.
pub struct Salsa20(StreamCipherCoreWrapper<Core>);

impl KeySizeUser for Salsa20 {
    type KeySize = U32;
}

impl IvSizeUser for Salsa20 {
    type IvSize = U8;
}

impl KeyIvInit for Salsa20 {
    fn new(key: &Key, iv: &GenericArray<u8, U8>) -> Self {
        Salsa20(StreamCipherCoreWrapper::new(key, iv))
    }
}

impl StreamCipher for Salsa20 {
    fn try_apply_keystream_inout(
        &mut self,
        buf: crypto_secretbox::cipher::inout::InOutBuf<'_, '_, u8>,
    ) -> Result<(), StreamCipherError> {
        self.0.try_apply_keystream_inout(buf)
    }
}

#[cfg(any(test, feature = "testing"))]
impl Salsa20 {
    /// The keystream from block `block` on: for the tests and the fuzz target, which hold it
    /// to the `salsa20` crate's wherever the counter starts.
    pub fn at_block(key: &Key, iv: &GenericArray<u8, U8>, block: u64) -> Self {
        let mut core = Core::new(key, iv);
        core.advance(block);
        Salsa20(StreamCipherCoreWrapper::from_core(core))
    }
}

impl Kdf for Salsa20 {
    fn kdf(key: &Key, nonce: &GenericArray<u8, U16>) -> Key {
        salsa20::hsalsa::<U10>(key, nonce)
    }
}

/// The 16-word state: constants, key, nonce and the 64-bit block counter in words 8 and 9.
pub struct Core {
    state: [u32; 16],
}

impl KeySizeUser for Core {
    type KeySize = U32;
}

impl IvSizeUser for Core {
    type IvSize = U8;
}

impl BlockSizeUser for Core {
    type BlockSize = U64;
}

fn word(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("four bytes"))
}

impl KeyIvInit for Core {
    fn new(key: &Key, iv: &GenericArray<u8, U8>) -> Self {
        let mut state = [0; 16];
        state[0] = CONSTANTS[0];
        for i in 0..4 {
            state[1 + i] = word(&key[4 * i..4 * i + 4]);
            state[11 + i] = word(&key[16 + 4 * i..20 + 4 * i]);
        }
        state[5] = CONSTANTS[1];
        state[6] = word(&iv[..4]);
        state[7] = word(&iv[4..]);
        state[10] = CONSTANTS[2];
        state[15] = CONSTANTS[3];
        Core { state }
    }
}

impl Core {
    fn counter(&self) -> u64 {
        u64::from(self.state[8]) | (u64::from(self.state[9]) << 32)
    }

    fn advance(&mut self, blocks: u64) {
        let next = self.counter().wrapping_add(blocks);
        self.state[8] = next as u32;
        self.state[9] = (next >> 32) as u32;
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

impl StreamCipherCore for Core {
    fn remaining_blocks(&self) -> Option<usize> {
        (u64::MAX - self.counter()).try_into().ok()
    }

    fn process_with_backend(&mut self, f: impl StreamClosure<BlockSize = Self::BlockSize>) {
        f.call(&mut Backend(self));
    }
}

struct Backend<'a>(&'a mut Core);

impl BlockSizeUser for Backend<'_> {
    type BlockSize = U64;
}

impl ParBlocksSizeUser for Backend<'_> {
    type ParBlocksSize = U8;
}

/// Salsa20's double round, a column round then a row round, by the words each quarter-round
/// takes; `$quarter` is the caller's quarter-round on its own words (scalar or SIMD lanes).
macro_rules! double_round {
    ($quarter:ident) => {
        $quarter!(0, 4, 8, 12);
        $quarter!(5, 9, 13, 1);
        $quarter!(10, 14, 2, 6);
        $quarter!(15, 3, 7, 11);
        $quarter!(0, 1, 2, 3);
        $quarter!(5, 6, 7, 4);
        $quarter!(10, 11, 8, 9);
        $quarter!(15, 12, 13, 14);
    };
}

impl StreamBackend for Backend<'_> {
    fn gen_ks_block(&mut self, block: &mut Block<Self>) {
        let mut x = self.0.state;
        macro_rules! quarter {
            ($a:literal, $b:literal, $c:literal, $d:literal) => {
                x[$b] ^= x[$a].wrapping_add(x[$d]).rotate_left(7);
                x[$c] ^= x[$b].wrapping_add(x[$a]).rotate_left(9);
                x[$d] ^= x[$c].wrapping_add(x[$b]).rotate_left(13);
                x[$a] ^= x[$d].wrapping_add(x[$c]).rotate_left(18);
            };
        }
        for _ in 0..DOUBLE_ROUNDS {
            double_round!(quarter);
        }
        for (i, chunk) in block.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&x[i].wrapping_add(self.0.state[i]).to_le_bytes());
        }
        x.zeroize();
        self.0.advance(1);
    }

    fn gen_par_ks_blocks(&mut self, blocks: &mut ParBlocks<Self>) {
        self.blocks(blocks);
    }

    fn gen_tail_blocks(&mut self, blocks: &mut [Block<Self>]) {
        // (`cipher` calls this with none, too.)
        match blocks {
            [] => {}
            [block] => self.gen_ks_block(block),
            _ => self.blocks(blocks),
        }
    }
}

impl Backend<'_> {
    /// Two to eight blocks: side by side in AVX2's eight lanes or SSE2's four (spare lanes
    /// computed, not written); one block costs less alone (`gen_ks_block`).
    fn blocks(&mut self, blocks: &mut [Block<Self>]) {
        if blocks.len() > 4 && has_avx2() {
            // SAFETY: the CPU has AVX2.
            unsafe { eight_blocks(&self.0.state, blocks) };
            self.0.advance(blocks.len() as u64);
            return;
        }
        for group in blocks.chunks_mut(4) {
            if let [block] = group {
                self.gen_ks_block(block);
            } else {
                four_blocks(&self.0.state, group);
                self.0.advance(group.len() as u64);
            }
        }
    }
}

/// One state word of several consecutive blocks, one block per lane of a SIMD register: what
/// the rounds below need of it.
trait Lanes: Copy {
    const COUNT: usize;
    fn splat(word: u32) -> Self;
    /// Lane `i` holds `word(i)`.
    fn from_fn(word: impl Fn(usize) -> u32) -> Self;
    fn store(self, out: &mut [u32]);
    fn add(self, other: Self) -> Self;
    /// `self ^ sum.rotate_left(L)`, with `R` = 32 - `L` (x86 has no vector rotate before
    /// AVX-512).
    fn xor_rotated<const L: i32, const R: i32>(self, sum: Self) -> Self;
}

/// One `Lanes` per register width: the same operations, each by that width's intrinsic.
macro_rules! lanes {
    ($name:ident($reg:ty) x $count:literal: $set1:ident, $loadu:ident, $storeu:ident, $add:ident,
     $or:ident, $xor:ident, $shl:ident, $shr:ident) => {
        #[derive(Clone, Copy)]
        struct $name($reg);

        impl Lanes for $name {
            const COUNT: usize = $count;

            #[inline(always)]
            fn splat(word: u32) -> Self {
                $name(unsafe { $set1(word as i32) })
            }

            #[inline(always)]
            fn from_fn(word: impl Fn(usize) -> u32) -> Self {
                let words: [u32; $count] = std::array::from_fn(word);
                $name(unsafe { $loadu(words.as_ptr().cast()) })
            }

            #[inline(always)]
            fn store(self, out: &mut [u32]) {
                assert!(out.len() >= Self::COUNT);
                unsafe { $storeu(out.as_mut_ptr().cast(), self.0) };
            }

            #[inline(always)]
            fn add(self, other: Self) -> Self {
                $name(unsafe { $add(self.0, other.0) })
            }

            #[inline(always)]
            fn xor_rotated<const L: i32, const R: i32>(self, sum: Self) -> Self {
                $name(unsafe { $xor(self.0, $or($shl::<L>(sum.0), $shr::<R>(sum.0))) })
            }
        }
    };
}

// Four lanes in an SSE2 register. SAFETY (each intrinsic): SSE2 is in the x86_64 baseline, so
// no detection at run time; none touches memory but the load of a local array and the store,
// which writes a slice of at least the register's size (checked).
lanes!(Sse2(__m128i) x 4: _mm_set1_epi32, _mm_loadu_si128, _mm_storeu_si128, _mm_add_epi32,
    _mm_or_si128, _mm_xor_si128, _mm_slli_epi32, _mm_srli_epi32);

// Eight lanes in an AVX2 register. SAFETY (each intrinsic): these are only ever inlined into
// `eight_blocks`, which runs only on a CPU with AVX2 (`has_avx2`); the memory they touch is as
// for SSE2.
lanes!(Avx2(__m256i) x 8: _mm256_set1_epi32, _mm256_loadu_si256, _mm256_storeu_si256,
    _mm256_add_epi32, _mm256_or_si256, _mm256_xor_si256, _mm256_slli_epi32, _mm256_srli_epi32);

/// Whether this CPU has AVX2 (std asks CPUID once and keeps the answer).
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Up to eight keystream blocks from the counter in `state` on: AVX2's eight lanes at once.
#[target_feature(enable = "avx2")]
unsafe fn eight_blocks(state: &[u32; 16], out: &mut [Block<Backend<'_>>]) {
    lanes_of_blocks::<Avx2>(state, out);
}

/// Up to four keystream blocks from the counter in `state` on.
fn four_blocks(state: &[u32; 16], out: &mut [Block<Backend<'_>>]) {
    lanes_of_blocks::<Sse2>(state, out);
}

/// The keystream blocks at the counter in `state` and the ones after it, one per lane, into
/// `out` (the first `V::COUNT` of them at most).
#[inline(always)]
fn lanes_of_blocks<V: Lanes>(state: &[u32; 16], out: &mut [Block<Backend<'_>>]) {
    let mut start = state.map(V::splat);
    let counter = u64::from(state[8]) | (u64::from(state[9]) << 32);
    let at = |lane: usize| counter.wrapping_add(lane as u64);
    start[8] = V::from_fn(|lane| at(lane) as u32);
    start[9] = V::from_fn(|lane| (at(lane) >> 32) as u32);
    let mut x = start;
    // Literal indices, so that the sixteen words stay in registers (a loop over the index
    // tables above reads and writes each through memory: slower than one block at a time).
    macro_rules! quarter {
        ($a:literal, $b:literal, $c:literal, $d:literal) => {
            x[$b] = x[$b].xor_rotated::<7, 25>(x[$a].add(x[$d]));
            x[$c] = x[$c].xor_rotated::<9, 23>(x[$b].add(x[$a]));
            x[$d] = x[$d].xor_rotated::<13, 19>(x[$c].add(x[$b]));
            x[$a] = x[$a].xor_rotated::<18, 14>(x[$d].add(x[$c]));
        };
    }
    for _ in 0..DOUBLE_ROUNDS {
        double_round!(quarter);
    }
    // Word i of every lane, then lane by lane into the blocks.
    let mut words = [[0u32; 8]; 16];
    for (i, w) in words.iter_mut().enumerate() {
        x[i].add(start[i]).store(w);
    }
    for (lane, block) in out.iter_mut().take(V::COUNT).enumerate() {
        for (i, chunk) in block.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&words[i][lane].to_le_bytes());
        }
    }
    words.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_secretbox::aead::AeadInPlace;
    use crypto_secretbox::cipher::StreamCipherSeek;
    use crypto_secretbox::KeyInit;

    /// Every length up to 9 blocks plus some, from every offset within a block, against the
    /// `salsa20` crate's keystream: crosses the first 32 bytes (the Poly1305 key), single
    /// blocks, two and three trailing blocks and whole groups of four.
    #[test]
    fn keystream_matches_the_salsa20_crate() {
        let key = Key::from([0x5a; 32]);
        let iv = GenericArray::from([1, 2, 3, 4, 5, 6, 7, 8]);
        for skip in [0usize, 1, 31, 32, 63, 64, 65, 200] {
            for len in 0..(19 * 64 + 7) {
                let mut ours = vec![0u8; len];
                let mut theirs = vec![0u8; len];
                let mut a = Salsa20::new(&key, &iv);
                let mut b = salsa20::Salsa20::new(&key, &iv);
                let mut lead = vec![0u8; skip];
                a.apply_keystream(&mut lead.clone());
                b.apply_keystream(&mut lead);
                a.apply_keystream(&mut ours);
                b.apply_keystream(&mut theirs);
                assert_eq!(ours, theirs, "skip {skip}, len {len}");
            }
        }
    }

    /// The 32-bit counter word carries into the next: four blocks straddling 2^32.
    #[test]
    fn counter_carries_across_the_word() {
        let key = Key::from([7; 32]);
        let iv = GenericArray::from([9; 8]);
        let mut b = salsa20::Salsa20::new(&key, &iv);
        b.seek((u64::from(u32::MAX) - 1) * 64);
        let mut theirs = vec![0u8; 6 * 64];
        b.apply_keystream(&mut theirs);
        let mut ours = Salsa20::at_block(&key, &iv, u64::from(u32::MAX) - 1);
        let mut buf = vec![0u8; 6 * 64];
        ours.apply_keystream(&mut buf);
        assert_eq!(buf, theirs);
    }

    /// Sealed with this keystream and with the `salsa20` crate's, byte for byte.
    #[test]
    fn secretbox_matches_crypto_secretbox() {
        let key = Key::from([0x42; 32]);
        let nonce = GenericArray::from([0x24; 24]);
        let ours = XSalsa20Poly1305::new(&key);
        let theirs = crypto_secretbox::XSalsa20Poly1305::new(&key);
        for len in [0, 1, 31, 32, 33, 95, 96, 97, 200, 1628, 3400] {
            let mut a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut b = a.clone();
            let tag_a = ours.encrypt_in_place_detached(&nonce, b"", &mut a).unwrap();
            let tag_b = theirs
                .encrypt_in_place_detached(&nonce, b"", &mut b)
                .unwrap();
            assert_eq!((a.clone(), tag_a), (b, tag_b), "len {len}");
            ours.decrypt_in_place_detached(&nonce, b"", &mut a, &tag_a)
                .unwrap();
            assert_eq!(a, (0..len).map(|i| i as u8).collect::<Vec<u8>>());
        }
    }
}
