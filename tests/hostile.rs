//! Hostile input against the real binary (issue 8): every case must end with exit 2 (bad
//! input) or 1 (a guard or lint error), with a message naming the file and, where it applies,
//! line and column; within the time bound (support::time_bound), under a 1 GiB address-space
//! limit, without a panic or a stack overflow; and an existing `--out` must stay
//! byte-identical.
//!
//! The inputs are generated here (some are 50 MB); nothing large is committed.

use opendesk_e2e::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

const HEAD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";

/// A helmfile output dir with one release `rel` holding the given files (a [`Scene`], with
/// [`MIN_CONFIG`]), and an existing output tree.
struct Case {
    scene: Scene,
    out: PathBuf,
}

impl std::ops::Deref for Case {
    type Target = Scene;
    fn deref(&self) -> &Scene {
        &self.scene
    }
}

impl Case {
    fn new(tag: &str) -> Self {
        let scene = Scene::new(tag);
        let out = scene.tmp.join("out");
        std::fs::create_dir_all(scene.input.join("rel/chart/templates")).unwrap();
        // An existing output tree that no failed render may touch.
        write(&out, "releases/old/ConfigMap-old.yaml", "old: tree\n");
        write(&out, "render-meta.yaml", "old: meta\n");
        Case { scene, out }
    }

    /// Write `rel/chart/templates/<name>`; returns its full path (as the binary names it).
    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        write(&self.input, &format!("rel/chart/templates/{name}"), bytes)
    }

    fn render(&self, extra: &[&OsStr]) -> Outcome {
        self.scene.render_args(&self.out).extra(extra).run()
    }

    /// Render, expect `code`, check the message names `loc` and the old tree is untouched.
    fn fails(&self, what: &str, code: i32, loc: &str, extra: &[&OsStr]) -> Outcome {
        let before = snapshot(&self.out);
        let o = self.render(extra);
        o.expect(what, code).stderr_has(what, loc);
        assert_eq!(snapshot(&self.out), before, "{what}: the old --out changed");
        assert_eq!(hidden_entries(self.tmp.path()), Vec::<String>::new(), "{what}: temp dirs left beside --out");
        eprintln!("{what}: exit {code} in {:?}: {}", o.elapsed, o.stderr.lines().next().unwrap_or(""));
        o
    }
}

fn at(file: &Path, line: usize, col: usize) -> String {
    format!("{}:{line}:{col}", file.display())
}

#[test]
fn baseline_renders() {
    // The shape every case starts from renders fine: failures below are the hostile part's.
    let c = Case::new("baseline");
    c.file("cm.yaml", format!("{HEAD}data:\n  a: b\n"));
    c.render(&[]).expect("baseline", 0);
    assert!(c.out.join("releases/rel").is_dir());
}

#[test]
fn duplicate_keys() {
    let c = Case::new("dup");
    let f = c.file("cm.yaml", format!("{HEAD}  name: y\n"));
    c.fails("duplicate key", 2, &at(&f, 5, 3), &[]).stderr_has("duplicate key", "first defined on line 4");
    // In a later document of the same file, the lines are the file's.
    let f = c.file("cm.yaml", format!("{HEAD}---\n{HEAD}data:\n  a: 1\n  b: 2\n  a: 3\n"));
    c.fails("duplicate key, 2nd doc", 2, &at(&f, 13, 3), &[]).stderr_has("duplicate key", "first defined on line 11");
}

fn billion_laughs(indent: &str) -> String {
    let mut s = format!("{indent}a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        s.push_str(&format!("{indent}a{i}: &a{i} [{refs}]\n"));
    }
    s
}

#[test]
fn alias_bombs() {
    let c = Case::new("bomb");
    let f = c.file("cm.yaml", format!("{HEAD}data:\n{}", billion_laughs("  ")));
    let o = c.fails("billion laughs", 2, &format!("{}:", f.display()), &[]);
    o.stderr_has("billion laughs", "alias expansion exceeds 100000 nodes");
    // Many references to one big anchor (quadratic blow-up), not nested.
    let mut s = format!("{HEAD}data:\n  big: &big [{}]\n  refs:\n", vec!["x"; 5000].join(", "));
    for _ in 0..100 {
        s.push_str("    - *big\n");
    }
    let f = c.file("cm.yaml", s);
    c.fails("wide alias fan-out", 2, &format!("{}:", f.display()), &[]).stderr_has("fan-out", "alias expansion");
    // The same bomb in the instance config and the release graph (serde-saphyr's budget).
    c.file("cm.yaml", format!("{HEAD}data:\n  a: b\n"));
    let cfg = write(
        c.tmp.path(),
        "cfg.yaml",
        format!("opendeskVersion: 1.13.1\ninstance: a\nnamespace: b\nvalues:\n{}", billion_laughs("  ")),
    );
    c.fails("bomb in --config", 2, &format!("{}:", cfg.display()), &[OsStr::new("--config"), cfg.as_os_str()]);
    let g = write(c.tmp.path(), "graph.yaml", format!("waves: []\nneeds:\n{}", billion_laughs("  ")));
    c.fails(
        "bomb in --release-graph",
        2,
        &format!("{}:", g.display()),
        &[OsStr::new("--release-graph"), g.as_os_str()],
    );
}

