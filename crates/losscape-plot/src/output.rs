//! Output: the format chosen by the file extension, rendering in memory with the embedded font,
//! and writing the finished file whole (temporary name, then rename).

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// DejaVu Sans 2.37 (see fonts/LICENSE-DejaVu.txt), registered as the "sans-serif" family so that
/// no system font or fontconfig is ever needed.
static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Smallest and largest accepted figure side, in pixels.
const MIN_SIDE: u32 = 64;
const MAX_SIDE: u32 = 8192;

/// A figure file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A PNG raster image (8-bit RGB), text rendered with the embedded font.
    Png,
    /// An SVG vector image; text stays text (font family "sans-serif").
    Svg,
}

impl Format {
    /// The format named by a path's extension (`.png` or `.svg`, any case).
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Something that draws itself on any plotters backend.
pub(crate) trait Draw {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Registers the embedded font once per process.
pub(crate) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Font)
    }
}

/// Checks a figure size.
pub(crate) fn check_size((w, h): (u32, u32)) -> Result<()> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&w) || !(MIN_SIDE..=MAX_SIDE).contains(&h) {
        return Err(Error::invalid(format!(
            "figure size {w}x{h} pixels is out of range (each side {MIN_SIDE}..={MAX_SIDE})"
        )));
    }
    Ok(())
}

/// Renders `figure` in memory in the format that `path` names and writes the file whole.
pub(crate) fn render(path: &Path, size: (u32, u32), figure: &impl Draw) -> Result<()> {
    let format = Format::from_path(path)?;
    let bytes = render_bytes(format, size, figure).map_err(|e| match e {
        Error::Encode { message, .. } => Error::Encode {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })?;
    write_atomic(path, &bytes)
}

/// Renders `figure` to the bytes of a file of the given format.
pub(crate) fn render_bytes(
    format: Format,
    size: (u32, u32),
    figure: &impl Draw,
) -> Result<Vec<u8>> {
    check_size(size)?;
    ensure_font()?;
    let (w, h) = size;
    match format {
        Format::Png => {
            // Drawn at twice the size and averaged down: the bitmap backend does not smooth
            // lines or polygon edges, and this does (text too).
            // Very large figures are drawn at their own size to bound the memory used.
            let k = if (w as u64) * (h as u64) <= SUPERSAMPLE_MAX_PIXELS {
                SUPERSAMPLE
            } else {
                1
            };
            let (sw, sh) = (w * k, h * k);
            let mut big = vec![0u8; sw as usize * sh as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut big, (sw, sh)).into_drawing_area();
                root.fill(&WHITE)?;
                figure.draw(&root)?;
                root.present()?;
            }
            let rgb = if k == 1 {
                big
            } else {
                downsample(&big, (sw, sh), k)
            };
            encode_png(&rgb, size)
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                root.fill(&WHITE)?;
                figure.draw(&root)?;
                root.present()?;
            }
            Ok(svg.into_bytes())
        }
    }
}

/// The PNG rendering factor along each axis.
const SUPERSAMPLE: u32 = 2;

/// Largest figure (in pixels) drawn supersampled (the drawing buffer is 4 x 3 bytes a pixel).
const SUPERSAMPLE_MAX_PIXELS: u64 = 4_000_000;

/// Averages `k` x `k` blocks of an RGB buffer of size `(w, h)` (both multiples of `k`).
fn downsample(rgb: &[u8], (w, h): (u32, u32), k: u32) -> Vec<u8> {
    let (w, h, k) = (w as usize, h as usize, k as usize);
    let (ow, oh) = (w / k, h / k);
    let mut out = vec![0u8; ow * oh * 3];
    let n = (k * k) as u32;
    for oy in 0..oh {
        for ox in 0..ow {
            let mut acc = [0u32; 3];
            for dy in 0..k {
                let row = (oy * k + dy) * w;
                for dx in 0..k {
                    let p = (row + ox * k + dx) * 3;
                    acc[0] += rgb[p] as u32;
                    acc[1] += rgb[p + 1] as u32;
                    acc[2] += rgb[p + 2] as u32;
                }
            }
            let o = (oy * ow + ox) * 3;
            for c in 0..3 {
                out[o + c] = ((acc[c] + n / 2) / n) as u8;
            }
        }
    }
    out
}

/// Encodes an 8-bit RGB buffer as PNG.
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>> {
    let encode_err = |e: png::EncodingError| Error::Encode {
        path: Default::default(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(encode_err)?;
        writer.write_image_data(rgb).map_err(encode_err)?;
        writer.finish().map_err(encode_err)?;
    }
    Ok(out)
}

/// Writes `bytes` whole or not at all (losscape-core's atomic write: a temporary file beside
/// `path`, flushed, renamed over it), so a reader sees either the old file or the whole new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(losscape_core::fsio::write_atomic(path, bytes)?)
}
