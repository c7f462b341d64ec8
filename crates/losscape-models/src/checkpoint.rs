//! Self-describing checkpoints as safetensors files: every tensor of a model's state by its
//! canonical name, plus JSON metadata ([`CheckpointMeta`]) from which [`load`] rebuilds the model
//! alone. Files are written atomically and read back bit-exactly; the layout is documented in
//! `docs/formats.md` ("Checkpoints") and readable from Python's `safetensors` package (no pickle).
//!
//! [`save_tensors`] / [`read_tensors`] are the generic layer (any named tensors plus string
//! metadata, in a stable order) that other file kinds such as directions reuse.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use losscape_core::{fsio, Precision};
use losscape_data::Normalization;

use crate::error::{Error, Result};
use crate::layers::Init;
use crate::model::Model;
use crate::spec::ModelSpec;
use crate::zoo::{build_with, BuildSpec};

/// Value of the `format` metadata key of a checkpoint.
pub const FORMAT: &str = "losscape-checkpoint";
/// The checkpoint format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
/// Metadata key of the format name.
pub const FORMAT_KEY: &str = "format";
/// Metadata key of the format version (a decimal integer).
pub const FORMAT_VERSION_KEY: &str = "format_version";
/// Metadata key holding the [`CheckpointMeta`] as JSON.
pub const META_KEY: &str = "losscape";
/// Metadata key, written by [`save_tensors`], holding the tensor names in their canonical order
/// as a JSON array (safetensors itself stores tensors sorted by dtype and name).
pub const ORDER_KEY: &str = "tensor_order";

/// What a checkpoint records besides its tensors: enough to rebuild the model (spec, input shape,
/// classes, precision), the data normalization it was trained with, and training facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Canonical model spec, e.g. `resnet20-noshort`.
    pub spec: String,
    /// Input channels the model was built for.
    pub in_channels: i64,
    /// Number of classes (logits).
    pub num_classes: i64,
    /// Input image size `[height, width]` the model was built for.
    pub image_size: [i64; 2],
    /// `"f32"` or `"f64"`.
    pub precision: String,
    /// Normalization applied to the images during training (evaluation must apply the same).
    #[serde(default)]
    pub normalization: Option<Normalization>,
    /// Data source, e.g. `fashion-mnist-mini`.
    #[serde(default)]
    pub data: Option<String>,
    /// Training epoch of these weights (0 = initialization).
    #[serde(default)]
    pub epoch: Option<u64>,
    /// Learning rate in effect when the checkpoint was written.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Metrics such as `train_loss`, `test_acc`; NaN and infinities are kept (written as the
    /// strings `"NaN"`, `"inf"`, `"-inf"`).
    #[serde(default, with = "finite_or_string")]
    pub metrics: BTreeMap<String, f64>,
    /// Free-form string facts (seed, command line, ...).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

impl CheckpointMeta {
    /// Metadata for a model built with [`build`](crate::build) from these arguments; the other
    /// fields start empty.
    pub fn new(
        spec: &ModelSpec,
        in_channels: i64,
        num_classes: i64,
        image_size: [i64; 2],
        precision: Precision,
    ) -> Self {
        Self::with_spec(spec.to_string(), in_channels, num_classes, image_size, precision)
    }

