//! The output-directory contract: what a run may write, delete and share.
//!
//! - svalbard deletes only files whose names belong to its own layout ([`is_own_file`]): part files and their
//!   temporaries, completion markers, stats, the manifest and its signature, the lock file. Anything else in
//!   the directory is foreign: a run refuses to write beside foreign files unless told to (they are then kept,
//!   never deleted, `--overwrite` included).
//! - The output directory may not be, or lie inside, an input directory (a later run would read its own
//!   outputs as inputs), and no input may lie inside it.
//! - One run at a time: [`OutputDir::acquire`] takes an exclusive `flock` on [`LOCK_FILE`] for the whole run
//!   and writes the owner's pid and host into it. The kernel releases the lock when its owner exits, however it
//!   exits, so a lock left by a killed run never blocks the next one; on filesystems without `flock` support the
//!   lock file is created exclusively instead, and a lock whose owner is a dead process on this host is taken
//!   over.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::TMP_SUFFIX;
use crate::sink::{CLEAN, QUARANTINE, REJECTED};

/// The lock file: hidden, so the manifest leaves it out.
pub const LOCK_FILE: &str = ".svalbard.lock";
/// Completion markers of finished inputs.
pub const PROGRESS_DIR: &str = "_progress";
const PART_DIRS: [&str; 3] = [CLEAN, REJECTED, QUARANTINE];
/// Foreign entries named in an error message, at most.
const FOREIGN_SHOWN: usize = 5;

/// What the run was told about the directory's current content, and which part of the job it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// Delete svalbard's own files from an earlier run instead of resuming it.
    pub overwrite: bool,
    /// Write beside files svalbard did not write (they are kept).
    pub allow_foreign: bool,
    /// This run is shard I of N of one job: shards share the directory (each writes its own inputs' parts
    /// and its own stats file), so each takes the directory's lock shared and its shard's lock exclusively.
    pub shard: Option<(usize, usize)>,
}

/// An output directory this process holds the lock of; the lock is released on drop.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    _locks: Vec<LockGuard>,
}

