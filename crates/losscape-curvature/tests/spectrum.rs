//! The whole-spectrum tools on the tiny f64 network (203 parameters) against its exact Hessian
//! (built column by column from products) and that Hessian's eigendecomposition: top and bottom
//! eigenpairs, the SLQ density's moments and interval masses, Hutch++ against Hutchinson, the
//! per-tensor blocks and the repeats over disjoint subsets.

mod common;

use common::{exact_hessian, random_data};
use losscape_core::progress::Silent;
use losscape_curvature::operator::{symmetric_eigenvalues, symmetric_eigh};
use losscape_curvature::{
    disjoint_subsets, eigenpairs, fresh_residual, hutch_plus_plus, hutchinson, per_tensor,
    rademacher_variance, repeats, spectral_density, DenseOperator, EigenOptions, HessianOperator,
    HvpOptions, LanczosOptions, ParamSet, SlqOptions, TraceMethod, TraceOptions,
};
use losscape_data::Dataset;
use losscape_directions::testing::TinyNet;
use losscape_landscape::LossKind;
use tch::{Kind, Tensor};

fn setup() -> (TinyNet, Dataset) {
    (
        TinyNet::new(5, 3, Kind::Double, 3),
        random_data(40, [5, 6, 6], 3, 11),
    )
}

fn options() -> HvpOptions {
    HvpOptions {
        params: ParamSet::All,
        loss: LossKind::CrossEntropy,
        batch_size: 16,
    }
}

