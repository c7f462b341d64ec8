//! The fast evaluation path (BN folded into the convolutions, in every memory layout) gives the
//! plain eval-mode losses and logits of the same weights, follows weight changes, and falls back
//! to the plain path for models it does not apply to.

mod common;

use common::nets::{data, rel, trained_like};
use losscape_landscape::{EvalPath, Evaluator, FastForward, Layout, LossKind};
use losscape_models::{Model, NamedTensor, Role};
use tch::{Device, Kind, Tensor};

const PATHS: [EvalPath; 4] = [EvalPath::Auto, EvalPath::Folded(Layout::Contiguous), EvalPath::Folded(Layout::ChannelsLast), EvalPath::Folded(Layout::Mkldnn)];

/// Every fast variant against the plain path, for the loss, the accuracy and the logits.
fn assert_fast_equals_plain(spec: &str, side: i64) {
    tch::set_num_threads(1);
    let model = trained_like(spec, side, Kind::Float);
    let data = data(40, side, Kind::Float);
    let eval = Evaluator { batch_size: 16, loss: LossKind::CrossEntropy };
    let plain = eval.evaluate_with(model.as_ref(), &data, EvalPath::Plain).unwrap();
    assert!(plain.loss > 0.5, "{spec}: a loss this small would hide differences: {}", plain.loss);
    for path in PATHS {
        let fast = eval.evaluate_with(model.as_ref(), &data, path).unwrap();
        assert!(rel(fast.loss, plain.loss) <= 1e-5, "{spec} {path:?}: {} vs {}", fast.loss, plain.loss);
        assert!((fast.accuracy - plain.accuracy).abs() <= 100.0 / 40.0, "{spec} {path:?}: accuracy");
    }
    let xs = data.images.narrow(0, 0, 8);
    let expected = tch::no_grad(|| model.forward_t(&xs, false));
    for layout in [Layout::Contiguous, Layout::ChannelsLast, Layout::Mkldnn] {
        let fast = FastForward::new(model.as_ref(), layout).expect("the fast path applies");
        let logits = tch::no_grad(|| fast.fold().unwrap().forward(&xs).unwrap());
        assert_eq!(logits.size(), expected.size());
        let err = (&logits - &expected).abs().max().double_value(&[]);
        let scale = expected.abs().max().double_value(&[]);
        assert!(err <= 1e-4 * scale, "{spec} {layout:?}: logits differ by {err} (scale {scale})");
    }
}

#[test]
fn resnet20_fast_path_equals_plain_forward() {
    assert_fast_equals_plain("resnet20", 32);
}

#[test]
fn resnet20_noshort_fast_path_equals_plain_forward() {
    assert_fast_equals_plain("resnet20-noshort", 32);
}

#[test]
fn wide_resnet_fast_path_equals_plain_forward() {
    assert_fast_equals_plain("wrn8-2", 16);
}

#[test]
fn vgg9_fast_path_equals_plain_forward() {
    assert_fast_equals_plain("vgg9", 20);
}

#[test]
fn the_fold_follows_weight_changes() {
    tch::set_num_threads(1);
    let model = trained_like("resnet8", 16, Kind::Float);
    let data = data(24, 16, Kind::Float);
    let eval = Evaluator { batch_size: 8, loss: LossKind::CrossEntropy };
    let before = eval.evaluate(model.as_ref(), &data).unwrap().loss;
    tch::no_grad(|| {
        for t in model.named_tensors() {
            if matches!(t.role, Role::ConvWeight | Role::BnRunningVar) {
                let mut tensor = t.tensor;
                let _ = tensor.f_mul_scalar_(1.3).unwrap();
            }
        }
    });
    let after = eval.evaluate(model.as_ref(), &data).unwrap().loss;
    let plain = eval.evaluate_with(model.as_ref(), &data, EvalPath::Plain).unwrap().loss;
    assert!(rel(after, before) > 1e-3, "the weights moved: {before} vs {after}");
    assert!(rel(after, plain) <= 1e-5, "{after} vs {plain}");
}

/// A built-in network that hides one of its tensors, as an imported module of another layout
/// would look to the fast path.
struct Hiding(Box<dyn Model>);

impl Model for Hiding {
    fn spec(&self) -> String {
        self.0.spec()
    }
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.0.forward_t(xs, train)
    }
    fn named_tensors(&self) -> Vec<NamedTensor> {
        self.0.named_tensors().into_iter().filter(|t| t.name != "layer2.0.shortcut.1.running_var").collect()
    }
    fn device(&self) -> Device {
        self.0.device()
    }
    fn kind(&self) -> Kind {
        self.0.kind()
    }
}

#[test]
fn models_the_fast_path_does_not_fit_use_the_plain_path() {
    tch::set_num_threads(1);
    let eval = Evaluator { batch_size: 8, loss: LossKind::MseSoftmax };

    let hiding = Hiding(trained_like("resnet8", 16, Kind::Float));
    assert!(FastForward::new(&hiding, Layout::Contiguous).is_none());
    let f32_data = data(12, 16, Kind::Float);
    let plain = eval.evaluate_with(&hiding, &f32_data, EvalPath::Plain).unwrap();
    assert_eq!(eval.evaluate(&hiding, &f32_data).unwrap(), plain);

    // f64 models are for exact checks: always the plain path, bit for bit.
    let f64_model = trained_like("resnet8", 16, Kind::Double);
    assert!(FastForward::new(f64_model.as_ref(), Layout::Contiguous).is_none());
    let f64_data = data(12, 16, Kind::Double);
    let plain = eval.evaluate_with(f64_model.as_ref(), &f64_data, EvalPath::Plain).unwrap();
    for path in PATHS {
        assert_eq!(eval.evaluate_with(f64_model.as_ref(), &f64_data, path).unwrap(), plain);
    }
}
