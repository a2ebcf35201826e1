//! Helpers shared by the CLI's integration tests: the binary run with an isolated git, scratch
//! dirs removed on drop, the corpus, copying a tree.
#![allow(dead_code)] // each test file uses a part of it

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `opendesk-render` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_opendesk-render");

/// Run the binary with an isolated git (no user or system config), a fixed git identity and
/// no fsync (the tests do not test durability).
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env("OPENDESK_RENDER_FSYNC", "0")
        .output()
        .expect("binary runs")
}

/// [`run`] with arguments of mixed types (`&[&"push", &path]`).
pub fn run_mixed(args: &[&dyn AsRef<OsStr>]) -> Output {
    run(args)
}

/// stdout, asserting exit 0 (stderr in the failure message).
pub fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh scratch dir under the temp dir, removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    /// `odr-<tag>-<pid>-<n>`, created empty.
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("odr-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `../shared/corpus/opendesk-like` beside the repository, when present. Under CI (`CI` set)
/// its absence is a failure, not a skip.
pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/opendesk-like");
    if p.is_dir() {
        return Some(p);
    }
    assert!(std::env::var_os("CI").is_none(), "corpus missing at {} (required when CI is set)", p.display());
    eprintln!("skipping: corpus not found at {}", p.display());
    None
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (s, d) = (e.path(), to.join(e.file_name()));
        if s.is_dir() {
            copy_dir(&s, &d);
        } else {
            std::fs::copy(&s, &d).unwrap();
        }
    }
}
