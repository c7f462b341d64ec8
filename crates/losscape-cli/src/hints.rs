//! The libraries' errors say in words what is needed (they know no command line); here they get
//! the flags of this program that do it.

use losscape::landscape::Refusal;

/// `line` (an error's one-line text) with the remedies of the library errors found in `err`'s
/// chain given as this program's flags.
pub fn with_flags(err: &anyhow::Error, mut line: String) -> String {
    if let Some(refusal) = err.chain().find_map(|c| c.downcast_ref::<Refusal>()) {
        line = line.replace(&refusal.to_string(), &in_flags(refusal));
    }
    for cause in err.chain() {
        if let Some(losscape::core::Error::Locked(text)) = cause.downcast_ref() {
            line = line.replace(text.as_str(), &format!("{text}, or pass --wait"));
        }
        if let Some(e @ (losscape::train::Error::ConfigMismatch { .. } | losscape::train::Error::IncompleteRun { .. })) =
            cause.downcast_ref()
        {
            let text = e.to_string();
            line = line.replace(&text, &format!("{text} (--fresh)"));
        }
    }
    line
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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn line(err: anyhow::Error) -> String {
        with_flags(&err, crate::one_line(&err))
    }

    #[test]
    fn library_remedies_get_this_programs_flags() {
        let locked = losscape::core::Error::Locked("out.surface is being written by 7 (lock x); wait for it to finish".into());
        assert_eq!(
            line(anyhow::Error::new(locked)),
            "out.surface is being written by 7 (lock x); wait for it to finish, or pass --wait"
        );
        let foreign = losscape::train::Error::IncompleteRun { path: "run".into() };
        let text = line(anyhow::Error::new(foreign).context("training"));
        assert!(text.starts_with("training: run: holds run files") && text.ends_with("start over (--fresh)"), "{text}");
        let refusal = losscape::landscape::Error::from(Refusal::NoDataSet);
        let text = line(Err::<(), _>(refusal).context("preparing the surface").unwrap_err());
        assert_eq!(text, "preparing the surface: a TorchScript module records no data set: give one with --dataset (e.g. npz:data.npz)");
        let plain = anyhow::anyhow!("nothing to add");
        assert_eq!(line(plain), "nothing to add");
    }
}
