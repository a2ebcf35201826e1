//! Helpers shared by the CLI's integration tests: the binary run with an isolated git, scratch
//! dirs removed on drop, the corpus, copying a tree.
#![allow(dead_code)] // each test file uses a part of it

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

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

/// A fresh scratch dir under the temp dir, removed on drop.
#[allow(unused_imports)] // each test file uses a part of it
pub use opendesk_render::testing::Scratch as Tmp;

/// The corpus beside the repository, when present (a failure under CI when not).
#[allow(unused_imports)]
pub use opendesk_render::testing::corpus;

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
