//! The in-memory [`Dataset`]: all inputs and labels of a split as two tensors on one device,
//! with per-channel normalization and seeded batching. Nothing is decoded per batch.
//!
//! Inputs are images `[N, C, H, W]` (every built-in network and data set), or, for users' own
//! (TorchScript) models, any other example shape: float features `[N, D]` (or `[N, D, ...]`,
//! normalized per feature along dim 1) and integer token ids `[N, T]` (int64, never converted to
//! floating point and never normalized). See [`Dataset::of_examples`] and [`InputKind`].

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// Per-channel normalization `x -> (x - mean[c]) / std[c]`, applied to images on the 0..1 scale.
/// Stored in checkpoints so evaluation applies what training used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Per-channel mean subtracted from the 0..1 images.
    pub mean: Vec<f64>,
    /// Per-channel standard deviation divided into them (positive).
    pub std: Vec<f64>,
}

impl Normalization {
    /// The identity for `channels` channels (mean 0, std 1).
    pub fn identity(channels: usize) -> Self {
        Self { mean: vec![0.0; channels], std: vec![1.0; channels] }
    }

    /// Per-channel mean and (population) standard deviation of a data set's images, as they are
    /// stored. Computed in f64 over chunks of images (merged with Chan's formula), so it needs no
    /// f64 copy of the whole set. Fails on an empty data set.
    pub fn fit(data: &Dataset) -> Result<Self> {
        const CHUNK: i64 = 4096;
        let n = data.len() as i64;
        if n == 0 {
            return Err(Error::Invalid(format!("{}: cannot fit a normalization to no images", data.name)));
        }
        if data.input_kind() == InputKind::Tokens {
            return Err(Error::Invalid(format!("{}: token ids have no per-channel statistics", data.name)));
        }
        let c = data.channels() as usize;
        let dims = data.stat_dims();
        // Values per channel in one example: the product of the dims after the channel dim.
        let per_example: i64 = data.images.size()[2..].iter().product();
        let (mut count, mut mean, mut m2) = (0.0f64, vec![0.0f64; c], vec![0.0f64; c]);
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let x = data.images.f_narrow(0, start, len)?.f_to_kind(Kind::Double)?;
            let chunk_mean = x.f_mean_dim(dims.as_slice(), true, Kind::Double)?;
            let chunk_m2 = x.f_sub(&chunk_mean)?.f_square()?.f_sum_dim_intlist(dims.as_slice(), false, Kind::Double)?;
            let chunk_mean = Vec::<f64>::try_from(&chunk_mean.f_flatten(0, -1)?)?;
            let chunk_m2 = Vec::<f64>::try_from(&chunk_m2)?;
            let chunk_count = (len * per_example) as f64;
            let total = count + chunk_count;
            for k in 0..c {
                let delta = chunk_mean[k] - mean[k];
                mean[k] += delta * chunk_count / total;
                m2[k] += chunk_m2[k] + delta * delta * count * chunk_count / total;
            }
            count = total;
            start += len;
        }
        Ok(Self { mean, std: m2.iter().map(|m| (m / count).sqrt()).collect() })
    }

    /// Number of channels it normalizes.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }
}

/// What a data set's inputs are (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Floating-point images `[N, C, H, W]`.
    Images,
    /// Floating-point features `[N, D]` (or `[N, D, ...]` of another rank than 4).
    Features,
    /// Integer token ids `[N, T]` (int64), fed to the model as they are.
    Tokens,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Images => "images",
            InputKind::Features => "features",
            InputKind::Tokens => "token ids",
        })
    }
}

/// One split of a data set, held in memory.
#[derive(Debug)]
pub struct Dataset {
    /// The inputs: `[N, C, H, W]` floating-point images (on the 0..1 scale unless
    /// `normalization` is set), or for own models `[N, D, ...]` floating-point features or
    /// `[N, T]` int64 token ids ([`Dataset::of_examples`]).
    pub images: Tensor,
    /// `[N]` int64 class indices in `0..num_classes`.
    pub labels: Tensor,
    /// Number of classes.
    pub num_classes: i64,
    /// The normalization already applied to `images`, if any.
    pub normalization: Option<Normalization>,
    /// A short human-readable name (e.g. `fashion-mnist-mini/train`).
    pub name: String,
}

