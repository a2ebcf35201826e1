//! Git as a careful user: the hardened git handling that `push` and `plan` share.
//!
//! - **A private work dir**: `opendesk-<tag>-<32 hex>` (random, from the OS-seeded hasher) in the
//!   temp dir (or a given parent), created with `mkdir` mode 0700 (fails on anything that
//!   already exists, symlinks included: never reused), removed on drop, so on every return and
//!   unwinding path; the CLI also turns SIGINT/SIGTERM/SIGHUP into a clean failure
//!   ([`install_interrupt_handler`]) so the drop runs.
//! - **No foreign code**: every git command runs with `core.hooksPath=/dev/null`,
//!   `core.fsmonitor=false`, `protocol.ext.allow=never`, `core.symlinks=false` (a committed
//!   symlink is checked out as a plain file), submodule recursion off, `git init --template=`
//!   (no template hooks), and without the inherited repository-location variables (`GIT_DIR`,
//!   `GIT_WORK_TREE`, `GIT_INDEX_FILE`, `GIT_CONFIG_PARAMETERS`, …) that would point it at
//!   another repository.
//! - **Bounded**: every git command has a time limit (`--timeout`, default 300 s); on expiry
//!   its whole process group (git, ssh, remote helpers) is killed.
//! - **Credentials never printed**: [`redact_url`] on every message that shows the URL or git's
//!   own output (`https://***@host/…`).
//! - **Validated names**: [`check_repo_path`], [`check_branch`], [`check_repo`].

use std::ffi::OsString;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Default time limit of one git command (`--timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The `-c` settings every git command runs with.
const HARDENING: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "protocol.ext.allow=never",
    "core.symlinks=false",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.untrackedCache=false",
    "advice.detachedHead=false",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// Inherited variables that would point git at another repository or inject config.
const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_QUARANTINE_PATH",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_REPLACE_REF_BASE",
    "GIT_GRAFT_FILE",
    "GIT_SHALLOW_FILE",
    "GIT_TEMPLATE_DIR",
];

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static COUNTER: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Make SIGINT, SIGTERM and SIGHUP end the running git command and fail the step cleanly (so
/// the work dir is removed) instead of killing the process. For the CLI; a library caller
/// keeps its own signal handling.
pub fn install_interrupt_handler() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }
}

/// True once a signal arrived after [`install_interrupt_handler`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `scheme://user:token@host/…` → `scheme://***@host/…`, for every URL in `s` (git's own
/// messages included). Other text is unchanged.
pub fn redact_url(s: &str) -> String {
    opendesk_render::scrub::redact_url_credentials(s).into_owned()
}

/// Validate `--path`: a clean relative folder with at least one normal component (no `.`,
/// `..`, `.git`, empty segment, absolute path, `:` pathspec magic, glob or backslash). One
/// trailing `/` is allowed. Returns it without the trailing `/`.
pub fn check_repo_path(path: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("--path {path:?} {why}"));
    let p = path.strip_suffix('/').unwrap_or(path);
    if p.is_empty() {
        return bad("must name a folder inside the repository (e.g. instances/acme): the tree replaces that folder, and replacing the repository root would delete everything else in it");
    }
    if p.starts_with('/') {
        return bad("must be relative to the repository root");
    }
    if p.starts_with(':') {
        return bad("must not start with `:` (git pathspec magic)");
    }
    if let Some(c) = p.chars().find(|c| matches!(c, '*' | '?' | '[' | ']' | '\\') || c.is_control()) {
        return bad(&format!("must not contain {c:?} (globs, backslashes and control characters are refused)"));
    }
    for seg in p.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return bad("must be a clean path (no empty, `.` or `..` segments)");
        }
        if seg.eq_ignore_ascii_case(".git") {
            return bad("must not contain a `.git` segment");
        }
    }
    Ok(p.to_string())
}

