//! Exports: the .npz holds the surface's values and shapes (read back by our own .npy parser;
//! losscape-landscape's tests read it with libtorch's too), the .csv has one exact row per point, the .vtp is well-formed PolyData.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use common::{compute, grid1, grid2, header, METRICS};
use losscape_surface::export::{write_csv, write_npz, write_vtp, VtpOptions};
use losscape_surface::{Shard, Surface};

/// A 2D surface with a NaN loss, an infinite test loss, and two points not computed.
fn partial_surface() -> Surface {
    let mut surface = Surface::new(header(grid2("-1:1:3", "-1:1:4"))).unwrap();
    compute(&mut surface, Shard::all(), Some(10));
    assert_eq!(surface.done_count(), 10);
    surface
}

/// One member of an .npz: dtype descriptor, shape, raw little-endian data.
struct Npy {
    descr: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// Reads every member of an .npz with the zip crate and our own .npy v1.0 parser.
fn read_npz(path: &Path) -> BTreeMap<String, Npy> {
    let mut archive = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let name = member
            .name()
            .strip_suffix(".npy")
            .expect("members end in .npy")
            .to_string();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).unwrap();
        assert_eq!(
            &bytes[..8],
            b"\x93NUMPY\x01\x00",
            "{name}: npy magic and version 1.0"
        );
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!(
            (10 + header_len) % 64,
            0,
            "{name}: data aligned to 64 bytes"
        );
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.ends_with('\n'));
        let field = |key: &str| {
            let start = header.find(&format!("'{key}': ")).unwrap() + key.len() + 4;
            &header[start..]
        };
        let descr = field("descr")[1..].split('\'').next().unwrap().to_string();
        assert!(field("fortran_order").starts_with("False"));
        let shape_text = field("shape");
        let shape_text = &shape_text[1..shape_text.find(')').unwrap()];
        let shape: Vec<usize> = shape_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let data = bytes[10 + header_len..].to_vec();
        out.insert(name, Npy { descr, shape, data });
    }
    out
}

fn f64s(npy: &Npy) -> Vec<u64> {
    assert_eq!(npy.descr, "<f8");
    assert_eq!(npy.data.len(), 8 * npy.shape.iter().product::<usize>());
    npy.data
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn npz_holds_the_surface_values_and_shapes() {
    let surface = partial_surface();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.npz");
    write_npz(&surface, &path).unwrap();

    let npz = read_npz(&path);
    let mut expected_names: Vec<&str> = vec!["xcoordinates", "ycoordinates", "done"];
    expected_names.extend(METRICS);
    expected_names.sort();
    assert_eq!(
        npz.keys().map(String::as_str).collect::<Vec<_>>(),
        expected_names
    );
    assert_eq!(npz["xcoordinates"].shape, vec![3]);
    assert_eq!(f64s(&npz["xcoordinates"]), bits(&[-1.0, 0.0, 1.0]));
    assert_eq!(npz["ycoordinates"].shape, vec![4]);
    assert_eq!(
        f64s(&npz["ycoordinates"]),
        bits(&surface.grid().y.as_ref().unwrap().coordinates())
    );
    for name in METRICS {
        assert_eq!(npz[name].shape, vec![3, 4], "{name}");
        assert_eq!(
            f64s(&npz[name]),
            bits(surface.array(name).unwrap()),
            "{name}"
        );
        // C order: element [ix][iy] sits at ix * ny + iy.
        let rows = surface.array2(name).unwrap();
        assert_eq!(f64s(&npz[name])[2 * 4 + 1], rows[2][1].to_bits());
    }
    let loss = f64s(&npz["train_loss"]);
    assert!(
        f64::from_bits(loss[8]).is_nan(),
        "the NaN result at (1, -1) survives"
    );
    assert!(
        f64::from_bits(loss[11]).is_nan(),
        "a point not computed is NaN"
    );
    assert_eq!(f64::from_bits(f64s(&npz["test_loss"])[3]), f64::INFINITY);
    let done = &npz["done"];
    assert_eq!(
        (done.descr.as_str(), done.shape.clone()),
        ("|b1", vec![3, 4])
    );
    let expected_done: Vec<u8> = surface.done().iter().map(|&d| u8::from(d)).collect();
    assert_eq!(done.data, expected_done);
    assert_eq!(done.data.iter().filter(|&&d| d == 1).count(), 10);
}

#[test]
fn npz_of_a_line_has_one_dimensional_arrays() {
    let mut surface = Surface::new(header(grid1("-0.5:1.5:9"))).unwrap();
    compute(&mut surface, Shard::all(), None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.npz");
    write_npz(&surface, &path).unwrap();
    let npz = read_npz(&path);
    assert!(!npz.contains_key("ycoordinates"));
    assert_eq!(npz["xcoordinates"].shape, vec![9]);
    assert_eq!(f64::from_bits(f64s(&npz["xcoordinates"])[2]), 0.0);
    assert_eq!(npz["test_acc"].shape, vec![9]);
    assert_eq!(
        f64s(&npz["test_acc"]),
        bits(surface.array("test_acc").unwrap())
    );
    assert_eq!(npz["done"].data, vec![1; 9]);
}

#[test]
fn csv_has_a_header_and_one_exact_row_per_point() {
    let surface = partial_surface();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    write_csv(&surface, &path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("x,y,train_loss,train_acc,test_loss,test_acc,done")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12);
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 7);
        let (a, b) = surface.grid().point(index);
        assert_eq!(
            (
                row[0].parse::<f64>().unwrap(),
                row[1].parse::<f64>().unwrap()
            ),
            (a, b)
        );
        for (k, name) in METRICS.iter().enumerate() {
            let value: f64 = row[2 + k].parse().unwrap();
            assert_eq!(
                value.to_bits(),
                surface.array(name).unwrap()[index].to_bits(),
                "row {index} {name}"
            );
        }
        assert_eq!(row[6], if surface.done()[index] { "1" } else { "0" });
    }
    assert_eq!(rows[8][2], "NaN");
    assert_eq!(rows[3][4], "inf");

    let mut line = Surface::new(header(grid1("0:1:5"))).unwrap();
    compute(&mut line, Shard::all(), None);
    write_csv(&line, &path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("x,train_loss,train_acc,test_loss,test_acc,done")
    );
    assert_eq!(text.lines().count(), 6);
    assert!(text.lines().nth(3).unwrap().starts_with("0.5,"));
}

