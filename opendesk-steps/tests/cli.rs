//! The `opendesk-render` binary, end to end: every subcommand, every exit code, the `--json`
//! shape, and the bundled example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_opendesk-render"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

/// A scratch path under the system temp dir, removed (with everything under it) on drop, so
/// a run leaves nothing behind, passing or failing.
struct Tmp {
    /// The path handed to the test (a dir, or a file inside `remove`).
    path: PathBuf,
    /// What the drop removes.
    remove: PathBuf,
}

impl std::ops::Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Tmp {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.remove);
    }
}

fn tmp(name: &str) -> Tmp {
    let p = std::env::temp_dir().join(format!("odr-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    Tmp { path: p.clone(), remove: p }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn read_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

/// A `--secrets-out` path in a scratch dir of its own (removed on drop with the file).
fn secrets_file(name: &str) -> Tmp {
    let mut p = tmp(name);
    std::fs::create_dir_all(&p).unwrap();
    p.path = p.join("secrets.json");
    p
}

/// A helmfile output dir with the given files (`release/rel/path.yaml` → text).
fn input(name: &str, files: &[(&str, &str)]) -> Tmp {
    let d = tmp(name);
    for (p, t) in files {
        let f = d.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    }
    d
}

const CONFIG: &str = "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\nargocd: {repoURL: https://git.example.org/acme.git, path: instances/acme}\nsecretsManager: {storeRef: {kind: ClusterSecretStore, name: sm}, keyPrefix: acme}\n";

fn config(name: &str, text: &str) -> Tmp {
    let mut p = tmp(name);
    std::fs::create_dir_all(&p).unwrap();
    let f = p.join("instance.yaml");
    std::fs::write(&f, text).unwrap();
    p.path = f;
    p
}

const DEPLOY: &str = "---\n# Source: app/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: opendesk\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.org/app:1.0.0\n";

#[test]
fn version_and_help() {
    let o = run(&["--version"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
    for sub in ["render", "explain", "diff", "push", "schema", "patches"] {
        let o = run(&[sub, "--help"]);
        assert_eq!(code(&o), 0, "{sub} --help");
        assert!(String::from_utf8_lossy(&o.stdout).contains("Usage"), "{sub}");
    }
    for sub in ["render", "explain", "diff", "push"] {
        let o = run(&[sub, "--help"]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("Example"), "{sub} --help shows examples");
    }
    assert_eq!(code(&run(&["no-such-command"])), 2);
    assert_eq!(code(&run(&["render"])), 2, "missing --out is a usage error");
}

#[test]
fn bundled_example_renders_deterministically_on_any_thread_count() {
    let a = tmp("ex-a");
    let b = tmp("ex-b");
    let (sa, sb) = (secrets_file("ex-a-secrets"), secrets_file("ex-b-secrets"));
    let o = run(&["render", "--out", a.to_str().unwrap(), "--secrets-out", sa.to_str().unwrap(), "--threads", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("rendered 9 releases"), "{}", stderr(&o));
    let o = run(&["render", "--out", b.to_str().unwrap(), "--secrets-out", sb.to_str().unwrap(), "--threads", "2"]);
    assert_eq!(code(&o), 0);
    let (ta, tb) = (read_tree(&a), read_tree(&b));
    assert_eq!(ta, tb, "byte-identical trees on 1 and 2 threads");
    assert_eq!(std::fs::read(&*sa).unwrap(), std::fs::read(&*sb).unwrap(), "byte-identical payloads");
    assert!(ta.contains_key(Path::new("render-meta.yaml")));
    assert!(ta.contains_key(Path::new("applications/ums.yaml")));
    assert!(ta.keys().any(|k| k.starts_with("releases/ums")));
    // No plaintext Secret reaches the tree.
    for (p, bytes) in &ta {
        let t = String::from_utf8_lossy(bytes);
        assert!(!t.contains("\nkind: Secret\n"), "{} is a Secret", p.display());
    }
    // Re-rendering the written releases without patches gives the same resources.
    let c = tmp("ex-c");
    let o = run(&[
        "render",
        a.join("releases").to_str().unwrap(),
        "--out",
        c.to_str().unwrap(),
        "--no-patches",
        "--config",
        "../examples/instance.yaml",
        "--release-graph",
        "../examples/release-graph.yaml",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let tc = read_tree(&c);
    let rel = |t: &BTreeMap<PathBuf, Vec<u8>>| {
        t.iter()
            .filter(|(k, _)| k.starts_with("releases"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(rel(&ta), rel(&tc), "render of the rendered tree is a fixed point");
}

#[test]
fn json_report_shape() {
    let out = tmp("json");
    let o = run(&["render", "--out", out.to_str().unwrap(), "--discard-secret-values", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    for t in v["timings"].as_array_mut().unwrap() {
        t["ms"] = serde_json::json!(0.0);
    }
    // Pin the stable field names and the example's figures.
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    insta::assert_json_snapshot!("json_report_keys", keys);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["exitCode"], 0);
    assert_eq!(v["summary"]["releases"], 9);
    // The dry run says how many values it dropped (the example's 12); a render with
    // --secrets-out has no such field.
    assert_eq!(v["summary"]["secretValuesDiscarded"], 12);
    assert!(v["patches"].as_array().unwrap().iter().any(|p| p["name"] == "ums-probes" && p["changed"] == 1));
}

#[test]
fn bad_config_is_exit_2_with_position_and_nothing_written() {
    let cfg = config("badcfg", &format!("{CONFIG}secretManager: {{}}\n"));
    let out = tmp("badcfg-out");
    let o = run(&["render", "--out", out.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("instance.yaml:6:"), "{e}");
    assert!(e.contains("secretManager"), "{e}");
    assert!(!out.exists());
}

#[test]
fn bad_input_is_exit_2_with_file_line_col_and_caret() {
    let dir = input(
        "dupkey",
        &[(
            "helmfile-child.yaml-1a2b3c4d-app/app/templates/cm.yaml",
            "---\n# Source: x\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
        )],
    );
    let out = tmp("dupkey-out");
    let o = run(&[
        "render",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        config("dupcfg", CONFIG).to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("cm.yaml:6:3: duplicate key \"name\" (first defined on line 5)"), "{e}");
    assert!(e.contains("6 |   name: b") && e.contains("^"), "{e}");
    assert!(!out.exists());
}

#[test]
fn secrets_without_a_secret_store_is_exit_2_and_says_how_to_fix() {
    let dir = input("nosm", &[("app/app/templates/s.yaml", "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: opendesk}\ndata: {password: c2VjcmV0LXZhbHVl}\n")]);
    let cfg = config("nosm-cfg", "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\nsecretsManager: {storeRef: {kind: ClusterSecretStore, name: ''}, keyPrefix: acme}\n");
    let out = tmp("nosm-out");
    let o = run(&["render", dir.to_str().unwrap(), "--out", out.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("secretsManager"), "{e}");
    assert!(!e.contains("secret-value"), "no value in messages");
    assert!(!out.exists());
}

#[test]
fn failing_render_is_exit_1_and_leaves_existing_out_untouched() {
    // A required patch that matches nothing.
    let patches = input("req", &[("010-needs-a-thing.yaml", "name: needs-a-thing\ndescription: d\nrequired: true\nselect: {kind: Job, name: never}\nops:\n  - set: {path: \"$.spec.backoffLimit\", value: 1}\n")]);
    let dir = input("req-in", &[("app/app/templates/d.yaml", DEPLOY)]);
    let out = tmp("req-out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "old tree").unwrap();
    // An output tree of this tool (anything else is refused as --out).
    std::fs::write(out.join("render-meta.yaml"), "old meta\n").unwrap();
    let before = read_tree(&out);
    let o = run(&[
        "render",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        config("req-cfg", CONFIG).to_str().unwrap(),
        "--patches",
        patches.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("needs-a-thing"), "{}", stderr(&o));
    assert_eq!(read_tree(&out), before, "existing --out untouched");

    // A lint error: a ConfigMap value Kubernetes would not read as a string.
    let dir = input(
        "lint-in",
        &[(
            "app/app/templates/c.yaml",
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: opendesk}\ndata:\n  enabled: yes\n",
        )],
    );
    let o = run(&[
        "render",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        config("lint-cfg", CONFIG).to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(read_tree(&out), before);
}

#[test]
fn explain_shows_origin_and_patch_changes() {
    let o = run(&["explain", "--resource", "Deployment/opendesk/ums-udm-rest-api"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("nubus/charts/udm-rest-api/templates/deployment.yaml"), "{s}");
    assert!(s.contains("patch:ums-probes"), "{s}");
    assert_eq!(code(&run(&["explain", "--resource", "Deployment/opendesk/nope"])), 2);
}

#[test]
fn diff_exit_codes() {
    let a = tmp("diff-a");
    let b = tmp("diff-b");
    assert_eq!(code(&run(&["render", "--out", a.to_str().unwrap(), "--discard-secret-values"])), 0);
    assert_eq!(code(&run(&["render", "--out", b.to_str().unwrap(), "--discard-secret-values"])), 0);
    let f = b.join("releases/ums/deployment-ums-udm-rest-api.yaml");
    let t = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, t.replace("replicas: 1", "replicas: 2").replace("image:", "image:  ")).unwrap();
    let same = run(&["diff", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(code(&same), 0);
    let d = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code(&d), 1);
    let s = String::from_utf8_lossy(&d.stdout);
    assert!(s.contains("changed") && s.contains("ums:Deployment/opendesk/ums-udm-rest-api"), "{s}");
    assert!(s.contains("$.spec.replicas: 1 → 2"), "{s}");
    assert_eq!(s.lines().filter(|l| l.trim_start().starts_with('~')).count(), 1, "formatting is ignored: {s}");
    assert_eq!(code(&run(&["diff", a.to_str().unwrap(), "/nonexistent/odr"])), 2);
}

#[test]
fn patches_check_test_and_schema() {
    let o = run(&["patches", "check", "../runtime-patches"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bad = input("badpatch", &[("010-x.yaml", "name: x\nops:\n  - set: {path: \"$.a[\", value: 1}\n")]);
    let o = run(&["patches", "check", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("010-x.yaml:3:18"), "{}", stderr(&o));
    let o = run(&["patches", "test", "../runtime-patches"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(&["schema"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["title"], "opendesk-render patch");
}

#[test]
fn push_to_a_bare_repository() {
    let repo = tmp("bare.git");
    assert!(Command::new("git").args(["init", "-q", "--bare", repo.to_str().unwrap()]).status().unwrap().success());
    let out = tmp("push-out");
    assert_eq!(code(&run(&["render", "--out", out.to_str().unwrap(), "--discard-secret-values"])), 0);
    let o = run(&["push", out.to_str().unwrap(), "--repo", repo.to_str().unwrap(), "--path", "instances/acme"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("pushed"));
    let o = run(&["push", out.to_str().unwrap(), "--repo", repo.to_str().unwrap(), "--path", "instances/acme"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no change"));
}

#[test]
fn converted_secrets_need_secrets_out_or_an_explicit_dry_run() {
    // The bundled example converts 8 Secrets: without --secrets-out their values would be lost.
    let out = tmp("nosecrets-out");
    let o = run(&["render", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("error: 8 Secret(s) were converted to ExternalSecrets (12 value(s) for the secrets manager) but --secrets-out is missing"),
        "{e}"
    );
    assert!(e.contains("Give --secrets-out FILE") && e.contains("--discard-secret-values"), "{e}");
    assert!(!e.contains("rendered 9 releases"), "no summary of a render that wrote nothing: {e}");
    assert!(!out.exists(), "nothing written");
    // The same for an input dir of one's own, and a module-less render of one Secret.
    let dir = input("nosecrets-in", &[("app/app/templates/s.yaml", "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: opendesk}\nstringData: {password: kq8Zr2mVx7LpW4tN}\n")]);
    let cfg = config("nosecrets-cfg", CONFIG);
    let o = run(&["render", dir.to_str().unwrap(), "--out", out.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("1 Secret(s) were converted to ExternalSecrets (1 value(s)"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("kq8Zr2mVx7LpW4tN"));
    assert!(!out.exists());

    // --discard-secret-values: the explicit dry run; the summary says the values were dropped.
    let o = run(&["render", "--out", out.to_str().unwrap(), "--discard-secret-values"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "secret values DISCARDED (--discard-secret-values): 12 value(s) of 8 Secrets were not written anywhere"
        ),
        "{}",
        stderr(&o)
    );
    // It cannot be combined with a payload file.
    let so = secrets_file("nosecrets-so");
    let o = run(&[
        "render",
        "--out",
        out.to_str().unwrap(),
        "--secrets-out",
        so.to_str().unwrap(),
        "--discard-secret-values",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    assert!(!so.exists());
    // With --secrets-out the report has no secretValuesDiscarded.
    let o = run(&["render", "--out", out.to_str().unwrap(), "--secrets-out", so.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["summary"].get("secretValuesDiscarded"), None, "{}", v["summary"]);
    assert!(so.exists());

    // An input without Secrets needs no payload file.
    let dir = input("nosecrets-plain", &[("app/app/templates/d.yaml", DEPLOY)]);
    let plain = tmp("nosecrets-plain-out");
    let o =
        run(&["render", dir.to_str().unwrap(), "--out", plain.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("DISCARDED"), "{}", stderr(&o));
}

#[test]
fn secrets_wrapped_in_lists_are_converted_like_any_other() {
    // `kind: List` (as `kubectl get -o yaml` writes) and a typed `SecretList` whose items carry
    // no kind: both are flattened at load, so each Secret becomes an ExternalSecret.
    let list = "---\n# Source: app/templates/list.yaml\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: wrapped, namespace: opendesk}\n    stringData: {password: Wr4pped-In-A-List-9q}\n";
    let typed = "---\n# Source: app/templates/secretlist.yaml\napiVersion: v1\nkind: SecretList\nitems:\n- metadata:\n    name: typed\n    namespace: opendesk\n    annotations:\n      kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"token\":\"Typ3d-SecretList-Tk-4z\"}}'\n  stringData: {token: Typ3d-SecretList-Tk-4z}\n";
    let dir = input("lists", &[("app/app/templates/list.yaml", list), ("app/app/templates/secretlist.yaml", typed)]);
    let cfg = config("lists-cfg", CONFIG);
    let out = tmp("lists-out");
    let so = secrets_file("lists-secrets");
    let o = run(&[
        "render",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--secrets-out",
        so.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("ESO: 2 Secrets → ExternalSecrets"), "{}", stderr(&o));
    let tree = read_tree(&out);
    let files: Vec<String> =
        tree.keys().filter(|k| k.starts_with("releases")).map(|k| k.display().to_string()).collect();
    assert_eq!(files, ["releases/app/externalsecret-typed.yaml", "releases/app/externalsecret-wrapped.yaml"]);
    for (p, bytes) in &tree {
        let t = String::from_utf8_lossy(bytes);
        assert!(!t.contains("Wr4pped-In-A-List") && !t.contains("Typ3d-SecretList"), "a value in {}", p.display());
        assert!(!t.contains("kind: Secret\n") && !t.contains("kind: List"), "{}: {t}", p.display());
        assert!(!t.contains("last-applied-configuration"), "{}: {t}", p.display());
    }
    let payload = std::fs::read_to_string(&*so).unwrap();
    assert!(payload.contains("Wr4pped-In-A-List-9q") && payload.contains("Typ3d-SecretList-Tk-4z"));
    // explain names each item's own line and the list it came from.
    let o = run(&[
        "explain",
        dir.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--resource",
        "ExternalSecret/opendesk/wrapped",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("(app/app/templates/list.yaml:6)"), "{s}");
    assert!(s.contains("item 0 of the List at line 3"), "{s}");
}

#[test]
fn a_yaml_error_on_a_secret_line_never_prints_the_value() {
    let dir = input(
        "secret-syntax",
        &[("app/app/templates/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: opendesk}\nstringData:\n  password: Hunt3r2-Value: x\n")],
    );
    let cfg = config("secret-syntax-cfg", CONFIG);
    let out = tmp("secret-syntax-out");
    let file = dir.join("app/app/templates/s.yaml");
    let expected = format!(
        "error: {}:5:26: mapping values are not allowed in this context\n  |\n5 |   password: ***\n  |                          ^\n",
        file.display()
    );
    let o = run(&["render", dir.to_str().unwrap(), "--out", out.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert_eq!(stderr(&o), expected);
    let o = run(&["explain", dir.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert_eq!(stderr(&o), expected);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("Hunt3r2"));
    // The same line in a ConfigMap is shown as it is.
    let dir = input(
        "cm-syntax",
        &[("app/app/templates/c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: b: c\n")],
    );
    let o = run(&["render", dir.to_str().unwrap(), "--out", out.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert!(stderr(&o).contains("5 |   a: b: c\n"), "{}", stderr(&o));
}

#[test]
fn config_errors_never_print_redact_values_nor_url_credentials() {
    let out = tmp("cfgsecret-out");
    let base = "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\n";
    // argocd.repoURL with a token: a config error at its line, the token never shown.
    let cfg = config(
        "cfg-token",
        &format!("{base}argocd:\n  repoURL: https://oauth2:glpat-T0kenXyz@git.example.org/acme.git\n  path: instances/acme\n"),
    );
    let o =
        run(&["render", "--out", out.to_str().unwrap(), "--config", cfg.to_str().unwrap(), "--discard-secret-values"]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!(
            "error: {}:5:3: `argocd.repoURL` https://***@git.example.org/acme.git carries credentials",
            cfg.display()
        )),
        "{e}"
    );
    assert!(e.contains("5 |   repoURL: https://***@git.example.org/acme.git\n"), "{e}");
    assert!(!e.contains("T0kenXyz") && !e.contains("oauth2"), "{e}");
    assert!(!out.exists());
    // A bad redact.values entry: the position, never the value (nor its neighbours').
    for (name, redact, at, shown) in [
        ("cfg-rv1", "redact:\n  values:\n    - S3cretValue-1\n    - {a: S3cretValue-2}\n", ":7:7:", "7 |     - ***\n"),
        ("cfg-rv2", "redact:\n  values: S3cretValue-3\n", ":5:11:", "5 |   values: ***\n"),
        ("cfg-rv3", "redact:\n  valuez: [S3cretValue-4]\n", ":5:3:", "5 |   valuez: ***\n"),
    ] {
        let cfg = config(name, &format!("{base}{redact}"));
        let o = run(&[
            "render",
            "--out",
            out.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--discard-secret-values",
        ]);
        assert_eq!(code(&o), 2, "{name}");
        let e = stderr(&o);
        assert!(e.contains(at) && e.contains(shown), "{name}: {e}");
        assert!(!e.contains("S3cretValue"), "{name}: {e}");
    }
}

#[test]
fn diff_never_prints_a_secret_value_found_in_another_resource() {
    // Two trees holding a plaintext Secret (as a tree from elsewhere may), the new one with the
    // Secret's password in a ConfigMap's config file and as a value.
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: opendesk}\ndata:\n  password: RGlmZi1TZWNyZXQtOXZr\n";
    let cm = |extra: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app, namespace: opendesk}}\ndata:\n  app.ini: |\n    [db]\n    user = app\n{extra}")
    };
    let a =
        input("diffsec-a", &[("releases/app/secret-db.yaml", secret), ("releases/app/configmap-app.yaml", &cm(""))]);
    let b = input(
        "diffsec-b",
        &[
            ("releases/app/secret-db.yaml", secret),
            (
                "releases/app/configmap-app.yaml",
                &cm("    password = Diff-Secret-9vk\n  DB_PASSWORD: Diff-Secret-9vk\n"),
            ),
        ],
    );
    for format in [&[][..], &["--json"][..], &["--markdown"][..]] {
        let mut args = vec!["diff", a.to_str().unwrap(), b.to_str().unwrap()];
        args.extend_from_slice(format);
        let o = run(&args);
        assert_eq!(code(&o), 1, "{format:?}: {}", stderr(&o));
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(!all.contains("Diff-Secret-9vk") && !all.contains("RGlmZi1TZWNyZXQtOXZr"), "{format:?}: {all}");
        assert!(all.contains("<redacted>"), "{format:?}: {all}");
    }
    let o = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("+password = <redacted>") && s.contains("$.data.DB_PASSWORD = \"<redacted>\""), "{s}");
}

#[test]
fn a_token_in_the_repo_url_never_shows_in_push_or_plan() {
    let out = tmp("tokenurl-out");
    assert_eq!(code(&run(&["render", "--out", out.to_str().unwrap(), "--discard-secret-values"])), 0);
    // Nothing listens on port 9: git fails; every line it and we print hides the token.
    let url = "https://user:Tok3n-Never-Shown@127.0.0.1:9/acme.git";
    for cmd in [&["push"][..], &["plan"][..], &["push", "--dry-run"][..]] {
        let mut args = cmd.to_vec();
        args.extend_from_slice(&[out.to_str().unwrap(), "--repo", url, "--path", "instances/acme", "--timeout", "20"]);
        let o = bin().args(&args).env("GIT_TERMINAL_PROMPT", "0").output().unwrap();
        assert_ne!(code(&o), 0, "{cmd:?}");
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(!all.contains("Tok3n-Never-Shown"), "{cmd:?}: {all}");
        assert!(all.contains("https://***@127.0.0.1:9/acme.git"), "{cmd:?}: {all}");
    }
}