#[test]
fn deep_nesting_flow_and_block() {
    let c = Case::new("deep");
    let depth = 200_000;
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  x: {}\n", "[".repeat(depth)));
    // saphyr-parser's own recursion limit (flow collections) or ours (MAX_DEPTH) answers.
    let o = c.fails("200k-deep flow sequence", 2, &format!("{}:6:", f.display()), &[]);
    assert!(o.stderr.contains("recursion limit exceeded") || o.stderr.contains("nesting deeper than"), "{}", o.stderr);
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  x: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth)));
    let o = c.fails("200k-deep flow mapping", 2, &format!("{}:6:", f.display()), &[]);
    assert!(o.stderr.contains("recursion limit exceeded") || o.stderr.contains("nesting deeper than"), "{}", o.stderr);
    // Block style: compact nested sequences (`- - - x`) nest one level per two bytes.
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  x:\n    {}x\n", "- ".repeat(depth)));
    c.fails("200k-deep block sequence", 2, &format!("{}:7:", f.display()), &[])
        .stderr_has("block", "nesting deeper than");
    // Block mappings, indentation growing by one per level, as deep as a 50 MB file allows.
    let mut s = format!("{HEAD}data:\n");
    for i in 0..2_000 {
        s.push_str(&" ".repeat(i + 2));
        s.push_str("k:\n");
    }
    let f = c.file("cm.yaml", s);
    c.fails("deep block mapping", 2, &format!("{}:", f.display()), &[]).stderr_has("block map", "nesting deeper than");
    // Config, graph and patch files go through serde-saphyr: its recursion limit answers.
    c.file("cm.yaml", format!("{HEAD}data:\n  a: b\n"));
    let cfg = write(
        c.tmp.path(),
        "cfg.yaml",
        format!("opendeskVersion: 1.13.1\ninstance: a\nnamespace: b\nvalues:\n  x: {}\n", "[".repeat(depth)),
    );
    c.fails("deep --config", 2, &format!("{}:5:", cfg.display()), &[OsStr::new("--config"), cfg.as_os_str()]);
    let g = write(c.tmp.path(), "graph.yaml", format!("waves: {}\n", "[".repeat(depth)));
    c.fails("deep --release-graph", 2, &format!("{}:", g.display()), &[OsStr::new("--release-graph"), g.as_os_str()]);
    let p = write(c.tmp.path(), "patches/010-deep.yaml", format!("name: deep\nops: {}\n", "[".repeat(depth)));
    let pd = c.tmp.join("patches");
    let before = snapshot(&c.out);
    let a = RenderArgs::new(&c.input, &c.out).config(&c.config).extra(&[OsStr::new("--patches"), pd.as_os_str()]);
    a.run().expect("deep patch file", 2).stderr_has("deep patch file", &format!("{}:", p.display()));
    assert_eq!(snapshot(&c.out), before);
}

#[test]
fn fifty_megabyte_scalar() {
    let c = Case::new("big");
    let big = "x".repeat(50 << 20);
    // A valid ConfigMap holding it: the API server would refuse the object, so a lint error
    // stops the render (exit 1) before anything is written.
    c.file("cm.yaml", format!("{HEAD}data:\n  big: {big}\n"));
    c.fails("50 MB value in a ConfigMap", 1, "rel/chart/templates/cm.yaml:", &[]).stderr_has("50 MB", "lint/too-large");
    // The whole document is one scalar.
    let f = c.file("cm.yaml", &big);
    c.fails("50 MB scalar document", 2, &at(&f, 1, 1), &[]).stderr_has("50 MB doc", "not a mapping");
    // An unclosed 50 MB double-quoted scalar.
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  big: \"{big}\n"));
    c.fails("50 MB unclosed quote", 2, &format!("{}:", f.display()), &[]);
    drop(big);
}

