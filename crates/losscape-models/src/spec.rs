//! Model spec strings (`resnet56`, `resnet56-noshort`, `wrn56-4`, `wrn56-4-noshort`, `vgg9`):
//! the one name of an architecture used by the CLI, checkpoints and file names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// The valid spec forms, quoted in every parse error.
pub const VALID_FORMS: &str = "resnet{D} (D = 6n+2, e.g. resnet20, resnet56, resnet110), \
resnet{D}-noshort, wrn{D}-{k} (width multiplier k >= 1, e.g. wrn56-4), wrn{D}-{k}-noshort, vgg9";

/// Largest accepted ResNet depth (ResNet-1202 of He et al. is the deepest CIFAR ResNet in use).
pub const MAX_DEPTH: u32 = 1202;

/// Largest accepted width multiplier (the paper goes up to 8).
pub const MAX_WIDTH: u32 = 64;

/// The architecture family of a [`ModelSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// CIFAR-style ResNet of depth 6n+2 with width multiplier k, with or without shortcuts.
    ResNet,
    /// VGG-9 with batch normalization (conv 64,64,M,128,128,M,256,256,256,M; FC 256 + BN; FC).
    Vgg9,
}

/// A validated architecture spec.
///
/// Parse one from a string (`"wrn56-4-noshort".parse()`) or build one with [`ModelSpec::resnet`]
/// / [`ModelSpec::vgg9`]; [`Display`](fmt::Display) writes the canonical string, which parses
/// back to an equal spec (a width of 1 is written as `resnet{D}`, so `wrn56-1` becomes
/// `resnet56`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelSpec {
    family: Family,
    depth: u32,
    width: u32,
    shortcuts: bool,
}

impl ModelSpec {
    /// A CIFAR ResNet of `depth` = 6n+2 layers, width multiplier `width` (channels 16k, 32k, 64k)
    /// and projection shortcuts on or off.
    pub fn resnet(depth: u32, width: u32, shortcuts: bool) -> Result<Self> {
        if depth < 8 || (depth - 2) % 6 != 0 {
            return Err(Error::Spec(format!(
                "invalid resnet depth {depth}: depth must be 6n+2 with n >= 1 (8, 14, 20, 26, ..., 56, ..., 110); valid forms: {VALID_FORMS}"
            )));
        }
        if depth > MAX_DEPTH {
            return Err(Error::Spec(format!(
                "resnet depth {depth} is larger than the supported {MAX_DEPTH}"
            )));
        }
        if width == 0 || width > MAX_WIDTH {
            return Err(Error::Spec(format!(
                "invalid width multiplier {width}: it must be between 1 and {MAX_WIDTH}; valid forms: {VALID_FORMS}"
            )));
        }
        Ok(Self {
            family: Family::ResNet,
            depth,
            width,
            shortcuts,
        })
    }

    /// VGG-9 with batch normalization.
    pub fn vgg9() -> Self {
        Self {
            family: Family::Vgg9,
            depth: 9,
            width: 1,
            shortcuts: false,
        }
    }

    /// The architecture family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Number of weight layers (6n+2 for ResNets, 9 for VGG-9).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Width multiplier k (1 for plain ResNets and VGG-9).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Whether the network has shortcut connections (false for `-noshort` and VGG-9).
    pub fn shortcuts(&self) -> bool {
        self.shortcuts
    }

    /// Residual blocks per stage, n = (depth - 2) / 6 (ResNets only).
    pub fn blocks_per_stage(&self) -> Option<u32> {
        (self.family == Family::ResNet).then(|| (self.depth - 2) / 6)
    }

    /// The same ResNet with another width multiplier (an error for VGG-9).
    pub fn with_width(self, width: u32) -> Result<Self> {
        match self.family {
            Family::ResNet => Self::resnet(self.depth, width, self.shortcuts),
            Family::Vgg9 => Err(Error::Spec("vgg9 has no width multiplier".into())),
        }
    }