impl OutputDir {
    /// Check the contract against the inputs, create the directory, lock it, refuse foreign files (unless
    /// allowed) and, with `overwrite`, delete what an earlier run wrote.
    ///
    /// `input_files` are the run's inputs; `input_dirs` the directories the command line named (their files
    /// are among `input_files`, but the output may lie inside a directory none of whose files it holds).
    pub fn acquire(
        path: &Path,
        input_files: &[&Path],
        input_dirs: &[&Path],
        options: OutputOptions,
    ) -> Result<OutputDir> {
        check_apart_from_inputs(path, input_files, input_dirs)?;
        if path.exists() && !path.is_dir() {
            return Err(Error::Config(format!("--output {} exists and is not a directory", path.display())));
        }
        if options.overwrite && options.shard.is_some() {
            return Err(Error::Config(
                "--overwrite with --shard would delete the outputs of the job's other shards; empty the output \
                 directory once before the array job, or use a new --output"
                    .into(),
            ));
        }
        std::fs::create_dir_all(path).map_err(|e| Error::output(path, e))?;
        let locks = match options.shard {
            None => vec![LockGuard::take(&path.join(LOCK_FILE), Mode::Exclusive)?],
            Some((i, n)) => vec![
                LockGuard::take(&path.join(LOCK_FILE), Mode::Shared)?,
                LockGuard::take(&path.join(shard_lock_name(i, n)), Mode::Exclusive)?,
            ],
        };
        let foreign = foreign_entries(path)?;
        if !foreign.is_empty() && !options.allow_foreign {
            let shown: Vec<String> = foreign.iter().take(FOREIGN_SHOWN).map(|p| p.display().to_string()).collect();
            let more = foreign.len().saturating_sub(FOREIGN_SHOWN);
            return Err(Error::Config(format!(
                "output directory {} holds {} file(s) svalbard did not write ({}{}); choose an empty or new \
                 directory, or pass --allow-foreign-files to write beside them (they are never deleted)",
                path.display(),
                foreign.len(),
                shown.join(", "),
                if more > 0 { format!(", and {more} more") } else { String::new() }
            )));
        }
        if options.overwrite {
            let removed = remove_own_files(path)?;
            if removed > 0 {
                tracing::info!(removed, dir = %path.display(), "--overwrite: removed the files of an earlier run");
            }
        }
        std::fs::create_dir_all(path.join(PROGRESS_DIR)).map_err(|e| Error::output(path, e))?;
        Ok(OutputDir { path: path.to_path_buf(), _locks: locks })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn shard_lock_name(i: usize, n: usize) -> String {
    format!(".svalbard.shard-{i:05}-of-{n:05}.lock")
}

/// Is this path (relative to the output directory, `/`-separated) one svalbard writes?
pub fn is_own_file(rel: &str) -> bool {
    match rel.split_once('/') {
        None => {
            rel == LOCK_FILE
                || (rel.starts_with(".svalbard.shard-") && rel.ends_with(".lock"))
                || rel == crate::vault::manifest::MANIFEST_FILE
                || rel == crate::vault::manifest::SIGNATURE_FILE
                || (rel.starts_with("stats") && rel.ends_with(".json"))
                // write_atomic's temporaries: `.<name>.<token>.tmp`
                || (rel.starts_with('.') && rel.ends_with(TMP_SUFFIX))
        }
        Some((dir, name)) if dir == PROGRESS_DIR => {
            !name.contains('/') && (is_part_name(name, ".json") || is_hidden_tmp(name))
        }
        Some((dir, name)) if PART_DIRS.contains(&dir) => {
            !name.contains('/')
                && (is_part_name(name, ".arrow") || is_part_name(name, ".parquet") || is_hidden_tmp(name))
        }
        Some(_) => false,
    }
}

fn is_part_name(name: &str, ext: &str) -> bool {
    name.starts_with("part-") && name.ends_with(ext)
}

fn is_hidden_tmp(name: &str) -> bool {
    name.starts_with(".part-") && name.ends_with(TMP_SUFFIX)
}

/// One entry of the output directory, as far as the contract cares.
struct Entry {
    /// Relative to the output directory.
    rel: PathBuf,
    path: PathBuf,
    /// A regular file whose name belongs to svalbard's layout.
    own: bool,
}

/// The directory's entries: the top level, and inside svalbard's own subdirectories (any other directory is
/// one foreign entry as a whole).
fn scan(root: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for top in read_dir(root)? {
        let name = top.file_name().to_string_lossy().into_owned();
        let is_dir = top.file_type().map_err(|e| Error::output(top.path(), e))?.is_dir();
        if is_dir && (PART_DIRS.contains(&name.as_str()) || name == PROGRESS_DIR) {
            for sub in read_dir(&top.path())? {
                let sub_name = sub.file_name().to_string_lossy().into_owned();
                let is_file = sub.file_type().map_err(|e| Error::output(sub.path(), e))?.is_file();
                let own = is_file && is_own_file(&format!("{name}/{sub_name}"));
                entries.push(Entry { rel: Path::new(&name).join(sub_name), path: sub.path(), own });
            }
        } else {
            let is_file = top.file_type().map_err(|e| Error::output(top.path(), e))?.is_file();
            entries.push(Entry { own: is_file && is_own_file(&name), rel: PathBuf::from(name), path: top.path() });
        }
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(entries)
}

/// Every entry that is not svalbard's, relative to the directory.
fn foreign_entries(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(scan(root)?.into_iter().filter(|e| !e.own).map(|e| e.rel).collect())
}

/// Delete svalbard's own files (never the locks: they are held) and its subdirectories left empty.
fn remove_own_files(root: &Path) -> Result<usize> {
    let mut removed = 0;
    let is_lock = |rel: &Path| rel.extension().is_some_and(|x| x == "lock") && rel.parent() == Some(Path::new(""));
    for entry in scan(root)?.into_iter().filter(|e| e.own && !is_lock(&e.rel)) {
        std::fs::remove_file(&entry.path).map_err(|e| Error::output(&entry.path, e))?;
        removed += 1;
    }
    for dir in PART_DIRS.iter().chain([&PROGRESS_DIR]) {
        // Only if empty: a foreign file inside keeps its directory.
        let _ = std::fs::remove_dir(root.join(dir));
    }
    Ok(removed)
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    std::fs::read_dir(dir).and_then(|rd| rd.collect::<std::io::Result<Vec<_>>>()).map_err(|e| Error::output(dir, e))
}

/// The absolute, symlink-free form of a path that may not exist yet: its deepest existing ancestor
/// canonicalized, the rest appended.
fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

fn check_apart_from_inputs(output: &Path, input_files: &[&Path], input_dirs: &[&Path]) -> Result<()> {
    let out = resolve(output);
    for dir in input_dirs {
        let dir_abs = resolve(dir);
        if out.starts_with(&dir_abs) {
            return Err(Error::Config(format!(
                "--output {} is inside the input directory {}: a later run would read its own outputs; \
                 choose an output directory outside the inputs",
                output.display(),
                dir.display()
            )));
        }
    }
    for file in input_files {
        if resolve(file).starts_with(&out) {
            return Err(Error::Config(format!(
                "input {} lies inside --output {}: choose an output directory apart from the inputs",
                file.display(),
                output.display()
            )));
        }
    }
    Ok(())
}

/// The held lock: the open lock file (flock) or the exclusively created one (removed on drop).
#[derive(Debug)]
struct LockGuard {
    _file: File,
    /// Set when the lock is the file's existence rather than a flock: the file is removed on drop.
    exclusive_path: Option<PathBuf>,
}

/// How a lock is held: shards of one job share the directory's lock, which an unsharded run holds alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Shared,
    Exclusive,
}

impl LockGuard {
    fn take(path: &Path, mode: Mode) -> Result<LockGuard> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::output(path, e))?;
        let locked = match mode {
            Mode::Exclusive => file.try_lock(),
            Mode::Shared => file.try_lock_shared(),
        };
        match locked {
            Ok(()) => {
                // A shared holder leaves the owner line to the exclusive ones (it would overwrite another's).
                if mode == Mode::Exclusive {
                    write_owner(&file, path)?;
                }
                Ok(LockGuard { _file: file, exclusive_path: None })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(in_use(path)),
            Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                drop(file);
                match mode {
                    Mode::Exclusive => Self::take_exclusive(path),
                    // Without flock there is no shared lock: each shard's own exclusive lock still keeps two
                    // runs of one shard apart.
                    Mode::Shared => Ok(LockGuard {
                        _file: File::open(path).map_err(|e| Error::output(path, e))?,
                        exclusive_path: None,
                    }),
                }
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::output(path, e)),
        }
    }

