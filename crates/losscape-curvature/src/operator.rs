//! Symmetric linear operators and the flat vectors they act on: the interface that the
//! eigensolvers and the trace estimator are written against, with an explicit matrix
//! ([`DenseOperator`]) and a shift ([`Shifted`]) beside the Hessian itself.
//!
//! Vectors are flat one-dimensional f64 tensors of length [`dim`](SymmetricOperator::dim) on the
//! operator's [`device`](SymmetricOperator::device): the solvers keep their bases in f64 whatever
//! the model's precision.

use losscape_data::rng::SplitMix64;
use losscape_directions::gaussian;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// A symmetric linear map `v -> A v` on flat f64 vectors.
pub trait SymmetricOperator {
    /// Length of the vectors it acts on.
    fn dim(&self) -> i64;
    /// Device of its vectors.
    fn device(&self) -> Device;
    /// `A v` for a flat f64 vector `v` of length [`dim`](SymmetricOperator::dim) on
    /// [`device`](SymmetricOperator::device); the result has the same layout.
    fn apply(&mut self, v: &Tensor) -> Result<Tensor>;
}

impl<T: SymmetricOperator + ?Sized> SymmetricOperator for &mut T {
    fn dim(&self) -> i64 {
        (**self).dim()
    }
    fn device(&self) -> Device {
        (**self).device()
    }
    fn apply(&mut self, v: &Tensor) -> Result<Tensor> {
        (**self).apply(v)
    }
}

/// An explicit symmetric matrix as an operator (tests, toy problems, small exact Hessians).
#[derive(Debug)]
pub struct DenseOperator {
    matrix: Tensor,
}

impl DenseOperator {
    /// Wraps a square matrix (converted to f64). Symmetry is checked to 1e-12 of its largest
    /// entry, since the solvers assume it.
    pub fn new(matrix: &Tensor) -> Result<Self> {
        let size = matrix.size();
        if size.len() != 2 || size[0] != size[1] || size[0] == 0 {
            return Err(Error::Invalid(format!(
                "a dense operator needs a non-empty square matrix, got shape {size:?}"
            )));
        }
        let matrix = matrix.f_to_kind(Kind::Double)?;
        let scale = matrix.f_abs()?.f_max()?.f_double_value(&[])?;
        let asym = matrix
            .f_sub(&matrix.f_tr()?)?
            .f_abs()?
            .f_max()?
            .f_double_value(&[])?;
        if !scale.is_finite() || asym > 1e-12 * scale {
            return Err(Error::Invalid(format!(
                "the matrix is not symmetric or not finite (largest |A - A^T| is {asym:e}, largest |A| {scale:e})"
            )));
        }
        Ok(Self { matrix })
    }

    /// The matrix (f64).
    pub fn matrix(&self) -> &Tensor {
        &self.matrix
    }

    /// All eigenvalues in ascending order, by libtorch's `linalg_eigh` in f64.
    pub fn eigenvalues(&self) -> Result<Vec<f64>> {
        symmetric_eigenvalues(&self.matrix)
    }
}

impl SymmetricOperator for DenseOperator {
    fn dim(&self) -> i64 {
        self.matrix.size()[0]
    }
    fn device(&self) -> Device {
        self.matrix.device()
    }
    fn apply(&mut self, v: &Tensor) -> Result<Tensor> {
        check_vector(v, self.dim(), self.device())?;
        Ok(self.matrix.f_mv(v)?)
    }
}

/// `A - shift * I` for an operator `A`: the shift trick of the original code, which runs a
/// largest-magnitude solver on `H - 0.51 lambda_max I` to reach the other end of the spectrum.
pub struct Shifted<O> {
    /// The operator being shifted.
    pub inner: O,
    /// The amount subtracted from every eigenvalue.
    pub shift: f64,
}

impl<O: SymmetricOperator> SymmetricOperator for Shifted<O> {
    fn dim(&self) -> i64 {
        self.inner.dim()
    }
    fn device(&self) -> Device {
        self.inner.device()
    }
    fn apply(&mut self, v: &Tensor) -> Result<Tensor> {
        let av = self.inner.apply(v)?;
        Ok(av.f_sub(&v.f_mul_scalar(self.shift)?)?)
    }
}

/// Eigenvalues of a symmetric matrix in ascending order (libtorch `linalg_eigh`, f64, on the CPU).
pub fn symmetric_eigenvalues(matrix: &Tensor) -> Result<Vec<f64>> {
    let (values, _) = symmetric_eigh(matrix)?;
    Ok(values)
}

