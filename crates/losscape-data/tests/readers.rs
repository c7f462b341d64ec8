//! The IDX and CIFAR-10 readers on small files written by the tests: round trips (raw and gzip),
//! folder layouts, and a clear error naming the file for every kind of bad input.

use std::fs;
use std::io::Write;
use std::path::Path;

use losscape_data::cifar::encode_cifar;
use losscape_data::idx::encode_idx;
use losscape_data::{read_cifar10_dir, read_cifar_file, read_idx_dir, read_idx_pair, DataSource, Error};
use tch::{Kind, Tensor};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `n` images of `h x w` whose pixel bytes are a simple function of their position, labels `i % 10`.
fn idx_data(n: usize, h: usize, w: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels = (0..n * h * w).map(|i| (i * 7 % 256) as u8).collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    (pixels, labels)
}

fn write_idx_files(dir: &Path, prefix: &str, n: usize, gz: bool) -> (Vec<u8>, Vec<u8>) {
    let (pixels, labels) = idx_data(n, 4, 3);
    let images = encode_idx(&[n as u32, 4, 3], &pixels);
    let label_file = encode_idx(&[n as u32], &labels);
    let (images, label_file, ext) = if gz { (gzip(&images), gzip(&label_file), ".gz") } else { (images, label_file, "") };
    fs::write(dir.join(format!("{prefix}-images-idx3-ubyte{ext}")), images).unwrap();
    fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte{ext}")), label_file).unwrap();
    (pixels, labels)
}

fn bytes_of(t: &Tensor) -> Vec<u8> {
    let scaled = (t * 255.0).round().to_kind(Kind::Uint8).flatten(0, -1);
    Vec::<u8>::try_from(&scaled).unwrap()
}

fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn idx_pair_round_trips_raw_and_gzip() {
    for gz in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (pixels, labels) = write_idx_files(dir.path(), "train", 13, gz);
        let ext = if gz { ".gz" } else { "" };
        let d = read_idx_pair(
            &dir.path().join(format!("train-images-idx3-ubyte{ext}")),
            &dir.path().join(format!("train-labels-idx1-ubyte{ext}")),
        )
        .unwrap();
        assert_eq!(d.name, "train-images-idx3-ubyte");
        assert_eq!(d.images.size(), vec![13, 1, 4, 3]);
        assert_eq!(d.images.kind(), Kind::Float);
        assert_eq!(d.labels.kind(), Kind::Int64);
        assert_eq!(d.num_classes, 10);
        assert_eq!(bytes_of(&d.images), pixels);
        assert_eq!(Vec::<i64>::try_from(&d.labels).unwrap(), labels.iter().map(|l| *l as i64).collect::<Vec<_>>());
        let max = d.images.max().double_value(&[]);
        assert!(max <= 1.0 && max > 0.99, "0..1 scale, max {max}");
    }
}

#[test]
fn idx_dir_finds_official_and_test_names() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mnist-like");
    fs::create_dir(&folder).unwrap();
    write_idx_files(&folder, "train", 20, true);
    write_idx_files(&folder, "t10k", 10, false);
    let s = read_idx_dir(&folder).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (20, 10));
    assert_eq!((s.train.name.as_str(), s.test.name.as_str()), ("mnist-like/train", "mnist-like/test"));
    assert_eq!(s.train.class_counts(), vec![2; 10]);

    let other = dir.path().join("test-names");
    fs::create_dir(&other).unwrap();
    write_idx_files(&other, "train", 10, false);
    write_idx_files(&other, "test", 5, true);
    let s = DataSource::Idx(other.clone()).load().unwrap();
    assert_eq!(s.test.len(), 5);

    fs::remove_file(other.join("test-labels-idx1-ubyte.gz")).unwrap();
    let e = message(read_idx_dir(&other));
    assert!(e.contains("test-names") && e.contains("no test labels file"), "{e}");
    let e = message(read_idx_dir(&dir.path().join("missing")));
    assert!(e.contains("missing: no such folder"), "{e}");
}

#[test]
fn idx_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (pixels, labels) = idx_data(5, 2, 2);
    let put = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        fs::write(&p, bytes).unwrap();
        p
    };
    let images = put("images", &encode_idx(&[5, 2, 2], &pixels));
    let good_labels = put("labels", &encode_idx(&[5], &labels));

    // Wrong magic number: a label file where images belong, and a 16-bit type byte.
    let e = message(read_idx_pair(&good_labels, &good_labels));
    assert!(e.starts_with(&format!("{}: wrong magic number 0x00000801", good_labels.display())), "{e}");
    let mut wide = encode_idx(&[5, 2, 2], &pixels);
    wide[2] = 0x0b;
    let e = message(read_idx_pair(&put("wide", &wide), &good_labels));
    assert!(e.contains("wide: wrong magic number 0x00000b03"), "{e}");

    // Truncated image file, raw and gzip-compressed (the gzip stream itself cut short).
    let full = encode_idx(&[5, 2, 2], &pixels);
    let e = message(read_idx_pair(&put("short", &full[..full.len() - 3]), &good_labels));
    assert!(e.contains("short: truncated file"), "{e}");
    let gz = gzip(&full);
    let e = message(read_idx_pair(&put("short.gz", &gz[..gz.len() / 2]), &good_labels));
    assert!(e.contains("short.gz: truncated or corrupt gzip"), "{e}");

    // Count mismatch.
    let four = put("four", &encode_idx(&[4], &labels[..4]));
    let e = message(read_idx_pair(&images, &four));
    assert!(e.contains("images: 5 images but") && e.contains("four holds 4 labels"), "{e}");

    // Label out of range.
    let mut bad = labels.clone();
    bad[3] = 10;
    let e = message(read_idx_pair(&images, &put("bad", &encode_idx(&[5], &bad))));
    assert!(e.contains("bad: label 10 at index 3 is out of range 0..10"), "{e}");

    // Missing file.
    let e = message(read_idx_pair(&d.join("nope"), &good_labels));
    assert!(e.contains("nope: no such file"), "{e}");
    assert!(matches!(read_idx_pair(&d.join("nope"), &good_labels), Err(Error::NotFound { .. })));
}

