//! The render pipeline: patches → JIT → overrides → dedup → lint → inventory → ESO → redact →
//! guards → output tree. Every stage is a pure function of the documents and the config; this
//! module composes them, times them, and collects one [`Report`].

use crate::config::InstanceConfig;
use crate::document::Document;
use crate::error::LoadError;
use crate::load::LoadedInput;
use crate::output::argo::AppOptions;
use crate::output::graph::ReleaseGraph;
use crate::output::meta::{GuardResult, MetaInput, ReleaseMeta};
use crate::output::{build_tree, OutputError, RenderedTree};
use crate::patch::{apply, PatchError, PatchRun, PatchSet, PatchStat, Prepared, Vars};
use crate::report::{Finding, Severity};
use crate::stages;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;
use thiserror::Error;

/// A progress callback: called with the stage name (`patches`, `jit`, `overrides`, `dedup`,
/// `lint`, `inventory`, `eso`, `redact`, `guards`, `output`) when that stage starts. It may be
/// called from a rayon worker thread, hence `Sync`. It sees no documents and no values.
pub type ProgressFn<'a> = &'a (dyn Fn(&'static str) + Sync);

/// The stage names the pipeline reports through [`RenderRequest::progress`], in order.
pub const STAGES: [&str; 10] =
    ["patches", "jit", "overrides", "dedup", "lint", "inventory", "eso", "redact", "guards", "output"];

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
    /// [`RenderError::Cancelled`] (nothing is built). `None` = not cancellable.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
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
            .field("cancel", &self.cancel.map(|c| c.load(std::sync::atomic::Ordering::Relaxed)))
            .field("module", &self.module)
            .finish()
    }
}