/// The exact Hessian (symmetrized) of the fixture's loss.
fn exact(model: &TinyNet, data: &Dataset) -> Tensor {
    let mut op = HessianOperator::new(model, data, options()).unwrap();
    let h = exact_hessian(&mut op);
    (&h + h.tr()) / 2.0
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn top_and_bottom_eigenpairs_match_the_exact_ones() {
    common::one_thread();
    let (model, data) = setup();
    let h = exact(&model, &data);
    let (values, vectors) = symmetric_eigh(&h).unwrap();
    let n = values.len();
    let mut op = HessianOperator::new(&model, &data, options()).unwrap();
    let opts = EigenOptions {
        top: 5,
        bottom: 2,
        tol: 1e-10,
        max_iter: 203,
        seed: 4,
        ..Default::default()
    };
    let r = eigenpairs(&mut op, &opts, &Silent).unwrap();
    assert!(
        r.converged && r.hvps < 203,
        "{} products, converged {}",
        r.hvps,
        r.converged
    );
    let expected = (0..5).map(|i| n - 1 - i).chain(0..2);
    for (pair, idx) in r.top.iter().chain(&r.bottom).zip(expected) {
        let want = values[idx];
        assert!(
            rel(pair.value, want) < 1e-6,
            "eigenvalue {} vs exact {want}",
            pair.value
        );
        let exact_vec = vectors.select(1, idx as i64);
        let cos = pair.vector.dot(&exact_vec).double_value(&[]).abs();
        assert!(cos > 0.9999, "|cos| {cos} for eigenvalue {want}");
        let fresh = fresh_residual(&mut op, pair).unwrap();
        assert!(
            fresh < 1e-6 * want.abs(),
            "fresh residual {fresh:e} for {want}"
        );
        assert!(pair.ritz_residual <= 1e-10 * want.abs() * 1.0001);
    }
}

#[test]
fn slq_density_matches_the_exact_spectrum() {
    common::one_thread();
    let (model, data) = setup();
    let h = exact(&model, &data);
    let exact_values = symmetric_eigenvalues(&h).unwrap();
    let n = exact_values.len() as f64;
    let exact_moment = |k: i32| exact_values.iter().map(|l| l.powi(k)).sum::<f64>() / n;
    let mut dense = DenseOperator::new(&h).unwrap();

    // The Hessian's products and the dense matrix give the same quadratures from the same seeds.
    let few = SlqOptions {
        starts: 2,
        steps: 20,
        seed: 9,
        orthogonal: false,
    };
    let mut op = HessianOperator::new(&model, &data, options()).unwrap();
    let from_products = spectral_density(&mut op, &few, &Silent).unwrap();
    let from_matrix = spectral_density(&mut dense, &few, &Silent).unwrap();
    assert_eq!(from_products.hvps, 40);
    for (a, b) in from_products.starts.iter().zip(&from_matrix.starts) {
        for (x, y) in a
            .nodes
            .iter()
            .zip(&b.nodes)
            .chain(a.weights.iter().zip(&b.weights))
        {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
    }

    // Gauss quadrature with 20 nodes is exact for degree < 40, so over an orthonormal basis of
    // starts the first four moments are (1/n) tr(H^k) to rounding: far inside 1%.
    let basis = SlqOptions {
        starts: 203,
        steps: 20,
        seed: 1,
        orthogonal: true,
    };
    let d = spectral_density(&mut dense, &basis, &Silent).unwrap();
    for k in 1..=4 {
        let (got, want) = (d.moment(k as u32), exact_moment(k));
        assert!(
            rel(got, want) < 1e-8,
            "moment {k}: {got:e} vs exact {want:e}"
        );
    }
    // With as many steps as dimensions every node is an eigenvalue: the masses on intervals are
    // the exact fractions of eigenvalues there.
    let full = SlqOptions {
        starts: 203,
        steps: 203,
        seed: 2,
        orthogonal: true,
    };
    let d = spectral_density(&mut dense, &full, &Silent).unwrap();
    // The cut at +-1e-6 isolates the flat directions (zero eigenvalues up to rounding).
    let cuts = [f64::NEG_INFINITY, -0.05, -1e-6, 1e-6, 0.1, f64::INFINITY];
    for c in &cuts[1..5] {
        assert!(
            exact_values.iter().all(|l| (l - c).abs() > 1e-7),
            "an eigenvalue lies at the cut {c}"
        );
    }
    for w in cuts.windows(2) {
        let want = exact_values
            .iter()
            .filter(|l| **l >= w[0] && **l < w[1])
            .count() as f64
            / n;
        let got = d.mass(w[0], w[1]);
        assert!(
            (got - want).abs() < 1e-8,
            "mass on [{}, {}): {got} vs {want}",
            w[0],
            w[1]
        );
    }

    // Independent starts (PyHessian's way) are unbiased, and the reported standard errors are
    // honest: each moment lies within 4 of them, and they agree with the theory for starts
    // uniform on the sphere, Var(v^T A v) = 2 / (n + 2) (mean(a^2) - mean(a)^2).
    let starts = 400;
    let independent = SlqOptions {
        starts,
        steps: 20,
        seed: 3,
        orthogonal: false,
    };
    let d = spectral_density(&mut dense, &independent, &Silent).unwrap();
    for k in 1..=4 {
        let a: Vec<f64> = exact_values.iter().map(|l| l.powi(k)).collect();
        let (m1, m2) = (
            a.iter().sum::<f64>() / n,
            a.iter().map(|x| x * x).sum::<f64>() / n,
        );
        let theory = (2.0 / (n + 2.0) * (m2 - m1 * m1) / starts as f64).sqrt();
        let (got, se) = (d.moment(k as u32), d.moment_std_error(k as u32));
        assert!(
            (got - m1).abs() < 4.0 * se,
            "moment {k}: {got:e} vs {m1:e}, standard error {se:e}"
        );
        assert!(
            se > 0.6 * theory && se < 1.5 * theory,
            "moment {k}: standard error {se:e}, theory {theory:e}"
        );
    }
    // Broadening keeps the mass and the mean, and adds sigma^2 to the second moment.
    let b = d.broadened(4001, None).unwrap();
    let dx = b.grid[1] - b.grid[0];
    let integral: f64 = b.density.iter().sum::<f64>() * dx;
    let mean: f64 = b
        .grid
        .iter()
        .zip(&b.density)
        .map(|(x, p)| x * p)
        .sum::<f64>()
        * dx;
    let second: f64 = b
        .grid
        .iter()
        .zip(&b.density)
        .map(|(x, p)| x * x * p)
        .sum::<f64>()
        * dx;
    assert!((integral - 1.0).abs() < 1e-6, "{integral}");
    assert!(rel(mean, d.moment(1)) < 1e-6, "{mean} vs {}", d.moment(1));
    assert!(rel(second, d.moment(2) + b.sigma * b.sigma) < 1e-6);
}

#[test]
fn hutch_plus_plus_beats_hutchinson_at_equal_products() {
    common::one_thread();
    let (model, data) = setup();
    let h = exact(&model, &data);
    let trace = h.trace().double_value(&[]);
    let mut op = HessianOperator::new(&model, &data, options()).unwrap();
    let (products, seeds) = (30, 25u64);
    let mut plain = Vec::new();
    let mut plus = Vec::new();
    for seed in 0..seeds {
        plain.push(
            hutchinson(&mut op, products, 100 + seed, &Silent)
                .unwrap()
                .mean,
        );
        let t = hutch_plus_plus(&mut op, products, 100 + seed, &Silent).unwrap();
        assert_eq!(t.hvps, products);
        plus.push(t.trace);
    }
    let var = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        (
            m,
            xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64,
        )
    };
    let ((m_plain, v_plain), (m_plus, v_plus)) = (var(&plain), var(&plus));
    // Hutchinson's spread is the theory's, and both are unbiased.
    let theory = rademacher_variance(&h).unwrap() / products as f64;
    assert!(
        v_plain > 0.4 * theory && v_plain < 2.0 * theory,
        "{v_plain:e} vs {theory:e}"
    );
    let k = seeds as f64;
    assert!(
        (m_plain - trace).abs() < 4.0 * (v_plain / k).sqrt(),
        "{m_plain} vs {trace}"
    );
    assert!(
        (m_plus - trace).abs() < 4.0 * (v_plus / k).sqrt(),
        "{m_plus} vs {trace}"
    );
    assert!(
        v_plus < 0.5 * v_plain,
        "Hutch++ variance {v_plus:e}, Hutchinson {v_plain:e}"
    );
    println!("trace {trace:.6e}: Hutchinson var {v_plain:.3e}, Hutch++ var {v_plus:.3e} at {products} products over {seeds} seeds");
}

#[test]
fn per_tensor_blocks_match_the_exact_diagonal_blocks() {
    common::one_thread();
    let (model, data) = setup();
    let h = exact(&model, &data);
    let lanczos = LanczosOptions {
        tol: 1e-10,
        max_iter: 180,
        seed: 1,
        ..Default::default()
    };
    let trace = TraceOptions {
        method: TraceMethod::HutchPlusPlus,
        products: 36,
        seed: 5,
    };
    let blocks = per_tensor(&model, &data, options(), &lanczos, &trace, &Silent).unwrap();
    let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv.weight",
            "bn.weight",
            "bn.bias",
            "fc.weight",
            "fc.bias"
        ]
    );
    let full = symmetric_eigenvalues(&h).unwrap();
    let mut offset = 0;
    for b in &blocks {
        let block = h.narrow(0, offset, b.numel).narrow(1, offset, b.numel);
        offset += b.numel;
        let ev = symmetric_eigenvalues(&block).unwrap();
        let (lo, hi) = (ev[0], ev[ev.len() - 1]);
        assert!(b.converged);
        assert!(
            rel(b.lambda_max, hi) < 1e-6
                && (b.lambda_min - lo).abs() < 1e-6 * hi.abs().max(lo.abs()),
            "{}: [{}, {}] vs [{lo}, {hi}]",
            b.name,
            b.lambda_min,
            b.lambda_max
        );
        // Cauchy interlacing.
        assert!(b.lambda_max <= full[full.len() - 1] + 1e-9 && b.lambda_min >= full[0] - 1e-9);
        let exact_trace = block.trace().double_value(&[]);
        if b.numel <= 12 {
            // A sketch of rank min(12, numel) spans the whole block: exact.
            assert!(
                (b.trace - exact_trace).abs() < 1e-9 * exact_trace.abs().max(1e-6),
                "{}: {} vs {exact_trace}",
                b.name,
                b.trace
            );
        } else {
            assert!(
                rel(b.trace, exact_trace) < 0.1,
                "{}: {} vs {exact_trace}",
                b.name,
                b.trace
            );
        }
    }
    assert_eq!(offset, 203);
}

