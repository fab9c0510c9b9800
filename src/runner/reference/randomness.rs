//! `local.rng-quality`: a large draw from the endpoint's random number generator checked
//! for what a degenerate generator shows (a repeated or stuck state, a biased output), with
//! bounds a correct generator fails with negligible probability. Not a certification of
//! randomness (no test can be), a tripwire for broken ones.

use std::collections::HashSet;

use super::{RefError, malformed, refuted};

/// The smallest draw the byte-frequency bound is meaningful for (the bound below needs
/// t < n/256, true from 64 KiB on).
pub const MIN_BYTES: usize = 64 * 1024;

/// The probability that a correct generator fails the frequency test, summed over all 256
/// byte values: 10^-12.
const FALSE_ALARM: f64 = 1e-12;

/// The largest allowed distance of any byte value's count from n/256. Each count X is
/// Binomial(n, 1/256) with mean mu = n/256; the Chernoff bound
/// P(|X - mu| >= t) <= 2 exp(-t^2 / (3 mu)) (valid for t <= mu) summed over the 256 values
/// gives a false-alarm probability of at most 512 exp(-t^2 / (3 mu)), which equals
/// FALSE_ALARM at t = sqrt(3 mu ln(512 / FALSE_ALARM)). For 1 MiB (mu = 4096) t is 645,
/// about 10 standard deviations (sd = 63.9); a generator that never emits 1/64 of the byte
/// values, or favours one by 16%, is far outside it.
pub fn frequency_bound(n: usize) -> f64 {
    let mu = n as f64 / 256.0;
    (3.0 * mu * (512.0 / FALSE_ALARM).ln()).sqrt()
}

/// Checks a draw of at least [`MIN_BYTES`], a whole number of 16-byte blocks:
/// - no 16-byte block is all zero (a correct generator: probability n/16 * 2^-128);
/// - no 16-byte block repeats (birthday bound (n/16)^2 / 2^129, 2^-97 for 1 MiB);
/// - every byte value's count is within [`frequency_bound`] of n/256 (10^-12).
pub fn check(data: &[u8]) -> Result<(), RefError> {
    if data.len() < MIN_BYTES || !data.len().is_multiple_of(16) {
        return malformed(format!(
            "the quality check needs at least {MIN_BYTES} bytes in whole 16-byte blocks, got {}",
            data.len()
        ));
    }
    let mut seen = HashSet::with_capacity(data.len() / 16);
    for (i, block) in data.chunks_exact(16).enumerate() {
        if block.iter().all(|&b| b == 0) {
            return refuted(format!("16-byte block {i} (offset {}) is all zero", i * 16));
        }
        if !seen.insert(block) {
            return refuted(format!("16-byte block {i} (offset {}) repeats an earlier block", i * 16));
        }
    }
    let mut counts = [0usize; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let mean = data.len() as f64 / 256.0;
    let bound = frequency_bound(data.len());
    let (worst, count) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| (*a.1 as f64 - mean).abs().total_cmp(&(*b.1 as f64 - mean).abs()))
        .map(|(v, c)| (v, *c))
        .unwrap_or((0, 0));
    if (count as f64 - mean).abs() > bound {
        return refuted(format!(
            "byte 0x{worst:02x} occurs {count} times in {} bytes; a uniform generator gives {mean:.0} ± {bound:.0}",
            data.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        rand::fill(&mut v[..]);
        v
    }

    #[test]
    fn a_good_draw_passes_and_the_bound_is_as_documented() {
        check(&random(1 << 20)).unwrap();
        let t = frequency_bound(1 << 20);
        assert!((640.0..650.0).contains(&t), "{t}");
    }

    #[test]
    fn degenerate_draws_fail() {
        let mut zero_block = random(1 << 16);
        zero_block[160..176].fill(0);
        assert!(check(&zero_block).unwrap_err().to_string().contains("all zero"));
        let pattern = random(4096).repeat(16);
        assert!(check(&pattern).unwrap_err().to_string().contains("repeats"));
        // No block repeats, but the top bit is never set.
        let seven_bit: Vec<u8> = random(1 << 20).iter().map(|b| b & 0x7f).collect();
        assert!(check(&seven_bit).unwrap_err().to_string().contains("a uniform generator gives"));
        assert!(check(&random(1000)).is_err());
    }
}
