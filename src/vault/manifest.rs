//! The run manifest: what went in, what came out, each file's BLAKE3 hash and size.
//!
//! `manifest.json` is pretty-printed JSON written atomically (temporary file in the run
//! directory, fsync, rename, fsync of the directory). Its exact bytes are what `manifest.sig`
//! signs, so it is never rewritten after signing.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Component, Path, PathBuf};

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

/// Streams a file through BLAKE3; returns (hex hash, byte count).
pub fn hash_file(path: &Path) -> Result<(String, u64), VaultError> {
    let file = File::open(path).map_err(|e| VaultError::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(BufReader::with_capacity(1 << 20, file)).map_err(|e| VaultError::io(path, e))?;
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

/// Every regular file under `run_dir` (recursively, not following symlinked directories),
/// minus the excluded ones, as sorted `/`-separated relative paths.
pub fn list_run_files(run_dir: &Path) -> Result<Vec<String>, VaultError> {
    let mut out = Vec::new();
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
            } else if ft.is_file() || (ft.is_symlink() && entry.path().is_file()) {
                out.push(to_slash(&child));
            }
        }
    }
    out.sort();
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
    row_counter: &dyn Fn(&Path) -> Option<u64>,
) -> Result<Manifest, VaultError> {
    if !run_dir.is_dir() {
        return Err(VaultError::Invalid(format!("run directory {} does not exist", run_dir.display())));
    }
    let mut input_entries = Vec::with_capacity(inputs.len());
    for input in inputs {
        let (blake3, bytes) = hash_file(input)?;
        input_entries.push(FileEntry { path: input_display(run_dir, input), blake3, bytes, rows: None });
    }
    let mut outputs = Vec::new();
    for rel in list_run_files(run_dir)? {
        if input_entries.iter().any(|i| i.path == rel) {
            continue;
        }
        let full = run_dir.join(&rel);
        let (blake3, bytes) = hash_file(&full)?;
        outputs.push(FileEntry { path: rel, blake3, bytes, rows: row_counter(&full) });
    }
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
        let path = run_dir.join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(|e| VaultError::io(&path, e))?;
        Self::from_json_bytes(&bytes)
    }

    pub fn from_json_bytes(bytes: &[u8]) -> Result<Manifest, VaultError> {
        serde_json::from_slice(bytes)
            .map_err(|e| VaultError::Invalid(format!("{MANIFEST_FILE} is not a valid manifest: {e}")))
    }
}

/// [`crate::sink::write_atomic_io`] with the vault's error type.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    crate::sink::write_atomic_io(path, bytes).map_err(|e| VaultError::io(path, e))
}
