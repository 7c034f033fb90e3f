//! Sources: turn input files into [`DocBatch`]es of bounded size.
//!
//! [`plan_inputs`] expands the command line (files, directories, globs) into a sorted, de-duplicated list of
//! inputs with their formats; [`open`] opens one by its format. A record that cannot be read becomes a
//! [`crate::batch::Quarantined`] row, never a silent drop.

mod config;
mod gz_members;
#[cfg(feature = "html")]
mod html;
pub mod jsonl;
pub mod parquet;
pub mod warc;
mod warc_docs;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::batch::DocBatch;
use crate::error::{Error, Result};

pub use config::InputConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Jsonl(Compression),
    Parquet,
    /// Common Crawl WARC or WET (`.warc`, `.warc.gz`, `.warc.wet.gz`, `.wet.gz`).
    Warc,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    pub size: u64,
}

impl InputFile {
    /// The file name, used to derive document ids.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// The format of a path by its extension, or None if svalbard does not read it.
pub fn detect_format(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".warc") || name.ends_with(".warc.gz") || name.ends_with(".wet") || name.ends_with(".wet.gz") {
        return Some(Format::Warc);
    }
    let (stem, compression) = if let Some(s) = name.strip_suffix(".gz") {
        (s.to_string(), Compression::Gzip)
    } else if let Some(s) = name.strip_suffix(".zst").or_else(|| name.strip_suffix(".zstd")) {
        (s.to_string(), Compression::Zstd)
    } else {
        (name.clone(), Compression::None)
    };
    if stem.ends_with(".jsonl") || stem.ends_with(".ndjson") || stem.ends_with(".json") {
        return Some(Format::Jsonl(compression));
    }
    if compression == Compression::None && (stem.ends_with(".parquet") || stem.ends_with(".pq")) {
        return Some(Format::Parquet);
    }
    None
}

/// Expand files, directories (recursively, readable formats only) and glob patterns into the run's inputs,
/// sorted by path so that every run and every shard sees the same order.
pub fn plan_inputs(specs: &[String]) -> Result<Vec<InputFile>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for spec in specs {
        let p = Path::new(spec);
        if p.is_dir() {
            collect_dir(p, &mut paths)?;
        } else if p.exists() {
            if detect_format(p).is_none() {
                return Err(Error::input(
                    p,
                    "unknown format (expected .jsonl[.gz|.zst], .ndjson, .json, .parquet, .warc[.gz] or .wet[.gz])",
                ));
            }
            paths.push(p.to_path_buf());
        } else if spec.contains(['*', '?', '[']) {
            let matches = glob::glob(spec).map_err(|e| Error::Config(format!("bad glob {spec:?}: {e}")))?;
            let before = paths.len();
            for m in matches {
                let m = m.map_err(|e| Error::input(e.path(), e.error()))?;
                if m.is_file() && detect_format(&m).is_some() {
                    paths.push(m);
                }
            }
            if paths.len() == before {
                return Err(Error::input(spec, "glob matched no readable input"));
            }
        } else {
            return Err(Error::input(p, "no such file or directory"));
        }
    }
    paths.sort();
    // One file named two ways (`a.jsonl`, `./a.jsonl`, a symlink) is one input: the first spelling in order.
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    if paths.is_empty() {
        return Err(Error::Config("no input files".into()));
    }
    paths
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).map_err(|e| Error::input(&path, e))?;
            if !meta.is_file() {
                // A FIFO or a device would block the reader (and the manifest, which hashes inputs).
                return Err(Error::input(&path, "not a regular file (a FIFO, socket or device cannot be an input)"));
            }
            let format = detect_format(&path).expect("filtered above");
            Ok(InputFile { path, format, size: meta.len() })
        })
        .collect()
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::input(dir, e))? {
        let path = entry.map_err(|e| Error::input(dir, e))?.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if detect_format(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

/// Open an input for reading, refusing anything but a regular file: a FIFO would block the open until a
/// writer appears and could be read only once (the run plans, reads and fingerprints each input), and a
/// device has no size to plan by. See [`crate::files::open_regular`].
pub(crate) fn open_regular(path: &Path) -> Result<(std::fs::File, FileStamp)> {
    let (file, meta) = crate::files::open_regular(path, true).map_err(|e| match e {
        crate::files::OpenError::Io(e) => Error::input(path, e),
        crate::files::OpenError::NotRegular(_) => {
            Error::input(path, "not a regular file (a FIFO, socket or device cannot be read as an input)")
        }
    })?;
    let stamp = FileStamp::of(&meta);
    Ok((file, stamp))
}

/// Size and modification time of an input when it was opened. Readers compare them with the file's
/// current ones as they go: an input truncated, extended or rewritten during the run is damaged, since what
/// was read no longer matches one version of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        FileStamp { len: meta.len(), modified: meta.modified().ok() }
    }

    /// The damage to record when `file` no longer matches this stamp (or cannot be checked).
    pub fn changed(&self, file: &std::fs::File) -> Option<String> {
        let now = match file.metadata() {
            Ok(m) => FileStamp::of(&m),
            Err(e) => return Some(format!("input truncated/changed during the run: cannot stat it any more: {e}")),
        };
        if now == *self {
            return None;
        }
        let what = if now.len < self.len {
            format!("truncated from {} to {} bytes", self.len, now.len)
        } else if now.len > self.len {
            format!("grew from {} to {} bytes", self.len, now.len)
        } else {
            "rewritten (same size, new modification time)".to_string()
        };
        Some(format!("input truncated/changed during the run: {what}"))
    }
}

