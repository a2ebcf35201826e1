//! `RenderManifests`: the deployer's render step. Takes either a rendered helmfile output dir
//! or a helmfile (then runs `helmfile template` itself), runs the pipeline and writes the
//! output tree atomically, exactly as `opendesk-render render` does
//! ([`crate::session::render_prepared`]).
//!
//! Inputs: the instance config ([`Inputs::config`] or [`Inputs::config_text`], required: the
//! step never falls back to the bundled example) and, optionally, the deployer's
//! `runtime-state.json` ([`RuntimeState`], schema in `docs/config.md`). Precedence, highest
//! first: the step's own fields, `runtime-state.json`, the instance config.
//!
//! - `instance`, `namespace` in the state must equal the config's (a mismatch is bad input:
//!   the state belongs to another instance, or helmfile would render into a namespace the
//!   Applications do not deploy to). `namespace` (default: the config's) is helmfile's `-n`.
//! - `opendeskVersion` in the state overrides the config's (it is the version the deployer
//!   checked out, so it selects the patches; a warning event says when they differ).
//! - `environment` is helmfile's `-e` (default `default`); [`RenderManifests::environment`]
//!   overrides it.
//! - `renderedDir` / `helmfile` name the input when [`RenderManifests::source`] is `None`
//!   (relative paths are relative to the state file's folder; giving both is an error).
//!
//! With a helmfile, the step runs (`helmfile` found on `PATH`, or [`RenderManifests::helmfile_bin`]):
//!
//! ```text
//! helmfile -f <file> -e <environment> -n <namespace> template --output-dir <tmp>
//!          --output-dir-template '{{ .OutputDir }}/{{ .Release.Name }}' [--skip-deps]
//! ```
//!
//! into a temp dir that is removed afterwards. A missing `helmfile` binary or file is bad
//! input (exit 2); helmfile exiting non-zero is a failure (exit 1) whose message carries the
//! end of helmfile's stderr.
//!
//! A module render: set [`Inputs::module`] (keys, and the base or `no_base`) and a release
//! graph with `modules:`; only the module's folders are read and
//! [`RenderOutcome::scoped_guards`] names the guards judged against the module.
//!
//! Progress phases: `start`, `state` (what the runtime state supplied), `version` (warning:
//! the state's opendeskVersion overrides the config's), `helmfile`, then the render stages of
//! [`crate::progress::stages`] (`load`, `patches`, …, `output`, `write`), `done`. Events are
//! delivered on the calling thread, while the render runs.

use crate::progress::label;
use crate::session::{self, Inputs};
use crate::step::{ProgressEvent, Reporter, Step, StepDetail, StepError, StepErrorKind};
use opendesk_render::config::InstanceConfig;
use opendesk_render::pipeline::Report;
use opendesk_render::stages::eso::SecretPayload;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const STEP: &str = "render-manifests";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The `--output-dir-template` passed to helmfile: one folder per release, no state-file hash.
pub const OUTPUT_DIR_TEMPLATE: &str = "{{ .OutputDir }}/{{ .Release.Name }}";

