//! Interactive surfaces in the browser: one self-contained HTML file per surface (the viewer
//! `viewer.js` and the values inlined; no library, no network, works from `file://`), with
//! rotation, zoom, hover read-out of (a, b, value), a log-scale toggle and a cut-off.
//! [`surface_json`] gives the values in the viewer's format for pages that hold several views.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::grid::ValueGrid;
use crate::output::write_atomic;

/// The viewer script (plain JavaScript, no dependencies): `LosscapeViewer.mount(element, data)`.
pub const VIEWER_JS: &str = include_str!("viewer.js");

/// Options of an interactive surface page.
#[derive(Clone, Debug, PartialEq)]
pub struct HtmlFigure {
    /// Page and view title.
    pub title: String,
    /// What the values are (`train_loss`): the hover read-out and the colour bar name it.
    pub label: String,
    /// Values above this are cut off (shown at it) until the reader changes it; `None`: no cut.
    pub vmax: Option<f64>,
    /// Size of the view in CSS pixels.
    pub size: (u32, u32),
    /// Initial view angles in degrees (azimuth, elevation); `None`: the viewer's (35, 30).
    pub view: Option<(f64, f64)>,
}

impl Default for HtmlFigure {
    fn default() -> Self {
        Self { title: String::new(), label: "loss".into(), vmax: None, size: (900, 650), view: None }
    }
}

/// A number in the viewer's data: the shortest text that reads back as the same f32 (enough
/// for a picture, about a third of the f64 text), `null` for a missing or non-finite value.
fn number(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{}", v as f32);
    } else {
        out.push_str("null");
    }
}

/// A JSON string literal (also safe inside a `<script>` element).
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The grid as the viewer's data object: `{"x": [...], "y": [...], "z": [[row at y0], ...],
/// "label": ..., "title": ..., "vmax": ...}` with `z[j][i]` the value at `(x[i], y[j])`.
pub fn surface_json(grid: &ValueGrid, fig: &HtmlFigure) -> String {
    let mut out = String::from("{\"x\":[");
    for (i, &x) in grid.x().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        number(&mut out, x);
    }
    out.push_str("],\"y\":[");
    for (j, &y) in grid.y().iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        number(&mut out, y);
    }
    out.push_str("],\"z\":[");
    let z = grid.z();
    for j in 0..grid.ny() {
        out.push_str(if j > 0 { ",[" } else { "[" });
        for i in 0..grid.nx() {
            if i > 0 {
                out.push(',');
            }
            number(&mut out, z[[i, j]]);
        }
        out.push(']');
    }
    let _ = write!(out, "],\"label\":{},\"title\":{}", json_string(&fig.label), json_string(&fig.title));
    out.push_str(",\"vmax\":");
    match fig.vmax {
        Some(v) => number(&mut out, v),
        None => out.push_str("null"),
    }
    if let Some((az, el)) = fig.view {
        out.push_str(",\"view\":[");
        number(&mut out, az);
        out.push(',');
        number(&mut out, el);
        out.push(']');
    }
    out.push('}');
    out
}

/// The CSS the viewer's controls use (also on the figure page).
pub const VIEWER_CSS: &str = ".lv-bar{font:13px sans-serif;margin:4px 0}.lv-bar label{margin-right:1em}.lv-readout{margin-left:1em;font-family:monospace}.lv-canvas{width:100%;height:100%;min-height:300px;border:1px solid #ddd;cursor:grab;display:block}";

/// The whole page: the viewer, the values and a one-line mount, in one file.
pub fn surface_page(grid: &ValueGrid, fig: &HtmlFigure) -> Result<String> {
    let (w, h) = fig.size;
    if !(200..=8192).contains(&w) || !(150..=8192).contains(&h) {
        return Err(Error::invalid(format!("view size {w}x{h} is out of range (200..=8192 by 150..=8192 pixels)")));
    }
    let title = fig.title.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>body{{font-family:sans-serif;margin:1em}}#view{{width:{w}px;max-width:100%}}#view .lv-canvas{{height:{h}px}}{VIEWER_CSS}</style>\n</head><body>\n<h1 style=\"font-size:1.2em\">{title}</h1>\n<div id=\"view\"></div>\n<script>\n{VIEWER_JS}\n</script>\n<script>\nLosscapeViewer.mount(document.getElementById(\"view\"), {});\n</script>\n</body></html>\n",
        surface_json(grid, fig)
    ))
}

/// Writes [`surface_page`] to `path` (whole: a temporary file renamed over it).
pub fn html(path: &Path, grid: &ValueGrid, fig: &HtmlFigure) -> Result<()> {
    write_atomic(path, surface_page(grid, fig)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn values_go_row_by_row_with_gaps_as_null() {
        let x = [-1.0, 0.0, 1.0];
        let y = [0.0, 0.5];
        let mut z = Array2::from_shape_fn((3, 2), |(i, j)| x[i] * x[i] + 10.0 * y[j] + 0.1);
        z[[2, 1]] = f64::NAN;
        let grid = ValueGrid::new(&x, &y, z.view()).unwrap();
        let fig = HtmlFigure { title: "a <b> \"c\"".into(), vmax: Some(10.0), ..HtmlFigure::default() };
        let json = surface_json(&grid, &fig);
        assert_eq!(
            json,
            "{\"x\":[-1,0,1],\"y\":[0,0.5],\"z\":[[1.1,0.1,1.1],[6.1,5.1,null]],\"label\":\"loss\",\"title\":\"a \\u003cb\\u003e \\\"c\\\"\",\"vmax\":10}"
        );
        let page = surface_page(&grid, &fig).unwrap();
        assert!(page.contains("LosscapeViewer.mount(") && page.contains(&json));
        assert!(page.contains("<title>a &lt;b&gt; \"c\"</title>"));
        assert!(!page.contains("http://") && !page.contains("https://"), "no network");
        let dir = tempfile::tempdir().unwrap();
        html(&dir.path().join("s.html"), &grid, &fig).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("s.html")).unwrap(), page);
        let turned = HtmlFigure { view: Some((-60.0, 10.0)), ..fig.clone() };
        assert!(surface_json(&grid, &turned).ends_with("\"vmax\":10,\"view\":[-60,10]}"));
        let small = HtmlFigure { size: (10, 10), ..fig };
        assert!(surface_page(&grid, &small).unwrap_err().to_string().contains("out of range"));
    }
}
