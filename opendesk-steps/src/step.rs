//! The step abstraction the deployer drives: a name, a `run`, and progress events through a
//! callback (the CLI draws a progress bar from them, the C ABI forwards them as JSON).

use opendesk_render::error::ExitCode;
use opendesk_render::fsio::FileError;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// How important a progress event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something went sideways but the step carries on (e.g. a push retry).
    Warning,
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressEvent {
    /// The step's name.
    pub step: &'static str,
    /// A stable, machine-readable phase (`start`, `fetch`, `commit`, `push`, `retry`, `done`,
    /// ...; each step documents its phases).
    pub phase: &'static str,
    /// Info or warning.
    pub level: Level,
    /// Human message (never a secret value).
    pub message: String,
}

impl fmt::Display for ProgressEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.step, self.phase, self.message)
    }
}

/// What kind of failure; maps to the CLI exit codes (DESIGN §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StepErrorKind {
    /// Bad input, config or usage: exit 2.
    BadInput,
    /// The step ran and failed (e.g. git refused the push): exit 1.
    Failed,
}

/// What went wrong in a step, typed where a type exists.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepDetail {
    /// A message (what went wrong and, where that helps, what to do).
    #[error("{0}")]
    Message(String),
    /// A file the step could not read (type, size, symlink, I/O), then `hint` (may be empty):
    /// the [`FileError`] is kept, not flattened into the text.
    #[error("{source}{hint}")]
    File {
        /// The file error (shared: a step error is cloned into events and bindings).
        #[source]
        source: Arc<FileError>,
        /// Text after the file error's own (`" (is out a rendered tree?)"`), or empty.
        hint: String,
    },
    /// An output tree the step could not read ([`crate::session::load_tree`]).
    #[error(transparent)]
    Tree(Arc<crate::session::TreeError>),
    /// The session refused the render's inputs ([`crate::session::prepare`], `--out`, the
    /// upgrade matrix): its typed error, with its position.
    #[error(transparent)]
    Usage(Arc<crate::session::UsageError>),
    /// The render ran and failed, or could not write ([`crate::session::render_prepared`]).
    #[error(transparent)]
    Render(Arc<crate::session::RenderFailure>),
}

/// A step failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{step}: {detail}")]
pub struct StepError {
    /// The step's name.
    pub step: &'static str,
    /// The kind.
    pub kind: StepErrorKind,
    /// What went wrong; its text is the message after `step: `.
    #[source]
    pub detail: StepDetail,
}

impl StepError {
    /// A bad-input error.
    pub fn bad_input(step: &'static str, message: impl Into<String>) -> Self {
        StepError { step, kind: StepErrorKind::BadInput, detail: StepDetail::Message(message.into()) }
    }

    /// A run-time failure.
    pub fn failed(step: &'static str, message: impl Into<String>) -> Self {
        StepError { step, kind: StepErrorKind::Failed, detail: StepDetail::Message(message.into()) }
    }

    /// A file the step could not read, as `kind`, with `hint` after the file error's text.
    pub fn file(step: &'static str, kind: StepErrorKind, source: FileError, hint: impl Into<String>) -> Self {
        StepError { step, kind, detail: StepDetail::File { source: Arc::new(source), hint: hint.into() } }
    }

    /// The message after `step: ` (the detail's text).
    pub fn message(&self) -> String {
        self.detail.to_string()
    }

    /// An output tree that could not be read, as `kind`.
    pub fn tree(step: &'static str, kind: StepErrorKind, source: crate::session::TreeError) -> Self {
        StepError { step, kind, detail: StepDetail::Tree(Arc::new(source)) }
    }

    /// The file error this step error carries, if it is one (also inside a tree error).
    pub fn file_error(&self) -> Option<&FileError> {
        match &self.detail {
            StepDetail::File { source, .. } => Some(source),
            StepDetail::Tree(t) => match &**t {
                crate::session::TreeError::File(f) => Some(f),
                _ => None,
            },
            StepDetail::Message(_) | StepDetail::Usage(_) | StepDetail::Render(_) => None,
        }
    }

    /// The session's refusal of the inputs (bad input, exit 2).
    pub fn usage(step: &'static str, source: crate::session::UsageError) -> Self {
        StepError { step, kind: StepErrorKind::BadInput, detail: StepDetail::Usage(Arc::new(source)) }
    }

    /// A render that failed: a failure (exit 1) or bad input (exit 2) as the failure's exit says.
    pub fn render(step: &'static str, source: crate::session::RenderFailure) -> Self {
        let kind = if source.exit() == ExitCode::Failed { StepErrorKind::Failed } else { StepErrorKind::BadInput };
        StepError { step, kind, detail: StepDetail::Render(Arc::new(source)) }
    }

