//! The library session behind `render`, `explain`, `diff` and `patches matrix`: loading inputs
//! ([`prepare`]), running the pipeline ([`run_with`], [`run_checked`]), writing results
//! ([`write_rendered`], [`render_to`]) and the data `explain`/`diff`/`matrix` show
//! ([`explain_entries`], [`load_tree`], [`matrix_of`]). What a Rust caller or a binding uses; it
//! prints nothing (the CLI's printing is [`crate::render_cmd`]).

use opendesk_render::config::InstanceConfig;
use opendesk_render::document::Document;
use opendesk_render::fsio;
use opendesk_render::limits::INPUT_FILE;
use opendesk_render::load::{load_dir_only, parse_text};
use opendesk_render::output::graph::ReleaseGraph;
use opendesk_render::patch::PatchSet;
use opendesk_render::pipeline::{render as run_pipeline, ProgressFn, RenderError, RenderRequest, Rendered};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Inputs shared by `render` and `explain`.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Instance config file (default: the bundled example's).
    pub config: Option<PathBuf>,
    /// Patch dir (default: built in).
    pub patches: Option<PathBuf>,
    /// No patches at all.
    pub no_patches: bool,
    /// Release graph file.
    pub release_graph: Option<PathBuf>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Config given as text (YAML or JSON) instead of a file (bindings).
    pub config_text: Option<String>,
    /// A module render (`--module`, `--base`, `--no-base`, `--allow-secret-removal`).
    pub module: ModuleArgs,
    /// The previous secret payload (`--previous-secrets`): values that changed are reported
    /// (`secrets/value-changed`, names only).
    pub previous_secrets: Option<PathBuf>,
    /// `secrets/value-changed` is an error instead of a warning (`--strict-secrets`).
    pub strict_secrets: bool,
    /// Render without a destination for the secret payload (`--discard-secret-values`): an
    /// explicit dry run. Without it (and without `secrets_out`), a render that converted
    /// Secrets fails with exit 2 before anything is written ([`require_payload_destination`]).
    pub discard_secret_values: bool,
}

/// The module-render options of [`Inputs`] (docs/output-and-push.md#modules). Empty `keys` =
/// a full render; then the other fields must be unset.
#[derive(Debug, Clone, Default)]
pub struct ModuleArgs {
    /// Module keys of the release graph's `modules:` (repeatable `--module`).
    pub keys: Vec<String>,
    /// The full render's output tree to check ExternalSecrets against (`--base`).
    pub base: Option<PathBuf>,
    /// Skip the secret-skew guard explicitly (`--no-base`).
    pub no_base: bool,
    /// A Secret of the base the module no longer renders is a warning (`--allow-secret-removal`).
    pub allow_secret_removal: bool,
}

impl ModuleArgs {
    /// Check the flags' combination and resolve the scope against `graph`; loads the base.
    /// `None` for a full render.
    pub fn resolve(
        &self,
        graph: Option<&ReleaseGraph>,
        config: &InstanceConfig,
    ) -> Result<Option<opendesk_render::module::ModuleRequest>, opendesk_render::module::ModuleError> {
        use opendesk_render::module::{BaseTree, ModuleError, ModuleRequest, ModuleScope};
        if self.keys.is_empty() {
            let given = [
                (self.base.is_some(), "--base"),
                (self.no_base, "--no-base"),
                (self.allow_secret_removal, "--allow-secret-removal"),
            ];
            return match given.iter().find(|(g, _)| *g) {
                Some((_, flag)) => Err(ModuleError::NotAModuleRender(flag)),
                None => Ok(None),
            };
        }
        let scope = ModuleScope::resolve(graph, &self.keys)?;
        let base = match (&self.base, self.no_base) {
            (Some(_), true) => return Err(ModuleError::BaseAndNoBase),
            (None, false) => return Err(ModuleError::NoBase),
            (None, true) => None,
            (Some(dir), false) => {
                let b = BaseTree::load(dir, &scope)?;
                if !b.instance.is_empty() && b.instance != config.instance {
                    return Err(ModuleError::BadBase {
                        dir: dir.display().to_string(),
                        why: format!(
                            "it renders instance {:?}, this config instance {:?}",
                            b.instance, config.instance
                        ),
                    });
                }
                Some(b)
            }
        };
        Ok(Some(ModuleRequest { scope, base, allow_secret_removal: self.allow_secret_removal }))
    }
}

