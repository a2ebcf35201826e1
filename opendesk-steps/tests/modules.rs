//! Module renders end to end, with the real binary and real git (docs/output-and-push.md#modules):
//! a full render pushed, then a module render with a patch change pushed changes only that
//! module's files; the secret-skew guard fails on each kind of skew; a module render reads
//! only its own input folders. The renders here test scopes and guards, not the secret payload:
//! each is an explicit dry run (`--discard-secret-values`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{copy_dir, corpus, run_mixed as run, text, Tmp};

const GRAPH: &str = "../benches/corpus-release-graph.yaml";
const CONFIG: &str = "../benches/corpus-instance.yaml";

fn git_available() -> bool {
    let ok = Command::new("git").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok || std::env::var_os("CI").is_none(), "git is required in CI");
    ok
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

fn meta_field(meta: &str, key: &str) -> String {
    meta.lines().find_map(|l| l.strip_prefix(&format!("{key}: "))).unwrap_or("").to_string()
}

/// The built-in patches plus one that annotates the Jitsi Deployments (the "fix" a module
/// render ships).
fn patches_with_fix(dir: &Path) -> PathBuf {
    let p = dir.join("patches");
    copy_dir(Path::new("../runtime-patches/rendered-patches"), &p);
    std::fs::write(
        p.join("900-jitsi-fix.yaml"),
        "name: jitsi-fix\ndescription: a fix shipped by a module render\nselect:\n  release: jitsi\n  kind: \
         Deployment\nops:\n  - annotate: {example.org/fixed: \"true\"}\n",
    )
    .unwrap();
    p
}

