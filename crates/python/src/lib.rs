//! `svalbard._svalbard`, the native module of the Python package (python/, built by maturin): a `Filter` that holds
//! a config's scorer, built once, and scores pyarrow record batches through the Arrow C data interface, without a
//! copy of the text. What it computes is `svalbard::pipeline::score_records`; this crate only crosses the
//! language boundary: arguments in, exceptions out, the GIL released while Rust works.

use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow_pyarrow::PyArrowType;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use svalbard::config::Config;
use svalbard::error::{exit_code, Error};
use svalbard::pipeline::{score_records, Scoring};
use svalbard::source::InputConfig;

create_exception!(svalbard, SvalbardError, PyException, "An error of svalbard; `exit_code` is the CLI's for it.");
create_exception!(svalbard, ConfigError, SvalbardError, "Invalid configuration (the CLI's exit code 3).");
create_exception!(svalbard, InputError, SvalbardError, "An input that cannot be read (the CLI's exit code 4).");
create_exception!(svalbard, OutputError, SvalbardError, "An output that cannot be written (the CLI's exit code 5).");
create_exception!(svalbard, ModelError, SvalbardError, "A model or ONNX Runtime missing (the CLI's exit code 6).");

/// The error as the CLI prints it (one line, without the `svalbard: error: ` prefix), as the exception of its
/// exit code.
fn py_err(e: Error) -> PyErr {
    let lines: Vec<String> = e.to_string().lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    let msg = lines.join(" ");
    match e.exit_code() {
        exit_code::CONFIG => ConfigError::new_err(msg),
        exit_code::INPUT => InputError::new_err(msg),
        exit_code::OUTPUT => OutputError::new_err(msg),
        exit_code::MODEL => ModelError::new_err(msg),
        _ => SvalbardError::new_err(msg),
    }
}

/// A config given as a JSON object (a Python dict) as the TOML document it stands for, so that it is read and
/// checked exactly as a file would be. TOML has no null: a `None` is an error that names its key.
fn toml_of_json(json: &str) -> Result<String, Error> {
    fn convert(v: serde_json::Value, key: &str) -> Result<toml::Value, Error> {
        use serde_json::Value as J;
        Ok(match v {
            J::Null => {
                return Err(Error::Config(format!("{key} is None; TOML has no null: leave the key out instead")));
            }
            J::Bool(b) => toml::Value::Boolean(b),
            J::Number(n) => match n.as_i64() {
                Some(i) => toml::Value::Integer(i),
                None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => toml::Value::String(s),
            J::Array(a) => toml::Value::Array(
                a.into_iter().enumerate().map(|(i, v)| convert(v, &format!("{key}[{i}]"))).collect::<Result<_, _>>()?,
            ),
            J::Object(o) => toml::Value::Table(
                o.into_iter()
                    .map(|(k, v)| {
                        let path = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                        convert(v, &path).map(|v| (k, v))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::Config(format!("the config dict is not JSON-like: {e}")))?;
    if !value.is_object() {
        return Err(Error::Config("the config must be a dict, a path or None".into()));
    }
    toml::to_string(&convert(value, "")?).map_err(|e| Error::Config(format!("the config dict as TOML: {e}")))
}

/// The config a `Filter` is built from: `svalbard filter -c`'s resolution (a file, or the defaults), or a dict.
fn load_config(path: Option<PathBuf>, json: Option<&str>, threads: Option<usize>) -> Result<Config, Error> {
    let mut config = match (path, json) {
        (Some(p), _) => Config::load(&p)?,
        (None, Some(j)) => Config::from_toml_str(&toml_of_json(j)?)?,
        (None, None) => Config::default(),
    };
    if let Some(t) = threads {
        config.pipeline.threads = t;
    }
    config.validate()?;
    Ok(config)
}

/// Scores pyarrow record batches with one config; models and ONNX Runtime are loaded when it is made.
#[pyclass(frozen, module = "svalbard._svalbard")]
struct Filter {
    scoring: Scoring,
    input: InputConfig,
    pool: rayon::ThreadPool,
    config: Config,
}

#[pymethods]
impl Filter {
    /// `path`: a TOML config; `json`: a config as a JSON object; neither: the defaults. `threads` overrides
    /// `pipeline.threads` (as `-j` does). `onnx_fallback`: the ONNX Runtime library to use when the config, the
    /// environment and the places the CLI looks name none that exists.
    #[new]
    #[pyo3(signature = (path=None, json=None, threads=None, onnx_fallback=None))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        json: Option<String>,
        threads: Option<usize>,
        onnx_fallback: Option<PathBuf>,
    ) -> PyResult<Self> {
        py.detach(|| {
            let mut config = load_config(path, json.as_deref(), threads)?;
            if config.onnx.library.is_none()
                && std::env::var_os("ORT_DYLIB_PATH").is_none()
                && !svalbard::onnx::library_candidates(None).iter().any(|p| p.is_file())
            {
                config.onnx.library = onnx_fallback;
            }
            let scoring = Scoring::new(&config)?;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(config.pipeline.workers())
                .thread_name(|i| format!("svalbard-worker-{i}"))
                .build()
                .map_err(|e| Error::Other(format!("thread pool: {e}")))?;
            Ok(Filter { scoring, input: config.input.clone(), pool, config })
        })
        .map_err(py_err)
    }

    /// The batch's rows with the score and decision columns and `error`; see `svalbard.Filter.score`.
    fn score(&self, py: Python<'_>, batch: PyArrowType<RecordBatch>) -> PyResult<PyArrowType<RecordBatch>> {
        let batch = batch.0;
        let scored = py.detach(|| self.pool.install(|| score_records(&self.scoring, &self.input, "batch", &batch)));
        scored.map(PyArrowType).map_err(py_err)
    }

    /// The config in force, as TOML with every default filled in (what `svalbard validate` prints).
    #[getter]
    fn config_toml(&self) -> String {
        self.config.to_toml()
    }

    /// The scoring threads.
    #[getter]
    fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The column holding the text (`input.text_field`).
    #[getter]
    fn text_field(&self) -> String {
        self.input.text_field.clone()
    }

    /// The column holding the id (`input.id_field`).
    #[getter]
    fn id_field(&self) -> String {
        self.input.id_field.clone()
    }

    /// The score columns, in order.
    #[getter]
    fn score_columns(&self) -> Vec<String> {
        self.scoring.scorer().columns().to_vec()
    }
}

#[pymodule]
fn _svalbard(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Filter>()?;
    for (name, ty) in [
        ("SvalbardError", py.get_type::<SvalbardError>()),
        ("ConfigError", py.get_type::<ConfigError>()),
        ("InputError", py.get_type::<InputError>()),
        ("OutputError", py.get_type::<OutputError>()),
        ("ModelError", py.get_type::<ModelError>()),
    ] {
        m.add(name, ty)?;
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("VERDICT_QUARANTINE", svalbard::pipeline::VERDICT_QUARANTINE)?;
    m.add("ERROR_COLUMN", svalbard::pipeline::ERROR_COLUMN)?;
    Ok(())
}
