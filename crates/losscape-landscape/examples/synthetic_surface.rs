//! A synthetic loss surface through the whole storage path, with no model: two shards, one of them
//! interrupted and resumed, merged, then exported to .npz, .csv and .vtp.
//!
//! Run: `cargo run -p losscape-landscape --example synthetic_surface -- [OUT_DIR]`
//! (default OUT_DIR: `target/synthetic-surface`). Expected output: 441 points done, the minimum
//! 0.1 at (0, 0), the shard runs 1, 2 and 3 listed, and the four files written.

use std::path::PathBuf;

use losscape_landscape::export::{write_csv, write_npz, write_vtp, VtpOptions};
use losscape_landscape::{Grid, Shard, Surface, SurfaceHeader};

/// A bowl with a ridge: the kind of shape the paper's filter-normalized plots show.
fn loss(a: f64, b: f64) -> f64 {
    0.1 + a * a + 0.5 * b * b + 0.3 * (3.0 * a).sin().powi(2) * b * b
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/synthetic-surface"), PathBuf::from);
    std::fs::create_dir_all(&out)?;
    let grid = Grid::new("-1:1:21".parse()?, Some("-1:1:21".parse()?))?;
    let header = SurfaceHeader {
        method: "synthetic bowl".into(),
        loss: "synthetic".into(),
        dtype: losscape_core::Precision::F64,
        threads: 1,
        ..SurfaceHeader::new(grid, vec!["train_loss".into(), "train_acc".into()])
    };

    // Each shard is a separate job with its own file; shard 0 is "killed" after 50 points.
    let mut files = Vec::new();
    for shard in ["0/2".parse::<Shard>()?, "1/2".parse()?] {
        let path = out.join(format!("shard-{}-of-{}.surface", shard.index, shard.count));
        let _ = std::fs::remove_file(&path);
        let limits = if shard.index == 0 {
            vec![Some(50), None]
        } else {
            vec![None]
        };
        for limit in limits {
            let mut surface = Surface::open_or_create(&path, header.clone())?;
            let run = surface.begin_run(shard);
            for index in surface
                .pending(shard)
                .into_iter()
                .take(limit.unwrap_or(usize::MAX))
            {
                let (a, b) = surface.grid().point(index);
                let l = loss(a, b);
                surface.set_point(index, &[l, 100.0 * (-l).exp()], run)?;
            }
            surface.save(&path)?;
        }
        files.push(path);
    }

    let mut merged = Surface::load(&files[0])?;
    merged.merge(&Surface::load(&files[1])?)?;
    let path = out.join("synthetic.surface");
    merged.save(&path)?;

    let values = merged.array("train_loss").unwrap_or_default();
    let (best, min) =
        values.iter().enumerate().fold(
            (0, f64::INFINITY),
            |acc, (i, &v)| if v < acc.1 { (i, v) } else { acc },
        );
    println!(
        "{} of {} points done; minimum {min} at {:?}",
        merged.done_count(),
        merged.len(),
        merged.grid().point(best)
    );
    for run in merged.runs() {
        println!("run {}: shard {}, {} points", run.id, run.shard, run.points);
    }
    write_npz(&merged, &out.join("synthetic.npz"))?;
    write_csv(&merged, &out.join("synthetic.csv"))?;
    write_vtp(
        &merged,
        &VtpOptions {
            log: true,
            ..VtpOptions::default()
        },
        &out.join("synthetic.vtp"),
    )?;
    println!(
        "wrote {} and its .npz, .csv and .vtp exports",
        path.display()
    );
    Ok(())
}