#[test]
fn repeats_over_disjoint_subsets_match_each_subsets_exact_hessian() {
    common::one_thread();
    let (model, data) = setup();
    let subsets = disjoint_subsets(&data, 4).unwrap();
    assert_eq!(subsets.iter().map(Dataset::len).sum::<usize>(), 40);
    let counts: Vec<Vec<usize>> = subsets.iter().map(Dataset::class_counts).collect();
    for c in &counts {
        // 40 examples of 3 classes dealt round robin within each class.
        assert!(
            c.iter().zip(&counts[0]).all(|(a, b)| a.abs_diff(*b) <= 1),
            "{counts:?}"
        );
    }
    // Disjoint: the subsets' images together are the data set's, each once.
    let all = Tensor::cat(
        &subsets
            .iter()
            .map(|s| s.images.flatten(1, -1))
            .collect::<Vec<_>>(),
        0,
    );
    let sums = |t: &Tensor| {
        let mut v = Vec::<f64>::try_from(t.sum_dim_intlist([1i64].as_slice(), false, Kind::Double))
            .unwrap();
        v.sort_by(f64::total_cmp);
        v
    };
    assert_eq!(sums(&all), sums(&data.images.flatten(1, -1)));
    assert!(disjoint_subsets(&data, 41).is_err() && disjoint_subsets(&data, 0).is_err());

    let lanczos = LanczosOptions {
        tol: 1e-9,
        max_iter: 203,
        seed: 2,
        ..Default::default()
    };
    let trace = TraceOptions {
        method: TraceMethod::Hutchinson,
        products: 0,
        seed: 0,
    };
    let r = repeats(&model, &subsets, options(), &lanczos, &trace, &Silent).unwrap();
    let mut maxes = Vec::new();
    for (s, sub) in r.subsets.iter().zip(&subsets) {
        let ev = symmetric_eigenvalues(&exact(&model, sub)).unwrap();
        assert!(rel(s.lambda_max, ev[ev.len() - 1]) < 1e-6 && rel(s.lambda_min, ev[0]) < 1e-6);
        assert!(s.trace.is_nan());
        maxes.push(ev[ev.len() - 1]);
    }
    let m = maxes.iter().sum::<f64>() / 4.0;
    let sd = (maxes.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0).sqrt();
    assert!(rel(r.lambda_max.mean, m) < 1e-6 && rel(r.lambda_max.std, sd) < 1e-4);
    assert!(r.lambda_max.min <= r.lambda_max.mean && r.lambda_max.mean <= r.lambda_max.max);
}

