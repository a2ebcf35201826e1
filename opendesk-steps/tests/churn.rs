//! Churn from random chart values, end to end: two renders whose inputs differ only in a
//! randomly generated Secret value and the checksum annotation that hashes it. `render
//! --previous-secrets` reports the changed key by name (warning; `--strict-secrets`: exit 1,
//! nothing written), and `diff` classifies every changed resource as churn.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opendesk-render")).args(args).output().expect("binary runs")
}

/// A helmfile output dir with one release whose chart generated `password` at random.
fn input(dir: &Path, password: &str, checksum: &str) {
    let d = dir.join("harbor/harbor/templates");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("secret.yaml"),
        format!("---\n# Source: harbor/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: harbor-core\ntype: Opaque\nstringData:\n  secret: \"{password}\"\n  username: \"admin\"\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("deployment.yaml"),
        format!("---\n# Source: harbor/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: harbor-core\nspec:\n  selector:\n    matchLabels: {{app: harbor}}\n  template:\n    metadata:\n      labels: {{app: harbor}}\n      annotations:\n        checksum/secret: {checksum}\n    spec:\n      containers:\n        - name: core\n          image: goharbor/harbor-core:v2.12.0\n          envFrom:\n            - secretRef: {{name: harbor-core}}\n"),
    )
    .unwrap();
}

#[test]
fn regenerated_values_are_reported_and_classified_as_churn() {
    let t = opendesk_render::testing::Scratch::new("churn");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/instance.yaml");
    let cfg = cfg.to_str().unwrap();
    let p = |n: &str| t.0.join(n).to_string_lossy().to_string();
    input(&t.0.join("in1"), "Zq8rW1xY7pLmN3vB", "1111aaaa");
    input(&t.0.join("in2"), "Hh5tK9sD2fGj6QwE", "2222bbbb");
    let r1 = run(&["render", &p("in1"), "--out", &p("out1"), "--config", cfg, "--secrets-out", &p("s1.json")]);
    assert_eq!(r1.status.code(), Some(0), "{}", String::from_utf8_lossy(&r1.stderr));

    // Strict: exit 1, nothing written.
    let strict = run(&[
        "render",
        &p("in2"),
        "--out",
        &p("out2"),
        "--config",
        cfg,
        "--previous-secrets",
        &p("s1.json"),
        "--strict-secrets",
        "--json",
    ]);
    assert_eq!(strict.status.code(), Some(1), "{}", String::from_utf8_lossy(&strict.stderr));
    assert!(!t.0.join("out2").exists());
    // The report says the exit code the process returns.
    let report: serde_json::Value = serde_json::from_slice(&strict.stdout).expect("--json report on stdout");
    assert_eq!(report["status"], "failed");
    assert_eq!(report["exitCode"], 1, "{report}");

    let r2 = run(&[
        "render",
        &p("in2"),
        "--out",
        &p("out2"),
        "--config",
        cfg,
        "--secrets-out",
        &p("s2.json"),
        "--previous-secrets",
        &p("s1.json"),
        "--json",
    ]);
    assert_eq!(r2.status.code(), Some(0), "{}", String::from_utf8_lossy(&r2.stderr));
    let all = format!("{}{}", String::from_utf8_lossy(&r2.stdout), String::from_utf8_lossy(&r2.stderr));
    for v in ["Zq8rW1xY7pLmN3vB", "Hh5tK9sD2fGj6QwE"] {
        assert!(!all.contains(v), "a value leaked: {all}");
    }
    let report: serde_json::Value = serde_json::from_slice(&r2.stdout).unwrap();
    let found: Vec<&serde_json::Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "secrets/value-changed").collect();
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(found[0]["resource"], "Secret/opendesk/harbor-core");
    let msg = found[0]["message"].as_str().unwrap();
    assert!(msg.contains(": secret (names only)") && !msg.contains("username"), "{msg}");
    assert!(msg.contains("randAlphaNum") && msg.contains("existingSecret"), "{msg}");

    // The trees differ only in churn.
    let d = run(&["diff", &p("out1"), &p("out2"), "--json"]);
    assert_eq!(d.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(d["changed"], true);
    assert!(d["counts"]["changed"].as_u64().unwrap() >= 1, "{d}");
    assert_eq!(d["counts"]["changed"], d["counts"]["churn"], "{d}");
    assert!(d["resources"].as_array().unwrap().iter().all(|r| r["churn"] == true), "{d}");
}