    /// [`new`](CheckpointMeta::new) for any spec string, such as `torchscript` for a
    /// [`TorchScriptModel`](crate::TorchScriptModel) (which no checkpoint can rebuild).
    pub fn with_spec(spec: String, in_channels: i64, num_classes: i64, image_size: [i64; 2], precision: Precision) -> Self {
        Self {
            spec,
            in_channels,
            num_classes,
            image_size,
            precision: precision.to_string(),
            normalization: None,
            data: None,
            epoch: None,
            lr: None,
            metrics: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// The parsed model spec.
    pub fn model_spec(&self) -> Result<ModelSpec> {
        self.spec.parse()
    }

    /// The parsed precision.
    pub fn precision(&self) -> Result<Precision> {
        self.precision.parse().map_err(|_| {
            Error::Invalid(format!(
                "unknown precision '{}' in checkpoint metadata: use f32 or f64",
                self.precision
            ))
        })
    }
}

/// Saves every tensor of `model` (parameters and buffers, canonical names and order) with `meta`
/// to `path`, atomically. `meta` must describe the model: same spec and precision.
pub fn save(model: &dyn Model, meta: &CheckpointMeta, path: &Path) -> Result<()> {
    let model_spec = model.spec();
    let same_spec = match (meta.spec.parse::<ModelSpec>(), model_spec.parse::<ModelSpec>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => meta.spec == model_spec,
    };
    if !same_spec {
        return Err(Error::Invalid(format!(
            "{}: checkpoint metadata says model '{}' but the model is '{model_spec}'",
            path.display(),
            meta.spec
        )));
    }
    if meta.precision()?.kind() != model.kind() {
        return Err(Error::Invalid(format!(
            "{}: checkpoint metadata says precision {} but the model is {:?}",
            path.display(),
            meta.precision,
            model.kind()
        )));
    }
    let json = serde_json::to_string(meta)
        .map_err(|e| Error::Invalid(format!("{}: cannot encode checkpoint metadata: {e}", path.display())))?;
    let mut metadata = BTreeMap::new();
    metadata.insert(FORMAT_KEY.to_string(), FORMAT.to_string());
    metadata.insert(FORMAT_VERSION_KEY.to_string(), FORMAT_VERSION.to_string());
    metadata.insert(META_KEY.to_string(), json);
    let tensors: Vec<(String, Tensor)> = model.named_tensors().into_iter().map(|t| (t.name, t.tensor)).collect();
    save_tensors(&tensors, &metadata, path)
}

/// Rebuilds the model a checkpoint describes, on `device` in the checkpoint's precision, and
/// loads its values.
pub fn load(path: &Path, device: Device) -> Result<(Box<dyn Model>, CheckpointMeta)> {
    let meta = read_meta(path)?;
    let precision = meta.precision()?;
    load_as(path, device, precision)
}

/// [`load`] into a model of another precision (values converted; f32 to f64 is exact). The
/// returned metadata still says the precision the checkpoint was saved in.
pub fn load_as(path: &Path, device: Device, precision: Precision) -> Result<(Box<dyn Model>, CheckpointMeta)> {
    let meta = read_meta(path)?;
    let spec = meta
        .model_spec()
        .map_err(|e| Error::format(path, format!("checkpoint metadata: {e}")))?;
    let build = BuildSpec {
        model: spec,
        in_channels: meta.in_channels,
        num_classes: meta.num_classes,
        image_size: meta.image_size,
        precision,
    };
    let model = build_with(&build, device, Init::Blank)?;
    load_into(model.as_ref(), path)?;
    Ok((model, meta))
}

/// Copies a checkpoint's values into `model` (under `no_grad`, keeping the model's device).
///
/// Every tensor of the model must be in the file with the same shape, and the file may hold no
/// other tensor; otherwise the error names the first mismatched tensor (in canonical order) with
/// both shapes, and the model is left unchanged. Floating-point values are converted to the
/// model's kind when the kinds differ; other kinds must match.
pub fn load_into(model: &dyn Model, path: &Path) -> Result<CheckpointMeta> {
    let (tensors, metadata) = read_tensor_file(path)?;
    let meta = parse_meta(&metadata, path)?;
    let mut by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let targets = model.named_tensors();
    let mut pairs = Vec::with_capacity(targets.len());
    for target in targets {
        let Some(source) = by_name.remove(target.name.as_str()) else {
            return Err(Error::mismatch(
                path,
                format!(
                    "tensor '{}' (shape {:?}) of model '{}' is missing from the checkpoint (saved from '{}')",
                    target.name,
                    target.tensor.size(),
                    model.spec(),
                    meta.spec
                ),
            ));
        };
        if source.size() != target.tensor.size() {
            return Err(Error::mismatch(
                path,
                format!(
                    "tensor '{}' has shape {:?} in the checkpoint (saved from '{}') but {:?} in model '{}'",
                    target.name,
                    source.size(),
                    meta.spec,
                    target.tensor.size(),
                    model.spec()
                ),
            ));
        }
        let (from, to) = (source.kind(), target.tensor.kind());
        if from != to && !(is_float(from) && is_float(to)) {
            return Err(Error::mismatch(
                path,
                format!(
                    "tensor '{}' is {from:?} in the checkpoint but {to:?} in the model",
                    target.name
                ),
            ));
        }
        pairs.push((source, target.tensor));
    }
    if let Some((name, extra)) = tensors.iter().find(|(n, _)| by_name.contains_key(n.as_str())) {
        return Err(Error::mismatch(
            path,
            format!(
                "the checkpoint (saved from '{}') has tensor '{name}' (shape {:?}) that model '{}' does not have",
                meta.spec,
                extra.size(),
                model.spec()
            ),
        ));
    }
    let _guard = tch::no_grad_guard();
    for (source, mut target) in pairs {
        let source = source.f_to_device(target.device())?;
        target.f_copy_(&source)?;
    }
    Ok(meta)
}

/// The name of the first floating-point tensor holding a NaN or an infinity, if any, with how
/// many of its values are not finite. Inputs such as checkpoints and direction files are checked
/// with it before use: a NaN weight makes every loss NaN, and accuracy then reads as chance.
pub fn first_non_finite<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>) -> Result<Option<(String, i64)>> {
    for (name, t) in tensors {
        if !is_float(t.f_kind()?) {
            continue;
        }
        let bad = t.f_isfinite()?.f_logical_not()?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        if bad > 0 {
            return Ok(Some((name.to_string(), bad)));
        }
    }
    Ok(None)
}

/// Reads only a checkpoint's metadata (the file header), not its tensors.
pub fn read_meta(path: &Path) -> Result<CheckpointMeta> {
    let metadata = read_header_metadata(path)?;
    parse_meta(&metadata, path)
}

/// Reads every tensor of a safetensors file onto the CPU, in canonical order: the order recorded
/// under [`ORDER_KEY`] when present (files written by [`save_tensors`]), else the order of the
/// data in the file.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    Ok(read_tensor_file(path)?.0)
}

