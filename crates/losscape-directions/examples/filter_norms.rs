//! Shows what filter normalization does: per-filter norms of a raw Gaussian direction, of the
//! model, and of the filter-normalized direction (which match the model's).

use losscape_directions::{testing::TinyNet, Direction, Norm, RandomSpec};
use losscape_models::Model;
use tch::Kind;

fn row_norms(t: &tch::Tensor) -> Vec<f64> {
    let rows = t.size()[0];
    Vec::<f64>::try_from(&t.to_kind(Kind::Double).reshape([rows, -1]).norm_scalaropt_dim(2, [1i64].as_slice(), false))
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = TinyNet::new(3, 10, Kind::Float, 0);
    let raw = Direction::random(&model, &RandomSpec { norm: Norm::None, seed: 1, ..Default::default() })?;
    let filt = Direction::random(&model, &RandomSpec { norm: Norm::Filter, seed: 1, ..Default::default() })?;
    for t in model.named_tensors().iter().filter(|t| t.role.is_weight_bank()) {
        let find = |d: &Direction| d.tensors.iter().find(|(n, _)| n == &t.name).map(|(_, x)| row_norms(x));
        println!("{} {:?}", t.name, t.tensor.size());
        println!("  model filters:      {:.3?}", row_norms(&t.tensor));
        println!("  raw direction:      {:.3?}", find(&raw).unwrap_or_default());
        println!("  filter-normalized:  {:.3?}", find(&filt).unwrap_or_default());
    }
    Ok(())
}