#[test]
fn eigenvector_directions_are_the_exact_eigenvectors_and_save_as_direction_files() {
    use losscape_curvature::{eigendirections, Which};
    use losscape_directions::{DirectionSet, Ignore, Norm};
    use losscape_models::Model;
    common::one_thread();
    let (model, data) = setup();
    // The Hessian over the weight banks (conv.weight, fc.weight): the directions are zero on
    // the BN parameters and biases.
    let hvp = HvpOptions {
        params: ParamSet::Weights,
        ..options()
    };
    let mut op = HessianOperator::new(&model, &data, hvp).unwrap();
    let h = exact_hessian(&mut op);
    let (values, vectors) = symmetric_eigh(&((&h + h.tr()) / 2.0)).unwrap();
    let n = values.len();
    let eig = EigenOptions {
        tol: 1e-10,
        max_iter: 192,
        seed: 3,
        ..Default::default()
    };
    let made = eigendirections(
        &model,
        &data,
        hvp,
        Which::Extremes,
        &eig,
        None,
        "abc",
        &Silent,
    )
    .unwrap();
    assert!(made.converged);
    assert_eq!(made.set.directions.len(), 2);
    for (k, (pair, idx)) in made.pairs.iter().zip([n - 1, 0]).enumerate() {
        assert!(
            rel(pair.value, values[idx]) < 1e-6,
            "{} vs {}",
            pair.value,
            values[idx]
        );
        assert!(pair.residual < 1e-6 * pair.value.abs());
        let d = &made.set.directions[k];
        let names: Vec<&str> = d.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv.weight",
                "bn.weight",
                "bn.bias",
                "fc.weight",
                "fc.bias"
            ]
        );
        let flat = Tensor::cat(
            &[d.tensors[0].1.flatten(0, -1), d.tensors[3].1.flatten(0, -1)],
            0,
        );
        let cos = flat.dot(&vectors.select(1, idx as i64)).double_value(&[]);
        assert!(cos.abs() > 0.9999, "|cos| {cos}");
        for i in [1, 2, 4] {
            assert_eq!(
                d.tensors[i].1.abs().sum(Kind::Double).double_value(&[]),
                0.0
            );
        }
    }
    assert!(
        made.set.directions[0]
            .dot(&made.set.directions[1])
            .unwrap()
            .abs()
            < 1e-6
    );
    // Saved and read back as any direction file, and the same seed gives the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    made.set.save(&a).unwrap();
    let again = eigendirections(
        &model,
        &data,
        hvp,
        Which::Extremes,
        &eig,
        None,
        "abc",
        &Silent,
    )
    .unwrap();
    again.set.save(&b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let loaded = DirectionSet::load(&a).unwrap();
    loaded.check_fits(&model).unwrap();

    // Filter-normalized: every conv filter has its weight filter's norm.
    let top = eigendirections(
        &model,
        &data,
        hvp,
        Which::Top(2),
        &eig,
        Some((Norm::Filter, Ignore::BiasBn)),
        "abc",
        &Silent,
    )
    .unwrap();
    assert!(rel(top.pairs[1].value, values[n - 2]) < 1e-6);
    let conv = &top.set.directions[0].tensors[0].1;
    let theta = model
        .named_tensors()
        .into_iter()
        .find(|t| t.name == "conv.weight")
        .unwrap()
        .tensor;
    let norms = |t: &Tensor| {
        Vec::<f64>::try_from(t.detach().flatten(1, -1).norm_scalaropt_dim(
            2,
            [1i64].as_slice(),
            false,
        ))
        .unwrap()
    };
    for (x, y) in norms(conv).iter().zip(norms(&theta)) {
        assert!(rel(*x, y) < 1e-6, "{x} vs {y}");
    }
    assert!(eigendirections(
        &model,
        &data,
        hvp,
        Which::Top(3),
        &eig,
        None,
        "abc",
        &Silent
    )
    .is_err());
}