    /// The same ResNet without any shortcut connection (VGG-9 has none already).
    pub fn without_shortcuts(self) -> Self {
        Self {
            shortcuts: false,
            ..self
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::Vgg9 => f.write_str("vgg9"),
            Family::ResNet => {
                if self.width == 1 {
                    write!(f, "resnet{}", self.depth)?;
                } else {
                    write!(f, "wrn{}-{}", self.depth, self.width)?;
                }
                if !self.shortcuts {
                    f.write_str("-noshort")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for ModelSpec {
    type Err = Error;

    /// Parses a spec; case is ignored and `_` is accepted in place of `-` (as in the original
    /// code's `resnet56_noshort`).
    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim().to_ascii_lowercase().replace('_', "-");
        let unknown = || Error::Spec(format!("unknown model spec '{s}': valid forms are {VALID_FORMS}"));
        if text == "vgg9" {
            return Ok(Self::vgg9());
        }
        let (body, shortcuts) = match text.strip_suffix("-noshort") {
            Some(body) => (body, false),
            None => (text.as_str(), true),
        };
        let number = |digits: &str, what: &str| -> Result<u32> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unknown());
            }
            digits
                .parse::<u32>()
                .map_err(|_| Error::Spec(format!("{what} '{digits}' in model spec '{s}' is too large")))
        };
        if let Some(depth) = body.strip_prefix("resnet") {
            let depth = number(depth, "depth")?;
            return Self::resnet(depth, 1, shortcuts).map_err(|e| with_input(e, s));
        }
        if let Some(rest) = body.strip_prefix("wrn") {
            let (depth, width) = rest.split_once('-').ok_or_else(unknown)?;
            let depth = number(depth, "depth")?;
            let width = number(width, "width")?;
            return Self::resnet(depth, width, shortcuts).map_err(|e| with_input(e, s));
        }
        Err(unknown())
    }
}

/// Prefixes a spec error with the string that caused it.
fn with_input(error: Error, input: &str) -> Error {
    match error {
        Error::Spec(message) => Error::Spec(format!("model spec '{input}': {message}")),
        other => other,
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_strings_round_trip() {
        for text in [
            "resnet20",
            "resnet56-noshort",
            "resnet110",
            "wrn56-4",
            "wrn56-4-noshort",
            "vgg9",
            "resnet8",
            "wrn14-2",
        ] {
            let spec: ModelSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
            assert_eq!(spec.to_string().parse::<ModelSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn accepts_original_spelling_and_normalizes_width_one() {
        let spec: ModelSpec = "ResNet56_noshort".parse().unwrap();
        assert_eq!(spec, ModelSpec::resnet(56, 1, false).unwrap());
        assert_eq!("wrn56-1".parse::<ModelSpec>().unwrap().to_string(), "resnet56");
        let wrn = "wrn56-8-noshort".parse::<ModelSpec>().unwrap();
        assert_eq!(
            (wrn.depth(), wrn.width(), wrn.shortcuts(), wrn.blocks_per_stage()),
            (56, 8, false, Some(9))
        );
        assert_eq!(ModelSpec::vgg9().blocks_per_stage(), None);
    }

    #[test]
    fn invalid_specs_name_the_problem_and_list_valid_forms() {
        let err = "resnet21".parse::<ModelSpec>().unwrap_err().to_string();
        assert!(err.contains("depth must be 6n+2"), "{err}");
        assert!(err.contains("resnet21"), "{err}");
        let err = "densenet121".parse::<ModelSpec>().unwrap_err().to_string();
        assert!(
            err.contains("unknown model spec 'densenet121'") && err.contains("wrn{D}-{k}"),
            "{err}"
        );
        assert!("wrn56-0"
            .parse::<ModelSpec>()
            .unwrap_err()
            .to_string()
            .contains("width multiplier 0"));
        for bad in [
            "resnet",
            "wrn56",
            "wrn-4",
            "resnet2",
            "resnet-20",
            "vgg16",
            "resnet20-short",
            "",
            "resnet99999999999",
        ] {
            assert!(bad.parse::<ModelSpec>().is_err(), "{bad} must be refused");
        }
        assert!(ModelSpec::vgg9().with_width(2).is_err());
        assert_eq!(ModelSpec::vgg9().without_shortcuts(), ModelSpec::vgg9());
    }

    #[test]
    fn serializes_as_its_string() {
        let spec: ModelSpec = "wrn56-2-noshort".parse().unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, "\"wrn56-2-noshort\"");
        assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
        assert!(serde_json::from_str::<ModelSpec>("\"resnet21\"").is_err());
    }
}