/// Reads a safetensors file's string metadata (the header only), without the [`ORDER_KEY`] entry.
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    let mut metadata = read_header_metadata(path)?;
    metadata.remove(ORDER_KEY);
    Ok(metadata)
}

/// Named tensors in canonical order, with a file's string metadata.
pub type TensorsAndMetadata = (Vec<(String, Tensor)>, BTreeMap<String, String>);

/// Reads tensors and metadata of a safetensors file in one pass (see [`read_tensors`] and
/// [`read_metadata`]).
pub fn read_tensor_file(path: &Path) -> Result<TensorsAndMetadata> {
    let bytes = fsio::read(path)?;
    let bad = |e: safetensors::SafeTensorError| Error::format(path, format!("not a valid safetensors file: {e:?}"));
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(bad)?;
    let file = SafeTensors::deserialize(&bytes).map_err(bad)?;
    let mut metadata: BTreeMap<String, String> = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let names: Vec<String> = match metadata.remove(ORDER_KEY) {
        Some(json) => {
            let order: Vec<String> = serde_json::from_str(&json)
                .map_err(|e| Error::format(path, format!("metadata '{ORDER_KEY}' is not a list of names: {e}")))?;
            let mut listed: Vec<&str> = order.iter().map(String::as_str).collect();
            let mut stored: Vec<&str> = file.names().into_iter().map(String::as_str).collect();
            listed.sort_unstable();
            stored.sort_unstable();
            if listed != stored {
                return Err(Error::format(
                    path,
                    format!("metadata '{ORDER_KEY}' does not list exactly the stored tensors"),
                ));
            }
            order
        }
        None => {
            let mut infos: Vec<(String, usize)> = header
                .tensors()
                .into_iter()
                .map(|(name, info)| (name, info.data_offsets.0))
                .collect();
            infos.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            infos.into_iter().map(|(name, _)| name).collect()
        }
    };
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let view = file.tensor(&name).map_err(bad)?;
        let kind = kind_of(view.dtype()).ok_or_else(|| {
            Error::format(
                path,
                format!("tensor '{name}' has unsupported dtype {:?}", view.dtype()),
            )
        })?;
        let shape: Vec<i64> = view.shape().iter().map(|&s| s as i64).collect();
        let tensor = Tensor::f_from_data_size(view.data(), &shape, kind)?;
        tensors.push((name, tensor));
    }
    Ok((tensors, metadata))
}

