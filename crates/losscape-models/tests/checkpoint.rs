//! Checkpoint tests: bit-exact round trips, metadata, rebuilding from the file alone, and clear
//! refusals of mismatched or damaged files.

use std::collections::BTreeMap;
use std::path::Path;

use losscape_core::Precision;
use losscape_data::Normalization;
use losscape_models::checkpoint::{self, CheckpointMeta};
use losscape_models::{build, BuildSpec, Model, ModelSpec};
use tch::{Device, Kind, Tensor};

fn model(spec: &str, precision: Precision, seed: u64) -> Box<dyn Model> {
    let spec: ModelSpec = spec.parse().unwrap();
    build(&BuildSpec { in_channels: 1, image_size: [16, 16], precision: precision, ..BuildSpec::new(spec) }, Device::Cpu, seed).unwrap()
}

fn meta_for(m: &dyn Model, precision: Precision) -> CheckpointMeta {
    CheckpointMeta::new(&m.spec().parse().unwrap(), 1, 10, [16, 16], precision)
}

/// Raw bytes of a tensor, for bit-exact comparisons.
fn bytes(t: &Tensor) -> Vec<u8> {
    let t = t.detach().contiguous();
    let mut out = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
    t.copy_data_u8(&mut out, t.numel());
    out
}

fn state(m: &dyn Model) -> Vec<(String, Kind, Vec<i64>, Vec<u8>)> {
    m.named_tensors()
        .into_iter()
        .map(|t| (t.name, t.tensor.kind(), t.tensor.size(), bytes(&t.tensor)))
        .collect()
}

/// A model whose BN statistics and counters are no longer at their initial values.
fn trained(spec: &str, precision: Precision) -> Box<dyn Model> {
    let m = model(spec, precision, 17);
    let xs = Tensor::randn([4, 1, 16, 16], (precision.kind(), Device::Cpu));
    let _ = m.forward_t(&xs, true);
    m
}

#[test]
fn round_trip_is_bit_exact_in_f32_and_f64() {
    let dir = tempfile::tempdir().unwrap();
    for (spec, precision) in [
        ("resnet8", Precision::F32),
        ("resnet8-noshort", Precision::F64),
        ("vgg9", Precision::F32),
    ] {
        let original = trained(spec, precision);
        let mut meta = meta_for(original.as_ref(), precision);
        meta.normalization = Some(Normalization {
            mean: vec![0.286],
            std: vec![0.353],
        });
        meta.data = Some("fashion-mnist-mini".into());
        meta.epoch = Some(3);
        meta.lr = Some(0.1);
        meta.metrics.insert("test_acc".into(), 87.5);
        meta.metrics.insert("train_loss".into(), f64::NAN);
        meta.metrics.insert("grad".into(), f64::NEG_INFINITY);
        meta.extra.insert("seed".into(), "17".into());
        let path = dir.path().join(format!("{spec}.safetensors"));
        checkpoint::save(original.as_ref(), &meta, &path).unwrap();

        let (loaded, loaded_meta) = checkpoint::load(&path, Device::Cpu).unwrap();
        assert_eq!(loaded.spec(), spec);
        assert_eq!(loaded.kind(), precision.kind());
        assert_eq!(
            state(loaded.as_ref()),
            state(original.as_ref()),
            "{spec}: values must round-trip bit-exactly"
        );
        assert!(loaded_meta.metrics["train_loss"].is_nan());
        assert_eq!(loaded_meta.metrics["grad"], f64::NEG_INFINITY);
        let mut comparable = loaded_meta.clone();
        comparable.metrics.remove("train_loss");
        let mut expected = meta.clone();
        expected.metrics.remove("train_loss");
        assert_eq!(comparable, expected);
        assert_eq!(checkpoint::read_meta(&path).unwrap().epoch, Some(3));

        // Loaded parameters are trainable leaves again and the forward passes agree exactly.
        assert!(loaded.parameters().iter().all(|p| p.requires_grad() && p.is_leaf()));
        let xs = Tensor::randn([2, 1, 16, 16], (precision.kind(), Device::Cpu));
        let a = tch::no_grad(|| original.forward_t(&xs, false));
        let b = tch::no_grad(|| loaded.forward_t(&xs, false));
        assert_eq!(bytes(&a), bytes(&b));
    }
}

