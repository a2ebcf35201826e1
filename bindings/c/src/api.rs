//! The Rust-level calls the C ABI and the Python module share: a render with progress events,
//! cancellation and an explicit secrets destination; explain; and failures carrying a status,
//! the stage, the typed position (or, for a config given as a structure, its key path) and the
//! message.

use crate::keyed::KeyedText;
/// The outcome of a call, decided once in the library (re-exported for the bindings).
pub use opendesk_render::error::ExitCode;
use opendesk_render::error::Located;
use opendesk_render::pipeline::RenderError;
use opendesk_steps::progress::stages;
use opendesk_steps::session::{
    self, Inputs, Location, PayloadOptions, PayloadTo, RenderFailure, RenderOptions, UsageError,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Instant;

/// Where an error points: the file, and its 1-based line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file as the message names it (a path, or `<config>` for config text).
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
}

impl From<Location> for Position {
    fn from(l: Location) -> Self {
        Position {
            file: l.file.display().to_string(),
            line: (l.line > 0).then_some(l.line),
            column: (l.col > 0).then_some(l.col),
        }
    }
}

/// Why a call produced no result.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The outcome: [`ExitCode::Failed`] guard/lint failure, [`ExitCode::Usage`] bad input or
    /// usage, [`ExitCode::Internal`] internal error, [`ExitCode::Cancelled`] cancelled (the C
    /// ABI's status is its number, [`ExitCode::code`]).
    pub exit: ExitCode,
    /// The message as the CLI prints it after `error: ` (`FILE:LINE:COL: ...` plus a snippet
    /// where known; for a config given as a structure, `config key PATH: ...` instead).
    /// [`Failure::message`] is the whole line.
    pub text: String,
    /// The stage it failed in (`load`, `patches`, …, `write`; see
    /// `opendesk_steps::progress::stages()`); `None` when the request itself was bad.
    pub stage: Option<&'static str>,
    /// The position the error names, if any (from the typed error, never from the message).
    pub position: Option<Box<Position>>,
    /// For a config given as a structure: the key path the error is at
    /// (`secretsManager.keyPrefix`; `""` for the top level).
    pub key_path: Option<String>,
    /// The report (same JSON as `--json`), when the pipeline ran.
    pub report: Option<Box<Value>>,
    /// What is wrong without where, from the typed error (`UsageError::reason`,
    /// `RenderFailure::reason`): what [`Failure::keyed`] reports at a key path.
    reason: Option<String>,
}

impl Failure {
    /// A failure with no position.
    pub fn new(exit: ExitCode, text: String) -> Self {
        Failure { exit, text, stage: None, position: None, key_path: None, report: None, reason: None }
    }

    /// A step's failure: its exit and text, and the file a file error names as the position
    /// (from [`opendesk_steps::step::StepError::file_error`], never from the message).
    pub fn step(e: &opendesk_steps::step::StepError) -> Self {
        let position = e.file_error().map(|f| Box::new(Position::from(Location::file(f.path()))));
        Failure { position, ..Failure::new(e.exit(), e.to_string()) }
    }

    /// The message as the CLI prints it: `error: ` + [`Failure::text`].
    pub fn message(&self) -> String {
        format!("error: {}", self.text)
    }

    /// A bad request (exit 2, [`ExitCode::Usage`]) saying `what`.
    pub fn usage(what: impl std::fmt::Display) -> Self {
        Failure::new(ExitCode::Usage, what.to_string())
    }

    /// A panic caught at the boundary (a bug; [`ExitCode::Internal`]).
    pub fn internal(panic: &(dyn std::any::Any + Send)) -> Self {
        Failure::new(ExitCode::Internal, format!("internal error (a bug): {}", panic_message(panic)))
    }

    /// The status a C caller gets: [`ExitCode::code`] of [`Failure::exit`].
    pub fn status(&self) -> i32 {
        self.exit.code()
    }