mod error;

pub use error::{FailureKind, Known, RenderFailure, TreeError, UsageError, UsageKind};
use opendesk_render::error::Located;
/// Where an error points, from the typed error (never parsed back out of its message): the
/// library's one position type.
pub use opendesk_render::error::Location;

/// The offending line with a caret, as text.
pub fn snippet(file: &Path, line: usize, col: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    // Only a file the render already read (it points into it), and as boundedly.
    let text = fsio::read_regular_string_max(file, INPUT_FILE).ok()?;
    // Values of a Secret document or of the config's `redact:` block show as `***`.
    let shown = opendesk_render::scrub::shown_line(&text, line)?;
    let w = line.to_string().len();
    Some(format!("{:w$} |\n{line} | {shown}\n{:w$} | {}^", "", "", " ".repeat(col.saturating_sub(1).min(200))))
}

/// Everything a render needs, loaded.
pub struct Prepared {
    /// Config.
    pub config: InstanceConfig,
    /// Patches.
    pub patches: Option<PatchSet>,
    /// Graph.
    pub graph: Option<ReleaseGraph>,
    /// Loaded input.
    pub input: opendesk_render::load::LoadedInput,
    /// Time spent loading (ms).
    pub load_ms: f64,
    /// A module render's scope and base (`None` = full render).
    pub module: Option<opendesk_render::module::ModuleRequest>,
    /// The previous secret payload: (file, text, strict).
    pub previous_secrets: Option<(PathBuf, String, bool)>,
}

/// Most worker threads `--threads` accepts.
pub const MAX_THREADS: usize = 512;

/// `--threads` within 1..=[`MAX_THREADS`].
pub fn check_threads(threads: Option<usize>) -> Result<(), UsageError> {
    match threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => Err(UsageKind::Threads(n).into()),
        _ => Ok(()),
    }
}