/// A stream of batches from one input.
pub type BatchIter = Box<dyn Iterator<Item = DocBatch> + Send>;

/// Open one input. An error here means nothing of the file could be read (missing, unreadable, no Parquet
/// footer); damage found later travels inside the batches.
pub fn open(index: usize, input: &InputFile, config: &InputConfig) -> Result<BatchIter> {
    match input.format {
        Format::Jsonl(c) => jsonl::open(index, input, c, config),
        Format::Parquet => parquet::open(index, input, config),
        Format::Warc => warc_docs::open(index, input, config),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(detect_format(Path::new("a/b.jsonl")), Some(Format::Jsonl(Compression::None)));
        assert_eq!(detect_format(Path::new("b.JSONL.GZ")), Some(Format::Jsonl(Compression::Gzip)));
        assert_eq!(detect_format(Path::new("b.ndjson.zst")), Some(Format::Jsonl(Compression::Zstd)));
        assert_eq!(detect_format(Path::new("b.parquet")), Some(Format::Parquet));
        assert_eq!(detect_format(Path::new("b.txt")), None);
        assert_eq!(detect_format(Path::new("b.parquet.gz")), None);
        assert_eq!(detect_format(Path::new("CC-MAIN-x.warc.wet.gz")), Some(Format::Warc));
        assert_eq!(detect_format(Path::new("x.warc.gz")), Some(Format::Warc));
    }

    #[test]
    fn plans_dirs_globs_sorted_and_deduplicated() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        for f in ["b.jsonl", "a.jsonl.gz", "sub/c.parquet", "notes.txt"] {
            std::fs::write(d.path().join(f), b"").unwrap();
        }
        let dir = d.path().to_string_lossy().to_string();
        let plan = plan_inputs(&[dir.clone(), format!("{dir}/*.jsonl")]).unwrap();
        let names: Vec<String> = plan.iter().map(|i| i.name()).collect();
        assert_eq!(names, vec!["a.jsonl.gz", "b.jsonl", "c.parquet"]);
        assert!(plan_inputs(&[format!("{dir}/nothing*.jsonl")]).is_err());
        assert!(plan_inputs(&[format!("{dir}/missing.jsonl")]).is_err());
        assert!(plan_inputs(&[format!("{dir}/notes.txt")]).is_err());
    }

    #[test]
    fn one_file_named_two_ways_is_one_input() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.jsonl"), b"").unwrap();
        std::os::unix::fs::symlink(d.path().join("a.jsonl"), d.path().join("link.jsonl")).unwrap();
        let dir = d.path().to_string_lossy().to_string();
        let plan =
            plan_inputs(&[format!("{dir}/a.jsonl"), format!("{dir}/./a.jsonl"), format!("{dir}/link.jsonl")]).unwrap();
        assert_eq!(plan.len(), 1, "{plan:?}");
    }

    #[test]
    fn a_fifo_is_refused_at_planning() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe.jsonl");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        // Safety: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = plan_inputs(&[fifo.to_string_lossy().into_owned()]).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
