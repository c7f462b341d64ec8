//! The libraries' refusals say in words what is needed; here they get the flags that do it.

use losscape::landscape::Refusal;

/// `line` (an error's one-line text) with the text of a library refusal found in `err`'s chain
/// replaced by the same refusal in terms of this program's flags.
pub fn with_flags(err: &anyhow::Error, line: String) -> String {
    let Some(refusal) = err.chain().find_map(|c| c.downcast_ref::<Refusal>()) else {
        return line;
    };
    line.replace(&refusal.to_string(), &in_flags(refusal))
}

fn in_flags(refusal: &Refusal) -> String {
    match refusal {
        Refusal::DirectionsNeedBatchStats { file } => format!(
            "{} runs between models whose BN running statistics cannot move (it was made with --bn batch): \
             add --bn batch, so each point is evaluated with its own batch statistics",
            file.display()
        ),
        Refusal::StatesScopeUnreachable { reason } => {
            format!("the states scope also moves the BN running statistics, but {reason}: use --scope weights")
        }
        Refusal::TargetNeedsBatchStats { reason } => format!(
            "a direction between two models moves their BN running statistics too, but {reason}: add --bn batch to \
             evaluate batch normalization with the statistics of each evaluated batch (re-estimated at every point; \
             give a --batch-size that holds the whole data set to use all of it)"
        ),
        Refusal::NoDataSet => "a TorchScript module records no data set: give one with --dataset (e.g. npz:data.npz)".into(),
        other => other.to_string(),
    }
}
