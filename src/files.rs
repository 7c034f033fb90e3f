//! Opening files the way every reader of inputs and run directories must: regular files only, never blocking.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io;
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
