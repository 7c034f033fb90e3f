//! The vault: a signed manifest of a run, so anyone can check that a corpus is exactly the one
//! a given svalbard run produced from given inputs.
//!
//! * [`build_manifest`] hashes (BLAKE3, streamed) the inputs and every output file of a run
//!   directory into a [`Manifest`]; [`Manifest::write`] stores it as `manifest.json` atomically.
//! * [`keygen`] makes an Ed25519 key pair (PKCS#8 / SPKI PEM files, see [`sign`](mod@sign));
//!   [`sign()`] writes `manifest.sig`, a detached signature over the exact bytes of
//!   `manifest.json`.
//! * [`verify`] re-hashes every listed output, lists changed, missing and extra files, and
//!   checks the signature when given a public key (the report says "unsigned" otherwise).
//! * [`TrustedKeys`] / [`verify_text_signature`]: a document whose text carries a valid
//!   Ed25519 signature by a trusted publisher is marked `signed_human`.
//!
//! ## C2PA (checked against the `c2pa` crate 0.91.9, the newest on crates.io at the time)
//! The `c2pa` Rust SDK embeds and reads C2PA manifests in: JPEG, JPEG XL, PNG, GIF, TIFF/DNG,
//! SVG, WebP/WAV/AVI (RIFF), MP4/MOV/HEIF/AVIF/M4A (BMFF), MP3, FLAC, PDF (behind a feature),
//! ZIP-based containers (ZIP, EPUB, OOXML docx/xlsx/pptx, ODF), standalone `.c2pa` sidecar
//! manifest stores, and — only behind the feature flags `unstable_plain_text` (spec A.8:
//! manifest hidden as Unicode variation selectors appended to `text/plain`) and
//! `unstable_structured_text` (A.9: a `-----BEGIN C2PA MANIFEST-----` comment in Markdown, CSS,
//! JS, YAML, TOML, ...) — text. **It has no Parquet handler: it can neither embed nor read a
//! manifest inside a Parquet file.** The only route for Parquet would be an external `.c2pa`
//! sidecar, which buys nothing over our own signed `manifest.json`. The crate also needs
//! Rust 1.88+ (0.91 needs 1.96, newer than this project's toolchain) and pulls OpenSSL and
//! HTTP clients by default. So it is not a dependency: provenance of outputs is this module's
//! BLAKE3 + Ed25519 manifest, and per-document human provenance is an Ed25519 signature over
//! the text ([`verify_text_signature`]). Reading C2PA text manifests in crawled documents can
//! be revisited once the crate's text support is stable.

pub(crate) use svalbard_core::files;

pub mod manifest;
pub mod sign;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use manifest::{build_manifest, hash_bytes, hash_file, FileEntry, Manifest, MANIFEST_FILE, SIGNATURE_FILE};
pub use sign::{
    keygen, load_public_key, load_secret_key, sign, sign_text, signed_human, split_signed_text, verify_text_signature,
    TrustedKeys,
};

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A key could not be created, read or parsed.
    #[error("key: {0}")]
    Key(String),
    /// The manifest or the run directory is not usable.
    #[error("{0}")]
    Invalid(String),
    /// Only regular files are hashed: a symlink may point out of the run, a FIFO or device may block.
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: String },
    /// Verification found problems; each is named.
    #[error("verification of {run_dir} failed ({} problem{}):\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    VerifyFailed { run_dir: PathBuf, problems: Vec<Problem> },
}

/// A vault error is the library error of kind `Vault` (exit code 7); the core error type cannot name this
/// crate's type, which sits above it.
impl From<VaultError> for svalbard_core::Error {
    fn from(e: VaultError) -> Self {
        svalbard_core::Error::Vault(Box::new(e))
    }
}

impl VaultError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VaultError::Io { path: path.into(), source }
    }
}

