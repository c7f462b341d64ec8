//! `losscape plot` on small surface files written through the landscape API: gaps in 1D lines,
//! axis names from the header, --svg twins, Hessian maps with loss contours and unconverged
//! points, --vmin/--vmax on contours and 3D surfaces, and errors for bad arguments.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use losscape::landscape::{Axis, Grid, Shard, Surface, SurfaceHeader};
use support::{losscape, run_ok};

/// Writes a complete surface over `grid` whose point `i` gets `values(i)` for `arrays`.
fn write_surface(path: &Path, grid: Grid, method: &str, arrays: &[&str], values: impl Fn(usize) -> Vec<f64>) {
    let mut header = SurfaceHeader::new(grid, arrays.iter().map(|s| s.to_string()).collect());
    header.method = method.into();
    let mut s = Surface::new(header).unwrap();
    let run = s.begin_run(Shard::all());
    for i in 0..s.len() {
        s.set_point(i, &values(i), run).unwrap();
    }
    s.save(path).unwrap();
}

/// The text of an SVG file, checked to be one `<svg>` element.
fn svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", path.display());
    text
}

fn plot(args: &[&str]) -> String {
    run_ok(losscape().arg("plot").args(args))
}

fn s(p: &PathBuf) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_diverged_line_is_a_gap_and_svg_twins_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let line = dir.path().join("line.surface");
    // 11 points; the last three diverged: loss NaN while the accuracy reads a finite 10%.
    let grid = Grid { x: Axis::new(-0.5, 1.5, 11).unwrap(), y: None };
    write_surface(&line, grid, "random norm=filter ignore=biasbn scope=weights seed=1", &["train_loss", "train_acc"], |i| {
        if i >= 8 {
            vec![f64::NAN, 10.0]
        } else {
            vec![0.1 + i as f64 * 0.1, 90.0 - i as f64]
        }
    });
    let png = dir.path().join("line.png");
    plot(&[s(&line), "--kind", "line", "--log", "--title", "t", "--out", s(&png), "--svg"]);
    assert!(png.is_file());
    let text = svg(&dir.path().join("line.svg"));
    assert!(text.contains("3 points not finite (gap)"), "{text}");
    assert!(text.contains("filter-normalized direction"), "{text}");
    // --xlabel overrides the name from the header; an .svg --out writes SVG alone.
    let only = dir.path().join("only.svg");
    plot(&[s(&line), "--xlabel", "my alpha", "--out", s(&only)]);
    assert!(svg(&only).contains("my alpha"));
    assert!(!dir.path().join("only.png").exists());
}

#[test]
fn hessian_maps_carry_loss_contours_and_unconverged_marks() {
    let dir = tempfile::tempdir().unwrap();
    let hess = dir.path().join("h.surface");
    let loss = dir.path().join("l.surface");
    let g = |n| Grid { x: Axis::new(-1.0, 1.0, n).unwrap(), y: Some(Axis::new(-1.0, 1.0, n).unwrap()) };
    let method = "random norm=filter ignore=biasbn scope=weights seed=1";
    write_surface(&hess, g(5), method, &["min_eig", "max_eig", "abs_ratio", "hvps", "converged"], |i| {
        let ratio = 0.15 * (i % 5) as f64; // up to 0.6: above the 0..0.5 range
        let converged = if i == 3 || i == 17 { 0.0 } else { 1.0 };
        vec![-ratio, 1.0, ratio, 20.0, converged]
    });
    write_surface(&loss, g(9), method, &["train_loss", "train_acc"], |i| {
        let (a, b) = ((i / 9) as f64 / 4.0 - 1.0, (i % 9) as f64 / 4.0 - 1.0);
        vec![0.1 + a * a + 2.0 * b * b, 90.0]
    });
    let out = dir.path().join("ratio.svg");
    plot(&[s(&hess), "--kind", "heatmap", "--array", "abs_ratio", "--vmin", "0", "--vmax", "0.5", "--contours-from", s(&loss), "--out", s(&out)]);
    let text = svg(&out);
    for key in ["not converged (2)", "&gt; 0.5", "train loss", "filter-normalized direction 2"] {
        assert!(text.contains(key), "missing {key:?}");
    }
    // Without a loss surface the map still marks what it knows.
    plot(&[s(&hess), "--kind", "heatmap", "--out", s(&out)]);
    assert!(svg(&out).contains("not converged (2)"));
    // A file without the contour array is an error naming it.
    let bad = losscape()
        .args(["plot", s(&hess), "--kind", "heatmap", "--own-contours", "--out", s(&out)])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("train_loss"));
}

