//! Every figure kind written to PNG and SVG from small arrays: sizes, labels, gaps (NaN, inf),
//! degenerate grids, log scales with zeros, orientation, and errors that leave no file behind.

use std::path::Path;

use losscape_plot::{
    contour, explained_variance_label, heatmap, lines, surface3d, trajectory, Colormap,
    ContourFigure, Curve, Error, ValueGrid, HeatmapFigure, Levels, LinesFigure, Shading, SurfaceFigure,
    PlanePath, TrajectoryFigure, YAxis,
};
use ndarray::Array2;

fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1).max(1) as f64)
        .collect()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// Decodes a PNG to (width, RGB bytes).
fn png_pixels(path: &Path) -> (usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width as usize, buf)
}

/// The SVG's text, checked to be well-formed XML with an `<svg>` root of the given size.
fn svg_text(path: &Path, size: (u32, u32)) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some(size.0.to_string().as_str()));
    assert_eq!(root.attribute("height"), Some(size.1.to_string().as_str()));
    // All text content, joined, to look for labels.
    doc.descendants()
        .filter(|n| n.is_text())
        .map(|n| n.text().unwrap_or("").trim())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A 21 x 15 asymmetric bowl with a NaN and an inf.
fn bowl() -> (Vec<f64>, Vec<f64>, Array2<f64>) {
    let x = linspace(-1.0, 1.0, 21);
    let y = linspace(-0.7, 0.7, 15);
    let mut z = Array2::from_shape_fn((21, 15), |(i, j)| {
        0.1 + (x[i] - 0.3).powi(2) + 3.0 * y[j] * y[j]
    });
    z[[4, 4]] = f64::NAN;
    z[[15, 10]] = f64::INFINITY;
    (x, y, z)
}

#[test]
fn line_figures_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let a = linspace(-0.5, 1.5, 41);
    let loss: Vec<f64> = a.iter().map(|t| 0.05 + (t * (1.0 - t)).powi(2)).collect();
    let mut test_loss: Vec<f64> = loss.iter().map(|l| l + 0.3).collect();
    test_loss[20] = f64::NAN;
    test_loss[21] = f64::INFINITY;
    let acc: Vec<f64> = loss.iter().map(|l| 100.0 * (-l).exp()).collect();
    let curves = [
        Curve::new("train loss", &a, &loss),
        Curve {
            dashed: true,
            ..Curve::new("test loss", &a, &test_loss)
        },
        Curve {
            axis: YAxis::Accuracy,
            markers: true,
            ..Curve::new("train accuracy", &a, &acc)
        },
    ];
    let fig = LinesFigure {
        title: "Interpolation Title".into(),
        size: (640, 480),
        ..LinesFigure::default()
    };
    lines(&dir.path().join("l.png"), &curves, &fig).unwrap();
    assert_eq!(png_size(&dir.path().join("l.png")), (640, 480));
    lines(&dir.path().join("l.svg"), &curves, &fig).unwrap();
    let text = svg_text(&dir.path().join("l.svg"), (640, 480));
    for label in [
        "Interpolation Title",
        "train loss",
        "test loss",
        "train accuracy",
        "loss",
        "accuracy (%)",
        "alpha",
    ] {
        assert!(text.contains(label), "missing {label:?} in {text}");
    }
    // Upper-case extensions work too, and the default size is 800x600.
    lines(&dir.path().join("L.PNG"), &curves, &LinesFigure::default()).unwrap();
    assert_eq!(png_size(&dir.path().join("L.PNG")), (800, 600));
}

#[test]
fn log_scale_with_zeros_and_empty_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let x = [0.0, 1.0, 2.0, 3.0];
    let y = [0.0, 1.0, 10.0, 0.0];
    let fig = LinesFigure {
        log_loss: true,
        ..LinesFigure::default()
    };
    lines(
        &dir.path().join("log.svg"),
        &[Curve::new("with zeros", &x, &y)],
        &fig,
    )
    .unwrap();
    let text = svg_text(&dir.path().join("log.svg"), (800, 600));
    assert!(text.contains("10") && text.contains('1'), "{text}");
    // Only zeros on a log axis, no curves at all: a note instead of a crash.
    let zeros = [0.0; 4];
    lines(
        &dir.path().join("zeros.svg"),
        &[Curve::new("zeros", &x, &zeros)],
        &fig,
    )
    .unwrap();
    assert!(svg_text(&dir.path().join("zeros.svg"), (800, 600)).contains("no finite values"));
    lines(&dir.path().join("none.png"), &[], &LinesFigure::default()).unwrap();
    assert!(svg_text_of_lines_without_curves(dir.path()).contains("no curves"));

    let (gx, gy, mut z) = bowl();
    z[[10, 7]] = 0.0;
    z[[11, 7]] = -1.0;
    let g = ValueGrid::new(&gx, &gy, z.view()).unwrap();
    let h = HeatmapFigure {
        log_scale: true,
        ..HeatmapFigure::default()
    };
    heatmap(&dir.path().join("hlog.png"), &g, &h).unwrap();
    heatmap(&dir.path().join("hlog.svg"), &g, &h).unwrap();
    let cells = HeatmapFigure {
        log_scale: true,
        shading: Shading::Cells,
        ..HeatmapFigure::default()
    };
    heatmap(&dir.path().join("hlog_cells.png"), &g, &cells).unwrap();
}

