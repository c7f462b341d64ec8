//! Stochastic gradient descent with momentum, Nesterov momentum and coupled weight decay, written
//! out by hand so that the momentum buffers can be saved and restored (tch's optimizer keeps them
//! private), which is what makes a resumed run bit-identical to an uninterrupted one.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};

/// Hyper-parameters of one SGD step (the learning rate is passed per step: it follows the schedule).
///
/// The update follows PyTorch's `torch.optim.SGD` with dampening 0, for every parameter `p` with
/// gradient `g`:
///
/// ```text
/// d   = g + weight_decay * p          (coupled weight decay, "L2 in the gradient")
/// buf = momentum * buf + d            (buf starts at zero, so the first step gives buf = d)
/// d   = d + momentum * buf  if nesterov, else  d = buf
/// p   = p - lr * d
/// ```
///
/// Weight decay applies to every trainable parameter (convolution and linear weights, biases,
/// batch-norm scale and shift), as in the original code, which hands all of `model.parameters()`
/// to one optimizer group. BN running statistics are buffers and are never touched.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    /// Momentum factor (0 disables momentum).
    pub momentum: f64,
    /// Nesterov momentum (requires `momentum > 0`).
    pub nesterov: bool,
    /// Coupled L2 weight decay factor.
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Checks the values: finite, momentum in `[0, 1)`, weight decay not negative, Nesterov only
    /// with momentum.
    pub fn check(&self) -> Result<()> {
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(Error::Config(format!("momentum must be in [0, 1), got {}", self.momentum)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::Config(format!(
                "weight decay must be finite and not negative, got {}",
                self.weight_decay
            )));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(Error::Config("nesterov momentum requires a momentum above 0".into()));
        }
        Ok(())
    }
}

/// The optimizer state: one momentum buffer per trainable parameter, in the model's canonical
/// parameter order.
#[derive(Debug)]
pub struct Sgd {
    config: SgdConfig,
    buffers: Vec<Tensor>,
}