#[test]
fn the_spectrum_report_writes_json_and_npz() {
    use losscape_curvature::spectrum_file::{DensitySection, Subject, TraceSection};
    use losscape_curvature::SpectrumReport;
    common::one_thread();
    let (model, data) = setup();
    let mut op = HessianOperator::new(&model, &data, options()).unwrap();
    let opts = SlqOptions {
        starts: 2,
        steps: 10,
        seed: 0,
        orthogonal: false,
    };
    let d = spectral_density(&mut op, &opts, &Silent).unwrap();
    let b = d.broadened(50, None).unwrap();
    let report = SpectrumReport {
        format: losscape_curvature::spectrum_file::FORMAT.into(),
        version: 1,
        subject: Subject {
            checkpoint: "c".into(),
            checkpoint_hash: "h".into(),
            model: "tinynet".into(),
            data: data.name.clone(),
            samples: data.len(),
            params: ParamSet::All,
            dimension: 203,
            loss: LossKind::CrossEntropy,
            precision: "f64".into(),
        },
        density: Some(DensitySection::new(&d, 10, 0, &b)),
        eigenpairs: None,
        trace: Some(TraceSection { method: TraceMethod::HutchPlusPlus, value: 1.0, std_error: 0.5, hvps: 4, seed: 2 }),
        per_layer: None,
        repeats: None,
        broadened: Some(b),
    };
    let dir = tempfile::tempdir().unwrap();
    let (json, npz) = report.write(&dir.path().join("spec.json")).unwrap();
    assert_eq!(json, dir.path().join("spec.json"));
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(value["density"]["starts"], 2);
    // The enums are written as their names, the strings the report held before they were enums.
    assert_eq!((&value["subject"]["params"], &value["subject"]["loss"]), (&"all".into(), &"cross_entropy".into()));
    assert_eq!(value["trace"]["method"], "hutch++");
    let back: TraceMethod = serde_json::from_value(value["trace"]["method"].clone()).unwrap();
    assert_eq!(back, TraceMethod::HutchPlusPlus);
    assert!(serde_json::from_value::<ParamSet>("some".into()).unwrap_err().to_string().contains("unknown parameter set 'some'"));
    assert!((value["density"]["moments"][0].as_f64().unwrap() - d.moment(1)).abs() < 1e-15);
    let bytes = std::fs::read(&npz).unwrap();
    assert!(bytes.starts_with(b"PK"));
    let first = bytes.clone();
    report.write(&dir.path().join("spec")).unwrap();
    assert_eq!(std::fs::read(&npz).unwrap(), first);
}
