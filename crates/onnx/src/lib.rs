//! ONNX Runtime: one module owns it. [`runtime`] loads the shared library once per process (never from the
//! network: `scripts/setup_ort.sh` installs it from the PyPI wheel), [`session_pool`] makes one session per
//! worker thread on the device asked for, [`model_card`] / [`encode`] describe and prepare a model's inputs,
//! and [`batch`] runs rows of any length through a model in padded, length-sorted runs.

pub(crate) use svalbard_core::check;
pub(crate) use svalbard_core::error;
#[cfg(test)]
pub(crate) use svalbard_eval as eval;

pub mod batch;
pub mod encode;
pub mod model_card;
pub mod sparse_linear;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

#[cfg(feature = "gpu")]
use ort::ep::{self, ExecutionProvider};
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `[onnx]` section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnnxConfig {
    /// libonnxruntime.so; else $ORT_DYLIB_PATH, else .svalbard/onnxruntime/ (scripts/setup_ort.sh).
    pub library: Option<std::path::PathBuf>,
}

/// Where to run a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// TensorRT, else CUDA, else CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    Tensorrt,
}

/// The execution provider a session really uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Provider {
    Cpu,
    Cuda,
    TensorRt,
}

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

pub struct Runtime {
    pub env: ort::environment::Environment,
    pub library: PathBuf,
}

/// Candidate locations of the ONNX Runtime library, most specific first.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = explicit {
        v.push(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        v.push(PathBuf::from(p));
    }
    let rel = Path::new(".svalbard/onnxruntime/lib/libonnxruntime.so");
    let gpu = Path::new(".svalbard/onnxruntime-gpu/lib/libonnxruntime.so");
    // Beside the repository the binary was built in (target/<profile>/svalbard), then the working directory.
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            v.push(dir.join(gpu));
            v.push(dir.join(rel));
        }
    }
    v.push(gpu.to_path_buf());
    v.push(rel.to_path_buf());
    v
}

/// Load ONNX Runtime (once per process) from the first existing candidate.
pub fn runtime(explicit: Option<&Path>) -> Result<&'static Runtime> {
    let r = RUNTIME.get_or_init(|| {
        // A path the user named is authoritative: falling back elsewhere would hide their mistake.
        let named = explicit.map(Path::to_path_buf).or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from));
        if let Some(p) = named.filter(|p| !p.is_file()) {
            return Err(format!(
                "the ONNX Runtime library {} does not exist; install it with `bash scripts/setup_ort.sh` (or --gpu) \
                 and point onnx.library / ORT_DYLIB_PATH at .svalbard/onnxruntime/lib/libonnxruntime.so",
                p.display()
            ));
        }
        let candidates = library_candidates(explicit);
        let Some(lib) = candidates.iter().find(|p| p.is_file()) else {
            return Err(format!(
                "the ONNX Runtime library was not found (looked at {}); install it with `bash scripts/setup_ort.sh` \
                 (or --gpu), or point ORT_DYLIB_PATH / onnx.library at libonnxruntime.so",
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ));
        };
        let builder = ort::init_from(lib).map_err(|e| format!("loading ONNX Runtime from {}: {e}", lib.display()))?;
        let env = builder
            .with_name("svalbard")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("creating the ONNX Runtime environment: {e}"))?;
        tracing::info!(library = %lib.display(), "ONNX Runtime loaded");
        Ok(Runtime { env, library: lib.clone() })
    });
    r.as_ref().map_err(|e| Error::Model(e.clone()))
}

fn builder(rt: &Runtime, intra_threads: usize) -> Result<SessionBuilder> {
    let b = Session::builder(&rt.env).map_err(model_err)?;
    let b = b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(|e| model_err(e.to_string()))?;
    b.with_intra_threads(intra_threads).map_err(|e| model_err(e.to_string()))
}

fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Model(e.to_string())
}