#[test]
fn module_push_changes_only_its_release_and_merges_render_meta() {
    let Some(corpus) = corpus() else { return };
    if !git_available() {
        return;
    }
    let t = Tmp::new("push");
    let remote = t.0.join("remote.git");
    git(&t.0, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    let full = t.0.join("full");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &full,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&[&"push", &full, &"--repo", &remote, &"--path", &"instances/acme"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The base: the instance folder at the branch head.
    let clone = t.0.join("clone");
    git(&t.0, &["clone", "-q", remote.to_str().unwrap(), clone.to_str().unwrap()]);
    let base = clone.join("instances/acme");
    let before = read_tree(&base);
    let base_meta = String::from_utf8(before["render-meta.yaml"].clone()).unwrap();

    // Module render with the fix, against the base.
    let patches = patches_with_fix(&t.0);
    let out = t.0.join("module");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &out,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--patches",
        &patches,
        &"--module",
        &"jitsi",
        &"--base",
        &base,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = text(&o);
    assert!(s.contains("module jitsi: 1 of 1 release(s) rendered (jitsi)"), "{s}");
    assert!(s.contains("guards judged against the module: required-patch, orphan-synapse-sidecars"), "{s}");
    let module_tree = read_tree(&out);
    assert!(
        module_tree
            .keys()
            .all(|k| k == "render-meta.yaml" || k.starts_with("releases/jitsi/") || k == "applications/jitsi.yaml"),
        "{:?}",
        module_tree.keys().collect::<Vec<_>>()
    );
    assert!(!module_tree.contains_key("applications/acme-parent.yaml"));

    let o = run(&[&"push", &out, &"--repo", &remote, &"--path", &"instances/acme"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    git(&clone, &["pull", "-q", "--ff-only"]);
    let changed = git(&clone, &["diff", "--name-only", "HEAD~1", "HEAD"]);
    let changed: Vec<&str> = changed.lines().collect();
    assert!(changed.contains(&"instances/acme/render-meta.yaml"), "{changed:?}");
    assert!(changed.iter().any(|p| p.starts_with("instances/acme/releases/jitsi/")), "{changed:?}");
    for p in &changed {
        assert!(
            p.starts_with("instances/acme/releases/jitsi/")
                || *p == "instances/acme/applications/jitsi.yaml"
                || *p == "instances/acme/render-meta.yaml",
            "{p} changed by a module push of jitsi"
        );
    }
    let msg = git(&clone, &["log", "-1", "--format=%B"]);
    assert!(msg.contains("module jitsi") && msg.contains("Module: jitsi"), "{msg}");
    // Every other file is byte-identical.
    let after = read_tree(&base);
    for (k, v) in &before {
        if k.starts_with("releases/jitsi/") || k == "render-meta.yaml" {
            continue;
        }
        assert_eq!(after.get(k), Some(v), "{k} must be byte-identical");
    }
    assert_eq!(after.len(), before.len());

    // render-meta merged: the top level and the other releases stay; the module's entry and
    // the tree digest are what a full render with the fix writes.
    let merged = String::from_utf8(after["render-meta.yaml"].clone()).unwrap();
    assert_eq!(meta_field(&merged, "inputDigest"), meta_field(&base_meta, "inputDigest"));
    assert!(merged.contains("modules:\n  jitsi:\n    covers:\n      - jitsi\n"), "{merged}");
    let full2 = t.0.join("full2");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &full2,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--patches",
        &patches,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let full2_meta = std::fs::read_to_string(full2.join("render-meta.yaml")).unwrap();
    assert_eq!(meta_field(&merged, "outputDigest"), meta_field(&full2_meta, "outputDigest"));
    let section = |m: &str| m[m.find("releases:\n").unwrap()..m.find("\npatches:").unwrap()].to_string();
    assert_eq!(section(&merged), section(&full2_meta), "per-release entries equal a full render's");
    for (k, v) in read_tree(&full2) {
        if k != "render-meta.yaml" {
            assert_eq!(after.get(&k), Some(&v), "{k}: the pushed tree equals a full render with the fix");
        }
    }

    // Pushing the same module again changes nothing.
    let o = run(&[&"push", &out, &"--repo", &remote, &"--path", &"instances/acme"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no change"), "{}", text(&o));
    // The merged instance folder is a valid base for the next module render.
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &t.0.join("again"),
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--patches",
        &patches,
        &"--module",
        &"jitsi",
        &"--base",
        &base,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A module tree is never a base.
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &t.0.join("x"),
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"jitsi",
        &"--base",
        &out,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("module render's output"), "{}", text(&o));
    // A module push onto a branch without a full render is refused.
    let empty = t.0.join("empty.git");
    git(&t.0, &["init", "-q", "--bare", "-b", "main", empty.to_str().unwrap()]);
    let o = run(&[&"push", &out, &"--repo", &empty, &"--path", &"instances/acme"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("push a full render of the instance first"), "{}", text(&o));
}

#[test]
fn secret_skew_cases_fail_naming_secret_and_difference() {
    let Some(corpus) = corpus() else { return };
    let t = Tmp::new("skew");
    let full = t.0.join("full");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &full,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cfg = std::fs::read_to_string(CONFIG).unwrap();
    let module = |input: &Path, config: &str, extra: &[&str]| {
        let c = t.0.join("cfg.yaml");
        std::fs::write(&c, config).unwrap();
        let out = t.0.join("out");
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"render",
            &"--discard-secret-values",
            &input,
            &"--out",
            &out,
            &"--config",
            &c,
            &"--release-graph",
            &GRAPH,
            &"--module",
            &"jitsi",
            &"--base",
            &full,
        ];
        for e in extra {
            args.push(e);
        }
        run(&args)
    };
    // Unchanged: passes.
    let o = module(&corpus, &cfg, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Changed keyPrefix.
    let o = module(&corpus, &cfg.replace("keyPrefix: acme", "keyPrefix: other"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let s = text(&o);
    assert!(s.contains("Error[module/secret-skew]"), "{s}");
    assert!(s.contains("ExternalSecret opendesk/jitsi-jitsi-meet-jvb-secret (Secret \"jitsi-jitsi-meet-jvb-secret\", release jitsi): remoteRef.key differs (only in the base: acme/opendesk/jitsi-jitsi-meet-jvb-secret; only in the module: other/opendesk/jitsi-jitsi-meet-jvb-secret)"), "{s}");

    // A different store.
    let o = module(&corpus, &cfg.replace("name: stackit-sm", "name: vault"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "spec.secretStoreRef differs (base \"ClusterSecretStore/stackit-sm\", module \"ClusterSecretStore/vault\")"
        ),
        "{}",
        text(&o)
    );

    // A renamed Secret key, and a removed Secret: in a copy of the release's input.
    let input = t.0.join("input");
    copy_dir(&corpus.join("jitsi"), &input.join("jitsi"));
    let secrets = input.join("jitsi/jitsi-meet/templates/jvb/secret.yaml");
    let s = std::fs::read_to_string(&secrets).unwrap();
    assert!(s.contains("JVB_AUTH_PASSWORD:"), "{s}");
    std::fs::write(&secrets, s.replace("JVB_AUTH_PASSWORD:", "JVB_AUTH_PASS:")).unwrap();
    let o = module(&input, &cfg, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("ExternalSecret opendesk/jitsi-jitsi-meet-jvb-secret (Secret \"jitsi-jitsi-meet-jvb-secret\", release jitsi): remoteRef.property differs (only in the base: JVB_AUTH_PASSWORD; only in the module: JVB_AUTH_PASS)"), "{}", text(&o));
    std::fs::write(&secrets, &s).unwrap();
    std::fs::remove_file(input.join("jitsi/jitsi-meet/templates/jicofo/secret.yaml")).unwrap();
    let o = module(&input, &cfg, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Error[module/secret-removed]: ExternalSecret opendesk/jitsi-jitsi-meet-jicofo-secret (Secret \"jitsi-jitsi-meet-jicofo-secret\", release jitsi) is in the base"), "{}", text(&o));
    let o = module(&input, &cfg, &["--allow-secret-removal"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Warning[module/secret-removed]:"), "{}", text(&o));
    // A secret value the full render knew (the Redis password, a Secret of the redis release)
    // inlined in a Nextcloud env var: the module render cannot know it, the base shows it was
    // masked there, so the module render fails instead of writing it in plain text.
    let out = t.0.join("nc");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &out,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"nextcloud",
        &"--base",
        &full,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let s = text(&o);
    assert!(s.contains("Error[module/secret-value-unknown] Deployment/opendesk/opendesk-nextcloud"), "{s}");
    assert!(s.contains("at $.spec.template.spec.containers[0].env["), "{s}");
    assert!(!s.contains("redis-opendesk-secret"), "the value itself is never shown");
    assert!(!out.exists());
    // Without a base: exit 2; --no-base is explicit and printed.
    let out = t.0.join("nb");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &out,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"nextcloud",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("a module render needs --base DIR"), "{}", text(&o));
    assert!(!out.exists());
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &out,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"nextcloud",
        &"--no-base",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("--no-base: secret-skew guard SKIPPED"), "{}", text(&o));
    assert!(std::fs::read_to_string(out.join("render-meta.yaml")).unwrap().contains("noBase: true"));
    // Unknown module, and module flags without --module: exit 2.
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &out,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"nope",
        &"--no-base",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no module \"nope\"; the release graph declares: nubus, nextcloud"), "{}", text(&o));
    let o = run(&[&"render", &"--discard-secret-values", &corpus, &"--out", &out, &"--config", &CONFIG, &"--no-base"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--no-base only applies to a module render"), "{}", text(&o));
}

#[test]
fn module_render_reads_only_its_folders() {
    let Some(corpus) = corpus() else { return };
    let t = Tmp::new("only");
    // drawio (the corpus's smallest release) beside folders no render could read: a dangling
    // symlink, a symlink loop and a file that is not UTF-8.
    let input = t.0.join("input");
    copy_dir(&corpus.join("drawio"), &input.join("drawio"));
    std::os::unix::fs::symlink("/nonexistent/odr", input.join("ghost")).unwrap();
    std::fs::create_dir_all(input.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", input.join("loop/again")).unwrap();
    std::fs::create_dir_all(input.join("broken/t")).unwrap();
    std::fs::write(input.join("broken/t/a.yaml"), b"kind: \xff\n").unwrap();
    let out = t.0.join("out");
    let o = run(&[&"render", &"--discard-secret-values", &input, &"--out", &out, &"--config", &CONFIG]);
    assert_eq!(o.status.code(), Some(2), "a full render reads them: {}", text(&o));
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &input,
        &"--out",
        &out,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"drawio",
        &"--no-base",
        &"--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["summary"]["releases"], 1);
    assert_eq!(r["module"]["rendered"], serde_json::json!(["drawio"]));
    let files: Vec<String> = read_tree(&out).into_keys().collect();
    assert!(files.iter().all(|f| f == "render-meta.yaml" || f.contains("drawio")), "{files:?}");
    // The same module on the real corpus gives the same tree (nothing else was needed).
    let out2 = t.0.join("out2");
    let o = run(&[
        &"render",
        &"--discard-secret-values",
        &corpus,
        &"--out",
        &out2,
        &"--config",
        &CONFIG,
        &"--release-graph",
        &GRAPH,
        &"--module",
        &"drawio",
        &"--no-base",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read_tree(&out), read_tree(&out2));
}

#[test]
fn modules_command_lists_modules() {
    let o = run(&[&"modules", &"--release-graph", &GRAPH]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.starts_with("nubus: 3 release(s), waves identity (45), components (50)\n  ums-keycloak "), "{s}");
    let o = run(&[&"modules", &"--release-graph", &"../release-graph.yaml", &"--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let element = j.as_array().unwrap().iter().find(|m| m["key"] == "element").unwrap();
    assert!(element["releases"].as_array().unwrap().iter().all(|r| r["syncWave"] == 50));
    let t = Tmp::new("graph");
    let bad = t.0.join("g.yaml");
    std::fs::write(&bad, "waves:\n  - name: a\n    releases: [x]\nmodules:\n  m: [x, y]\n").unwrap();
    let o = run(&[&"modules", &"--release-graph", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("g.yaml:5:10: unknown release \"y\" in module \"m\""), "{}", text(&o));
}