/// Load config, patches, graph and input (the bundled example when `input` is `None`).
///
/// A given input dir needs a config (`--config` or `config_text`): the bundled example's config
/// only fits the bundled example (its repoURL and keyPrefix are placeholders).
pub fn prepare(input: Option<&Path>, a: &Inputs) -> Result<Prepared, UsageError> {
    check_threads(a.threads)?;
    let config = match (&a.config, &a.config_text) {
        (_, Some(text)) => InstanceConfig::parse(Path::new("<config>"), text).map_err(|e| {
            let at = Location::new("<config>", e.line, e.col);
            UsageError::at(UsageKind::Config(e), at)
        })?,
        (Some(p), None) => InstanceConfig::load(p).map_err(|e| {
            let at = Location::new(&e.file, e.line, e.col);
            UsageError::with_snippet(UsageKind::ConfigFile(e), Some(at))
        })?,
        (None, None) => {
            let text = crate::example::instance_config().ok_or(UsageKind::NoBundledConfig)?;
            InstanceConfig::parse(Path::new("<bundled examples/instance.yaml>"), text).map_err(UsageKind::Config)?
        }
    };
    // A module render needs its graph and base first: the loader reads only its folders.
    let load_graph = || -> Result<Option<ReleaseGraph>, UsageError> {
        Ok(match (&a.release_graph, input) {
            (Some(p), _) => Some(ReleaseGraph::load(p).map_err(|e| {
                let (l, c) = e.issues.first().map_or((0, 0), |i| (i.pos.line, i.pos.col));
                let at = Location::new(&e.file, l, c);
                UsageError::with_snippet(UsageKind::Graph(e), Some(at))
            })?),
            (None, None) => match crate::example::release_graph() {
                Some(t) => Some(
                    ReleaseGraph::parse(Path::new("<bundled examples/release-graph.yaml>"), t)
                        .map_err(UsageKind::Graph)?,
                ),
                None => None,
            },
            (None, Some(_)) => None,
        })
    };
    let early_graph = if a.module.keys.is_empty() { None } else { Some(load_graph()?) };
    let module = match &early_graph {
        Some(g) => a.module.resolve(g.as_ref(), &config).map_err(UsageKind::Module)?,
        None => a.module.resolve(None, &config).map_err(UsageKind::Module)?,
    };
    let scope = module.as_ref().map(|m| &m.scope);
    let keep = |r: &str| scope.is_some_and(|s| s.covers(r));
    let only: Option<opendesk_render::load::ReleaseFilter<'_>> = scope.map(|_| &keep as _);
    // The patch set is compiled (a few ms of JSONPath parsing) beside the input load; errors
    // keep their order: patches, release graph, input.
    let t0 = Instant::now();
    let load_patches = || -> Result<Option<PatchSet>, UsageError> {
        if a.no_patches {
            return Ok(None);
        }
        Ok(Some(match &a.patches {
            Some(dir) => PatchSet::from_dir(&opendesk_patches::patches_dir(dir)).map_err(|e| {
                let at = Location::new(&e.file, e.line, e.col);
                UsageError::with_snippet(UsageKind::Patches(e), Some(at))
            })?,
            None => opendesk_patches::default_set().map_err(UsageKind::Patches)?,
        }))
    };
    let load_input = || -> Result<opendesk_render::load::LoadedInput, UsageError> {
        let example = match input {
            Some(_) => None,
            None => Some(crate::example::materialize().map_err(UsageKind::Example)?),
        };
        let dir = input.or(example.as_ref().map(|m| m.dir.as_path())).expect("an input or the example");
        load_dir_only(dir, only).map_err(|e| {
            let at = e.location();
            UsageError::with_snippet(UsageKind::Load(e), at)
        })
    };
    let (patches, loaded) = in_pool(a.threads, || rayon::join(load_patches, load_input));
    let patches = patches?;
    let graph = match early_graph {
        Some(g) => g,
        None => load_graph()?,
    };
    let loaded = loaded?;
    // Checked after the input is loaded, so a broken input is reported first.
    if let (Some(dir), None, None) = (input, &a.config, &a.config_text) {
        return Err(UsageKind::MissingConfig(dir.to_path_buf()).into());
    }
    if loaded.documents.is_empty() {
        let dir = input.map_or_else(|| "the bundled example".to_string(), |d| d.display().to_string());
        return Err(UsageKind::EmptyInput { dir, files: loaded.files.len() }.into());
    }
    let load_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let previous_secrets = match &a.previous_secrets {
        Some(p) => Some((
            p.clone(),
            fsio::read_regular_string_max(p, INPUT_FILE)
                .map_err(|source| UsageKind::PreviousSecrets { path: p.clone(), source })?,
            a.strict_secrets,
        )),
        None => None,
    };
    Ok(Prepared { config, patches, graph, input: loaded, load_ms, module, previous_secrets })
}

fn pool(threads: Option<usize>) -> Option<rayon::ThreadPool> {
    // `prepare` keeps `threads` within 1..=MAX_THREADS; a pool the OS cannot start falls back to
    // the global one (output is the same on any number of threads).
    // More workers than 8 per core gain nothing (the work is CPU-bound; file syncs use their
    // own threads) and each reserves a stack: 512 of them do not fit a 1 GiB address space.
    threads.and_then(|n| {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let n = n.clamp(1, MAX_THREADS).min(8 * cores.max(1));
        rayon::ThreadPoolBuilder::new().num_threads(n).build().ok()
    })
}

/// Run `f` on a pool of `threads` workers (the global pool when `None`): loading and writing
/// honour `--threads` as the pipeline does.
fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    match pool(threads) {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Run the pipeline on prepared inputs.
pub fn run(p: Prepared, threads: Option<usize>) -> Result<Rendered, RenderError> {
    run_with_progress(p, threads, None)
}

/// [`run`], reporting each pipeline stage's start to `progress` (see
/// [`crate::progress::stages`]; the callback may run on a worker thread).
pub fn run_with_progress(
    p: Prepared,
    threads: Option<usize>,
    progress: Option<ProgressFn<'_>>,
) -> Result<Rendered, RenderError> {
    run_with(p, threads, RenderOptions { progress, ..Default::default() })
}

/// What a library caller adds to a render: progress and cancellation.
#[derive(Clone, Copy, Default)]
pub struct RenderOptions<'a> {
    /// Called at the start of each stage of [`crate::progress::STAGES`] (possibly on a
    /// worker thread); `None` = silent.
    pub progress: Option<ProgressFn<'a>>,
    /// Set (from any thread) to stop the render at the next stage boundary: the render then
    /// fails with [`EXIT_CANCELLED`] and writes nothing. Once the write has begun it completes.
    pub cancel: Option<&'a AtomicBool>,
}

