//! The Python module `opendesk_render`: `render(...) -> dict` with the CLI's options as
//! keyword arguments, progress as an optional callable, `explain(...) -> list`, and every
//! failure as `RenderFailed` (or a subclass) carrying code, stage, file, line, column and, for
//! a config given as a dict, its key path. Rendering runs with the GIL released (other Python
//! threads keep running); the progress callable takes it back for each call.

use opendesk_render_c::api::{self, Event, EventKind, ExitCode, Failure, Request, SecretsTo};
use opendesk_steps::session::{Inputs, ModuleArgs};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

create_exception!(
    opendesk_render,
    RenderFailed,
    PyException,
    "A render or explain that wrote nothing. Attributes: code (1 a guard or lint error failed \
     it, 2 bad input, 3 internal error, 4 cancelled), stage (the stage it failed in, or None), \
     file, line, column (None when unknown), key_path (for a config dict: the key path, e.g. \
     'secretsManager.keyPrefix'), message, report (dict for code 1, else None). exit_code is code."
);
create_exception!(
    opendesk_render,
    InputError,
    RenderFailed,
    "Bad input, config, patches or arguments (code 2); file/line/column or key_path say where."
);
create_exception!(
    opendesk_render,
    Cancelled,
    RenderFailed,
    "The render stopped at a stage boundary (code 4) because the progress callable raised; \
     the exception it raised is the __cause__."
);

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (v.to_string(),))
}