/// Writes named tensors and string metadata to a safetensors file, atomically.
///
/// Tensors are copied to the CPU (contiguous, detached) and stored with their dtype; their order
/// is recorded under [`ORDER_KEY`] so [`read_tensors`] returns them in the same order. Names must
/// be unique and `metadata` must not use [`ORDER_KEY`].
pub fn save_tensors(tensors: &[(String, Tensor)], metadata: &BTreeMap<String, String>, path: &Path) -> Result<()> {
    if metadata.contains_key(ORDER_KEY) {
        return Err(Error::Invalid(format!(
            "metadata key '{ORDER_KEY}' is reserved (it records the tensor order)"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(Error::Invalid(format!(
                "{}: duplicate tensor name '{name}'",
                path.display()
            )));
        }
        let kind = tensor.f_kind()?;
        let dtype = dtype_of(kind).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: tensor '{name}' has unsupported kind {kind:?}",
                path.display()
            ))
        })?;
        let cpu = tensor.f_detach()?.f_to_device(Device::Cpu)?.f_contiguous()?;
        let numel = cpu.numel();
        let mut bytes = vec![0u8; numel * kind.elt_size_in_bytes()];
        cpu.f_copy_data_u8(&mut bytes, numel)?;
        let shape: Vec<usize> = cpu.size().iter().map(|&s| s as usize).collect();
        buffers.push((name.as_str(), dtype, shape, bytes));
    }
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (*name, view))
                .map_err(|e| Error::Invalid(format!("{}: tensor '{name}': {e:?}", path.display())))
        })
        .collect::<Result<Vec<_>>>()?;
    let order: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    let mut header: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    header.insert(
        ORDER_KEY.to_string(),
        serde_json::to_string(&order).expect("a list of strings encodes as JSON"),
    );
    let bytes = safetensors::serialize(views, &Some(header))
        .map_err(|e| Error::Invalid(format!("{}: cannot encode safetensors: {e:?}", path.display())))?;
    let bytes = with_stable_header(bytes)
        .map_err(|e| Error::Invalid(format!("{}: cannot encode safetensors: {e}", path.display())))?;
    fsio::write_atomic(path, &bytes)?;
    Ok(())
}

/// The same safetensors bytes with the JSON header in a fixed order: `__metadata__` first, its
/// keys sorted, then the tensors by data offset. The safetensors crate writes the metadata from a
/// hash map, whose order changes from process to process, so equal inputs gave unequal files.
fn with_stable_header(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let n = u64::from_le_bytes(bytes.get(..8).ok_or("no header")?.try_into().map_err(|_| "no header")?) as usize;
    let header = bytes.get(8..8 + n).ok_or("short header")?;
    let value: serde_json::Value = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let object = value.as_object().ok_or("header is not an object")?;
    let mut json = String::from("{");
    if let Some(meta) = object.get("__metadata__") {
        let sorted: BTreeMap<&String, &serde_json::Value> = meta.as_object().ok_or("bad metadata")?.iter().collect();
        json.push_str("\"__metadata__\":");
        json.push_str(&serde_json::to_string(&sorted).map_err(|e| e.to_string())?);
    }
    let offset = |v: &serde_json::Value| v.get("data_offsets").and_then(|o| o.get(0)).and_then(|o| o.as_u64()).unwrap_or(0);
    let mut tensors: Vec<(&String, &serde_json::Value)> = object.iter().filter(|(k, _)| *k != "__metadata__").collect();
    tensors.sort_by(|a, b| (offset(a.1), a.0).cmp(&(offset(b.1), b.0)));
    for (name, info) in tensors {
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&serde_json::to_string(name).map_err(|e| e.to_string())?);
        json.push(':');
        json.push_str(&serde_json::to_string(info).map_err(|e| e.to_string())?);
    }
    json.push('}');
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Whether values of this kind convert between each other as floating point.
pub(crate) fn is_float(kind: Kind) -> bool {
    matches!(kind, Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double)
}

