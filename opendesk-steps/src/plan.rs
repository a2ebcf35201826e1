//! `PlanRenderedManifests`: what a push would change. Fetches the branch head with the same
//! hardened git handling as push ([`crate::gitsafe`]: a fresh private work dir, hooks,
//! fsmonitor, `ext::` and symlinks off, a symlink on or inside the path refused, a time limit,
//! URLs redacted), loads the instance subtree there and diffs it against the rendered tree with
//! the one diff engine ([`opendesk_render::diff`]) that `diff OLD NEW` uses. Nothing is
//! committed or pushed; `opendesk-render plan` and `push --dry-run` run this step.
//!
//! Progress phases: `start`, `fetch`, `compare`, `done`.

use crate::gitsafe::{self, Workspace};
use crate::step::{ProgressEvent, Reporter, Step, StepError};
use opendesk_render::diff::DiffReport;
use serde::Serialize;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

const STEP: &str = "plan-rendered-manifests";

/// The plan step. Build with [`PlanRenderedManifests::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct PlanRenderedManifests {
    /// The rendered tree (holding `render-meta.yaml`).
    pub out_dir: PathBuf,
    /// Git URL of the instance repository.
    pub repo: String,
    /// Branch (default `main`); a missing branch plans against an empty tree.
    pub branch: String,
    /// Folder inside the repository that the tree would replace (empty: the repository root,
    /// allowed here because a plan only reads).
    pub path: String,
    /// Folder in which the private work dir is created (default: the temp dir).
    pub work_parent: Option<PathBuf>,
    /// The git binary (default `git`).
    pub git: PathBuf,
    /// Extra environment for every git command.
    pub env: Vec<(OsString, OsString)>,
    /// Time limit of every git command (default 300 s).
    pub timeout: Duration,
}

/// What a plan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOutcome {
    /// The repository, credentials redacted.
    pub repo: String,
    /// The branch.
    pub branch: String,
    /// The path inside the repository.
    pub path: String,
    /// The branch head compared against (`None`: the remote has no such branch yet).
    pub base: Option<String>,
    /// The diff: branch head (old) → rendered tree (new).
    #[serde(flatten)]
    pub report: DiffReport,
}

impl PlanOutcome {
    /// The heading of the markdown plan: `Plan: REPO BRANCH:PATH`.
    pub fn title(&self) -> String {
        format!("Plan: {} {}:{}", self.repo, self.branch, self.path)
    }

    /// The plan for a terminal (as `opendesk-render plan`).
    pub fn to_text(&self) -> String {
        opendesk_render::diff::render_text(&self.report)
    }

    /// The plan for a merge-request comment (as `opendesk-render plan --markdown`).
    pub fn to_markdown(&self) -> String {
        opendesk_render::diff::render_markdown(&self.report, &self.title())
    }
}

impl PlanRenderedManifests {
    /// A plan of `out_dir` against `repo`, branch `main`, repository root; 300 s per git command.
    pub fn new(out_dir: impl Into<PathBuf>, repo: impl Into<String>) -> Self {
        PlanRenderedManifests {
            out_dir: out_dir.into(),
            repo: repo.into(),
            branch: "main".into(),
            path: String::new(),
            work_parent: None,
            git: PathBuf::from("git"),
            env: Vec::new(),
            timeout: gitsafe::DEFAULT_TIMEOUT,
        }
    }

    /// The plan of what `push` would do.
    pub fn for_push(p: &crate::push::PushRenderedManifests) -> Self {
        PlanRenderedManifests {
            out_dir: p.out_dir.clone(),
            repo: p.repo.clone(),
            branch: p.branch.clone(),
            path: p.path.clone(),
            work_parent: p.work_parent.clone(),
            git: p.git.clone(),
            env: p.env.clone(),
            timeout: p.timeout,
        }
    }
}

impl Step for PlanRenderedManifests {
    type Output = PlanOutcome;

    fn name(&self) -> &'static str {
        STEP
    }

    fn run(&self, progress: &mut dyn FnMut(&ProgressEvent)) -> Result<PlanOutcome, StepError> {
        let mut r = Reporter::new(STEP, progress);
        let bad = |m: String| StepError::bad_input(STEP, m);
        let failed = |m: String| StepError::failed(STEP, m);
        let repo = gitsafe::check_repo(&self.repo).map_err(bad)?;
        gitsafe::check_branch(&self.git, &self.branch).map_err(bad)?;
        let path =
            if self.path.is_empty() { String::new() } else { gitsafe::check_repo_path(&self.path).map_err(bad)? };
        if self.timeout.is_zero() {
            return Err(bad("--timeout must be at least 1 s".into()));
        }
        crate::push::read_meta(&self.out_dir).map_err(|e| StepError { step: STEP, ..e })?;
        let new = crate::session::load_tree(&self.out_dir)
            .map_err(|e| StepError::tree(STEP, crate::step::StepErrorKind::BadInput, e))?;
        let shown_path = if path.is_empty() { "." } else { path.as_str() };
        r.info("start", format!("{} against {} ({}:{shown_path})", self.out_dir.display(), repo.shown, self.branch));

        let ws = Workspace::create("plan", self.work_parent.as_deref(), &self.git, &self.env, self.timeout)
            .map_err(failed)?;
        r.info("fetch", format!("fetching {} from {}", self.branch, repo.shown));
        let exists = ws.checkout(&repo.url, &self.branch, &path).map_err(
            |(is_bad, m)| {
                if is_bad {
                    bad(m)
                } else {
                    failed(m)
                }
            },
        )?;
        let base = if exists { ws.ok(&["rev-parse", "HEAD"]).ok() } else { None };
        let subtree = ws.dir().join(&path);
        let old = if subtree.join("releases").is_dir() || subtree.join("applications").is_dir() {
            crate::session::load_tree(&subtree).map_err(|m| {
                // Name the file as it sits in the repository, not in the (removed) work dir.
                let prefix = format!("{}/", ws.dir().display());
                failed(format!("{}@{}: {}", repo.shown, self.branch, m.to_string().replace(&prefix, "")))
            })?
        } else {
            Vec::new()
        };
        r.info("compare", format!("{} resources at the branch head, {} rendered", old.len(), new.len()));
        let report = opendesk_render::diff::diff(&old, &new);
        r.info("done", report.summary());
        Ok(PlanOutcome { repo: repo.shown, branch: self.branch.clone(), path: shown_path.to_string(), base, report })
    }
}