    /// Where flock is unsupported: the lock is a file created with O_EXCL and removed on drop. A lock whose
    /// owner is a dead process on this host is stale and taken over.
    fn take_exclusive(path: &Path) -> Result<LockGuard> {
        let exclusive = format!("{}.excl", path.display());
        let exclusive = PathBuf::from(exclusive);
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&exclusive) {
                Ok(file) => {
                    write_owner(&file, &exclusive)?;
                    return Ok(LockGuard { _file: file, exclusive_path: Some(exclusive) });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&exclusive).unwrap_or_default();
                    if owner_is_dead(&owner) {
                        tracing::warn!(lock = %exclusive.display(), owner = owner.trim(), "taking over a stale lock");
                        let _ = std::fs::remove_file(&exclusive);
                        continue;
                    }
                    return Err(in_use(&exclusive));
                }
                Err(e) => return Err(Error::output(&exclusive, e)),
            }
        }
        Err(in_use(&exclusive))
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // A flock is released with the file; the lock file itself stays (removing it would let a process that
        // opened the old inode and one that creates a new file both hold "the" lock).
        if let Some(p) = &self.exclusive_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn write_owner(mut file: &File, path: &Path) -> Result<()> {
    let owner = format!("pid {} on host {}\n", std::process::id(), hostname());
    file.set_len(0).and_then(|_| file.write_all(owner.as_bytes())).map_err(|e| Error::output(path, e))
}

