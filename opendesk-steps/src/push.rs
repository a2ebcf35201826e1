//! `PushRenderedManifests`: commit a rendered tree into the instance's git repository and push
//! it, with the `git` command line (so credentials, SSH config and proxies work as for any
//! git user), as a careful git user ([`crate::gitsafe`]).
//!
//! 1. Validate: `render-meta.yaml` present (`inputDigest`, `rendererVersion`), `--path` a clean
//!    relative folder ([`check_repo_path`]), `--branch` a branch name
//!    ([`gitsafe::check_branch`]), `--repo` not an option or an `ext::` remote and, when local,
//!    existing ([`gitsafe::check_repo`]). All of these are exit 2.
//! 2. A fresh private work dir (random name, mode 0700, never reused, removed on every exit
//!    path); every git command with hooks, fsmonitor, `ext::` and symlinks off and a time limit
//!    (`timeout`, default 300 s).
//! 3. Per attempt: `git ls-remote` + `git fetch` of the branch; a commit that holds a symlink on
//!    `<path>` or inside it is refused (exit 2); forced checkout (an orphan branch when the
//!    remote has none yet).
//! 4. Replace `<path>` with the tree (every write checked to stay inside the work dir),
//!    `git add -A -- :(literal)<path>`. Nothing staged → no commit, no push.
//! 5. Commit as the user's git identity (`GIT_AUTHOR_*`/`GIT_COMMITTER_*`, else
//!    `user.name`/`user.email`, else `opendesk-render <opendesk-render@localhost>`; or a fixed
//!    [`GitIdentity`]); the message carries the input digest and versions as trailers.
//! 6. `git push --porcelain <url> HEAD:refs/heads/<branch>`. A `[rejected]` ref (non-fast-forward,
//!    fetch first: someone pushed meanwhile) → fetch and rebase our change onto the new upstream,
//!    then push again, at most `max_attempts` times. The rebase *replays* the subtree
//!    replacement on the new tip rather than running `git rebase`: the instance owns `<path>`
//!    wholesale, so a textual rebase could only conflict or, worse, merge a concurrent render's
//!    files into ours; replaying is exact and keeps everyone else's changes outside `<path>`.
//!    If the new upstream already holds exactly our tree, nothing is committed. Other failures
//!    (a remote hook refusing the push, authentication, a timeout) are not retried.
//!
//! A module render's tree (render-meta with `module:`) is pushed by [`module`] instead of step
//! 4: only the module's releases and their Applications are replaced inside `<path>`, its
//! ExternalSecrets are checked against the head's again, and render-meta is merged.
//!
//! Progress phases: `start`, `fetch`, `replace`, `skew` (module push), `unchanged`, `commit`,
//! `push`, `retry`, `done`.
//! Messages show the URL with its credentials replaced by `***`.

use crate::gitsafe::{self, RepoUrl, Workspace};
use crate::step::{ProgressEvent, Reporter, Step, StepError, StepErrorKind};
use opendesk_render::yaml::parse_documents;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod module;

const STEP: &str = "push-rendered-manifests";

/// The identity commits get when the user has none configured.
pub const FALLBACK_IDENTITY: (&str, &str) = ("opendesk-render", "opendesk-render@localhost");

/// Author and committer of the commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitIdentity {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
}

impl Default for GitIdentity {
    fn default() -> Self {
        GitIdentity { name: FALLBACK_IDENTITY.0.into(), email: FALLBACK_IDENTITY.1.into() }
    }
}

/// The push step. Build with [`PushRenderedManifests::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct PushRenderedManifests {
    /// The rendered tree (holding `render-meta.yaml`).
    pub out_dir: PathBuf,
    /// Git URL of the instance repository (anything `git clone` accepts except `ext::`).
    pub repo: String,
    /// Branch (default `main`); created when the repository has none.
    pub branch: String,
    /// Folder inside the repository replaced by the tree (`instances/acme`; required).
    pub path: String,
    /// Folder in which the private work dir is created (default: the temp dir). The work dir
    /// itself is always new and always removed.
    pub work_parent: Option<PathBuf>,
    /// Push attempts before giving up on concurrent pushes (default 5).
    pub max_attempts: u32,
    /// Commit author and committer; `None` (default) = the user's git identity.
    pub identity: Option<GitIdentity>,
    /// The git binary (default `git`).
    pub git: PathBuf,
    /// Extra environment for every git command (e.g. `GIT_SSH_COMMAND`).
    pub env: Vec<(OsString, OsString)>,
    /// Time limit of every git command, network steps included (default 300 s).
    pub timeout: Duration,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushOutcome {
    /// True when a commit was pushed.
    pub changed: bool,
    /// The branch tip after the step (our commit, or the unchanged tip; `None` for an empty
    /// repository and an empty tree).
    pub commit: Option<String>,
    /// Push attempts made (0 when nothing changed).
    pub attempts: u32,
    /// `inputDigest` from render-meta.
    pub input_digest: String,
    /// `rendererVersion` from render-meta.
    pub renderer_version: String,
}

