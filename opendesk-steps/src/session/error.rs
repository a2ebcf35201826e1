//! The session's errors, typed: one variant per cause, the position they point at
//! ([`Location`]) and the outcome ([`ExitCode`], decided in [`RenderFailure::exit`] and
//! [`UsageError::exit`]). The messages are the CLI's: `error: ` + the [`Display`] text
//! ([`UsageError::message`], [`RenderFailure::message`]).
//!
//! [`Display`]: std::fmt::Display

use opendesk_render::churn::PreviousSecretsError;
use opendesk_render::error::{ExitCode, LoadError, Located, Location};
use opendesk_render::module::ModuleError;
use opendesk_render::output::graph::GraphError;
use opendesk_render::output::write::WriteError;
use opendesk_render::patch::PatchError;
use opendesk_render::pipeline::{RenderError, Report};
use opendesk_render::typed::ConfigError;
use std::path::PathBuf;

use super::{PayloadOptions, MAX_THREADS};

/// What is wrong with a request or its input: one variant per cause. Always exit 2
/// ([`ExitCode::Usage`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageKind {
    /// `--threads` outside 1..=[`MAX_THREADS`].
    #[error("--threads {0}: must be between 1 and {MAX_THREADS}")]
    Threads(usize),
    /// An input dir without an instance config (`--config` or config text): the bundled
    /// example's config fits only the bundled example.
    #[error(
        "{}: an input dir needs --config FILE (the instance config: instance, namespace, argocd, \
         secretsManager); without --config only the bundled example renders\nhint: start from \
         examples/instance.yaml, see docs/config.md",
        .0.display()
    )]
    MissingConfig(PathBuf),
    /// The instance config given as text, or the bundled one, is invalid.
    #[error("{0}")]
    Config(ConfigError),
    /// The instance config file is invalid.
    #[error("{0}\nhint: see examples/instance.yaml and docs/config.md")]
    ConfigFile(ConfigError),
    /// This build bundles no example config.
    #[error("the bundled example config is missing")]
    NoBundledConfig,
    /// The release graph is invalid.
    #[error(transparent)]
    Graph(GraphError),
    /// The module flags do not fit together, or the module scope or base is wrong.
    #[error(transparent)]
    Module(ModuleError),
    /// The patch set (a patch dir or the built-in one) is invalid.
    #[error(transparent)]
    Patches(PatchError),
    /// The bundled example could not be materialized.
    #[error("{0}")]
    Example(std::io::Error),
    /// The input cannot be loaded.
    #[error(transparent)]
    Load(LoadError),
    /// The input holds no Kubernetes document: rendering it would prune the whole instance.
    #[error(
        "{dir}: no Kubernetes document found ({files} YAML files under release folders): refusing to \
         render an empty tree (Argo CD would prune the whole instance). Check the input dir (helmfile \
         template --output-dir)"
    )]
    EmptyInput {
        /// The input dir (or `the bundled example`).
        dir: String,
        /// YAML files read.
        files: usize,
    },
    /// The `--previous-secrets` file cannot be read (not a regular file, over
    /// [`opendesk_render::limits::INPUT_FILE`], an I/O error).
    #[error("{}: --previous-secrets: {}", .path.display(), .source.reason())]
    PreviousSecrets {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: opendesk_render::fsio::FileError,
    },
    /// `--out` is not ours to replace, or overlaps an input.
    #[error(transparent)]
    Out(WriteError),
    /// Two ways of settling the secret payload given at once (a payload file and an
    /// explicit dry run): they exclude each other.
    #[error("give {first} or {second}, not both")]
    PayloadTwice {
        /// The first option, as the caller names it (`--secrets-out`, `secrets_out`).
        first: &'static str,
        /// The second option (`--discard-secret-values`, `discard_secret_values`).
        second: &'static str,
    },
    /// `patches matrix` with `--no-patches`.
    #[error("no patch set (--no-patches): nothing to tabulate")]
    NoPatchSet,
    /// A `--versions` entry that is not a full semver version.
    #[error("--versions: {version:?} is not a full semver version ({source}); e.g. 1.13.1")]
    NotSemver {
        /// The entry as given.
        version: String,
        /// Why it does not parse.
        source: semver::Error,
    },
    /// The upgrade matrix cannot be computed.
    #[error(transparent)]
    Matrix(PatchError),
}

