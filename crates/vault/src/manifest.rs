//! The run manifest: what went in, what came out, each file's BLAKE3 hash and size.
//!
//! `manifest.json` is pretty-printed JSON written atomically (temporary file in the run
//! directory, fsync, rename, fsync of the directory). Its exact bytes are what `manifest.sig`
//! signs, so it is never rewritten after signing.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::VaultError;

/// Name of the manifest file inside a run directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Name of the detached signature file inside a run directory.
pub const SIGNATURE_FILE: &str = "manifest.sig";

/// One hashed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the run directory with `/` separators; an input outside the run directory
    /// keeps the path it was given (absolute or relative to the working directory).
    pub path: String,
    /// BLAKE3 of the file's bytes, lowercase hex (64 characters).
    pub blake3: String,
    pub bytes: u64,
    /// Row count when the file is a table the caller knows how to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// The manifest of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub svalbard_version: String,
    /// RFC 3339 UTC timestamp of when the manifest was built.
    pub created: String,
    /// BLAKE3 (hex) of the effective configuration; set by the caller (see [`hash_bytes`]).
    pub config_hash: String,
    /// Model name → BLAKE3 (hex) of its weights; set by the caller.
    pub model_hashes: BTreeMap<String, String>,
    pub inputs: Vec<FileEntry>,
    pub outputs: Vec<FileEntry>,
}

/// BLAKE3 of a byte string, lowercase hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Streams a regular file through BLAKE3 (following symlinks: for inputs and models, named by the user);
/// returns (hex hash, byte count). Anything else is refused without blocking: see [`open_regular`].
pub fn hash_file(path: &Path) -> Result<(String, u64), VaultError> {
    hash_open_file(path, open_regular(path, true)?)
}

/// [`hash_file`] for a file of the run directory: a symlink is refused, not followed.
pub(crate) fn hash_run_file(path: &Path) -> Result<(String, u64), VaultError> {
    hash_open_file(path, open_regular(path, false)?)
}

/// The bytes of a regular file of the run directory (not a symlink, never blocking on a FIFO).
pub fn read_run_file(path: &Path) -> Result<Vec<u8>, VaultError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut open_regular(path, false)?, &mut bytes).map_err(|e| VaultError::io(path, e))?;
    Ok(bytes)
}

/// [`crate::files::open_regular`] with the vault's errors: a non-regular file (a symlink, when not following
/// them) is [`VaultError::NotRegular`], named with what it is.
fn open_regular(path: &Path, follow_symlinks: bool) -> Result<File, VaultError> {
    match crate::files::open_regular(path, follow_symlinks) {
        Ok((file, _)) => Ok(file),
        Err(crate::files::OpenError::NotRegular(file_type)) => Err(not_regular(path, &file_type)),
        Err(crate::files::OpenError::Io(e)) => Err(match fs::symlink_metadata(path) {
            Ok(m) if !follow_symlinks && m.file_type().is_symlink() => not_regular(path, &m.file_type()),
            _ => VaultError::io(path, e),
        }),
    }
}

fn not_regular(path: &Path, file_type: &fs::FileType) -> VaultError {
    VaultError::NotRegular { path: path.to_path_buf(), kind: describe(path, file_type) }
}

/// What a non-regular file is, for errors: "a symlink to /etc/passwd", "a FIFO".
fn describe(path: &Path, file_type: &fs::FileType) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO".into();
        }
        if file_type.is_socket() {
            return "a socket".into();
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device".into();
        }
    }
    if file_type.is_symlink() {
        return match fs::read_link(path) {
            Ok(target) => format!("a symlink to {}", target.display()),
            Err(_) => "a symlink".into(),
        };
    }
    if file_type.is_dir() {
        return "a directory".into();
    }
    "not a regular file".into()
}

fn hash_open_file(path: &Path, file: File) -> Result<(String, u64), VaultError> {
    let mut hasher = blake3::Hasher::new();
    // Read straight into the hasher's own buffer: a BufReader in between copied every byte once more.
    hasher.update_reader(file).map_err(|e| VaultError::io(path, e))?;
    Ok((hasher.finalize().to_hex().to_string(), hasher.count()))
}

/// Files that are never part of the outputs: the manifest, its signature and temporary or
/// hidden files (`.name`, `name.tmp`, `name.partial`, `name~`, `name.part`).
pub fn is_excluded(file_name: &str) -> bool {
    file_name == MANIFEST_FILE
        || file_name == SIGNATURE_FILE
        || file_name.starts_with('.')
        || file_name.ends_with(".tmp")
        || file_name.ends_with(".partial")
        || file_name.ends_with(".part")
        || file_name.ends_with('~')
}

/// What is in a run directory, excluded names aside.
#[derive(Debug, Default)]
pub struct RunFiles {
    /// Regular files, as sorted `/`-separated relative paths.
    pub files: Vec<String>,
    /// Everything else that is not a directory, with what it is: a symlink would let the manifest certify (and
    /// `verify` read) a file outside the run, a FIFO or a device would block or never end. A run directory
    /// holds regular files only, so these are errors for `manifest` and problems for `verify`.
    pub not_regular: Vec<(String, String)>,
}