/// Create one session for `model` on `device`. `auto` tries TensorRT, then CUDA, then CPU, and reports which
/// it got; an explicit GPU device that cannot be honoured is an error, never a silent CPU run.
pub fn session(rt: &Runtime, model: &[u8], device: Device, intra_threads: usize) -> Result<(Session, Provider)> {
    let order: &[Provider] = match device {
        Device::Auto => &[Provider::TensorRt, Provider::Cuda, Provider::Cpu],
        Device::Cpu => &[Provider::Cpu],
        Device::Cuda => &[Provider::Cuda],
        Device::Tensorrt => &[Provider::TensorRt],
    };
    let mut failures = Vec::new();
    for &p in order {
        match try_session(rt, model, p, intra_threads) {
            Ok(s) => {
                if !failures.is_empty() {
                    tracing::info!(provider = ?p, skipped = %failures.join("; "), "execution provider fallback");
                }
                return Ok((s, p));
            }
            Err(e) => failures.push(format!("{p:?}: {e}")),
        }
    }
    Err(Error::Model(format!(
        "no execution provider could run the model ({device:?} requested): {}",
        failures.join("; ")
    )))
}

fn try_session(rt: &Runtime, model: &[u8], provider: Provider, intra_threads: usize) -> Result<Session> {
    let b = builder(rt, intra_threads)?;
    let b = match provider {
        Provider::Cpu => b,
        Provider::Cuda | Provider::TensorRt => with_gpu_provider(b, provider)?,
    };
    let mut b = b;
    b.commit_from_memory(model).map_err(model_err)
}

#[cfg(feature = "gpu")]
fn with_gpu_provider(b: SessionBuilder, provider: Provider) -> Result<SessionBuilder> {
    let b = match provider {
        Provider::Cuda => {
            if !ep::CUDA::is_available().unwrap_or(false) {
                return Err(model_err(
                    "this ONNX Runtime build has no CUDA execution provider (install with setup_ort.sh --gpu)",
                ));
            }
            b.with_execution_providers([ep::CUDA::default().build().error_on_failure()])
        }
        Provider::TensorRt => {
            if !ep::TensorRT::is_available().unwrap_or(false) {
                return Err(model_err("this ONNX Runtime build has no TensorRT execution provider"));
            }
            b.with_execution_providers([ep::TensorRT::default().build().error_on_failure()])
        }
        Provider::Cpu => return Ok(b),
    };
    b.map_err(|e| model_err(e.to_string()))
}

#[cfg(not(feature = "gpu"))]
fn with_gpu_provider(_: SessionBuilder, provider: Provider) -> Result<SessionBuilder> {
    Err(model_err(format!(
        "this svalbard was built without GPU support (cargo feature `gpu`); {provider:?} is unavailable"
    )))
}

/// One session per worker thread: a session's `run` needs `&mut`, and sessions with one intra-op thread each
/// let rayon's workers use the cores without oversubscribing them.
pub struct SessionPool {
    sessions: Vec<Mutex<Session>>,
    pub provider: Provider,
    pub input_names: Vec<String>,
    pub output_names: Vec<String>,
}

pub fn session_pool(rt: &Runtime, model: &[u8], device: Device, workers: usize) -> Result<SessionPool> {
    let (first, provider) = session(rt, model, device, 1)?;
    let input_names = first.inputs().iter().map(|o| o.name().to_string()).collect();
    let output_names = first.outputs().iter().map(|o| o.name().to_string()).collect();
    let mut sessions = vec![Mutex::new(first)];
    // A GPU session serves every worker through its own batching; extra ones would only duplicate weights.
    let n = if provider == Provider::Cpu { workers.max(1) } else { 1 };
    for _ in 1..n {
        sessions.push(Mutex::new(
            session(
                rt,
                model,
                match provider {
                    Provider::Cpu => Device::Cpu,
                    Provider::Cuda => Device::Cuda,
                    Provider::TensorRt => Device::Tensorrt,
                },
                1,
            )?
            .0,
        ));
    }
    tracing::info!(?provider, sessions = sessions.len(), "ONNX sessions ready");
    Ok(SessionPool { sessions, provider, input_names, output_names })
}

impl SessionPool {
    /// Run `f` with a session, preferring the calling worker's own.
    pub fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> T {
        let n = self.sessions.len();
        let start = rayon::current_thread_index().unwrap_or(0) % n;
        for k in 0..n {
            if let Ok(mut s) = self.sessions[(start + k) % n].try_lock() {
                return f(&mut s);
            }
        }
        let mut s = self.sessions[start].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }
}