fn svg_text_of_lines_without_curves(dir: &Path) -> String {
    lines(&dir.join("none.svg"), &[], &LinesFigure::default()).unwrap();
    svg_text(&dir.join("none.svg"), (800, 600))
}

#[test]
fn maps_of_a_bowl_with_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, z) = bowl();
    let g = ValueGrid::new(&x, &y, z.view()).unwrap();
    let c = ContourFigure {
        title: "Bowl Contours".into(),
        x_label: "alpha".into(),
        y_label: "beta".into(),
        levels: Levels::Linear {
            min: 0.1,
            max: 2.0,
            step: 0.25,
            log_above: true,
        },
        size: (700, 500),
        ..ContourFigure::default()
    };
    contour(&dir.path().join("c.png"), &g, &c).unwrap();
    assert_eq!(png_size(&dir.path().join("c.png")), (700, 500));
    contour(&dir.path().join("c.svg"), &g, &c).unwrap();
    let text = svg_text(&dir.path().join("c.svg"), (700, 500));
    assert!(text.contains("Bowl Contours") && text.contains("alpha") && text.contains("beta"));
    // Some level is written on its line.
    assert!(
        text.contains("0.35") || text.contains("0.6") || text.contains("0.85"),
        "{text}"
    );

    let h = HeatmapFigure {
        title: "Bowl Heat".into(),
        colorbar_label: "train loss".into(),
        ..HeatmapFigure::default()
    };
    heatmap(&dir.path().join("h.png"), &g, &h).unwrap();
    heatmap(&dir.path().join("h.svg"), &g, &h).unwrap();
    let text = svg_text(&dir.path().join("h.svg"), (800, 600));
    assert!(
        text.contains("Bowl Heat") && text.contains("train loss") && text.contains("no value"),
        "{text}"
    );

    let s = SurfaceFigure {
        title: "Bowl 3D".into(),
        z_range: Some((0.0, 1.5)),
        ..SurfaceFigure::default()
    };
    surface3d(&dir.path().join("s.png"), &g, &s).unwrap();
    assert_eq!(png_size(&dir.path().join("s.png")), (800, 600));
    surface3d(&dir.path().join("s.svg"), &g, &s).unwrap();
    let text = svg_text(&dir.path().join("s.svg"), (800, 600));
    assert!(text.contains("Bowl 3D") && text.contains("loss"));
}

#[test]
fn degenerate_grids_draw_notes_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let y = linspace(0.0, 1.0, 5);
    let one = Array2::from_shape_fn((1, 5), |(_, j)| j as f64);
    let g = ValueGrid::new(&[0.25], &y, one.view()).unwrap();
    contour(&dir.path().join("c1.svg"), &g, &ContourFigure::default()).unwrap();
    assert!(svg_text(&dir.path().join("c1.svg"), (800, 600)).contains("too few grid points"));
    heatmap(&dir.path().join("h1.png"), &g, &HeatmapFigure::default()).unwrap();
    surface3d(&dir.path().join("s1.png"), &g, &SurfaceFigure::default()).unwrap();
    trajectory(
        &dir.path().join("t1.png"),
        Some(&g),
        &PlanePath::default(),
        &TrajectoryFigure::default(),
    )
    .unwrap();

    let x = linspace(0.0, 1.0, 6);
    let nan = Array2::from_elem((6, 5), f64::NAN);
    let g = ValueGrid::new(&x, &y, nan.view()).unwrap();
    for (name, result) in [
        (
            "c.svg",
            contour(&dir.path().join("c.svg"), &g, &ContourFigure::default()),
        ),
        (
            "h.svg",
            heatmap(&dir.path().join("h.svg"), &g, &HeatmapFigure::default()),
        ),
        (
            "s.svg",
            surface3d(&dir.path().join("s.svg"), &g, &SurfaceFigure::default()),
        ),
    ] {
        result.unwrap();
        assert!(
            svg_text(&dir.path().join(name), (800, 600)).contains("no finite values"),
            "{name}"
        );
    }
    heatmap(
        &dir.path().join("h.png"),
        &g,
        &HeatmapFigure::eigenvalue_ratio(),
    )
    .unwrap();

    // A single point.
    let single = Array2::from_elem((1, 1), 3.0);
    let g = ValueGrid::new(&[0.0], &[0.0], single.view()).unwrap();
    contour(&dir.path().join("p.png"), &g, &ContourFigure::default()).unwrap();
    heatmap(&dir.path().join("p.png"), &g, &HeatmapFigure::default()).unwrap();
    surface3d(&dir.path().join("p.png"), &g, &SurfaceFigure::default()).unwrap();
}