/// Walk `run_dir` recursively without following symlinks: see [`RunFiles`].
pub fn list_run_files(run_dir: &Path) -> Result<RunFiles, VaultError> {
    let mut out = RunFiles::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = run_dir.join(&rel);
        let entries = fs::read_dir(&dir).map_err(|e| VaultError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| VaultError::io(&dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(VaultError::Invalid(format!("non-UTF-8 file name under {}", dir.display())));
            };
            if is_excluded(name) {
                continue;
            }
            let child = rel.join(name);
            let ft = entry.file_type().map_err(|e| VaultError::io(entry.path(), e))?;
            if ft.is_dir() {
                stack.push(child);
            } else if ft.is_file() {
                out.files.push(to_slash(&child));
            } else {
                out.not_regular.push((to_slash(&child), describe(&entry.path(), &ft)));
            }
        }
    }
    out.files.sort();
    out.not_regular.sort();
    Ok(out)
}

fn to_slash(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves a manifest path against the run directory, refusing `..` and absolute paths for
/// outputs (a manifest must not make `verify` read files elsewhere).
pub(crate) fn resolve_output(run_dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!("unsafe output path {rel:?} in manifest"));
    }
    Ok(run_dir.join(p))
}

/// Resolves an input path: relative to the run directory when it is relative.
pub(crate) fn resolve_input(run_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        run_dir.join(p)
    }
}

/// How an input is recorded: relative to the run directory when inside it, else as given.
fn input_display(run_dir: &Path, input: &Path) -> String {
    if let (Ok(dir), Ok(abs)) = (run_dir.canonicalize(), input.canonicalize()) {
        if let Ok(rel) = abs.strip_prefix(&dir) {
            return to_slash(rel);
        }
        // Absolute: a path relative to the directory `filter` ran in would mean nothing to `verify --inputs`
        // run from anywhere else.
        return abs.to_string_lossy().replace('\\', "/");
    }
    input.to_string_lossy().replace('\\', "/")
}

/// Builds the manifest of `run_dir`: hashes each of `inputs` and every output file under
/// `run_dir` (all files except the manifest, its signature, temporary/hidden files and files
/// that are themselves listed inputs). `row_counter` is called with each output's full path.
///
/// `config_hash` and `model_hashes` are left empty for the caller to fill in.
pub fn build_manifest(
    run_dir: &Path,
    inputs: &[PathBuf],
    row_counter: &(dyn Fn(&Path) -> Option<u64> + Sync),
) -> Result<Manifest, VaultError> {
    if !run_dir.is_dir() {
        return Err(VaultError::Invalid(format!("run directory {} does not exist", run_dir.display())));
    }
    let listing = list_run_files(run_dir)?;
    if !listing.not_regular.is_empty() {
        let what: Vec<String> =
            listing.not_regular.iter().map(|(path, kind)| format!("{path} is {kind}, not a regular file")).collect();
        return Err(VaultError::Invalid(format!(
            "refusing to certify {}: {}; a run directory may hold only regular files",
            run_dir.display(),
            what.join(", ")
        )));
    }
    // The files are hashed in parallel, on the current rayon pool: a run's inputs and outputs are each as large
    // as the data, and one thread hashing them all was a noticeable tail of every run.
    let input_entries = inputs
        .par_iter()
        .map(|input| {
            // An input streamed through a FIFO is gone after the run: refused here (with its name), never waited on.
            let (blake3, bytes) = hash_file(input)?;
            Ok(FileEntry { path: input_display(run_dir, input), blake3, bytes, rows: None })
        })
        .collect::<Result<Vec<_>, VaultError>>()?;
    let outputs = listing
        .files
        .into_par_iter()
        .filter(|rel| !input_entries.iter().any(|i| i.path == *rel))
        .map(|rel| {
            let full = run_dir.join(&rel);
            let (blake3, bytes) = hash_run_file(&full)?;
            Ok(FileEntry { path: rel, blake3, bytes, rows: row_counter(&full) })
        })
        .collect::<Result<Vec<_>, VaultError>>()?;
    Ok(Manifest {
        svalbard_version: env!("CARGO_PKG_VERSION").to_string(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        config_hash: String::new(),
        model_hashes: BTreeMap::new(),
        inputs: input_entries,
        outputs,
    })
}

impl Manifest {
    /// Pretty JSON with a trailing newline: the exact bytes written and signed.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, VaultError> {
        let mut v =
            serde_json::to_vec_pretty(self).map_err(|e| VaultError::Invalid(format!("serialising manifest: {e}")))?;
        v.push(b'\n');
        Ok(v)
    }

    /// Writes `run_dir/manifest.json` atomically; returns its path. A signature from an
    /// earlier manifest no longer applies and is removed.
    pub fn write(&self, run_dir: &Path) -> Result<PathBuf, VaultError> {
        let path = run_dir.join(MANIFEST_FILE);
        write_atomic(&path, &self.to_json_bytes()?)?;
        let sig = run_dir.join(SIGNATURE_FILE);
        if sig.exists() {
            fs::remove_file(&sig).map_err(|e| VaultError::io(&sig, e))?;
        }
        Ok(path)
    }

    /// Reads `run_dir/manifest.json`.
    pub fn read(run_dir: &Path) -> Result<Manifest, VaultError> {
        Self::from_json_bytes(&read_run_file(&run_dir.join(MANIFEST_FILE))?)
    }

    pub fn from_json_bytes(bytes: &[u8]) -> Result<Manifest, VaultError> {
        serde_json::from_slice(bytes)
            .map_err(|e| VaultError::Invalid(format!("{MANIFEST_FILE} is not a valid manifest: {e}")))
    }
}

/// [`crate::files::write_atomic_io`] with the vault's error type.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    crate::files::write_atomic_io(path, bytes).map_err(|e| VaultError::io(path, e))
}