impl RenderOptions<'_> {
    /// True when the caller asked to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Acquire))
    }

    fn tick(&self, stage: &'static str) {
        if let Some(p) = self.progress {
            p(stage);
        }
    }
}

/// The status of a render a library caller cancelled ([`RenderOptions::cancel`]); the CLI
/// never returns it.
pub const EXIT_CANCELLED: i32 = opendesk_render::error::ExitCode::Cancelled.code();

/// [`run`] with [`RenderOptions`]: progress per stage, and a cancel flag the pipeline checks
/// at each stage boundary ([`RenderError::Cancelled`]).
pub fn run_with(p: Prepared, threads: Option<usize>, opts: RenderOptions<'_>) -> Result<Rendered, RenderError> {
    let Prepared { config, patches, graph, input, load_ms, module, previous_secrets: _ } = p;
    let req = RenderRequest {
        config: Some(&config),
        patches: patches.as_ref(),
        graph: graph.as_ref(),
        progress: opts.progress,
        cancel: opts.cancel,
        module: module.as_ref(),
        ..Default::default()
    };
    let mut r = in_pool(threads, || run_pipeline(input, &req));
    let load = opendesk_render::pipeline::StageTiming { stage: crate::progress::LOAD, ms: load_ms };
    match &mut r {
        Ok(x) => x.report.timings.insert(0, load),
        Err(RenderError::Failed(rep, _)) => rep.timings.insert(0, load),
        Err(_) => {}
    }
    r
}

/// Render and write: the tree atomically to `out`, the secret payload to `secrets_out`.
/// Nothing is written unless everything succeeded.
pub fn render_to(
    input: Option<&Path>,
    out: &Path,
    secrets_out: Option<&Path>,
    a: &Inputs,
) -> Result<Rendered, RenderFailure> {
    render_to_with_progress(input, out, secrets_out, a, None)
}

/// [`render_to`], reporting the start of each stage in [`crate::progress::stages`] (`load`,
/// the pipeline stages, `write`) to `progress`. The callback may run on a worker thread.
pub fn render_to_with_progress(
    input: Option<&Path>,
    out: &Path,
    secrets_out: Option<&Path>,
    a: &Inputs,
    progress: Option<ProgressFn<'_>>,
) -> Result<Rendered, RenderFailure> {
    check_out(out, input, a).map_err(|e| RenderFailure::new(e.into(), None))?;
    let to = match (secrets_out, a.discard_secret_values) {
        (Some(_), true) => {
            let kind = UsageKind::PayloadTwice { first: "--secrets-out", second: "--discard-secret-values" };
            return Err(RenderFailure::new(UsageError::from(kind).into(), None));
        }
        (Some(_), false) => PayloadTo::Destination,
        (None, true) => PayloadTo::Discard,
        (None, false) => PayloadTo::Nowhere,
    };
    if let Some(so) = secrets_out {
        opendesk_render::output::write::check_secrets_out(out, so)
            .map_err(|e| RenderFailure::new(FailureKind::Write(e), None))?;
    }
    if let Some(p) = progress {
        p(crate::progress::LOAD);
    }
    let prepared = prepare(input, a).map_err(|e| RenderFailure::new(e.into(), Some("load")))?;
    opendesk_render::output::write::check_out_owned(out)
        .map_err(|e| RenderFailure::new(FailureKind::Write(e), None))?;
    let opts = RenderOptions { progress, ..Default::default() };
    let mut rendered = run_checked(prepared, a.threads, opts)?;
    settle_payload(&mut rendered, to, PayloadOptions::CLI)?;
    write_rendered(rendered, out, secrets_out, a.threads, opts)
}

/// What the caller said about the secret payload, for [`settle_payload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadTo {
    /// A payload file or the caller itself takes it (`--secrets-out`, `return_secrets`).
    Destination,
    /// An explicit dry run (`--discard-secret-values`): the values are dropped, and the
    /// report's `summary.secretValuesDiscarded` says how many.
    Discard,
    /// Nothing was said: a render that converted Secrets fails (no silent loss).
    Nowhere,
}