#[test]
fn trajectory_over_contours() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, z) = bowl();
    let g = ValueGrid::new(&x, &y, z.view()).unwrap();
    let px = [-0.9, -0.6, f64::NAN, -0.2, 0.1, 0.25, 0.3];
    let py = [0.6, 0.4, 0.3, 0.2, 0.05, 0.01, 0.0];
    let t = PlanePath {
        x: &px,
        y: &py,
        lr_decay: &[3, 5],
    };
    let f = TrajectoryFigure {
        title: "Path Title".into(),
        x_label: explained_variance_label(1, 0.7231),
        y_label: explained_variance_label(2, 0.1544),
        ..TrajectoryFigure::default()
    };
    trajectory(&dir.path().join("t.png"), Some(&g), &t, &f).unwrap();
    assert_eq!(png_size(&dir.path().join("t.png")), (800, 600));
    trajectory(&dir.path().join("t.svg"), Some(&g), &t, &f).unwrap();
    let text = svg_text(&dir.path().join("t.svg"), (800, 600));
    for label in [
        "Path Title",
        "1st PC: 72.31 %",
        "2nd PC: 15.44 %",
        "learning-rate decay",
        "start",
    ] {
        assert!(text.contains(label), "missing {label:?}");
    }
    // A path alone, far outside any surface.
    let far = [10.0, 12.0];
    trajectory(
        &dir.path().join("alone.png"),
        None,
        &PlanePath {
            x: &far,
            y: &far,
            lr_decay: &[],
        },
        &f,
    )
    .unwrap();
}

/// The cell at (x[1], y[2]) of a 2 x 3 grid is the only high one: it must be drawn right
/// (x is horizontal) and at the top (y grows upwards).
#[test]
fn heat_map_orientation() {
    let dir = tempfile::tempdir().unwrap();
    let mut z = Array2::zeros((2, 3));
    z[[1, 2]] = 1.0;
    let g = ValueGrid::new(&[0.0, 1.0], &[0.0, 1.0, 2.0], z.view()).unwrap();
    let fig = HeatmapFigure {
        range: Some((0.0, 1.0)),
        shading: Shading::Cells,
        colormap: Colormap::Viridis,
        ..HeatmapFigure::default()
    };
    let path = dir.path().join("o.png");
    heatmap(&path, &g, &fig).unwrap();
    let (w, rgb) = png_pixels(&path);
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    };
    // The plot area spans roughly x 90..650 and y 40..540 of 800 x 600; sample well inside cells.
    let yellowish = |(r, g, b): (u8, u8, u8)| r > 200 && g > 180 && b < 100;
    let purple = |(r, g, b): (u8, u8, u8)| r < 100 && g < 40 && b > 60;
    assert!(yellowish(px(520, 110)), "top right {:?}", px(520, 110));
    assert!(purple(px(200, 110)), "top left {:?}", px(200, 110));
    assert!(purple(px(520, 460)), "bottom right {:?}", px(520, 460));
    assert!(purple(px(200, 460)), "bottom left {:?}", px(200, 460));
}