/// The deployer's `runtime-state.json`: facts of this deployment run. Every field is optional;
/// an empty string counts as absent; unknown fields are ignored (the deployer may keep more
/// state in the same file).
///
/// ```json
/// {
///   "instance": "acme",
///   "environment": "prod",
///   "namespace": "opendesk",
///   "opendeskVersion": "1.13.1",
///   "helmfile": "opendesk/helmfile.yaml.gotmpl",
///   "renderedDir": null
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeState {
    /// Must equal the config's `instance` (a guard against mixing up instances).
    #[serde(default)]
    pub instance: Option<String>,
    /// helmfile environment (`-e`); default `default`.
    #[serde(default)]
    pub environment: Option<String>,
    /// helmfile namespace (`-n`); must equal the config's `namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// A rendered helmfile output dir to use instead of running helmfile.
    #[serde(default)]
    pub rendered_dir: Option<PathBuf>,
    /// The helmfile to run `helmfile template` on.
    #[serde(default)]
    pub helmfile: Option<PathBuf>,
    /// The openDesk version being deployed; overrides the config's `opendeskVersion`.
    #[serde(default)]
    pub opendesk_version: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl RuntimeState {
    /// Parse the JSON text; `file` names it in errors (`file:line:col: message`).
    pub fn parse(file: &Path, text: &str) -> Result<Self, StepError> {
        serde_json::from_str(text)
            .map_err(|e| StepError::bad_input(STEP, format!("{}:{}:{}: {e}", file.display(), e.line(), e.column())))
    }

    /// Read and parse a `runtime-state.json`. Relative `renderedDir` and `helmfile` are
    /// resolved against the file's folder.
    pub fn load(file: &Path) -> Result<Self, StepError> {
        let text = opendesk_render::fsio::read_regular_string_max(file, opendesk_render::limits::CONFIG_FILE)
            .map_err(|e| StepError::file(STEP, StepErrorKind::BadInput, e, ""))?;
        let mut s = Self::parse(file, &text)?;
        let base = file.parent().unwrap_or(Path::new("."));
        for p in [&mut s.rendered_dir, &mut s.helmfile].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for p in [&mut s.rendered_dir, &mut s.helmfile] {
            if p.as_ref().is_some_and(|x| x.as_os_str().is_empty()) {
                *p = None;
            }
        }
        Ok(s)
    }
}

/// Where the step's input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `helmfile template --output-dir` tree (either folder naming).
    RenderedDir(PathBuf),
    /// A helmfile to run `helmfile template` on.
    Helmfile(PathBuf),
}

/// The render step. Build with [`RenderManifests::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct RenderManifests {
    /// The input; `None` = `renderedDir` or `helmfile` from the runtime state.
    pub source: Option<Source>,
    /// The deployer's `runtime-state.json`.
    pub runtime_state: Option<PathBuf>,
    /// Instance config (required), patches, release graph, threads.
    pub inputs: Inputs,
    /// Where the tree is written (atomically; untouched on failure).
    pub out: PathBuf,
    /// Where the ESO secret payload is written (mode 0600; never inside `out`).
    pub secrets_out: Option<PathBuf>,
    /// helmfile environment; overrides the runtime state's `environment`.
    pub environment: Option<String>,
    /// Pass `--skip-deps` to `helmfile template` (charts already fetched).
    pub skip_deps: bool,
    /// The helmfile binary: a bare name is looked up on `PATH` (default `helmfile`).
    pub helmfile_bin: PathBuf,
    /// `PATH` for the lookup and for helmfile itself; `None` = the process's `PATH`.
    pub search_path: Option<OsString>,
    /// After a successful render, plan the tree against the instance repository (what a push
    /// of it would change: [`crate::plan::PlanRenderedManifests`]) into
    /// [`RenderOutcome::plan`]. The deployer shows it before it pushes.
    pub plan: Option<PlanTarget>,
    /// Tabulate the upgrade matrix of the patch set over this render's input
    /// ([`opendesk_render::patch::matrix`]) into [`RenderOutcome::matrix`]: these versions
    /// (full semver), or, when empty, every `appliesTo` boundary plus the rendered version.
    pub matrix: Option<Vec<String>>,
}

/// Where [`RenderManifests::plan`] compares the rendered tree: the instance repository's
/// branch head at `path` (the same hardened git handling as push).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTarget {
    /// Git URL of the instance repository.
    pub repo: String,
    /// Branch (a missing branch plans against an empty tree).
    pub branch: String,
    /// Folder inside the repository that the tree would replace (`instances/acme`).
    pub path: String,
    /// Time limit of every git command.
    pub timeout: std::time::Duration,
}

impl PlanTarget {
    /// `repo`, branch `main`, `path`, the default time limit (300 s).
    pub fn new(repo: impl Into<String>, path: impl Into<String>) -> Self {
        PlanTarget {
            repo: repo.into(),
            branch: "main".into(),
            path: path.into(),
            timeout: crate::gitsafe::DEFAULT_TIMEOUT,
        }
    }
}

