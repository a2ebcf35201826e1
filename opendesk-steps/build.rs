//! Embed the bundled example (`examples/`) so `opendesk-render render --out out/` works with
//! no input and no configuration, and name the git commit for `--version`.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The manifest dir as cargo passes it to this run (not `env!`, which is baked in when the
/// script is compiled and would name another checkout if the binary was copied there).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

/// `git` in the crate's dir with `args`; its trimmed stdout when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").current_dir(manifest_dir()).args(args).output().ok()?;
    let s = String::from_utf8(o.stdout).ok()?.trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// `OPENDESK_RENDER_VERSION` for `--version`: `0.1.0 (abc1234)` when built from a git checkout,
/// the bare version when built from a tarball (no `.git`, or no `git` installed). Reruns when
/// HEAD or the branch it points to moves.
fn version() {
    let pkg = env!("CARGO_PKG_VERSION");
    // Only this workspace's own checkout counts: a tarball unpacked inside some other git
    // repository must not print that repository's commit.
    let workspace = manifest_dir().join("..").canonicalize().ok();
    let own = git(&["rev-parse", "--show-toplevel"])
        .and_then(|t| Path::new(&t).canonicalize().ok())
        .is_some_and(|t| Some(t) == workspace);
    let commit = if own { git(&["rev-parse", "--short=12", "HEAD"]) } else { None };
    let Some(commit) = commit else {
        println!("cargo:rustc-env=OPENDESK_RENDER_VERSION={pkg}");
        return;
    };
    // Only files that exist: cargo counts a missing one as changed on every build. (A loose ref
    // that `git pack-refs` removes later is missing then, which reruns this once.)
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in &watch {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            if Path::new(&p).is_file() {
                println!("cargo:rerun-if-changed={p}");
            }
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
    let root = manifest_dir().join("../examples");
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
