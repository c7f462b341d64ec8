//! The precision in the surface header: stored as its name (the bytes of the former string
//! field), round-tripped, a resume in another precision refused in one line, and measurements
//! under `report.` keys neither compared nor overwritten by a resume.

mod common;

use std::fs;

use common::{compute, grid2, header};
use losscape_surface::surface::REPORT_PREFIX;
use losscape_surface::{Precision, Shard, Surface};

#[test]
fn the_precision_is_stored_by_name_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    for precision in Precision::ALL {
        let path = dir.path().join(format!("{precision}.surface"));
        let mut h = header(grid2("-1:1:3", "-1:1:3"));
        h.dtype = precision;
        let mut s = Surface::new(h.clone()).unwrap();
        compute(&mut s, Shard::all(), None);
        s.save(&path).unwrap();
        assert_eq!(Surface::load(&path).unwrap().header(), &h);
        // bincode's string: a u64 length, then the bytes, as the header's former String field.
        let name = precision.name().as_bytes();
        let mut encoded = (name.len() as u64).to_le_bytes().to_vec();
        encoded.extend_from_slice(name);
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.windows(encoded.len()).any(|w| w == encoded.as_slice()), "{precision}");
    }
}

#[test]
fn resuming_in_another_precision_is_refused_in_one_line_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.surface");
    let mut h = header(grid2("-1:1:3", "-1:1:3"));
    h.dtype = Precision::Bf16;
    let mut s = Surface::open_or_create(&path, h.clone()).unwrap();
    compute(&mut s, Shard::all(), Some(4));
    s.save(&path).unwrap();
    let before = fs::read(&path).unwrap();

    let mut other = h.clone();
    other.dtype = Precision::F32;
    other.batch_size += 1; // another difference, which the precision's refusal does not list
    let message = Surface::open_or_create(&path, other).unwrap_err().to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("computed in bf16, and this run computes in f32"), "{message}");
    assert!(!message.contains("batch_size"), "{message}");
    assert_eq!(fs::read(&path).unwrap(), before);
    // The same precision resumes.
    assert_eq!(Surface::open_or_create(&path, h).unwrap().pending(Shard::all()).len(), 5);
}

#[test]
fn report_keys_are_not_compared_and_a_resume_keeps_the_files_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.surface");
    let key = format!("{REPORT_PREFIX}bf16_max_rel_loss_deviation");
    let mut h = header(grid2("-1:1:3", "-1:1:3"));
    h.extra.insert(key.clone(), "1.0e-3".into());
    let mut s = Surface::open_or_create(&path, h.clone()).unwrap();
    compute(&mut s, Shard::all(), Some(2));
    s.save(&path).unwrap();

    let mut resumed = h.clone();
    resumed.extra.insert(key.clone(), "2.0e-3".into());
    assert!(h.differences(&resumed, "a", "b").is_empty());
    let reopened = Surface::open_or_create(&path, resumed).unwrap();
    assert_eq!(reopened.header().extra.get(&key).map(String::as_str), Some("1.0e-3"));
    // Other extra keys are still compared.
    let mut changed = h.clone();
    changed.extra.insert("device".into(), "cuda".into());
    assert_eq!(h.differences(&changed, "a", "b").len(), 1);
}
