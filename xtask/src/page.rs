//! The figure page `index.html` of a figure folder (docs/figures): a contents bar by family,
//! figures that open at full size, captions with the numbers behind them, REPORT.md rendered on
//! the page, and every 2D loss surface as an interactive 3D view (rotate, zoom, hover for
//! (a, b, loss), log-scale toggle) drawn from the surface's own values by losscape-plot's
//! canvas viewer. Everything lies in the folder (`viewer.js`, `data/*.js`), with no library and
//! no network, so the page works from `file://`.
//!
//! The page is rebuilt from what the folder holds (`captions.tsv`, `REPORT.md`, `data/`) by
//! `cargo xtask page`, which also fills `data/` from a figures cache's CSV exports when given one,
//! so it needs no rerun of the hour-long pipeline. `cargo xtask figures` writes it the same way.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The viewer script, shared with `losscape plot --kind html`.
pub const VIEWER_JS: &str = include_str!("../../crates/losscape-plot/src/viewer.js");

/// Short names of the families for the contents bar.
const SHORT: [(&str, &str); 8] = [
    ("a", "interpolation"),
    ("b", "filter normalization"),
    ("c", "weight norm"),
    ("d", "depth"),
    ("e", "width"),
    ("f", "Hessian ratio maps"),
    ("g", "trajectories"),
    ("h", "Hessian spectrum"),
];

/// The families in page order, with their titles.
pub const FAMILIES: [(&str, &str); 8] = [
    ("a", "1D interpolation between small- and large-batch minimizers"),
    ("b", "Filter normalization: 1D lines and 2D contours of the same minimizers"),
    ("c", "Weight norm during training"),
    ("d", "Depth with and without shortcuts"),
    ("e", "Width with and without shortcuts"),
    ("f", "Hessian eigenvalue-ratio maps"),
    ("g", "Optimization trajectories"),
    ("h", "The whole Hessian spectrum and its eigenvector planes"),
];

/// One figure of the page: its file, caption and, for a 2D loss surface, the name of the
/// surface whose values back its interactive view.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub file: String,
    pub caption: String,
    pub surface: Option<String>,
}

impl Entry {
    /// The family letter (the file name's first part, `d` for `d-resnet20-3d.png`).
    pub fn family(&self) -> &str {
        self.file.split('-').next().unwrap_or("")
    }

    fn stem(&self) -> &str {
        self.file.rsplit_once('.').map_or(self.file.as_str(), |(s, _)| s)
    }
}

/// A 2D surface's values: `z[j][i]` at `(x[i], y[j])`, `None` where missing or not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Values {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub z: Vec<Vec<Option<f64>>>,
    pub label: String,
}