fn to_py_err(py: Python<'_>, f: Failure) -> PyErr {
    let text = f.text.clone();
    let err = match f.exit {
        ExitCode::Usage => InputError::new_err(text.clone()),
        ExitCode::Cancelled => Cancelled::new_err(text.clone()),
        _ => RenderFailed::new_err(text.clone()),
    };
    let set = || -> PyResult<()> {
        let e = err.value(py);
        let pos = f.position.as_ref();
        e.setattr("code", f.exit.code())?;
        e.setattr("exit_code", f.exit.code())?;
        e.setattr("stage", f.stage)?;
        e.setattr("message", text)?;
        e.setattr("file", pos.map(|l| l.file.clone()))?;
        e.setattr("line", pos.and_then(|l| l.line))?;
        e.setattr("column", pos.and_then(|l| l.column))?;
        e.setattr("key_path", f.key_path.clone())?;
        match &f.report {
            Some(r) => e.setattr("report", json_to_py(py, r)?)?,
            None => e.setattr("report", py.None())?,
        }
        Ok(())
    };
    match set() {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// The decoded Secret payload (the JSON of `--secrets-out`), from `render(...,
/// return_secrets=True)`. Its repr and str show the length only; `.json()` is the text.
#[pyclass(frozen, module = "opendesk_render")]
struct SecretPayload {
    text: String,
}

#[pymethods]
impl SecretPayload {
    /// The payload as JSON text: `{"secrets": [{"key", "properties", "base64Properties"?}]}`.
    fn json(&self) -> &str {
        &self.text
    }

    fn __len__(&self) -> usize {
        self.text.len()
    }

    fn __repr__(&self) -> String {
        format!("<SecretPayload: {} bytes>", self.text.len())
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }
}

impl Drop for SecretPayload {
    fn drop(&mut self) {
        // SAFETY: overwriting the bytes with 0 keeps the String valid UTF-8.
        for b in unsafe { self.text.as_bytes_mut() } {
            // SAFETY: a valid byte of the string; volatile so the write stays.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

type Split = (Inputs, Option<serde_json::Value>);

/// `config`: a path (str or os.PathLike) to an instance config file, or a dict (errors then
/// name its key path).
fn inputs(
    config: Option<&Bound<'_, PyAny>>,
    config_text: Option<String>,
    patches: Option<PathBuf>,
    no_patches: bool,
    release_graph: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<Split> {
    if no_patches && patches.is_some() {
        return Err(InputError::new_err("give patches or no_patches, not both"));
    }
    let mut a = Inputs { config_text, patches, no_patches, release_graph, threads, ..Default::default() };
    let mut value = None;
    if let Some(c) = config {
        if a.config_text.is_some() {
            return Err(InputError::new_err("give config or config_text, not both"));
        }
        if c.is_instance_of::<PyDict>() {
            let text: String = c.py().import("json")?.call_method1("dumps", (c,))?.extract()?;
            value = Some(
                serde_json::from_str(&text)
                    .map_err(|e| InputError::new_err(format!("config dict is not JSON data: {e}")))?,
            );
        } else {
            a.config = Some(c.extract::<PathBuf>()?);
        }
    }
    Ok((a, value))
}

fn event_dict<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", if e.kind == EventKind::Started { "started" } else { "finished" })?;
    d.set_item("stage", e.stage)?;
    d.set_item("index", e.index)?;
    d.set_item("total", e.total)?;
    d.set_item("ms", e.ms)?;
    d.set_item("documents", e.documents)?;
    Ok(d)
}

/// Render `input` (a helmfile `--output-dir` tree; None: the bundled example) into `out`, as
/// `opendesk-render render INPUT --out OUT ...`, and return the report (the JSON of
/// `render --json`) as a dict.
///
/// `config` is a config file path or a dict (errors name its key path); `config_text` YAML or
/// JSON text (None for both: the bundled example's config). `patches` is a runtime-patches
/// dir (None: the built-in set; `no_patches=True`: none). `module` (a list of module keys of
/// the release graph), `base`, `no_base` and `allow_secret_removal` make a module render, as
/// `--module`/`--base`/`--no-base`/`--allow-secret-removal`. The Secret payload goes to
/// `secrets_out` (a file outside `out`), or with `return_secrets=True` comes back: the
/// result is then `(report, SecretPayload)`; `discard_secret_values=True` is an explicit dry
/// run (`--discard-secret-values`): the tree is written, the values go nowhere, and
/// `report["summary"]["secretValuesDiscarded"]` says how many were dropped. At most one of the
/// three; with none, a render that produces a payload raises InputError. Nothing is written
/// unless the render succeeds.
///
/// `progress(event)` is called for every stage's start and finish with a dict {kind:
/// "started"|"finished", stage, index, total, ms, documents}; if it raises, the render stops
/// at the next stage boundary and Cancelled is raised from that exception.
///
/// Raises RenderFailed (code 1, with .report), InputError (code 2), Cancelled (code 4).
#[pyfunction]
#[pyo3(signature = (input=None, *, out, config=None, patches=None, no_patches=false, release_graph=None, module=Vec::new(), base=None, no_base=false, allow_secret_removal=false, secrets_out=None, return_secrets=false, discard_secret_values=false, threads=None, config_text=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn render<'py>(
    py: Python<'py>,
    input: Option<PathBuf>,
    out: PathBuf,
    config: Option<&Bound<'py, PyAny>>,
    patches: Option<PathBuf>,
    no_patches: bool,
    release_graph: Option<PathBuf>,
    module: Vec<String>,
    base: Option<PathBuf>,
    no_base: bool,
    allow_secret_removal: bool,
    secrets_out: Option<PathBuf>,
    return_secrets: bool,
    discard_secret_values: bool,
    threads: Option<usize>,
    config_text: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (mut a, config_value) = inputs(config, config_text, patches, no_patches, release_graph, threads)?;
    a.module = ModuleArgs { keys: module, base, no_base, allow_secret_removal };
    // The keyword names are the C request's.
    let names = ["secrets_out", "return_secrets", "discard_secret_values"];
    let secrets =
        SecretsTo::one_of(secrets_out, return_secrets, discard_secret_values, names).map_err(InputError::new_err)?;
    let cancel = AtomicBool::new(false);
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let sink = |e: &Event| {
        let Some(cb) = &progress else { return };
        Python::attach(|py| {
            if raised.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                return;
            }
            if let Err(err) = event_dict(py, e).and_then(|d| cb.call1(py, (d,))) {
                *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
                cancel.store(true, Ordering::Release);
            }
        });
    };
    let req = Request {
        input,
        out,
        inputs: a,
        config_value,
        secrets,
        progress: Some(&sink),
        cancel: Some(&cancel),
        payload_names: None,
    };
    let result = py.detach(|| api::render_request(req));
    let raised = raised.into_inner().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(r) => {
            if let Some(e) = raised {
                // The callback raised during the last stage, after the last boundary: the
                // render completed; the error still reaches the caller.
                return Err(e);
            }
            let report = json_to_py(py, &r.report)?;
            match r.secrets {
                Some(text) => {
                    let payload = Bound::new(py, SecretPayload { text })?;
                    Ok(PyTuple::new(py, [report, payload.into_any()])?.into_any())
                }
                None => Ok(report),
            }
        }
        Err(f) => {
            let err = to_py_err(py, f);
            if let Some(cause) = raised {
                err.set_cause(py, Some(cause));
            }
            Err(err)
        }
    }
}

/// What changed each resource: a list of dicts {resource, release, file, line, changes}, as
/// `opendesk-render explain --json`. `resource` (KIND/NAMESPACE/NAME, `-` for no namespace)
/// keeps one; naming one that does not exist raises InputError. Writes nothing.
#[pyfunction]
#[pyo3(signature = (input=None, *, config=None, patches=None, no_patches=false, resource=None, release_graph=None, threads=None, config_text=None))]
#[allow(clippy::too_many_arguments)]
fn explain<'py>(
    py: Python<'py>,
    input: Option<PathBuf>,
    config: Option<&Bound<'py, PyAny>>,
    patches: Option<PathBuf>,
    no_patches: bool,
    resource: Option<String>,
    release_graph: Option<PathBuf>,
    threads: Option<usize>,
    config_text: Option<String>,
) -> PyResult<Bound<'py, PyList>> {
    let (a, value) = inputs(config, config_text, patches, no_patches, release_graph, threads)?;
    let result = py.detach(|| api::explain(input.as_deref(), resource.as_deref(), &a, value));
    match result {
        Ok(v) => Ok(json_to_py(py, &v)?.cast_into::<PyList>()?),
        Err(f) => Err(to_py_err(py, f)),
    }
}