    fn from_prepare(e: UsageError) -> Self {
        Failure {
            stage: Some("load"),
            position: e.location().map(|l| Box::new(l.into())),
            reason: Some(e.reason()),
            ..Failure::new(e.exit(), e.to_string())
        }
    }

    /// Report a `<config>` position of a keyed config by its key path instead: the message
    /// becomes `config key PATH: REASON`, the reason taken from the typed error.
    fn keyed(mut self, keyed: Option<&KeyedText>) -> Self {
        let Some(k) = keyed else { return self };
        let Some(pos) = self.position.as_deref().filter(|p| p.file == CONFIG_TEXT) else { return self };
        let Some(reason) = self.reason.take() else { return self };
        let path = k.path_at(pos.line.unwrap_or(0)).map(str::to_string);
        let at = match path.as_deref() {
            Some("") => "config (top level)".to_string(),
            Some(p) => format!("config key {p}"),
            None => "config".to_string(),
        };
        self.text = format!("{at}: {reason}");
        self.key_path = path;
        self.position = None;
        self
    }
}

/// The file name a config given as text has in positions (`InstanceConfig::parse`'s).
const CONFIG_TEXT: &str = "<config>";

impl From<RenderFailure> for Failure {
    fn from(f: RenderFailure) -> Self {
        Failure {
            exit: f.exit(),
            text: f.to_string(),
            stage: f.stage,
            position: f.location().map(|l| Box::new(l.into())),
            key_path: None,
            reason: Some(f.reason()),
            report: f.report.and_then(|r| serde_json::to_value(&*r).ok()).map(Box::new),
        }
    }
}

/// Where the decoded Secret payload goes. A render whose input holds Secrets needs one: the
/// payload is written or handed back, or dropped on explicit request, never dropped unasked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SecretsTo {
    /// No destination: a render that produces a payload fails (status 2, nothing written).
    #[default]
    Nowhere,
    /// Written (JSON, mode 0600) to this file, outside the output dir, with the tree.
    File(PathBuf),
    /// Handed back to the caller ([`Rendered::secrets`]).
    Caller,
    /// An explicit dry run (`--discard-secret-values`): the tree is written, the values go
    /// nowhere, and the report's `summary.secretValuesDiscarded` says how many were dropped.
    Discard,
}

impl SecretsTo {
    /// The destination a caller asked for: at most one of a payload file, the payload handed
    /// back and an explicit dry run (none: [`SecretsTo::Nowhere`]). Two at once is an error
    /// naming both in the caller's `names` (file, hand back, dry run), for a bad request.
    pub fn one_of(file: Option<PathBuf>, caller: bool, discard: bool, names: [&str; 3]) -> Result<SecretsTo, String> {
        let mut given = [file.is_some(), caller, discard].into_iter().zip(names).filter(|g| g.0);
        if let (Some((_, a)), Some((_, b))) = (given.next(), given.next()) {
            return Err(format!("give {a} or {b}, not both"));
        }
        Ok(match (file, caller, discard) {
            (Some(p), _, _) => SecretsTo::File(p),
            (None, true, _) => SecretsTo::Caller,
            (None, false, true) => SecretsTo::Discard,
            (None, false, false) => SecretsTo::Nowhere,
        })
    }
}

/// Whether a stage started or finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The stage started.
    Started,
    /// The stage finished (a failing stage never does: the error names it).
    Finished,
}

/// A progress event: a stage started or finished. Carries counts, never values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Started or finished.
    pub kind: EventKind,
    /// The stage (`load`, `patches`, …, `write`; `opendesk_steps::progress::stages()`).
    pub stage: &'static str,
    /// Its 0-based position in that list.
    pub index: usize,
    /// The number of stages.
    pub total: usize,
    /// For `Finished`: the stage's wall-clock time in milliseconds; 0 for `Started`.
    pub ms: f64,
    /// For `Finished`: documents at that point where known (`load`: loaded; `write`: written
    /// resources); `None` otherwise.
    pub documents: Option<usize>,
}