impl Clone for Dataset {
    fn clone(&self) -> Self {
        Self {
            images: self.images.shallow_clone(),
            labels: self.labels.shallow_clone(),
            num_classes: self.num_classes,
            normalization: self.normalization.clone(),
            name: self.name.clone(),
        }
    }
}

impl Dataset {
    /// Checks shapes and label range and builds a data set.
    pub fn new(images: Tensor, labels: Tensor, num_classes: i64, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let (is, ls) = (images.size(), labels.size());
        if is.len() != 4 {
            return Err(Error::Invalid(format!("{name}: images must be [N, C, H, W], got {is:?}")));
        }
        if ls.len() != 1 || ls[0] != is[0] {
            return Err(Error::Invalid(format!(
                "{name}: {} images but labels of shape {ls:?}",
                is[0]
            )));
        }
        if num_classes < 1 {
            return Err(Error::Invalid(format!("{name}: num_classes must be at least 1")));
        }
        let labels = labels.f_to_kind(Kind::Int64)?;
        if ls[0] > 0 {
            let (lo, hi) = (labels.f_min()?.int64_value(&[]), labels.f_max()?.int64_value(&[]));
            if lo < 0 || hi >= num_classes {
                return Err(Error::Invalid(format!(
                    "{name}: label {} out of range 0..{num_classes}",
                    if lo < 0 { lo } else { hi }
                )));
            }
        }
        Ok(Self { images, labels, num_classes, normalization: None, name })
    }

    /// A data set of any example shape for users' own models: floating-point `inputs` of rank 2
    /// or more (rank 4 is read as images, any other as features `[N, D, ...]`, stored as f32
    /// unless already f64), or integer inputs `[N, T]` (token ids, stored as int64; negative ids
    /// are refused). Labels as for [`Dataset::new`]: int64 class indices in `0..num_classes`, or
    /// floating-point regression targets `[N]` / `[N, K]` with `num_classes` = K.
    pub fn of_examples(inputs: Tensor, labels: Tensor, num_classes: i64, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let (is, ls) = (inputs.size(), labels.size());
        if is.len() < 2 {
            return Err(Error::Invalid(format!("{name}: inputs must have an example dimension and at least one more, got {is:?}")));
        }
        let inputs = match inputs.kind() {
            Kind::Float | Kind::Double => inputs,
            Kind::Half | Kind::BFloat16 => inputs.f_to_kind(Kind::Float)?,
            Kind::Uint8 | Kind::Int8 | Kind::Int16 | Kind::Int | Kind::Int64 if is.len() == 2 => {
                let ids = inputs.f_to_kind(Kind::Int64)?;
                if ids.numel() > 0 && ids.f_min()?.int64_value(&[]) < 0 {
                    return Err(Error::Invalid(format!("{name}: token ids must not be negative")));
                }
                ids
            }
            k => {
                return Err(Error::Invalid(format!(
                    "{name}: inputs of {k:?} {is:?} are not supported: use floats (images, features) or integer token ids [N, T]"
                )))
            }
        };
        if labels.is_floating_point() {
            if !(1..=2).contains(&ls.len()) || ls[0] != is[0] {
                return Err(Error::Invalid(format!("{name}: {} examples but regression targets of shape {ls:?}", is[0])));
            }
            let outputs = ls.get(1).copied().unwrap_or(1);
            let labels = labels.f_to_kind(Kind::Float)?;
            return Ok(Self { images: inputs, labels, num_classes: outputs, normalization: None, name });
        }
        if is.len() == 4 && inputs.is_floating_point() {
            return Self::new(inputs, labels, num_classes, name);
        }
        // Checked like images, with a placeholder of the right length.
        let checked = Self::new(Tensor::f_zeros([is[0], 1, 1, 1], (Kind::Float, Device::Cpu))?, labels, num_classes, name)?;
        Ok(Self { images: inputs.f_to_device(checked.labels.device())?, ..checked })
    }

    /// Whether the inputs are images, features or token ids.
    pub fn input_kind(&self) -> InputKind {
        if !self.images.is_floating_point() {
            InputKind::Tokens
        } else if self.images.dim() == 4 {
            InputKind::Images
        } else {
            InputKind::Features
        }
    }

    /// The shape of one example (`[C, H, W]` for images, `[D]` for features, `[T]` for tokens).
    pub fn example_shape(&self) -> Vec<i64> {
        self.images.size()[1..].to_vec()
    }

