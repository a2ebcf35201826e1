//! The render pipeline: patches → JIT → overrides → dedup → lint → inventory → ESO → redact →
//! guards → output tree. Every stage is a pure function of the documents and the config; the
//! stages are listed once, in [`STAGES`] (see [`stage`]), and [`render`] runs them in a loop
//! that reports progress, times them, checks for cancellation and merges their findings into
//! one [`Report`].

mod context;
pub mod stage;

pub use context::RenderContext;
pub use stage::{stage_names, Stage, STAGES};

use crate::config::InstanceConfig;
use crate::document::Document;
use crate::error::{ExitCode, LoadError, Located, Location};
use crate::load::LoadedInput;
use crate::output::argo::AppOptions;
use crate::output::graph::ReleaseGraph;
use crate::output::meta::{GuardResult, ReleaseMeta};
use crate::output::OutputError;
use crate::output::RenderedTree;
use crate::patch::{PatchError, PatchSet, PatchStat};
use crate::report::{Finding, Severity};
use crate::stages;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use thiserror::Error;

/// A progress callback: called with the stage name (one of [`stage_names`]: `patches`, `jit`,
/// …, `output`) when that stage starts. It may be called from a rayon worker thread, hence
/// `Sync`. It sees no documents and no values.
pub type ProgressFn<'a> = &'a (dyn Fn(&'static str) + Sync);

/// What to render with.
#[derive(Clone, Default)]
pub struct RenderRequest<'a> {
    /// The instance config.
    pub config: Option<&'a InstanceConfig>,
    /// The patch set (`None` = no patches).
    pub patches: Option<&'a PatchSet>,
    /// The release graph (`None` = every release in wave 0, with a warning).
    pub graph: Option<&'a ReleaseGraph>,
    /// Application sync options.
    pub app_options: AppOptions,
    /// Called at the start of each stage (for progress bars); `None` = silent. Does not change
    /// what is rendered.
    pub progress: Option<ProgressFn<'a>>,
    /// Checked at every stage boundary: once it reads `true` the render stops with
    /// [`RenderError::Cancelled`] (nothing is written: the library writes nothing anyway, and
    /// the caller gets no tree). `None` = not cancellable.
    pub cancel: Option<&'a AtomicBool>,
    /// A module render (`render --module`): the scope, the base and the secret-skew options.
    /// `None` = a full render.
    pub module: Option<&'a crate::module::ModuleRequest>,
}

impl std::fmt::Debug for RenderRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderRequest")
            .field("config", &self.config)
            .field("patches", &self.patches)
            .field("graph", &self.graph)
            .field("app_options", &self.app_options)
            .field("progress", &self.progress.map(|_| "<callback>"))
            .field("cancel", &self.cancel.map(|c| c.load(Ordering::Relaxed)))
            .field("module", &self.module)
            .finish()
    }
}

impl RenderRequest<'_> {
    fn stage(&self, name: &'static str) {
        if let Some(p) = self.progress {
            p(name);
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::SeqCst))
    }
}

/// Time spent in one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    /// Stage name.
    pub stage: &'static str,
    /// Milliseconds.
    pub ms: f64,
}

/// Counts for the one-screen summary.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Releases rendered.
    pub releases: usize,
    /// Documents loaded.
    pub documents_in: usize,
    /// Resources written.
    pub documents_out: usize,
    /// Input bytes.
    pub input_bytes: u64,
    /// Patches that changed at least one document.
    pub patches_applied: usize,
    /// Patches skipped by `appliesTo`.
    pub patches_skipped: usize,
    /// Patches in range that matched no document.
    pub patches_dead: usize,
    /// Findings by severity.
    pub findings: BTreeMap<Severity, usize>,
    /// Secrets converted to ExternalSecrets.
    pub eso_converted: usize,
    /// Inline secret values masked (`redact.mode: mask`).
    pub redactions: usize,
    /// Env values rewritten to `valueFrom.secretKeyRef`.
    pub secret_refs: usize,
    /// Inline secret values refused (`redact/inline-secret`).
    pub inline_secrets_refused: usize,
    /// Documents masked under `redact.mode: mask` (`Kind/namespace/name`).
    pub masked_documents: Vec<String>,
    /// Secret values dropped by an explicit dry run (`--discard-secret-values`): the payload's
    /// values, written nowhere. Absent (`None`) unless a dry run dropped a payload. Set by the
    /// caller that decides where the payload goes (the session), never by the pipeline; not in
    /// render-meta (the tree does not depend on where the payload went).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_values_discarded: Option<usize>,
}

