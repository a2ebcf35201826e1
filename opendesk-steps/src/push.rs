//! `PushRenderedManifests`: commit a rendered tree into the instance's git repository and push
//! it, with the `git` command line (so credentials, SSH config and proxies work as for any
//! git user).
//!
//! 1. Read `<out>/render-meta.yaml` (`inputDigest`, `rendererVersion`, `opendeskVersion`,
//!    `instance`): the tree must be a rendered one.
//! 2. Prepare a work dir (`work_dir`, reused across runs, or a temp dir removed afterwards):
//!    `git init` once, then per attempt `git ls-remote` + `git fetch` of the branch and a forced
//!    checkout of it (an orphan branch when the remote has none yet).
//! 3. Replace `<path>` with the tree (the whole repository except `.git` when `path` is empty),
//!    `git add -A -- <path>`. Nothing staged → no commit, no push.
//! 4. Commit with the author/committer from [`GitIdentity`] (set through `GIT_AUTHOR_*` /
//!    `GIT_COMMITTER_*`, so no global git config is needed); the message carries the input
//!    digest and the renderer version as trailers.
//! 5. `git push --porcelain origin HEAD:refs/heads/<branch>`. A `[rejected]` ref (non-fast-forward,
//!    fetch first: someone pushed meanwhile) → fetch and rebase our change onto the new upstream,
//!    then push again, at most `max_attempts` times. The rebase *replays* the subtree
//!    replacement on the new tip rather than running `git rebase`: the instance owns `<path>`
//!    wholesale, so a textual rebase could only conflict or, worse, merge a concurrent render's
//!    files into ours; replaying is exact and keeps everyone else's changes outside `<path>`.
//!    If the new upstream already holds exactly our tree, nothing is committed. Other failures
//!    (a remote hook refusing the push, authentication) are not retried.
//!
//! Progress phases: `start`, `fetch`, `replace`, `unchanged`, `commit`, `push`, `retry`, `done`.
//! `GIT_TERMINAL_PROMPT=0` is set: a missing credential fails instead of waiting for input.

use crate::step::{ProgressEvent, Reporter, Step, StepError};
use opendesk_render::yaml::parse_documents;
use std::ffi::OsString;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const STEP: &str = "push-rendered-manifests";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

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
        GitIdentity { name: "opendesk-render".into(), email: "opendesk-render@localhost".into() }
    }
}

/// The push step. Build with [`PushRenderedManifests::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct PushRenderedManifests {
    /// The rendered tree (holding `render-meta.yaml`).
    pub out_dir: PathBuf,
    /// Git URL of the instance repository (anything `git clone` accepts).
    pub repo: String,
    /// Branch (default `main`); created when the repository has none.
    pub branch: String,
    /// Folder inside the repository replaced by the tree (`instances/acme`; empty = the whole
    /// repository except `.git`).
    pub path: String,
    /// A checkout to reuse (fetched instead of cloned); `None` = a temp dir, removed afterwards.
    pub work_dir: Option<PathBuf>,
    /// Push attempts before giving up on concurrent pushes (default 5).
    pub max_attempts: u32,
    /// Commit author and committer.
    pub identity: GitIdentity,
    /// The git binary (default `git`).
    pub git: PathBuf,
    /// Extra environment for every git command (e.g. `GIT_SSH_COMMAND`).
    pub env: Vec<(OsString, OsString)>,
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
struct MetaFacts {
    input_digest: String,
    renderer_version: String,
    opendesk_version: String,
    instance: String,
}

fn read_meta(out: &Path) -> Result<MetaFacts, StepError> {
    let f = out.join(opendesk_render::output::META_FILE);
    let text = fs::read_to_string(&f).map_err(|e| {
        StepError::bad_input(STEP, format!("{}: {e} (is {} a rendered tree?)", f.display(), out.display()))
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

/// Validate a repository sub-path: relative, no `..`, no `.git` component. Returns it
/// normalised (`a/b`), empty for the repository root.
pub fn check_repo_path(path: &str) -> Result<String, StepError> {
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) if s != ".git" => parts.push(s.to_string_lossy().to_string()),
            Component::CurDir => {}
            _ => {
                return Err(StepError::bad_input(
                    STEP,
                    format!("--path {path:?} must be a relative folder inside the repository (no `..`, no `.git`)"),
                ))
            }
        }
    }
    Ok(parts.join("/"))
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
    let shown = if path.is_empty() { "." } else { path };
    format!(
        "{subject}\n\nRendered tree for {shown}.\n\nInput-Digest: {}\nRenderer-Version: {}\nOpenDesk-Version: {}\n",
        m.input_digest,
        m.renderer_version,
        if m.opendesk_version.is_empty() { "unknown" } else { &m.opendesk_version }
    )
}