#[test]
fn bad_inputs_are_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, z) = bowl();
    let g = ValueGrid::new(&x, &y, z.view()).unwrap();
    let e = contour(&dir.path().join("a.jpg"), &g, &ContourFigure::default()).unwrap_err();
    assert!(matches!(e, Error::UnsupportedFormat { .. }), "{e}");
    assert!(e.to_string().contains("a.jpg"));

    let short = [1.0];
    let e = lines(
        &dir.path().join("a.png"),
        &[Curve::new("bad", &x, &short)],
        &LinesFigure::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("21 x values but 1 y values"), "{e}");

    let e = heatmap(
        &dir.path().join("a.png"),
        &g,
        &HeatmapFigure {
            shading: Shading::Bands(1),
            ..HeatmapFigure::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("bands"), "{e}");
    let e = heatmap(
        &dir.path().join("a.png"),
        &g,
        &HeatmapFigure {
            range: Some((1.0, 1.0)),
            ..HeatmapFigure::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("colour range"), "{e}");
    let e = heatmap(
        &dir.path().join("a.png"),
        &g,
        &HeatmapFigure {
            range: Some((0.0, 1.0)),
            log_scale: true,
            ..HeatmapFigure::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("positive"), "{e}");

    let bad_levels = ContourFigure {
        levels: Levels::Linear {
            min: 0.0,
            max: 1.0,
            step: -0.1,
            log_above: false,
        },
        ..ContourFigure::default()
    };
    assert!(contour(&dir.path().join("a.png"), &g, &bad_levels).is_err());

    let p = [0.0, 1.0];
    let e = trajectory(
        &dir.path().join("a.png"),
        None,
        &PlanePath {
            x: &p,
            y: &p,
            lr_decay: &[2],
        },
        &TrajectoryFigure::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("index 2"), "{e}");

    let e = surface3d(
        &dir.path().join("a.png"),
        &g,
        &SurfaceFigure {
            size: (10, 10),
            ..SurfaceFigure::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("10x10"), "{e}");

    // Nothing was written, not even a temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // A missing folder is created, as by every atomic write of the project (losscape-core's
    // fsio), and only the figure is left in it.
    let missing = dir.path().join("no/such/dir/f.png");
    contour(&missing, &g, &ContourFigure::default()).unwrap();
    let left: Vec<_> = std::fs::read_dir(missing.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["f.png"]);
    // A folder where the file should go is an error naming it, and nothing is written.
    let folder = dir.path().join("g.png");
    std::fs::create_dir(&folder).unwrap();
    let e = contour(&folder, &g, &ContourFigure::default()).unwrap_err();
    assert!(e.to_string().contains("g.png"), "{e}");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
}

#[test]
fn an_existing_file_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.svg");
    std::fs::write(&path, "old").unwrap();
    let (x, y, z) = bowl();
    let g = ValueGrid::new(&x, &y, z.view()).unwrap();
    contour(
        &path,
        &g,
        &ContourFigure {
            title: "New".into(),
            ..ContourFigure::default()
        },
    )
    .unwrap();
    assert!(svg_text(&path, (800, 600)).contains("New"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn extreme_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let x = [0.0, 1.0, 2.0, 3.0];
    let y = [f64::MAX, -f64::MAX, 1e-300, 1e300];
    let fig = LinesFigure::default();
    lines(
        &dir.path().join("a.png"),
        &[Curve::new("huge", &x, &y)],
        &fig,
    )
    .unwrap();
    let log = LinesFigure {
        log_loss: true,
        ..LinesFigure::default()
    };
    lines(
        &dir.path().join("b.png"),
        &[Curve::new("huge", &x, &y)],
        &log,
    )
    .unwrap();

    let gx = linspace(-1.0, 1.0, 5);
    let z = Array2::from_shape_fn(
        (5, 5),
        |(i, j)| if (i + j) % 2 == 0 { 1e300 } else { -1e-300 },
    );
    let g = ValueGrid::new(&gx, &gx, z.view()).unwrap();
    contour(
        &dir.path().join("c.png"),
        &g,
        &ContourFigure {
            levels: Levels::original(),
            ..ContourFigure::default()
        },
    )
    .unwrap();
    contour(&dir.path().join("d.png"), &g, &ContourFigure::default()).unwrap();
    heatmap(
        &dir.path().join("e.png"),
        &g,
        &HeatmapFigure {
            log_scale: true,
            ..HeatmapFigure::default()
        },
    )
    .unwrap();
    surface3d(&dir.path().join("f.png"), &g, &SurfaceFigure::default()).unwrap();
    let far = [1e300, -1e300];
    trajectory(
        &dir.path().join("g.png"),
        Some(&g),
        &PlanePath {
            x: &far,
            y: &far,
            lr_decay: &[1],
        },
        &TrajectoryFigure::default(),
    )
    .unwrap();
}