    /// The dims statistics reduce over: every dim but the channel (feature) dim 1.
    fn stat_dims(&self) -> Vec<i64> {
        (0..self.images.dim() as i64).filter(|&d| d != 1).collect()
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    /// True when it holds no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of image channels (of features for `[N, D]` inputs, of tokens for token ids).
    pub fn channels(&self) -> i64 {
        self.images.size()[1]
    }

    /// `[C, H, W]` of one image. For other inputs (see [`input_kind`](Dataset::input_kind)) the
    /// missing dims read as 1; use [`example_shape`](Dataset::example_shape) there.
    pub fn image_shape(&self) -> [i64; 3] {
        let s = self.images.size();
        let at = |k: usize| s.get(k).copied().unwrap_or(1);
        [at(1), at(2), at(3)]
    }

    /// The device its tensors live on.
    pub fn device(&self) -> Device {
        self.images.device()
    }

    /// A copy on `device` (a no-op view if already there).
    pub fn to_device(&self, device: Device) -> Result<Self> {
        Ok(Self {
            images: self.images.f_to_device(device)?,
            labels: self.labels.f_to_device(device)?,
            ..self.clone()
        })
    }

    /// A copy with images (features) of floating kind `kind` (e.g. `Kind::Double` for exact
    /// tests). Token ids stay int64.
    pub fn to_kind(&self, kind: Kind) -> Result<Self> {
        if self.input_kind() == InputKind::Tokens {
            return Ok(self.clone());
        }
        Ok(Self { images: self.images.f_to_kind(kind)?, ..self.clone() })
    }

    /// A normalized copy. Fails if a normalization is already applied or channels differ.
    pub fn normalized(&self, norm: &Normalization) -> Result<Self> {
        if self.normalization.is_some() {
            return Err(Error::Invalid(format!("{}: already normalized", self.name)));
        }
        if self.input_kind() == InputKind::Tokens {
            return Err(Error::Invalid(format!("{}: token ids cannot be normalized (give no mean/std)", self.name)));
        }
        let c = self.channels();
        if norm.channels() as i64 != c || norm.std.iter().any(|s| *s <= 0.0) {
            return Err(Error::Invalid(format!(
                "{}: normalization has {} channel(s) (std must be positive), images have {c}",
                self.name,
                norm.channels()
            )));
        }
        let kind = self.images.kind();
        // [1, C, 1, 1] for images, [1, D] for features: broadcast along dim 1.
        let mut shape = vec![1i64; self.images.dim()];
        shape[1] = c;
        let mean = Tensor::from_slice(&norm.mean).to_kind(kind).to_device(self.device()).view(shape.as_slice());
        let std = Tensor::from_slice(&norm.std).to_kind(kind).to_device(self.device()).view(shape.as_slice());
        let images = self.images.f_sub(&mean)?.f_div(&std)?;
        Ok(Self { images, normalization: Some(norm.clone()), ..self.clone() })
    }

    /// Number of examples of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let labels = Vec::<i64>::try_from(&self.labels.to_device(Device::Cpu)).unwrap_or_default();
        let mut counts = vec![0usize; self.num_classes as usize];
        for l in labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The first `k` examples of each class (fewer where a class has fewer), in the original
    /// order: a deterministic subset for quick runs. Regression targets (floating-point labels)
    /// have no classes: there it is the first `k * num_classes` examples (`num_classes` = the
    /// number of outputs), so a request for about `N` examples keeps its size.
    pub fn first_per_class(&self, k: usize) -> Result<Self> {
        if self.labels.is_floating_point() {
            let n = (k * self.num_classes.max(1) as usize).min(self.len()) as i64;
            let keep: Vec<i64> = (0..n).collect();
            return self.select(&keep, format!("{} (first {n})", self.name));
        }
        let labels = Vec::<i64>::try_from(&self.labels.to_device(Device::Cpu))?;
        let mut seen = vec![0usize; self.num_classes as usize];
        let mut keep = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let slot = &mut seen[*l as usize];
            if *slot < k {
                *slot += 1;
                keep.push(i as i64);
            }
        }
        self.select(&keep, format!("{} (first {k} per class)", self.name))
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[i64], name: impl Into<String>) -> Result<Self> {
        let idx = Tensor::from_slice(indices).to_device(self.device());
        Ok(Self {
            images: self.images.f_index_select(0, &idx)?,
            labels: self.labels.f_index_select(0, &idx)?,
            name: name.into(),
            ..self.clone()
        })
    }

