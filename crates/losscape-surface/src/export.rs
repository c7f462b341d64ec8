//! Exports of a surface for other tools: `.npz` for numpy (named like the original code's arrays),
//! `.csv` for spreadsheets and plotting scripts, `.vtp` for ParaView. Every file is written
//! atomically.
//!
//! - npz: `xcoordinates` `(nx,)`, `ycoordinates` `(ny,)` on a 2D grid, one float64 array per metric
//!   of shape `(nx, ny)` (`(nx,)` on a line) in C order, indexed `[ix, iy]`, and a bool array
//!   `done` of the same shape. Values not computed are NaN (and `done` is false there).
//! - csv: a header `x,y,<metrics...>,done` (no `y` column on a line), one row per point in point
//!   index order, `done` as 1 or 0, numbers printed so that they parse back to the same f64
//!   (`NaN`, `inf` and `-inf` included).
//! - vtp: ParaView PolyData XML; see [`write_vtp`].

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

use zip::write::FileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::surface::Surface;

/// The export formats, by their file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// numpy's zip of `.npy` arrays ([`write_npz`]).
    Npz,
    /// comma-separated values ([`write_csv`]).
    Csv,
    /// ParaView PolyData XML ([`write_vtp`]).
    Vtp,
    /// The original loss-landscape code's surface file (HDF5). Written by losscape-landscape's
    /// `h5` module (its cargo feature `hdf5` links the HDF5 library), not by this crate.
    H5,
}

impl ExportFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Npz => "npz",
            ExportFormat::Csv => "csv",
            ExportFormat::Vtp => "vtp",
            ExportFormat::H5 => "h5",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = Error;

    /// Parses `npz`, `csv`, `vtp` or `h5` (any case).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "npz" => Ok(ExportFormat::Npz),
            "csv" => Ok(ExportFormat::Csv),
            "vtp" => Ok(ExportFormat::Vtp),
            "h5" => Ok(ExportFormat::H5),
            _ => Err(Error::invalid(format!(
                "unknown export format '{s}': use npz, csv, vtp or h5"
            ))),
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// Writes the surface as a numpy `.npz` (a zip of `.npy` version 1.0 members, stored
/// uncompressed, like `numpy.savez`); see the module docs for the arrays.
pub fn write_npz(surface: &Surface, path: &Path) -> Result<()> {
    let grid = surface.grid();
    let (nx, ny) = grid.shape();
    let shape: &[usize] = if grid.is_2d() { &[nx, ny] } else { &[nx] };
    let mut members = vec![(
        "xcoordinates".to_string(),
        npy_f64(&[nx], &grid.x.coordinates()),
    )];
    if let Some(y) = &grid.y {
        members.push(("ycoordinates".to_string(), npy_f64(&[ny], &y.coordinates())));
    }
    for name in &surface.header().arrays {
        let values = surface.array(name).unwrap_or_default();
        members.push((name.clone(), npy_f64(shape, values)));
    }
    members.push(("done".to_string(), npy_bool(shape, surface.done())));
    write_members(path, &members)
}

/// Writes named float64 arrays (`(name, shape, values in C order)`) as a numpy `.npz`, stored
/// uncompressed and atomically, like [`write_npz`]. Errors when a shape does not match its
/// values' count.
pub fn write_npz_arrays(path: &Path, arrays: &[(&str, Vec<usize>, &[f64])]) -> Result<()> {
    let mut members = Vec::with_capacity(arrays.len());
    for (name, shape, values) in arrays {
        if shape.iter().product::<usize>() != values.len() {
            return Err(Error::invalid(format!(
                "array {name}: shape {shape:?} does not hold {} values",
                values.len()
            )));
        }
        members.push((name.to_string(), npy_f64(shape, values)));
    }
    write_members(path, &members)
}

fn write_members(path: &Path, members: &[(String, Vec<u8>)]) -> Result<()> {
    losscape_core::fsio::write_atomic_with(path, |w| {
        let mut zip = ZipWriter::new(w);
        // A fixed time stamp (1980-01-01), so the same arrays give the same bytes.
        let options = FileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        for (name, bytes) in members {
            zip.start_file(format!("{name}.npy"), options)
                .map_err(zip_error)?;
            zip.write_all(bytes)?;
        }
        zip.finish().map_err(zip_error)?;
        Ok(())
    })?;
    Ok(())
}

fn zip_error(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// A `.npy` version 1.0 file (losscape-core's encoding).
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    losscape_core::npy::encode(descr, shape, data)
}

fn npy_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy("<f8", shape, &data)
}

fn npy_bool(shape: &[usize], values: &[bool]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().map(|&v| u8::from(v)).collect();
    npy("|b1", shape, &data)
}

