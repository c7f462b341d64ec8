//! Files written whole or not at all: data goes to a temporary file beside the target, is flushed
//! to disk, and is renamed over the target, so a crash never leaves a half-written file.
//!
//! Targets are checked first: a symbolic link is followed (the file it points to is replaced, the
//! link stays), and a target that exists but is not a regular file (a folder, a FIFO, a device)
//! is refused. Temporaries that a killed process left beside the target (`.NAME.tmp-PID` of a PID
//! that no longer runs) are removed by the next write of that target.
//!
//! [`FileLock`] is the advisory lock that runs writing a file incrementally hold on it (a lock
//! file `.NAME.lock` beside it, see docs/formats.md), so that a second writer is refused.

use std::fs;
use std::io::{BufWriter, Read, Seek, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically with a closure that streams into a buffered writer.
///
/// Missing parent folders are created. On any error the temporary file is removed and `path`
/// keeps its previous content (or stays absent).
pub fn write_atomic_with<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<fs::File>) -> std::io::Result<()>,
{
    write_through_temporary(path, |temp| {
        let mut writer = BufWriter::new(fs::File::create(temp)?);
        write(&mut writer)?;
        writer.into_inner().map_err(|e| e.into_error())?.sync_all()
    })
}

/// The one atomic write: `write` fills (and syncs) the temporary file beside the resolved
/// target, which is then renamed over it; on any error the temporary is removed.
fn write_through_temporary(path: &Path, write: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<()> {
    let resolved = resolve_target(path)?;
    let path = resolved.as_path();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    remove_stale_temporaries(path);
    let temp = temp_path(path);
    if let Err(e) = write(&temp).and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Writes `path` atomically with a closure that writes a whole file at the temporary path it is
/// given (for writers that take a path, such as libtorch's module saving). The file is then
/// flushed to disk and renamed over `path`; on any error the temporary file is removed and
/// `path` keeps its previous content. Missing parent folders are created.
pub fn write_atomic_via<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> std::io::Result<()>,
{
    write_through_temporary(path, |temp| {
        write(temp)?;
        fs::File::open(temp)?.sync_all()
    })
}

/// Where a write of `path` goes: `path` itself, or the file a symbolic link at `path` points to
/// (followed through chains of links). Refuses a target that exists and is not a regular file.
pub fn resolve_target(path: &Path) -> Result<PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        let meta = match fs::symlink_metadata(&target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(Error::io(&target, e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let link = fs::read_link(&target).map_err(|e| Error::io(&target, e))?;
            target = match target.parent() {
                Some(parent) if link.is_relative() => parent.join(link),
                _ => link,
            };
            continue;
        }
        if kind.is_file() {
            return Ok(target);
        }
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_block_device() || kind.is_char_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        let via = if target == path { String::new() } else { format!(" (the symbolic link {} points to it)", path.display()) };
        return Err(Error::Invalid(format!(
            "{} is {what}{via}; refusing to replace it with a file",
            target.display()
        )));
    }
    Err(Error::Invalid(format!("{}: too many levels of symbolic links", path.display())))
}

/// Removes the temporaries `.NAME.tmp-PID` beside `path` whose process no longer runs (a run
/// killed during a save). Best effort: anything unreadable is left alone.
pub fn remove_stale_temporaries(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!(".{name}.tmp-");
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = fs::read_dir(&parent) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether a process with this id runs (on this machine).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The lock file of `path`: `.NAME.lock` in the same folder.
pub fn lock_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.lock"))
}

/// An advisory lock on a file (or folder) that a run writes incrementally: `flock` on the lock
/// file `.NAME.lock` beside it, which holds the holder's process id. Released (and the lock file
/// removed) when dropped; a killed holder's lock is released by the kernel, and its lock file is
/// taken over by the next run.
#[derive(Debug)]
pub struct FileLock {
    file: fs::File,
    path: PathBuf,
}

impl FileLock {
    /// Locks `target`. Held by another process: with `wait`, waits until it is released
    /// (polling), else fails at once with an error naming the holder's process id.
    pub fn acquire(target: &Path, wait: bool) -> Result<FileLock> {
        let path = lock_path(target);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        loop {
            let mut file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            // SAFETY: flock on a file descriptor this function owns.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(Error::io(&path, e));
                }
                if wait {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim().parse::<u32>() {
                    Ok(pid) => format!("process {pid}"),
                    Err(_) => "another process".to_string(),
                };
                return Err(Error::Locked(format!(
                    "{} is being written by {holder} (lock {}); wait for it to finish",
                    target.display(),
                    path.display()
                )));
            }
            // The holder before us may have removed the lock file after we opened it: then
            // our lock is on a file nobody else sees, and we start over.
            let same = match (file.metadata(), fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let written = (|| {
                file.set_len(0)?;
                file.rewind()?;
                writeln!(file, "{}", std::process::id())?;
                file.sync_all()
            })();
            written.map_err(|e| Error::io(&path, e))?;
            return Ok(FileLock { file, path });
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Removed while still locked, so a waiting process re-checks and starts over.
        let _ = fs::remove_file(&self.path);
        // SAFETY: unlocking a descriptor we own; closing it would release the lock too.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The temporary name used while writing `path`: hidden, in the same folder, unique per process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Reads a whole file, naming the path in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_via_a_path_are_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/m.bin");
        write_atomic_via(&target, |temp| fs::write(temp, b"one")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"one");
        let err = write_atomic_via(&target, |temp| {
            fs::write(temp, b"half")?;
            Err(std::io::Error::other("writer failed"))
        })
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("writer failed"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"one", "the old content stays");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["m.bin"], "no temporary left behind");
    }

    #[test]
    fn symlinks_are_followed_and_special_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.bin");
        let link = dir.path().join("link.bin");
        write_atomic(&real, b"old").unwrap();
        std::os::unix::fs::symlink("real.bin", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        let err = write_atomic(dir.path(), b"x").unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
        let err = write_atomic(Path::new("/dev/null"), b"x").unwrap_err().to_string();
        assert!(err.contains("is a device"), "{err}");
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        // PIDs above the kernel's maximum (4194304) never run.
        let stale = dir.path().join(".out.bin.tmp-999999999");
        fs::write(&stale, b"half").unwrap();
        let other = dir.path().join(".other.bin.tmp-999999999");
        fs::write(&other, b"half").unwrap();
        write_atomic(&path, b"whole").unwrap();
        assert!(!stale.exists());
        assert!(other.exists(), "temporaries of other files are not ours to remove");
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.surface");
        let lock = FileLock::acquire(&path, false).unwrap();
        let err = FileLock::acquire(&path, false).unwrap_err().to_string();
        assert!(err.contains(&format!("process {}", std::process::id())), "{err}");
        drop(lock);
        assert!(!lock_path(&path).exists(), "the lock file goes with the lock");
        let _again = FileLock::acquire(&path, false).unwrap();
    }

    #[test]
    fn writes_whole_file_and_replaces_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.bin");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file may remain");
    }

    #[test]
    fn failed_write_keeps_old_content_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("simulated crash"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("simulated crash"));
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(!temp_path(&path).exists());
    }
}