impl Values {
    /// Reads one array of a surface's CSV export (`x,y,<arrays...>,done`); rows whose `done` is 0
    /// are missing values. `None` when the export is 1D.
    pub fn from_csv(text: &str, array: &str) -> Result<Option<Values>> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().context("empty CSV")?.split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(cx), Some(cy), Some(cv)) = (col("x"), col("y"), col(array)) else {
            return Ok(None);
        };
        let cd = col("done");
        let mut rows = Vec::new();
        for (k, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            let get = |c: usize| -> Result<f64> {
                let t = f.get(c).with_context(|| format!("row {}: too few columns", k + 2))?;
                t.trim().parse::<f64>().with_context(|| format!("row {}: '{t}' is not a number", k + 2))
            };
            let done = match cd {
                Some(c) => get(c)? != 0.0,
                None => true,
            };
            let v = get(cv)?;
            rows.push((get(cx)?, get(cy)?, (done && v.is_finite()).then_some(v)));
        }
        let axis = |pick: fn(&(f64, f64, Option<f64>)) -> f64| {
            let mut a: Vec<f64> = rows.iter().map(pick).collect();
            a.sort_by(f64::total_cmp);
            a.dedup();
            a
        };
        let (x, y) = (axis(|r| r.0), axis(|r| r.1));
        if y.len() < 2 || x.len() < 2 {
            return Ok(None);
        }
        if rows.len() != x.len() * y.len() {
            bail!("{} rows for a {} x {} grid", rows.len(), x.len(), y.len());
        }
        let mut z = vec![vec![None; x.len()]; y.len()];
        for (a, b, v) in rows {
            let i = x.binary_search_by(|p| p.total_cmp(&a)).expect("x from the rows");
            let j = y.binary_search_by(|p| p.total_cmp(&b)).expect("y from the rows");
            z[j][i] = v;
        }
        Ok(Some(Values { x, y, z, label: array.to_owned() }))
    }

    /// The viewer's data object as JSON (numbers as the shortest f32 text).
    pub fn to_json(&self, title: &str, vmax: Option<f64>) -> String {
        let num = |v: f64| -> String { if v.is_finite() { format!("{}", v as f32) } else { "null".into() } };
        let list = |v: &[f64]| v.iter().map(|&t| num(t)).collect::<Vec<_>>().join(",");
        let rows: Vec<String> =
            self.z.iter().map(|r| format!("[{}]", r.iter().map(|v| v.map_or("null".into(), num)).collect::<Vec<_>>().join(","))).collect();
        format!(
            "{{\"x\":[{}],\"y\":[{}],\"z\":[{}],\"label\":{},\"title\":{},\"vmax\":{}}}",
            list(&self.x),
            list(&self.y),
            rows.join(","),
            serde_json::Value::from(self.label.as_str()),
            serde_json::Value::from(title),
            vmax.map_or("null".into(), num)
        )
    }

    /// Reads the JSON that [`to_json`](Values::to_json) wrote.
    pub fn from_json(text: &str) -> Result<Values> {
        let v: serde_json::Value = serde_json::from_str(text)?;
        let nums = |key: &str| -> Result<Vec<f64>> {
            v[key].as_array().with_context(|| format!("no '{key}'"))?.iter().map(|t| t.as_f64().context("not a number")).collect()
        };
        let z = v["z"]
            .as_array()
            .context("no 'z'")?
            .iter()
            .map(|r| Ok(r.as_array().context("a row of z is not a list")?.iter().map(|t| t.as_f64()).collect()))
            .collect::<Result<Vec<Vec<Option<f64>>>>>()?;
        Ok(Values { x: nums("x")?, y: nums("y")?, z, label: v["label"].as_str().unwrap_or("loss").to_owned() })
    }

    /// The numbers a caption quotes: the value at (0, 0), the minimum and where, the maximum,
    /// the grid and how many points are missing.
    pub fn summary(&self) -> String {
        let mut min: Option<(f64, f64, f64)> = None;
        let (mut max, mut missing) = (f64::NEG_INFINITY, 0);
        let mut centre = None;
        for (j, row) in self.z.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                let Some(v) = *v else {
                    missing += 1;
                    continue;
                };
                if min.is_none_or(|m| v < m.0) {
                    min = Some((v, self.x[i], self.y[j]));
                }
                max = max.max(v);
                if self.x[i].abs() < 1e-12 && self.y[j].abs() < 1e-12 {
                    centre = Some(v);
                }
            }
        }
        let mut s = format!("{} x {} points", self.x.len(), self.y.len());
        if let Some(c) = centre {
            let _ = write!(s, "; {} at (0, 0) {}", self.label, sig(c));
        }
        if let Some((v, a, b)) = min {
            let _ = write!(s, "; minimum {} at ({}, {}); maximum {}", sig(v), sig(a), sig(b), sig(max));
        }
        if missing > 0 {
            let _ = write!(s, "; {missing} point(s) missing or not finite");
        }
        s
    }
}

/// Four significant digits, without trailing noise.
fn sig(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let t = format!("{v:.decimals$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        t
    }
}

/// Reads `captions.tsv` (`file<TAB>caption[<TAB>surface]` per line).
pub fn read_captions(dir: &Path) -> Result<Vec<Entry>> {
    let path = dir.join("captions.tsv");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let file = parts.next().unwrap_or("").to_owned();
            let caption = parts.next().unwrap_or("").to_owned();
            let surface = parts.next().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
            Entry { file, caption, surface }
        })
        .collect())
}

/// Writes `captions.tsv`.
pub fn write_captions(dir: &Path, entries: &[Entry]) -> Result<()> {
    let text: String = entries
        .iter()
        .map(|e| match &e.surface {
            Some(s) => format!("{}\t{}\t{s}\n", e.file, e.caption),
            None => format!("{}\t{}\n", e.file, e.caption),
        })
        .collect();
    fs::write(dir.join("captions.tsv"), text)?;
    Ok(())
}

