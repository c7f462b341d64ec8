//! Writes one figure of each kind from analytic data to a folder (default /tmp/plotcheck).

use std::path::PathBuf;

use losscape_plot::{
    contour, explained_variance_label, heatmap, heatmap_with, lines, surface3d, trajectory,
    ContourFigure, Curve, ValueGrid, HeatmapFigure, HeatmapOverlay, Levels, LinesFigure, Rgb, Shading,
    SurfaceFigure, PlanePath, TrajectoryFigure, YAxis,
};
use ndarray::Array2;

fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1).max(1) as f64)
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/plotcheck".into()),
    );
    std::fs::create_dir_all(&out)?;

    // 1D: an interpolation-like curve pair with accuracies, a diverged point in the test loss.
    let a: Vec<f64> = (0..=80).map(|i| -0.5 + 2.0 * i as f64 / 80.0).collect();
    let train_loss: Vec<f64> = a
        .iter()
        .map(|&t| 0.02 + 3.0 * (t * (1.0 - t)).powi(2) + 0.5 * (t - 0.5).powi(4))
        .collect();
    let mut test_loss: Vec<f64> = train_loss.iter().map(|l| l * 1.3 + 0.2).collect();
    test_loss[40] = f64::NAN;
    let mut train_acc: Vec<f64> = train_loss.iter().map(|l| 100.0 * (-l).exp()).collect();
    let mut test_acc: Vec<f64> = test_loss.iter().map(|l| 95.0 * (-l).exp()).collect();
    // An extrapolation that diverged past alpha = 1.25: every value not finite there.
    let mut train_loss = train_loss;
    for i in 70..=80 {
        for v in [
            &mut train_loss[i],
            &mut test_loss[i],
            &mut train_acc[i],
            &mut test_acc[i],
        ] {
            *v = f64::NAN;
        }
    }
    let blue = Rgb::palette(0);
    let red = Rgb::palette(3);
    let curves = [
        Curve {
            color: Some(blue),
            ..Curve::new("train loss", &a, &train_loss)
        },
        Curve {
            color: Some(blue),
            dashed: true,
            ..Curve::new("test loss", &a, &test_loss)
        },
        Curve {
            color: Some(red),
            axis: YAxis::Accuracy,
            ..Curve::new("train accuracy", &a, &train_acc)
        },
        Curve {
            color: Some(red),
            axis: YAxis::Accuracy,
            dashed: true,
            ..Curve::new("test accuracy", &a, &test_acc)
        },
    ];
    for (name, log) in [("lines", false), ("lines_log", true)] {
        let fig = LinesFigure {
            title: "1D interpolation (small batch -> large batch)".into(),
            x_label: "interpolation coefficient alpha".into(),
            log_loss: log,
            ..LinesFigure::default()
        };
        lines(&out.join(format!("{name}.png")), &curves, &fig)?;
        lines(&out.join(format!("{name}.svg")), &curves, &fig)?;
    }
    // 2D, asymmetric so that orientation errors show: the minimum is at (x, y) = (0.5, -0.3), the
    // bowl is narrow along y, and the grid is not square (41 x by 31 y). A few diverged points.
    let x = linspace(-1.0, 1.0, 41);
    let y = linspace(-1.0, 1.0, 31);
    let mut bowl = Array2::from_shape_fn((41, 31), |(i, j)| {
        0.1 + (x[i] - 0.5).powi(2) + 4.0 * (y[j] + 0.3).powi(2)
    });
    bowl[[5, 25]] = f64::NAN;
    bowl[[6, 25]] = f64::INFINITY;
    let g = ValueGrid::new(&x, &y, bowl.view())?;
    let c = ContourFigure {
        title: "asymmetric bowl, minimum at (0.5, -0.3)".into(),
        x_label: "x (41 points)".into(),
        y_label: "y (31 points)".into(),
        levels: Levels::Linear {
            min: 0.1,
            max: 8.0,
            step: 0.5,
            log_above: false,
        },
        ..ContourFigure::default()
    };
    contour(&out.join("contour.png"), &g, &c)?;
    contour(&out.join("contour.svg"), &g, &c)?;
    let h = HeatmapFigure {
        title: "asymmetric bowl (filled contours)".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        ..HeatmapFigure::default()
    };
    heatmap(&out.join("heatmap_bands.png"), &g, &h)?;
    let hl = HeatmapFigure {
        title: "asymmetric bowl, log colour scale".into(),
        log_scale: true,
        shading: Shading::Cells,
        ..h.clone()
    };
    heatmap(&out.join("heatmap_log_cells.png"), &g, &hl)?;
    let s = SurfaceFigure {
        title: "asymmetric bowl".into(),
        ..SurfaceFigure::default()
    };
    surface3d(&out.join("surface_bowl.png"), &g, &s)?;

    // A chaotic landscape: a convex basin amid high-loss bumps, values up to about 1e4, shown with
    // the original's levels (0.1..10 step 0.5, then decades).
    let x = linspace(-1.0, 1.0, 51);
    let y = linspace(-1.0, 1.0, 51);
    let chaos = Array2::from_shape_fn((51, 51), |(i, j)| {
        let (a, b) = (x[i], y[j]);
        let r2 = a * a + b * b;
        0.1 + 3.0 * r2 + (6.0 * r2).exp() * (1.2 + (9.0 * a).sin() * (7.0 * b + 1.0).cos())
    });
    let g = ValueGrid::new(&x, &y, chaos.view())?;
    let c = ContourFigure {
        title: "chaotic landscape, original levels".into(),
        levels: Levels::original(),
        ..ContourFigure::default()
    };
    contour(&out.join("contour_chaotic.png"), &g, &c)?;
    let s = SurfaceFigure {
        title: "chaotic landscape, clipped at 10".into(),
        z_range: Some((0.0, 10.0)),
        ..SurfaceFigure::default()
    };
    surface3d(&out.join("surface_chaotic.png"), &g, &s)?;
    let flat = SurfaceFigure {
        lighting: false,
        ..s.clone()
    };
    surface3d(&out.join("surface_chaotic_unlit.png"), &g, &flat)?;
    surface3d(&out.join("surface_chaotic.svg"), &g, &s)?;
    let h = HeatmapFigure {
        title: "chaotic landscape, log colours".into(),
        log_scale: true,
        ..HeatmapFigure::default()
    };
    heatmap(&out.join("heatmap_chaotic_log.png"), &g, &h)?;
    heatmap(&out.join("heatmap_chaotic_log.svg"), &g, &h)?;

    // A saddle as filled contours with the diverging colour map.
    let x = linspace(-2.0, 2.0, 33);
    let y = linspace(-1.0, 1.0, 17);
    let saddle = Array2::from_shape_fn((33, 17), |(i, j)| x[i] * x[i] - 4.0 * y[j] * y[j]);
    let g = ValueGrid::new(&x, &y, saddle.view())?;
    let h = HeatmapFigure {
        title: "saddle x^2 - 4 y^2".into(),
        colorbar_label: "value".into(),
        colormap: losscape_plot::Colormap::Coolwarm,
        ..HeatmapFigure::default()
    };
    heatmap(&out.join("heatmap_saddle.png"), &g, &h)?;
    contour(
        &out.join("contour_saddle.png"),
        &g,
        &ContourFigure {
            title: "saddle".into(),
            levels: Levels::Auto { count: 12 },
            ..ContourFigure::default()
        },
    )?;

    // The Hessian-ratio map: 9x9, colour range 0..0.5, one diverged point, values above 0.5 clipped.
    let x = linspace(-1.0, 1.0, 9);
    let y = linspace(-1.0, 1.0, 9);
    let mut ratio = Array2::from_shape_fn((9, 9), |(i, j)| {
        0.02 + 0.6 * (x[i] * x[i] + 0.5 * y[j] * y[j]) * (1.0 + x[i]) / 2.0
    });
    ratio[[8, 8]] = f64::NAN;
    let g = ValueGrid::new(&x, &y, ratio.view())?;
    let h = HeatmapFigure {
        title: "|λmin / λmax| (9x9)".into(),
        x_label: "alpha".into(),
        y_label: "beta".into(),
        ..HeatmapFigure::eigenvalue_ratio()
    };
    heatmap(&out.join("heatmap_ratio.png"), &g, &h)?;
    heatmap(&out.join("heatmap_ratio.svg"), &g, &h)?;
    // The same with the loss contours of a finer surface over it and two unconverged points.
    let lx = linspace(-1.0, 1.0, 25);
    let ly = linspace(-1.0, 1.0, 25);
    let loss = Array2::from_shape_fn((25, 25), |(i, j)| {
        0.05 + 1.5 * (lx[i] - 0.1).powi(2) + 2.5 * ly[j] * ly[j]
    });
    let lg = ValueGrid::new(&lx, &ly, loss.view())?;
    let overlay = HeatmapOverlay {
        contours: Some(lg),
        contour_levels: Levels::original(),
        contour_label: "train loss".into(),
        marked: vec![(2, 3), (7, 1)],
        marked_label: "not converged".into(),
    };
    heatmap_with(&out.join("heatmap_ratio_overlay.png"), &g, &h, &overlay)?;
    heatmap_with(&out.join("heatmap_ratio_overlay.svg"), &g, &h, &overlay)?;

    // A trajectory spiralling into the final model at the origin, over a bowl, LR decays at 12 and 22.
    let n = 31;
    let px: Vec<f64> = (0..n)
        .map(|k| {
            let t = 1.0 - k as f64 / (n - 1) as f64;
            8.0 * t * (3.0 * t).cos()
        })
        .collect();
    let py: Vec<f64> = (0..n)
        .map(|k| {
            let t = 1.0 - k as f64 / (n - 1) as f64;
            2.5 * t * (3.0 * t).sin()
        })
        .collect();
    let x = linspace(-6.0, 10.0, 33);
    let y = linspace(-3.0, 3.0, 25);
    let surf = Array2::from_shape_fn((33, 25), |(i, j)| {
        0.05 + 0.03 * x[i] * x[i] + 0.3 * y[j] * y[j]
    });
    let g = ValueGrid::new(&x, &y, surf.view())?;
    let tr = PlanePath {
        x: &px,
        y: &py,
        lr_decay: &[12, 22],
    };
    let f = TrajectoryFigure {
        title: "optimization path in the PCA plane".into(),
        x_label: explained_variance_label(1, 0.7231),
        y_label: explained_variance_label(2, 0.1544),
        levels: Levels::Linear {
            min: 0.1,
            max: 3.0,
            step: 0.25,
            log_above: false,
        },
        ..TrajectoryFigure::default()
    };
    trajectory(&out.join("trajectory.png"), Some(&g), &tr, &f)?;
    trajectory(&out.join("trajectory.svg"), Some(&g), &tr, &f)?;
    trajectory(&out.join("trajectory_no_surface.png"), None, &tr, &f)?;

    // A path that spans a tiny part of its plane (a random plane: the loss varies by 1e-4 there),
    // drawn with the original's fixed levels: the levels come from the values in view instead.
    let x = linspace(-4e-4, 4e-4, 21);
    let y = linspace(-4e-4, 4e-4, 21);
    let flat = Array2::from_shape_fn((21, 21), |(i, j)| {
        0.4512 + 400.0 * (x[i] * x[i] + 2.0 * y[j] * y[j]) + 0.05 * x[i]
    });
    let g = ValueGrid::new(&x, &y, flat.view())?;
    let sx: Vec<f64> = px.iter().map(|v| v * 3e-5).collect();
    let sy: Vec<f64> = py.iter().map(|v| v * 1e-4).collect();
    let tr = PlanePath {
        x: &sx,
        y: &sy,
        lr_decay: &[12, 22],
    };
    let f = TrajectoryFigure {
        title: "path on a random plane".into(),
        x_label: "filter-normalized direction 1".into(),
        y_label: "filter-normalized direction 2".into(),
        levels: Levels::original(),
        ..TrajectoryFigure::default()
    };
    trajectory(&out.join("trajectory_tiny.png"), Some(&g), &tr, &f)?;

    // Degenerate inputs: an all-NaN grid and a 1x5 grid.
    let nan = Array2::from_elem((7, 5), f64::NAN);
    let xs = linspace(0.0, 1.0, 7);
    let ys = linspace(0.0, 1.0, 5);
    let g = ValueGrid::new(&xs, &ys, nan.view())?;
    contour(
        &out.join("contour_all_nan.png"),
        &g,
        &ContourFigure {
            title: "all NaN".into(),
            ..ContourFigure::default()
        },
    )?;
    heatmap(
        &out.join("heatmap_all_nan.png"),
        &g,
        &HeatmapFigure {
            title: "all NaN".into(),
            ..HeatmapFigure::default()
        },
    )?;
    surface3d(
        &out.join("surface_all_nan.png"),
        &g,
        &SurfaceFigure {
            title: "all NaN".into(),
            ..SurfaceFigure::default()
        },
    )?;
    let one = Array2::from_shape_fn((1, 5), |(_, j)| j as f64);
    let g = ValueGrid::new(&[0.0], &ys, one.view())?;
    heatmap(
        &out.join("heatmap_1x5.png"),
        &g,
        &HeatmapFigure {
            title: "1x5 grid".into(),
            ..HeatmapFigure::default()
        },
    )?;
    contour(
        &out.join("contour_1x5.png"),
        &g,
        &ContourFigure {
            title: "1x5 grid".into(),
            ..ContourFigure::default()
        },
    )?;
    surface3d(
        &out.join("surface_1x5.png"),
        &g,
        &SurfaceFigure {
            title: "1x5 grid".into(),
            ..SurfaceFigure::default()
        },
    )?;

    println!("wrote figures to {}", out.display());
    Ok(())
}
