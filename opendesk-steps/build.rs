//! Embed the bundled example (`examples/`) so `opendesk-render render --out out/` works with
//! no input and no configuration, and name the git commit for `--version`.
use std::path::{Path, PathBuf};
use std::process::Command;

/// `git` in the crate's dir with `args`; its trimmed stdout when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().ok()?;
    let s = String::from_utf8(o.stdout).ok()?.trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// `OPENDESK_RENDER_VERSION` for `--version`: `0.1.0 (abc1234)` when built from a git checkout,
/// the bare version when built from a tarball (no `.git`, or no `git` installed). Reruns when
/// HEAD or the branch it points to moves.
fn version() {
    let pkg = env!("CARGO_PKG_VERSION");
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        println!("cargo:rustc-env=OPENDESK_RENDER_VERSION={pkg}");
        return;
    };
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rustc-env=OPENDESK_RENDER_VERSION={pkg} ({commit})");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

fn main() {
    version();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut s = String::from("/// The bundled example: (path relative to examples/, text).\npub static EXAMPLE_FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        s.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", f.canonicalize().unwrap().display().to_string()));
    }
    s.push_str("];\n");
    std::fs::write(Path::new(&std::env::var("OUT_DIR").unwrap()).join("example_files.rs"), s).unwrap();
}
