//! The floating-point precision of models and evaluations, without libtorch (surface files
//! record it), and whether this CPU computes bf16 natively.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Floating-point precision: f32 by default, f64 where exactness is tested (curvature), bf16 for
/// loss evaluation on the fast path only (bf16 weights and activations, logits and sums in f32 or
/// wider). Models are held in f32 or f64 ([`Precision::is_model_precision`]); a bf16 evaluation
/// casts the folded weights of an f32 model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    F64,
    /// bfloat16: 8 exponent bits like f32, 8 significant bits (about 2-3 decimal digits).
    Bf16,
}

impl Precision {
    /// Every precision, in the order of their names in messages.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::F64, Precision::Bf16];

    /// The name used in files and options: `f32`, `f64` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
            Precision::Bf16 => "bf16",
        }
    }

    /// Whether a model's weights may be held in this precision (f32 and f64; bf16 is an
    /// evaluation precision only).
    pub fn is_model_precision(self) -> bool {
        self != Precision::Bf16
    }

    /// The libtorch kind.
    #[cfg(feature = "torch")]
    pub fn kind(self) -> tch::Kind {
        match self {
            Precision::F32 => tch::Kind::Float,
            Precision::F64 => tch::Kind::Double,
            Precision::Bf16 => tch::Kind::BFloat16,
        }
    }

    /// The precision of a floating kind: `Kind::Double` is f64, `Kind::BFloat16` bf16, anything
    /// else f32.
    #[cfg(feature = "torch")]
    pub fn from_kind(kind: tch::Kind) -> Self {
        match kind {
            tch::Kind::Double => Precision::F64,
            tch::Kind::BFloat16 => Precision::Bf16,
            _ => Precision::F32,
        }
    }
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float" | "float32" => Ok(Precision::F32),
            "f64" | "double" | "float64" => Ok(Precision::F64),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            _ => Err(Error::Invalid(format!("unknown precision '{s}': use f32, f64 or bf16"))),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// CPU flags (as `/proc/cpuinfo` names them) that give native bf16 arithmetic to libtorch's
/// oneDNN kernels.
pub const NATIVE_BF16_FLAGS: [&str; 2] = ["avx512_bf16", "amx_bf16"];

/// Whether this CPU has native bf16 instructions ([`NATIVE_BF16_FLAGS`]); `None` when
/// `/proc/cpuinfo` cannot be read (not Linux). Without them libtorch emulates bf16 with f32
/// instructions plus conversions, which is usually slower than f32.
pub fn cpu_has_native_bf16() -> Option<bool> {
    std::fs::read_to_string("/proc/cpuinfo").ok().map(|text| flags_have_native_bf16(&text))
}

/// [`cpu_has_native_bf16`] on a `/proc/cpuinfo` text (its first `flags` line).
pub fn flags_have_native_bf16(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == "flags").map(|(_, v)| v))
        .is_some_and(|flags| flags.split_whitespace().any(|f| NATIVE_BF16_FLAGS.contains(&f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_ones_are_refused() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("BFloat16".parse::<Precision>().unwrap(), Precision::Bf16);
        let err = "f16".parse::<Precision>().unwrap_err().to_string();
        assert!(err.contains("use f32, f64 or bf16"), "{err}");
        assert!(!Precision::Bf16.is_model_precision() && Precision::F64.is_model_precision());
    }

    #[test]
    fn native_bf16_is_read_off_the_first_flags_line() {
        assert!(flags_have_native_bf16("processor : 0\nflags : fpu avx2 avx512_bf16\n"));
        assert!(flags_have_native_bf16("flags\t\t: sse amx_bf16 amx_tile\n"));
        // Neither a prefix of a flag nor a later processor's line counts.
        assert!(!flags_have_native_bf16("flags : avx512_bf16x avx2\nflags : avx512_bf16\n"));
        assert!(!flags_have_native_bf16("model name : x\n"));
    }

    #[cfg(feature = "torch")]
    #[test]
    fn kinds_round_trip() {
        for p in Precision::ALL {
            assert_eq!(Precision::from_kind(p.kind()), p);
        }
    }
}