/// The render report (`--json`). Field names are stable; see docs/json-report.md.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `ok` or `failed`.
    pub status: &'static str,
    /// Exit code the CLI uses for this outcome.
    pub exit_code: i32,
    /// Renderer version.
    pub renderer_version: String,
    /// openDesk version.
    pub opendesk_version: String,
    /// Instance.
    pub instance: String,
    /// sha256 of the input tree.
    pub input_digest: String,
    /// sha256 of the output tree (releases and applications).
    pub output_digest: String,
    /// Counts.
    pub summary: Summary,
    /// Per patch (and per override), in order.
    pub patches: Vec<PatchStat>,
    /// All findings, in pipeline order.
    pub findings: Vec<Finding>,
    /// Guard results.
    pub guards: Vec<GuardResult>,
    /// Every `(Secret, key)` of the converted Secrets with its class (secret or
    /// configuration) and reason. Names only.
    pub secrets: Vec<crate::stages::classify::KeyClass>,
    /// Per release facts.
    pub releases: Vec<ReleaseMeta>,
    /// Time per stage (not in render-meta: it is not deterministic).
    pub timings: Vec<StageTiming>,
    /// What the validate stage covered: the Kubernetes version, resources checked and without
    /// a schema, and the CEL rules and CRD patterns it counted but did not evaluate (absent
    /// when the render stopped before the stage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::validate::Coverage>,
    /// A module render's scope, base and scoped guards (absent for a full render).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<crate::module::ModuleMeta>,
}

/// A successful render.
#[derive(Debug)]
pub struct Rendered {
    /// The report.
    pub report: Report,
    /// The output tree (relative path → text).
    pub tree: RenderedTree,
    /// The resources, after every stage.
    pub documents: Vec<Document>,
    /// Decoded Secret values for the secrets manager (never in the tree or the report).
    pub secrets: stages::eso::SecretPayload,
}