/// Why an output tree (`diff`'s two trees, `plan`'s) cannot be read: always bad input (exit 2
/// for `diff`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The tree is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A file of the tree must not be read: not a regular file, a symlink out of the tree, over
    /// [`opendesk_render::limits::INPUT_FILE`].
    #[error(transparent)]
    File(#[from] opendesk_render::fsio::FileError),
    /// The files of the tree add up to more than [`opendesk_render::limits::MAX_INPUT_BYTES`]
    /// (checked on every read, before the file is read past what is left).
    #[error(
        "{}: more than {} = {} bytes in the files of this tree (at {}); refusing to read it",
        .dir.display(),
        opendesk_render::limits::INPUT_FILE.name,
        opendesk_render::limits::INPUT_FILE.bytes,
        .file.display()
    )]
    TooLarge {
        /// The tree.
        dir: PathBuf,
        /// The file that passed the limit.
        file: PathBuf,
    },
    /// A file of the tree is not valid YAML.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A bad request or input (exit 2): its cause, where it points, and the offending line.
#[derive(Debug)]
pub struct UsageError {
    /// What is wrong (boxed: the causes carry their typed errors).
    pub kind: Box<UsageKind>,
    /// Where it points, when the error knows (from the typed error, never from its message).
    pub at: Option<Location>,
    /// The offending line with a caret (a Secret's values shown as `***`), when it points at one.
    pub snippet: Option<String>,
}

impl UsageError {
    /// An error pointing nowhere.
    pub fn new(kind: UsageKind) -> Self {
        UsageError { kind: Box::new(kind), at: None, snippet: None }
    }

    /// An error pointing at `at`, without a snippet.
    pub fn at(kind: UsageKind, at: Location) -> Self {
        UsageError { kind: Box::new(kind), at: Some(at), snippet: None }
    }

    /// An error pointing at `at` (when known), with the offending line of the file.
    pub fn with_snippet(kind: UsageKind, at: Option<Location>) -> Self {
        let snippet = at.as_ref().and_then(|l| super::snippet(&l.file, l.line, l.col));
        UsageError { kind: Box::new(kind), at, snippet }
    }

    /// Always [`ExitCode::Usage`].
    pub fn exit(&self) -> ExitCode {
        ExitCode::Usage
    }

    /// The message for stderr: `error: ` + the cause, then the snippet.
    pub fn message(&self) -> String {
        format!("error: {self}")
    }

    /// What is wrong without where: the cause's own text, without the position
    /// ([`Located::location`] gives that) and without the snippet. For a caller that names the
    /// place its own way (a binding reporting a key path of the config it was given).
    pub fn reason(&self) -> String {
        self.kind.reason()
    }
}

impl UsageKind {
    /// The cause's text without its position, taken from the typed error (see
    /// [`UsageError::reason`]). Causes without a position are their whole message.
    pub fn reason(&self) -> String {
        match self {
            UsageKind::Config(e) | UsageKind::ConfigFile(e) => e.message.clone(),
            UsageKind::Patches(e) | UsageKind::Matrix(e) => e.message.clone(),
            UsageKind::Load(e) => e.reason(),
            UsageKind::Graph(e) => graph_reason(e),
            other => other.to_string(),
        }
    }
}

/// A release graph error's first problem without its position (the error's location is the
/// first problem's); further problems keep theirs, one per line.
fn graph_reason(e: &GraphError) -> String {
    let Some((first, rest)) = e.issues.split_first() else { return e.to_string() };
    let mut text = first.problem.to_string();
    for i in rest {
        let at = Location::new(&e.file, i.pos.line, i.pos.col);
        text.push_str(&format!("\n{at}: {}", i.problem));
    }
    text
}

/// A pipeline error's text without its position (see [`UsageError::reason`]).
fn render_reason(e: &RenderError) -> String {
    match e {
        RenderError::Load(e) => e.reason(),
        RenderError::Patch(e) => e.message.clone(),
        RenderError::Output(opendesk_render::output::OutputError::Graph(g)) => graph_reason(g),
        other => other.to_string(),
    }
}

impl From<UsageKind> for UsageError {
    fn from(kind: UsageKind) -> Self {
        UsageError::new(kind)
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(s) = &self.snippet {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UsageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.kind)
    }
}

impl Located for UsageError {
    fn location(&self) -> Option<Location> {
        self.at.clone()
    }
}

