//! The Python module `opendesk_render`: `render(...) -> dict`, `explain(...) -> list`, and the
//! errors as exception classes carrying exit code, file, line and column. Rendering runs with
//! the GIL released (other Python threads keep running).

use opendesk_render_c::api::{self, Failure};
use opendesk_steps::render_cmd::Inputs;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

create_exception!(
    opendesk_render,
    RenderError,
    PyException,
    "A render or explain that produced no result. Attributes: exit_code (1 guard/lint, 2 bad \
     input, 3 internal), message, file, line, column (None when unknown), report (dict or None)."
);
create_exception!(
    opendesk_render,
    InputError,
    RenderError,
    "Bad input, config, patches or arguments (exit code 2); file, line and column point at the cause when known."
);
create_exception!(
    opendesk_render,
    RenderFailed,
    RenderError,
    "The render ran but a guard or lint error failed it (exit code 1); nothing was written. \
     .report is the report (dict) listing why."
);

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (v.to_string(),))
}

fn to_py_err(py: Python<'_>, f: Failure) -> PyErr {
    let text = f.message.strip_prefix("error: ").unwrap_or(&f.message).to_string();
    let err = match f.exit_code {
        api::EXIT_FAILED => RenderFailed::new_err(text.clone()),
        api::EXIT_USAGE => InputError::new_err(text.clone()),
        _ => RenderError::new_err(text.clone()),
    };
    let set = || -> PyResult<()> {
        let e = err.value(py);
        let loc = f.position.as_ref();
        e.setattr("exit_code", f.exit_code)?;
        e.setattr("message", text)?;
        e.setattr("file", loc.map(|l| l.file.clone()))?;
        e.setattr("line", loc.and_then(|l| l.line))?;
        e.setattr("column", loc.and_then(|l| l.column))?;
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

/// `config`: a path (str or os.PathLike) to an instance config file, or a dict (used as JSON).
fn inputs(
    config: Option<&Bound<'_, PyAny>>,
    config_text: Option<String>,
    patches: Option<PathBuf>,
    no_patches: bool,
    release_graph: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<Inputs> {
    let mut a = Inputs { config_text, patches, no_patches, release_graph, threads, ..Default::default() };
    if let Some(c) = config {
        if c.is_instance_of::<PyDict>() {
            if a.config_text.is_some() {
                return Err(InputError::new_err("give config or config_text, not both"));
            }
            let text: String = c.py().import("json")?.call_method1("dumps", (c,))?.extract()?;
            a.config_text = Some(text);
        } else {
            a.config = Some(c.extract::<PathBuf>()?);
        }
    }
    if a.config.is_some() && a.config_text.is_some() {
        return Err(InputError::new_err("give config or config_text, not both"));
    }
    Ok(a)
}

/// Render `input_dir` (a helmfile `--output-dir` tree; None: the bundled example) into `out_dir`
/// and return the report (the same JSON as `opendesk-render render --json`) as a dict.
///
/// `config` is a config file path or a dict; `config_text` YAML or JSON text (None for both:
/// the bundled example's config). `patches` is a runtime-patches dir (None: the built-in set;
/// `no_patches=True`: none). Nothing is written unless the render succeeds; `secrets_out`
/// receives the decoded Secret payload (JSON, outside `out_dir`).
///
/// Raises InputError (exit 2, with file/line/column), RenderFailed (exit 1, with .report).
#[pyfunction]
#[pyo3(signature = (input_dir, out_dir, config=None, patches=None, release_graph=None, secrets_out=None, threads=None, *, config_text=None, no_patches=false))]
#[allow(clippy::too_many_arguments)]
fn render<'py>(
    py: Python<'py>,
    input_dir: Option<PathBuf>,
    out_dir: PathBuf,
    config: Option<&Bound<'py, PyAny>>,
    patches: Option<PathBuf>,
    release_graph: Option<PathBuf>,
    secrets_out: Option<PathBuf>,
    threads: Option<usize>,
    config_text: Option<String>,
    no_patches: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let a = inputs(config, config_text, patches, no_patches, release_graph, threads)?;
    let result = py.detach(|| api::render(input_dir.as_deref(), &out_dir, secrets_out.as_deref(), &a));
    match result {
        Ok(report) => json_to_py(py, &report),
        Err(f) => Err(to_py_err(py, f)),
    }
}

/// What changed each resource: a list of dicts {resource, release, file, line, changes}, as
/// `opendesk-render explain --json`. `resource` (KIND/NAMESPACE/NAME, `-` for no namespace)
/// keeps one; naming one that does not exist raises InputError. Writes nothing.
#[pyfunction]
#[pyo3(signature = (input_dir=None, config=None, patches=None, resource=None, release_graph=None, threads=None, *, config_text=None, no_patches=false))]
#[allow(clippy::too_many_arguments)]
fn explain<'py>(
    py: Python<'py>,
    input_dir: Option<PathBuf>,
    config: Option<&Bound<'py, PyAny>>,
    patches: Option<PathBuf>,
    resource: Option<String>,
    release_graph: Option<PathBuf>,
    threads: Option<usize>,
    config_text: Option<String>,
    no_patches: bool,
) -> PyResult<Bound<'py, PyList>> {
    let a = inputs(config, config_text, patches, no_patches, release_graph, threads)?;
    let result = py.detach(|| api::explain(input_dir.as_deref(), resource.as_deref(), &a, None));
    match result {
        Ok(v) => Ok(json_to_py(py, &v)?.cast_into::<PyList>()?),
        Err(f) => Err(to_py_err(py, f)),
    }
}

/// Render openDesk helmfile output into GitOps-ready manifests.
#[pymodule]
#[pyo3(name = "opendesk_render")]
fn opendesk_render_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("RenderError", py.get_type::<RenderError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("RenderFailed", py.get_type::<RenderFailed>())?;
    m.add_function(wrap_pyfunction!(render, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    Ok(())
}
