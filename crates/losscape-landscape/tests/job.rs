//! The surface request against the pieces it stands for: its header names the checkpoint file's
//! SHA-256 (and the state dict's), the random directions' own hash, the data subset; its value at
//! the origin is the evaluator's on the same subset; a resumed request adds nothing; refusals
//! come typed.

use losscape_core::{hash, Precision, Silent};
use losscape_data::DataSource;
use losscape_directions::{DirectionSet, RandomSpec, Scope};
use losscape_landscape::evaluate::{Evaluator, LossKind};
use losscape_landscape::job::{BnExtrapolation, DirectionSource, GridRequest, Refusal, SplitChoice, SurfaceRequest};
use losscape_landscape::{Error, Grid, Surface};
use losscape_models::{checkpoint, CheckpointMeta, ModelSource, ModelSpec};
use tch::Device;

fn save_model(path: &std::path::Path, seed: u64) {
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, seed).unwrap();
    let meta = CheckpointMeta::with_spec("resnet8".into(), 1, 10, [28, 28], Precision::F32);
    checkpoint::save(model.as_ref(), &meta, path).unwrap();
}

fn request(model: ModelSource, directions: DirectionSource, grid: &str) -> SurfaceRequest {
    SurfaceRequest {
        job: GridRequest::new(model, directions),
        grid: Grid::new(grid.parse().unwrap(), Some(grid.parse().unwrap())).unwrap(),
        splits: SplitChoice::Train,
        per_class: Some(1),
        loss: LossKind::CrossEntropy,
        batch_size: Some(4),
        bn_extrapolation: BnExtrapolation::Undefined,
        precision: None,
        sampling: None,
    }
}

#[test]
fn a_surface_request_fills_its_header_from_its_inputs_and_evaluates_them() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("a.safetensors");
    save_model(&ckpt, 3);
    let spec = RandomSpec { seed: 5, ..RandomSpec::default() };
    let req = request(ModelSource::new(&ckpt), DirectionSource::Random(spec), "-1:1:3");
    let prepared = req.prepare().unwrap();
    let h = &prepared.header;
    let file_hash = hash::sha256_file(&ckpt).unwrap();
    assert_eq!(h.checkpoint_hash, file_hash);
    // The directions hash is that of the set drawn independently from a fresh load.
    let (fresh, _) = checkpoint::load(&ckpt, Device::Cpu).unwrap();
    let set = DirectionSet::random(fresh.as_ref(), &spec, 2, &file_hash).unwrap();
    assert_eq!(h.directions_hash, set.hash().unwrap());
    assert_eq!(h.method, spec.to_string());
    assert_eq!(h.data, "fashion-mnist-mini (first 1 per class)");
    assert_eq!((h.batch_size, h.loss.as_str(), h.dtype), (4, "cross_entropy", Precision::F32));
    assert_eq!(h.arrays, ["train_loss", "train_acc"]);
    assert!(!h.extra.contains_key(losscape_directions::BN_VAR_KEY), "weights-scope directions record no BN policy");

    let out = dir.path().join("s.surface");
    let report = prepared.run(&out, &Silent).unwrap();
    assert_eq!(report.computed, 9);
    // The origin (index 4 of a 3x3 grid) is the model itself on the first example of each class.
    let surface = Surface::load(&out).unwrap();
    let splits = DataSource::FashionMnistMini.load().unwrap();
    let subset = splits.train.first_per_class(1).unwrap();
    let own = Evaluator { batch_size: 4, loss: LossKind::CrossEntropy }.evaluate(fresh.as_ref(), &subset).unwrap();
    assert_eq!(surface.array("train_loss").unwrap()[4], own.loss);
    assert_eq!(surface.array("train_acc").unwrap()[4], own.accuracy);
    // The same request again resumes the complete file and computes nothing.
    assert_eq!(req.prepare().unwrap().run(&out, &Silent).unwrap().computed, 0);
}

#[test]
fn interpolation_and_plane_requests_record_their_models() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a.st"), dir.path().join("b.st"), dir.path().join("c.st"));
    save_model(&a, 1);
    save_model(&b, 2);
    save_model(&c, 3);
    let mut line = request(ModelSource::new(&a), DirectionSource::Interpolation(b.clone()), "0:1:2");
    line.grid = Grid::new("0:1:2".parse().unwrap(), None).unwrap();
    let p = line.prepare().unwrap();
    assert_eq!(p.header.directions_hash, format!("interpolation to {}", hash::sha256_file(&b).unwrap()));
    assert_eq!(p.directions[0].scope, Scope::States);
    assert_eq!(p.header.extra[losscape_directions::BN_VAR_KEY], losscape_directions::BN_VAR_UNDEFINED);
    // The plane through three models: its second direction is c - a, exactly.
    let plane = request(ModelSource::new(&a), DirectionSource::Plane(b.clone(), c.clone()), "0:1:2").prepare().unwrap();
    assert!(plane.header.method.starts_with("plane through"), "{}", plane.header.method);
    let (ma, _) = checkpoint::load(&a, Device::Cpu).unwrap();
    let (mc, _) = checkpoint::load(&c, Device::Cpu).unwrap();
    let (ta, tc) = (ma.named_tensors(), mc.named_tensors());
    let d = &plane.directions[1];
    let find = |ts: &[losscape_models::NamedTensor], name: &str| ts.iter().find(|t| t.name == name).unwrap().tensor.shallow_clone();
    assert!(!d.tensors.is_empty());
    for (name, t) in &d.tensors {
        let want = find(&tc, name) - find(&ta, name);
        assert_eq!(f64::try_from((t - want).abs().max()).unwrap(), 0.0, "tensor {name}");
    }
    // A 2D surface over one interpolation direction is refused in words.
    let mut two = line.clone();
    two.grid = Grid::new("0:1:2".parse().unwrap(), Some("0:1:2".parse().unwrap())).unwrap();
    let err = two.prepare().err().unwrap().to_string();
    assert!(err.contains("a 2D surface needs 2 directions but only 1"), "{err}");
}

#[test]
fn the_identity_hash_includes_the_state_dict_and_a_missing_dataset_is_a_typed_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (a, w) = (dir.path().join("a.st"), dir.path().join("w.st"));
    save_model(&a, 1);
    save_model(&w, 2);
    let source = ModelSource { weights: Some(w.clone()), ..ModelSource::new(&a) };
    let p = request(source, DirectionSource::Random(RandomSpec::default()), "0:1:2").prepare().unwrap();
    let want = format!("{}+{}", hash::sha256_file(&a).unwrap(), hash::sha256_file(&w).unwrap());
    assert_eq!(p.header.checkpoint_hash, want);
    let meta = CheckpointMeta::with_spec("torchscript".into(), 1, 10, [0, 0], Precision::F32);
    match losscape_landscape::job::load_data(None, &meta) {
        Err(Error::Refused(Refusal::NoDataSet)) => {}
        other => panic!("expected the no-data-set refusal, got {:?}", other.map(|_| ())),
    }
}
