//! A [`Precision`] in a surface file: stored as its name (`"f32"`, `"f64"`, `"bf16"`), the bytes
//! the header's former string field had, so files written before the enum read unchanged.

use losscape_core::Precision;
use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(precision: &Precision, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(precision.name())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Precision, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(|_| serde::de::Error::custom(format!("unknown precision {name:?} in the surface header")))
}