/// The render-meta fields the commit message uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MetaFacts {
    input_digest: String,
    renderer_version: String,
    opendesk_version: String,
    instance: String,
}

pub(crate) fn read_meta(out: &Path) -> Result<MetaFacts, StepError> {
    let f = out.join(opendesk_render::output::META_FILE);
    let text =
        opendesk_render::fsio::read_regular_string_max(&f, opendesk_render::limits::CONFIG_FILE).map_err(|e| {
            StepError::file(STEP, StepErrorKind::BadInput, e, format!(" (is {} a rendered tree?)", out.display()))
        })?;
    let docs = parse_documents(&text)
        .map_err(|e| StepError::bad_input(STEP, format!("{}:{}:{}: {}", f.display(), e.line, e.col, e.reason)))?;
    let root = docs.first().ok_or_else(|| StepError::bad_input(STEP, format!("{}: empty", f.display())))?;
    let get = |k: &str| root.get(k).and_then(|n| n.scalar_text()).unwrap_or("").to_string();
    let m = MetaFacts {
        input_digest: get("inputDigest"),
        renderer_version: get("rendererVersion"),
        opendesk_version: get("opendeskVersion"),
        instance: get("instance"),
    };
    if m.input_digest.is_empty() || m.renderer_version.is_empty() {
        return Err(StepError::bad_input(
            STEP,
            format!("{}: inputDigest and rendererVersion are required", f.display()),
        ));
    }
    Ok(m)
}

/// Validate a repository sub-path ([`gitsafe::check_repo_path`]); returns it normalised.
pub fn check_repo_path(path: &str) -> Result<String, StepError> {
    gitsafe::check_repo_path(path).map_err(|m| StepError::bad_input(STEP, m))
}

fn commit_message(m: &MetaFacts, path: &str) -> String {
    let short = m.input_digest.strip_prefix("sha256:").unwrap_or(&m.input_digest);
    let short = &short[..short.len().min(12)];
    let mut subject = String::from("opendesk-render:");
    if !m.instance.is_empty() {
        subject.push(' ');
        subject.push_str(&m.instance);
    }
    if !m.opendesk_version.is_empty() {
        subject.push_str(&format!(" openDesk {}", m.opendesk_version));
    }
    subject.push_str(&format!(" (input {short})"));
    format!(
        "{subject}\n\nRendered tree for {path}.\n\nInput-Digest: {}\nRenderer-Version: {}\nOpenDesk-Version: {}\n",
        m.input_digest,
        m.renderer_version,
        if m.opendesk_version.is_empty() { "unknown" } else { &m.opendesk_version }
    )
}