/// How a caller names the payload's destinations, for [`require_payload_destination`]'s message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadOptions {
    /// The option naming a payload file and its argument (`--secrets-out FILE`,
    /// `secrets_out PATH`); its first word is the option's name.
    pub file: Cow<'static, str>,
    /// The other ways out: an explicit dry run, the payload handed back.
    pub otherwise: Cow<'static, str>,
}

impl PayloadOptions {
    /// The CLI's options.
    pub const CLI: PayloadOptions = PayloadOptions {
        file: Cow::Borrowed("--secrets-out FILE"),
        otherwise: Cow::Borrowed("or --discard-secret-values for an explicit dry run that drops them"),
    };

    /// An API's names of its three destinations: the field taking a payload file's path, the
    /// flag handing the payload back to the caller and the dry-run flag (`secrets_out`,
    /// `return_secrets`, `discard_secret_values` in C; `SecretsFile`, `ReturnSecrets`,
    /// `DiscardSecretValues` in Go).
    pub fn api(file: &str, return_secrets: &str, discard: &str) -> Self {
        PayloadOptions {
            file: Cow::Owned(format!("{file} PATH")),
            otherwise: Cow::Owned(format!(
                "{return_secrets} to get them back, or {discard} for an explicit dry run that drops them"
            )),
        }
    }
}

/// Settle where the payload of a render that ran goes, before anything is written:
/// [`PayloadTo::Destination`] keeps it for [`write_rendered`] (or the caller);
/// [`PayloadTo::Discard`] drops its values and records their number in the report
/// (`summary.secretValuesDiscarded`; absent when there was no payload); [`PayloadTo::Nowhere`] is
/// [`require_payload_destination`] (exit 2 when there is a payload, naming `names`).
pub fn settle_payload(rendered: &mut Rendered, to: PayloadTo, names: PayloadOptions) -> Result<(), RenderFailure> {
    match to {
        PayloadTo::Destination => Ok(()),
        PayloadTo::Nowhere => require_payload_destination(rendered, names),
        PayloadTo::Discard => {
            if !rendered.secrets.is_empty() {
                rendered.report.summary.secret_values_discarded = Some(rendered.secrets.value_count());
            }
            // Dropped here: nothing later in this render can write or hand back a value.
            drop(std::mem::take(&mut rendered.secrets));
            Ok(())
        }
    }
}

/// No silent loss: a render that converted Secrets (a non-empty payload) with nowhere for the
/// values to go fails with exit 2 and the message naming the option. Call it only when the
/// caller gave no destination (no payload file, no dry run, not handed back); nothing has been
/// written yet.
pub fn require_payload_destination(rendered: &Rendered, names: PayloadOptions) -> Result<(), RenderFailure> {
    if rendered.secrets.is_empty() {
        return Ok(());
    }
    let kind = FailureKind::NoPayloadDestination {
        secrets: rendered.secrets.entries.len(),
        values: rendered.secrets.value_count(),
        names,
    };
    Err(RenderFailure::new(kind, Some("write")))
}