    /// Batches of `(images, labels)` views in order, or in a seeded random order.
    /// The last batch may be smaller.
    pub fn batches(&self, batch_size: usize, shuffle_seed: Option<u64>) -> Result<Batches> {
        if batch_size == 0 {
            return Err(Error::Invalid("batch size must be at least 1".into()));
        }
        let order = shuffle_seed.map(|seed| {
            Tensor::from_slice(&SplitMix64::new(seed).permutation(self.len())).to_device(self.device())
        });
        Ok(Batches { data: self.clone(), order, batch_size, next: 0 })
    }
}

/// Iterator over the batches of a [`Dataset`]; see [`Dataset::batches`].
pub struct Batches {
    data: Dataset,
    order: Option<Tensor>,
    batch_size: usize,
    next: usize,
}

impl Batches {
    /// Number of batches in total.
    pub fn num_batches(&self) -> usize {
        self.data.len().div_ceil(self.batch_size)
    }
}

impl Iterator for Batches {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.data.len();
        if self.next >= n {
            return None;
        }
        let start = self.next as i64;
        let len = self.batch_size.min(n - self.next) as i64;
        self.next += len as usize;
        Some(match &self.order {
            None => (self.data.images.narrow(0, start, len), self.data.labels.narrow(0, start, len)),
            Some(order) => {
                let idx = order.narrow(0, start, len);
                (self.data.images.index_select(0, &idx), self.data.labels.index_select(0, &idx))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Dataset {
        let images = Tensor::arange(2 * 6 * 4, (Kind::Float, Device::Cpu)).view([6, 2, 2, 2]) / 48.0;
        let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
        Dataset::new(images, labels, 3, "toy").unwrap()
    }

    #[test]
    fn normalization_fits_and_applies() {
        let d = toy();
        let norm = Normalization::fit(&d).unwrap();
        let n = d.normalized(&norm).unwrap();
        let back = Normalization::fit(&Dataset { normalization: None, ..n.clone() }).unwrap();
        for c in 0..2 {
            assert!(back.mean[c].abs() < 1e-6);
            assert!((back.std[c] - 1.0).abs() < 1e-5);
        }
        assert!(n.normalized(&norm).is_err());
    }

    #[test]
    fn chunked_fit_equals_the_direct_statistics() {
        // More images than one chunk, with channel-dependent values.
        let images = Tensor::arange(9000 * 2 * 3, (Kind::Double, Device::Cpu)).view([9000, 2, 3, 1]).sin() * 0.5 + 0.5;
        let d = Dataset::new(images.to_kind(Kind::Float), Tensor::zeros([9000], (Kind::Int64, Device::Cpu)), 1, "big").unwrap();
        let fit = Normalization::fit(&d).unwrap();
        let per_channel = d.images.to_kind(Kind::Double).transpose(0, 1).reshape([2, -1]);
        let mean = Vec::<f64>::try_from(per_channel.mean_dim(1, false, Kind::Double)).unwrap();
        let std = Vec::<f64>::try_from(per_channel.std_dim(1, false, false)).unwrap();
        for k in 0..2 {
            assert!((fit.mean[k] - mean[k]).abs() < 1e-12, "{} vs {}", fit.mean[k], mean[k]);
            assert!((fit.std[k] - std[k]).abs() < 1e-12, "{} vs {}", fit.std[k], std[k]);
        }
        assert!(Normalization::fit(&d.select(&[], "empty").unwrap()).is_err());
    }

    #[test]
    fn batches_cover_everything_once() {
        let d = toy();
        let b = d.batches(4, Some(3)).unwrap();
        assert_eq!(b.num_batches(), 2);
        let mut labels: Vec<i64> = b.flat_map(|(_, y)| Vec::<i64>::try_from(&y).unwrap()).collect();
        labels.sort();
        assert_eq!(labels, vec![0, 0, 1, 1, 2, 2]);
        assert!(d.batches(0, None).is_err());
    }

    #[test]
    fn rejects_bad_labels_and_shapes() {
        let images = Tensor::zeros([2, 1, 2, 2], (Kind::Float, Device::Cpu));
        let err = Dataset::new(images.shallow_clone(), Tensor::from_slice(&[0i64, 5]), 3, "x").unwrap_err();
        assert!(err.to_string().contains("label 5 out of range"));
        assert!(Dataset::new(images, Tensor::from_slice(&[0i64]), 3, "x").is_err());
    }

    #[test]
    fn features_and_token_ids_are_examples_too() {
        // Features [N, D]: normalized per feature, converted to f64 with the model.
        let x = Tensor::from_slice(&[1.0f32, 10.0, 3.0, 30.0, 5.0, 50.0]).view([3, 2]);
        let d = Dataset::of_examples(x, Tensor::from_slice(&[0i64, 1, 1]), 2, "feat").unwrap();
        assert_eq!((d.input_kind(), d.example_shape(), d.channels()), (InputKind::Features, vec![2], 2));
        let norm = Normalization::fit(&d).unwrap();
        assert_eq!(norm.mean, [3.0, 30.0]);
        let sd = (8.0f64 / 3.0).sqrt();
        assert!((norm.std[0] - sd).abs() < 1e-12 && (norm.std[1] - 10.0 * sd).abs() < 1e-11, "{norm:?}");
        let n = d.normalized(&norm).unwrap().to_kind(Kind::Double).unwrap();
        assert_eq!(n.images.kind(), Kind::Double);
        assert!((n.images.double_value(&[2, 1]) - 2.0 / sd).abs() < 1e-6);
        assert_eq!(Vec::<i64>::try_from(&n.batches(2, None).unwrap().next().unwrap().1).unwrap(), [0, 1]);

        // Token ids [N, T]: int64, left alone by to_kind, refused by normalization.
        let ids = Tensor::from_slice(&[3i32, 1, 4, 1, 5, 9]).view([2, 3]);
        let t = Dataset::of_examples(ids, Tensor::from_slice(&[1.5f32, -2.0]), 0, "tok").unwrap();
        assert_eq!((t.input_kind(), t.num_classes, t.images.kind()), (InputKind::Tokens, 1, Kind::Int64));
        assert_eq!(t.to_kind(Kind::Double).unwrap().images.kind(), Kind::Int64);
        assert!(t.normalized(&Normalization::identity(3)).unwrap_err().to_string().contains("token ids cannot be normalized"));
        assert!(Normalization::fit(&t).is_err());
        let (xs, ys) = t.select(&[1], "one").unwrap().batches(5, None).unwrap().next().unwrap();
        assert_eq!((Vec::<i64>::try_from(&xs.flatten(0, -1)).unwrap(), ys.double_value(&[0])), (vec![1, 5, 9], -2.0));

        // Bad inputs are named.
        let bad = |x: Tensor, y: Tensor| Dataset::of_examples(x, y, 3, "bad").unwrap_err().to_string();
        assert!(bad(Tensor::from_slice(&[1.0f32, 2.0]), Tensor::from_slice(&[0i64, 1])).contains("example dimension"));
        assert!(bad(Tensor::from_slice(&[-1i64, 2]).view([1, 2]), Tensor::from_slice(&[0i64])).contains("must not be negative"));
        assert!(bad(Tensor::zeros([2, 2, 2], (Kind::Int64, Device::Cpu)), Tensor::from_slice(&[0i64, 1])).contains("not supported"));
        assert!(bad(Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)), Tensor::from_slice(&[0i64, 7])).contains("label 7 out of range"));
        assert!(bad(Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)), Tensor::from_slice(&[0.5f32])).contains("2 examples but regression targets"));
    }

    #[test]
    fn first_per_class_is_deterministic() {
        let s = toy().first_per_class(1).unwrap();
        assert_eq!(Vec::<i64>::try_from(&s.labels).unwrap(), vec![0, 1, 2]);
        assert_eq!(s.class_counts(), vec![1, 1, 1]);
    }

    #[test]
    fn first_per_class_of_regression_targets_takes_the_first_examples() {
        let d = Dataset { labels: Tensor::from_slice(&[0.5f32, 1.5, 2.5, 3.5, 4.5, 5.5]).view([3, 2]).repeat([2, 1]).narrow(0, 0, 6), num_classes: 2, ..toy() };
        let s = d.first_per_class(2).unwrap();
        assert_eq!(s.len(), 4);
        assert!(s.images.equal(&d.images.narrow(0, 0, 4)));
        assert_eq!(d.first_per_class(10).unwrap().len(), 6);
    }
}