/// The surface behind a figure of a set made before figures recorded it, by the pipeline's
/// naming (b-2d-filter-RUN: plane-pcK-RUN; d-MODEL(-contour|-3d): plane-pcK-RUN of that model;
/// d-zoom-MODEL: d-zoom-RUN; g-KIND-RUN: itself), among `names` (CSV exports without `.csv`),
/// keeping runs that `report` names and, for family d, runs with the depth family's settings
/// (`families::depth_spec`: weight decay 5e-4, the smallest batch); `None` unless exactly one fits.
pub fn resolve(stem: &str, names: &[String], report: &str) -> Option<String> {
    if stem.starts_with("g-") {
        return names.iter().find(|n| *n == stem).cloned();
    }
    let run_of_plane = |n: &str| n.strip_prefix("plane-").and_then(|r| r.split_once('-')).map(|(_, run)| run.to_owned());
    let candidates: Vec<&String> = if let Some(run) = stem.strip_prefix("b-2d-filter-") {
        names.iter().filter(|n| run_of_plane(n).as_deref() == Some(run)).collect()
    } else if let Some(model) = stem.strip_prefix("d-zoom-") {
        let model = model.trim_end_matches("-3d");
        names
            .iter()
            .filter(|n| n.strip_prefix("d-zoom-").is_some_and(|run| depth_run(run, model) && report.contains(run)))
            .collect()
    } else if let Some(model) = stem.strip_prefix("d-") {
        let model = model.trim_end_matches("-3d").trim_end_matches("-contour");
        names
            .iter()
            .filter(|n| run_of_plane(n).is_some_and(|run| depth_run(&run, model) && report.contains(&run)))
            .collect()
    } else {
        return None;
    };
    // Family d trains with the small batch: of several batches, the smallest.
    let batch = |n: &str| n.split('-').find_map(|w| w.strip_prefix('b').and_then(|b| b.parse::<u64>().ok()));
    let smallest = candidates.iter().filter_map(|n| batch(n)).min();
    let candidates: Vec<&String> = if stem.starts_with("d-") {
        candidates.into_iter().filter(|n| batch(n) == smallest).collect()
    } else {
        candidates
    };
    match candidates.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// Whether `run` is a depth-family run of `model` (weight decay 5e-4, as `depth_spec` trains).
fn depth_run(run: &str, model: &str) -> bool {
    run.strip_prefix(model).is_some_and(|rest| rest.starts_with("-b") && rest.contains("-wd0.0005-"))
}

/// The data file of a surface: `data/<name>.js`, which registers the values with the page.
fn data_file(dir: &Path, name: &str) -> PathBuf {
    dir.join("data").join(format!("{name}.js"))
}

const DATA_PREFIX: &str = "losscapeSurface(";

/// Reads the values back from a data file.
fn read_data(path: &Path) -> Result<Values> {
    let text = fs::read_to_string(path)?;
    let line = text.lines().find(|l| l.starts_with(DATA_PREFIX)).context("no losscapeSurface(...) line")?;
    let json = line.split_once(", ").map(|(_, j)| j).context("bad data line")?.trim_end_matches(");");
    Values::from_json(json).with_context(|| format!("reading {}", path.display()))
}

/// What [`build`] did.
#[derive(Debug, Default)]
pub struct Summary {
    pub figures: usize,
    pub views: usize,
    pub data_written: usize,
    pub without_view: Vec<String>,
}

/// Rebuilds `dir/index.html` and `dir/viewer.js` from `dir/captions.tsv`, `dir/REPORT.md` and the
/// surface values in `dir/data/`; values missing there are read from `surfaces` (a folder of CSV
/// exports, such as a figures cache's `surfaces/`) and written to `dir/data/` first. `clip` is the
/// views' initial cut-off (the 3D figures' own). Figures whose surface is unknown get no view.
pub fn build(dir: &Path, surfaces: Option<&Path>, clip: Option<f64>) -> Result<Summary> {
    let mut entries = read_captions(dir)?;
    let report = fs::read_to_string(dir.join("REPORT.md")).unwrap_or_default();
    let names: Vec<String> = match surfaces {
        Some(s) => {
            let mut n: Vec<String> = fs::read_dir(s)
                .with_context(|| format!("reading {}", s.display()))?
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|f| f.strip_suffix(".csv")).map(str::to_owned))
                .collect();
            n.sort();
            n
        }
        None => Vec::new(),
    };
    let mut summary = Summary { figures: entries.len(), ..Summary::default() };
    let mut values: BTreeMap<String, Values> = BTreeMap::new();
    for e in entries.iter_mut() {
        // Only loss surfaces get a view (not the line plots, the weight norms or the maps).
        // Family h's planes are loss surfaces too, named by the run that drew them (its density
        // figure names none).
        let surface_kind = (matches!(e.family(), "b" | "d" | "e" | "g") && !e.file.starts_with("b-1d"))
            || (e.family() == "h" && e.surface.is_some());
        if !surface_kind {
            // No view, so no link to values the page does not hold.
            e.surface = None;
            continue;
        }
        if e.surface.is_none() {
            let known = fs::read_dir(dir.join("data")).ok().into_iter().flatten().filter_map(|x| x.ok()).filter_map(|x| {
                x.file_name().to_str().and_then(|f| f.strip_suffix(".js")).map(str::to_owned)
            });
            let mut all: Vec<String> = names.clone();
            all.extend(known);
            all.sort();
            all.dedup();
            e.surface = resolve(e.stem(), &all, &report);
        }
        let Some(name) = e.surface.clone() else {
            summary.without_view.push(e.file.clone());
            continue;
        };
        if values.contains_key(&name) {
            continue;
        }
        let csv = surfaces.map(|s| s.join(format!("{name}.csv")));
        let v = match csv.filter(|c| c.is_file()) {
            Some(csv) => {
                let text = fs::read_to_string(&csv)?;
                let v = Values::from_csv(&text, "train_loss")
                    .with_context(|| format!("reading {}", csv.display()))?
                    .with_context(|| format!("{} is not a 2D surface with train_loss", csv.display()))?;
                fs::create_dir_all(dir.join("data"))?;
                let js = format!(
                    "// train_loss of the surface {name} (from its CSV export), for the figure page's 3D view.\n{DATA_PREFIX}{}, {});\n",
                    serde_json::Value::from(name.as_str()),
                    v.to_json(&name, None)
                );
                fs::write(data_file(dir, &name), js)?;
                summary.data_written += 1;
                v
            }
            None if data_file(dir, &name).is_file() => read_data(&data_file(dir, &name))?,
            None => {
                summary.without_view.push(e.file.clone());
                e.surface = None;
                continue;
            }
        };
        values.insert(name, v);
    }
    fs::write(dir.join("viewer.js"), VIEWER_JS)?;
    write_captions(dir, &entries)?;
    let html = page(&entries, &values, &report, clip);
    summary.views = entries.iter().filter(|e| e.surface.as_ref().is_some_and(|s| values.contains_key(s))).count();
    fs::write(dir.join("index.html"), html)?;
    Ok(summary)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An id for an HTML anchor from a file name.
