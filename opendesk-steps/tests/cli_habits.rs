//! The habits operators expect of a CLI (issue 20): shell completions that parse, a man page
//! that renders, `--quiet`, `--color` and `NO_COLOR`, "did you mean" for config keys and patch
//! primitives, plurals and sizes in the summary, `patches list|new|test|check` for authors.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_opendesk-render");

// A scratch dir under the system temp dir, removed on drop (pass or fail).
use opendesk_render::testing::Scratch as Tmp;

/// A path inside `t`, as an argument.
fn s(t: &Tmp, p: &str) -> String {
    t.join(p).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("NO_COLOR").output().expect("binary runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn has(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd} >/dev/null")]).status().is_ok_and(|s| s.success())
}

#[test]
fn completions_parse_in_their_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", err(&o));
        assert!(out(&o).contains("opendesk-render"), "{shell}");
        assert!(out(&o).contains("patches"), "{shell}: subcommands are completed");
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2), "an unknown shell is a usage error");
    let t = Tmp::new("completions");
    for (shell, check) in [("bash", "bash -n"), ("zsh", "zsh -n"), ("fish", "fish --no-execute")] {
        let exe = check.split(' ').next().unwrap();
        if !has(exe) {
            eprintln!("skipped the {shell} syntax check: {exe} is not installed");
            continue;
        }
        let f = t.join(shell);
        std::fs::write(&f, run(&["completions", shell]).stdout).unwrap();
        let st = Command::new("sh").args(["-c", &format!("{check} {}", f.display())]).output().unwrap();
        assert!(st.status.success(), "{check} rejects the script: {}", err(&st));
    }
    assert!(has("bash"), "bash is needed to check the bash completions");
}

#[test]
fn man_page_renders() {
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let roff = out(&o);
    assert!(roff.starts_with(".ie") || roff.contains(".TH opendesk-render 1"), "{roff}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS", ".SH VERSION"] {
        assert!(roff.contains(section), "{section} in the man page");
    }
    assert!(roff.contains("completions") && roff.contains("\\-\\-quiet"), "lists subcommands and flags");
    if has("groff") {
        let t = Tmp::new("man");
        let f = t.join("opendesk-render.1");
        std::fs::write(&f, &o.stdout).unwrap();
        let r = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-P-cbou"]).arg(&f).output().unwrap();
        assert!(r.status.success(), "groff: {}", err(&r));
        assert!(err(&r).trim().is_empty(), "groff warnings: {}", err(&r));
        let text = out(&r);
        assert!(text.contains("NAME") && text.contains("opendesk-render"), "{text}");
    } else {
        eprintln!("groff not installed: structural check only");
    }
}

#[test]
fn version_names_the_commit_when_built_from_git() {
    let v = out(&run(&["--version"]));
    assert!(v.starts_with(&format!("opendesk-render {}", env!("CARGO_PKG_VERSION"))), "{v}");
    let in_git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(o) = in_git {
        let head = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert!(v.contains(&format!("({head})")), "{v} names {head}");
    }
}