#[test]
fn read_tensors_returns_canonical_order_and_all_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let m = trained("resnet8", Precision::F32);
    checkpoint::save(m.as_ref(), &meta_for(m.as_ref(), Precision::F32), &path).unwrap();
    let tensors = checkpoint::read_tensors(&path).unwrap();
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    let canonical: Vec<String> = m.named_tensors().into_iter().map(|t| t.name).collect();
    assert_eq!(names, canonical);
    let (_, counter) = tensors.iter().find(|(n, _)| n == "bn1.num_batches_tracked").unwrap();
    assert_eq!(
        (counter.kind(), counter.dim(), counter.int64_value(&[])),
        (Kind::Int64, 0, 1)
    );
    assert!(tensors.iter().all(|(_, t)| t.device() == Device::Cpu));
    let metadata = checkpoint::read_metadata(&path).unwrap();
    assert_eq!(metadata["format"], "losscape-checkpoint");
    assert_eq!(metadata["format_version"], "1");
    assert!(metadata["losscape"].contains("\"spec\":\"resnet8\""));
}

#[test]
fn mismatched_checkpoints_are_refused_with_the_tensor_name() {
    let dir = tempfile::tempdir().unwrap();
    let save = |spec: &str| {
        let m = model(spec, Precision::F32, 1);
        let path = dir.path().join(format!("{spec}.safetensors"));
        checkpoint::save(m.as_ref(), &meta_for(m.as_ref(), Precision::F32), &path).unwrap();
        path
    };
    let resnet8 = save("resnet8");
    let noshort = save("resnet8-noshort");

    // Another width: the first tensor already differs in shape.
    let wide = model("wrn8-2", Precision::F32, 1);
    let before = state(wide.as_ref());
    let err = checkpoint::load_into(wide.as_ref(), &resnet8).unwrap_err().to_string();
    assert!(
        err.contains("'conv1.weight'") && err.contains("[16, 1, 3, 3]") && err.contains("[32, 1, 3, 3]"),
        "{err}"
    );
    assert!(err.contains("resnet8.safetensors"), "the error names the file: {err}");
    assert_eq!(
        state(wide.as_ref()),
        before,
        "a refused load leaves the model unchanged"
    );

    // Shortcut tensors missing from the file, or left over in it.
    let with_shortcuts = model("resnet8", Precision::F32, 2);
    let err = checkpoint::load_into(with_shortcuts.as_ref(), &noshort)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'layer2.0.shortcut.0.weight'") && err.contains("missing"),
        "{err}"
    );
    let without = model("resnet8-noshort", Precision::F32, 2);
    let err = checkpoint::load_into(without.as_ref(), &resnet8)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'layer2.0.shortcut.0.weight'") && err.contains("does not have"),
        "{err}"
    );

    // Another class count: the head differs.
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let five = build(&BuildSpec { in_channels: 1, num_classes: 5, image_size: [16, 16], ..BuildSpec::new(spec) }, Device::Cpu, 0).unwrap();
    let err = checkpoint::load_into(five.as_ref(), &resnet8).unwrap_err().to_string();
    assert!(
        err.contains("'linear.weight'") && err.contains("[10, 64]") && err.contains("[5, 64]"),
        "{err}"
    );
}

#[test]
fn f32_checkpoints_load_into_f64_models() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("single.safetensors");
    let single = trained("resnet8", Precision::F32);
    checkpoint::save(single.as_ref(), &meta_for(single.as_ref(), Precision::F32), &path).unwrap();
    let (double, meta) = checkpoint::load_as(&path, Device::Cpu, Precision::F64).unwrap();
    assert_eq!((double.kind(), meta.precision.as_str()), (Kind::Double, "f32"));
    for (a, b) in double.named_tensors().iter().zip(single.named_tensors()) {
        assert_eq!(
            a.tensor.kind(),
            if b.tensor.kind() == Kind::Int64 {
                Kind::Int64
            } else {
                Kind::Double
            }
        );
        assert!(a.tensor.to_kind(b.tensor.kind()).equal(&b.tensor), "{}", a.name);
    }
}

