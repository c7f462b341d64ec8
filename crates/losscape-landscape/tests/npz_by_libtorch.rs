//! A second, independent reader of the .npz export (losscape-surface tests it with its own .npy
//! parser): libtorch's npz support through tch reads the same shapes, kinds and bits.

mod common;

use std::collections::BTreeMap;

use common::{compute, grid2, header};
use losscape_landscape::export::write_npz;
use losscape_landscape::{Shard, Surface};

#[test]
fn libtorch_reads_the_npz_export_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut surface = Surface::new(header(grid2("-1:1:3", "-1:1:4"))).unwrap();
    compute(&mut surface, Shard::all(), Some(10));
    let path = dir.path().join("s.npz");
    write_npz(&surface, &path).unwrap();
    let tensors: BTreeMap<String, tch::Tensor> = tch::Tensor::read_npz(&path).unwrap().into_iter().collect();
    let loss = &tensors["train_loss"];
    assert_eq!(loss.size(), vec![3, 4]);
    assert_eq!(loss.kind(), tch::Kind::Double);
    let from_torch: Vec<f64> = Vec::try_from(loss.flatten(0, -1)).unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    assert_eq!(bits(&from_torch), bits(surface.array("train_loss").unwrap()));
    assert_eq!(tensors["done"].kind(), tch::Kind::Bool);
    assert_eq!(tensors["done"].sum(tch::Kind::Int64).int64_value(&[]), 10);
}