/// The safetensors dtype of a libtorch kind (the kinds both sides know).
fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Bool => Dtype::BOOL,
        Kind::Uint8 => Dtype::U8,
        Kind::Int8 => Dtype::I8,
        Kind::Int16 => Dtype::I16,
        Kind::Int => Dtype::I32,
        Kind::Int64 => Dtype::I64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        _ => return None,
    })
}

/// The libtorch kind of a safetensors dtype.
fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::BOOL => Kind::Bool,
        Dtype::U8 => Kind::Uint8,
        Dtype::I8 => Kind::Int8,
        Dtype::I16 => Kind::Int16,
        Dtype::I32 => Kind::Int,
        Dtype::I64 => Kind::Int64,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        _ => return None,
    })
}

/// The `__metadata__` map of a safetensors header, reading only the header (the one parser,
/// [`crate::tensor_file::read_header`]).
fn read_header_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    Ok(crate::tensor_file::read_header(path)?.metadata)
}

/// The [`CheckpointMeta`] in a file's metadata, after checking the format name and version.
fn parse_meta(metadata: &BTreeMap<String, String>, path: &Path) -> Result<CheckpointMeta> {
    match metadata.get(FORMAT_KEY).map(String::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(Error::format(
                path,
                format!("is a '{other}' file, not a losscape checkpoint"),
            ))
        }
        None => {
            return Err(Error::format(
                path,
                format!("not a losscape checkpoint (no '{FORMAT_KEY}' metadata)"),
            ))
        }
    }
    let version = metadata.get(FORMAT_VERSION_KEY).and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(v) if (1..=FORMAT_VERSION).contains(&v) => {}
        Some(v) => {
            return Err(Error::format(
                path,
                format!(
                    "checkpoint format version {v} is not supported (this build reads versions 1 to {FORMAT_VERSION})"
                ),
            ))
        }
        None => {
            return Err(Error::format(
                path,
                format!("checkpoint without a valid '{FORMAT_VERSION_KEY}'"),
            ))
        }
    }
    let json = metadata
        .get(META_KEY)
        .ok_or_else(|| Error::format(path, format!("checkpoint without '{META_KEY}' metadata")))?;
    serde_json::from_str(json).map_err(|e| Error::format(path, format!("bad checkpoint metadata: {e}")))
}

/// Serde for `BTreeMap<String, f64>` that keeps non-finite values (JSON has no NaN).
mod finite_or_string {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(map: &BTreeMap<String, f64>, serializer: S) -> Result<S::Ok, S::Error> {
        let encoded: BTreeMap<&str, Value> = map
            .iter()
            .map(|(k, &v)| {
                let value = if v.is_finite() {
                    Value::Number(v)
                } else if v.is_nan() {
                    Value::Text("NaN".into())
                } else if v > 0.0 {
                    Value::Text("inf".into())
                } else {
                    Value::Text("-inf".into())
                };
                (k.as_str(), value)
            })
            .collect();
        encoded.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let encoded = BTreeMap::<String, Value>::deserialize(deserializer)?;
        encoded
            .into_iter()
            .map(|(k, v)| {
                let number = match v {
                    Value::Number(x) => x,
                    Value::Text(t) => match t.as_str() {
                        "NaN" | "nan" => f64::NAN,
                        "inf" | "Infinity" => f64::INFINITY,
                        "-inf" | "-Infinity" => f64::NEG_INFINITY,
                        other => {
                            return Err(serde::de::Error::custom(format!(
                                "metric '{k}' is not a number: '{other}'"
                            )))
                        }
                    },
                };
                Ok((k, number))
            })
            .collect()
    }
}