fn anchor(file: &str) -> String {
    file.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect()
}

const CSS: &str = "body{font-family:sans-serif;margin:0;color:#222}
header{position:sticky;top:0;z-index:5;background:#f7f7f7;border-bottom:1px solid #ccc;padding:6px 12px}
header h1{font-size:1.1em;margin:0 0 4px 0}
nav{display:flex;flex-wrap:wrap;gap:0 1.2em}nav a{white-space:nowrap}
main{max-width:1300px;margin:auto;padding:0 12px}
section{scroll-margin-top:80px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
figure{margin:0;border:1px solid #ddd;padding:8px;background:#fff}
figure img{width:100%;cursor:zoom-in;display:block}
figcaption{font-size:0.9em;margin-top:6px}
.numbers{font-family:monospace;font-size:0.85em;color:#444;margin-top:4px}
.view{height:380px;margin-top:8px}
.view .lv-canvas{height:330px}
.links{font-size:0.85em}
#lightbox{display:none;position:fixed;inset:0;background:rgba(0,0,0,0.85);z-index:10;overflow:auto;cursor:zoom-out}
#lightbox img{display:block;margin:20px auto;max-width:none;background:#fff}
#lightbox p{color:#fff;text-align:center}
#report table{border-collapse:collapse;font-size:0.85em;margin:8px 0}
#report td,#report th{border:1px solid #ccc;padding:2px 6px}
#report code{background:#f2f2f2}
";

/// The in-page script: the lightbox, the 3D views, and a self-check the browser test reads
/// (`data-check` on `<body>`: images loaded, views drawn, canvas pixels painted, script errors).
const PAGE_JS: &str = r#"
var pageErrors = [];
window.addEventListener("error", function (e) { pageErrors.push(String(e.message)); });
var SURFACES = {};
function losscapeSurface(name, data) { SURFACES[name] = data; }
function openFull(src, caption) {
  var box = document.getElementById("lightbox");
  box.innerHTML = "";
  var img = document.createElement("img");
  img.src = src;
  img.alt = src;
  var p = document.createElement("p");
  p.textContent = caption + " (click or Esc to close)";
  box.appendChild(p);
  box.appendChild(img);
  box.style.display = "block";
}
document.addEventListener("keydown", function (e) { if (e.key === "Escape") document.getElementById("lightbox").style.display = "none"; });
function selfCheck() {
  var imgs = Array.prototype.slice.call(document.querySelectorAll("main img"));
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.getAttribute("src"); });
  var views = Array.prototype.slice.call(document.querySelectorAll(".view"));
  var blank = [];
  views.forEach(function (v) {
    var c = v.querySelector("canvas");
    var painted = 0;
    if (c && c.width > 0) {
      var d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (var k = 0; k < d.length; k += 4 * 7) if (d[k] < 200 || d[k + 1] < 200 || d[k + 2] < 200) painted++;
    }
    if (v.getAttribute("data-rendered") !== "1" || painted < 200) blank.push(v.id);
  });
  document.body.setAttribute("data-check", JSON.stringify({ images: imgs.length, broken: broken, views: views.length, blank: blank, errors: pageErrors }));
}
window.addEventListener("load", function () {
  document.querySelectorAll(".view").forEach(function (v) {
    var data = SURFACES[v.getAttribute("data-surface")];
    if (!data) { pageErrors.push("no data for " + v.getAttribute("data-surface")); return; }
    var d = Object.assign({}, data, { title: v.getAttribute("data-title"), vmax: v.hasAttribute("data-vmax") ? parseFloat(v.getAttribute("data-vmax")) : null });
    try { LosscapeViewer.mount(v, d); } catch (err) { pageErrors.push(String(err)); }
  });
  document.getElementById("lightbox").addEventListener("click", function () { this.style.display = "none"; });
  selfCheck();
});
"#;

/// The page's HTML.
fn page(entries: &[Entry], values: &BTreeMap<String, Values>, report: &str, clip: Option<f64>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>losscape figures</title>\n<style>{CSS}{}</style>\n<script src=\"viewer.js\"></script>\n<script>{PAGE_JS}</script>\n",
        "\n.lv-bar{font:13px sans-serif;margin:4px 0}.lv-bar label{margin-right:1em}.lv-readout{margin-left:1em;font-family:monospace}.lv-canvas{width:100%;border:1px solid #ddd;cursor:grab;display:block}"
    );
    for name in values.keys() {
        let _ = writeln!(h, "<script src=\"data/{}.js\"></script>", escape(name));
    }
    h.push_str("</head><body>\n<header><h1>losscape figures</h1><nav>");
    let families: Vec<(&str, &str)> = FAMILIES.iter().copied().filter(|(f, _)| entries.iter().any(|e| e.family() == *f)).collect();
    for (f, title) in &families {
        let name = SHORT.iter().find(|s| s.0 == *f).map_or(*title, |s| s.1);
        let _ = write!(h, "<a href=\"#family-{f}\" title=\"{}\">{f}. {}</a>", escape(title), escape(name));
    }
    if !report.is_empty() {
        h.push_str("<a href=\"#report\">REPORT</a>");
    }
    h.push_str("</nav></header>\n<main>\n<p>Each image opens at full size when clicked (PNG; the SVG is linked). Under each 2D loss surface, an interactive 3D view of the same values: drag to rotate, wheel to zoom, hover for (a, b, loss), log scale and cut-off in its bar.</p>\n");
    for (f, title) in &families {
        let _ = writeln!(h, "<section id=\"family-{f}\"><h2>{f}. {}</h2><div class=\"grid\">", escape(title));
        for e in entries.iter().filter(|e| e.family() == *f) {
            let id = anchor(e.stem());
            let svg = format!("{}.svg", e.stem());
            let _ = write!(
                h,
                "<figure id=\"{id}\"><a href=\"{0}\" onclick=\"openFull('{0}', this.querySelector('img').alt); return false;\"><img src=\"{0}\" alt=\"{0}\" loading=\"eager\"></a><figcaption>{1}",
                escape(&e.file),
                escape(&e.caption)
            );
            if let Some(v) = e.surface.as_ref().and_then(|s| values.get(s)) {
                let _ = write!(h, "<div class=\"numbers\">{}</div>", escape(&v.summary()));
            }
            let _ = write!(h, "<div class=\"links\"><a href=\"{}\">PNG</a> · <a href=\"{}\">SVG</a>", escape(&e.file), escape(&svg));
            if let Some(s) = &e.surface {
                let _ = write!(h, " · values: <a href=\"data/{0}.js\">data/{0}.js</a>", escape(s));
            }
            h.push_str("</div></figcaption>");
            if let Some(s) = e.surface.as_ref().filter(|s| values.contains_key(*s)) {
                let vmax = clip.map(|c| format!(" data-vmax=\"{c}\"")).unwrap_or_default();
                let _ = write!(
                    h,
                    "<div class=\"view\" id=\"view-{id}\" data-surface=\"{}\" data-title=\"{}\"{vmax}></div>",
                    escape(s),
                    escape(e.stem())
                );
            }
            h.push_str("</figure>\n");
        }
        h.push_str("</div></section>\n");
    }
    if !report.is_empty() {
        h.push_str("<section id=\"report\">\n");
        h.push_str(&markdown(report));
        h.push_str("</section>\n");
    }
    h.push_str("</main>\n<div id=\"lightbox\"></div>\n</body></html>\n");
    h
}

/// Inline markdown: `code`, **bold**, [text](link), with everything else escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`') {
            if let Some(end) = r.find('`') {
                let _ = write!(out, "<code>{}</code>", escape(&r[..end]));
                rest = &r[end + 1..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                let _ = write!(out, "<strong>{}</strong>", inline(&r[..end]));
                rest = &r[end + 2..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('[') {
            if let Some(mid) = r.find("](") {
                if let Some(end) = r[mid + 2..].find(')') {
                    let (text, link) = (&r[..mid], &r[mid + 2..mid + 2 + end]);
                    // Figure links point at the figure on this page.
                    let target = if link.ends_with(".png") && !link.contains('/') {
                        format!("#{}", anchor(link.trim_end_matches(".png")))
                    } else {
                        link.to_owned()
                    };
                    let _ = write!(out, "<a href=\"{}\">{}</a>", escape(&target), inline(text));
                    rest = &r[mid + 3 + end..];
                    continue;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The subset of markdown REPORT.md uses: headings, paragraphs, lists, tables, inline markup.
pub fn markdown(md: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() {
            i += 1;
        } else if let Some(level) = (1..=6).find(|&k| t.starts_with(&format!("{} ", "#".repeat(k)))) {
            // Headings one level below the page's.
            let l = (level + 1).min(6);
            let _ = writeln!(out, "<h{l}>{}</h{l}>", inline(t[level + 1..].trim()));
            i += 1;
        } else if t.starts_with('|') {
            out.push_str("<table>\n");
            let mut first = true;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                let row = lines[i].trim().trim_matches('|');
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                let separator = cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')));
                if !separator {
                    let tag = if first { "th" } else { "td" };
                    out.push_str("<tr>");
                    for c in cells {
                        let _ = write!(out, "<{tag}>{}</{tag}>", inline(c));
                    }
                    out.push_str("</tr>\n");
                    first = false;
                }
                i += 1;
            }
            out.push_str("</table>\n");
        } else if t.starts_with("- ") || t.starts_with("* ") {
            out.push_str("<ul>\n");
            while i < lines.len() && (lines[i].trim().starts_with("- ") || lines[i].trim().starts_with("* ")) {
                let mut item = lines[i].trim()[2..].to_owned();
                i += 1;
                // Continuation lines of the item.
                while i < lines.len() && lines[i].starts_with("  ") && !lines[i].trim().is_empty() && !lines[i].trim().starts_with("- ") {
                    item.push(' ');
                    item.push_str(lines[i].trim());
                    i += 1;
                }
                let _ = writeln!(out, "<li>{}</li>", inline(&item));
            }
            out.push_str("</ul>\n");
        } else {
            let mut para = Vec::new();
            while i < lines.len() {
                let t = lines[i].trim();
                if t.is_empty() || t.starts_with('#') || t.starts_with('|') || t.starts_with("- ") || t.starts_with("* ") {
                    break;
                }
                para.push(t);
                i += 1;
            }
            let _ = writeln!(out, "<p>{}</p>", inline(&para.join(" ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_values_summary_and_json_round_trip() {
        let csv = "x,y,train_loss,train_acc,done\n-1,-1,4,10,1\n-1,0,2,10,1\n0,-1,3,10,1\n0,0,0.5,90,1\n1,-1,9,10,0\n1,0,1.25,50,1\n";
        let v = Values::from_csv(csv, "train_loss").unwrap().unwrap();
        assert_eq!((v.x.clone(), v.y.clone()), (vec![-1.0, 0.0, 1.0], vec![-1.0, 0.0]));
        assert_eq!(v.z, vec![vec![Some(4.0), Some(3.0), None], vec![Some(2.0), Some(0.5), Some(1.25)]]);
        assert_eq!(v.summary(), "3 x 2 points; train_loss at (0, 0) 0.5; minimum 0.5 at (0, 0); maximum 4; 1 point(s) missing or not finite");
        let json = v.to_json("t", Some(10.0));
        assert_eq!(json, "{\"x\":[-1,0,1],\"y\":[-1,0],\"z\":[[4,3,null],[2,0.5,1.25]],\"label\":\"train_loss\",\"title\":\"t\",\"vmax\":10}");
        assert_eq!(Values::from_json(&json).unwrap(), v);
        // A 1D export has no view.
        assert!(Values::from_csv("x,train_loss,done\n0,1,1\n1,2,1\n", "train_loss").unwrap().is_none());
        assert!(Values::from_csv("x,y,train_loss,done\n0,0,1,1\n0,1,x,1\n", "train_loss").is_err());
    }

    #[test]
    fn figures_find_their_surfaces_by_the_pipeline_names() {
        let names: Vec<String> = [
            "plane-pc50-resnet20-b64-wd0-e30-pc50-noaug",
            "plane-pc50-resnet20-b64-wd0.0005-e30-pc50-noaug",
            "plane-pc50-resnet20-b250-wd0.0005-e40-pc50-noaug",
            "plane-pc50-resnet20-noshort-b64-wd0.0005-e75-pc50-noaug",
            "plane-pc50-resnet56-noshort-b64-wd0.0005-e75-pc50-noaug",
            "plane-pc50-resnet56-noshort-b64-wd0.0005-e120-pc50-noaug",
            "d-zoom-resnet20-noshort-b64-wd0.0005-e75-pc50-noaug",
            "g-pca-resnet20-b64-wd0-e30-pc50-noaug",
        ]
        .map(String::from)
        .to_vec();
        let report = "| resnet20-b64-wd0-e30-pc50-noaug |\n| resnet20-b250-wd0.0005-e40-pc50-noaug |\n| resnet20-b64-wd0.0005-e30-pc50-noaug |\n| resnet20-noshort-b64-wd0.0005-e75-pc50-noaug |\n| resnet56-noshort-b64-wd0.0005-e120-pc50-noaug |";
        let r = |stem: &str| resolve(stem, &names, report);
        assert_eq!(r("b-2d-filter-resnet20-b64-wd0-e30-pc50-noaug").as_deref(), Some("plane-pc50-resnet20-b64-wd0-e30-pc50-noaug"));
        assert_eq!(r("d-resnet20-3d").as_deref(), Some("plane-pc50-resnet20-b64-wd0.0005-e30-pc50-noaug"), "the depth run, not wd 0, batch 250 or noshort");
        assert_eq!(r("d-resnet56-noshort-contour").as_deref(), Some("plane-pc50-resnet56-noshort-b64-wd0.0005-e120-pc50-noaug"), "the run in the report");
        assert_eq!(r("d-zoom-resnet20-noshort-3d").as_deref(), Some("d-zoom-resnet20-noshort-b64-wd0.0005-e75-pc50-noaug"));
        assert_eq!(r("g-pca-resnet20-b64-wd0-e30-pc50-noaug").as_deref(), Some("g-pca-resnet20-b64-wd0-e30-pc50-noaug"));
        assert_eq!(r("d-resnet56-3d"), None, "no plane of that model");
        assert_eq!(resolve("d-resnet56-noshort-3d", &names, ""), None, "two runs and no report to choose");
    }

    #[test]
    fn the_committed_page_uses_the_current_viewer() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/figures/viewer.js");
        let text = fs::read_to_string(&committed).unwrap();
        assert!(text == VIEWER_JS, "docs/figures/viewer.js differs from crates/losscape-plot/src/viewer.js: run cargo xtask page");
    }

    #[test]
    fn report_markdown_renders() {
        let html = markdown("# Title\n\nSome `code` and **bold** text\nover two lines.\n\n| a | b |\n|---|---|\n| 1 | <2> |\n\n- [x.png](x.png): a figure\n  continued\n- second\n");
        assert_eq!(
            html,
            "<h2>Title</h2>\n<p>Some <code>code</code> and <strong>bold</strong> text over two lines.</p>\n<table>\n<tr><th>a</th><th>b</th></tr>\n<tr><td>1</td><td>&lt;2&gt;</td></tr>\n</table>\n<ul>\n<li><a href=\"#x\">x.png</a>: a figure continued</li>\n<li>second</li>\n</ul>\n"
        );
        assert_eq!(sig(0.0123456), "0.01235");
        assert_eq!(sig(123.0), "123");
    }

    #[test]
    fn a_page_is_built_from_a_folder_and_a_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (out, cache) = (dir.path().join("figs"), dir.path().join("surfaces"));
        fs::create_dir_all(&out).unwrap();
        fs::create_dir_all(&cache).unwrap();
        fs::write(out.join("captions.tsv"), "d-resnet20-3d.png\tThe surface.\nc-weight-norm.png\tNorms.\n").unwrap();
        fs::write(out.join("REPORT.md"), "# Report\n\n| run |\n|---|\n| resnet20-b64-wd0.0005-e1 |\n").unwrap();
        fs::write(cache.join("plane-pc5-resnet20-b64-wd0.0005-e1.csv"), "x,y,train_loss,done\n0,0,1,1\n0,1,2,1\n1,0,3,1\n1,1,4,1\n").unwrap();
        let s = build(&out, Some(&cache), Some(10.0)).unwrap();
        assert_eq!((s.figures, s.views, s.data_written), (2, 1, 1));
        let page = fs::read_to_string(out.join("index.html")).unwrap();
        assert!(page.contains("data-surface=\"plane-pc5-resnet20-b64-wd0.0005-e1\"") && page.contains("data-vmax=\"10\""));
        assert!(page.contains("<a href=\"#family-c\"") && page.contains("<a href=\"#report\">REPORT</a>"));
        assert!(page.contains("2 x 2 points; train_loss at (0, 0) 1; minimum 1 at (0, 0); maximum 4"));
        // Nothing the page loads or links names a scheme: it works offline, from the file.
        assert!(!page.contains("://"), "no network");
        assert_eq!(fs::read_to_string(out.join("viewer.js")).unwrap(), VIEWER_JS);
        // The surface is recorded, so a rebuild without the cache finds the values in data/.
        assert!(fs::read_to_string(out.join("captions.tsv")).unwrap().contains("\tplane-pc5-resnet20-b64-wd0.0005-e1\n"));
        let again = build(&out, None, Some(10.0)).unwrap();
        assert_eq!((again.views, again.data_written), (1, 0));
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), page);
    }
}