/// Why a render did not produce output.
#[derive(Debug, Error)]
pub enum RenderError {
    /// The input could not be loaded (exit 2).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A patch or override is invalid (exit 2).
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// The JIT stage cannot run: user sync without a plugin image (exit 2).
    #[error(transparent)]
    Jit(#[from] stages::jit::JitError),
    /// Two resources with one identity and different content (exit 2).
    #[error(transparent)]
    Dedup(#[from] stages::dedup::DedupError),
    /// Secrets that cannot be converted, e.g. without a secrets manager (exit 2).
    #[error(transparent)]
    Eso(#[from] stages::eso::EsoError),
    /// A module render with nothing of its scope in the input (exit 2).
    #[error(transparent)]
    Module(#[from] crate::module::ModuleError),
    /// The schemas the config asks for cannot be loaded (exit 2).
    #[error(transparent)]
    Validate(#[from] crate::validate::ValidateError),
    /// [`RenderRequest::cancel`] was set: the render stopped at a stage boundary and produced
    /// nothing (exit 4, [`ExitCode::Cancelled`]).
    #[error("render cancelled before stage {stage}")]
    Cancelled {
        /// The stage that would have run next (`done` after the last one).
        stage: &'static str,
    },
    /// The output could not be built (exit 2).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The render ran, but a guard or a lint error failed it (exit 1). The report lists why;
    /// the documents are kept for `explain`.
    #[error("render failed: {}", failed_summary(.0))]
    Failed(Box<Report>, Box<Vec<Document>>),
}

fn failed_summary(r: &Report) -> String {
    let mut reasons: Vec<String> =
        r.guards.iter().filter(|g| !g.passed).map(|g| g.message.clone().unwrap_or_else(|| g.name.clone())).collect();
    reasons.extend(r.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| {
        let at = f.resource.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        format!("{}{at}: {}", f.code, f.message)
    }));
    reasons.join("; ")
}

impl RenderError {
    /// The outcome: [`ExitCode::Failed`] for a failed guard or lint, [`ExitCode::Cancelled`]
    /// for a cancelled render, [`ExitCode::Usage`] for bad input, config or usage.
    pub fn exit(&self) -> ExitCode {
        match self {
            RenderError::Failed(..) => ExitCode::Failed,
            RenderError::Cancelled { .. } => ExitCode::Cancelled,
            _ => ExitCode::Usage,
        }
    }

    /// [`RenderError::exit`] as a number.
    pub fn exit_code(&self) -> i32 {
        self.exit().code()
    }

    /// The report of a failed render.
    pub fn report(&self) -> Option<&Report> {
        match self {
            RenderError::Failed(r, _) => Some(r),
            _ => None,
        }
    }
}

impl Located for RenderError {
    /// Where the error points: a load error's file, a patch or override's op, a release graph
    /// problem. Errors about a resource name it in their message, not with a position.
    fn location(&self) -> Option<Location> {
        match self {
            RenderError::Load(e) => e.location(),
            RenderError::Patch(e) => e.location(),
            RenderError::Output(e) => e.location(),
            _ => None,
        }
    }
}

struct Timer {
    t: Instant,
    out: Vec<StageTiming>,
}

impl Timer {
    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.out.push(StageTiming { stage, ms: (now - self.t).as_secs_f64() * 1000.0 });
        self.t = now;
    }
}

/// Run the whole pipeline on loaded input: every stage of [`STAGES`] in order. Nothing is
/// written here: the caller writes `Rendered::tree` (atomically) and the secret payload where
/// it was asked to.
pub fn render(input: LoadedInput, req: &RenderRequest<'_>) -> Result<Rendered, RenderError> {
    let fallback;
    let cfg = match req.config {
        Some(c) => c,
        None => {
            fallback = InstanceConfig::minimal("0.0.0");
            &fallback
        }
    };
    let mut timer = Timer { t: Instant::now(), out: Vec::new() };
    let mut cx = RenderContext::new(input, cfg, req);
    if let Some(m) = req.module {
        // The loader reads only the module's folders; this keeps a caller's full input honest.
        cx.docs.retain(|d| m.scope.covers(&d.origin.release));
        if cx.docs.is_empty() {
            let e = crate::module::ModuleError::NothingToRender {
                keys: m.scope.keys.join(", "),
                releases: m.scope.releases.iter().cloned().collect::<Vec<_>>().join(", "),
            };
            return Err(RenderError::Module(e));
        }
    }
    for (i, stage) in STAGES.iter().enumerate() {
        if req.cancelled() {
            return Err(RenderError::Cancelled { stage: stage.name() });
        }
        if stage.needs_passing_render() && cx.failed() {
            // The failed render's report still times every stage (the rest as zero).
            timer.lap(stage.name());
            for rest in &STAGES[i + 1..] {
                timer.out.push(StageTiming { stage: rest.name(), ms: 0.0 });
            }
            let mut report = cx.report(true);
            report.timings = timer.out;
            return Err(RenderError::Failed(Box::new(report), Box::new(cx.docs)));
        }
        req.stage(stage.name());
        let found = stage.run(&mut cx)?;
        cx.merge(found);
        timer.lap(stage.name());
    }
    if req.cancelled() {
        return Err(RenderError::Cancelled { stage: "done" });
    }
    if cx.failed() {
        // Only the output stage's own checks (validating the generated Applications) get here.
        let mut report = cx.report(true);
        report.timings = timer.out;
        return Err(RenderError::Failed(Box::new(report), Box::new(cx.docs)));
    }
    let mut report = cx.report(false);
    report.timings = timer.out;
    let RenderContext { tree, docs, eso, .. } = cx;
    let tree = tree.expect("the output stage builds the tree");
    Ok(Rendered { report, tree, documents: docs, secrets: eso.payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::testutil::docs;

    fn input() -> LoadedInput {
        LoadedInput {
            documents: docs("r", "t.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
            files: Vec::new(),
            bytes: 0,
            digest: String::new(),
        }
    }

    #[test]
    fn timings_and_progress_follow_the_registry() {
        let seen = std::sync::Mutex::new(Vec::new());
        let progress = |s: &'static str| seen.lock().unwrap().push(s);
        let req = RenderRequest { progress: Some(&progress), ..Default::default() };
        let r = render(input(), &req).unwrap();
        let names: Vec<&str> = stage_names().collect();
        assert_eq!(r.report.timings.iter().map(|t| t.stage).collect::<Vec<_>>(), names);
        assert_eq!(*seen.lock().unwrap(), names);
    }

    #[test]
    fn a_failed_render_times_every_stage_and_skips_the_output() {
        let mut i = input();
        i.documents = docs("r", "t.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: __X__}\n");
        let seen = std::sync::Mutex::new(Vec::new());
        let progress = |s: &'static str| seen.lock().unwrap().push(s);
        let req = RenderRequest { progress: Some(&progress), ..Default::default() };
        let e = render(i, &req).unwrap_err();
        let r = e.report().expect("a failed render has a report");
        assert_eq!(r.timings.iter().map(|t| t.stage).collect::<Vec<_>>(), stage_names().collect::<Vec<_>>());
        assert!(!seen.lock().unwrap().contains(&"output"));
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn cancellation_stops_at_a_stage_boundary() {
        let flag = AtomicBool::new(true);
        let req = RenderRequest { cancel: Some(&flag), ..Default::default() };
        let e = render(input(), &req).unwrap_err();
        assert!(matches!(e, RenderError::Cancelled { stage: "patches" }), "{e}");
        assert_eq!(e.exit(), ExitCode::Cancelled);
        // Set while a stage runs: the next boundary stops the render.
        let flag = AtomicBool::new(false);
        let progress = |s: &'static str| {
            if s == "lint" {
                flag.store(true, Ordering::SeqCst);
            }
        };
        let req = RenderRequest { cancel: Some(&flag), progress: Some(&progress), ..Default::default() };
        let e = render(input(), &req).unwrap_err();
        assert!(matches!(e, RenderError::Cancelled { stage: "inventory" }), "{e}");
    }
}
