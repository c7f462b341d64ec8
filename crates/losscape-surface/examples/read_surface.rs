//! Reads a surface file without libtorch: `cargo run -p losscape-surface --example read_surface --
//! FILE.surface` prints its grid, inputs and, for each array, the computed points and the
//! smallest value with where it lies. Without an argument it writes a small bowl first and
//! reads that.

use std::path::PathBuf;

use losscape_surface::{Grid, Shard, Surface, SurfaceHeader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given = std::env::args_os().nth(1);
    let path = match &given {
        Some(p) => PathBuf::from(p),
        None => {
            let path = std::env::temp_dir().join(format!("losscape-bowl-{}.surface", std::process::id()));
            let grid = Grid::new("-1:1:5".parse()?, Some("-1:1:5".parse()?))?;
            let mut s = Surface::new(SurfaceHeader::new(grid, vec!["train_loss".into()]))?;
            let run = s.begin_run(Shard::all());
            for i in s.pending(Shard::all()) {
                let (a, b) = s.grid().point(i);
                s.set_point(i, &[0.1 + a * a + 2.0 * b * b], run)?;
            }
            s.save(&path)?;
            path
        }
    };
    let surface = Surface::load(&path)?;
    let h = surface.header();
    println!("{}: grid {}, {} of {} points computed", path.display(), h.grid, surface.done_count(), surface.len());
    println!("checkpoint {} ({}), directions: {}, data: {}", h.checkpoint, h.checkpoint_hash, h.method, h.data);
    for name in &h.arrays {
        let m = surface.masked(name).expect("the header's arrays exist");
        let (nx, ny) = m.shape();
        let best = (0..nx)
            .flat_map(|ix| (0..ny).map(move |iy| (ix, iy)))
            .filter_map(|(ix, iy)| m.get(ix, iy).filter(|v| v.is_finite()).map(|v| (v, m.x[ix], m.y[iy])))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((v, x, y)) => println!("{name}: min {v:.6} at ({x}, {y})"),
            None => println!("{name}: no finite value computed"),
        }
    }
    if given.is_none() {
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
