//! Regression targets (float labels) with the mse loss: the loss is the plain mean squared error
//! over samples and outputs, the accuracy is NaN, and the class-label losses refuse them.

use losscape_data::rng::normal_tensor;
use losscape_data::Dataset;
use losscape_directions::testing::TinyNet;
use losscape_landscape::evaluate::{Evaluator, LossKind};
use losscape_models::Model;
use tch::{Device, Kind, Tensor};

#[test]
fn float_labels_are_regression_targets_for_mse() {
    tch::set_num_threads(1);
    let model = TinyNet::new(1, 2, Kind::Double, 3);
    let images = normal_tensor(11, &[10, 1, 6, 6], Kind::Double);
    let targets = normal_tensor(12, &[10, 2], Kind::Double);
    let data = Dataset { images, labels: targets.shallow_clone(), num_classes: 2, normalization: None, name: "r".into() };

    let mut evaluator = Evaluator::new(Device::Cpu, LossKind::Mse);
    evaluator.batch_size = 4;
    let metrics = evaluator.evaluate(&model, &data).unwrap();
    let outputs = tch::no_grad(|| model.f_forward_t(&data.images, false)).unwrap();
    let expected = (outputs - &targets).square().mean(Kind::Double).double_value(&[]);
    assert!((metrics.loss - expected).abs() < 1e-12 * expected, "{} vs {expected}", metrics.loss);
    assert!(metrics.accuracy.is_nan());
    assert_eq!(metrics.examples, 10);

    let err = Evaluator::new(Device::Cpu, LossKind::CrossEntropy).evaluate(&model, &data).unwrap_err().to_string();
    assert!(err.contains("need the mse loss"), "{err}");
    let wrong = Tensor::zeros([4, 3], (Kind::Double, Device::Cpu));
    let err = LossKind::Mse.batch_loss(&Tensor::zeros([4, 2], (Kind::Double, Device::Cpu)), &wrong).unwrap_err().to_string();
    assert!(err.contains("[4, 3]") && err.contains("[4, 2]"), "{err}");
}