/// A progress sink: called in stage order, never concurrently, possibly on a worker thread.
pub type EventFn<'a> = &'a (dyn Fn(&Event) + Sync);

/// One render call.
#[derive(Default)]
pub struct Request<'a> {
    /// The helmfile `--output-dir` tree; `None` renders the bundled example.
    pub input: Option<PathBuf>,
    /// The output dir (replaced atomically, only on success).
    pub out: PathBuf,
    /// Config file or text, patches, release graph, threads.
    pub inputs: Inputs,
    /// The config as a structure (JSON value); errors then name its key path. Exclusive with
    /// `inputs.config` and `inputs.config_text`.
    pub config_value: Option<Value>,
    /// Where the secret payload goes.
    pub secrets: SecretsTo,
    /// Progress events.
    pub progress: Option<EventFn<'a>>,
    /// Set to stop at the next stage boundary (status 4, nothing written).
    pub cancel: Option<&'a AtomicBool>,
    /// How the caller's API names the payload's destinations, for the error of a render that
    /// has nowhere to put its payload (a wrapper's own field names); `None`: [`payload_options`]
    /// of this API (the C request's fields).
    pub payload_names: Option<PayloadOptions>,
}

/// A successful render.
#[derive(Debug)]
pub struct Rendered {
    /// The report, as `render --json`.
    pub report: Value,
    /// The secret payload (the `--secrets-out` JSON) when [`SecretsTo::Caller`] asked for it.
    pub secrets: Option<String>,
}

/// Emits Started/Finished pairs from the stage starts the render reports.
struct Events<'a> {
    sink: Option<EventFn<'a>>,
    names: Vec<&'static str>,
    current: Mutex<Option<(&'static str, Instant)>>,
}

impl<'a> Events<'a> {
    fn new(sink: Option<EventFn<'a>>) -> Self {
        Events { sink, names: stages(), current: Mutex::new(None) }
    }

    fn emit(&self, kind: EventKind, stage: &'static str, ms: f64, documents: Option<usize>) {
        if let Some(s) = self.sink {
            let total = self.names.len();
            let index = self.names.iter().position(|x| *x == stage).unwrap_or(total);
            s(&Event { kind, stage, index, total, ms, documents });
        }
    }

    /// `stage` started: the previous one (if still open) finished.
    fn start(&self, stage: &'static str) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((prev, t)) = cur.take() {
            self.emit(EventKind::Finished, prev, t.elapsed().as_secs_f64() * 1000.0, None);
        }
        self.emit(EventKind::Started, stage, 0.0, None);
        *cur = Some((stage, Instant::now()));
    }

    /// The open stage finished, with a document count.
    fn finish(&self, documents: Option<usize>) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((prev, t)) = cur.take() {
            self.emit(EventKind::Finished, prev, t.elapsed().as_secs_f64() * 1000.0, documents);
        }
    }
}

fn cancelled(cancel: Option<&AtomicBool>) -> bool {
    cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Acquire))
}

/// The names of the payload's destinations in this API (the C request's fields, Python's
/// keyword arguments), for the error of a render that has nowhere to put its payload.
pub fn payload_options() -> PayloadOptions {
    PayloadOptions::api("secrets_out", "return_secrets", "discard_secret_values")
}

