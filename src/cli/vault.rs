//! The vault: `manifest`, `keygen`, `sign` and `verify` — lock a run's output the way the seed vault locks
//! seeds. `filter` writes the manifest itself at the end of an unsharded run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::OK;
use crate::config::Config;
use crate::error::Result;
use crate::signal::classifier::{BUILTIN_FAST, FAST_ONNX};
use crate::stats::RunStats;
use crate::vault;

#[derive(Args, Debug)]
#[command(
    about = "Write manifest.json for a run directory (BLAKE3 of every output and input, config and model hashes)",
    after_help = "Example:\n  svalbard manifest out/      # after the shards of an array job have finished"
)]
pub struct ManifestArgs {
    /// The run's output directory.
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
#[command(
    about = "Make an Ed25519 key pair (svalbard-ed25519.key, svalbard-ed25519.pub)",
    after_help = "Example:\n  svalbard keygen keys/"
)]
pub struct KeygenArgs {
    /// Folder for the key files.
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
#[command(
    about = "Sign a run's manifest.json with an Ed25519 secret key (writes manifest.sig)",
    after_help = "Example:\n  svalbard sign out/ --key keys/svalbard-ed25519.key"
)]
pub struct SignArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Args, Debug)]
#[command(
    about = "Re-hash every file of a run against its manifest and check the signature",
    after_help = "Exit code 7 names each changed, missing or extra file, or a bad signature.\n\nExample:\n  svalbard verify out/ --pubkey keys/svalbard-ed25519.pub"
)]
pub struct VerifyArgs {
    pub dir: PathBuf,
    /// Public key to check manifest.sig with; without it the signature is reported, not checked.
    #[arg(long)]
    pub pubkey: Option<PathBuf>,
    /// Also re-hash the inputs listed in the manifest.
    #[arg(long)]
    pub inputs: bool,
}

/// Hashes of the models a config runs, by name.
fn model_hashes(config: &Config) -> Result<std::collections::BTreeMap<String, String>> {
    let mut m = std::collections::BTreeMap::new();
    for c in &config.signals.classifiers {
        if c.model == BUILTIN_FAST {
            m.insert("fast".to_string(), vault::manifest::hash_bytes(FAST_ONNX));
        } else {
            let card = crate::onnx::model_card::ModelCard::load(Path::new(&c.model))?;
            m.insert(card.name.clone(), vault::manifest::hash_file(&card.onnx_path())?.0);
        }
    }
    Ok(m)
}

/// Build and write `dir/manifest.json` from the run's stats files (one or several shards).
pub fn write_manifest(dir: &Path) -> Result<PathBuf> {
    let mut inputs: Vec<PathBuf> = Vec::new();
    // The size of each input when the run read it.
    let mut read_sizes: HashMap<PathBuf, u64> = HashMap::new();
    let mut rows: HashMap<String, u64> = HashMap::new();
    let mut config: Option<serde_json::Value> = None;
    for entry in std::fs::read_dir(dir).map_err(|e| crate::Error::input(dir, e))? {
        let path = entry.map_err(|e| crate::Error::input(dir, e))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if !(name.starts_with("stats") && name.ends_with(".json")) {
            continue;
        }
        // Read like every file of the run: a FIFO or symlink named like a stats file is refused, not waited on.
        let stats: RunStats = serde_json::from_slice(&vault::manifest::read_run_file(&path)?)
            .map_err(|e| crate::Error::Other(format!("{}: {e}", path.display())))?;
        for i in &stats.inputs {
            inputs.push(PathBuf::from(&i.path));
            read_sizes.insert(PathBuf::from(&i.path), i.size);
            for o in &i.outputs {
                rows.insert(o.path.clone(), o.rows);
            }
        }
        config.get_or_insert(stats.config);
    }
    let Some(config) = config else {
        return Err(crate::Error::Config(format!(
            "{} holds no stats*.json: not a svalbard run directory",
            dir.display()
        )));
    };
    inputs.sort();
    inputs.dedup();
    let counter = |p: &Path| {
        let rel = p.strip_prefix(dir).ok()?.to_string_lossy().replace('\\', "/");
        rows.get(&rel).copied()
    };
    let mut manifest = vault::manifest::build_manifest(dir, &inputs, &counter)?;
    // The manifest hashes inputs now: one that changed since the run read it would be certified in a state the
    // outputs do not come from.
    for (path, entry) in inputs.iter().zip(&manifest.inputs) {
        if let Some(&size) = read_sizes.get(path).filter(|&&size| size != entry.bytes) {
            return Err(crate::Error::input(
                path,
                format!("changed since the run read it ({size} bytes then, {} now): not certified", entry.bytes),
            ));
        }
    }
    let config: Config = serde_json::from_value(config).map_err(|e| crate::Error::Config(e.to_string()))?;
    manifest.config_hash = vault::manifest::hash_bytes(config.to_toml().as_bytes());
    manifest.model_hashes = model_hashes(&config)?;
    Ok(manifest.write(dir)?)
}

pub fn manifest(a: ManifestArgs) -> Result<i32> {
    let path = write_manifest(&a.dir)?;
    eprintln!("svalbard: wrote {}", path.display());
    Ok(OK)
}

pub fn keygen(a: KeygenArgs) -> Result<i32> {
    let (secret, public) = vault::sign::keygen(&a.dir)?;
    eprintln!("svalbard: secret key {} (keep it private), public key {}", secret.display(), public.display());
    Ok(OK)
}

pub fn sign(a: SignArgs) -> Result<i32> {
    let sig = vault::sign::sign(&a.dir, &a.key)?;
    eprintln!("svalbard: signed, {}", sig.display());
    Ok(OK)
}

pub fn verify(a: VerifyArgs) -> Result<i32> {
    let report = vault::verify_with(&a.dir, a.pubkey.as_deref(), vault::VerifyOptions { check_inputs: a.inputs })?;
    println!("{report}");
    Ok(OK)
}