/// Why a render wrote nothing (or, for [`FailureKind::PayloadCommit`], only the tree): one
/// variant per cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FailureKind {
    /// A bad request or input, found before the pipeline ran.
    #[error(transparent)]
    Usage(UsageError),
    /// `--out` or `--secrets-out` refused, or writing them failed (nothing replaced).
    #[error(transparent)]
    Write(WriteError),
    /// The tree was written, but the staged payload could not be renamed into place.
    #[error("{0} (the output tree was written)")]
    PayloadCommit(WriteError),
    /// The pipeline failed: bad input a stage found, or a failed guard or lint.
    #[error(transparent)]
    Render(RenderError),
    /// The caller cancelled ([`crate::session::RenderOptions::cancel`]).
    #[error("the render was cancelled (before {stage}); nothing was written")]
    Cancelled {
        /// The stage that would have run next.
        stage: &'static str,
    },
    /// The `--previous-secrets` file is not a secret payload.
    #[error(transparent)]
    PreviousSecrets(PreviousSecretsError),
    /// `--strict-secrets`: values changed since `--previous-secrets`.
    #[error(
        "{errors} Secret(s) changed values since --previous-secrets (--strict-secrets); pin the chart's \
         random values or drop --strict-secrets"
    )]
    SecretsChanged {
        /// Secrets whose values changed.
        errors: usize,
    },
    /// The render produced a secret payload and the caller gave it nowhere to go.
    #[error("{}", no_destination(*.secrets, *.values, .names))]
    NoPayloadDestination {
        /// Secrets converted.
        secrets: usize,
        /// Values in the payload.
        values: usize,
        /// How the caller names the destinations.
        names: PayloadOptions,
    },
}

fn no_destination(secrets: usize, values: usize, names: &PayloadOptions) -> String {
    format!(
        "{secrets} Secret(s) were converted to ExternalSecrets ({values} value(s) for the secrets manager) but \
         {} is missing: the values would be lost and the apps would fail at start. Give {} (outside the \
         output dir, mode 0600), {}. Nothing was written",
        names.file.split(' ').next().unwrap_or(&names.file),
        names.file,
        names.otherwise
    )
}

impl FailureKind {
    /// The outcome, decided here once for the session: [`ExitCode::Failed`] for failed guards,
    /// lint or `--strict-secrets`, [`ExitCode::Cancelled`] when the caller cancelled, else
    /// [`ExitCode::Usage`].
    pub fn exit(&self) -> ExitCode {
        match self {
            FailureKind::Render(e) => e.exit(),
            FailureKind::Cancelled { .. } => ExitCode::Cancelled,
            FailureKind::SecretsChanged { .. } => ExitCode::Failed,
            FailureKind::Usage(e) => e.exit(),
            FailureKind::Write(_)
            | FailureKind::PayloadCommit(_)
            | FailureKind::PreviousSecrets(_)
            | FailureKind::NoPayloadDestination { .. } => ExitCode::Usage,
        }
    }
}

/// Why `render_to` wrote nothing: the cause, the report when the pipeline ran, and the stage.
/// Its `Debug` is scrubbed like its messages (a `{:?}` or an `unwrap` prints no Secret value).
pub struct RenderFailure {
    /// What went wrong (boxed: the causes carry their typed errors).
    pub kind: Box<FailureKind>,
    /// The report, when the pipeline ran.
    pub report: Option<Box<Report>>,
    /// The stage it failed in (of [`crate::progress::STAGES`]); `None` before `load`.
    pub stage: Option<&'static str>,
    /// The values of the input's Secrets, masked in every text of this failure: an error
    /// raised before the redact stage (a patch, an override, dedup, ESO) can quote a resource
    /// name or a value that holds one.
    pub known: Option<Known>,
}

/// The Secret values a [`RenderFailure`]'s texts are scrubbed with (its `Debug` shows none).
#[derive(Clone)]
pub struct Known(pub std::sync::Arc<opendesk_render::stages::redact::KnownSecrets>);

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Known(..)")
    }
}

impl RenderFailure {
    /// A failure in `stage` without a report.
    pub fn new(kind: FailureKind, stage: Option<&'static str>) -> Self {
        RenderFailure { kind: Box::new(kind), report: None, stage, known: None }
    }

    /// The caller cancelled before `stage`.
    pub fn cancelled(stage: &'static str) -> Self {
        Self::new(FailureKind::Cancelled { stage }, Some(stage))
    }

    /// The outcome ([`FailureKind::exit`]).
    pub fn exit(&self) -> ExitCode {
        self.kind.exit()
    }

    /// [`RenderFailure::exit`] as a number: 1 guard/lint, 2 bad input/usage/I-O, 4 cancelled.
    pub fn exit_code(&self) -> i32 {
        self.exit().code()
    }

