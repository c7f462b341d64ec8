//! Colours, colour maps and the text sizes of a figure.

use plotters::style::{RGBColor, TextStyle};

/// An 8-bit RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Ten distinguishable line colours (the usual "tab10" set).
const PALETTE: [Rgb; 10] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(127, 127, 127),
    Rgb(188, 189, 34),
    Rgb(23, 190, 207),
];

impl Rgb {
    /// The `i`-th colour of a ten-colour line palette (wraps around).
    pub fn palette(i: usize) -> Rgb {
        PALETTE[i % PALETTE.len()]
    }

    /// The colour mixed with black by `amount` (0: unchanged, 1: black).
    pub fn darken(self, amount: f64) -> Rgb {
        let k = 1.0 - amount.clamp(0.0, 1.0);
        let f = |c: u8| (c as f64 * k).round() as u8;
        Rgb(f(self.0), f(self.1), f(self.2))
    }

    pub(crate) fn to_plotters(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
}

/// A colour map from [0, 1] to colours, interpolated linearly between anchor colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Colormap {
    /// Perceptually uniform, dark purple (low) to yellow (high); readable in grey scale.
    #[default]
    Viridis,
    /// Diverging blue (low) through light grey to red (high), as the original 3D surfaces.
    Coolwarm,
}

/// Viridis sampled at nine equally spaced points.
const VIRIDIS: [Rgb; 9] = [
    Rgb(0x44, 0x01, 0x54),
    Rgb(0x47, 0x2d, 0x7b),
    Rgb(0x3b, 0x52, 0x8b),
    Rgb(0x2c, 0x72, 0x8e),
    Rgb(0x21, 0x91, 0x8c),
    Rgb(0x28, 0xae, 0x80),
    Rgb(0x5e, 0xc9, 0x62),
    Rgb(0xad, 0xdc, 0x30),
    Rgb(0xfd, 0xe7, 0x25),
];

/// Coolwarm sampled at eleven equally spaced points.
const COOLWARM: [Rgb; 11] = [
    Rgb(0x3b, 0x4c, 0xc0),
    Rgb(0x58, 0x77, 0xe3),
    Rgb(0x7a, 0x9d, 0xf8),
    Rgb(0x9e, 0xbe, 0xff),
    Rgb(0xc0, 0xd4, 0xf5),
    Rgb(0xdd, 0xdc, 0xdc),
    Rgb(0xf2, 0xcb, 0xb7),
    Rgb(0xf7, 0xac, 0x8e),
    Rgb(0xee, 0x84, 0x68),
    Rgb(0xd6, 0x52, 0x44),
    Rgb(0xb4, 0x04, 0x26),
];

impl Colormap {
    /// The colour at `t` in [0, 1] (clamped; NaN gives the low end).
    pub fn at(self, t: f64) -> Rgb {
        let table: &[Rgb] = match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Coolwarm => &COOLWARM,
        };
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let pos = t * (table.len() - 1) as f64;
        let i = (pos.floor() as usize).min(table.len() - 2);
        let f = pos - i as f64;
        let (a, b) = (table[i], table[i + 1]);
        let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
        Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// Text sizes and line widths scaled with the figure size (800x600 is the reference).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme {
    pub scale: f64,
}

impl Theme {
    pub fn for_size((w, h): (u32, u32)) -> Theme {
        let s = (w as f64 / 800.0).min(h as f64 / 600.0).clamp(0.5, 4.0);
        Theme { scale: s }
    }

    /// A length in pixels at this figure's scale.
    pub fn px(&self, base: f64) -> u32 {
        (base * self.scale).round().max(1.0) as u32
    }

    pub fn font(&self, base: f64) -> TextStyle<'static> {
        TextStyle::from(("sans-serif", base * self.scale))
    }

    pub fn title(&self) -> TextStyle<'static> {
        self.font(24.0)
    }

    pub fn axis_label(&self) -> TextStyle<'static> {
        self.font(20.0)
    }

    pub fn tick(&self) -> TextStyle<'static> {
        self.font(16.0)
    }

    pub fn small(&self) -> TextStyle<'static> {
        self.font(13.0)
    }

    pub fn line_width(&self) -> u32 {
        self.px(2.0)
    }
}
