//! `cargo xtask install [--prefix DIR]`: the `losscape` binary and the libtorch it was built
//! against, side by side, so the binary runs from anywhere and can be copied to other machines of
//! the same OS (docs/scaling.md):
//!
//! ```text
//! PREFIX/bin/losscape            RUNPATH $ORIGIN/../lib/losscape
//! PREFIX/lib/losscape/*.so*      libtorch_cpu.so, libc10.so, ... (their own RPATH is $ORIGIN)
//! ```
//!
//! The build's binary finds libtorch through `$ORIGIN/../../.libtorch/lib` (the checkout's link,
//! `.cargo/config.toml`). The installed copy gets its RUNPATH rewritten in place to the shorter
//! `$ORIGIN/../lib/losscape` (the string in the dynamic string table, NUL-padded: what
//! `patchelf --set-rpath` does for a shorter path), so no other tool is needed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The RUNPATH the build gives binaries (`.cargo/config.toml`).
pub const BUILD_RUNPATH: &str = "$ORIGIN/../../.libtorch/lib:$ORIGIN/../../../.libtorch/lib";
/// The RUNPATH of the installed binary.
pub const INSTALLED_RUNPATH: &str = "$ORIGIN/../lib/losscape";

/// Replaces the NUL-terminated string `old` (which must occur exactly once) with `new`, padded
/// with NULs to the same length.
pub fn patch_runpath(binary: &mut [u8], old: &str, new: &str) -> Result<()> {
    if new.len() > old.len() {
        bail!("the new RUNPATH '{new}' is longer than the old '{old}'");
    }
    let needle: Vec<u8> = old.bytes().chain([0]).collect();
    let hits: Vec<usize> = binary.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle.as_slice()).map(|(i, _)| i).collect();
    let [at] = hits.as_slice() else {
        bail!("the binary holds the RUNPATH '{old}' {} times, not once: was it built by this workspace?", hits.len());
    };
    let slot = &mut binary[*at..*at + old.len()];
    slot.fill(0);
    slot[..new.len()].copy_from_slice(new.as_bytes());
    Ok(())
}

/// Hard-links `from` to `to` where they share a file system, else copies it.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    let _ = fs::remove_file(to);
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// Installs `binary` and the libraries of `libtorch_lib` under `prefix`; returns the installed
/// binary. The binary is written to a temporary name and renamed, so a running copy is not
/// disturbed.
pub fn install(binary: &Path, libtorch_lib: &Path, prefix: &Path) -> Result<PathBuf> {
    let (bin_dir, lib_dir) = (prefix.join("bin"), prefix.join("lib").join("losscape"));
    fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    fs::create_dir_all(&lib_dir).with_context(|| format!("creating {}", lib_dir.display()))?;
    let mut count = 0;
    for entry in fs::read_dir(libtorch_lib).with_context(|| format!("reading {}", libtorch_lib.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().contains(".so") {
            link_or_copy(&entry.path(), &lib_dir.join(&name))?;
            count += 1;
        }
    }
    if count == 0 {
        bail!("{} holds no shared libraries: run cargo xtask setup", libtorch_lib.display());
    }
    let mut bytes = fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    patch_runpath(&mut bytes, BUILD_RUNPATH, INSTALLED_RUNPATH).with_context(|| binary.display().to_string())?;
    let target = bin_dir.join("losscape");
    let tmp = bin_dir.join(format!(".losscape.tmp-{}", std::process::id()));
    fs::write(&tmp, &bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
    }
    fs::rename(&tmp, &target)?;
    Ok(target)
}

/// Runs `installed --version` with no library path and a working directory outside the
/// checkout, and returns its output.
pub fn check(installed: &Path) -> Result<String> {
    let out = Command::new(installed)
        .arg("--version")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LIBTORCH")
        .current_dir(std::env::temp_dir())
        .output()
        .with_context(|| format!("running {}", installed.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() || !text.starts_with("losscape ") {
        bail!("{} --version failed ({}): {}", installed.display(), out.status, text.trim());
    }
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runpath_is_rewritten_in_place() {
        let mut b = b"\x7fELF..\0libc.so.6\0$ORIGIN/../../.libtorch/lib:$ORIGIN/../../../.libtorch/lib\0GLIBC\0".to_vec();
        let len = b.len();
        patch_runpath(&mut b, BUILD_RUNPATH, INSTALLED_RUNPATH).unwrap();
        assert_eq!(b.len(), len);
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("\0$ORIGIN/../lib/losscape\0\0") && text.ends_with("\0GLIBC\0") && !text.contains(".libtorch"), "{text:?}");
        // Not found, or found twice: refused.
        assert!(patch_runpath(&mut b, BUILD_RUNPATH, INSTALLED_RUNPATH).unwrap_err().to_string().contains("0 times"));
        let mut twice = [BUILD_RUNPATH.as_bytes(), b"\0", BUILD_RUNPATH.as_bytes(), b"\0"].concat();
        assert!(patch_runpath(&mut twice, BUILD_RUNPATH, INSTALLED_RUNPATH).unwrap_err().to_string().contains("2 times"));
        assert!(patch_runpath(&mut twice, "short", "much longer").is_err());
    }
}