/// One thing wrong with a run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Content differs from the manifest.
    Changed { path: String, expected: String, actual: String, expected_bytes: u64, actual_bytes: u64 },
    /// Listed in the manifest, not on disk (or unreadable).
    Missing { path: String, reason: String },
    /// On disk, not listed in the manifest.
    Extra { path: String },
    /// A public key was given but there is no `manifest.sig`.
    MissingSignature,
    /// The signature does not verify with the given key (or is malformed).
    BadSignature(String),
    /// The manifest lists something it must not (e.g. a path escaping the run directory).
    BadEntry(String),
    /// In the run directory (or listed in the manifest) but not a regular file: a symlink, a FIFO, a device.
    NotRegular { path: String, kind: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Changed { path, expected, actual, expected_bytes, actual_bytes } => write!(
                f,
                "changed: {path} (blake3 {} -> {}, {expected_bytes} -> {actual_bytes} bytes)",
                &expected[..expected.len().min(16)],
                &actual[..actual.len().min(16)]
            ),
            Problem::Missing { path, reason } => write!(f, "missing: {path} ({reason})"),
            Problem::Extra { path } => write!(f, "extra: {path} (not in {MANIFEST_FILE})"),
            Problem::MissingSignature => write!(f, "signature: {SIGNATURE_FILE} not found"),
            Problem::BadSignature(why) => write!(f, "signature: INVALID ({why})"),
            Problem::BadEntry(why) => write!(f, "manifest: {why}"),
            Problem::NotRegular { path, kind } => write!(f, "not a regular file: {path} is {kind}"),
        }
    }
}

/// State of the manifest signature after [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Checked against the given public key: valid.
    Valid,
    /// No `manifest.sig` and no key given: the run is unsigned.
    Unsigned,
    /// `manifest.sig` exists but no public key was given, so it was not checked.
    NotChecked,
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureStatus::Valid => "valid",
            SignatureStatus::Unsigned => "unsigned",
            SignatureStatus::NotChecked => "present, not checked (no public key given)",
        })
    }
}

/// Outcome of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub outputs_checked: usize,
    pub inputs_checked: usize,
    pub bytes_checked: u64,
    pub signature: SignatureStatus,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ok: {} output file(s){} ({} bytes) match {MANIFEST_FILE}; signature: {}",
            self.outputs_checked,
            if self.inputs_checked > 0 { format!(" and {} input(s)", self.inputs_checked) } else { String::new() },
            self.bytes_checked,
            self.signature
        )
    }
}

/// Options of [`verify_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Also re-hash the inputs (they may be large or no longer at hand, so off by default).
    pub check_inputs: bool,
}

/// Verifies `run_dir` against its `manifest.json`: every listed output must exist with the
/// same BLAKE3 hash and size, no unlisted file may be present (manifest, signature and
/// temporary files aside), and when `pubkey_path` is given `manifest.sig` must be a valid
/// signature of `manifest.json` by that key.
pub fn verify(run_dir: &Path, pubkey_path: Option<&Path>) -> Result<VerifyReport, VaultError> {
    verify_with(run_dir, pubkey_path, VerifyOptions::default())
}

