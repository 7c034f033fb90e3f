//! Ed25519 keys and signatures for manifests and for signed human-written texts.
//!
//! ## Key files
//! * secret key: PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`), file mode 0600 on Unix;
//! * public key: SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), the form `openssl
//!   pkey -pubout` writes, so `openssl` can read both. Loading also accepts a file holding the
//!   32-byte key as 64 hex characters (for public keys and, for secret keys, the 32-byte seed).
//!
//! ## `manifest.sig`
//! One line: the standard, padded base64 of the 64-byte Ed25519 signature over the *exact*
//! bytes of `manifest.json`, followed by a newline. Verification uses `verify_strict`
//! (rejects malleable/small-order cases).
//!
//! ## Signed human texts
//! A trusted publisher signs the UTF-8 bytes of a text exactly as it will appear in the
//! document (no normalisation). [`verify_text_signature`] says which trusted key, if any,
//! produced a given base64 signature; [`split_signed_text`] recognises a signature carried in
//! the text itself as a final line `ed25519-signature: <base64>`.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::manifest::{write_atomic, MANIFEST_FILE, SIGNATURE_FILE};
use super::VaultError;

/// File names written by [`keygen`].
pub const SECRET_KEY_FILE: &str = "svalbard-ed25519.key";
pub const PUBLIC_KEY_FILE: &str = "svalbard-ed25519.pub";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Creates a new key pair in `dir` (created if needed); refuses to overwrite existing keys.
/// Returns `(secret_key_path, public_key_path)`.
pub fn keygen(dir: &Path) -> Result<(PathBuf, PathBuf), VaultError> {
    fs::create_dir_all(dir).map_err(|e| VaultError::io(dir, e))?;
    let secret_path = dir.join(SECRET_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    for p in [&secret_path, &public_path] {
        if p.exists() {
            return Err(VaultError::Key(format!("{} already exists; not overwriting a key", p.display())));
        }
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let secret_pem =
        key.to_pkcs8_pem(LineEnding::LF).map_err(|e| VaultError::Key(format!("encoding secret key: {e}")))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| VaultError::Key(format!("encoding public key: {e}")))?;
    write_secret(&secret_path, secret_pem.as_bytes())?;
    write_atomic(&public_path, public_pem.as_bytes())?;
    Ok((secret_path, public_path))
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    use std::io::Write;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| VaultError::io(path, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| VaultError::io(path, e))
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    let bytes = hex::decode(t).ok()?;
    bytes.try_into().ok()
}

/// Reads a secret key file (PKCS#8 PEM, or a 64-hex-character seed).
pub fn load_secret_key(path: &Path) -> Result<SigningKey, VaultError> {
    let text = fs::read_to_string(path).map_err(|e| VaultError::io(path, e))?;
    if let Some(seed) = hex32(&text) {
        return Ok(SigningKey::from_bytes(&seed));
    }
    SigningKey::from_pkcs8_pem(&text)
        .map_err(|e| VaultError::Key(format!("{}: not an Ed25519 PKCS#8 PEM secret key: {e}", path.display())))
}

/// Reads a public key file (SPKI PEM, or 64 hex characters).
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, VaultError> {
    let text = fs::read_to_string(path).map_err(|e| VaultError::io(path, e))?;
    if let Some(raw) = hex32(&text) {
        return VerifyingKey::from_bytes(&raw)
            .map_err(|e| VaultError::Key(format!("{}: invalid Ed25519 public key: {e}", path.display())));
    }
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| VaultError::Key(format!("{}: not an Ed25519 SPKI PEM public key: {e}", path.display())))
}

/// Signs `run_dir/manifest.json` (its exact bytes) and writes `run_dir/manifest.sig`.
pub fn sign(run_dir: &Path, secret_key_path: &Path) -> Result<PathBuf, VaultError> {
    let key = load_secret_key(secret_key_path)?;
    let manifest_path = run_dir.join(MANIFEST_FILE);
    let bytes = super::manifest::read_run_file(&manifest_path)?;
    let sig = key.sign(&bytes);
    let sig_path = run_dir.join(SIGNATURE_FILE);
    write_atomic(&sig_path, format!("{}\n", B64.encode(sig.to_bytes())).as_bytes())?;
    Ok(sig_path)
}

/// Parses the content of a `manifest.sig` file.
pub fn parse_signature(text: &str) -> Result<Signature, String> {
    let raw = B64.decode(text.trim()).map_err(|e| format!("signature is not base64: {e}"))?;
    let raw: [u8; 64] = raw.try_into().map_err(|v: Vec<u8>| format!("signature is {} bytes, expected 64", v.len()))?;
    Ok(Signature::from_bytes(&raw))
}

/// Checks a detached signature over `message`.
pub fn verify_bytes(key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    key.verify_strict(message, signature).is_ok()
}

/// The public keys of trusted publishers of human-written texts.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<VerifyingKey>,
}

impl TrustedKeys {
    /// Keys given as 64-character hex strings (the raw 32-byte Ed25519 public key).
    pub fn from_hex_list<S: AsRef<str>>(hex_keys: &[S]) -> Result<TrustedKeys, VaultError> {
        let mut keys = Vec::with_capacity(hex_keys.len());
        for (i, h) in hex_keys.iter().enumerate() {
            let raw = hex32(h.as_ref())
                .ok_or_else(|| VaultError::Key(format!("trusted key #{i} is not 64 hex characters")))?;
            keys.push(VerifyingKey::from_bytes(&raw).map_err(|e| VaultError::Key(format!("trusted key #{i}: {e}")))?);
        }
        Ok(TrustedKeys { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }
}

/// Index of the trusted key whose Ed25519 signature (standard base64) over the UTF-8 bytes of
/// `text` is valid; `None` when none is (or the signature is malformed).
pub fn verify_text_signature(keys: &TrustedKeys, text: &str, signature_b64: &str) -> Option<usize> {
    let sig = parse_signature(signature_b64).ok()?;
    keys.keys.iter().position(|k| k.verify_strict(text.as_bytes(), &sig).is_ok())
}

/// Signs a text for publication (what a trusted publisher does); returns standard base64.
pub fn sign_text(key: &SigningKey, text: &str) -> String {
    B64.encode(key.sign(text.as_bytes()).to_bytes())
}

/// Marker of a signature carried inside a text, as its final line.
pub const TEXT_SIGNATURE_PREFIX: &str = "ed25519-signature: ";

/// Splits a text whose last line is `ed25519-signature: <base64>` into (signed body, base64).
/// The body is everything before that line, without the newline that precedes it.
pub fn split_signed_text(text: &str) -> Option<(&str, &str)> {
    let trimmed = text.trim_end_matches(['\n', '\r']);
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (trimmed[..i].strip_suffix('\r').unwrap_or(&trimmed[..i]), &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let sig = last.strip_prefix(TEXT_SIGNATURE_PREFIX)?.trim();
    (!sig.is_empty()).then_some((body, sig))
}

/// A document's text is `signed_human` when it carries (see [`split_signed_text`]) a valid
/// signature by a trusted key; returns that key's index.
pub fn signed_human(keys: &TrustedKeys, text: &str) -> Option<usize> {
    let (body, sig) = split_signed_text(text)?;
    verify_text_signature(keys, body, sig)
}