fn in_use(path: &Path) -> Error {
    let owner = std::fs::read_to_string(path).unwrap_or_default();
    let owner = owner.trim();
    Error::Config(format!(
        "output directory {} is in use by another run ({}); wait for it, or choose another --output",
        path.parent().unwrap_or(Path::new(".")).display(),
        if owner.is_empty() { "owner unknown" } else { owner }
    ))
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // Safety: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// "pid N on host H" whose process no longer exists on this host.
fn owner_is_dead(owner: &str) -> bool {
    let mut words = owner.split_whitespace();
    let (Some("pid"), Some(pid), Some("on"), Some("host"), Some(host)) =
        (words.next(), words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let Ok(pid) = pid.parse::<libc::pid_t>() else { return false };
    if host != hostname() || pid <= 0 {
        return false;
    }
    // Safety: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn own_files_by_layout() {
        for own in [
            "stats.json",
            "stats.shard-00001-of-00004.json",
            "manifest.json",
            "manifest.sig",
            ".svalbard.lock",
            ".svalbard.shard-00003-of-00016.lock",
            ".stats.json.1a2b-3c.tmp",
            "_progress/part-00003.json",
            "clean/part-00000-0001.arrow",
            "rejected/part-00000-0000.parquet",
            "quarantine/.part-00000-0000.arrow.1a2b-3c.tmp",
        ] {
            assert!(is_own_file(own), "{own}");
        }
        for foreign in ["thesis.txt", "corpus.jsonl", "clean/notes.md", "clean/sub/part-0.arrow", "other/part-0.arrow"]
        {
            assert!(!is_own_file(foreign), "{foreign}");
        }
    }

    #[test]
    fn overwrite_deletes_only_own_files_and_foreign_files_refuse_the_run() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        for f in ["stats.json", "clean/part-00000-0000.arrow", "_progress/part-00000.json", "clean/keep.md"] {
            touch(&out.join(f));
        }
        let e =
            OutputDir::acquire(&out, &[], &[], OutputOptions { overwrite: true, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("clean/keep.md"), "{e}");
        assert!(out.join("stats.json").exists(), "a refused run deletes nothing");
        let held =
            OutputDir::acquire(&out, &[], &[], OutputOptions { overwrite: true, allow_foreign: true, shard: None })
                .unwrap();
        assert!(!out.join("stats.json").exists());
        assert!(!out.join("clean/part-00000-0000.arrow").exists());
        assert!(out.join("clean/keep.md").exists());
        drop(held);
    }

    #[test]
    fn one_run_at_a_time_and_the_lock_goes_with_its_holder() {
        let d = tempfile::tempdir().unwrap();
        let held = OutputDir::acquire(d.path(), &[], &[], OutputOptions::default()).unwrap();
        let e = OutputDir::acquire(d.path(), &[], &[], OutputOptions::default()).unwrap_err();
        assert!(e.to_string().contains("in use by another run"), "{e}");
        assert!(e.to_string().contains(&format!("pid {}", std::process::id())), "{e}");
        drop(held);
        OutputDir::acquire(d.path(), &[], &[], OutputOptions::default()).unwrap();
    }

    #[test]
    fn shards_of_one_job_share_the_directory_but_not_a_shard() {
        let d = tempfile::tempdir().unwrap();
        let shard = |i| OutputOptions { shard: Some((i, 2)), ..Default::default() };
        let first = OutputDir::acquire(d.path(), &[], &[], shard(0)).unwrap();
        let second = OutputDir::acquire(d.path(), &[], &[], shard(1)).unwrap();
        let e = OutputDir::acquire(d.path(), &[], &[], shard(0)).unwrap_err();
        assert!(e.to_string().contains("in use by another run"), "{e}");
        let e = OutputDir::acquire(d.path(), &[], &[], OutputOptions::default()).unwrap_err();
        assert!(e.to_string().contains("in use by another run"), "{e}");
        drop((first, second));
        let whole = OutputDir::acquire(d.path(), &[], &[], OutputOptions::default()).unwrap();
        assert!(
            OutputDir::acquire(d.path(), &[], &[], shard(1)).is_err(),
            "an unsharded run holds the directory alone"
        );
        drop(whole);
        let e = OutputDir::acquire(d.path(), &[], &[], OutputOptions { overwrite: true, ..shard(0) }).unwrap_err();
        assert!(e.to_string().contains("--overwrite with --shard"), "{e}");
    }

    #[test]
    fn output_apart_from_inputs() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        touch(&data.join("a.jsonl"));
        let opts = OutputOptions::default();
        let a = data.join("a.jsonl");
        for out in [data.clone(), data.join("out"), data.join("./x/../out")] {
            let e = OutputDir::acquire(&out, &[&a], &[&data], opts).unwrap_err();
            assert!(e.to_string().contains("inside the input directory"), "{e}");
        }
        let e = OutputDir::acquire(d.path(), &[&a], &[], opts).unwrap_err();
        assert!(e.to_string().contains("lies inside --output"), "{e}");
        OutputDir::acquire(&d.path().join("out"), &[&a], &[&data], opts).unwrap();
    }

    #[test]
    fn stale_exclusive_lock_of_a_dead_process_is_taken_over() {
        assert!(!owner_is_dead(&format!("pid {} on host {}", std::process::id(), hostname())));
        assert!(!owner_is_dead("pid 1 on host some-other-host"));
        assert!(!owner_is_dead("garbage"));
        // pid_max is far below this on Linux.
        assert!(owner_is_dead(&format!("pid 2147483000 on host {}", hostname())));
    }
}