/// Copy `from` into the new folder `to` (regular files and folders; hidden entries skipped;
/// anything else refused), every write checked by the work dir.
fn copy_tree(ws: &Workspace, from: &Path, to: &Path) -> Result<usize, StepError> {
    let io = |p: &Path, source: std::io::Error| {
        let e = opendesk_render::fsio::FileError::Io { path: p.to_path_buf(), source };
        StepError::file(STEP, StepErrorKind::Failed, e, "")
    };
    let failed = |m: String| StepError::failed(STEP, m);
    ws.create_dir(to).map_err(failed)?;
    let mut n = 0;
    let mut entries: Vec<_> =
        fs::read_dir(from).map_err(|e| io(from, e))?.collect::<Result<_, _>>().map_err(|e| io(from, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let ft = e.file_type().map_err(|e| io(&src, e))?;
        if ft.is_dir() {
            n += copy_tree(ws, &src, &dst)?;
        } else if ft.is_file() {
            ws.copy_file(&src, &dst).map_err(failed)?;
            n += 1;
        } else {
            return Err(StepError::bad_input(STEP, format!("{}: not a regular file or folder", src.display())));
        }
    }
    Ok(n)
}

fn rejected(o: &gitsafe::GitOutput) -> bool {
    o.stdout.lines().any(|l| l.starts_with('!') && l.contains("[rejected]"))
        || o.stderr.contains("non-fast-forward")
        || o.stderr.contains("fetch first")
}

/// Validated inputs.
struct Checked {
    repo: RepoUrl,
    path: String,
}

impl PushRenderedManifests {
    /// A push of `out_dir` to `repo`, branch `main`; the path must still be set; 5 attempts,
    /// 300 s per git command, the user's identity.
    pub fn new(out_dir: impl Into<PathBuf>, repo: impl Into<String>) -> Self {
        PushRenderedManifests {
            out_dir: out_dir.into(),
            repo: repo.into(),
            branch: "main".into(),
            path: String::new(),
            work_parent: None,
            max_attempts: 5,
            identity: None,
            git: PathBuf::from("git"),
            env: Vec::new(),
            timeout: gitsafe::DEFAULT_TIMEOUT,
        }
    }

    /// A push configured from the instance config: `argocd.repoURL`, `argocd.targetRevision`
    /// (used as the branch, so it must name one) and `argocd.path`.
    pub fn from_config(out_dir: impl Into<PathBuf>, cfg: &opendesk_render::InstanceConfig) -> Self {
        let mut s = Self::new(out_dir, cfg.argocd.repo_url.clone());
        s.branch = cfg.argocd.target_revision.clone();
        s.path = cfg.argocd.path.clone();
        s
    }

    fn check_inputs(&self) -> Result<Checked, StepError> {
        let bad = |m: String| StepError::bad_input(STEP, m);
        let repo = gitsafe::check_repo(&self.repo).map_err(bad)?;
        gitsafe::check_branch(&self.git, &self.branch).map_err(bad)?;
        let path = gitsafe::check_repo_path(&self.path).map_err(bad)?;
        if self.timeout.is_zero() {
            return Err(bad("--timeout must be at least 1 s".into()));
        }
        if !self.out_dir.is_dir() {
            return Err(bad(format!("{}: not a directory", self.out_dir.display())));
        }
        Ok(Checked { repo, path })
    }

    /// A fresh private work dir configured like this step's git.
    fn workspace(&self) -> Result<Workspace, StepError> {
        Workspace::create("push", self.work_parent.as_deref(), &self.git, &self.env, self.timeout)
            .map_err(|m| StepError::failed(STEP, m))
    }

    /// Fetch the branch and check it out; `false` when the remote has none.
    fn sync(&self, ws: &Workspace, c: &Checked, r: &mut Reporter<'_>) -> Result<bool, StepError> {
        r.info("fetch", format!("fetching {} from {}", self.branch, c.repo.shown));
        ws.checkout(&c.repo.url, &self.branch, &c.path).map_err(|(bad, m)| {
            if bad {
                StepError::bad_input(STEP, m)
            } else {
                StepError::failed(STEP, m)
            }
        })
    }

    /// Replace the sub-path with the tree and stage it; true when something changed.
    fn replace_and_stage(&self, ws: &Workspace, path: &str, r: &mut Reporter<'_>) -> Result<bool, StepError> {
        let failed = |m: String| StepError::failed(STEP, m);
        let target = ws.dir().join(path);
        ws.create_parents(&target).map_err(failed)?;
        ws.check_write(&target).map_err(failed)?;
        if let Ok(md) = fs::symlink_metadata(&target) {
            // remove_dir_all does not follow symlinks; check_write refused a symlinked target.
            let res = if md.is_dir() { fs::remove_dir_all(&target) } else { fs::remove_file(&target) };
            res.map_err(|source| {
                let e = opendesk_render::fsio::FileError::Io { path: target.clone(), source };
                StepError::file(STEP, StepErrorKind::Failed, e, "")
            })?;
        }
        let n = copy_tree(ws, &self.out_dir, &target)?;
        r.info("replace", format!("{n} files into {path}"));
        ws.ok(&["add", "-A", "--", &format!(":(literal){path}")]).map_err(failed)?;
        let o = ws.run(&["diff", "--cached", "--quiet"]).map_err(failed)?;
        match o.status.code() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(StepError::failed(STEP, format!("git diff failed: {}", o.stderr))),
        }
    }

    fn head(ws: &Workspace) -> Option<String> {
        ws.ok(&["rev-parse", "-q", "--verify", "HEAD"]).ok().filter(|s| !s.is_empty())
    }
}

impl Step for PushRenderedManifests {
    type Output = PushOutcome;