/// Render `req.input` into `req.out`. Writes nothing unless everything succeeded (the tree is
/// replaced atomically; the payload file, when asked for, with it).
pub fn render_request(req: Request<'_>) -> Result<Rendered, Failure> {
    let Request { input, out, mut inputs, config_value, secrets, progress, cancel, payload_names } = req;
    let keyed = match config_value {
        Some(v) => {
            if inputs.config.is_some() || inputs.config_text.is_some() {
                return Err(Failure::usage("give one config: a file, a text or a structure"));
            }
            let k = KeyedText::new(&v);
            inputs.config_text = Some(k.text.clone());
            Some(k)
        }
        None => None,
    };
    if inputs.config.is_some() && inputs.config_text.is_some() {
        return Err(Failure::usage("give one config: a file, a text or a structure"));
    }
    // `Inputs::discard_secret_values` (a Rust caller's) is the same request as
    // `SecretsTo::Discard`; with another destination it is one too many.
    let twice = |first| Failure::usage(session::UsageKind::PayloadTwice { first, second: "discard_secret_values" });
    let secrets = match (secrets, inputs.discard_secret_values) {
        (SecretsTo::Nowhere, true) => SecretsTo::Discard,
        (SecretsTo::File(_), true) => return Err(twice("secrets_out")),
        (SecretsTo::Caller, true) => return Err(twice("return_secrets")),
        (s, _) => s,
    };
    let secrets_file = match &secrets {
        SecretsTo::File(p) => Some(p.as_path()),
        _ => None,
    };
    if let Some(so) = secrets_file {
        opendesk_render::output::write::check_secrets_out(&out, so).map_err(Failure::usage)?;
    }
    if cancelled(cancel) {
        return Err(Failure::from(RenderFailure::cancelled("load")));
    }
    let events = Events::new(progress);
    events.start("load");
    let prepared =
        session::prepare(input.as_deref(), &inputs).map_err(|e| Failure::from_prepare(e).keyed(keyed.as_ref()))?;
    events.finish(Some(prepared.input.documents.len()));
    let tick = |stage: &'static str| events.start(stage);
    let opts = RenderOptions { progress: Some(&tick), cancel };
    let mut rendered =
        session::run_checked(prepared, inputs.threads, opts).map_err(|f| Failure::from(f).keyed(keyed.as_ref()))?;
    let to = match secrets {
        SecretsTo::Nowhere => PayloadTo::Nowhere,
        SecretsTo::Discard => PayloadTo::Discard,
        SecretsTo::File(_) | SecretsTo::Caller => PayloadTo::Destination,
    };
    // Without a destination: the same exit-2 error as the CLI's missing --secrets-out, in this
    // API's names.
    session::settle_payload(&mut rendered, to, payload_names.unwrap_or_else(payload_options))?;
    let rendered = session::write_rendered(rendered, &out, secrets_file, inputs.threads, opts)?;
    events.finish(Some(rendered.report.summary.documents_out));
    let report =
        serde_json::to_value(&rendered.report).map_err(|e| Failure::new(ExitCode::Internal, format!("report: {e}")))?;
    let secrets = (secrets == SecretsTo::Caller).then(|| rendered.secrets.to_secrets_file());
    Ok(Rendered { report, secrets })
}

/// Render `input` (the bundled example when `None`) into `out`; the report as JSON. The
/// payload goes to `secrets_out`; without one, a render that produces a payload fails.
pub fn render(input: Option<&Path>, out: &Path, secrets_out: Option<&Path>, a: &Inputs) -> Result<Value, Failure> {
    let req = Request {
        input: input.map(Path::to_path_buf),
        out: out.to_path_buf(),
        inputs: a.clone(),
        secrets: secrets_out.map_or(SecretsTo::Nowhere, |p| SecretsTo::File(p.to_path_buf())),
        ..Default::default()
    };
    render_request(req).map(|r| r.report)
}