/// Eigenvalues (ascending) and eigenvectors (the columns of the returned `[n, n]` f64 CPU tensor)
/// of a symmetric matrix, by libtorch's `linalg_eigh` in f64 on the CPU.
pub fn symmetric_eigh(matrix: &Tensor) -> Result<(Vec<f64>, Tensor)> {
    let m = matrix.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?;
    let (values, vectors) = m.f_linalg_eigh("L")?;
    Ok((Vec::<f64>::try_from(&values)?, vectors))
}

/// Inner product of two flat vectors, in f64.
pub fn dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    Ok(a.f_dot(b)?.f_double_value(&[])?)
}

/// Euclidean norm of a flat vector.
pub fn norm(v: &Tensor) -> Result<f64> {
    Ok(dot(v, v)?.sqrt())
}

/// A unit-norm vector of `n` standard normal draws from [`SplitMix64`] seeded with `seed` (the
/// Box-Muller transform of losscape-directions), drawn on the CPU and moved to `device`: the same
/// seed gives the same start vector on every device.
pub fn gaussian_unit(n: i64, seed: u64, device: Device) -> Result<Tensor> {
    if n <= 0 {
        return Err(Error::Invalid("cannot draw a vector of length 0".into()));
    }
    let values = gaussian(&mut SplitMix64::new(seed), n as usize);
    let v = Tensor::from_slice(&values);
    let scale = 1.0 / norm(&v)?;
    Ok(v.f_mul_scalar(scale)?.f_to_device(device)?)
}

/// `n` Rademacher signs (+1 or -1 with probability 1/2 each) from [`SplitMix64`]: one draw of 64
/// bits gives 64 signs, lowest bit first, bit 1 meaning -1.
pub fn rademacher(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let bits = rng.next_u64();
        let take = (n - out.len()).min(64);
        out.extend((0..take).map(|k| if (bits >> k) & 1 == 1 { -1.0 } else { 1.0 }));
    }
    out
}

/// Checks that `v` is a flat f64 vector of length `n` on `device`.
pub(crate) fn check_vector(v: &Tensor, n: i64, device: Device) -> Result<()> {
    if v.size() != [n] || v.kind() != Kind::Double || v.device() != device {
        return Err(Error::Invalid(format!(
            "expected a flat f64 vector of length {n} on {device:?}, got {:?} {:?} on {:?}",
            v.size(),
            v.kind(),
            v.device()
        )));
    }
    Ok(())
}

/// Errors if `v` holds a NaN or an infinity (`what` names the vector in the message).
pub(crate) fn check_finite(v: &Tensor, what: &str) -> Result<()> {
    let finite = v.f_isfinite()?.f_all()?.f_int64_value(&[])? != 0;
    if finite {
        Ok(())
    } else {
        Err(Error::NotFinite(format!(
            "{what} holds NaN or infinite values"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rademacher_signs_are_balanced_and_seeded() {
        let a = rademacher(&mut SplitMix64::new(3), 10_000);
        assert!(a.iter().all(|x| *x == 1.0 || *x == -1.0));
        let sum: f64 = a.iter().sum();
        assert!(sum.abs() < 400.0, "sum of signs {sum}"); // 4 standard deviations
        assert_eq!(a[..100], rademacher(&mut SplitMix64::new(3), 100)[..]);
        assert_ne!(a[..100], rademacher(&mut SplitMix64::new(4), 100)[..]);
    }

    #[test]
    fn dense_operator_rejects_asymmetric_matrices() {
        let m = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]).view([2, 2]);
        assert!(DenseOperator::new(&m)
            .unwrap_err()
            .to_string()
            .contains("not symmetric"));
        let s = Tensor::from_slice(&[2.0f64, 1.0, 1.0, 2.0]).view([2, 2]);
        let op = DenseOperator::new(&s).unwrap();
        let ev = op.eigenvalues().unwrap();
        assert!(
            (ev[0] - 1.0).abs() < 1e-14 && (ev[1] - 3.0).abs() < 1e-14,
            "{ev:?}"
        );
    }

    #[test]
    fn shifted_operator_subtracts_the_shift() {
        let s = Tensor::from_slice(&[2.0f64, 1.0, 1.0, 2.0]).view([2, 2]);
        let mut op = Shifted {
            inner: DenseOperator::new(&s).unwrap(),
            shift: 3.0,
        };
        let v = Tensor::from_slice(&[1.0f64, -1.0]);
        let av = Vec::<f64>::try_from(op.apply(&v).unwrap()).unwrap();
        assert_eq!(av, vec![-2.0, 2.0]); // eigenvalue 1 - 3
        assert!(op.apply(&Tensor::from_slice(&[1.0f64])).is_err());
    }
}
