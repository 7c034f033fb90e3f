//! One error type for the whole library, with the exit code a DAG scheduler can act on.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration or the command line asks for something impossible.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No input matched, or an input could not be opened at all.
    #[error("input {path}: {message}")]
    Input { path: PathBuf, message: String },
    /// Writing outputs failed (disk full, permissions, ...).
    #[error("output {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model, a model card or the ONNX Runtime library is missing or unusable.
    #[error("model: {0}")]
    Model(String),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("language model: {0}")]
    Lm(#[from] crate::lm::LmError),
    #[error("evaluation: {0}")]
    Eval(#[from] crate::eval::EvalError),
    /// A vault check failed (changed, missing or extra file; bad signature) or a key is unusable.
    #[error("vault: {0}")]
    Vault(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn input(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Error::Input { path: path.into(), message: message.to_string() }
    }
    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Output { path: path.into(), source }
    }

    /// Process exit code. 0 is success; clap uses 2 for usage errors, so ours start at 3.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => exit_code::CONFIG,
            Error::Input { .. } => exit_code::INPUT,
            Error::Output { .. } => exit_code::OUTPUT,
            Error::Model(_) => exit_code::MODEL,
            Error::Lm(_) => exit_code::MODEL,
            Error::Vault(_) => exit_code::VERIFY,
            Error::Arrow(_) | Error::Parquet(_) | Error::Io(_) | Error::Eval(_) | Error::Other(_) => {
                exit_code::INTERNAL
            }
        }
    }
}

/// Exit codes, documented in README.md and `svalbard --help`.
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    /// clap's own code for a malformed command line.
    pub const USAGE: i32 = 2;
    pub const CONFIG: i32 = 3;
    /// The run finished, but at least one input was unreadable or truncated (its readable part was processed
    /// and the damage recorded in quarantine and stats.json).
    pub const INPUT: i32 = 4;
    pub const OUTPUT: i32 = 5;
    pub const MODEL: i32 = 6;
    /// `verify` found a changed, missing or extra file, or a bad signature.
    pub const VERIFY: i32 = 7;
    /// `filter` stopped by SIGTERM (143) or SIGINT (130), the shell's convention: finished inputs are kept,
    /// stats.json says `interrupted`, and a re-run resumes.
    pub const INTERRUPTED_BASE: i32 = 128;

    /// Every exit code with its meaning, in order: the one definition that `svalbard --help` prints and that
    /// README.md's table is tested against.
    pub const TABLE: &[(&str, &str)] = &[
        ("0", "success"),
        ("1", "internal error"),
        ("2", "bad command line"),
        ("3", "invalid configuration, or an output directory in use, inside an input or with foreign files"),
        ("4", "some input was unreadable or damaged (the rest was processed; see stats.json and quarantine/)"),
        ("5", "output could not be written (disk full, quota, permissions)"),
        ("6", "a model or the ONNX Runtime library is missing or unusable"),
        ("7", "verify: a file changed, is missing or extra, or the signature is bad"),
        ("130 or 143", "filter was interrupted by SIGINT or SIGTERM (finished inputs kept; re-run to resume)"),
    ];
}