/// Validate `--branch`: not `HEAD`, `@` or a `refs/…` name, and accepted unchanged by
/// `git check-ref-format --branch`.
pub fn check_branch(git: &Path, branch: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("--branch {branch:?} {why}"));
    if branch.is_empty() {
        return bad("is empty");
    }
    if branch == "HEAD" || branch == "@" {
        return bad("is not a branch name (give the branch, e.g. main)");
    }
    if branch.starts_with("refs/") {
        return bad(&format!(
            "must be a branch name, not a ref (use {:?})",
            branch.strip_prefix("refs/heads/").unwrap_or(branch)
        ));
    }
    if branch.starts_with('-') || branch.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("is not a valid branch name");
    }
    let mut c = Command::new(git);
    scrub(&mut c);
    c.args(["check-ref-format", "--branch", branch]).current_dir(std::env::temp_dir()).stdin(Stdio::null());
    let o = c.output().map_err(|e| format!("cannot run {}: {e} (is git installed and on PATH?)", git.display()))?;
    if !o.status.success() || String::from_utf8_lossy(&o.stdout).trim_end_matches('\n') != branch {
        return bad("is not a valid branch name (git check-ref-format --branch refuses it)");
    }
    Ok(())
}

/// What `--repo` names, after [`check_repo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// What git is given (a local path made absolute, since git runs in the work dir).
    pub url: String,
    /// For messages: credentials replaced by `***`.
    pub shown: String,
}

/// Validate `--repo`: not empty, not an option, not an `ext::` remote (which runs a command); a
/// local path (or `file://`) must exist. Local paths are made absolute.
pub fn check_repo(repo: &str) -> Result<RepoUrl, String> {
    let shown = redact_url(repo);
    if repo.trim().is_empty() {
        return Err("--repo is empty".into());
    }
    if repo.starts_with('-') {
        return Err(format!("--repo {shown:?} looks like an option"));
    }
    if repo.chars().any(char::is_control) {
        return Err(format!("--repo {shown:?} contains a control character"));
    }
    if repo.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("ext::")) || repo.starts_with("fd::") {
        return Err(format!(
            "--repo {shown:?}: {} remotes run a local command; refused",
            &repo[..repo.find("::").unwrap_or(0)]
        ));
    }
    let local = if let Some(p) = repo.strip_prefix("file://") {
        Some(p.to_string())
    } else if repo.contains("://") || repo.contains("::") {
        None
    } else {
        // git's rule: `host:path` (scp-like) when a `:` comes before the first `/`.
        match (repo.find(':'), repo.find('/')) {
            (Some(c), Some(s)) if c < s => None,
            (Some(_), None) => None,
            _ => Some(repo.to_string()),
        }
    };
    let Some(local) = local else {
        return Ok(RepoUrl { url: repo.to_string(), shown });
    };
    let p = Path::new(&local);
    if fs::metadata(p).is_err() {
        return Err(format!("--repo {shown:?}: no such repository (the local path does not exist)"));
    }
    let abs = std::path::absolute(p).map_err(|e| format!("--repo {shown:?}: {e}"))?;
    let url = abs.to_string_lossy().to_string();
    Ok(RepoUrl { shown: redact_url(&url), url })
}

fn scrub(c: &mut Command) {
    for k in SCRUBBED_ENV {
        c.env_remove(k);
    }
}

fn random_hex() -> String {
    // RandomState is seeded from the OS's random source once per process; mixing in a counter,
    // the time and the pid gives a fresh 128-bit name per call.
    let mut h = String::new();
    for _ in 0..2 {
        let mut s = std::collections::hash_map::RandomState::new().build_hasher();
        s.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        s.write_u32(std::process::id());
        s.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.push_str(&format!("{:016x}", s.finish()));
    }
    h
}

/// The result of one git command.
#[derive(Debug)]
pub struct GitOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error, URLs redacted.
    pub stderr: String,
}