    fn name(&self) -> &'static str {
        STEP
    }

    fn run(&self, progress: &mut dyn FnMut(&ProgressEvent)) -> Result<PushOutcome, StepError> {
        let mut r = Reporter::new(STEP, progress);
        let c = self.check_inputs()?;
        let meta = read_meta(&self.out_dir)?;
        r.info("start", format!("{} → {} ({}:{})", self.out_dir.display(), c.repo.shown, self.branch, c.path));

        // Dropped on every return (and unwinding) below: the work dir goes with it.
        let mut ws = self.workspace()?;
        if let Ok(o) = fs::canonicalize(&self.out_dir) {
            if o.starts_with(ws.dir()) || ws.dir().starts_with(&o) {
                return Err(StepError::bad_input(
                    STEP,
                    format!("the work dir {} and the tree {} overlap", ws.dir().display(), self.out_dir.display()),
                ));
            }
        }
        let ident = match &self.identity {
            Some(i) => gitsafe::Ident {
                author: (i.name.clone(), i.email.clone()),
                committer: (i.name.clone(), i.email.clone()),
            },
            None => ws.user_identity(FALLBACK_IDENTITY),
        };
        ws.set_identity(&ident);

        let module = module::ModuleTree::read(&self.out_dir)?;
        let message = match &module {
            Some(m) => m.commit_message(&meta, &c.path),
            None => commit_message(&meta, &c.path),
        };
        let failed = |m: String| StepError::failed(STEP, m);
        let mut attempts = 0u32;
        loop {
            self.sync(&ws, &c, &mut r)?;
            let changed = match &module {
                Some(m) => m.replace_and_stage(&ws, &self.out_dir, &c.path, &mut r)?,
                None => self.replace_and_stage(&ws, &c.path, &mut r)?,
            };
            if !changed {
                r.info("unchanged", "the repository already holds this tree; nothing to commit");
                return Ok(PushOutcome {
                    changed: false,
                    commit: Self::head(&ws),
                    attempts,
                    input_digest: meta.input_digest,
                    renderer_version: meta.renderer_version,
                });
            }
            ws.ok(&["commit", "-q", "--no-verify", "-m", &message]).map_err(failed)?;
            let sha = Self::head(&ws).unwrap_or_default();
            r.info("commit", format!("committed {}", &sha[..sha.len().min(12)]));
            attempts += 1;
            r.info("push", format!("pushing to {} (attempt {attempts}/{})", self.branch, self.max_attempts));
            let o = ws
                .run(&["push", "--porcelain", "--no-verify", &c.repo.url, &format!("HEAD:refs/heads/{}", self.branch)])
                .map_err(failed)?;
            if o.status.success() {
                r.info("done", format!("pushed {sha}"));
                return Ok(PushOutcome {
                    changed: true,
                    commit: Some(sha),
                    attempts,
                    input_digest: meta.input_digest,
                    renderer_version: meta.renderer_version,
                });
            }
            let detail = gitsafe::redact_url(&format!("{} {}", o.stdout.trim(), o.stderr));
            if !rejected(&o) {
                return Err(StepError::failed(STEP, format!("git push failed: {}", detail.trim())));
            }
            if attempts >= self.max_attempts {
                return Err(StepError::failed(
                    STEP,
                    format!(
                        "gave up after {attempts} attempts: {} keeps moving (concurrent pushes); last: {}",
                        self.branch,
                        detail.trim()
                    ),
                ));
            }
            r.warn(
                "retry",
                format!(
                    "push rejected (the branch moved); fetching and rebasing onto the new upstream, attempt {}/{}",
                    attempts + 1,
                    self.max_attempts
                ),
            );
            std::thread::sleep(Duration::from_millis(50 * u64::from(attempts)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    fn git_available() -> bool {
        let ok = Command::new("git").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
        if !ok {
            assert!(std::env::var_os("CI").is_none(), "git is required in CI");
            eprintln!("SKIP: git not found");
        }
        ok
    }

    use opendesk_render::testing::Scratch;

    /// Isolated git environment: no user or system config.
    fn iso_env() -> Vec<(OsString, OsString)> {
        vec![("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()), ("GIT_CONFIG_NOSYSTEM".into(), "1".into())]
    }

    /// Run git in `dir` with an isolated config and a fixed identity; panic on failure.
    fn sh(dir: &Path, args: &[&str]) -> String {
        let o = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "other")
            .env("GIT_AUTHOR_EMAIL", "other@example.org")
            .env("GIT_COMMITTER_NAME", "other")
            .env("GIT_COMMITTER_EMAIL", "other@example.org")
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn bare(s: &Scratch) -> PathBuf {
        let r = s.0.join("remote.git");
        fs::create_dir_all(&r).unwrap();
        sh(&r, &["init", "-q", "--bare", "-b", "main"]);
        r
    }

    fn out_tree(dir: &Path, digest: &str, files: &[(&str, &str)]) {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).unwrap();
        fs::write(
            dir.join("render-meta.yaml"),
            format!("schemaVersion: 1\nrendererVersion: 0.1.0\nopendeskVersion: 1.13.1\ninstance: acme\ninputDigest: {digest}\n"),
        )
        .unwrap();
        for (p, t) in files {
            let f = dir.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, t).unwrap();
        }
    }

    fn step(out: &Path, remote: &Path) -> PushRenderedManifests {
        let mut s = PushRenderedManifests::new(out, remote.to_string_lossy().to_string());
        s.path = "instances/acme".into();
        s.env = iso_env();
        s
    }

    fn run(s: &PushRenderedManifests) -> Result<PushOutcome, StepError> {
        s.run(&mut |_| {})
    }

    fn remote_files(remote: &Path) -> Vec<String> {
        sh(remote, &["ls-tree", "-r", "--name-only", "main"]).lines().map(str::to_string).collect()
    }

    fn count(remote: &Path) -> usize {
        sh(remote, &["rev-list", "--count", "main"]).parse().unwrap()
    }

    /// A second clone that commits `file` and pushes.
    fn concurrent_push(s: &Scratch, remote: &Path, file: &str, text: &str) {
        let c = s.0.join(format!("other-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        sh(&s.0, &["clone", "-q", &remote.to_string_lossy(), &c.to_string_lossy()]);
        let f = c.join(file);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, text).unwrap();
        sh(&c, &["add", "-A"]);
        sh(&c, &["commit", "-q", "-m", &format!("other: {file}")]);
        sh(&c, &["push", "-q", "origin", "HEAD:main"]);
        fs::remove_dir_all(&c).unwrap();
    }

    #[test]
    fn first_push_then_no_change_then_replace() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("basic");
        let remote = bare(&s);
        let out = s.0.join("out");
        out_tree(&out, "sha256:aaaa", &[("releases/ums/configmap-a.yaml", "a\n"), ("applications/ums.yaml", "x\n")]);
        let st = step(&out, &remote);
        let mut events = Vec::new();
        let o = st.run(&mut |e| events.push(e.phase)).unwrap();
        assert!(o.changed);
        assert_eq!(o.attempts, 1);
        assert_eq!(o.input_digest, "sha256:aaaa");
        assert_eq!(events.first(), Some(&"start"));
        assert_eq!(events.last(), Some(&"done"));
        assert_eq!(
            remote_files(&remote),
            [
                "instances/acme/applications/ums.yaml",
                "instances/acme/releases/ums/configmap-a.yaml",
                "instances/acme/render-meta.yaml"
            ]
        );
        assert_eq!(sh(&remote, &["rev-parse", "main"]), o.commit.clone().unwrap());
        let msg = sh(&remote, &["log", "-1", "--format=%B", "main"]);
        assert!(msg.contains("Input-Digest: sha256:aaaa") && msg.contains("Renderer-Version: 0.1.0"), "{msg}");
        assert_eq!(
            sh(&remote, &["log", "-1", "--format=%an <%ae>", "main"]),
            "opendesk-render <opendesk-render@localhost>"
        );

        // Same tree again: no commit.
        let again = run(&st).unwrap();
        assert!(!again.changed);
        assert_eq!(again.attempts, 0);
        assert_eq!(again.commit, o.commit);
        assert_eq!(count(&remote), 1);

        // Files outside the path stay; files gone from the tree disappear from the path.
        concurrent_push(&s, &remote, "README.md", "hello\n");
        out_tree(&out, "sha256:bbbb", &[("releases/ums/configmap-b.yaml", "b\n")]);
        let third = run(&st).unwrap();
        assert!(third.changed);
        assert_eq!(
            remote_files(&remote),
            ["README.md", "instances/acme/releases/ums/configmap-b.yaml", "instances/acme/render-meta.yaml"]
        );
        assert_eq!(count(&remote), 3);
    }

    #[test]
    fn concurrent_push_forces_the_rebase_path() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("race");
        let remote = bare(&s);
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("releases/r/a.yaml", "v1\n")]);
        let st = step(&out, &remote);
        run(&st).unwrap();
        out_tree(&out, "sha256:2222", &[("releases/r/a.yaml", "v2\n")]);
        // Another clone pushes between our commit and our push, once.
        let mut raced = false;
        let mut phases = Vec::new();
        let o = st
            .run(&mut |e| {
                phases.push(e.phase);
                if e.phase == "push" && !raced {
                    raced = true;
                    concurrent_push(&s, &remote, "other/notes.md", "concurrent\n");
                }
            })
            .unwrap();
        assert!(o.changed);
        assert_eq!(o.attempts, 2, "{phases:?}");
        assert!(phases.contains(&"retry"));
        let files = remote_files(&remote);
        assert!(files.contains(&"other/notes.md".to_string()), "{files:?}");
        assert_eq!(sh(&remote, &["show", "main:instances/acme/releases/r/a.yaml"]), "v2");
        // Linear history: our commit sits on top of the concurrent one.
        assert_eq!(sh(&remote, &["log", "-1", "--format=%s", "main~1"]), "other: other/notes.md");
        assert_eq!(sh(&remote, &["rev-list", "--merges", "--count", "main"]), "0");
    }

    #[test]
    fn concurrent_render_of_the_same_path_is_replaced_exactly() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("samepath");
        let remote = bare(&s);
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("releases/r/a.yaml", "ours\n")]);
        let st = step(&out, &remote);
        let mut raced = false;
        let o = st
            .run(&mut |e| {
                if e.phase == "push" && !raced {
                    raced = true;
                    concurrent_push(&s, &remote, "instances/acme/releases/r/stray.yaml", "theirs\n");
                }
            })
            .unwrap();
        assert_eq!(o.attempts, 2);
        let files = remote_files(&remote);
        assert_eq!(files, ["instances/acme/releases/r/a.yaml", "instances/acme/render-meta.yaml"], "{files:?}");
    }

    #[test]
    fn concurrent_identical_push_means_no_commit() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("identical");
        let remote = bare(&s);
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("releases/r/a.yaml", "same\n")]);
        let st = step(&out, &remote);
        // The racer pushes exactly our tree (another deployer rendering the same input).
        let mut raced = false;
        let o = st
            .run(&mut |e| {
                if e.phase == "push" && !raced {
                    raced = true;
                    let mut twin = step(&out, &remote);
                    twin.identity = Some(GitIdentity { name: "twin".into(), email: "twin@example.org".into() });
                    run(&twin).unwrap();
                }
            })
            .unwrap();
        assert!(!o.changed, "{o:?}");
        assert_eq!(count(&remote), 1);
        assert_eq!(sh(&remote, &["log", "-1", "--format=%an", "main"]), "twin");
    }

    #[test]
    fn retries_are_bounded() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("bounded");
        let remote = bare(&s);
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("releases/r/a.yaml", "x\n")]);
        let mut st = step(&out, &remote);
        st.max_attempts = 3;
        let mut n = 0;
        let e = st
            .run(&mut |e| {
                if e.phase == "push" {
                    n += 1;
                    concurrent_push(&s, &remote, &format!("noise/{n}.txt"), "x\n");
                }
            })
            .unwrap_err();
        assert_eq!(n, 3);
        assert_eq!(e.kind, StepErrorKind::Failed);
        assert!(e.message().contains("gave up after 3 attempts"), "{e}");
    }

    #[test]
    fn remote_hook_rejection_is_not_retried() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("hook");
        let remote = bare(&s);
        let hook = remote.join("hooks/pre-receive");
        fs::write(&hook, "#!/bin/sh\necho 'denied by policy' >&2\nexit 1\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("a.yaml", "x\n")]);
        let mut pushes = 0;
        let e = step(&out, &remote)
            .run(&mut |e| {
                if e.phase == "push" {
                    pushes += 1;
                }
            })
            .unwrap_err();
        assert_eq!(pushes, 1);
        assert!(e.message().contains("denied by policy"), "{e}");
    }

    /// Entries of `dir` (sorted names).
    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// (path, content or link target) of every entry under `dir`, not following symlinks.
    fn snapshot(dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                let ft = e.file_type().unwrap();
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                if ft.is_symlink() {
                    out.push((rel, format!("-> {}", fs::read_link(&p).unwrap().display())));
                } else if ft.is_dir() {
                    out.push((rel, "/".into()));
                    stack.push(p);
                } else {
                    out.push((rel, fs::read_to_string(&p).unwrap_or_default()));
                }
            }
        }
        out.sort();
        out
    }

    fn executable(p: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A remote whose main holds `instances` as a symlink to a local folder (and, in a second
    /// remote, a symlink inside the subtree).
    #[test]
    fn symlinks_in_the_remote_are_refused() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("symlink");
        let victim = s.0.join("victim");
        fs::create_dir_all(victim.join("acme")).unwrap();
        fs::write(victim.join("acme/keep.txt"), "precious\n").unwrap();
        let before = snapshot(&victim);
        let parent = s.0.join("work-parent");
        fs::create_dir_all(&parent).unwrap();
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("releases/r/a.yaml", "x\n")]);
        for (tag, link, target) in [
            ("top", "instances", victim.to_string_lossy().to_string()),
            ("inside", "instances/acme/releases", victim.join("acme").to_string_lossy().to_string()),
        ] {
            let remote = s.0.join(format!("{tag}.git"));
            fs::create_dir_all(&remote).unwrap();
            sh(&remote, &["init", "-q", "--bare", "-b", "main"]);
            let c = s.0.join(format!("seed-{tag}"));
            sh(&s.0, &["clone", "-q", &remote.to_string_lossy(), &c.to_string_lossy()]);
            let l = c.join(link);
            fs::create_dir_all(l.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&target, &l).unwrap();
            fs::write(c.join("README.md"), "hi\n").unwrap();
            sh(&c, &["add", "-A"]);
            sh(&c, &["commit", "-q", "-m", "seed"]);
            sh(&c, &["push", "-q", "origin", "HEAD:main"]);
            let tip = sh(&remote, &["rev-parse", "main"]);
            let mut st = step(&out, &remote);
            st.work_parent = Some(parent.clone());
            let e = run(&st).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{tag}: {e}");
            assert!(e.message().contains("symlink") && e.message().contains(link), "{tag}: {e}");
            assert_eq!(snapshot(&victim), before, "{tag}: the symlink's target was touched");
            assert_eq!(sh(&remote, &["rev-parse", "main"]), tip, "{tag}: pushed anyway");
            assert!(entries(&parent).is_empty(), "{tag}: work dir left behind: {:?}", entries(&parent));
        }
    }

    /// Hooks, an fsmonitor and template hooks planted in the user's git config and a planted
    /// predictable work dir never run; the work dir is new, private and removed; the commit is
    /// authored by the user's identity from that config.
    #[test]
    fn planted_hooks_fsmonitor_and_work_dir_never_run() {
        use std::os::unix::fs::PermissionsExt;
        if !git_available() {
            return;
        }
        let s = Scratch::new("planted");
        let remote = bare(&s);
        let marker = s.0.join("ran");
        let script = format!("#!/bin/sh\necho \"$0 in $(pwd)\" >> '{}'\n", marker.display());
        let hooks = s.0.join("evil-hooks");
        for h in ["pre-commit", "post-checkout", "pre-push", "post-commit", "commit-msg", "reference-transaction"] {
            executable(&hooks.join(h), &script);
        }
        let template = s.0.join("evil-template");
        for h in ["post-checkout", "pre-commit"] {
            executable(&template.join("hooks").join(h), &script);
        }
        let fsmonitor = s.0.join("evil-fsmonitor");
        executable(&fsmonitor, &script);
        let global = s.0.join("gitconfig");
        fs::write(
            &global,
            format!(
                "[user]\n\tname = Ada Operator\n\temail = ada@example.org\n[core]\n\thooksPath = {}\n\tfsmonitor = {}\n[init]\n\ttemplateDir = {}\n",
                hooks.display(),
                fsmonitor.display(),
                template.display()
            ),
        )
        .unwrap();
        let parent = s.0.join("work-parent");
        // The predictable name the old push used, planted with a hook-running config.
        let planted = parent.join(format!("opendesk-push-{}-0", std::process::id()));
        fs::create_dir_all(planted.join(".git/hooks")).unwrap();
        executable(&planted.join(".git/hooks/pre-commit"), &script);
        fs::write(planted.join(".git/config"), format!("[core]\n\tfsmonitor = {}\n", fsmonitor.display())).unwrap();
        let planted_before = snapshot(&planted);

        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("releases/r/a.yaml", "x\n")]);
        let mut st = step(&out, &remote);
        st.env = vec![("GIT_CONFIG_GLOBAL".into(), global.clone().into()), ("GIT_CONFIG_NOSYSTEM".into(), "1".into())];
        st.work_parent = Some(parent.clone());
        let mut seen = Vec::new();
        for round in 0..2 {
            if round == 1 {
                out_tree(&out, "sha256:2222", &[("releases/r/a.yaml", "y\n")]);
            }
            let o = st
                .run(&mut |e| {
                    if e.phase == "fetch" {
                        let mine: Vec<_> = entries(&parent).into_iter().filter(|n| parent.join(n) != planted).collect();
                        assert_eq!(mine.len(), 1, "{mine:?}");
                        let md = fs::symlink_metadata(parent.join(&mine[0])).unwrap();
                        assert!(md.is_dir());
                        assert_eq!(md.permissions().mode() & 0o777, 0o700);
                        seen.push(mine[0].clone());
                    }
                })
                .unwrap();
            assert!(o.changed);
        }
        // The remote's receive-pack runs its own (server-side) hooks, here from the same global
        // config; nothing may run in our work dir.
        let ran = fs::read_to_string(&marker).unwrap_or_default();
        assert!(
            ran.lines().all(|l| l.ends_with(&format!(" in {}", fs::canonicalize(&remote).unwrap().display()))),
            "a planted hook or fsmonitor ran in the work dir: {ran}"
        );
        assert_eq!(snapshot(&planted), planted_before);
        assert_eq!(entries(&parent), [planted.file_name().unwrap().to_string_lossy().to_string()]);
        assert_ne!(seen[0], seen[1], "a work dir was reused");
        assert!(seen[0].starts_with("opendesk-push-") && seen[0].len() >= "opendesk-push-".len() + 32, "{seen:?}");
        assert_eq!(
            sh(&remote, &["log", "-1", "--format=%an <%ae> / %cn <%ce>", "main"]),
            "Ada Operator <ada@example.org> / Ada Operator <ada@example.org>"
        );

        // GIT_AUTHOR_* wins over the config, as for git itself.
        out_tree(&out, "sha256:3333", &[("releases/r/a.yaml", "z\n")]);
        st.env.push(("GIT_AUTHOR_NAME".into(), "Bob Env".into()));
        st.env.push(("GIT_AUTHOR_EMAIL".into(), "bob@example.org".into()));
        run(&st).unwrap();
        assert_eq!(
            sh(&remote, &["log", "-1", "--format=%an <%ae> / %cn", "main"]),
            "Bob Env <bob@example.org> / Ada Operator"
        );
    }

    /// A git daemon that accepts the connection and never answers.
    struct Stalled {
        port: u16,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }
    impl Stalled {
        fn start() -> Stalled {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            let port = l.local_addr().unwrap().port();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            let thread = std::thread::spawn(move || {
                let mut held = Vec::new();
                while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Ok((c, _)) = l.accept() {
                        held.push(c);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            });
            Stalled { port, stop, thread: Some(thread) }
        }
    }
    impl Drop for Stalled {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    #[test]
    fn a_stalled_remote_times_out_and_leaves_nothing() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("stall");
        let parent = s.0.join("work-parent");
        fs::create_dir_all(&parent).unwrap();
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("a.yaml", "1\n")]);
        let daemon = Stalled::start();
        for url in [
            format!("git://127.0.0.1:{}/acme.git", daemon.port),
            format!("http://deploy:s3cr3t-t0ken@127.0.0.1:{}/acme.git", daemon.port),
        ] {
            let mut st = step(&out, Path::new(&url));
            st.timeout = std::time::Duration::from_secs(2);
            st.work_parent = Some(parent.clone());
            let started = std::time::Instant::now();
            let mut events = Vec::new();
            let e = st.run(&mut |e| events.push(e.to_string())).unwrap_err();
            // Only a hang guard: the limit is 2 s, a hang would be forever.
            assert!(started.elapsed() < std::time::Duration::from_secs(120), "{:?}", started.elapsed());
            assert_eq!(e.exit_code(), 1);
            assert!(e.message().contains("timed out after 2 s"), "{e}");
            assert!(entries(&parent).is_empty(), "work dir left behind");
            let all = format!("{e}\n{}", events.join("\n"));
            assert!(!all.contains("s3cr3t"), "{all}");
            if url.starts_with("http") {
                assert!(all.contains("http://***@127.0.0.1"), "{all}");
            }
        }
    }

    #[test]
    fn a_token_url_is_never_printed() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("token");
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("a.yaml", "1\n")]);
        // A port nobody listens on: connection refused, git reports the URL.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("https://x-access-token:ghp_S3CR3T@127.0.0.1:{port}/acme.git");
        let st = step(&out, Path::new(&url));
        let mut events = Vec::new();
        let e = st.run(&mut |e| events.push(e.to_string())).unwrap_err();
        let all = format!("{e}\n{}", events.join("\n"));
        assert!(!all.contains("S3CR3T") && !all.contains("x-access-token"), "{all}");
        assert!(all.contains("https://***@127.0.0.1"), "{all}");
    }

    #[test]
    fn bad_inputs() {
        let s = Scratch::new("bad");
        let out = s.0.join("out");
        fs::create_dir_all(&out).unwrap();
        let remote = s.0.join("exists.git");
        fs::create_dir_all(&remote).unwrap();
        let mut st = PushRenderedManifests::new(&out, remote.to_string_lossy().to_string());
        st.path = "instances/acme".into();
        let e = run(&st).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message().contains("render-meta.yaml"), "{e}");
        out_tree(&out, "sha256:1111", &[("a.yaml", "1\n")]);
        let missing = PushRenderedManifests { repo: "/nonexistent/repo.git".into(), ..st.clone() };
        let e = run(&missing).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.message().contains("no such repository"), "{e}");
        for p in ["", ".", "./", "../x", "/abs", "a/.git/b", ":(glob)*", "*", "a/../b"] {
            let e = run(&PushRenderedManifests { path: p.into(), ..st.clone() }).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{p:?}: {e}");
            assert!(e.message().contains("--path"), "{p:?}: {e}");
        }
        for b in ["HEAD", "@", "refs/heads/main", "--force", "a..b", ""] {
            let e = run(&PushRenderedManifests { branch: b.into(), ..st.clone() }).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{b:?}: {e}");
            assert!(e.message().contains("--branch"), "{b:?}: {e}");
        }
        let e = run(&PushRenderedManifests { repo: "ext::sh -c touch% /tmp/pwned".into(), ..st.clone() }).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert_eq!(check_repo_path("instances/acme/").unwrap(), "instances/acme");
        let mut cfg = opendesk_render::InstanceConfig::minimal("1.13.1");
        cfg.argocd.repo_url = "https://git.example.org/acme.git".into();
        cfg.argocd.path = "instances/acme".into();
        let p = PushRenderedManifests::from_config(&out, &cfg);
        assert_eq!(
            (p.repo.as_str(), p.branch.as_str(), p.path.as_str()),
            ("https://git.example.org/acme.git", "main", "instances/acme")
        );
    }

    #[test]
    fn unreachable_remote_fails_cleanly() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("unreachable");
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("a.yaml", "1\n")]);
        // A folder that exists but is no repository: git's failure, exit 1.
        let not_a_repo = s.0.join("not-a-repo");
        fs::create_dir_all(&not_a_repo).unwrap();
        let e = run(&step(&out, &not_a_repo)).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message().contains("ls-remote"), "{e}");
    }
}