/// What changed each resource: `[{resource, release, file, line, changes}]`, as `explain --json`.
///
/// `resource` (`KIND/NAMESPACE/NAME`, case-insensitive) keeps one resource; naming one that
/// does not exist is a usage error. A render that fails its guards still explains (what ran
/// before the failure), as the CLI does. `config_value` is as in [`Request::config_value`].
pub fn explain(
    input: Option<&Path>,
    resource: Option<&str>,
    a: &Inputs,
    config_value: Option<Value>,
) -> Result<Value, Failure> {
    let mut a = a.clone();
    let keyed = config_value.map(|v| KeyedText::new(&v));
    if let Some(k) = &keyed {
        if a.config.is_some() || a.config_text.is_some() {
            return Err(Failure::usage("give one config: a file, a text or a structure"));
        }
        a.config_text = Some(k.text.clone());
    }
    let prepared = session::prepare(input, &a).map_err(|e| Failure::from_prepare(e).keyed(keyed.as_ref()))?;
    let docs = match session::run(prepared, a.threads) {
        Ok(r) => r.documents,
        Err(RenderError::Failed(_, docs)) => *docs,
        Err(e) => {
            let f = RenderFailure::new(session::FailureKind::Render(e), None);
            return Err(Failure::from(f).keyed(keyed.as_ref()));
        }
    };
    let shown = session::explain_entries(&docs, resource);
    if let Some(w) = resource {
        if shown.is_empty() {
            return Err(Failure::usage(format_args!(
                "no resource {w} (use KIND/NAMESPACE/NAME as in `explain` output; `-` for no namespace)"
            )));
        }
    }
    Ok(Value::Array(shown))
}

/// What to plan: the rendered tree against the instance repository (`opendesk-render plan`).
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The rendered tree (holding `render-meta.yaml`).
    pub out: PathBuf,
    /// Git URL of the instance repository.
    pub repo: String,
    /// Branch; `None`: `main`.
    pub branch: Option<String>,
    /// Folder inside the repository that the tree would replace (`instances/acme`); empty:
    /// the repository root.
    pub path: String,
    /// Time limit of every git command in seconds; `None`: 300.
    pub timeout_secs: Option<u64>,
}

/// The plan (what a push would change; nothing is pushed): the JSON of `opendesk-render plan
/// --json`, plus `text` and `markdown` holding the terminal and merge-request renderings.
/// Secret values are never in it. Errors: 2 bad input, 1 git failure.
pub fn plan(req: PlanRequest) -> Result<Value, Failure> {
    use opendesk_steps::step::Step;
    let mut step = opendesk_steps::plan::PlanRenderedManifests::new(req.out, req.repo);
    if let Some(b) = req.branch {
        step.branch = b;
    }
    step.path = req.path;
    if let Some(t) = req.timeout_secs {
        step.timeout = std::time::Duration::from_secs(t);
    }
    let o = step.run(&mut |_| {}).map_err(|e| Failure::step(&e))?;
    let mut v = serde_json::to_value(&o).map_err(|e| Failure::new(ExitCode::Internal, format!("plan: {e}")))?;
    v["text"] = Value::String(o.to_text());
    v["markdown"] = Value::String(o.to_markdown());
    Ok(v)
}

/// What to tabulate: the patch set over an input for several openDesk versions
/// (`opendesk-render patches matrix`).
#[derive(Debug, Clone, Default)]
pub struct MatrixRequest {
    /// The helmfile `--output-dir` tree; `None`: the bundled example.
    pub input: Option<PathBuf>,
    /// Config, patches (`threads` and module fields are not used).
    pub inputs: Inputs,
    /// The config as a structure (instead of `inputs.config`/`config_text`).
    pub config_value: Option<Value>,
    /// Full semver versions; empty: every `appliesTo` boundary plus the configured version.
    pub versions: Vec<String>,
}

/// The upgrade matrix: the JSON of `opendesk-render patches matrix --json` (`versions`,
/// `patches[].cells[]` with `state` out-of-range / changed / no-op / dead), plus `text` and
/// `markdown`. Errors: 2 bad input (a version that is not semver, no patch set).
pub fn matrix(req: MatrixRequest) -> Result<Value, Failure> {
    let MatrixRequest { input, mut inputs, config_value, versions } = req;
    let keyed = match config_value {
        Some(v) => {
            if inputs.config.is_some() || inputs.config_text.is_some() {
                return Err(Failure::usage("give one config: a file, a text or a structure"));
            }
            let k = KeyedText::new(&v);
            inputs.config_text = Some(k.text.clone());
            Some(k)
        }
        None => None,
    };
    let prepared =
        session::prepare(input.as_deref(), &inputs).map_err(|e| Failure::from_prepare(e).keyed(keyed.as_ref()))?;
    let m = session::matrix_of(&prepared, &versions).map_err(|e| Failure::new(e.exit(), e.to_string()))?;
    let mut v = serde_json::to_value(&m).map_err(|e| Failure::new(ExitCode::Internal, format!("matrix: {e}")))?;
    v["text"] = Value::String(m.to_text());
    v["markdown"] = Value::String(m.to_markdown());
    Ok(v)
}

