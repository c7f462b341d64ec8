//! Device and precision helpers: parse user-facing names into libtorch values.

use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind};

use crate::error::{Error, Result};


/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when usable, else the CPU). A CUDA request
/// first loads the CUDA kernels of the libtorch in use ([`crate::cuda::select_device`], which
/// also gives the note to print when `auto` falls back to the CPU).
pub fn parse_device(name: &str) -> Result<Device> {
    crate::cuda::select_device(name).map(|choice| choice.device)
}

/// Floating-point precision of models and evaluations: f32 by default, f64 where exactness is
/// tested (curvature).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    /// The libtorch kind.
    pub fn kind(self) -> Kind {
        match self {
            Precision::F32 => Kind::Float,
            Precision::F64 => Kind::Double,
        }
    }

    /// The precision of a floating kind: `Kind::Double` is f64, anything else f32.
    pub fn from_kind(kind: Kind) -> Self {
        if kind == Kind::Double {
            Precision::F64
        } else {
            Precision::F32
        }
    }
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float" | "float32" => Ok(Precision::F32),
            "f64" | "double" | "float64" => Ok(Precision::F64),
            _ => Err(Error::Invalid(format!("unknown precision '{s}': use f32 or f64"))),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_precisions() {
        assert_eq!(parse_device("CPU").unwrap(), Device::Cpu);
        assert!(parse_device("tpu").unwrap_err().to_string().contains("unknown device"));
        assert!(parse_device("cuda:x").is_err());
        assert_eq!("f64".parse::<Precision>().unwrap().kind(), Kind::Double);
        assert_eq!(Precision::default().to_string(), "f32");
        assert!("f16".parse::<Precision>().is_err());
    }
}