impl Sgd {
    /// An optimizer for `params` (in canonical order) with zero momentum buffers.
    pub fn new(config: SgdConfig, params: &[Tensor]) -> Result<Self> {
        config.check()?;
        let buffers = params.iter().map(|p| p.f_zeros_like().map(|b| b.detach())).collect::<Result<_, _>>()?;
        Ok(Self { config, buffers })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The momentum buffers, one per parameter in canonical order (shared storage: do not modify).
    pub fn buffers(&self) -> &[Tensor] {
        &self.buffers
    }

    /// Overwrites the momentum buffers with `values` (a resume). Shapes and count must match.
    pub fn load_buffers(&mut self, values: &[Tensor]) -> Result<()> {
        if values.len() != self.buffers.len() {
            return Err(Error::Config(format!(
                "{} momentum buffers given for {} parameters",
                values.len(),
                self.buffers.len()
            )));
        }
        let _guard = tch::no_grad_guard();
        for (i, (buf, value)) in self.buffers.iter_mut().zip(values).enumerate() {
            if buf.size() != value.size() {
                return Err(Error::Config(format!(
                    "momentum buffer {i} has shape {:?}, the parameter has {:?}",
                    value.size(),
                    buf.size()
                )));
            }
            buf.f_copy_(value)?;
        }
        Ok(())
    }

    /// One update of every parameter in `params` (the same list, in the same order, as given to
    /// [`Sgd::new`]) from its accumulated gradient, with learning rate `lr`. Parameters without a
    /// gradient are skipped (their buffers are left as they are), like PyTorch.
    pub fn step(&mut self, params: &[Tensor], lr: f64) -> Result<()> {
        if params.len() != self.buffers.len() {
            return Err(Error::Config(format!(
                "sgd step given {} parameters, built for {}",
                params.len(),
                self.buffers.len()
            )));
        }
        let SgdConfig { momentum, nesterov, weight_decay } = self.config;
        let _guard = tch::no_grad_guard();
        for (p, buf) in params.iter().zip(self.buffers.iter_mut()) {
            let grad = p.grad();
            if !grad.defined() {
                continue;
            }
            let mut d = if weight_decay != 0.0 { grad.f_add(&p.f_mul_scalar(weight_decay)?)? } else { grad };
            if momentum != 0.0 {
                let _ = buf.f_mul_scalar_(momentum)?;
                let _ = buf.f_add_(&d)?;
                d = if nesterov { d.f_add(&buf.f_mul_scalar(momentum)?)? } else { buf.shallow_clone() };
            }
            let mut p = p.shallow_clone();
            let _ = p.f_sub_(&d.f_mul_scalar(lr)?)?;
        }
        Ok(())
    }

    /// Sets the gradients of `params` to zero (before the next backward pass).
    pub fn zero_grad(params: &[Tensor]) {
        for p in params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn param(values: &[f64]) -> Tensor {
        Tensor::from_slice(values).set_requires_grad(true)
    }

    /// Sets the gradient of `p` to `g` through a backward pass of `sum(p * g)`.
    fn set_grad(p: &Tensor, g: &[f64]) {
        Sgd::zero_grad(std::slice::from_ref(p));
        let g = Tensor::from_slice(g);
        (p * g).sum(Kind::Double).backward();
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t).unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} != {b:?}");
        }
    }

    /// Two steps computed by hand for plain, momentum, Nesterov and weight-decay SGD.
    #[test]
    fn matches_hand_computation() {
        let (p0, g1, g2) = ([1.0, -2.0], [0.5, 0.25], [-1.0, 2.0]);
        let (lr, m, wd) = (0.1, 0.9, 0.01);
        for (nesterov, momentum, weight_decay) in
            [(false, 0.0, 0.0), (false, m, 0.0), (true, m, 0.0), (true, m, wd), (false, 0.0, wd)]
        {
            let p = param(&p0);
            let config = SgdConfig { momentum, nesterov, weight_decay };
            let mut sgd = Sgd::new(config, std::slice::from_ref(&p)).unwrap();
            // By hand, per coordinate.
            let mut want = p0.to_vec();
            let mut buf = [0.0; 2];
            for g in [g1, g2] {
                set_grad(&p, &g);
                sgd.step(std::slice::from_ref(&p), lr).unwrap();
                for i in 0..2 {
                    let d = g[i] + weight_decay * want[i];
                    buf[i] = momentum * buf[i] + d;
                    let d = if momentum == 0.0 {
                        d
                    } else if nesterov {
                        d + momentum * buf[i]
                    } else {
                        buf[i]
                    };
                    want[i] -= lr * d;
                }
                close(&values(&p), &want);
                if momentum != 0.0 {
                    close(&values(&sgd.buffers()[0]), &buf);
                }
            }
        }
    }

    /// The same numbers written out: Nesterov, momentum 0.9, weight decay 0.01, lr 0.1.
    #[test]
    fn nesterov_with_weight_decay_literal_numbers() {
        let p = param(&[1.0]);
        let config = SgdConfig { momentum: 0.9, nesterov: true, weight_decay: 0.01 };
        let mut sgd = Sgd::new(config, std::slice::from_ref(&p)).unwrap();
        set_grad(&p, &[0.5]);
        sgd.step(std::slice::from_ref(&p), 0.1).unwrap();
        // d = 0.5 + 0.01 = 0.51; buf = 0.51; d = 0.51 + 0.9 * 0.51 = 0.969; p = 1 - 0.0969.
        close(&values(&p), &[0.9031]);
        close(&values(&sgd.buffers()[0]), &[0.51]);
        set_grad(&p, &[-1.0]);
        sgd.step(std::slice::from_ref(&p), 0.1).unwrap();
        // d = -1 + 0.009031 = -0.990969; buf = 0.459 - 0.990969 = -0.531969;
        // d = -0.990969 - 0.4787721 = -1.4697411; p = 0.9031 + 0.14697411.
        close(&values(&sgd.buffers()[0]), &[-0.531969]);
        close(&values(&p), &[1.05007411]);
    }

    #[test]
    fn parameters_without_gradient_are_skipped_and_buffers_restore() {
        let a = param(&[1.0, 2.0]);
        let b = param(&[3.0]);
        let params = [a.shallow_clone(), b.shallow_clone()];
        let config = SgdConfig { momentum: 0.5, nesterov: false, weight_decay: 0.0 };
        let mut sgd = Sgd::new(config, &params).unwrap();
        set_grad(&a, &[1.0, 1.0]);
        sgd.step(&params, 1.0).unwrap();
        close(&values(&a), &[0.0, 1.0]);
        close(&values(&b), &[3.0]);
        let saved: Vec<Tensor> = sgd.buffers().iter().map(|t| t.copy()).collect();
        let mut other = Sgd::new(config, &params).unwrap();
        other.load_buffers(&saved).unwrap();
        close(&values(&other.buffers()[0]), &[1.0, 1.0]);
        assert!(other.load_buffers(&saved[..1]).is_err());
        let wrong = [Tensor::zeros([3], (Kind::Double, Device::Cpu)), saved[1].copy()];
        assert!(other.load_buffers(&wrong).unwrap_err().to_string().contains("shape"));
    }

    #[test]
    fn rejects_bad_hyper_parameters() {
        let bad = [
            SgdConfig { momentum: 1.0, nesterov: false, weight_decay: 0.0 },
            SgdConfig { momentum: -0.1, nesterov: false, weight_decay: 0.0 },
            SgdConfig { momentum: 0.0, nesterov: true, weight_decay: 0.0 },
            SgdConfig { momentum: 0.9, nesterov: false, weight_decay: f64::NAN },
        ];
        for c in bad {
            assert!(c.check().is_err(), "{c:?}");
        }
    }
}