/// Refuse an `--out` that is not ours to replace (see
/// [`opendesk_render::output::write::check_out_owned`]) or that is, contains or lies inside the
/// input dir, the config, the patch dir or the release graph.
pub fn check_out(out: &Path, input: Option<&Path>, a: &Inputs) -> Result<(), UsageError> {
    use opendesk_render::output::write::{check_out_disjoint, check_out_owned};
    let mut inputs: Vec<(&'static str, &Path)> = Vec::new();
    if let Some(i) = input {
        inputs.push(("input dir", i));
    }
    if let Some(c) = &a.config {
        inputs.push(("config file", c));
    }
    if let (Some(p), false) = (&a.patches, a.no_patches) {
        inputs.push(("patch dir", p));
    }
    if let Some(g) = &a.release_graph {
        inputs.push(("release graph", g));
    }
    check_out_disjoint(out, &inputs).map_err(UsageKind::Out)?;
    Ok(check_out_owned(out).map_err(UsageKind::Out)?)
}

/// Run the pipeline on already prepared inputs (e.g. a config the caller adjusted) and write
/// the results as [`render_to`] does. Reports the pipeline stages and `write` to `progress`.
pub fn render_prepared(
    prepared: Prepared,
    out: &Path,
    secrets_out: Option<&Path>,
    threads: Option<usize>,
    progress: Option<ProgressFn<'_>>,
) -> Result<Rendered, RenderFailure> {
    opendesk_render::output::write::check_out_owned(out)
        .map_err(|e| RenderFailure::new(FailureKind::Write(e), None))?;
    if let Some(so) = secrets_out {
        opendesk_render::output::write::check_secrets_out(out, so)
            .map_err(|e| RenderFailure::new(FailureKind::Write(e), None))?;
    }
    let opts = RenderOptions { progress, ..Default::default() };
    let rendered = run_checked(prepared, threads, opts)?;
    write_rendered(rendered, out, secrets_out, threads, opts)
}

/// The pipeline part of [`render_prepared`]: runs the pipeline with `opts`, adds the
/// `--previous-secrets` findings, and fails with [`EXIT_CANCELLED`] when the caller cancelled
/// before or during it. Writes nothing; [`write_rendered`] does. The caller checks
/// `--secrets-out` against `--out` first (before loading, as [`render_to`] does), once:
/// [`opendesk_render::output::write::check_secrets_out`].
pub fn run_checked(
    prepared: Prepared,
    threads: Option<usize>,
    opts: RenderOptions<'_>,
) -> Result<Rendered, RenderFailure> {
    if opts.cancelled() {
        return Err(RenderFailure::cancelled("patches"));
    }
    // The stage a failure happened in: the last one started.
    let current = std::sync::Mutex::new("patches");
    let track = |stage: &'static str| {
        *current.lock().unwrap_or_else(|p| p.into_inner()) = stage;
        opts.tick(stage);
    };
    let inner = RenderOptions { progress: Some(&track), ..opts };
    let previous = prepared.previous_secrets.clone();
    // Kept for the error path only: a failure's texts are scrubbed with their values.
    let secrets: Vec<opendesk_render::Document> =
        prepared.input.documents.iter().filter(|d| opendesk_render::stages::eso::is_secret(d)).cloned().collect();
    let result = run_with(prepared, threads, inner);
    let stage = *current.lock().unwrap_or_else(|p| p.into_inner());
    let mut rendered = result.map_err(|e| match e {
        RenderError::Cancelled { stage } => RenderFailure::cancelled(stage),
        e => {
            let report = e.report().map(|r| Box::new(r.clone()));
            // The documents a failed render keeps are for `explain`, not for its error.
            let e = match e {
                RenderError::Failed(r, _) => RenderError::Failed(r, Box::default()),
                e => e,
            };
            let known = error::Known(std::sync::Arc::new(opendesk_render::diff::secret_values_in(&[&secrets])));
            RenderFailure { report, known: Some(known), ..RenderFailure::new(FailureKind::Render(e), Some(stage)) }
        }
    })?;
    if let Some((file, text, strict)) = previous {
        // Reported, not written to render-meta: the tree stays a function of the input alone.
        let found = opendesk_render::churn::value_changes(&file, &text, &rendered.secrets, strict)
            .map_err(|e| RenderFailure::new(FailureKind::PreviousSecrets(e), Some(stage)))?;
        let errors = found.iter().filter(|f| f.severity == opendesk_render::report::Severity::Error).count();
        for f in &found {
            *rendered.report.summary.findings.entry(f.severity).or_default() += 1;
        }
        rendered.report.findings.extend(found);
        if errors > 0 {
            let failure = RenderFailure::new(FailureKind::SecretsChanged { errors }, Some(stage));
            rendered.report.status = "failed";
            // The report says the exit code the CLI returns (it said 0 here before).
            rendered.report.exit_code = failure.exit_code();
            return Err(RenderFailure { report: Some(Box::new(std::mem::take(&mut rendered.report))), ..failure });
        }
    }
    if opts.cancelled() {
        return Err(RenderFailure::cancelled("write"));
    }
    Ok(rendered)
}

