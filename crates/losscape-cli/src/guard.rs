//! Checks that keep the user's files safe and the flags in range: outputs that would overwrite
//! an input are refused, files written incrementally are locked against a second writer, and the
//! value parsers used by flags that must be positive or non-negative.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Result};
use losscape::core::fsio::FileLock;

/// Refuses to write `out` when it is (or links to) one of `inputs`: an export named like its
/// surface, a direction file written over its checkpoint.
pub fn refuse_overwrite<'a>(out: &Path, inputs: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    let Ok(out_meta) = std::fs::metadata(out) else { return Ok(()) };
    for input in inputs {
        if let Ok(m) = std::fs::metadata(input) {
            if m.dev() == out_meta.dev() && m.ino() == out_meta.ino() {
                bail!(
                    "the output {} is the input {}; refusing to overwrite an input (choose another output path)",
                    out.display(),
                    input.display()
                );
            }
        }
    }
    Ok(())
}

/// Locks the file `out` (a surface file, a Hessian map) for this run: a second writer is refused
/// at once, naming the holder's process id, or waits with `wait` (`--wait`). A target that is not
/// a regular file is refused first, and a symbolic link is locked at the file it points to (where
/// the writes go), so two runs through different links still meet.
pub fn lock(out: &Path, wait: bool) -> Result<FileLock> {
    let target = losscape::core::fsio::resolve_target(out)?;
    Ok(FileLock::acquire(&target, wait)?)
}

/// Locks the run folder `dir` (see [`lock`]).
pub fn lock_folder(dir: &Path, wait: bool) -> Result<FileLock> {
    Ok(FileLock::acquire(dir, wait)?)
}

/// A whole number of at least 1 (threads, batch sizes, per-class counts).
pub fn positive(text: &str) -> Result<usize, String> {
    let n: i128 = text.trim().parse().map_err(|_| format!("'{text}' is not a whole number"))?;
    if n < 1 {
        return Err(format!("must be at least 1, got {n}"));
    }
    usize::try_from(n).map_err(|_| format!("{n} is too large"))
}

/// A finite number greater than 0 (tolerances).
pub fn positive_f64(text: &str) -> Result<f64, String> {
    let x: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number"))?;
    if !(x.is_finite() && x > 0.0) {
        return Err(format!("must be a finite number greater than 0, got {text}"));
    }
    Ok(x)
}

/// A finite number of at least 0 (absolute tolerances, save intervals).
pub fn non_negative_f64(text: &str) -> Result<f64, String> {
    let x: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number"))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err(format!("must be a finite number of at least 0, got {text}"));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(positive("3"), Ok(3));
        assert!(positive("0").unwrap_err().contains("at least 1"));
        assert!(positive("-2").unwrap_err().contains("at least 1"));
        assert!(positive("x").is_err());
        assert!(positive_f64("-1").unwrap_err().contains("greater than 0"));
        assert!(positive_f64("nan").is_err());
        assert_eq!(non_negative_f64("0"), Ok(0.0));
        assert!(non_negative_f64("-0.5").is_err());
    }

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert!(refuse_overwrite(&a, [a.as_path()]).is_err());
        assert!(refuse_overwrite(&link, [a.as_path()]).is_err());
        assert!(refuse_overwrite(&dir.path().join("new"), [a.as_path()]).is_ok());
    }
}