/// Removes a directory on drop.
struct TempWork(Option<PathBuf>);

impl Drop for TempWork {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = fs::remove_dir_all(p);
        }
    }
}

struct Git<'a> {
    step: &'a PushRenderedManifests,
    dir: PathBuf,
}

impl Git<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let s = self.step;
        let mut c = Command::new(&s.git);
        c.current_dir(&self.dir)
            .args(["-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "advice.detachedHead=false"])
            .args(args)
            .env("GIT_AUTHOR_NAME", &s.identity.name)
            .env("GIT_AUTHOR_EMAIL", &s.identity.email)
            .env("GIT_COMMITTER_NAME", &s.identity.name)
            .env("GIT_COMMITTER_EMAIL", &s.identity.email)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    fn raw(&self, args: &[&str]) -> Result<Output, StepError> {
        self.cmd(args).output().map_err(|e| {
            StepError::failed(
                STEP,
                format!("cannot run {}: {e} (is git installed and on PATH?)", self.step.git.display()),
            )
        })
    }

    fn ok(&self, args: &[&str]) -> Result<String, StepError> {
        let o = self.raw(args)?;
        if !o.status.success() {
            return Err(StepError::failed(
                STEP,
                format!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim()),
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }
}

/// Copy `from` into `to` (regular files and folders; hidden entries skipped; symlinks refused).
fn copy_tree(from: &Path, to: &Path) -> Result<usize, StepError> {
    let io = |p: &Path, e: std::io::Error| StepError::failed(STEP, format!("{}: {e}", p.display()));
    fs::create_dir_all(to).map_err(|e| io(to, e))?;
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
            n += copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            fs::copy(&src, &dst).map_err(|e| io(&src, e))?;
            n += 1;
        } else {
            return Err(StepError::bad_input(STEP, format!("{}: not a regular file or folder", src.display())));
        }
    }
    Ok(n)
}

/// Empty `dir` except `.git`.
fn clear_except_git(dir: &Path) -> Result<(), StepError> {
    let io = |p: &Path, e: std::io::Error| StepError::failed(STEP, format!("{}: {e}", p.display()));
    for e in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let e = e.map_err(|e| io(dir, e))?;
        if e.file_name() == ".git" {
            continue;
        }
        let p = e.path();
        let r = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.map_err(|e| io(&p, e))?;
    }
    Ok(())
}

fn rejected(o: &Output) -> bool {
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    out.lines().any(|l| l.starts_with('!') && l.contains("[rejected]"))
        || err.contains("non-fast-forward")
        || err.contains("fetch first")
}

