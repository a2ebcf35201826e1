//! The progress bar: drawn on stderr when it is a terminal, silent otherwise.

use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("odr-progress-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

const BIN: &str = env!("CARGO_BIN_EXE_opendesk-render");

#[test]
fn silent_when_stderr_is_not_a_terminal() {
    let out = tmp("pipe");
    for sub in [vec!["render", "--out", out.to_str().unwrap(), "--discard-secret-values"], vec!["explain"]] {
        let o = Command::new(BIN).args(&sub).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{sub:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains('\x1b') && !err.contains('\r'), "{sub:?}: no terminal control codes: {err:?}");
        assert!(!err.contains("applying patches"), "{sub:?}: no progress text: {err}");
    }
    let _ = std::fs::remove_dir_all(out);
}

/// Runs the binary under `script` (util-linux) to give it a pseudo-terminal; skipped where
/// `script` is not installed.
#[test]
fn drawn_on_a_terminal_then_cleared_before_the_summary() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` is not installed");
        return;
    }
    let out = tmp("tty");
    let cmd = format!("{BIN} render --out {} --discard-secret-values", out.display());
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(screen.contains("loading config, patches and input"), "{screen}");
    assert!(screen.contains("/13"), "a bar with the stage count: {screen}");
    assert!(screen.contains("\x1b[2K"), "the bar is cleared: {screen}");
    let summary = screen.find("rendered 9 releases").expect("summary printed");
    let last_bar = screen.rfind("/13 ").unwrap();
    assert!(last_bar < summary, "the bar is gone before the summary");
    assert!(out.join("render-meta.yaml").is_file());
    let _ = std::fs::remove_dir_all(out);
}
