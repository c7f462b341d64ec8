//! The choices that define a direction: normalization, what happens to biases and BN parameters,
//! and which tensors are perturbed at all (the paper's method; docs/formats.md, "Direction files",
//! states it exactly under "Random directions").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a random direction is rescaled against the model's weights, tensor by tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// Each filter (slice along dim 0; one output row of a linear layer) of the direction gets the
    /// norm of the matching filter of the weights: `d_i <- d_i / (||d_i|| + 1e-10) * ||theta_i||`.
    #[default]
    Filter,
    /// The whole tensor gets the norm of the weight tensor: `d <- d / (||d|| + 1e-10) * ||theta||`.
    Layer,
    /// Elementwise scaling by the weights: `d <- d * theta`.
    Weight,
    /// No rescaling (the raw Gaussian).
    None,
}

/// What a direction holds for tensors of dim <= 1 (biases, BN weight and bias, and in the
/// "states" scope the BN running statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignore {
    /// Zero there: those entries stay at the base model (the setting of the paper's plots).
    #[default]
    BiasBn,
    /// The original code's rule when nothing is ignored: `d = theta` there, so moving by `a`
    /// rescales those entries by `(1 + a)`.
    None,
}

/// Which tensors a direction moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The trainable parameters only; BN running statistics stay at the base model.
    #[default]
    Weights,
    /// Parameters and BN running mean/variance (needed to interpolate between two models). The
    /// BN step counter is never perturbed.
    States,
}

macro_rules! named_enum {
    ($ty:ident, $what:literal, $($variant:ident => $name:literal),+) => {
        impl $ty {
            /// The name used on the command line and in files.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(Error::Invalid(format!(
                        concat!("unknown ", $what, " '{}': use one of {}"),
                        s,
                        [$($name),+].join(", ")
                    ))),
                }
            }
        }
    };
}

named_enum!(Norm, "normalization", Filter => "filter", Layer => "layer", Weight => "weight", None => "none");
named_enum!(Ignore, "ignore rule", BiasBn => "biasbn", None => "none");
named_enum!(Scope, "scope", Weights => "weights", States => "states");

/// Everything that defines a seeded random direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RandomSpec {
    pub norm: Norm,
    pub ignore: Ignore,
    pub scope: Scope,
    pub seed: u64,
}

impl Default for RandomSpec {
    fn default() -> Self {
        Self { norm: Norm::Filter, ignore: Ignore::BiasBn, scope: Scope::Weights, seed: 1 }
    }
}

impl fmt::Display for RandomSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "random norm={} ignore={} scope={} seed={}", self.norm, self.ignore, self.scope, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_choices() {
        for n in [Norm::Filter, Norm::Layer, Norm::Weight, Norm::None] {
            assert_eq!(n.to_string().parse::<Norm>().unwrap(), n);
        }
        assert_eq!("BiasBN".parse::<Ignore>().unwrap(), Ignore::BiasBn);
        assert_eq!("states".parse::<Scope>().unwrap(), Scope::States);
        let err = "filters".parse::<Norm>().unwrap_err().to_string();
        assert!(err.contains("filter, layer, weight, none"), "{err}");
    }
}