/// A panic payload as text.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    fn config() -> Value {
        json!({
            "opendeskVersion": "1.13.1",
            "instance": "acme",
            "namespace": "opendesk",
            "argocd": {"repoURL": "https://git.example.org/acme.git", "path": "instances/acme"},
            "secretsManager": {"storeRef": {"kind": "ClusterSecretStore", "name": "sm"}, "keyPrefix": "acme"},
        })
    }

    fn example(tmp: &Path) -> Request<'static> {
        Request { out: tmp.join("out"), secrets: SecretsTo::Caller, ..Default::default() }
    }

    #[test]
    fn events_come_in_order_and_in_pairs() {
        let tmp = tempfile::tempdir().unwrap();
        let seen = Mutex::new(Vec::new());
        let sink = |e: &Event| seen.lock().unwrap().push(*e);
        let r = render_request(Request { progress: Some(&sink), ..example(tmp.path()) }).unwrap();
        assert!(r.secrets.as_deref().is_some_and(|s| s.contains("\"secrets\"")));
        let seen = seen.into_inner().unwrap();
        let names: Vec<_> = seen.iter().map(|e| (e.kind, e.stage)).collect();
        let mut want = Vec::new();
        for s in stages() {
            want.push((EventKind::Started, s));
            want.push((EventKind::Finished, s));
        }
        assert_eq!(names, want);
        assert!(seen.iter().enumerate().all(|(i, e)| e.index == i / 2 && e.total == stages().len()));
        let docs_in = r.report["summary"]["documentsIn"].as_u64().unwrap() as usize;
        assert_eq!(seen[1].documents, Some(docs_in));
        assert_eq!(
            seen.last().unwrap().documents,
            Some(r.report["summary"]["documentsOut"].as_u64().unwrap() as usize)
        );
    }

    #[test]
    fn a_cancel_during_the_render_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let flag = AtomicBool::new(false);
        // Cancel when `lint` starts: the render stops at a later boundary (at the latest before
        // `write`).
        let sink = |e: &Event| {
            if e.stage == "lint" {
                flag.store(true, Ordering::Release);
            }
        };
        let f =
            render_request(Request { progress: Some(&sink), cancel: Some(&flag), ..example(tmp.path()) }).unwrap_err();
        assert_eq!(f.exit, ExitCode::Cancelled, "{}", f.message());
        assert!(f.message().contains("cancelled"), "{}", f.message());
        // The pipeline checks at every stage boundary: the stage after `lint` never starts.
        let all = stages();
        let next = all[all.iter().position(|s| *s == "lint").unwrap() + 1];
        assert_eq!(f.stage, Some(next), "{}", f.message());
        assert!(!tmp.path().join("out").exists());
    }

    #[test]
    fn a_payload_without_a_destination_fails_and_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let f = render_request(Request { secrets: SecretsTo::Nowhere, ..example(tmp.path()) }).unwrap_err();
        assert_eq!(f.exit, ExitCode::Usage);
        assert!(f.message().contains("secrets_out is missing"), "{}", f.message());
        for option in ["secrets_out PATH", "return_secrets", "discard_secret_values"] {
            assert!(f.message().contains(option), "{option}: {}", f.message());
        }
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
    }

    #[test]
    fn an_explicit_dry_run_writes_the_tree_and_says_what_it_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        // What a render with the payload handed back produces, for comparison.
        let full = render_request(example(tmp.path())).unwrap();
        let values: usize = serde_json::from_str::<Value>(full.secrets.as_deref().unwrap()).unwrap()["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["properties"].as_object().unwrap().len())
            .sum();
        assert!(values > 0);
        assert_eq!(full.report["summary"].get("secretValuesDiscarded"), None, "absent unless discarded");
        std::fs::remove_dir_all(tmp.path().join("out")).unwrap();

        let r = render_request(Request { secrets: SecretsTo::Discard, ..example(tmp.path()) }).unwrap();
        assert_eq!(r.secrets, None);
        assert_eq!(r.report["summary"]["secretValuesDiscarded"], json!(values));
        assert_eq!(r.report["outputDigest"], full.report["outputDigest"], "the same tree");
        let entries: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(entries, ["out"], "nothing written outside out/");

        // `Inputs::discard_secret_values` is the same request; with a destination, one too many.
        let inputs = Inputs { discard_secret_values: true, ..Default::default() };
        let r = render_request(Request { secrets: SecretsTo::Nowhere, inputs: inputs.clone(), ..example(tmp.path()) })
            .unwrap();
        assert_eq!(r.report["summary"]["secretValuesDiscarded"], json!(values));
        let f = render_request(Request { inputs, ..example(tmp.path()) }).unwrap_err();
        assert_eq!(f.exit, ExitCode::Usage);
        assert!(
            f.message().contains("return_secrets") && f.message().contains("discard_secret_values"),
            "{}",
            f.message()
        );
    }

    #[test]
    fn a_structured_config_error_names_its_key_path() {
        let tmp = tempfile::tempdir().unwrap();
        let mut v = config();
        v["secretsManager"]["keyPrefx"] = json!("acme");
        let f = render_request(Request { config_value: Some(v), ..example(tmp.path()) }).unwrap_err();
        assert_eq!(f.exit, ExitCode::Usage);
        assert_eq!(f.key_path.as_deref(), Some("secretsManager.keyPrefx"), "{}", f.message());
        assert_eq!(f.position, None);
        assert!(f.message().starts_with("error: config key secretsManager.keyPrefx: "), "{}", f.message());
        assert!(!f.message().contains("<config>"), "{}", f.message());
        assert_eq!(f.stage, Some("load"));
    }

    #[test]
    fn an_override_error_in_a_structured_config_names_its_key_path_with_the_typed_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let mut v = config();
        v["overrides"] = json!([{
            "name": "x",
            "select": {"kind": "Deployment"},
            "ops": [{"set": {"path": "$.spec[", "value": 1}}],
        }]);
        let inputs = Inputs { no_patches: true, ..Default::default() };
        let f = render_request(Request { config_value: Some(v), inputs, ..example(tmp.path()) }).unwrap_err();
        assert_eq!(f.exit, ExitCode::Usage, "{}", f.message());
        // Compiled in the pipeline: a `RenderFailure`, its reason from the `PatchError`.
        assert_eq!(f.stage, Some("overrides"));
        let path = f.key_path.as_deref().unwrap_or_else(|| panic!("a key path: {f:?}"));
        assert_eq!(path, "overrides[0].ops[0].set.path", "{}", f.message());
        assert_eq!(f.position, None);
        assert!(
            f.message().starts_with("error: config key overrides[0].ops[0].set.path: patch \"x\""),
            "{}",
            f.message()
        );
        assert!(!f.message().contains("<config>"), "{}", f.message());
        assert!(!tmp.path().join("out").exists());
    }

    #[test]
    fn a_bad_manifest_has_a_typed_position() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("in/rel/chart/templates");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n")
            .unwrap();
        let f = render_request(Request {
            input: Some(tmp.path().join("in")),
            config_value: Some(config()),
            ..example(tmp.path())
        })
        .unwrap_err();
        let p = f.position.expect("a position");
        assert!(p.file.ends_with("cm.yaml"), "{}", p.file);
        assert_eq!(p.line, Some(5));
        assert!(p.column.is_some());
        assert_eq!(f.stage, Some("load"));
        assert_eq!(f.key_path, None);
    }
}