#[test]
fn contours_and_surfaces_take_the_value_range() {
    let dir = tempfile::tempdir().unwrap();
    let surf = dir.path().join("s.surface");
    let grid = Grid { x: Axis::new(-1.0, 1.0, 11).unwrap(), y: Some(Axis::new(-1.0, 1.0, 11).unwrap()) };
    write_surface(&surf, grid, "direction file /nonexistent/dirs.safetensors", &["train_loss"], |i| {
        let (a, b) = ((i / 11) as f64 / 5.0 - 1.0, (i % 11) as f64 / 5.0 - 1.0);
        vec![0.1 + 20.0 * (a * a + b * b)]
    });
    let out = dir.path().join("c.svg");
    plot(&[s(&surf), "--kind", "contour", "--vmin", "0", "--vmax", "5", "--out", s(&out)]);
    let text = svg(&out);
    // Levels stop at 5 (the original levels are 0.1, 0.6, ... then decades; 10 is above the range).
    assert!(text.contains("direction 1") && text.contains("\n4.6\n") && !text.contains("\n10\n"), "{text}");
    let out3 = dir.path().join("s.png");
    plot(&[s(&surf), "--kind", "surface3d", "--vmin", "0", "--vmax", "10", "--out", s(&out3), "--svg"]);
    assert!(svg(&dir.path().join("s.svg")).contains("cut above 10"));
    // --vmin above --vmax and an unknown extension are one-line errors.
    for args in [vec!["--vmin", "3", "--vmax", "1", "--out", s(&out)], vec!["--out", "x.jpg"]] {
        let o = losscape().arg("plot").arg(&surf).args(&args).stderr(Stdio::piped()).output().unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "{err}");
    }
}

/// The pixel size of a PNG file (from its IHDR chunk).
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[1..4], b"PNG", "{}", path.display());
    (u32::from_be_bytes(b[16..20].try_into().unwrap()), u32::from_be_bytes(b[20..24].try_into().unwrap()))
}

#[test]
fn html_views_sizes_angles_and_level_spacing() {
    let dir = tempfile::tempdir().unwrap();
    let surf = dir.path().join("s.surface");
    let grid = Grid { x: Axis::new(-1.0, 1.0, 5).unwrap(), y: Some(Axis::new(-0.5, 0.5, 3).unwrap()) };
    // Value at (a, b) = 1 + a + 10 b; one point diverged.
    write_surface(&surf, grid, "random norm=filter ignore=biasbn scope=weights seed=1", &["train_loss"], |i| {
        let (a, b) = ((i / 3) as f64 / 2.0 - 1.0, (i % 3) as f64 / 2.0 - 0.5);
        vec![if i == 14 { f64::NAN } else { 1.0 + a + 10.0 * b }]
    });

    // The interactive view: one file with the viewer and the values, rows by b, gaps as null.
    let page = dir.path().join("s.html");
    plot(&[s(&surf), "--out", s(&page), "--vmax", "5", "--title", "plane"]);
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("LosscapeViewer.mount(") && text.contains("function mount(el, data)"));
    assert!(text.contains("\"x\":[-1,-0.5,0,0.5,1],\"y\":[-0.5,0,0.5]"), "{text}");
    assert!(text.contains("\"z\":[[-5,-4.5,-4,-3.5,-3],[0,0.5,1,1.5,2],[5,5.5,6,6.5,null]]"), "{text}");
    assert!(text.contains("\"label\":\"train_loss\",\"title\":\"plane\",\"vmax\":5}"));
    plot(&[s(&surf), "--kind", "html", "--azimuth", "-60", "--out", s(&page)]);
    assert!(std::fs::read_to_string(&page).unwrap().contains(",\"vmax\":null,\"view\":[-60,30]}"));
    assert!(!text.contains("https://") && !text.contains("http://"), "no network");

    // Width, height and scale of PNG figures; SVG takes width and height only.
    let png = dir.path().join("c.png");
    plot(&[s(&surf), "--width", "500", "--height", "400", "--scale", "2", "--out", s(&png), "--svg"]);
    assert_eq!(png_size(&png), (1000, 800));
    assert!(svg(&dir.path().join("c.svg")).contains("width=\"500\" height=\"400\""));

    // Azimuth and elevation turn the 3D figure.
    let (a, b) = (dir.path().join("a.svg"), dir.path().join("b.svg"));
    plot(&[s(&surf), "--kind", "surface3d", "--out", s(&a)]);
    plot(&[s(&surf), "--kind", "surface3d", "--azimuth", "-60", "--elevation", "10", "--out", s(&b)]);
    assert_ne!(svg(&a), svg(&b));

    // --vlevel spaces contour levels from --vmin: 0, 0.75, 1.5, ... below 6.
    let c = dir.path().join("v.svg");
    plot(&[s(&surf), "--kind", "contour", "--vmin", "0", "--vmax", "6", "--vlevel", "0.75", "--out", s(&c)]);
    let text = svg(&c);
    // Labelled in one format (one decimal): 3.75 and 5.25 read 3.8 and 5.2, which the default
    // levels (0.1, 0.6, ..., 5.1, 5.6) do not have.
    assert!(text.contains("\n3.8\n") && text.contains("\n5.2\n") && !text.contains("\n5.1\n"), "{text}");

    // Misuse is a one-line error.
    for args in [
        vec!["--kind", "html", "--out", "x.png"],
        vec!["--kind", "line", "--vlevel", "0.5", "--out", "x.png"],
        vec!["--kind", "contour", "--azimuth", "30", "--out", "x.png"],
        vec!["--scale", "9", "--out", "x.png"],
        vec!["--kind", "contour", "--vlevel", "-1", "--out", "x.png"],
    ] {
        let o = losscape().arg("plot").arg(&surf).args(&args).current_dir(dir.path()).stderr(Stdio::piped()).output().unwrap();
        assert!(!o.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "{args:?}: {err}");
    }
}
