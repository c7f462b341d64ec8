//! A small documented generator (SplitMix64) for shuffling and augmentation, so results depend only
//! on the seed, never on libtorch's global generator or the device.

/// SplitMix64 (Steele, Lea and Flood, 2014): 64-bit state, full period, good statistical quality
/// for shuffling and augmentation offsets.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose whole future output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` (n > 0), by rejection so there is no modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let r = self.next_u64();
            if r < zone {
                return r % n;
            }
        }
    }

    /// Uniform float in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A random permutation of `0..n` (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<i64> {
        let mut p: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

/// Standard normal samples from `rng` by the Box-Muller transform: each pair of uniforms
/// `(u1, u2)` gives `sqrt(-2 ln(1-u1)) * (cos(2 pi u2), sin(2 pi u2))`.
pub fn gaussian(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1 = rng.next_f64();
        let u2 = rng.next_f64();
        let r = (-2.0 * (1.0 - u1).ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        out.push(r * c);
        out.push(r * s);
    }
    out.truncate(n);
    out
}

/// A CPU tensor of standard normal values drawn from `SplitMix64(seed)`: the same values on every
/// run, whatever other threads do with libtorch's global generator (tests build models and data
/// in parallel).
pub fn normal_tensor(seed: u64, shape: &[i64], kind: tch::Kind) -> tch::Tensor {
    let n = shape.iter().product::<i64>().max(0) as usize;
    let values = gaussian(&mut SplitMix64::new(seed), n);
    tch::Tensor::from_slice(&values).reshape(shape).to_kind(kind)
}

/// A CPU int64 tensor of `n` values uniform in `0..high` drawn from `SplitMix64(seed)`.
pub fn int_tensor(seed: u64, n: usize, high: i64) -> tch::Tensor {
    let mut rng = SplitMix64::new(seed);
    let values: Vec<i64> = (0..n).map(|_| rng.below(high.max(1) as u64) as i64).collect();
    tch::Tensor::from_slice(&values)
}

/// Mixes a base seed with a stream number (e.g. an epoch) into an independent seed.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut g = SplitMix64::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
    g.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_permutation_and_seeded() {
        let p = SplitMix64::new(7).permutation(1000);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..1000).collect::<Vec<i64>>());
        assert_eq!(p, SplitMix64::new(7).permutation(1000));
        assert_ne!(p, SplitMix64::new(8).permutation(1000));
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
    }
}
