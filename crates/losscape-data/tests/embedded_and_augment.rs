//! The embedded Fashion-MNIST subset (counts, balance, pixel statistics of the real data) and
//! the seeded augmentation on it.

use losscape_data::{fashion_mnist_mini, Augmentation, DataSource, Normalization};
use tch::{Kind, Tensor};

#[test]
fn embedded_set_is_balanced_fashion_mnist() {
    let s = fashion_mnist_mini().unwrap();
    assert_eq!((s.train.name.as_str(), s.test.name.as_str()), ("fashion-mnist-mini/train", "fashion-mnist-mini/test"));
    assert_eq!((s.train.len(), s.test.len()), (5000, 1000));
    assert_eq!(s.train.image_shape(), [1, 28, 28]);
    assert_eq!((s.train.num_classes, s.test.num_classes), (10, 10));
    assert_eq!(s.train.class_counts(), vec![500; 10]);
    assert_eq!(s.test.class_counts(), vec![100; 10]);
    assert!(s.train.normalization.is_none());
    assert_eq!(s.train.device(), tch::Device::Cpu);

    // Real Fashion-MNIST: mean about 0.286, std about 0.353 on the 0..1 scale (full training set).
    let n = Normalization::fit(&s.train).unwrap();
    assert!((n.mean[0] - 0.286).abs() < 0.01, "train mean {}", n.mean[0]);
    assert!((n.std[0] - 0.353).abs() < 0.01, "train std {}", n.std[0]);
    let t = Normalization::fit(&s.test).unwrap();
    assert!((t.mean[0] - 0.286).abs() < 0.02, "test mean {}", t.mean[0]);
    let (lo, hi) = (s.train.images.min().double_value(&[]), s.train.images.max().double_value(&[]));
    assert_eq!((lo, hi), (0.0, 1.0));

    // The first training image of Fashion-MNIST is an ankle boot (class 9), the second a T-shirt.
    assert_eq!(s.train.labels.int64_value(&[0]), 9);
    assert_eq!(s.train.labels.int64_value(&[1]), 0);
    assert_eq!(DataSource::FashionMnistMini.load().unwrap().train.len(), 5000);
}

fn first_batch(k: i64) -> Tensor {
    fashion_mnist_mini().unwrap().train.images.narrow(0, 0, k)
}

#[test]
fn augmentation_is_seeded_and_keeps_shape() {
    let x = first_batch(128);
    let aug = Augmentation::standard();
    let a = aug.apply(&x, 7).unwrap();
    assert_eq!(a.size(), x.size());
    assert_eq!(a.kind(), Kind::Float);
    assert!(a.equal(&aug.apply(&x, 7).unwrap()), "same seed, same batch");
    assert!(!a.equal(&aug.apply(&x, 8).unwrap()), "another seed, another batch");
    assert!(!a.equal(&x));
    // A crop only moves pixels and adds black padding: never a value that was not there.
    assert!(a.max().double_value(&[]) <= 1.0 && a.min().double_value(&[]) >= 0.0);
    assert!(Augmentation::none().apply(&x, 7).unwrap().equal(&x));
    let zero_pad = Augmentation { crop_padding: 0, horizontal_flip: false };
    assert!(zero_pad.apply(&x, 123).unwrap().equal(&x));
    assert!(Augmentation { crop_padding: -1, horizontal_flip: false }.apply(&x, 0).is_err());
    assert!(aug.apply(&x.flatten(1, -1), 0).is_err());
}

#[test]
fn flip_only_flips_each_image_or_leaves_it() {
    let x = first_batch(64);
    let flip = Augmentation { crop_padding: 0, horizontal_flip: true };
    let y = flip.apply(&x, 3).unwrap();
    let mirrored = x.flip([3]);
    let mut flipped = 0;
    for i in 0..64 {
        let (yi, xi, mi) = (y.get(i), x.get(i), mirrored.get(i));
        if yi.equal(&mi) && !yi.equal(&xi) {
            flipped += 1;
        } else {
            assert!(yi.equal(&xi), "image {i} neither kept nor mirrored");
        }
    }
    assert!((16..=48).contains(&flipped), "{flipped} of 64 flipped");
}

#[test]
fn padding_of_normalized_images_is_raw_black() {
    let s = fashion_mnist_mini().unwrap();
    let norm = Normalization::fit(&s.train).unwrap();
    let x = s.train.normalized(&norm).unwrap().images.narrow(0, 0, 256);
    let crop = Augmentation { crop_padding: 4, horizontal_flip: false };
    let y = crop.apply_normalized(&x, Some(&norm), 5).unwrap();
    // The smallest value is the normalized black, whether it comes from padding or the image.
    let black = -norm.mean[0] / norm.std[0];
    assert!((y.min().double_value(&[]) - black).abs() < 1e-5);
    // Cropping normalized images equals normalizing cropped raw images.
    let raw = crop.apply(&s.train.images.narrow(0, 0, 256), 5).unwrap();
    let expected = (raw - norm.mean[0]) / norm.std[0];
    assert!(y.allclose(&expected, 1e-5, 1e-6, false));
    assert!(crop.apply_normalized(&x, Some(&Normalization::identity(3)), 5).is_err());
}