#[test]
fn save_checks_that_the_metadata_describes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    let m = model("resnet8", Precision::F32, 0);
    let mut meta = meta_for(m.as_ref(), Precision::F32);
    meta.spec = "resnet14".into();
    assert!(checkpoint::save(m.as_ref(), &meta, &path)
        .unwrap_err()
        .to_string()
        .contains("resnet14"));
    let meta = meta_for(m.as_ref(), Precision::F64);
    assert!(checkpoint::save(m.as_ref(), &meta, &path)
        .unwrap_err()
        .to_string()
        .contains("precision"));
    assert!(!path.exists());
}

#[test]
fn generic_tensor_files_keep_order_kinds_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("directions.safetensors");
    let tensors = vec![
        (
            "z.first".to_string(),
            Tensor::from_slice(&[1.5f64, -2.0]).reshape([2, 1]),
        ),
        ("a.second".to_string(), Tensor::from_slice(&[7i64])),
        ("m.third".to_string(), Tensor::from_slice(&[true, false, true])),
        (
            "b.fourth".to_string(),
            Tensor::from_slice(&[0.25f32; 6]).reshape([1, 2, 3]),
        ),
        ("scalar".to_string(), Tensor::from(3.0f32)),
    ];
    let mut metadata = BTreeMap::new();
    metadata.insert("format".to_string(), "losscape-directions".to_string());
    checkpoint::save_tensors(&tensors, &metadata, &path).unwrap();
    let back = checkpoint::read_tensors(&path).unwrap();
    assert_eq!(back.len(), tensors.len());
    for ((n1, t1), (n2, t2)) in tensors.iter().zip(&back) {
        assert_eq!(n1, n2);
        assert_eq!((t1.kind(), t1.size()), (t2.kind(), t2.size()), "{n1}");
        assert_eq!(bytes(t1), bytes(t2), "{n1}");
    }
    assert_eq!(checkpoint::read_metadata(&path).unwrap(), metadata);
    let err = checkpoint::read_meta(&path).unwrap_err().to_string();
    assert!(
        err.contains("'losscape-directions' file, not a losscape checkpoint"),
        "{err}"
    );

    let mut reserved = metadata.clone();
    reserved.insert("tensor_order".into(), "[]".into());
    assert!(checkpoint::save_tensors(&tensors, &reserved, &path).is_err());
    let duplicate = vec![tensors[0].0.clone(), tensors[0].0.clone()]
        .into_iter()
        .map(|n| (n, Tensor::zeros([1], (Kind::Float, Device::Cpu))))
        .collect::<Vec<_>>();
    assert!(checkpoint::save_tensors(&duplicate, &metadata, &path)
        .unwrap_err()
        .to_string()
        .contains("duplicate"));
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_or_foreign_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    let m = model("resnet8", Precision::F32, 0);
    checkpoint::save(m.as_ref(), &meta_for(m.as_ref(), Precision::F32), &good).unwrap();
    let content = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.safetensors");
    write(&truncated, &content[..content.len() - 100]);
    // The header parser (shared with the ranged reader) finds the last tensor past the end.
    let err = checkpoint::load(&truncated, Device::Cpu).unwrap_err().to_string();
    assert!(
        err.contains("truncated.safetensors") && err.contains("do not fit its shape or the file"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.safetensors");
    write(&garbage, b"hello");
    let err = checkpoint::read_meta(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage.safetensors"), "{err}");
    write(&garbage, &u64::MAX.to_le_bytes());
    assert!(checkpoint::read_meta(&garbage)
        .unwrap_err()
        .to_string()
        .contains("implausible"));

    let missing = dir.path().join("missing.safetensors");
    assert!(checkpoint::load(&missing, Device::Cpu)
        .unwrap_err()
        .to_string()
        .contains("missing.safetensors"));

    // A future format version is refused by number.
    let (tensors, mut metadata) = checkpoint::read_tensor_file(&good).unwrap();
    metadata.insert("format_version".into(), "99".into());
    let future = dir.path().join("future.safetensors");
    checkpoint::save_tensors(&tensors, &metadata, &future).unwrap();
    assert!(checkpoint::read_meta(&future)
        .unwrap_err()
        .to_string()
        .contains("version 99"));
}