/// The write part of [`render_prepared`]: the secret payload to `secrets_out` (when given)
/// and the tree atomically to `out`; reports `write` to `opts.progress`. Nothing is written
/// when the caller cancelled before it began.
pub fn write_rendered(
    mut rendered: Rendered,
    out: &Path,
    secrets_out: Option<&Path>,
    threads: Option<usize>,
    opts: RenderOptions<'_>,
) -> Result<Rendered, RenderFailure> {
    let fail = |kind: FailureKind| RenderFailure::new(kind, Some("write"));
    if opts.cancelled() {
        return Err(RenderFailure::cancelled("write"));
    }
    opts.tick("write");
    let t = Instant::now();
    // The secret payload is staged (written and synced beside --secrets-out) before the tree is
    // swapped in and renamed into place after: a --secrets-out that cannot be written fails the
    // render with --out untouched, and a failed tree write leaves the old payload.
    let staged = match secrets_out {
        Some(so) => Some(
            opendesk_render::output::write::stage_secrets_file(
                out,
                so,
                &rendered.secrets.to_secrets_file().into_bytes(),
            )
            .map_err(|e| fail(FailureKind::Write(e)))?,
        ),
        None => None,
    };
    in_pool(threads, || opendesk_render::output::write::write_tree(out, &rendered.tree.files))
        .map_err(|e| fail(FailureKind::Write(e)))?;
    if let Some(s) = staged {
        s.commit().map_err(|e| fail(FailureKind::PayloadCommit(e)))?;
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    rendered.report.timings.push(opendesk_render::pipeline::StageTiming { stage: crate::progress::WRITE, ms });
    Ok(rendered)
}

/// The `explain --json` entries: `{resource, release, file, line, changes}` per document, or only
/// the one whose id (`KIND/NAMESPACE/NAME`) equals `resource` (case-insensitive).
pub fn explain_entries(docs: &[Document], resource: Option<&str>) -> Vec<serde_json::Value> {
    explain_entries_in(docs, resource, None)
}

/// [`explain_entries`], where `resource` may also name a namespaced document without a
/// namespace of its own by the namespace it is deployed to (`namespace`, the instance's):
/// `Deployment/opendesk/x` finds the `Deployment/-/x` that Argo CD deploys into `opendesk`.
pub fn explain_entries_in(
    docs: &[Document],
    resource: Option<&str>,
    namespace: Option<&str>,
) -> Vec<serde_json::Value> {
    let scopes = namespace.map(|_| opendesk_render::stages::Scopes::from_docs(docs));
    // The same matcher as `diff`: a render that failed before the redact stage still holds its
    // Secrets, and a change's detail must not show their values.
    let known = opendesk_render::diff::secret_values_in(&[docs]);
    let mask = |s: &str| opendesk_render::scrub::redact_url_credentials(&known.mask(s)).into_owned();
    let mut shown = Vec::new();
    for d in docs {
        let id = d.id().to_string();
        let effective = match (namespace, &scopes) {
            (Some(ns), Some(sc)) if d.namespace().is_none() && sc.is_namespaced(d.group(), d.kind().unwrap_or("")) => {
                Some(format!("{}/{ns}/{}", d.kind().unwrap_or(""), d.name().unwrap_or("")))
            }
            // The render gave it its release's namespace: its old `-` form still names it.
            _ if assigned_namespace(d) => Some(format!("{}/-/{}", d.kind().unwrap_or(""), d.name().unwrap_or(""))),
            _ => None,
        };
        if resource.is_some_and(|w| {
            !w.eq_ignore_ascii_case(&id) && !effective.as_deref().is_some_and(|e| w.eq_ignore_ascii_case(e))
        }) {
            continue;
        }
        let changes: Vec<opendesk_render::document::Change> = d
            .changes
            .iter()
            .map(|c| opendesk_render::document::Change {
                path: mask(&c.path),
                detail: c.detail.as_deref().map(mask),
                ..c.clone()
            })
            .collect();
        shown.push(serde_json::json!({
            "resource": mask(&id),
            "release": &*d.origin.release,
            "file": &*d.origin.file,
            "line": d.origin.line,
            "changes": changes,
        }));
    }
    shown
}

/// True when the render wrote the document's namespace (it had none of its own).
fn assigned_namespace(d: &Document) -> bool {
    d.changes.iter().any(|c| c.by == opendesk_render::output::argo::ASSIGNED_BY && c.path == "$.metadata.namespace")
}

/// Load an output tree (`releases/<r>/*.yaml`, `applications/*.yaml`) as documents. Regular
/// files only; a symlink is followed only while it stays inside `dir`; each file at most
/// [`INPUT_FILE`], all of them together at most [`opendesk_render::limits::MAX_INPUT_BYTES`].
pub fn load_tree(dir: &Path) -> Result<Vec<Document>, TreeError> {
    if !dir.is_dir() {
        return Err(TreeError::NotADirectory(dir.to_path_buf()));
    }
    let root = fsio::canonical_root(dir)?;
    let mut docs = Vec::new();
    let mut left = INPUT_FILE.bytes;
    let mut add = |release: &str, p: &Path| -> Result<(), TreeError> {
        fsio::follow_inside(&root, p)?;
        // What is left of the tree's budget bounds this read; a file over it alone names
        // the per-file limit.
        let limit = fsio::FileLimit { bytes: left, ..INPUT_FILE };
        let text = match fsio::read_regular_string_max(p, limit) {
            Err(fsio::FileError::TooLarge { bytes, .. }) if bytes <= INPUT_FILE.bytes => {
                return Err(TreeError::TooLarge { dir: dir.to_path_buf(), file: p.to_path_buf() })
            }
            Err(fsio::FileError::TooLarge { path, bytes, .. }) => {
                return Err(fsio::FileError::TooLarge { path, bytes, limit: INPUT_FILE }.into())
            }
            r => r?,
        };
        left -= text.len() as u64;
        let r: Arc<str> = Arc::from(release);
        let f: Arc<str> = Arc::from(p.file_name().and_then(|f| f.to_str()).unwrap_or(""));
        docs.extend(parse_text(&r, &f, p, &text, true)?);
        Ok(())
    };
    let sorted = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(d).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        v.sort();
        v
    };
    for sub in ["releases", "applications"] {
        let p = dir.join(sub);
        fsio::follow_inside(&root, &p)?;
    }
    for rel in sorted(&dir.join("releases")) {
        fsio::follow_inside(&root, &rel)?;
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        for f in sorted(&rel) {
            if f.extension().is_some_and(|e| e == "yaml") {
                add(&name, &f)?;
            }
        }
    }
    for f in sorted(&dir.join("applications")) {
        if f.extension().is_some_and(|e| e == "yaml") {
            add("(applications)", &f)?;
        }
    }
    Ok(docs)
}

