//! Device and precision helpers: parse user-facing names into libtorch values.

use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind};

use crate::error::{Error, Result};

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when available, else the CPU).
pub fn parse_device(name: &str) -> Result<Device> {
    let lower = name.trim().to_ascii_lowercase();
    let device = match lower.as_str() {
        "cpu" => Device::Cpu,
        "auto" => Device::cuda_if_available(),
        "cuda" | "gpu" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => Device::Cuda(index),
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown device '{name}': use cpu, cuda, cuda:N or auto"
                )))
            }
        },
    };
    if let Device::Cuda(index) = device {
        let available = tch::Cuda::device_count();
        if index as i64 >= available {
            return Err(Error::Invalid(format!(
                "device '{name}' requested but libtorch sees {available} CUDA device(s)"
            )));
        }
    }
    Ok(device)
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
