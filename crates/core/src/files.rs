//! Opening files the way every reader of inputs and run directories must (regular files only, never blocking),
//! and writing them atomically under names that tell this process's temporaries from any other's.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Why a file was not opened.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// A FIFO, socket, device or directory (or, not following symlinks, a symlink seen by its type).
    NotRegular(FileType),
}

/// Open `path` for reading if it is a regular file. The open cannot block (`O_NONBLOCK`: opening a FIFO would
/// otherwise wait for a writer, and on a regular file the flag changes nothing); the type is checked on the
/// open handle, so a file swapped between a check and the open cannot slip through; with
/// `follow_symlinks = false` the kernel refuses a symlink (`O_NOFOLLOW`, an I/O error).
pub fn open_regular(path: &Path, follow_symlinks: bool) -> Result<(File, Metadata), OpenError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | if follow_symlinks { 0 } else { libc::O_NOFOLLOW });
    }
    let file = options.open(path).map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular(meta.file_type()));
    }
    Ok((file, meta))
}

/// The suffix of every temporary file svalbard writes (a resumed run removes its own).
pub const TMP_SUFFIX: &str = ".tmp";

/// Tells this process's temporary files from any other's: `<pid>-<start time in ns>`, in hex.
pub fn run_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("{:x}-{:x}", std::process::id(), nanos)
    })
}

/// Write `bytes` to `path` atomically: a hidden temporary file beside it (its `TMP_SUFFIX` name is what a
/// resumed run cleans up), fsync, rename, then fsync the directory so the rename itself survives a crash.
/// On failure the temporary file is removed.
pub fn write_atomic_io(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.{}{TMP_SUFFIX}", run_token()));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