/// What a render step did. Serializes without the secret payload.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderOutcome {
    /// The output tree.
    pub out: PathBuf,
    /// The rendered dir or the helmfile that was the input.
    pub input: PathBuf,
    /// True when the step ran `helmfile template`.
    pub ran_helmfile: bool,
    /// helmfile environment used (only when helmfile ran).
    pub environment: Option<String>,
    /// The openDesk version the patches were selected by.
    pub opendesk_version: String,
    /// The render report (as `opendesk-render render --json`).
    pub report: Report,
    /// A module render (`inputs.module`: keys, base or no-base): the guards judged against the
    /// module instead of the whole instance (also in `report.module`); empty for a full render.
    pub scoped_guards: Vec<opendesk_render::module::ScopedGuard>,
    /// What a push of the tree would change ([`RenderManifests::plan`]); `None` when not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::plan::PlanOutcome>,
    /// The upgrade matrix of the fixes over this input ([`RenderManifests::matrix`]); `None`
    /// when not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<opendesk_render::patch::matrix::Matrix>,
    /// The secret values for the secrets manager (also written to `secrets_out` when set).
    #[serde(skip)]
    pub secrets: SecretPayload,
}

/// Removes a directory on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Find `bin` (a bare name) on `path`, or take it as given when it has a folder part.
pub fn find_executable(bin: &Path, path: Option<&OsString>) -> Option<PathBuf> {
    if bin.components().count() > 1 || bin.is_absolute() {
        return bin.is_file().then(|| bin.to_path_buf());
    }
    let path = path.cloned().or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path).map(|d| d.join(bin)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl RenderManifests {
    /// A render to `out` with the instance config `config`; the input comes from
    /// [`RenderManifests::source`] or the runtime state.
    pub fn new(config: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        RenderManifests {
            source: None,
            runtime_state: None,
            inputs: Inputs { config: Some(config.into()), ..Inputs::default() },
            out: out.into(),
            secrets_out: None,
            environment: None,
            skip_deps: false,
            helmfile_bin: PathBuf::from("helmfile"),
            search_path: None,
            plan: None,
            matrix: None,
        }
    }

    fn load_config(&self) -> Result<InstanceConfig, StepError> {
        let bad = |e: opendesk_render::config::ConfigError| {
            let mut m = e.to_string();
            if let Some(s) = session::snippet(&e.file, e.line, e.col) {
                m.push('\n');
                m.push_str(&s);
            }
            StepError::bad_input(STEP, m)
        };
        match (&self.inputs.config_text, &self.inputs.config) {
            (Some(t), _) => InstanceConfig::parse(Path::new("<config>"), t).map_err(bad),
            (None, Some(p)) => InstanceConfig::load(p).map_err(bad),
            (None, None) => Err(StepError::bad_input(
                STEP,
                "an instance config is required (the render step never uses the bundled example's)",
            )),
        }
    }

    /// The input, from the step or the runtime state.
    fn source(&self, state: &RuntimeState) -> Result<Source, StepError> {
        if let Some(s) = &self.source {
            return Ok(s.clone());
        }
        match (&state.rendered_dir, &state.helmfile) {
            (Some(d), None) => Ok(Source::RenderedDir(d.clone())),
            (None, Some(h)) => Ok(Source::Helmfile(h.clone())),
            (Some(_), Some(_)) => {
                Err(StepError::bad_input(STEP, "runtime-state.json names both `renderedDir` and `helmfile`: give one"))
            }
            (None, None) => Err(StepError::bad_input(
                STEP,
                "no input: give a rendered dir or a helmfile (or `renderedDir` / `helmfile` in runtime-state.json)",
            )),
        }
    }

    /// The helmfile command line this step runs (without the binary).
    pub fn helmfile_args(&self, file: &Path, environment: &str, namespace: &str, out: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "-f".into(),
            file.into(),
            "-e".into(),
            environment.into(),
            "-n".into(),
            namespace.into(),
            "template".into(),
            "--output-dir".into(),
            out.into(),
            "--output-dir-template".into(),
            OUTPUT_DIR_TEMPLATE.into(),
        ];
        if self.skip_deps {
            a.push("--skip-deps".into());
        }
        a
    }

    fn run_helmfile(
        &self,
        file: &Path,
        environment: &str,
        namespace: &str,
        r: &mut Reporter<'_>,
    ) -> Result<TempDir, StepError> {
        let bin = find_executable(&self.helmfile_bin, self.search_path.as_ref()).ok_or_else(|| {
            StepError::bad_input(
                STEP,
                format!(
                    "`{}` is not on PATH, so the helmfile {} cannot be rendered; install helmfile, or render \
                     it yourself with `helmfile template --output-dir DIR` and pass DIR as the rendered dir",
                    self.helmfile_bin.display(),
                    file.display()
                ),
            )
        })?;
        if !file.is_file() {
            return Err(StepError::bad_input(STEP, format!("{}: no such helmfile", file.display())));
        }
        let tmp = TempDir(std::env::temp_dir().join(format!(
            "opendesk-helmfile-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )));
        let _ = std::fs::remove_dir_all(&tmp.0);
        std::fs::create_dir_all(&tmp.0).map_err(|source| {
            let e = opendesk_render::fsio::FileError::Io { path: tmp.0.clone(), source };
            StepError::file(STEP, StepErrorKind::Failed, e, "")
        })?;
        let args = self.helmfile_args(file, environment, namespace, &tmp.0);
        r.info(
            "helmfile",
            format!("{} {}", bin.display(), args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")),
        );
        let mut cmd = Command::new(&bin);
        cmd.args(&args).stdin(Stdio::null());
        if let Some(p) = &self.search_path {
            cmd.env("PATH", p);
        }
        let o = cmd.output().map_err(|e| StepError::failed(STEP, format!("cannot run {}: {e}", bin.display())))?;
        if !o.status.success() {
            return Err(StepError::failed(
                STEP,
                format!(
                    "helmfile template failed ({}): {}",
                    o.status,
                    match tail(&o.stderr, 20) {
                        t if t.is_empty() => tail(&o.stdout, 20),
                        t => t,
                    }
                ),
            ));
        }
        let wrote = std::fs::read_dir(&tmp.0).map(|mut d| d.next().is_some()).unwrap_or(false);
        if !wrote {
            return Err(StepError::failed(
                STEP,
                format!("helmfile template wrote nothing to {} (no release selected?)", tmp.0.display()),
            ));
        }
        Ok(tmp)
    }
}

impl Step for RenderManifests {
    type Output = RenderOutcome;

    fn name(&self) -> &'static str {
        STEP
    }

    fn run(&self, progress: &mut dyn FnMut(&ProgressEvent)) -> Result<RenderOutcome, StepError> {
        let mut r = Reporter::new(STEP, progress);
        let state = match &self.runtime_state {
            Some(p) => RuntimeState::load(p)?,
            None => RuntimeState::default(),
        };
        let config = self.load_config()?;
        if let Some(i) = non_empty(&state.instance) {
            if i != config.instance {
                return Err(StepError::bad_input(
                    STEP,
                    format!(
                        "runtime-state.json is for instance {i:?} but the instance config is for {:?}",
                        config.instance
                    ),
                ));
            }
        }
        let namespace = non_empty(&state.namespace).unwrap_or(&config.namespace).to_string();
        if namespace != config.namespace {
            return Err(StepError::bad_input(
                STEP,
                format!(
                    "runtime-state.json namespace {namespace:?} differs from the instance config's namespace {:?} \
                     (the Applications deploy to the config's)",
                    config.namespace
                ),
            ));
        }
        let version = match non_empty(&state.opendesk_version) {
            Some(v) => {
                semver::Version::parse(v).map_err(|e| {
                    StepError::bad_input(
                        STEP,
                        format!("runtime-state.json opendeskVersion {v:?} is not a semantic version: {e}"),
                    )
                })?;
                v.to_string()
            }
            None => config.opendesk_version.clone(),
        };
        let environment = self
            .environment
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .or(non_empty(&state.environment))
            .unwrap_or("default")
            .to_string();
        let source = self.source(&state)?;
        r.info(
            "start",
            format!(
                "instance {} (namespace {namespace}, openDesk {version}) → {}",
                config.instance,
                self.out.display()
            ),
        );
        if self.runtime_state.is_some() {
            let mut used = Vec::new();
            for (k, v) in [
                ("instance", &state.instance),
                ("namespace", &state.namespace),
                ("environment", &state.environment),
                ("opendeskVersion", &state.opendesk_version),
            ] {
                if non_empty(v).is_some() {
                    used.push(k);
                }
            }
            if self.source.is_none() {
                used.push(if state.rendered_dir.is_some() { "renderedDir" } else { "helmfile" });
            }
            r.info("state", format!("runtime-state.json supplies: {}", used.join(", ")));
        }
        if version != config.opendesk_version {
            r.warn(
                "version",
                format!(
                    "opendeskVersion {version} from runtime-state.json overrides {} from the instance config",
                    config.opendesk_version
                ),
            );
        }

        let (dir, input, _tmp, ran) = match &source {
            Source::RenderedDir(d) => {
                if !d.is_dir() {
                    return Err(StepError::bad_input(STEP, format!("{}: not a directory", d.display())));
                }
                (d.clone(), d.clone(), None, false)
            }
            Source::Helmfile(f) => {
                let tmp = self.run_helmfile(f, &environment, &namespace, &mut r)?;
                (tmp.0.clone(), f.clone(), Some(tmp), true)
            }
        };

        // Render on a worker thread; stage events come back over a channel and are delivered
        // here, on the calling thread, while it runs.
        let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
        let (dir, version_ref) = (&dir, &version);
        let result = std::thread::scope(|s| {
            let worker = s.spawn(move || {
                let tick = move |stage: &'static str| {
                    let _ = tx.send(stage);
                };
                session::check_out(&self.out, Some(dir), &self.inputs).map_err(|e| StepError::usage(STEP, e))?;
                tick(crate::progress::LOAD);
                let mut prepared = session::prepare(Some(dir), &self.inputs).map_err(|e| StepError::usage(STEP, e))?;
                prepared.config.opendesk_version = version_ref.clone();
                let matrix = match &self.matrix {
                    Some(v) => Some(session::matrix_of(&prepared, v).map_err(|e| StepError::usage(STEP, e))?),
                    None => None,
                };
                let rendered = session::render_prepared(
                    prepared,
                    &self.out,
                    self.secrets_out.as_deref(),
                    self.inputs.threads,
                    Some(&tick),
                )
                .map_err(|f| StepError::render(STEP, f))?;
                Ok((rendered, matrix))
            });
            for stage in rx {
                r.info(stage, label(stage));
            }
            worker.join().unwrap_or_else(|_| Err(StepError::failed(STEP, "the render panicked")))
        })?;
        let (result, matrix) = result;
        let s = &result.report.summary;
        r.info(
            "done",
            format!(
                "{} releases, {} resources, {} Secrets → ExternalSecrets into {}",
                s.releases,
                s.documents_out,
                s.eso_converted,
                self.out.display()
            ),
        );
        let plan = match &self.plan {
            Some(t) => {
                let step = crate::plan::PlanRenderedManifests {
                    branch: t.branch.clone(),
                    path: t.path.clone(),
                    timeout: t.timeout,
                    ..crate::plan::PlanRenderedManifests::new(&self.out, &t.repo)
                };
                let mut forward = |e: &ProgressEvent| r.forward(e);
                let p = step.run(&mut forward).map_err(|e| StepError {
                    detail: StepDetail::Message(format!(
                        "rendered into {}, but the plan failed: {}",
                        self.out.display(),
                        e.message()
                    )),
                    ..e
                })?;
                Some(p)
            }
            None => None,
        };
        Ok(RenderOutcome {
            plan,
            matrix,
            out: self.out.clone(),
            input,
            ran_helmfile: ran,
            environment: ran.then_some(environment),
            opendesk_version: version,
            scoped_guards: result.report.module.as_ref().map(|m| m.scoped_guards.clone()).unwrap_or_default(),
            report: result.report,
            secrets: result.secrets,
        })
    }
}
