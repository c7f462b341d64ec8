//! Roles of a model's tensors: what each named tensor is, so that directions can apply
//! filter normalization to weight banks, treat biases and BN parameters ("bias+BN") specially,
//! and separate trainable weights from the BN running statistics ("weights" vs "states").

use serde::{Deserialize, Serialize};

/// What a named tensor of a model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Convolution filter bank `[out, in, kh, kw]`; a filter is one slice along dim 0.
    ConvWeight,
    /// Fully connected weight `[out, in]`; a "filter" is one output row (FC = 1x1 conv).
    LinearWeight,
    /// Bias of a convolution or linear layer `[out]`.
    Bias,
    /// Batch-norm scale (gamma) `[channels]`.
    BnWeight,
    /// Batch-norm shift (beta) `[channels]`.
    BnBias,
    /// Batch-norm running mean `[channels]` (a buffer, not trained).
    BnRunningMean,
    /// Batch-norm running variance `[channels]` (a buffer, not trained).
    BnRunningVar,
    /// Batch-norm step counter (scalar integer buffer); never perturbed.
    BnNumBatchesTracked,
    /// A trainable tensor of another kind (e.g. from an imported module).
    OtherParameter,
    /// A buffer of another kind (e.g. from an imported module); never perturbed.
    OtherBuffer,
}

impl Role {
    /// Trained by the optimizer (and part of the "weights" scope of directions).
    pub fn is_parameter(self) -> bool {
        matches!(
            self,
            Role::ConvWeight | Role::LinearWeight | Role::Bias | Role::BnWeight | Role::BnBias | Role::OtherParameter
        )
    }

    /// A BN running statistic: perturbed only in the "states" scope.
    pub fn is_bn_statistic(self) -> bool {
        matches!(self, Role::BnRunningMean | Role::BnRunningVar)
    }

    /// A weight bank (dim > 1) whose slices along dim 0 are filters.
    pub fn is_weight_bank(self) -> bool {
        matches!(self, Role::ConvWeight | Role::LinearWeight)
    }
}