/// Decodes standard base64 (for the VTK binary arrays).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let data: Vec<u8> = chunk
            .iter()
            .copied()
            .take_while(|&c| c != b'=')
            .map(value)
            .collect();
        let n = data
            .iter()
            .enumerate()
            .fold(0u32, |n, (k, &v)| n | (u32::from(v) << (18 - 6 * k)));
        out.extend(n.to_be_bytes()[1..data.len()].iter());
    }
    out
}

fn numbers(node: roxmltree::Node) -> Vec<f64> {
    node.text()
        .unwrap_or("")
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect()
}

fn data_array<'a>(parent: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    parent
        .children()
        .find(|n| n.has_tag_name("DataArray") && n.attribute("Name") == Some(name))
        .unwrap_or_else(|| panic!("no DataArray {name}"))
}

#[test]
fn vtp_is_polydata_with_a_point_per_grid_point_and_holes_where_values_are_missing() {
    let surface = partial_surface();
    let (nx, ny) = (3, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.vtp");
    write_vtp(&surface, &VtpOptions::default(), &path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(
        (root.tag_name().name(), root.attribute("type")),
        ("VTKFile", Some("PolyData"))
    );
    assert_eq!(root.attribute("header_type"), Some("UInt64"));
    let piece = doc.descendants().find(|n| n.has_tag_name("Piece")).unwrap();
    assert_eq!(piece.attribute("NumberOfPoints"), Some("12"));

    let points = piece.children().find(|n| n.has_tag_name("Points")).unwrap();
    let coords = numbers(
        points
            .children()
            .find(|n| n.has_tag_name("DataArray"))
            .unwrap(),
    );
    assert_eq!(coords.len(), 3 * nx * ny);
    let loss = surface.array("train_loss").unwrap();
    for index in 0..nx * ny {
        let (a, b) = surface.grid().point(index);
        assert_eq!((coords[3 * index], coords[3 * index + 1]), (a, b));
        let z = coords[3 * index + 2];
        if loss[index].is_finite() {
            assert_eq!(z, loss[index]);
        } else {
            assert_eq!(z, 0.0, "point {index} has no height");
        }
    }

    // Quads over the 2 x 3 cells, leaving out those touching point 8 (NaN loss) or 10, 11 (not done).
    let polys = piece.children().find(|n| n.has_tag_name("Polys")).unwrap();
    let connectivity = numbers(data_array(polys, "connectivity"));
    let offsets = numbers(data_array(polys, "offsets"));
    let missing = [8.0, 10.0, 11.0];
    let mut expected = Vec::new();
    for ix in 0..nx - 1 {
        for iy in 0..ny - 1 {
            let quad = [
                ix * ny + iy,
                (ix + 1) * ny + iy,
                (ix + 1) * ny + iy + 1,
                ix * ny + iy + 1,
            ]
            .map(|p| p as f64);
            if !quad.iter().any(|p| missing.contains(p)) {
                expected.extend(quad);
            }
        }
    }
    assert_eq!(expected.len(), 4 * 3, "cells (0,0), (0,1), (0,2) remain");
    assert_eq!(connectivity, expected);
    assert_eq!(offsets, vec![4.0, 8.0, 12.0]);
    assert_eq!(piece.attribute("NumberOfPolys"), Some("3"));

    // Point data: every metric, exact in binary (NaN included), and the done-mask.
    let point_data = piece
        .children()
        .find(|n| n.has_tag_name("PointData"))
        .unwrap();
    assert_eq!(point_data.attribute("Scalars"), Some("train_loss"));
    for name in METRICS {
        let node = data_array(point_data, name);
        assert_eq!(
            (node.attribute("type"), node.attribute("format")),
            (Some("Float64"), Some("binary"))
        );
        let bytes = base64_decode(node.text().unwrap());
        let count = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(count as usize, 8 * nx * ny);
        let values: Vec<u64> = bytes[8..]
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(values, bits(surface.array(name).unwrap()), "{name}");
    }
    let done = numbers(data_array(point_data, "done"));
    assert_eq!(
        done,
        surface
            .done()
            .iter()
            .map(|&d| f64::from(u8::from(d)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn vtp_heights_can_be_clipped_logged_and_scaled() {
    let mut surface = Surface::new(header(grid2("0:3:4", "0:1:2"))).unwrap();
    let run = surface.begin_run(Shard::all());
    let losses = [0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 0.5];
    for (index, &loss) in losses.iter().enumerate() {
        surface
            .set_point(index, &[loss, 50.0, loss, 50.0], run)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.vtp");
    let opts = VtpOptions {
        array: "test_loss".into(),
        log: true,
        clip: Some(100.0),
        z_scale: 2.0,
    };
    write_vtp(&surface, &opts, &path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let points = doc
        .descendants()
        .find(|n| n.has_tag_name("Points"))
        .unwrap();
    let coords = numbers(
        points
            .children()
            .find(|n| n.has_tag_name("DataArray"))
            .unwrap(),
    );
    let z: Vec<f64> = coords.chunks(3).map(|c| c[2]).collect();
    // log10(0) has no height (hole), 1000 is clipped to 100 before the log.
    let expected = [0.0, -4.0, -2.0, 0.0, 2.0, 4.0, 4.0, 2.0 * 0.5f64.log10()];
    for (got, want) in z.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{z:?}");
    }
    // Point 0 (log of 0) drops cell (0,0); cells (1,0) and (2,0) remain.
    assert_eq!(
        doc.descendants()
            .find(|n| n.has_tag_name("Piece"))
            .unwrap()
            .attribute("NumberOfPolys"),
        Some("2")
    );
    let point_data = doc
        .descendants()
        .find(|n| n.has_tag_name("PointData"))
        .unwrap();
    assert_eq!(point_data.attribute("Scalars"), Some("test_loss"));
}

#[test]
fn vtp_refuses_lines_and_bad_options_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.vtp");
    let mut line = Surface::new(header(grid1("0:1:5"))).unwrap();
    compute(&mut line, Shard::all(), None);
    let message = write_vtp(&line, &VtpOptions::default(), &path)
        .unwrap_err()
        .to_string();
    assert!(message.contains("needs a 2D surface"), "{message}");

    let surface = partial_surface();
    for (opts, needle) in [
        (
            VtpOptions {
                array: "val_loss".into(),
                ..Default::default()
            },
            "no metric 'val_loss'",
        ),
        (
            VtpOptions {
                clip: Some(f64::NAN),
                ..Default::default()
            },
            "clip value",
        ),
        (
            VtpOptions {
                z_scale: 0.0,
                ..Default::default()
            },
            "height scale",
        ),
    ] {
        let message = write_vtp(&surface, &opts, &path).unwrap_err().to_string();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let thin = Surface::new(header(grid2("0:1:5", "0:0:1"))).unwrap();
    let message = write_vtp(&thin, &VtpOptions::default(), &path)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("at least 2 points along each axis"),
        "{message}"
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
