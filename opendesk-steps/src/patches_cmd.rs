//! `opendesk-render patches …`: `check`, `test` (both with `--json`), `list` (the built-in
//! set) and `new` (scaffold a patch file and its fixture dir). See docs/patch-authors.md.

use crate::cli::{print_snippet, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::term;
use std::path::{Path, PathBuf};

/// `patches check DIR [--json]`: 0 all valid, 2 an error (every error listed).
pub fn check(dir: &Path, json: bool) -> i32 {
    let r = opendesk_patches::check(dir);
    if json {
        let v = match &r {
            Ok(n) => serde_json::json!({"status": "ok", "exitCode": EXIT_OK, "patches": n, "errors": []}),
            Err(errors) => serde_json::json!({
                "status": "error",
                "exitCode": EXIT_USAGE,
                "errors": errors.iter().map(|e| serde_json::json!({
                    "file": e.file, "line": e.line, "col": e.col,
                    "message": crate::suggest::annotate(&e.message),
                })).collect::<Vec<_>>(),
            }),
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    match r {
        Ok(n) => {
            if !json && !term::quiet() {
                println!(
                    "{} OK in {}",
                    term::count(n, "patch", "patches"),
                    opendesk_patches::patches_dir(dir).display()
                );
            }
            EXIT_OK
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{}", term::paint_line(&crate::suggest::annotate(&format!("error: {e}"))));
                print_snippet(Path::new(&e.file), e.line, e.col);
            }
            eprintln!("{}", term::count(errors.len(), "patch file error", "patch file errors"));
            EXIT_USAGE
        }
    }
}

/// `patches test DIR [--accept] [--only NAME] [--json]`: 0 all passed, 1 a fixture failed, 2
/// the dir could not be read.
pub fn test(dir: &Path, accept: bool, only: Option<&str>, json: bool) -> i32 {
    let outcomes = if let Some(name) = only {
        opendesk_patches::run_fixture(dir, &dir.join("fixtures").join(name), accept).map(|o| vec![o])
    } else {
        opendesk_patches::run_fixtures(dir, accept)
    };
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}", term::paint_line(&format!("error: {e}")));
            if json {
                let v = serde_json::json!({"status": "error", "exitCode": EXIT_USAGE, "error": e});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            return EXIT_USAGE;
        }
    };
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    let code = if failed > 0 { EXIT_FAILED } else { EXIT_OK };
    if json {
        let v = serde_json::json!({
            "status": if failed > 0 { "failed" } else { "ok" },
            "exitCode": code,
            "passed": outcomes.len() - failed,
            "failed": failed,
            "fixtures": outcomes.iter().map(|o| serde_json::json!({
                "name": o.name,
                "passed": o.passed(),
                "snapshot": o.snapshot.display().to_string(),
                "snapshotWritten": o.accepted,
                "problems": o.problems,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return code;
    }
    for o in &outcomes {
        if o.passed() {
            if !term::quiet() || o.accepted {
                println!("ok      {}{}", o.name, if o.accepted { " (snapshot written: review it)" } else { "" });
            }
        } else {
            println!("{}  {}", term::paint("error", "FAILED"), o.name);
            for p in &o.problems {
                for (i, l) in p.lines().enumerate() {
                    println!("{}{l}", if i == 0 { "  - " } else { "    " });
                }
            }
        }
    }
    if !term::quiet() || failed > 0 {
        println!("{} passed, {} failed", outcomes.len() - failed, failed);
    }
    code
}

/// `patches list [--json]`: the built-in patch set, in application order.
pub fn list(json: bool) -> i32 {
    let set = match opendesk_patches::default_set() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", term::paint_line(&format!("error: the built-in patch set: {e}")));
            return EXIT_FAILED;
        }
    };
    let rows: Vec<serde_json::Value> = set
        .patches
        .iter()
        .map(|p| {
            let number = p.file.split_once('-').map(|(n, _)| n).filter(|n| n.chars().all(|c| c.is_ascii_digit()));
            serde_json::json!({
                "number": number,
                "name": p.name,
                "file": &*p.file,
                "appliesTo": p.applies_to.as_ref().map(|(t, _)| t),
                "required": p.required,
                "description": p.description.split_whitespace().collect::<Vec<_>>().join(" "),
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return EXIT_OK;
    }
    let w = rows.iter().map(|r| r["name"].as_str().unwrap_or("").len()).max().unwrap_or(4).max(4);
    println!("{:<4} {:<w$} {:<16} {:<8} DESCRIPTION", "NO", "NAME", "APPLIES TO", "REQUIRED");
    for r in &rows {
        let desc = r["description"].as_str().unwrap_or("");
        println!(
            "{:<4} {:<w$} {:<16} {:<8} {}",
            r["number"].as_str().unwrap_or("-"),
            r["name"].as_str().unwrap_or(""),
            r["appliesTo"].as_str().unwrap_or("*"),
            if r["required"].as_bool() == Some(true) { "yes" } else { "no" },
            first_sentence(desc)
        );
    }
    if !term::quiet() {
        eprintln!(
            "{} built in (`patches list --json` has the full descriptions); a patch added to runtime-patches/ joins this set when the binary is rebuilt",
            term::count(rows.len(), "patch", "patches")
        );
    }
    EXIT_OK
}

/// The description's first sentence (up to `. `), at most 72 characters, for the one-line
/// table; a cut one ends in `…`.
fn first_sentence(d: &str) -> String {
    let s = match d.find(". ") {
        Some(i) => &d[..=i],
        None => d,
    };
    if s.chars().count() <= 72 {
        return s.to_string();
    }
    let cut: String = s.chars().take(71).collect();
    format!("{}…", cut.trim_end())
}

/// A patch name: kebab-case ASCII (`[a-z0-9]+(-[a-z0-9]+)*`), since it names files and dirs.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// The next free number in `dir`: the highest `NNN` prefix plus 10, rounded down to a
/// multiple of 10 (`010` for an empty dir), three digits at least.
pub fn next_number(dir: &Path) -> std::io::Result<u32> {
    let mut max = 0;
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd.flatten() {
                let n = e.file_name();
                let n = n.to_string_lossy();
                if let Some(num) = n.split_once('-').and_then(|(a, _)| a.parse::<u32>().ok()) {
                    max = max.max(num);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok((max / 10 + 1) * 10)
}

/// The apiVersion a kind is usually rendered with (for the fixture template).
fn api_version(kind: &str) -> &'static str {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        "Ingress" | "NetworkPolicy" => "networking.k8s.io/v1",
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => "rbac.authorization.k8s.io/v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2",
        "PodDisruptionBudget" => "policy/v1",
        _ => "v1",
    }
}

/// A kind's minimal body in the fixture template.
fn body(kind: &str) -> &'static str {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            "spec:\n  template:\n    spec:\n      containers:\n        - name: main\n          image: registry.example.org/TODO:1.0.0\n"
        }
        "Job" => "spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: main\n          image: registry.example.org/TODO:1.0.0\n",
        "ConfigMap" => "data:\n  TODO: \"the bug shape\"\n",
        _ => "spec: {}  # TODO: the fields the bug is about\n",
    }
}

/// `patches new NAME --kind KIND --release RELEASE [DIR]`: write
/// `DIR/rendered-patches/NNN-NAME.yaml` (the next free number, a description template, a
/// `select` of the kind and release, no ops yet) and `DIR/fixtures/NAME/input.yaml` (a
/// bug-shape document and a control document to edit). Refuses to overwrite anything.
pub fn new(dir: &Path, name: &str, kind: &str, release: &str) -> i32 {
    match scaffold(dir, name, kind, release) {
        Ok((patch, fixture)) => {
            if !term::quiet() {
                println!("created {}", patch.display());
                println!("created {}", fixture.display());
                println!(
                    "next: write the ops and the description, make the fixture the real bug shape, then\n  opendesk-render patches test {} --only {name} --accept   # write the snapshot; review it\n  cargo test -p opendesk-patches                 # the fixtures and the corpus counts\n  cargo build -p opendesk-steps                  # the built-in set is compiled in: rebuild to ship it",
                    dir.display()
                );
            }
            EXIT_OK
        }
        Err(m) => {
            eprintln!("{}", term::paint_line(&format!("error: {m}")));
            EXIT_USAGE
        }
    }
}

fn scaffold(dir: &Path, name: &str, kind: &str, release: &str) -> Result<(PathBuf, PathBuf), String> {
    if !valid_name(name) {
        return Err(format!("patch name {name:?}: use kebab-case (a-z, 0-9, single dashes), e.g. `ums-probe-timeout`"));
    }
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("--kind {kind:?}: a Kubernetes kind such as Deployment or Job"));
    }
    if !valid_name(release) {
        return Err(format!("--release {release:?}: a helmfile release name (kebab-case), as in the output folders"));
    }
    let patches = dir.join("rendered-patches");
    let fixtures = dir.join("fixtures");
    if !dir.is_dir() {
        return Err(format!("{}: not a directory (give the runtime-patches root)", dir.display()));
    }
    let taken = std::fs::read_dir(&patches)
        .map(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.split_once('-')
                    .is_some_and(|(_, rest)| rest.trim_end_matches(".yaml").trim_end_matches(".yml") == name)
            })
        })
        .unwrap_or(false);
    if taken || fixtures.join(name).exists() {
        return Err(format!("a patch or fixture named {name} already exists under {}", dir.display()));
    }
    let num = next_number(&patches).map_err(|e| format!("{}: {e}", patches.display()))?;
    let patch = patches.join(format!("{num:03}-{name}.yaml"));
    let fixture_dir = fixtures.join(name);
    let fixture = fixture_dir.join("input.yaml");
    let patch_text = format!(
        "name: {name}\n\
         description: >-\n  \
         Bug: TODO what the chart renders (chart, template, the field) and why it breaks (which\n  \
         apply or controller rejects it, with the error). Fix: TODO what the ops change, and what\n  \
         they leave alone. Say \"shape not verified upstream\" when you could not check the chart.\n\
         # appliesTo: \">=1.13, <1.14\"   # only when the bug is bound to openDesk versions\n\
         # required: true               # fail the render when the patch matches nothing\n\
         select:\n  \
         kind: {kind}\n  \
         release: {release}\n\
         # TODO: the fix, one primitive per item (docs/patch-authors.md#primitives), e.g.\n\
         #   - setDefault: {{path: \"$.spec.backoffLimit\", value: 20}}\n\
         ops: []\n"
    );
    let api = api_version(kind);
    let b = body(kind);
    let fixture_text = format!(
        "# The bug shape, as Helm renders it (edit to the real one):\n\
         ---\n\
         # Release: {release}\n\
         # Source: TODO-chart/templates/TODO.yaml\n\
         apiVersion: {api}\n\
         kind: {kind}\n\
         metadata:\n  name: {release}-TODO\n  namespace: \"opendesk\"\n\
         {b}\
         # A document that must come out unchanged (same kind, another release):\n\
         ---\n\
         # Release: other-release\n\
         # Source: other-chart/templates/TODO.yaml\n\
         apiVersion: {api}\n\
         kind: {kind}\n\
         metadata:\n  name: other-TODO\n  namespace: \"opendesk\"\n\
         {b}"
    );
    std::fs::create_dir_all(&patches).map_err(|e| format!("{}: {e}", patches.display()))?;
    std::fs::create_dir_all(&fixture_dir).map_err(|e| format!("{}: {e}", fixture_dir.display()))?;
    write_new(&patch, &patch_text)?;
    if let Err(e) = write_new(&fixture, &fixture_text) {
        let _ = std::fs::remove_file(&patch);
        return Err(e);
    }
    Ok((patch, fixture))
}

/// Create `p` with `text`; an existing file is an error (never overwritten).
fn write_new(p: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert!(valid_name("ums-probes") && valid_name("x1"));
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "../x", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
        let d = std::env::temp_dir().join(format!("odr-patches-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(next_number(&d).unwrap(), 10, "a missing dir starts at 010");
        std::fs::create_dir_all(&d).unwrap();
        for f in ["010-a.yaml", "180-b.yaml", "185-c.yaml", "README.md"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        assert_eq!(next_number(&d).unwrap(), 190);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