#[test]
fn quiet_prints_errors_only() {
    let t = Tmp::new("quiet");
    let loud = run(&["render", "--out", &s(&t, "a"), "--secrets-out", &s(&t, "a.secrets.json")]);
    assert_eq!(loud.status.code(), Some(0));
    assert!(err(&loud).contains("Warning[") && err(&loud).contains("rendered 9 releases"), "{}", err(&loud));
    for flag in ["-q", "--quiet"] {
        let o = run(&[flag, "render", "--out", &s(&t, "b"), "--secrets-out", &s(&t, "b.secrets.json")]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        assert_eq!(err(&o), "", "{flag}: no warnings, no summary");
    }
    let o = run(&["render", "--out", &s(&t, "c"), "--secrets-out", &s(&t, "c.secrets.json"), "--quiet"]);
    assert_eq!(err(&o), "", "the flag works after the subcommand too");
    // An error still prints.
    let o = run(&[
        "-q",
        "render",
        "--out",
        &s(&t, "d"),
        "--secrets-out",
        &s(&t, "d.secrets.json"),
        "--config",
        "/nonexistent/instance.yaml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("error:"), "{}", err(&o));
}

#[test]
fn color_always_never_and_no_color() {
    let t = Tmp::new("color");
    let o = run(&["--color", "always", "render", "--out", &s(&t, "a"), "--secrets-out", &s(&t, "a.secrets.json")]);
    assert!(err(&o).contains("\x1b[1;33mWarning\x1b[0m["), "warnings are yellow: {:?}", err(&o));
    let o = run(&["--color", "never", "render", "--out", &s(&t, "b"), "--secrets-out", &s(&t, "b.secrets.json")]);
    assert!(!err(&o).contains('\x1b'), "{:?}", err(&o));
    let o = run(&["render", "--out", &s(&t, "c"), "--secrets-out", &s(&t, "c.secrets.json")]);
    assert!(!err(&o).contains('\x1b'), "auto into a pipe: no colour");
    let o = run(&["--color", "sometimes", "render", "--out", &s(&t, "x"), "--secrets-out", &s(&t, "x.secrets.json")]);
    assert_eq!(o.status.code(), Some(2));
    // On a terminal, auto colours unless NO_COLOR is set (`script` gives a pseudo-terminal).
    if !has("script") {
        eprintln!("skipped the terminal half: `script` is not installed");
        return;
    }
    let tty = |env: &str, out: &str| {
        let cmd = format!("{env} {BIN} render --out {} --secrets-out {}.secrets.json", s(&t, out), s(&t, out));
        let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).env_remove("NO_COLOR").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let screen = tty("TERM=xterm", "d");
    assert!(screen.contains("\x1b[1;33mWarning"), "a terminal gets colour: {screen:?}");
    let screen = tty("TERM=xterm NO_COLOR=1", "e");
    assert!(!screen.contains("\x1b[1;33m"), "NO_COLOR turns it off: {screen:?}");
}

#[test]
fn did_you_mean_for_config_keys_and_primitives() {
    let t = Tmp::new("dym");
    let cfg = t.join("instance.yaml");
    std::fs::write(&cfg, "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\nsecretManager: {}\n").unwrap();
    let o = run(&[
        "render",
        "--out",
        &s(&t, "out"),
        "--secrets-out",
        &s(&t, "out.secrets.json"),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("did you mean `secretsManager`?"), "{}", err(&o));
    let p = t.join("patches");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("010-x.yaml"), "name: x\ndescription: d\nops:\n  - setDefualt: {path: \"$.a\", value: 1}\n")
        .unwrap();
    let o = run(&["patches", "check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("did you mean `setDefault`?"), "{}", err(&o));
    assert!(err(&o).contains("1 patch file error\n"), "singular: {}", err(&o));
}

#[test]
fn summary_plurals_and_sizes() {
    let t = Tmp::new("summary");
    let o = run(&["render", "--out", &s(&t, "out"), "--secrets-out", &s(&t, "out.secrets.json")]);
    let e = err(&o);
    // The example has four warnings (the cert-manager Certificate without a CRD in the render:
    // validate/no-schema; three bundled patches whose releases the example does not have:
    // patches/dead; its inlined synapse password is fixed by an override): plural, and never
    // "1 warnings".
    assert!(e.contains("4 warnings,") && !e.contains("1 warnings"), "{e}");
    assert!(e.contains("0 env values → valueFrom.secretKeyRef"), "{e}");
    let dead: Vec<&str> = e.lines().filter(|l| l.starts_with("Warning[patches/dead]: patch `")).collect();
    assert_eq!(dead.len(), 3, "{e}");
    assert!(dead[0].contains("`nginx-mountpath` (070-nginx-mountpath.yaml:1) is in range"), "{e}");
    assert!(e.contains("\nvalidate: 34 resources checked against Kubernetes 1.31, 1 without a schema\n"), "{e}");
    assert!(!e.contains("0.0 MB"), "{e}");
    let line = e.lines().find(|l| l.starts_with("rendered ")).unwrap();
    // "rendered 9 releases: 35 documents in (N kB) → 35 resources out (M kB) into DIR"
    let (input, output) = line.split_once('→').unwrap();
    assert!(input.contains("documents in (") && input.contains(" kB)"), "input size beside the input: {line}");
    assert!(output.contains("resources out (") && output.contains(" kB)"), "output size beside the output: {line}");
}

#[test]
fn patches_list_text_and_json() {
    let o = run(&["patches", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = out(&o);
    assert!(s.starts_with("NO   NAME"), "{s}");
    assert!(s.contains("010  subpath-casing"), "{s}");
    let o = run(&["patches", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), opendesk_patches::default_set().unwrap().patches.len());
    for k in ["number", "name", "file", "appliesTo", "required", "description"] {
        assert!(rows[0].get(k).is_some(), "{k}");
    }
    assert!(rows.iter().any(|r| r["appliesTo"].is_string()), "some patch has a range");
}

#[test]
fn patches_new_then_accept_then_test_is_the_whole_loop() {
    let t = Tmp::new("new");
    let root = t.join("rp");
    std::fs::create_dir_all(root.join("rendered-patches")).unwrap();
    std::fs::write(
        root.join("rendered-patches/020-old.yaml"),
        "name: old\ndescription: d\nselect: {kind: Job, name: never}\nops: []\n",
    )
    .unwrap();
    let r = root.to_str().unwrap();
    let o = run(&["patches", "new", "job-backoff", "--kind", "Job", "--release", "bootstrap", "--dir", r]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let patch = root.join("rendered-patches/030-job-backoff.yaml");
    let fixture = root.join("fixtures/job-backoff/input.yaml");
    assert!(patch.is_file() && fixture.is_file(), "{}", out(&o));
    let text = std::fs::read_to_string(&patch).unwrap();
    assert!(text.contains("name: job-backoff") && text.contains("release: bootstrap") && text.contains("Bug: TODO"));
    // The scaffold is a valid patch file that does nothing yet, so `test` says what is missing.
    assert_eq!(run(&["patches", "check", r]).status.code(), Some(0));
    let o = run(&["patches", "test", r, "--only", "job-backoff", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["failed"], 1);
    let problems = v["fixtures"][0]["problems"].to_string();
    assert!(problems.contains("changed no fixture document") && problems.contains("no snapshot"), "{problems}");
    // The author writes the op; --accept writes the snapshot; then it passes.
    std::fs::write(&patch, text.replace("ops: []", "ops:\n  - setDefault: {path: \"$.spec.backoffLimit\", value: 20}"))
        .unwrap();
    let o = run(&["patches", "test", r, "--only", "job-backoff", "--accept"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(root.join("fixtures/job-backoff/snapshots/job-backoff.snap").is_file());
    let o = run(&["patches", "test", r, "--only", "job-backoff", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["status"].as_str(), v["passed"].as_u64()), (Some("ok"), Some(1)), "{v}");
    // Never overwrites; bad names are usage errors.
    let o = run(&["patches", "new", "job-backoff", "--kind", "Job", "--release", "bootstrap", "--dir", r]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("already exists"), "{}", err(&o));
    let o = run(&["patches", "new", "Bad_Name", "--kind", "Job", "--release", "x", "--dir", r]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn patches_check_json() {
    let o = run(&["patches", "check", "../runtime-patches", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert!(v["patches"].as_u64().unwrap() > 0);
    let t = Tmp::new("checkjson");
    std::fs::write(t.join("010-x.yaml"), "name: x\nops:\n  - set: {path: \"$.a[\", value: 1}\n").unwrap();
    let o = run(&["patches", "check", t.0.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["errors"][0]["line"], 3);
    assert!(v["errors"][0]["file"].as_str().unwrap().ends_with("010-x.yaml"));
}

#[test]
fn explain_accepts_the_namespace_a_resource_is_deployed_to() {
    let t = Tmp::new("explain-ns");
    let dir = t.join("in/app/app/templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("d.yaml"),
        "---\n# Source: app/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.org/app:1.0.0\n---\n# Source: app/templates/r.yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: app\nrules: []\n",
    )
    .unwrap();
    let cfg = t.join("instance.yaml");
    std::fs::write(&cfg, "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\nargocd: {repoURL: https://git.example.org/acme.git, path: instances/acme}\nsecretsManager: {storeRef: {kind: ClusterSecretStore, name: sm}, keyPrefix: acme}\n").unwrap();
    let ex = |res: &str| {
        run(&["explain", &s(&t, "in"), "--config", cfg.to_str().unwrap(), "--no-patches", "--resource", res, "--json"])
    };
    for res in ["Deployment/-/app", "Deployment/opendesk/app", "deployment/OPENDESK/app"] {
        let o = ex(res);
        assert_eq!(o.status.code(), Some(0), "{res}: {}", err(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // The output gives it the namespace it is deployed to; the `-` form still finds it.
        assert_eq!(v[0]["resource"], "Deployment/opendesk/app", "{res}");
    }
    assert_eq!(ex("Deployment/other/app").status.code(), Some(2), "only the namespace it is deployed to");
    assert_eq!(ex("ClusterRole/-/app").status.code(), Some(0));
    assert_eq!(ex("ClusterRole/opendesk/app").status.code(), Some(2), "a cluster-scoped kind has no namespace");
}

#[test]
fn rules_lists_the_checks_and_suggests_a_close_code() {
    let o = run(&["rules"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).starts_with("CODE") && out(&o).contains("lint/unknown-field"), "{}", out(&o));
    let o = run(&["rules", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().any(|c| c["code"] == "guard/scim" && c["tunable"] == false));
    let o = run(&["rules", "lint/unknown-field"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("lint/unknown-field (lint stage"), "{}", out(&o));
    let o = run(&["rules", "lint/unknown-feild"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("did you mean `lint/unknown-field`?"), "{}", err(&o));
}