impl PushRenderedManifests {
    /// A push of `out_dir` to `repo`, branch `main`, repository root; 5 attempts.
    pub fn new(out_dir: impl Into<PathBuf>, repo: impl Into<String>) -> Self {
        PushRenderedManifests {
            out_dir: out_dir.into(),
            repo: repo.into(),
            branch: "main".into(),
            path: String::new(),
            work_dir: None,
            max_attempts: 5,
            identity: GitIdentity::default(),
            git: PathBuf::from("git"),
            env: Vec::new(),
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

    fn check_inputs(&self) -> Result<String, StepError> {
        if self.repo.trim().is_empty() {
            return Err(StepError::bad_input(STEP, "--repo is empty"));
        }
        let b = self.branch.trim();
        if b.is_empty() || b.starts_with('-') || b.contains("..") || b.contains(char::is_whitespace) {
            return Err(StepError::bad_input(STEP, format!("--branch {:?} is not a branch name", self.branch)));
        }
        if !self.out_dir.is_dir() {
            return Err(StepError::bad_input(STEP, format!("{}: not a directory", self.out_dir.display())));
        }
        check_repo_path(&self.path)
    }

    /// Fetch the branch and check it out (forced, cleaned); `false` when the remote has none.
    fn sync(&self, g: &Git<'_>, r: &mut Reporter<'_>) -> Result<bool, StepError> {
        r.info("fetch", format!("fetching {} from {}", self.branch, self.repo));
        let head = format!("refs/heads/{}", self.branch);
        let remote_ref = format!("refs/remotes/origin/{}", self.branch);
        let listed = g.ok(&["ls-remote", "--heads", "origin", &head])?;
        if listed.lines().any(|l| l.split('\t').nth(1) == Some(head.as_str())) {
            g.ok(&["fetch", "-q", "--no-tags", "origin", &format!("+{head}:{remote_ref}")])?;
            g.ok(&["checkout", "-q", "-f", "-B", &self.branch, &remote_ref])?;
            g.ok(&["clean", "-q", "-ffdx"])?;
            Ok(true)
        } else {
            let _ = g.raw(&["update-ref", "-d", &remote_ref]);
            let _ = g.raw(&["update-ref", "-d", &head]);
            g.ok(&["symbolic-ref", "HEAD", &head])?;
            g.ok(&["read-tree", "--empty"])?;
            g.ok(&["clean", "-q", "-ffdx"])?;
            Ok(false)
        }
    }

    /// Replace the sub-path with the tree and stage it; true when something changed.
    fn replace_and_stage(&self, g: &Git<'_>, path: &str, r: &mut Reporter<'_>) -> Result<bool, StepError> {
        let target = if path.is_empty() { g.dir.clone() } else { g.dir.join(path) };
        if path.is_empty() {
            clear_except_git(&target)?;
        } else if let Ok(md) = fs::symlink_metadata(&target) {
            let res = if md.is_dir() { fs::remove_dir_all(&target) } else { fs::remove_file(&target) };
            res.map_err(|e| StepError::failed(STEP, format!("{}: {e}", target.display())))?;
        }
        let n = copy_tree(&self.out_dir, &target)?;
        r.info("replace", format!("{n} files into {}", if path.is_empty() { "." } else { path }));
        let spec = if path.is_empty() { "." } else { path };
        g.ok(&["add", "-A", "--", spec])?;
        let o = g.raw(&["diff", "--cached", "--quiet"])?;
        match o.status.code() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => {
                Err(StepError::failed(STEP, format!("git diff failed: {}", String::from_utf8_lossy(&o.stderr).trim())))
            }
        }
    }

    fn head(g: &Git<'_>) -> Option<String> {
        g.ok(&["rev-parse", "-q", "--verify", "HEAD"]).ok().filter(|s| !s.is_empty())
    }
}

impl Step for PushRenderedManifests {
    type Output = PushOutcome;

    fn name(&self) -> &'static str {
        STEP
    }