    /// The outcome: [`ExitCode::Usage`] for bad input, [`ExitCode::Failed`] for a failure.
    pub fn exit(&self) -> ExitCode {
        match self.kind {
            StepErrorKind::BadInput => ExitCode::Usage,
            StepErrorKind::Failed => ExitCode::Failed,
        }
    }

    /// [`StepError::exit`] as the CLI's exit code: 2 for bad input, 1 for a failure.
    pub fn exit_code(&self) -> i32 {
        self.exit().code()
    }
}

/// A unit of work the deployer runs.
pub trait Step {
    /// What a successful run returns.
    type Output;

    /// A stable name (`render-manifests`, `push-rendered-manifests`).
    fn name(&self) -> &'static str;

    /// Run the step, reporting progress through `progress` (called on the calling thread).
    fn run(&self, progress: &mut dyn FnMut(&ProgressEvent)) -> Result<Self::Output, StepError>;
}

/// Helper that stamps events with a step name.
pub struct Reporter<'a> {
    step: &'static str,
    sink: &'a mut dyn FnMut(&ProgressEvent),
}

impl<'a> Reporter<'a> {
    /// Wrap a callback.
    pub fn new(step: &'static str, sink: &'a mut dyn FnMut(&ProgressEvent)) -> Self {
        Reporter { step, sink }
    }

    /// Send an info event.
    pub fn info(&mut self, phase: &'static str, message: impl Into<String>) {
        (self.sink)(&ProgressEvent { step: self.step, phase, level: Level::Info, message: message.into() });
    }

    /// Send a warning event.
    pub fn warn(&mut self, phase: &'static str, message: impl Into<String>) {
        (self.sink)(&ProgressEvent { step: self.step, phase, level: Level::Warning, message: message.into() });
    }

    /// Pass on an event of a step this one runs, as it is (with that step's name).
    pub fn forward(&mut self, e: &ProgressEvent) {
        (self.sink)(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Step for Echo {
        type Output = usize;
        fn name(&self) -> &'static str {
            "echo"
        }
        fn run(&self, progress: &mut dyn FnMut(&ProgressEvent)) -> Result<usize, StepError> {
            let mut r = Reporter::new(self.name(), progress);
            r.info("start", "hello");
            r.warn("done", "bye");
            Ok(2)
        }
    }

    #[test]
    fn events_and_errors() {
        let mut seen = Vec::new();
        assert_eq!(Echo.run(&mut |e| seen.push(e.clone())).unwrap(), 2);
        assert_eq!(seen[0].to_string(), "[echo] start: hello");
        assert_eq!(seen[1].level, Level::Warning);
        assert_eq!(
            serde_json::to_string(&seen[1]).unwrap(),
            r#"{"step":"echo","phase":"done","level":"warning","message":"bye"}"#
        );
        assert_eq!(StepError::bad_input("x", "m").exit_code(), 2);
        assert_eq!(StepError::failed("x", "m").exit_code(), 1);
        assert_eq!(StepError::failed("x", "m").to_string(), "x: m");
        // A file error keeps its type and its text.
        let fe = opendesk_render::fsio::read_regular_max(
            std::path::Path::new("/nonexistent/odr-step"),
            opendesk_render::limits::CONFIG_FILE,
        )
        .unwrap_err();
        let text = fe.to_string();
        let e = StepError::file("x", StepErrorKind::BadInput, fe, " (hint)");
        assert_eq!(e.to_string(), format!("x: {text} (hint)"));
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.file_error().map(|f| f.path().to_path_buf()), Some("/nonexistent/odr-step".into()));
        let src = std::error::Error::source(&e).and_then(std::error::Error::source);
        // A tree error keeps its file error too.
        let fe = opendesk_render::fsio::read_regular_max(
            std::path::Path::new("/nonexistent/odr-tree"),
            opendesk_render::limits::CONFIG_FILE,
        )
        .unwrap_err();
        let text = fe.to_string();
        let t = StepError::tree("x", StepErrorKind::BadInput, crate::session::TreeError::File(fe));
        assert_eq!(t.to_string(), format!("x: {text}"));
        assert_eq!(t.file_error().map(|f| f.path().to_path_buf()), Some("/nonexistent/odr-tree".into()));
        // The chain reaches the file error itself (shared in an `Arc`).
        assert!(src.is_some_and(|s| s.is::<Arc<FileError>>()), "{e:?}");
    }
}