/// The upgrade matrix of `prepared`'s patch set over its input (before any stage ran):
/// `versions` (full semver each), or, when empty, every `appliesTo` boundary plus the configured
/// version. Bad input (no patch set, a version that is not semver) is the error's message.
pub fn matrix_of(
    prepared: &Prepared,
    versions: &[String],
) -> Result<opendesk_render::patch::matrix::Matrix, UsageError> {
    use opendesk_render::patch::matrix;
    let Some(set) = &prepared.patches else {
        return Err(UsageKind::NoPatchSet.into());
    };
    let mut vs = Vec::new();
    for v in versions {
        match semver::Version::parse(v.trim()) {
            Ok(v) => vs.push(v),
            Err(source) => return Err(UsageKind::NotSemver { version: v.clone(), source }.into()),
        }
    }
    if vs.is_empty() {
        vs = matrix::default_versions(set, &prepared.config.version());
    }
    let vars = opendesk_render::patch::Vars::from_config(&prepared.config);
    Ok(matrix::matrix(set, &prepared.input.documents, &vs, &vars).map_err(UsageKind::Matrix)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendesk_render::testing::Scratch;

    #[test]
    fn a_payload_file_and_a_dry_run_exclude_each_other_before_anything_runs() {
        let tmp = Scratch::new("session-payload-twice");
        let a = Inputs { discard_secret_values: true, ..Default::default() };
        let f = render_to(None, &tmp.join("out"), Some(&tmp.join("s.json")), &a).unwrap_err();
        assert_eq!((f.exit(), f.stage), (opendesk_render::error::ExitCode::Usage, None));
        assert_eq!(f.message(), "error: give --secrets-out or --discard-secret-values, not both");
        assert_eq!(std::fs::read_dir(&*tmp).unwrap().count(), 0, "nothing written");
    }

    #[test]
    fn a_dry_run_counts_the_values_it_drops_and_keeps_none() {
        let tmp = Scratch::new("session-discard");
        let a = Inputs { discard_secret_values: true, ..Default::default() };
        let r = render_to(None, &tmp.join("out"), None, &a).unwrap();
        assert_eq!(r.report.summary.secret_values_discarded, Some(12), "the bundled example's 12 values");
        assert!(r.secrets.is_empty(), "dropped, not kept");
        let names: Vec<_> = std::fs::read_dir(&*tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["out"]);
    }
}