impl RenderRequest<'_> {
    /// Stage `name` starts: stop if cancelled, else report it.
    fn stage(&self, name: &'static str) -> Result<(), RenderError> {
        if self.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst)) {
            return Err(RenderError::Cancelled { stage: name });
        }
        if let Some(p) = self.progress {
            p(name);
        }
        Ok(())
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
    /// Inline secret values masked.
    pub redactions: usize,
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
    /// Per release facts.
    pub releases: Vec<ReleaseMeta>,
    /// Time per stage (not in render-meta: it is not deterministic).
    pub timings: Vec<StageTiming>,
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
    /// Bad input or config found by a stage (exit 2), e.g. Secrets without a secrets manager.
    #[error("{0}")]
    Input(String),
    /// The output could not be built (exit 2).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// [`RenderRequest::cancel`] was set: the render stopped at a stage boundary and produced
    /// nothing (exit 2).
    #[error("render cancelled before stage {stage}")]
    Cancelled {
        /// The stage that would have run next.
        stage: &'static str,
    },
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
    /// CLI exit code: 1 for a failed guard or lint, 2 for bad input, config or usage.
    pub fn exit_code(&self) -> i32 {
        match self {
            RenderError::Failed(..) => 1,
            _ => 2,
        }
    }

    /// The report of a failed render.
    pub fn report(&self) -> Option<&Report> {
        match self {
            RenderError::Failed(r, _) => Some(r),
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

/// Run the whole pipeline on loaded input. Nothing is written here: the caller writes
/// `Rendered::tree` (atomically) and the secret payload where it was asked to.
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
    let documents_in = input.documents.len();
    let mut docs = input.documents;
    if let Some(m) = req.module {
        // The loader reads only the module's folders; this keeps a caller's full input honest.
        docs.retain(|d| m.scope.covers(&d.origin.release));
        if docs.is_empty() {
            let e = crate::module::ModuleError::NothingToRender {
                keys: m.scope.keys.join(", "),
                releases: m.scope.releases.iter().cloned().collect::<Vec<_>>().join(", "),
            };
            return Err(RenderError::Input(e.to_string()));
        }
    }
    let mut findings: Vec<Finding> = Vec::new();
    let mut guards: Vec<GuardResult> = Vec::new();
    let vars = Vars::from_config(cfg);
    let version = cfg.version();

    // Patches.
    req.stage("patches")?;
    let prepared = match req.patches {
        Some(set) => set.prepare(&version, &vars)?,
        None => Prepared::default(),
    };
    let patch_run = apply(&prepared, &mut docs, "patch");
    if let Some(e) = patch_run.unbound.clone() {
        return Err(RenderError::Patch(e));
    }
    timer.lap("patches");

    // JIT.
    req.stage("jit")?;
    let jit = stages::jit::jit(&mut docs, cfg).map_err(|e| RenderError::Input(e.to_string()))?;
    findings.extend(jit.findings.iter().cloned());
    timer.lap("jit");

    // Overrides: same engine, no appliesTo.
    req.stage("overrides")?;
    let overrides = PatchSet { patches: cfg.compiled_overrides()? };
    let override_prep = overrides.prepare(&version, &vars)?;
    let override_run = apply(&override_prep, &mut docs, "override");
    if let Some(e) = override_run.unbound.clone() {
        return Err(RenderError::Patch(e));
    }
    timer.lap("overrides");

    // Dedup.
    req.stage("dedup")?;
    let dedup = stages::dedup::dedup(&mut docs, cfg).map_err(|e| RenderError::Input(e.to_string()))?;
    findings.extend(dedup.findings.iter().cloned());
    timer.lap("dedup");

    // Lint.
    req.stage("lint")?;
    let lint = stages::lint::lint(&docs, cfg);
    findings.extend(lint.findings.iter().cloned());
    timer.lap("lint");

    // Inventory.
    req.stage("inventory")?;
    let inventory = stages::inventory::inventory(&docs, cfg);
    timer.lap("inventory");

    // ESO.
    req.stage("eso")?;
    let eso = stages::eso::eso(&mut docs, cfg).map_err(|e| RenderError::Input(e.to_string()))?;
    findings.extend(eso.report.findings.iter().cloned());
    timer.lap("eso");

    // Redact.
    req.stage("redact")?;
    let (redact, redact_error) = match stages::redact::redact(&mut docs, cfg, &eso.payload) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    if let Some(r) = &redact {
        findings.extend(r.report.findings.iter().cloned());
    }
    let masked = redact.as_ref().map_or(0, |r| r.report.occurrences.len());
    timer.lap("redact");

    // Guards.
    req.stage("guards")?;
    let mut patch_stats: Vec<PatchStat> = patch_run.stats.clone();
    patch_stats
        .extend(override_run.stats.iter().map(|s| PatchStat { name: format!("override:{}", s.name), ..s.clone() }));
    let (required, out_of_scope) = match req.module {
        Some(m) => crate::module::required_guard(&patch_run, &prepared, &m.scope),
        None => (required_guard(&patch_run), Vec::new()),
    };
    guards.push(required);
    if let Some(e) = &redact_error {
        guards.push(GuardResult { name: "redact-strict".into(), passed: false, message: Some(e.to_string()) });
    }
    let ctx = stages::guards::GuardContext {
        known_secrets: redact.as_ref().map(|r| &r.known),
        root_clean: redact.as_ref().map_or(&[][..], |r| &r.root_clean),
        module: req.module.is_some(),
    };
    let g = stages::guards::guards(&docs, cfg, &ctx);
    for r in &g.results {
        guards.push(GuardResult {
            name: r.guard.clone(),
            passed: r.passed,
            message: if r.passed { None } else { Some(r.summary.clone()) },
        });
    }
    findings.extend(g.findings());
    let module_meta = req.module.map(|m| {
        match &m.base {
            Some(base) => {
                let skew = crate::module::secret_skew(&docs, base, &m.scope, m.allow_secret_removal);
                guards.push(skew.guard);
                findings.extend(skew.findings);
            }
            None => {
                let (g, f) = crate::module::no_base_guard();
                guards.push(g);
                findings.push(f);
            }
        }
        let rendered: std::collections::BTreeSet<String> = docs.iter().map(|d| d.origin.release.to_string()).collect();
        crate::module::ModuleMeta::new(m, rendered, out_of_scope)
    });
    let _ = (&inventory, &lint);
    // Nothing that leaves the process may carry a known secret value, even by coincidence
    // (a value equal to a file name, say): scrub findings and guard messages. Under
    // `redact.strict` with an occurrence the redact stage returns no set: collect it here.
    let known_strict = redact_error.as_ref().map(|_| stages::redact::KnownSecrets::collect(&eso.payload, cfg, &docs).0);
    if let Some(known) = redact.as_ref().map(|r| &r.known).or(known_strict.as_ref()) {
        let scrub = |s: &mut String| {
            if known.contains(s) {
                *s = known.mask(s).into_owned();
            }
        };
        for f in &mut findings {
            scrub(&mut f.message);
            for o in [&mut f.resource, &mut f.origin, &mut f.path].into_iter().flatten() {
                scrub(o);
            }
        }
        for g in &mut guards {
            if let Some(m) = &mut g.message {
                scrub(m);
            }
        }
        // Origins too: `explain` prints them, and the output gives a document without a
        // `# Source:` comment one from its origin file (a chart file named like a default
        // password, `cassandra-secret.yaml`, is such a coincidence in the corpus).
        for d in &mut docs {
            if known.contains(&d.origin.file) {
                d.origin.file = std::sync::Arc::from(known.mask(&d.origin.file).as_ref());
            }
        }
    }
    timer.lap("guards");

    let meta_patches: Vec<crate::output::meta::PatchStat> = patch_stats
        .iter()
        .map(|s| crate::output::meta::PatchStat {
            name: s.name.clone(),
            matched: s.matched,
            changed: s.changed,
            skipped: s.skipped.is_some(),
            skip_reason: s.skipped.clone(),
        })
        .collect();
    let meta = MetaInput {
        opendesk_version: cfg.opendesk_version.clone(),
        instance: cfg.instance.clone(),
        input_digest: input.digest.clone(),
        patches: meta_patches,
        findings: findings.clone(),
        guards: guards.clone(),
        eso_converted: eso.report.converted.len(),
        redactions: masked,
        module: module_meta.clone(),
        ..MetaInput::default()
    };

    let mut summary = Summary {
        documents_in,
        documents_out: docs.len(),
        input_bytes: input.bytes,
        patches_applied: patch_stats.iter().filter(|s| s.changed > 0).count(),
        patches_skipped: patch_stats.iter().filter(|s| s.skipped.is_some()).count(),
        patches_dead: patch_stats.iter().filter(|s| s.skipped.is_none() && s.matched == 0).count(),
        eso_converted: eso.report.converted.len(),
        redactions: masked,
        ..Summary::default()
    };
    let mut report = Report {
        status: "ok",
        exit_code: 0,
        renderer_version: meta.renderer_version.clone(),
        opendesk_version: cfg.opendesk_version.clone(),
        instance: cfg.instance.clone(),
        input_digest: input.digest,
        patches: patch_stats,
        guards,
        module: module_meta,
        ..Report::default()
    };

    let failed = report.guards.iter().any(|g| !g.passed) || findings.iter().any(|f| f.severity == Severity::Error);
    if failed {
        report.status = "failed";
        report.exit_code = 1;
        summary.findings = count(&findings);
        report.findings = findings;
        report.summary = summary;
        timer.lap("output");
        report.timings = timer.out;
        return Err(RenderError::Failed(Box::new(report), Box::new(docs)));
    }

    req.stage("output")?;
    let tree = build_tree(cfg, &docs, req.graph, &meta, &req.app_options)?;
    findings.extend(tree.findings.iter().cloned());
    timer.lap("output");
    summary.releases = tree.releases.len();
    summary.findings = count(&findings);
    report.findings = findings;
    report.summary = summary;
    report.releases = tree.releases.clone();
    report.output_digest = tree.output_digest.clone();
    report.timings = timer.out;
    Ok(Rendered { report, tree, documents: docs, secrets: eso.payload })
}

fn count(f: &[Finding]) -> BTreeMap<Severity, usize> {
    let mut m = BTreeMap::new();
    for x in f {
        *m.entry(x.severity).or_insert(0) += 1;
    }
    m
}

fn required_guard(run: &PatchRun) -> GuardResult {
    let dead = run.required_unmatched();
    if dead.is_empty() {
        GuardResult { name: "required-patch".into(), passed: true, message: None }
    } else {
        let names: Vec<String> = dead.iter().map(|s| format!("{} ({})", s.name, s.file)).collect();
        GuardResult {
            name: "required-patch".into(),
            passed: false,
            message: Some(format!(
                "required patch(es) matched no document: {}. The chart changed shape or the release is missing: update the patch's select, or narrow its appliesTo",
                names.join(", ")
            )),
        }
    }
}