/// What a push of the rendered tree `out` would change, without pushing: the branch head of
/// `repo` is fetched (hardened as push is) and its subtree at `path` compared with `out`. A
/// dict: the JSON of `opendesk-render plan --json` (`changed`, `counts`, `resources`, `base`,
/// `repo`, `branch`, `path`) plus `text` and `markdown`. Secret values are never in it.
/// Raises InputError (bad arguments) or RenderFailed (code 1: a git failure).
#[pyfunction]
#[pyo3(signature = (out, *, repo, branch=None, path=String::new(), timeout=None))]
fn plan<'py>(
    py: Python<'py>,
    out: PathBuf,
    repo: String,
    branch: Option<String>,
    path: String,
    timeout: Option<u64>,
) -> PyResult<Bound<'py, PyDict>> {
    let req = api::PlanRequest { out, repo, branch, path, timeout_secs: timeout };
    match py.detach(|| api::plan(req)) {
        Ok(v) => Ok(json_to_py(py, &v)?.cast_into::<PyDict>()?),
        Err(f) => Err(to_py_err(py, f)),
    }
}

/// The upgrade matrix of the fixes: the patch stage over `input` (None: the bundled example)
/// for each of `versions` (full semver; empty: every appliesTo boundary plus the configured
/// version). A dict: `versions`, `patches` (each with `cells`: `state` out-of-range, changed,
/// no-op or dead), plus `text` and `markdown`. Raises InputError for a version that is not
/// full semver or a bad config or patch.
#[pyfunction]
#[pyo3(signature = (input=None, *, config=None, patches=None, versions=Vec::new(), config_text=None))]
fn matrix<'py>(
    py: Python<'py>,
    input: Option<PathBuf>,
    config: Option<&Bound<'py, PyAny>>,
    patches: Option<PathBuf>,
    versions: Vec<String>,
    config_text: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let (a, config_value) = inputs(config, config_text, patches, false, None, None)?;
    let req = api::MatrixRequest { input, inputs: a, config_value, versions };
    match py.detach(|| api::matrix(req)) {
        Ok(v) => Ok(json_to_py(py, &v)?.cast_into::<PyDict>()?),
        Err(f) => Err(to_py_err(py, f)),
    }
}

/// Render openDesk helmfile output into GitOps-ready manifests.
#[pymodule]
#[pyo3(name = "opendesk_render")]
fn opendesk_render_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("RenderFailed", py.get_type::<RenderFailed>())?;
    // The name of the base class before 0.2 (kept so `except RenderError` still works).
    m.add("RenderError", py.get_type::<RenderFailed>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("Cancelled", py.get_type::<Cancelled>())?;
    m.add_class::<SecretPayload>()?;
    m.add_function(wrap_pyfunction!(render, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(matrix, m)?)?;
    Ok(())
}