    fn run(&self, progress: &mut dyn FnMut(&ProgressEvent)) -> Result<PushOutcome, StepError> {
        let mut r = Reporter::new(STEP, progress);
        let path = self.check_inputs()?;
        let meta = read_meta(&self.out_dir)?;
        r.info(
            "start",
            format!(
                "{} → {} ({}:{})",
                self.out_dir.display(),
                self.repo,
                self.branch,
                if path.is_empty() { "." } else { &path }
            ),
        );

        let (dir, _cleanup) = match &self.work_dir {
            Some(d) => (d.clone(), TempWork(None)),
            None => {
                let d = std::env::temp_dir().join(format!(
                    "opendesk-push-{}-{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                ));
                (d.clone(), TempWork(Some(d)))
            }
        };
        fs::create_dir_all(&dir).map_err(|e| StepError::failed(STEP, format!("{}: {e}", dir.display())))?;
        if let (Ok(o), Ok(w)) = (fs::canonicalize(&self.out_dir), fs::canonicalize(&dir)) {
            if o.starts_with(&w) || w.starts_with(&o) {
                return Err(StepError::bad_input(
                    STEP,
                    format!("the work dir {} and the tree {} overlap", dir.display(), self.out_dir.display()),
                ));
            }
        }
        let g = Git { step: self, dir: dir.clone() };
        if !dir.join(".git").exists() {
            g.ok(&["init", "-q"])?;
            g.ok(&["remote", "add", "origin", &self.repo])?;
        } else {
            g.ok(&["remote", "set-url", "origin", &self.repo])?;
        }

        let message = commit_message(&meta, &path);
        let mut attempts = 0u32;
        loop {
            self.sync(&g, &mut r)?;
            if !self.replace_and_stage(&g, &path, &mut r)? {
                r.info("unchanged", "the repository already holds this tree; nothing to commit");
                return Ok(PushOutcome {
                    changed: false,
                    commit: Self::head(&g),
                    attempts,
                    input_digest: meta.input_digest,
                    renderer_version: meta.renderer_version,
                });
            }
            g.ok(&["commit", "-q", "--no-verify", "-m", &message])?;
            let sha = Self::head(&g).unwrap_or_default();
            r.info("commit", format!("committed {}", &sha[..sha.len().min(12)]));
            attempts += 1;
            r.info("push", format!("pushing to {} (attempt {attempts}/{})", self.branch, self.max_attempts));
            let o = g.raw(&["push", "--porcelain", "origin", &format!("HEAD:refs/heads/{}", self.branch)])?;
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
            let detail =
                format!("{} {}", String::from_utf8_lossy(&o.stdout).trim(), String::from_utf8_lossy(&o.stderr).trim());
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
            std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(attempts)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::StepErrorKind;

    fn git_available() -> bool {
        let ok = Command::new("git").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
        if !ok {
            assert!(std::env::var_os("CI").is_none(), "git is required in CI");
            eprintln!("SKIP: git not found");
        }
        ok
    }

    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "opendesk-push-test-{tag}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

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
                    twin.identity = GitIdentity { name: "twin".into(), email: "twin@example.org".into() };
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
        assert!(e.message.contains("gave up after 3 attempts"), "{e}");
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
        assert!(e.message.contains("denied by policy"), "{e}");
    }

    #[test]
    fn reused_work_dir_fetches() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("reuse");
        let remote = bare(&s);
        let out = s.0.join("out");
        let mut st = step(&out, &remote);
        st.work_dir = Some(s.0.join("work"));
        st.path = String::new();
        out_tree(&out, "sha256:1111", &[("a.yaml", "1\n")]);
        run(&st).unwrap();
        concurrent_push(&s, &remote, "b.txt", "theirs\n");
        // Leftovers in the work dir are discarded.
        fs::write(s.0.join("work/junk.txt"), "junk").unwrap();
        out_tree(&out, "sha256:2222", &[("a.yaml", "2\n")]);
        let o = run(&st).unwrap();
        assert!(o.changed);
        assert_eq!(o.attempts, 1);
        // Path empty = the whole repository is the tree (b.txt from the other clone is replaced).
        assert_eq!(remote_files(&remote), ["a.yaml", "render-meta.yaml"]);
        assert!(s.0.join("work/.git").is_dir());
    }

    #[test]
    fn bad_inputs() {
        let s = Scratch::new("bad");
        let out = s.0.join("out");
        fs::create_dir_all(&out).unwrap();
        let st = PushRenderedManifests::new(&out, "/nonexistent/repo.git");
        let e = run(&st).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("render-meta.yaml"), "{e}");
        for p in ["../x", "/abs", "a/.git/b"] {
            assert!(check_repo_path(p).is_err(), "{p}");
        }
        assert_eq!(check_repo_path("./instances//acme/").unwrap(), "instances/acme");
        assert_eq!(check_repo_path("").unwrap(), "");
        let mut cfg = opendesk_render::InstanceConfig::minimal("1.13.1");
        cfg.argocd.repo_url = "https://git.example.org/acme.git".into();
        cfg.argocd.path = "instances/acme".into();
        let p = PushRenderedManifests::from_config(&out, &cfg);
        assert_eq!(
            (p.repo.as_str(), p.branch.as_str(), p.path.as_str()),
            ("https://git.example.org/acme.git", "main", "instances/acme")
        );
        let mut st = st;
        st.branch = "--force".into();
        assert_eq!(run(&st).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn unreachable_remote_fails_cleanly() {
        if !git_available() {
            return;
        }
        let s = Scratch::new("unreachable");
        let out = s.0.join("out");
        out_tree(&out, "sha256:1111", &[("a.yaml", "1\n")]);
        let mut st = step(&out, &s.0.join("missing.git"));
        st.work_dir = Some(s.0.join("w"));
        let e = run(&st).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message.contains("ls-remote"), "{e}");
    }
}
