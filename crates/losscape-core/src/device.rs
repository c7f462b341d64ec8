//! Device helpers: parse user-facing device names into libtorch values ([`Precision`] lives in
//! [`crate::precision`] and is re-exported here).

use tch::Device;

use crate::error::Result;
pub use crate::precision::Precision;


/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when usable, else the CPU). A CUDA request
/// first loads the CUDA kernels of the libtorch in use ([`crate::cuda::select_device`], which
/// also gives the note to print when `auto` falls back to the CPU).
pub fn parse_device(name: &str) -> Result<Device> {
    crate::cuda::select_device(name).map(|choice| choice.device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

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