/// A private work dir with a git repository in it; removed on drop.
pub struct Workspace {
    dir: PathBuf,
    git: PathBuf,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    /// Fixed identity for the commits (`None`: resolved from the user's git config).
    identity_env: Vec<(&'static str, String)>,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The user's identity for commits, with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// Author name and e-mail.
    pub author: (String, String),
    /// Committer name and e-mail.
    pub committer: (String, String),
}

impl Workspace {
    /// Create a fresh private work dir `opendesk-<tag>-<random>` under `parent` (default: the
    /// temp dir) and `git init` it.
    pub fn create(
        tag: &str,
        parent: Option<&Path>,
        git: &Path,
        env: &[(OsString, OsString)],
        timeout: Duration,
    ) -> Result<Workspace, String> {
        let parent = parent.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
        let mut last = None;
        for _ in 0..8 {
            let d = parent.join(format!("opendesk-{tag}-{}", random_hex()));
            match fs::DirBuilder::new().mode(0o700).create(&d) {
                Ok(()) => {
                    let md = fs::symlink_metadata(&d).map_err(|e| format!("{}: {e}", d.display()))?;
                    // SAFETY: geteuid has no preconditions.
                    let uid = unsafe { libc::geteuid() };
                    if !md.is_dir() || md.uid() != uid {
                        return Err(format!("{}: the new work dir is not ours; refusing to use it", d.display()));
                    }
                    // The umask may have narrowed it further; make it exactly 0700.
                    fs::set_permissions(&d, fs::Permissions::from_mode(0o700))
                        .map_err(|e| format!("{}: {e}", d.display()))?;
                    let dir = fs::canonicalize(&d).map_err(|e| format!("{}: {e}", d.display()))?;
                    let ws =
                        Workspace { dir, git: git.to_path_buf(), env: env.to_vec(), timeout, identity_env: Vec::new() };
                    ws.ok(&["init", "-q", "--template="])?;
                    return Ok(ws);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(format!("cannot create a work dir in {}: {e}", parent.display())),
            }
        }
        Err(format!(
            "cannot create a fresh work dir in {}: {}",
            parent.display(),
            last.map_or(String::new(), |e| e.to_string())
        ))
    }

    /// The work dir (canonical).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Use `ident` for every later commit.
    pub fn set_identity(&mut self, ident: &Ident) {
        self.identity_env = vec![
            ("GIT_AUTHOR_NAME", ident.author.0.clone()),
            ("GIT_AUTHOR_EMAIL", ident.author.1.clone()),
            ("GIT_COMMITTER_NAME", ident.committer.0.clone()),
            ("GIT_COMMITTER_EMAIL", ident.committer.1.clone()),
        ];
    }

    fn env_var(&self, k: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.to_string_lossy().to_string())
            .or_else(|| std::env::var(k).ok())
            .filter(|v| !v.trim().is_empty())
    }