    /// The message for stderr: `error: ` + the cause (file:line:col and snippet where known).
    pub fn message(&self) -> String {
        self.scrubbed(format!("error: {}", self.kind))
    }

    /// `text` with every known Secret value masked ([`RenderFailure::known`]).
    fn scrubbed(&self, text: String) -> String {
        match self.known.as_ref().map(|k| k.0.mask(&text)) {
            Some(std::borrow::Cow::Owned(m)) => m,
            _ => text,
        }
    }

    /// What went wrong without where (the position is [`Located::location`]): the cause's own
    /// text from the typed error, as [`UsageError::reason`].
    pub fn reason(&self) -> String {
        let text = match &*self.kind {
            FailureKind::Usage(e) => e.reason(),
            FailureKind::Render(e) => render_reason(e),
            other => other.to_string(),
        };
        self.scrubbed(text)
    }

    /// Where the error points, from the typed error, when it names a position.
    pub fn at(&self) -> Option<Location> {
        self.location()
    }
}

impl std::fmt::Debug for RenderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.scrubbed(format!("{:?}", self.kind));
        f.debug_struct("RenderFailure")
            .field("kind", &format_args!("{kind}"))
            .field("report", &self.report.as_ref().map(|_| "..").unwrap_or("None"))
            .field("stage", &self.stage)
            .finish()
    }
}

impl std::fmt::Display for RenderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.known {
            None => self.kind.fmt(f),
            Some(_) => f.write_str(&self.scrubbed(self.kind.to_string())),
        }
    }
}

impl std::error::Error for RenderFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.kind)
    }
}

impl Located for RenderFailure {
    fn location(&self) -> Option<Location> {
        match &*self.kind {
            FailureKind::Usage(e) => e.location(),
            FailureKind::Render(e) => e.location(),
            _ => None,
        }
    }
}

impl From<UsageError> for FailureKind {
    fn from(e: UsageError) -> Self {
        FailureKind::Usage(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendesk_render::patch::PatchError;

    #[test]
    fn a_failure_never_prints_a_known_secret_value() {
        let p = PatchError {
            file: "<config>".into(),
            line: 9,
            col: 1,
            message: "override of ConfigMap/apps/cm-Xq7PzK2mWv9LtR4s: no such resource".into(),
        };
        let known = opendesk_render::stages::redact::KnownSecrets::from_values(["Xq7PzK2mWv9LtR4s"]);
        let f = RenderFailure {
            known: Some(Known(std::sync::Arc::new(known))),
            ..RenderFailure::new(FailureKind::Render(RenderError::Patch(p)), Some("overrides"))
        };
        for text in [f.message(), f.reason(), f.to_string(), format!("{f:?}")] {
            assert!(!text.contains("Xq7PzK2mWv9LtR4s"), "{text}");
        }
        assert!(f.message().starts_with("error: <config>:9:1: override of ConfigMap/apps/cm-"), "{}", f.message());
    }

    #[test]
    fn the_reason_is_the_cause_without_its_position() {
        let e = ConfigError { file: "<config>".into(), line: 3, col: 5, message: "unknown field `x`".into() };
        let u = UsageError::at(UsageKind::Config(e), Location::new("<config>", 3, 5));
        assert_eq!(u.message(), "error: <config>:3:5: unknown field `x`");
        assert_eq!(u.reason(), "unknown field `x`");
        assert_eq!(u.location(), Some(Location::new("<config>", 3, 5)));

        let p = PatchError { file: "<config>".into(), line: 9, col: 1, message: "patch \"x\": bad".into() };
        let f = RenderFailure::new(FailureKind::Render(RenderError::Patch(p)), Some("overrides"));
        assert_eq!(f.message(), "error: <config>:9:1: patch \"x\": bad");
        assert_eq!(f.reason(), "patch \"x\": bad");

        let syntax = LoadError::Syntax { file: "a.yaml".into(), line: 2, col: 1, reason: "duplicate key".into() };
        let f = RenderFailure::new(UsageError::new(UsageKind::Load(syntax)).into(), Some("load"));
        assert_eq!(f.reason(), "duplicate key");

        // A cause without a position is its whole text.
        let f = RenderFailure::new(UsageError::new(UsageKind::Threads(0)).into(), None);
        assert_eq!(f.reason(), f.to_string());
        let t = UsageKind::PayloadTwice { first: "--secrets-out", second: "--discard-secret-values" };
        assert_eq!(UsageError::new(t).reason(), "give --secrets-out or --discard-secret-values, not both");
    }
}