/// [`verify`] with options.
pub fn verify_with(
    run_dir: &Path,
    pubkey_path: Option<&Path>,
    opts: VerifyOptions,
) -> Result<VerifyReport, VaultError> {
    let manifest_path = run_dir.join(MANIFEST_FILE);
    let manifest_bytes = manifest::read_run_file(&manifest_path)?;
    // Load the key first: a bad key file is an error of the caller, not a problem of the run.
    let key = pubkey_path.map(sign::load_public_key).transpose()?;
    let manifest = Manifest::from_json_bytes(&manifest_bytes)?;
    let mut problems = Vec::new();
    let mut bytes_checked = 0u64;

    // Outputs are files of the run directory: a symlink among them is a problem, never followed. Inputs were
    // named by the user and may be symlinks; like outputs, they must be regular files.
    let mut check =
        |entry: &FileEntry, hashed: Result<(String, u64), VaultError>, problems: &mut Vec<Problem>| match hashed {
            Ok((hash, bytes)) => {
                bytes_checked += bytes;
                if hash != entry.blake3 || bytes != entry.bytes {
                    problems.push(Problem::Changed {
                        path: entry.path.clone(),
                        expected: entry.blake3.clone(),
                        actual: hash,
                        expected_bytes: entry.bytes,
                        actual_bytes: bytes,
                    });
                }
            }
            Err(VaultError::Io { source, .. }) => {
                let reason = if source.kind() == std::io::ErrorKind::NotFound {
                    "not found".to_string()
                } else {
                    source.to_string()
                };
                problems.push(Problem::Missing { path: entry.path.clone(), reason });
            }
            Err(VaultError::NotRegular { kind, .. }) => {
                problems.push(Problem::NotRegular { path: entry.path.clone(), kind })
            }
            Err(e) => problems.push(Problem::Missing { path: entry.path.clone(), reason: e.to_string() }),
        };

    let on_disk = manifest::list_run_files(run_dir)?;
    let not_regular: BTreeSet<&str> = on_disk.not_regular.iter().map(|(path, _)| path.as_str()).collect();
    for (path, kind) in &on_disk.not_regular {
        problems.push(Problem::NotRegular { path: path.clone(), kind: kind.clone() });
    }
    let mut listed = BTreeSet::new();
    for entry in &manifest.outputs {
        match manifest::resolve_output(run_dir, &entry.path) {
            Ok(full) => {
                listed.insert(entry.path.clone());
                // Already named above; hashing it again would only repeat the problem.
                if !not_regular.contains(entry.path.as_str()) {
                    check(entry, manifest::hash_run_file(&full), &mut problems);
                }
            }
            Err(why) => problems.push(Problem::BadEntry(why)),
        }
    }
    let mut inputs_checked = 0;
    for entry in &manifest.inputs {
        listed.insert(entry.path.clone()); // inputs inside the run dir are not "extra"
        if opts.check_inputs {
            check(entry, hash_file(&manifest::resolve_input(run_dir, &entry.path)), &mut problems);
            inputs_checked += 1;
        }
    }
    for rel in on_disk.files {
        if !listed.contains(&rel) {
            problems.push(Problem::Extra { path: rel });
        }
    }

    let sig_path = run_dir.join(SIGNATURE_FILE);
    let signature = match (&key, sig_path.exists()) {
        (None, false) => SignatureStatus::Unsigned,
        (None, true) => SignatureStatus::NotChecked,
        (Some(_), false) => {
            problems.push(Problem::MissingSignature);
            SignatureStatus::Unsigned
        }
        (Some(key), true) => {
            let bytes = manifest::read_run_file(&sig_path)?;
            let text = String::from_utf8_lossy(&bytes);
            match sign::parse_signature(&text) {
                Ok(sig) if sign::verify_bytes(key, &manifest_bytes, &sig) => SignatureStatus::Valid,
                Ok(_) => {
                    problems.push(Problem::BadSignature(format!(
                        "{SIGNATURE_FILE} does not match {MANIFEST_FILE} under key {}",
                        pubkey_path.map(|p| p.display().to_string()).unwrap_or_default()
                    )));
                    SignatureStatus::Unsigned
                }
                Err(why) => {
                    problems.push(Problem::BadSignature(why));
                    SignatureStatus::Unsigned
                }
            }
        }
    };

    if !problems.is_empty() {
        return Err(VaultError::VerifyFailed { run_dir: run_dir.to_path_buf(), problems });
    }
    Ok(VerifyReport { outputs_checked: manifest.outputs.len(), inputs_checked, bytes_checked, signature })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "svalbard-vault-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A run dir with outputs, an input outside it, a temp file; manifest written and signed.
    fn signed_run() -> (TempDir, TempDir, PathBuf) {
        let run = TempDir::new("run");
        let keys = TempDir::new("keys");
        let r = &run.0;
        fs::create_dir_all(r.join("shards/sub")).unwrap();
        fs::write(r.join("shards/part-0.parquet"), b"PAR1 fake parquet bytes PAR1").unwrap();
        fs::write(r.join("shards/sub/part-1.parquet"), vec![7u8; 200_000]).unwrap();
        fs::write(r.join("report.json"), b"{\"kept\": 3}").unwrap();
        fs::write(r.join("scratch.tmp"), b"ignored").unwrap();
        fs::write(r.join(".hidden"), b"ignored").unwrap();
        let input = keys.0.join("input.warc.gz");
        fs::write(&input, b"input bytes").unwrap();

        let rows = |p: &Path| p.extension().is_some_and(|e| e == "parquet").then_some(42);
        let mut m = build_manifest(r, std::slice::from_ref(&input), &rows).unwrap();
        m.config_hash = hash_bytes(b"[config]\nthreshold = 0.5\n");
        m.model_hashes.insert("detector".into(), hash_bytes(b"weights"));
        m.write(r).unwrap();
        let (sk, pk) = keygen(&keys.0.join("k")).unwrap();
        sign(r, &sk).unwrap();
        (run, keys, pk)
    }

    #[test]
    fn manifest_contents() {
        let (run, _keys, _pk) = signed_run();
        let m = Manifest::read(&run.0).unwrap();
        let paths: Vec<&str> = m.outputs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["report.json", "shards/part-0.parquet", "shards/sub/part-1.parquet"]);
        assert_eq!(m.outputs[2].bytes, 200_000);
        assert_eq!(m.outputs[2].blake3, hash_bytes(&vec![7u8; 200_000]));
        assert_eq!(m.outputs[1].rows, Some(42));
        assert_eq!(m.outputs[0].rows, None);
        assert_eq!(m.inputs.len(), 1);
        assert_eq!(m.inputs[0].blake3, hash_bytes(b"input bytes"));
        assert_eq!(m.svalbard_version, env!("CARGO_PKG_VERSION"));
        assert!(chrono::DateTime::parse_from_rfc3339(&m.created).is_ok());
        // Pretty JSON, no "rows" key when None, trailing newline.
        let text = fs::read_to_string(run.0.join(MANIFEST_FILE)).unwrap();
        assert!(text.starts_with("{\n  \"svalbard_version\""));
        assert!(text.ends_with("}\n"));
        assert_eq!(text.matches("\"rows\"").count(), 2);
        // No temp files left behind by the atomic writes.
        let leftovers: Vec<String> = fs::read_dir(&run.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".manifest") || n.starts_with(".manifest.sig"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn sign_then_verify_ok() {
        let (run, _keys, pk) = signed_run();
        let report = verify(&run.0, Some(&pk)).unwrap();
        assert_eq!(report.signature, SignatureStatus::Valid);
        assert_eq!(report.outputs_checked, 3);
        assert!(report.to_string().contains("signature: valid"), "{report}");
        let report = verify(&run.0, None).unwrap();
        assert_eq!(report.signature, SignatureStatus::NotChecked);
        let report = verify_with(&run.0, Some(&pk), VerifyOptions { check_inputs: true }).unwrap();
        assert_eq!(report.inputs_checked, 1);
        // Unsigned run.
        fs::remove_file(run.0.join(SIGNATURE_FILE)).unwrap();
        let report = verify(&run.0, None).unwrap();
        assert_eq!(report.signature, SignatureStatus::Unsigned);
        assert!(report.to_string().contains("unsigned"));
        let err = verify(&run.0, Some(&pk)).unwrap_err();
        assert!(err.to_string().contains("manifest.sig not found"), "{err}");
    }

    #[test]
    fn tampered_output_is_named() {
        let (run, _keys, pk) = signed_run();
        let p = run.0.join("shards/sub/part-1.parquet");
        let mut b = fs::read(&p).unwrap();
        b[123_456] ^= 1;
        fs::write(&p, b).unwrap();
        let err = verify(&run.0, Some(&pk)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("changed: shards/sub/part-1.parquet"), "{msg}");
        let VaultError::VerifyFailed { problems, .. } = err else { panic!() };
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn deleted_and_extra_files_are_named() {
        let (run, _keys, pk) = signed_run();
        fs::remove_file(run.0.join("report.json")).unwrap();
        fs::write(run.0.join("shards/intruder.parquet"), b"x").unwrap();
        let err = verify(&run.0, Some(&pk)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("missing: report.json"), "{msg}");
        assert!(msg.contains("extra: shards/intruder.parquet"), "{msg}");
        assert!(msg.contains("2 problems"), "{msg}");
        // Temporary files do not count as extra.
        fs::write(run.0.join("shards/x.partial"), b"x").unwrap();
        let VaultError::VerifyFailed { problems, .. } = verify(&run.0, None).unwrap_err() else { panic!() };
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn wrong_key_and_edited_manifest_fail() {
        let (run, keys, _pk) = signed_run();
        let (_sk2, pk2) = keygen(&keys.0.join("other")).unwrap();
        let err = verify(&run.0, Some(&pk2)).unwrap_err();
        assert!(err.to_string().contains("signature: INVALID"), "{err}");
        // Editing the manifest (e.g. to hide a change) breaks the signature with the right key.
        let (run, _keys, pk) = signed_run();
        let mp = run.0.join(MANIFEST_FILE);
        let text = fs::read_to_string(&mp).unwrap().replace("\"rows\": 42", "\"rows\": 43");
        fs::write(&mp, text).unwrap();
        let err = verify(&run.0, Some(&pk)).unwrap_err();
        assert!(err.to_string().contains("signature: INVALID"), "{err}");
        // Garbage signature file.
        let (run, _keys, pk) = signed_run();
        fs::write(run.0.join(SIGNATURE_FILE), "not base64!\n").unwrap();
        assert!(verify(&run.0, Some(&pk)).unwrap_err().to_string().contains("signature"));
    }

    #[test]
    fn unsafe_manifest_paths_rejected() {
        let (run, _keys, _pk) = signed_run();
        let mut m = Manifest::read(&run.0).unwrap();
        m.outputs.push(FileEntry { path: "../etc/passwd".into(), blake3: "00".into(), bytes: 0, rows: None });
        m.write(&run.0).unwrap();
        let err = verify(&run.0, None).unwrap_err();
        assert!(err.to_string().contains("unsafe output path"), "{err}");
    }

    #[test]
    fn keys_round_trip_and_refuse_overwrite() {
        let dir = TempDir::new("keys");
        let (sk, pk) = keygen(&dir.0).unwrap();
        assert!(fs::read_to_string(&sk).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(fs::read_to_string(&pk).unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&sk).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let s = load_secret_key(&sk).unwrap();
        let p = load_public_key(&pk).unwrap();
        assert_eq!(s.verifying_key(), p);
        assert!(keygen(&dir.0).is_err());
        // Hex public key files are accepted too.
        let hex_path = dir.0.join("pub.hex");
        fs::write(&hex_path, hex::encode(p.to_bytes())).unwrap();
        assert_eq!(load_public_key(&hex_path).unwrap(), p);
        assert!(load_public_key(&sk).is_err());
    }

    #[test]
    fn trusted_human_texts() {
        use ed25519_dalek::SigningKey;
        let a = SigningKey::from_bytes(&[1u8; 32]);
        let b = SigningKey::from_bytes(&[2u8; 32]);
        let stranger = SigningKey::from_bytes(&[3u8; 32]);
        let keys = TrustedKeys::from_hex_list(&[
            hex::encode(a.verifying_key().to_bytes()),
            hex::encode(b.verifying_key().to_bytes()),
        ])
        .unwrap();
        assert_eq!(keys.len(), 2);
        let text = "A poem, written by a person.\nSecond line é.";
        assert_eq!(verify_text_signature(&keys, text, &sign_text(&a, text)), Some(0));
        assert_eq!(verify_text_signature(&keys, text, &sign_text(&b, text)), Some(1));
        assert_eq!(verify_text_signature(&keys, text, &sign_text(&stranger, text)), None);
        assert_eq!(verify_text_signature(&keys, &format!("{text} "), &sign_text(&b, text)), None);
        assert_eq!(verify_text_signature(&keys, text, "garbage"), None);
        assert_eq!(verify_text_signature(&keys, text, ""), None);
        // Signature carried in the text.
        let carried = format!("{text}\n{}{}\n", sign::TEXT_SIGNATURE_PREFIX, sign_text(&b, text));
        assert_eq!(split_signed_text(&carried).unwrap().0, text);
        assert_eq!(signed_human(&keys, &carried), Some(1));
        let forged = carried.replace("person", "machine");
        assert_eq!(signed_human(&keys, &forged), None);
        assert_eq!(signed_human(&keys, text), None);
        assert!(TrustedKeys::from_hex_list(&["abcd"]).is_err());
        assert!(TrustedKeys::from_hex_list::<&str>(&[]).unwrap().is_empty());
    }
}
