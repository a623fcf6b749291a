//! Deterministic pseudo-random bytes (xorshift64) that do not compress, like a real
//! firmware image: the demo's sample images and every test's large files come from here,
//! so the same seed gives the same bytes everywhere. Not for anything secret.

/// A stream of pseudo-random bytes.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Fills `buffer` with the next bytes of the stream.
    pub fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// `len` bytes of the stream of `seed`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0; len];
    Noise::new(seed).fill(&mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_seed_gives_the_same_bytes_and_they_do_not_repeat() {
        let a = super::noise(1 << 16, 7);
        assert_eq!(a, super::noise(1 << 16, 7));
        assert_ne!(a, super::noise(1 << 16, 8));
        assert_ne!(a[..4096], a[4096..8192]);
    }
}
