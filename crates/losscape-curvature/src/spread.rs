//! The spectrum's independent pieces spread over the ranks of an MPI job (through
//! `losscape_landscape::mpi::map_items`, the dispatcher that spreads grid points): the SLQ
//! density's random starts and the repeats' disjoint subsets. Each start or subset is one work
//! item that depends on its index alone (start `j` draws its vector from `derive_seed(seed, j)`;
//! subset `k` is the `k`-th of [`disjoint_subsets`](crate::repeats::disjoint_subsets)), and its
//! numbers travel as their bits, so rank 0 gets exactly what one process computes, whatever the
//! rank count, when every rank runs with the same libtorch thread count. Outside a job of several
//! ranks (or without the cargo feature `mpi` of losscape-landscape) these are plain loops.
//!
//! Every rank calls the same functions in the same order; rank 0 gets `Some(result)`, the others
//! `None` (they have nothing to write or print).

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_landscape::mpi::map_items;
use losscape_models::Model;

use crate::density::{slq_start, Quadrature, SlqOptions, SpectralDensity};
use crate::error::{Error, Result};
use crate::hutchpp::TraceOptions;
use crate::hvp::HvpOptions;
use crate::lanczos::LanczosOptions;
use crate::operator::SymmetricOperator;
use crate::repeats::{subset_curvature, Repeats, SubsetCurvature};

/// [`spectral_density`](crate::density::spectral_density) with independent starts, each start on
/// whichever rank it is handed to (see the module docs). Orthogonal starts depend on each other
/// and are refused. `progress` (rank 0) gets one task, `density`, with a step per product.
pub fn spectral_density_spread(
    op: &mut dyn SymmetricOperator,
    options: &SlqOptions,
    progress: &dyn Progress,
) -> Result<Option<SpectralDensity>> {
    if options.starts == 0 || options.steps == 0 {
        return Err(Error::Invalid("a spectral density needs at least one start and one Lanczos step".into()));
    }
    if options.orthogonal {
        return Err(Error::Invalid("orthogonal SLQ starts depend on each other and cannot be spread over processes".into()));
    }
    let dim = op.dim();
    let steps = options.steps.min(dim as usize);
    progress.begin("density", (options.starts * steps) as u64);
    let outcome = map_items(
        options.starts,
        &mut |j| Ok::<_, Error>(encode_quadrature(&slq_start(op, options, j, progress)?)),
        &mut |_, values| progress.advance((values.len() / 2) as u64),
    );
    progress.end();
    let Some(items) = outcome? else { return Ok(None) };
    let starts = items
        .iter()
        .enumerate()
        .map(|(j, words)| decode_quadrature(options, j, words))
        .collect::<Result<Vec<_>>>()?;
    let hvps = starts.iter().map(|q| q.nodes.len()).sum();
    Ok(Some(SpectralDensity { dim, starts, hvps }))
}

/// [`repeats`](crate::repeats::repeats) with each subset measured on whichever rank it is handed
/// to (see the module docs). Every rank needs all of `subsets` (dealt out the same way).
pub fn repeats_spread(
    model: &dyn Model,
    subsets: &[Dataset],
    hvp: HvpOptions,
    lanczos_options: &LanczosOptions,
    trace: &TraceOptions,
    progress: &dyn Progress,
) -> Result<Option<Repeats>> {
    let outcome = map_items(
        subsets.len(),
        &mut |k| Ok::<_, Error>(encode_subset(&subset_curvature(model, &subsets[k], hvp, lanczos_options, trace, progress)?)),
        &mut |_, _| {},
    )?;
    let Some(items) = outcome else { return Ok(None) };
    let out = items.iter().map(|words| decode_subset(words)).collect::<Result<Vec<_>>>()?;
    Ok(Some(Repeats::of(out)))
}

/// A quadrature as values: its nodes, then its weights (the seed follows from the start's index).
fn encode_quadrature(q: &Quadrature) -> Vec<f64> {
    q.nodes.iter().chain(&q.weights).copied().collect()
}

fn decode_quadrature(options: &SlqOptions, j: usize, values: &[f64]) -> Result<Quadrature> {
    if values.is_empty() || values.len() % 2 != 0 {
        return Err(Error::Invalid(format!("start {j} came back with {} values, not nodes and weights", values.len())));
    }
    let (nodes, weights) = values.split_at(values.len() / 2);
    Ok(Quadrature {
        seed: losscape_data::rng::derive_seed(options.seed, j as u64),
        nodes: nodes.to_vec(),
        weights: weights.to_vec(),
    })
}

/// A subset's measurements as values (counts and the flag are exact in f64).
fn encode_subset(s: &SubsetCurvature) -> Vec<f64> {
    vec![s.samples as f64, s.lambda_max, s.lambda_min, if s.converged { 1.0 } else { 0.0 }, s.trace, s.hvps as f64]
}

fn decode_subset(values: &[f64]) -> Result<SubsetCurvature> {
    let &[samples, lambda_max, lambda_min, converged, trace, hvps] = values else {
        return Err(Error::Invalid(format!("a subset came back with {} values instead of 6", values.len())));
    };
    Ok(SubsetCurvature {
        samples: samples as usize,
        lambda_max,
        lambda_min,
        converged: converged != 0.0,
        trace,
        hvps: hvps as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::density::spectral_density;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;
    use tch::Tensor;

    #[test]
    fn one_process_spread_density_equals_the_plain_one_bit_for_bit() {
        let a = Tensor::randn([9, 9], (tch::Kind::Double, tch::Device::Cpu));
        let sym = &a + a.tr();
        let opts = SlqOptions { starts: 3, steps: 5, seed: 7, orthogonal: false };
        let plain = spectral_density(&mut DenseOperator::new(&sym).unwrap(), &opts, &Silent).unwrap();
        let spread = spectral_density_spread(&mut DenseOperator::new(&sym).unwrap(), &opts, &Silent).unwrap().unwrap();
        assert_eq!(plain, spread);
        let orth = SlqOptions { orthogonal: true, ..opts };
        assert!(spectral_density_spread(&mut DenseOperator::new(&sym).unwrap(), &orth, &Silent).is_err());
    }

    #[test]
    fn values_round_trip() {
        let s = SubsetCurvature { samples: 40, lambda_max: 2.5, lambda_min: -0.125, converged: true, trace: f64::NAN, hvps: 77 };
        let back = decode_subset(&encode_subset(&s)).unwrap();
        assert_eq!((back.samples, back.hvps, back.converged), (40, 77, true));
        assert!(back.trace.is_nan() && back.lambda_min == -0.125);
        assert!(decode_subset(&[1.0]).is_err());
        let opts = SlqOptions::default();
        assert!(decode_quadrature(&opts, 0, &[1.0, 2.0, 3.0]).is_err());
    }
}