#[test]
fn invalid_utf8_and_binary_files() {
    let c = Case::new("utf8");
    let f = c.file("cm.yaml", b"apiVersion: v1\nkind: \xff\xfeConfigMap\n".as_slice());
    c.fails("invalid UTF-8", 2, &at(&f, 2, 7), &[]).stderr_has("utf8", "invalid UTF-8");
    std::fs::remove_file(&f).unwrap();
    // A PNG named .yaml.
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    let f = c.file("logo.yaml", png);
    c.fails("PNG named .yaml", 2, &at(&f, 1, 1), &[]).stderr_has("png", "invalid UTF-8");
    std::fs::remove_file(&f).unwrap();
    // Valid UTF-8 but binary: NUL and control bytes.
    let bin: Vec<u8> = (0u8..32).chain(0u8..32).collect();
    let f = c.file("blob.yaml", bin);
    c.fails("control bytes", 2, &format!("{}:", f.display()), &[]);
    std::fs::remove_file(&f).unwrap();
    // A gzip file named .yml.
    let f = c.file("x.yml", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00".as_slice());
    c.fails("gzip named .yml", 2, &at(&f, 1, 2), &[]).stderr_has("gzip", "invalid UTF-8");
}

#[test]
fn tabs_as_indentation() {
    let c = Case::new("tabs");
    let f = c.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n");
    c.fails("tab indentation", 2, &format!("{}:4:", f.display()), &[]);
    // saphyr points at the scalar before the tab (line 6), not at the tab itself (line 7).
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  a: 1\n\t b: 2\n"));
    c.fails("tab after spaces", 2, &format!("{}:6:", f.display()), &[]).stderr_has("tab", "found a tab");
}

#[test]
fn unclosed_quotes_and_flows() {
    let c = Case::new("unclosed");
    for (what, body, line) in [
        ("unclosed double quote", "data:\n  a: \"abc\n  b: c\n", 6),
        ("unclosed single quote", "data:\n  a: 'abc\n", 6),
        ("unclosed flow sequence", "data:\n  a: [x, y\n  b: c\n", 7),
        ("unclosed flow mapping", "data: {a: b, c: d\n", 6),
        ("unclosed quote in a flow", "data: {a: \"b}\n", 5),
    ] {
        let f = c.file("cm.yaml", format!("{HEAD}{body}"));
        let o = c.fails(what, 2, &format!("{}:", f.display()), &[]);
        // The position is inside the file and on or after the line that opened it.
        let pos = o.stderr.split(&format!("{}:", f.display())).nth(1).unwrap_or("");
        let l: usize = pos.split(':').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!((5..=line + 1).contains(&l), "{what}: line {l} in {}", o.stderr);
    }
}

#[test]
fn documents_that_are_not_mappings() {
    let c = Case::new("notmap");
    let f = c.file("cm.yaml", "just a scalar\n");
    c.fails("scalar document", 2, &at(&f, 1, 1), &[]).stderr_has("scalar", "document is a scalar, not a mapping");
    let f = c.file("cm.yaml", format!("{HEAD}---\n- a\n- b\n"));
    c.fails("list document", 2, &at(&f, 6, 1), &[]).stderr_has("list", "document is a sequence, not a mapping");
    let f = c.file("cm.yaml", "--- 42\n");
    c.fails("number document", 2, &at(&f, 1, 1), &[]);
}

#[test]
fn non_string_keys() {
    let c = Case::new("keys");
    // Complex keys cannot be Kubernetes keys at all: a load error.
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  ? [a, b]\n  : c\n"));
    c.fails("sequence as a key", 2, &format!("{}:6:", f.display()), &[])
        .stderr_has("complex", "mapping key must be a scalar");
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  {{a: b}}: c\n"));
    c.fails("mapping as a key", 2, &format!("{}:6:", f.display()), &[]);
    // Keys Kubernetes reads as something else than their text (`on` → "true", `0644` →
    // "420") or cannot read at all (`~`): a lint error, exit 1.
    for (key, line) in [("on", 6), ("0644", 6), ("~", 6), ("null", 6), ("0x1F", 6)] {
        c.file("cm.yaml", format!("{HEAD}data:\n  {key}: v\n"));
        c.fails(&format!("key {key}"), 1, &format!("rel/chart/templates/cm.yaml:{line}"), &[])
            .stderr_has(key, "lint/non-string-key");
    }
}

#[test]
fn symlink_loops() {
    let c = Case::new("symlink");
    c.file("cm.yaml", format!("{HEAD}data:\n  a: b\n"));
    let link = c.input.join("rel/chart/templates/loop");
    std::os::unix::fs::symlink("..", &link).unwrap();
    c.fails("directory link to a parent", 2, &link.display().to_string(), &[]).stderr_has("loop", "symlink loop");
    std::fs::remove_file(&link).unwrap();
    let selfy = c.input.join("rel/chart/templates/self.yaml");
    std::os::unix::fs::symlink("self.yaml", &selfy).unwrap();
    c.fails("file link to itself", 2, &selfy.display().to_string(), &[]);
    std::fs::remove_file(&selfy).unwrap();
    // Two links that point at each other.
    let a = c.input.join("rel/a");
    let b = c.input.join("rel/b");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    c.fails("mutual links", 2, &format!("{}", c.input.join("rel").display()), &[]);
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // The owner of a fresh file is the effective user.
    let t = TempDir::new("whoami");
    let p = write(t.path(), "f", "");
    std::fs::metadata(p).map(|m| m.uid() == 0).unwrap_or(false)
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let c = Case::new("unreadable");
    let f = c.file("cm.yaml", format!("{HEAD}data:\n  a: b\n"));
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&f).is_ok() {
        // Root reads through permissions. Run the binary as `nobody` when we can drop to it.
        let setpriv = Path::new("/usr/bin/setpriv");
        if !(is_root() && setpriv.is_file()) {
            eprintln!("skipping unreadable_file: permissions do not block reads here (root) and setpriv is missing");
            return;
        }
        // `nobody` must be able to reach the input, write --out's parent and run the binary.
        for d in [c.tmp.path().to_path_buf(), c.input.clone()] {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777));
        }
        let mut p = c.input.join("rel/chart/templates");
        while p.starts_with(c.tmp.path()) {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777));
            p.pop();
        }
        let bin = bin();
        if !can_run_as_nobody(bin) {
            eprintln!("skipping unreadable_file: running as root and `nobody` cannot run {}", bin.display());
            return;
        }
        let mut args: Vec<std::ffi::OsString> =
            ["--reuid=65534", "--regid=65534", "--clear-groups"].iter().map(Into::into).collect();
        args.push(bin.as_os_str().to_owned());
        args.extend(c.render_args(&c.out).to_vec());
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let mut cmd = limited(setpriv, &args);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let start = std::time::Instant::now();
        let child = cmd.spawn().unwrap();
        let o = wait(child, start, time_bound() * 2);
        o.expect("unreadable file (as nobody)", 2).stderr_has("unreadable", &f.display().to_string());
        o.stderr_has("unreadable", "ermission denied");
        eprintln!("unreadable file (as nobody): exit 2: {}", o.stderr.lines().next().unwrap_or(""));
        return;
    }
    c.fails("unreadable file", 2, &f.display().to_string(), &[]).stderr_has("unreadable", "ermission denied");
}

