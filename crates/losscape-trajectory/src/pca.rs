//! PCA from the Gram matrix of a path's rows: centring, the eigendecomposition (libtorch
//! `linalg_eigh` in f64), explained-variance ratios, and the coefficient vectors that turn the
//! rows into unit principal directions.
//!
//! With rows `r_i = theta_i - theta_final` (`n x p` matrix `R`), centring matrix `H = I - 11^T/n`
//! and centred Gram matrix `Gc = H R R^T H = U diag(lambda) U^T`, the principal directions of the
//! centred rows `C = H R` are `v_k = C^T u_k / sqrt(lambda_k) = R^T a_k` with
//! `a_k = H u_k / sqrt(lambda_k)`, of unit length, and the explained-variance ratio of component
//! `k` is `lambda_k / trace(Gc)` (what a dense PCA of `R`, e.g. scikit-learn's, reports).

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// The principal components of a path, from its Gram matrix.
#[derive(Debug)]
pub struct Pca {
    /// Eigenvalues of the centred Gram matrix (sums of squares along each component), descending,
    /// `n - 1` of them for `n` rows (centring removes one dimension); tiny negative rounding
    /// errors are clipped to 0.
    pub eigenvalues: Vec<f64>,
    /// Total sum of squares of the centred rows, `trace(Gc)`.
    pub total: f64,
    /// `2 x n` (f64): row `k` is `a_k`, with `v_k = sum_i a_k[i] r_i` of unit length.
    pub coefficients: Tensor,
    /// `n x 2`: the coordinates `<r_i, v_k>` of every row along the two components (the final
    /// model, a zero row, at the origin).
    pub coords: Vec<[f64; 2]>,
}

impl Pca {
    /// Explained-variance ratio of every component, descending.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        self.eigenvalues.iter().map(|l| l / self.total).collect()
    }

    /// Sample variance along every component (`lambda / (n - 1)`, as scikit-learn's
    /// `explained_variance_`).
    pub fn explained_variance(&self) -> Vec<f64> {
        let dof = self.eigenvalues.len().max(1) as f64;
        self.eigenvalues.iter().map(|l| l / dof).collect()
    }
}

/// A 2-D tensor's values as rows.
pub(crate) fn rows_of(t: &Tensor) -> Result<Vec<Vec<f64>>> {
    let size = t.size();
    let (r, c) = (size[0] as usize, size[1] as usize);
    let t = t.f_to_kind(Kind::Double)?.f_contiguous()?;
    let mut flat = vec![0f64; r * c];
    t.f_copy_data(&mut flat, r * c)?;
    Ok(flat.chunks(c.max(1)).map(|c| c.to_vec()).take(r).collect())
}

/// The centred Gram matrix `H G H`.
pub fn centre(gram: &Tensor) -> Result<Tensor> {
    let row_mean = gram.f_mean_dim([1i64].as_slice(), true, Kind::Double)?;
    let col_mean = gram.f_mean_dim([0i64].as_slice(), true, Kind::Double)?;
    let all = gram.f_mean(Kind::Double)?;
    Ok(gram.f_sub(&row_mean)?.f_sub(&col_mean)?.f_add(&all)?)
}

/// The first two principal components of the rows whose Gram matrix (`n x n`, f64) is `gram`.
///
/// Signs are fixed so that along each component the row with the largest absolute coordinate is
/// on the positive side. Fails when the rows do not vary (identical checkpoints) or vary along
/// fewer than two dimensions.
pub fn pca_from_gram(gram: &Tensor) -> Result<Pca> {
    let size = gram.size();
    if size.len() != 2 || size[0] != size[1] || size[0] < 3 {
        return Err(Error::Invalid(format!("the PCA needs a square Gram matrix of at least 3 rows, got {size:?}")));
    }
    let n = size[0];
    let gram = gram.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?;
    let centred = centre(&gram)?;
    // Symmetrize against rounding before the symmetric solver.
    let centred = centred.f_add(&centred.f_tr()?)?.f_mul_scalar(0.5)?;
    let total = centred.f_trace()?.f_double_value(&[])?;
    let scale = gram.f_trace()?.f_double_value(&[])?;
    if !total.is_finite() || !scale.is_finite() {
        return Err(Error::Invalid("the checkpoints hold non-finite values (NaN or infinity)".into()));
    }
    if total <= scale * 1e-24 || total <= 0.0 {
        return Err(Error::Invalid("the checkpoints do not vary: all rows are the same point".into()));
    }
    let (values, vectors) = centred.f_linalg_eigh("L")?;
    // Ascending order from eigh; the last two are the largest.
    let mut eigenvalues = Vec::with_capacity(n as usize - 1);
    for k in (1..n).rev() {
        eigenvalues.push(values.f_double_value(&[k])?.max(0.0));
    }
    let (l1, l2) = (eigenvalues[0], eigenvalues[1]);
    if l2 <= l1 * 1e-12 {
        return Err(Error::Invalid(
            "the path varies along fewer than two dimensions (the checkpoints lie on a line)".into(),
        ));
    }
    let ones = Tensor::f_ones([n, 1], (Kind::Double, Device::Cpu))?;
    let mut coefficient_rows = Vec::new();
    let mut coords = vec![[0f64; 2]; n as usize];
    for (k, (index, lambda)) in [(n - 1, l1), (n - 2, l2)].into_iter().enumerate() {
        let u = vectors.f_select(1, index)?.f_reshape([n, 1])?;
        // H u: remove the (rounding-level) component along the all-ones vector.
        let u = u.f_sub(&ones.f_mul_scalar(u.f_mean(Kind::Double)?.f_double_value(&[])?)?)?;
        let mut a = u.f_div_scalar(lambda.sqrt())?;
        let mut x = gram.f_mm(&a)?;
        let largest = x.f_abs()?.f_argmax(None, false)?.f_int64_value(&[])?;
        if x.f_double_value(&[largest, 0])? < 0.0 {
            a = a.f_neg()?;
            x = x.f_neg()?;
        }
        for (i, c) in coords.iter_mut().enumerate() {
            // `+ 0.0` turns the final model's -0.0 (after a sign flip) into 0.0.
            c[k] = x.f_double_value(&[i as i64, 0])? + 0.0;
        }
        coefficient_rows.push(a.f_reshape([n])?);
    }
    let coefficients = Tensor::f_stack(&coefficient_rows, 0)?;
    Ok(Pca { eigenvalues, total, coefficients, coords })
}
