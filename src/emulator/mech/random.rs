//! GenerateRandom and SeedRandom.
//!
//! Output comes from `rand::rng()`, a CSPRNG seeded and periodically reseeded from the
//! operating system. SeedRandom accepts a mixin for compatibility with C_SeedRandom but
//! does not feed it to the generator: caller-chosen seed material can neither weaken nor
//! steer the output.

use crate::emulator::error::{Error, Result};

/// The most bytes one GenerateRandom returns (1 MiB).
pub const RANDOM_MAX: u64 = 1 << 20;

/// `len` random bytes; 0 gives an empty answer, above [`RANDOM_MAX`] CKR_ARGUMENTS_BAD.
pub fn generate(len: u64) -> Result<Vec<u8>> {
    if len > RANDOM_MAX {
        return Err(Error::ArgumentsBad("GenerateRandom is limited to 1 MiB per call"));
    }
    let mut out = vec![0u8; len as usize]; // at most 1 MiB, checked above
    rand::fill(&mut out[..]);
    Ok(out)
}

/// Accepts a non-empty mixin (see the module comment); an empty one is CKR_ARGUMENTS_BAD.
pub fn seed(mixin: &[u8]) -> Result<()> {
    if mixin.is_empty() {
        return Err(Error::ArgumentsBad("SeedRandom needs a non-empty Mixin"));
    }
    Ok(())
}