/// True when uid 65534 can execute `bin` (every parent directory searchable).
fn can_run_as_nobody(bin: &Path) -> bool {
    std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn output_dir_that_cannot_be_written() {
    let c = Case::new("unwritable");
    c.file("cm.yaml", format!("{HEAD}data:\n  a: b\n"));
    // --out below a regular file.
    let file = write(c.tmp.path(), "plain-file", "x");
    let out = file.join("out");
    c.render_args(&out).run().expect("--out below a file", 2).stderr_has("below a file", &file.display().to_string());
    // --out is an existing regular file.
    c.render_args(&file).run().expect("--out is a file", 2).stderr_has("out is a file", &file.display().to_string());
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    // --out on a read-only file system (procfs refuses new directories, even for root).
    let proc_out = PathBuf::from(format!("/proc/odr-e2e-{}", std::process::id()));
    c.render_args(&proc_out).run().expect("--out on procfs", 2).stderr_has("procfs", "/proc");
    // --secrets-out that cannot be written: nothing at all may be written, --out included.
    let before = snapshot(&c.out);
    let so = PathBuf::from(format!("/proc/odr-e2e-secrets-{}.json", std::process::id()));
    c.render(&[OsStr::new("--secrets-out"), so.as_os_str()])
        .expect("unwritable --secrets-out", 2)
        .stderr_has("secrets-out", &so.display().to_string());
    assert_eq!(snapshot(&c.out), before, "a failed --secrets-out write changed --out");
    assert_eq!(hidden_entries(c.tmp.path()), Vec::<String>::new());
}