/// `n` CIFAR records whose pixel bytes encode the image index and channel, labels `(i + 3) % 10`.
fn cifar_data(n: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels = (0..n * 3072).map(|i| ((i / 1024) * 31 + i % 251) as u8).collect();
    let labels = (0..n).map(|i| ((i + 3) % 10) as u8).collect();
    (pixels, labels)
}

#[test]
fn cifar_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = cifar_data(7);
    let path = dir.path().join("small.bin");
    fs::write(&path, encode_cifar(&pixels, &labels).unwrap()).unwrap();
    let d = read_cifar_file(&path).unwrap();
    assert_eq!(d.name, "small.bin");
    assert_eq!(d.images.size(), vec![7, 3, 32, 32]);
    assert_eq!(bytes_of(&d.images), pixels);
    assert_eq!(Vec::<i64>::try_from(&d.labels).unwrap(), labels.iter().map(|l| *l as i64).collect::<Vec<_>>());
    // Channel-major: image 2, green channel, row 1, column 5 is byte 2*3072 + 1024 + 32 + 5.
    let v = d.images.double_value(&[2, 1, 1, 5]);
    assert!((v - pixels[2 * 3072 + 1024 + 32 + 5] as f64 / 255.0).abs() < 1e-6);

    let gz = dir.path().join("small.bin.gz");
    fs::write(&gz, gzip(&encode_cifar(&pixels, &labels).unwrap())).unwrap();
    assert!(read_cifar_file(&gz).unwrap().images.equal(&d.images));
}

#[test]
fn cifar_dir_reads_the_official_layout() {
    let dir = tempfile::tempdir().unwrap();
    let batches = dir.path().join("cifar-10-batches-bin");
    fs::create_dir(&batches).unwrap();
    let mut all = Vec::new();
    for i in 1..=5 {
        let (pixels, labels) = cifar_data(2 + i);
        all.extend_from_slice(&pixels);
        fs::write(batches.join(format!("data_batch_{i}.bin")), encode_cifar(&pixels, &labels).unwrap()).unwrap();
    }
    let (pixels, labels) = cifar_data(4);
    fs::write(batches.join("test_batch.bin"), encode_cifar(&pixels, &labels).unwrap()).unwrap();

    // Both the batches folder and the folder the archive was unpacked in work.
    for root in [batches.as_path(), dir.path()] {
        let s = read_cifar10_dir(root).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (3 + 4 + 5 + 6 + 7, 4));
        assert_eq!((s.train.name.as_str(), s.test.name.as_str()), ("cifar10/train", "cifar10/test"));
        assert_eq!(bytes_of(&s.train.images), all, "batches concatenated in order");
    }
    let src: DataSource = format!("cifar10:{}", dir.path().display()).parse().unwrap();
    assert_eq!(src.load().unwrap().test.len(), 4);

    fs::remove_file(batches.join("data_batch_4.bin")).unwrap();
    let e = message(read_cifar10_dir(&batches));
    assert!(e.contains("data_batch_4.bin: not found"), "{e}");
    let e = message(read_cifar10_dir(Path::new("/nonexistent/cifar")));
    assert_eq!(e, "/nonexistent/cifar: no such folder");
}

#[test]
fn cifar_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, mut labels) = cifar_data(3);
    let record = encode_cifar(&pixels, &labels).unwrap();

    let short = dir.path().join("short.bin");
    fs::write(&short, &record[..record.len() - 1]).unwrap();
    let e = message(read_cifar_file(&short));
    assert!(e.contains("short.bin: size 9218 bytes is not a multiple of 3073"), "{e}");

    let empty = dir.path().join("empty.bin");
    fs::write(&empty, b"").unwrap();
    assert!(message(read_cifar_file(&empty)).contains("empty.bin: empty file"));

    labels[2] = 10;
    let bad = dir.path().join("bad.bin");
    fs::write(&bad, encode_cifar(&pixels, &labels).unwrap()).unwrap();
    let e = message(read_cifar_file(&bad));
    assert!(e.contains("bad.bin: label 10 of record 2 is out of range 0..10"), "{e}");

    assert!(message(read_cifar_file(&dir.path().join("none.bin"))).contains("none.bin: no such file"));
    assert!(message(read_cifar_file(dir.path())).contains("is a folder"));
    assert!(encode_cifar(&pixels[1..], &labels).is_err());
}