/// Writes the surface as CSV: `x,y,<metrics...>,done`, one row per point (see the module docs).
pub fn write_csv(surface: &Surface, path: &Path) -> Result<()> {
    let grid = surface.grid();
    let arrays: Vec<&[f64]> = surface
        .header()
        .arrays
        .iter()
        .map(|name| surface.array(name).unwrap_or_default())
        .collect();
    losscape_core::fsio::write_atomic_with(path, |w| {
        let mut columns = vec!["x"];
        if grid.is_2d() {
            columns.push("y");
        }
        columns.extend(surface.header().arrays.iter().map(String::as_str));
        columns.push("done");
        writeln!(w, "{}", columns.join(","))?;
        for index in 0..surface.len() {
            let (a, b) = grid.point(index);
            write!(w, "{}", Num(a))?;
            if grid.is_2d() {
                write!(w, ",{}", Num(b))?;
            }
            for values in &arrays {
                write!(w, ",{}", Num(values[index]))?;
            }
            writeln!(w, ",{}", u8::from(surface.done()[index]))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Prints an f64 so that it parses back exactly: plain decimals for ordinary magnitudes, exponent
/// notation for very large or very small ones, `NaN`, `inf`, `-inf`.
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_finite() && v != 0.0 && !(1e-5..1e16).contains(&v.abs()) {
            write!(f, "{v:e}")
        } else {
            write!(f, "{v}")
        }
    }
}

/// How [`write_vtp`] turns a metric into heights.
#[derive(Clone, Debug, PartialEq)]
pub struct VtpOptions {
    /// The metric used as the height (and as the active scalars), e.g. "train_loss".
    pub array: String,
    /// Use `log10(value)` as the height (after clipping); points whose value is not positive get
    /// no height and are left out of the faces.
    pub log: bool,
    /// Clip values above this (in the metric's own units, before the log) so a few huge losses do
    /// not flatten the rest of the surface.
    pub clip: Option<f64>,
    /// Multiply heights by this (after the log).
    pub z_scale: f64,
}

impl Default for VtpOptions {
    /// `train_loss`, linear, no clipping, scale 1.
    fn default() -> Self {
        VtpOptions {
            array: "train_loss".into(),
            log: false,
            clip: None,
            z_scale: 1.0,
        }
    }
}

/// Writes a 2D surface as ParaView PolyData XML (`.vtp`, VTK XML format version 1.0): one point
/// per grid point at `(a, b, height)`, one quad per grid cell, and every metric plus the done-mask
/// as point data.
///
/// The height of a point is its value of `opts.array`, clipped at `opts.clip`, then `log10` if
/// `opts.log`, then times `opts.z_scale`. A point whose height is not finite (not computed, a NaN
/// loss, the log of a non-positive value) is placed at height 0 and every quad touching it is left
/// out, so holes show where values are missing. Coordinates and faces are ASCII; the metric arrays
/// are base64 binary (little-endian float64 with a UInt64 byte-count header), because VTK's ASCII
/// reader cannot read NaN and the metrics keep their NaNs exactly. Lines (1D grids) are refused.
pub fn write_vtp(surface: &Surface, opts: &VtpOptions, path: &Path) -> Result<()> {
    let grid = surface.grid();
    let Some(_) = &grid.y else {
        return Err(Error::invalid(format!(
            "the .vtp export needs a 2D surface; {} is a line over x={} (export it as csv or npz)",
            path.display(),
            grid.x
        )));
    };
    let (nx, ny) = grid.shape();
    if nx < 2 || ny < 2 {
        return Err(Error::invalid(format!(
            "the .vtp export needs at least 2 points along each axis; the grid is {grid}"
        )));
    }
    let Some(values) = surface.array(&opts.array) else {
        return Err(Error::invalid(format!(
            "no metric '{}' to use as the height: this surface has {:?}",
            opts.array,
            surface.header().arrays
        )));
    };
    if opts.clip.is_some_and(|c| !c.is_finite()) {
        return Err(Error::invalid(format!(
            "the clip value {:?} must be a finite number",
            opts.clip
        )));
    }
    if !opts.z_scale.is_finite() || opts.z_scale == 0.0 {
        return Err(Error::invalid(format!(
            "the height scale {} must be finite and not zero",
            opts.z_scale
        )));
    }

    let heights: Vec<Option<f64>> = values
        .iter()
        .zip(surface.done())
        .map(|(&v, &done)| {
            let v = match opts.clip {
                Some(c) if v > c => c,
                _ => v,
            };
            let v = if opts.log { v.log10() } else { v } * opts.z_scale;
            (done && v.is_finite()).then_some(v)
        })
        .collect();
    let mut quads = Vec::new();
    for ix in 0..nx - 1 {
        for iy in 0..ny - 1 {
            let corners = [
                grid.index(ix, iy),
                grid.index(ix + 1, iy),
                grid.index(ix + 1, iy + 1),
                grid.index(ix, iy + 1),
            ];
            if corners.iter().all(|&p| heights[p].is_some()) {
                quads.push(corners);
            }
        }
    }

    losscape_core::fsio::write_atomic_with(path, |w| {
        writeln!(w, r#"<?xml version="1.0"?>"#)?;
        writeln!(
            w,
            r#"<VTKFile type="PolyData" version="1.0" byte_order="LittleEndian" header_type="UInt64">"#
        )?;
        writeln!(w, "  <PolyData>")?;
        writeln!(
            w,
            r#"    <Piece NumberOfPoints="{}" NumberOfVerts="0" NumberOfLines="0" NumberOfStrips="0" NumberOfPolys="{}">"#,
            surface.len(),
            quads.len()
        )?;
        writeln!(w, r#"      <PointData Scalars="{}">"#, opts.array)?;
        for name in &surface.header().arrays {
            let data: Vec<u8> = surface
                .array(name)
                .unwrap_or_default()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            writeln!(
                w,
                r#"        <DataArray type="Float64" Name="{name}" format="binary">"#
            )?;
            writeln!(w, "          {}", vtk_binary(&data))?;
            writeln!(w, "        </DataArray>")?;
        }
        writeln!(
            w,
            r#"        <DataArray type="UInt8" Name="done" format="ascii">"#
        )?;
        ascii_rows(w, surface.done().iter().map(|&d| u8::from(d)), 40)?;
        writeln!(w, "        </DataArray>")?;
        writeln!(w, "      </PointData>")?;
        writeln!(w, "      <Points>")?;
        writeln!(
            w,
            r#"        <DataArray type="Float64" Name="Points" NumberOfComponents="3" format="ascii">"#
        )?;
        for (index, height) in heights.iter().enumerate() {
            let (a, b) = grid.point(index);
            writeln!(
                w,
                "          {} {} {}",
                Num(a),
                Num(b),
                Num(height.unwrap_or(0.0))
            )?;
        }
        writeln!(w, "        </DataArray>")?;
        writeln!(w, "      </Points>")?;
        writeln!(w, "      <Polys>")?;
        writeln!(
            w,
            r#"        <DataArray type="Int64" Name="connectivity" format="ascii">"#
        )?;
        for q in &quads {
            writeln!(w, "          {} {} {} {}", q[0], q[1], q[2], q[3])?;
        }
        writeln!(w, "        </DataArray>")?;
        writeln!(
            w,
            r#"        <DataArray type="Int64" Name="offsets" format="ascii">"#
        )?;
        ascii_rows(w, (1..=quads.len()).map(|k| 4 * k), 16)?;
        writeln!(w, "        </DataArray>")?;
        writeln!(w, "      </Polys>")?;
        writeln!(w, "    </Piece>")?;
        writeln!(w, "  </PolyData>")?;
        writeln!(w, "</VTKFile>")?;
        Ok(())
    })?;
    Ok(())
}

/// Writes numbers separated by spaces, `per_row` to an indented line.
fn ascii_rows<T: fmt::Display>(
    w: &mut impl Write,
    items: impl Iterator<Item = T>,
    per_row: usize,
) -> io::Result<()> {
    let items: Vec<String> = items.map(|v| v.to_string()).collect();
    for row in items.chunks(per_row) {
        writeln!(w, "          {}", row.join(" "))?;
    }
    Ok(())
}

/// VTK's inline binary encoding without compression: base64 of one stream holding the data's
/// byte count (UInt64, little-endian) followed by the data.
fn vtk_binary(data: &[u8]) -> String {
    let mut stream = Vec::with_capacity(8 + data.len());
    stream.extend_from_slice(&(data.len() as u64).to_le_bytes());
    stream.extend_from_slice(data);
    base64(&stream)
}

/// Standard base64 (RFC 4648 alphabet, `=` padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn numbers_print_so_that_they_parse_back() {
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            -2.5e-7,
            1e-5,
            12345.678,
            3e20,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let text = Num(v).to_string();
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{text}"
            );
            assert!(text.len() < 30, "{text}");
        }
        assert_eq!(Num(f64::NAN).to_string(), "NaN");
        assert_eq!(Num(f64::INFINITY).to_string(), "inf");
        assert_eq!(Num(0.25).to_string(), "0.25");
    }

    #[test]
    fn npy_header_is_aligned_and_describes_shape() {
        let bytes = npy_f64(&[3, 2], &[0.0; 6]);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + header_len + 48);
        let one = npy_bool(&[5], &[true; 5]);
        assert!(std::str::from_utf8(&one[10..])
            .unwrap()
            .contains("'shape': (5,)"));
    }

    #[test]
    fn export_format_parses() {
        assert_eq!("NPZ".parse::<ExportFormat>().unwrap(), ExportFormat::Npz);
        assert_eq!(ExportFormat::Vtp.to_string(), "vtp");
        assert_eq!("h5".parse::<ExportFormat>().unwrap(), ExportFormat::H5);
        assert_eq!(ExportFormat::H5.extension(), "h5");
        assert!("mat"
            .parse::<ExportFormat>()
            .unwrap_err()
            .to_string()
            .contains("use npz, csv, vtp or h5"));
    }
}