    fn config(&self, key: &str) -> Option<String> {
        self.run(&["config", "--get", key])
            .ok()
            .filter(|o| o.status.success())
            .map(|o| o.stdout.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The user's identity as git would take it: `GIT_AUTHOR_*` / `GIT_COMMITTER_*`, else
    /// `user.name` / `user.email` (global and system config), else `fallback`.
    pub fn user_identity(&self, fallback: (&str, &str)) -> Ident {
        let name = self.config("user.name");
        let email = self.config("user.email");
        let author = (
            self.env_var("GIT_AUTHOR_NAME").or(name.clone()).unwrap_or_else(|| fallback.0.to_string()),
            self.env_var("GIT_AUTHOR_EMAIL").or(email.clone()).unwrap_or_else(|| fallback.1.to_string()),
        );
        let committer = (
            self.env_var("GIT_COMMITTER_NAME").or(name).unwrap_or_else(|| fallback.0.to_string()),
            self.env_var("GIT_COMMITTER_EMAIL").or(email).unwrap_or_else(|| fallback.1.to_string()),
        );
        Ident { author, committer }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.git);
        scrub(&mut c);
        for h in HARDENING {
            c.args(["-c", h]);
        }
        c.args(args)
            .current_dir(&self.dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(self.identity_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout or an interrupt ends git and every helper
            // it started (ssh, git-remote-https), and a terminal's Ctrl-C reaches only us.
            .process_group(0);
        c
    }

    /// Run git with the time limit; `Err` when it cannot start, timed out or was interrupted.
    pub fn run(&self, args: &[&str]) -> Result<GitOutput, String> {
        if interrupted() {
            return Err("interrupted".into());
        }
        let what = format!("git {}", redact_url(&args.join(" ")));
        let mut child = self
            .command(args)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e} (is git installed and on PATH?)", self.git.display()))?;
        let pgid = child.id() as libc::pid_t;
        let reader = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = reader(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let err = reader(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let start = Instant::now();
        let mut sleep = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {}
                Err(e) => return Err(format!("{what}: {e}")),
            }
            let stop = if interrupted() {
                Some("interrupted".to_string())
            } else if start.elapsed() >= self.timeout {
                Some(format!(
                    "{what} timed out after {} s (--timeout): the remote did not answer",
                    self.timeout.as_secs_f64()
                ))
            } else {
                None
            };
            if let Some(why) = stop {
                // SAFETY: signalling our child's process group, which it leads.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                let _ = child.wait();
                return Err(why);
            }
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(Duration::from_millis(25));
        };
        // A helper that escaped the group could hold the pipes open; its output is not needed.
        // SAFETY: as above; the group may already be gone (ESRCH is fine).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).to_string();
        let stderr = redact_url(String::from_utf8_lossy(&err.join().unwrap_or_default()).trim());
        Ok(GitOutput { status, stdout, stderr })
    }

    /// Run git; its trimmed stdout on success, else an error with its stderr.
    pub fn ok(&self, args: &[&str]) -> Result<String, String> {
        let o = self.run(args)?;
        if !o.status.success() {
            return Err(format!("git {} failed: {}", redact_url(&args.join(" ")), o.stderr));
        }
        Ok(o.stdout.trim().to_string())
    }

    /// Fetch `branch` from `url` and check it out, forced and cleaned; an orphan branch when the
    /// remote has none (then `Ok(false)`). Refuses (Err with `bad = true`) a commit that holds
    /// a symlink on `path` or inside it.
    pub fn checkout(&self, url: &str, branch: &str, path: &str) -> Result<bool, (bool, String)> {
        let f = |e: String| (false, e);
        let head = format!("refs/heads/{branch}");
        let remote_ref = format!("refs/remotes/origin/{branch}");
        let listed = self.ok(&["ls-remote", "--heads", url, &head]).map_err(f)?;
        if listed.lines().any(|l| l.split('\t').nth(1) == Some(head.as_str())) {
            self.ok(&["fetch", "-q", "--no-tags", "--no-write-fetch-head", url, &format!("+{head}:{remote_ref}")])
                .map_err(f)?;
            self.refuse_symlinks(&remote_ref, path)?;
            self.ok(&["checkout", "-q", "-f", "-B", branch, &remote_ref]).map_err(f)?;
            self.ok(&["clean", "-q", "-ffdx"]).map_err(f)?;
            Ok(true)
        } else {
            let _ = self.run(&["update-ref", "-d", &remote_ref]);
            let _ = self.run(&["update-ref", "-d", &head]);
            self.ok(&["symbolic-ref", "HEAD", &head]).map_err(f)?;
            self.ok(&["read-tree", "--empty"]).map_err(f)?;
            self.ok(&["clean", "-q", "-ffdx"]).map_err(f)?;
            Ok(false)
        }
    }

    /// A symlink (mode 120000) in `rev` on `path` (itself or a parent folder) or inside it.
    fn refuse_symlinks(&self, rev: &str, path: &str) -> Result<(), (bool, String)> {
        let mut prefixes = Vec::new();
        let mut acc = String::new();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(seg);
            prefixes.push(acc.clone());
        }
        let top = if prefixes.is_empty() {
            String::new()
        } else {
            let mut args = vec!["ls-tree", "-z", rev, "--"];
            args.extend(prefixes.iter().map(String::as_str));
            self.ok(&args).map_err(|e| (false, e))?
        };
        // An empty path (only `plan` allows one) means the whole tree.
        let inside = if path.is_empty() {
            self.ok(&["ls-tree", "-r", "-z", rev]).map_err(|e| (false, e))?
        } else {
            self.ok(&["ls-tree", "-r", "-z", rev, "--", &format!("{path}/")]).map_err(|e| (false, e))?
        };
        for entry in top.split('\0').chain(inside.split('\0')) {
            if let Some((meta, name)) = entry.split_once('\t') {
                if meta.starts_with("120000 ") {
                    return Err((
                        true,
                        format!(
                            "the repository holds a symlink at {name:?} (on or inside --path {path:?}); refusing to write through it: replace it by a folder in the repository first"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Check that `p` (inside the work dir) may be written: its parent resolves inside the work
    /// dir and `p` itself is not a symlink.
    pub fn check_write(&self, p: &Path) -> Result<(), String> {
        let parent = p.parent().ok_or_else(|| format!("{}: no parent", p.display()))?;
        let real = fs::canonicalize(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        if !real.starts_with(&self.dir) {
            return Err(format!(
                "{} resolves outside the work dir {}; refusing to write",
                p.display(),
                self.dir.display()
            ));
        }
        if fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!("{} is a symlink; refusing to write through it", p.display()));
        }
        Ok(())
    }

    /// Create folder `p` inside the work dir (its parent must exist), checked.
    pub fn create_dir(&self, p: &Path) -> Result<(), String> {
        self.check_write(p)?;
        match fs::create_dir(p) {
            Ok(()) => Ok(()),
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists
                    && fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }

    /// Create the parents of `p` inside the work dir, each checked.
    pub fn create_parents(&self, p: &Path) -> Result<(), String> {
        let rel = p.strip_prefix(&self.dir).map_err(|_| format!("{} is outside the work dir", p.display()))?;
        let mut cur = self.dir.clone();
        let comps: Vec<_> = rel.components().collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(c);
            self.create_dir(&cur)?;
        }
        Ok(())
    }

    /// Copy regular file `src` to the new file `dst` inside the work dir (never following or
    /// replacing anything at `dst`).
    pub fn copy_file(&self, src: &Path, dst: &Path) -> Result<(), String> {
        self.check_write(dst)?;
        // Never a FIFO or a device (opened without blocking, refused by type before a read).
        let mut from = opendesk_render::fsio::open_regular(src).map_err(|e| e.to_string())?;
        let mut to = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dst)
            .map_err(|e| format!("{}: {e}", dst.display()))?;
        std::io::copy(&mut from, &mut to).map_err(|e| format!("{}: {e}", dst.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("https://user:tok3n@git.example.org/a.git"), "https://***@git.example.org/a.git");
        assert_eq!(
            redact_url("fatal: unable to access 'https://x-token:glpat-abc@h/r/': 403"),
            "fatal: unable to access 'https://***@h/r/': 403"
        );
        assert_eq!(redact_url("ssh://git@h:22/r and https://h/r"), "ssh://***@h:22/r and https://h/r");
        assert_eq!(redact_url("git@h:r.git"), "git@h:r.git");
        assert_eq!(redact_url("https://a:b@c@h/"), "https://***@h/");
    }

    #[test]
    fn paths() {
        assert_eq!(check_repo_path("instances/acme/").unwrap(), "instances/acme");
        assert_eq!(check_repo_path("a").unwrap(), "a");
        for p in [
            "", ".", "./a", "a/./b", "a//b", "../x", "a/..", "/abs", ":(glob)*", "a/*", "a?", "a[b]", "a\\b",
            "a/.git/b", ".GIT", "a\nb", "/",
        ] {
            assert!(check_repo_path(p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn branches() {
        let git = Path::new("git");
        if Command::new(git).arg("--version").output().is_err() {
            return;
        }
        for b in ["main", "feat/x", "release-1.13"] {
            assert!(check_branch(git, b).is_ok(), "{b}");
        }
        for b in ["HEAD", "@", "refs/heads/main", "-f", "a..b", "a.lock", "@{-1}", "a b", "", "x~1", "a:b"] {
            assert!(check_branch(git, b).is_err(), "{b}");
        }
    }

    #[test]
    fn repos() {
        assert!(check_repo("").is_err());
        assert!(check_repo("--upload-pack=x").is_err());
        assert!(check_repo("ext::sh -c id").is_err());
        assert!(check_repo("/nonexistent/repo.git").unwrap_err().contains("no such repository"));
        assert!(check_repo("file:///nonexistent/repo.git").is_err());
        assert!(check_repo("relative/missing").is_err());
        let r = check_repo("https://u:secret@h/r.git").unwrap();
        assert_eq!(r.shown, "https://***@h/r.git");
        assert_eq!(check_repo("git@h:r.git").unwrap().url, "git@h:r.git");
        let here = check_repo(".").unwrap();
        assert!(Path::new(&here.url).is_absolute());
    }
}
