//! The `RenderManifests` step: from a rendered dir, from a helmfile through a fake `helmfile`
//! on PATH, with `runtime-state.json`, and every bad-input and failure path.

use opendesk_steps::render_step::{RenderManifests, RuntimeState, Source, OUTPUT_DIR_TEMPLATE};
use opendesk_steps::step::{Level, ProgressEvent, Step, StepDetail, StepError, StepErrorKind};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("odr-step-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
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

const CONFIG: &str = "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\nargocd: {repoURL: https://git.example.org/acme.git, path: instances/acme}\nsecretsManager: {storeRef: {kind: ClusterSecretStore, name: sm}, keyPrefix: acme}\n";

const DEPLOY: &str = "---\n# Source: app/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: opendesk\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.org/app:1.0.0\n          ports:\n            - containerPort: 8080\n              protocol: \"\"\n";

const SECRET: &str = "---\n# Source: db/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: opendesk\nstringData:\n  password: dummy-db-password\n";

/// A small rendered helmfile output dir (`--output-dir-template …/{{ .Release.Name }}` layout).
fn known_rendered(root: &Path) -> PathBuf {
    let d = root.join("known");
    write(&d.join("app/app/templates/deploy.yaml"), DEPLOY);
    write(&d.join("db/db/templates/secret.yaml"), SECRET);
    d
}

/// A fake `helmfile` in `<root>/bin`: records its arguments in `<root>/args.txt`, then copies
/// `src` into `--output-dir` (or fails with `fail` on stderr).
fn fake_helmfile(root: &Path, src: &Path, fail: Option<&str>) -> OsString {
    let bin = root.join("bin");
    let action = match fail {
        Some(msg) => format!("echo 'fetching charts' ; echo '{msg}' >&2; exit 1"),
        None => format!("cp -R '{}'/. \"$out\"/", src.display()),
    };
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nout=\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    --output-dir) out=\"$2\"; shift 2;;\n    *) shift;;\n  esac\ndone\n[ -n \"$out\" ] || {{ echo 'no --output-dir' >&2; exit 3; }}\n{action}\n",
        root.join("args.txt").display()
    );
    write(&bin.join("helmfile"), &script);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("helmfile"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap()
}

fn step(root: &Path, config: &str) -> RenderManifests {
    let cfg = root.join("instance.yaml");
    write(&cfg, config);
    RenderManifests::new(cfg, root.join("out"))
}

fn run(s: &RenderManifests) -> (Result<opendesk_steps::render_step::RenderOutcome, StepError>, Vec<ProgressEvent>) {
    let mut events = Vec::new();
    let r = s.run(&mut |e| events.push(e.clone()));
    (r, events)
}

#[test]
fn helmfile_on_path_renders_the_same_tree_as_the_rendered_dir() {
    let root = tmp("helmfile");
    let known = known_rendered(&root);
    let path = fake_helmfile(&root, &known, None);
    write(&root.join("deploy/helmfile.yaml.gotmpl"), "releases: []\n");
    write(
        &root.join("deploy/runtime-state.json"),
        r#"{"instance": "acme", "environment": "prod", "namespace": "opendesk", "helmfile": "helmfile.yaml.gotmpl", "deployerOnly": {"x": 1}}"#,
    );
    let mut s = step(&root, CONFIG);
    s.runtime_state = Some(root.join("deploy/runtime-state.json"));
    s.search_path = Some(path);
    s.skip_deps = true;
    s.secrets_out = Some(root.join("secrets.json"));
    let (r, events) = run(&s);
    let o = r.unwrap();
    assert!(o.ran_helmfile);
    assert_eq!(o.environment.as_deref(), Some("prod"));
    assert_eq!(o.report.summary.releases, 2);
    assert_eq!(o.report.summary.eso_converted, 1);
    assert_eq!(o.secrets.value_count(), 1);
    assert!(std::fs::read_to_string(root.join("secrets.json")).unwrap().contains("dummy-db-password"));

    // The exact helmfile command line.
    let args: Vec<String> =
        std::fs::read_to_string(root.join("args.txt")).unwrap().lines().map(str::to_string).collect();
    let tmp_out = PathBuf::from(&args[8]);
    let expected: Vec<String> = [
        "-f",
        root.join("deploy/helmfile.yaml.gotmpl").to_str().unwrap(),
        "-e",
        "prod",
        "-n",
        "opendesk",
        "template",
        "--output-dir",
        tmp_out.to_str().unwrap(),
        "--output-dir-template",
        OUTPUT_DIR_TEMPLATE,
        "--skip-deps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(args, expected);
    assert!(!tmp_out.exists(), "helmfile's temp output dir is removed");

    // Events: start, state, helmfile, every render stage in order, done; on the calling thread.
    let phases: Vec<&str> = events.iter().map(|e| e.phase).collect();
    let mut want = vec!["start", "state", "helmfile"];
    want.extend(opendesk_steps::progress::stages());
    want.push("done");
    assert_eq!(phases, want);
    assert!(events.iter().all(|e| e.step == "render-manifests" && e.level == Level::Info));
    assert!(events[1].message.contains("instance, namespace, environment, helmfile"), "{}", events[1].message);
    assert!(events.iter().all(|e| !e.message.contains("dummy-db-password")));

    // Same tree as rendering the dir helmfile wrote, given directly.
    let mut d = step(&root, CONFIG);
    d.source = Some(Source::RenderedDir(known));
    d.out = root.join("out-direct");
    let od = d.run(&mut |_| {}).unwrap();
    assert!(!od.ran_helmfile);
    assert_eq!(od.report.input_digest, o.report.input_digest);
    assert_eq!(read_tree(&root.join("out")), read_tree(&root.join("out-direct")));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn environment_defaults_to_default_and_the_step_field_wins_over_the_state() {
    let root = tmp("env");
    let known = known_rendered(&root);
    let path = fake_helmfile(&root, &known, None);
    write(&root.join("helmfile.yaml"), "releases: []\n");
    let mut s = step(&root, CONFIG);
    s.source = Some(Source::Helmfile(root.join("helmfile.yaml")));
    s.search_path = Some(path);
    let (r, _) = run(&s);
    r.unwrap();
    let args = std::fs::read_to_string(root.join("args.txt")).unwrap();
    assert!(args.contains("-e\ndefault\n-n\nopendesk\n"), "{args}");
    assert!(!args.contains("--skip-deps"));

    write(&root.join("state.json"), r#"{"environment": "prod"}"#);
    s.runtime_state = Some(root.join("state.json"));
    s.environment = Some("staging".into());
    let (r, _) = run(&s);
    assert_eq!(r.unwrap().environment.as_deref(), Some("staging"));
    let args = std::fs::read_to_string(root.join("args.txt")).unwrap();
    assert!(args.contains("-e\nstaging\n"), "{args}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn helmfile_missing_is_bad_input_and_nothing_is_written() {
    let root = tmp("nohelmfile");
    write(&root.join("helmfile.yaml"), "releases: []\n");
    let mut s = step(&root, CONFIG);
    s.source = Some(Source::Helmfile(root.join("helmfile.yaml")));
    s.search_path = Some(root.join("empty-bin").into_os_string());
    let (r, _) = run(&s);
    let e = r.unwrap_err();
    assert_eq!(e.kind, StepErrorKind::BadInput);
    assert_eq!(e.exit_code(), 2);
    assert!(e.message().contains("`helmfile` is not on PATH"), "{e}");
    assert!(e.message().contains("rendered dir"), "says what to do instead: {e}");
    assert!(!root.join("out").exists());
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn helmfile_failure_is_a_failure_with_its_stderr_and_out_untouched() {
    let root = tmp("helmfail");
    let known = known_rendered(&root);
    let path = fake_helmfile(&root, &known, Some("Error: chart opendesk/nubus not found"));
    write(&root.join("helmfile.yaml"), "releases: []\n");
    write(&root.join("out/keep.txt"), "old tree");
    let mut s = step(&root, CONFIG);
    s.source = Some(Source::Helmfile(root.join("helmfile.yaml")));
    s.search_path = Some(path);
    let (r, _) = run(&s);
    let e = r.unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Failed);
    assert!(e.message().contains("helmfile template failed"), "{e}");
    assert!(e.message().contains("chart opendesk/nubus not found"), "{e}");
    assert_eq!(std::fs::read_to_string(root.join("out/keep.txt")).unwrap(), "old tree");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn rendered_dir_from_the_state_and_the_version_override() {
    let root = tmp("state");
    let ex = opendesk_steps::example::materialize().unwrap();
    let config = std::fs::read_to_string("../examples/instance.yaml").unwrap();
    // Relative renderedDir: resolved against the state file's folder.
    let rel = pathdiff(&ex.dir, &root);
    write(&root.join("runtime-state.json"), &format!(r#"{{"renderedDir": {rel:?}, "opendeskVersion": "1.18.0"}}"#));
    let mut s = step(&root, &config);
    s.runtime_state = Some(root.join("runtime-state.json"));
    s.inputs.release_graph = Some("../examples/release-graph.yaml".into());
    let (r, events) = run(&s);
    let o = r.unwrap();
    assert_eq!(o.input, root.join(&rel));
    assert_eq!(o.opendesk_version, "1.18.0");
    assert_eq!(o.report.opendesk_version, "1.18.0");
    let ingress = o.report.patches.iter().find(|p| p.name == "ox-appsuite-ingress").unwrap();
    assert!(ingress.skipped.is_some(), "appliesTo <1.17.0 is out of range for 1.18.0");
    let warn: Vec<&ProgressEvent> = events.iter().filter(|e| e.level == Level::Warning).collect();
    assert_eq!(warn.len(), 1);
    assert_eq!(warn[0].phase, "version");
    assert!(warn[0].message.contains("1.18.0") && warn[0].message.contains("1.13.1"));
    let meta = std::fs::read_to_string(root.join("out/render-meta.yaml")).unwrap();
    assert!(meta.contains("opendeskVersion: '1.18.0'"), "{meta}");
    let _ = std::fs::remove_dir_all(root);
}

/// `to` relative to `from` (both absolute, `from` a folder).
fn pathdiff(to: &Path, from: &Path) -> String {
    let up = from.components().count() - 1;
    let mut s = "../".repeat(up);
    s.push_str(to.strip_prefix("/").unwrap().to_str().unwrap());
    s
}

#[test]
fn a_guard_failure_is_exit_1_and_writes_nothing() {
    let root = tmp("guard");
    let d = root.join("in");
    write(
        &d.join("app/app/templates/cm.yaml"),
        "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: opendesk\ndata:\n  url: https://app.__NAMESPACE__.svc\n",
    );
    let mut s = step(&root, CONFIG);
    s.source = Some(Source::RenderedDir(d));
    let (r, events) = run(&s);
    let e = r.unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Failed, "{e}");
    assert!(e.message().contains("__NAMESPACE__"), "{e}");
    assert!(!root.join("out").exists());
    assert!(events.iter().any(|e| e.phase == "guards"));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn bad_inputs_are_exit_2_and_name_the_problem() {
    let root = tmp("bad");
    let known = known_rendered(&root);
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        (r#"{"instance": "bravo"}"#, CONFIG, Some("for instance \"bravo\"")),
        (r#"{"namespace": "other"}"#, CONFIG, Some("namespace \"other\" differs")),
        (r#"{"opendeskVersion": "one"}"#, CONFIG, Some("not a semantic version")),
        (r#"{"renderedDir": "a", "helmfile": "b"}"#, CONFIG, Some("both `renderedDir` and `helmfile`")),
        (r#"{}"#, CONFIG, Some("no input")),
        ("{\n  \"instance\": acme\n}", CONFIG, Some("runtime-state.json:2:")),
        (r#"{"renderedDir": "nope"}"#, CONFIG, Some("not a directory")),
        (r#"{"renderedDir": "known"}"#, "opendeskVersion: 1.13.1\ninstance: acme\n", Some("instance.yaml")),
        (r#"{"renderedDir": "known", "instance": "", "namespace": " "}"#, CONFIG, None),
    ];
    for (state, config, want) in cases {
        write(&root.join("runtime-state.json"), state);
        let mut s = step(&root, config);
        s.runtime_state = Some(root.join("runtime-state.json"));
        let (r, _) = run(&s);
        match want {
            Some(w) => {
                let e = r.unwrap_err();
                assert_eq!(e.kind, StepErrorKind::BadInput, "{state}: {e}");
                assert!(e.message().contains(w), "{state}: {e}");
            }
            None => {
                r.unwrap_or_else(|e| panic!("{state}: empty strings count as absent: {e}"));
            }
        }
    }
    // No config at all.
    let mut s = step(&root, CONFIG);
    s.inputs.config = None;
    s.source = Some(Source::RenderedDir(known));
    let e = s.run(&mut |_| {}).unwrap_err();
    assert!(e.message().contains("instance config is required"), "{e}");
    // Missing state file.
    let mut s = step(&root, CONFIG);
    s.runtime_state = Some(root.join("missing.json"));
    assert_eq!(s.run(&mut |_| {}).unwrap_err().kind, StepErrorKind::BadInput);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn runtime_state_schema() {
    let s = RuntimeState::parse(
        Path::new("s.json"),
        r#"{"instance":"acme","environment":"prod","namespace":"opendesk","renderedDir":"/r","helmfile":null,"opendeskVersion":"1.13.1","other":[1]}"#,
    )
    .unwrap();
    assert_eq!(s.instance.as_deref(), Some("acme"));
    assert_eq!(s.rendered_dir.as_deref(), Some(Path::new("/r")));
    assert_eq!(s.helmfile, None);
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"{"instance":"acme","environment":"prod","namespace":"opendesk","renderedDir":"/r","helmfile":null,"opendeskVersion":"1.13.1"}"#
    );
    assert_eq!(RenderManifests::new("c", "o").name(), "render-manifests");
}

#[test]
fn a_module_render_through_the_step_reports_its_scoped_guards() {
    let root = tmp("module");
    let known = known_rendered(&root);
    let graph = root.join("graph.yaml");
    write(&graph, "waves:\n  - name: services\n    releases: [db]\n  - name: apps\n    releases: [app]\nmodules:\n  apps: [app]\n  data: [db]\n");
    // The full render first: the base.
    let mut s = step(&root, CONFIG);
    s.source = Some(Source::RenderedDir(known.clone()));
    s.inputs.release_graph = Some(graph.clone());
    s.out = root.join("full");
    let (full, _) = run(&s);
    let full = full.expect("full render");
    assert!(full.scoped_guards.is_empty());
    // The db module against it: only db's folder, the guards it scoped named.
    s.out = root.join("module");
    s.inputs.module.keys = vec!["data".into()];
    let (r, _) = run(&s);
    assert_eq!(r.as_ref().unwrap_err().kind, StepErrorKind::BadInput, "a module render needs a base");
    // The session's typed error reaches the step's caller.
    assert!(matches!(r.as_ref().unwrap_err().detail, StepDetail::Usage(_)), "{:?}", r.as_ref().unwrap_err());
    s.inputs.module.base = Some(root.join("full"));
    let (r, _) = run(&s);
    let r = r.expect("module render");
    let names: Vec<&str> = r.scoped_guards.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["required-patch", "orphan-synapse-sidecars", "jit-keycloak", "scim"]);
    assert_eq!(r.report.module.as_ref().unwrap().rendered, ["db"]);
    let files: Vec<PathBuf> = read_tree(&root.join("module")).into_keys().collect();
    assert!(
        files.iter().all(|f| f.starts_with("releases/db") || f.ends_with("db.yaml") || f.ends_with("render-meta.yaml")),
        "{files:?}"
    );
    // A changed keyPrefix is skew: exit 1 through the step too.
    let mut bad = step(&root, &CONFIG.replace("keyPrefix: acme", "keyPrefix: other"));
    bad.source = Some(Source::RenderedDir(known));
    bad.inputs.release_graph = Some(graph);
    bad.inputs.module = s.inputs.module.clone();
    bad.out = root.join("module2");
    let (r, _) = run(&bad);
    let e = r.unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Failed, "{e}");
    assert!(e.message().contains("ExternalSecret opendesk/db"), "{e}");
    assert!(matches!(e.detail, StepDetail::Render(_)), "{e:?}");
    std::fs::remove_dir_all(&root).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let o = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_step_plans_against_the_repository_and_tabulates_the_matrix() {
    use opendesk_steps::render_step::PlanTarget;
    let root = tmp("plan-matrix");
    let known = known_rendered(&root);
    let repo = root.join("instance.git");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "--bare", "-b", "main"]);
    let mut s = step(&root, CONFIG);
    s.source = Some(Source::RenderedDir(known));
    s.secrets_out = Some(root.join("secrets.json"));
    s.plan = Some(PlanTarget::new(repo.to_str().unwrap(), "instances/acme"));
    s.matrix = Some(vec!["1.12.0".into(), "1.17.0".into()]);
    let (r, events) = run(&s);
    let o = r.expect("render + plan + matrix");

    // The plan before the first push: no branch yet, every resource added; nothing pushed.
    let p = o.plan.as_ref().expect("plan asked for");
    assert_eq!((p.base.as_deref(), p.branch.as_str(), p.path.as_str()), (None, "main", "instances/acme"));
    assert!(p.report.changed);
    assert_eq!(p.report.counts.added, o.report.summary.documents_out + 3, "resources + 2 Applications + parent");
    assert_eq!((p.report.counts.changed, p.report.counts.removed), (0, 0));
    let phases: Vec<(&str, &str)> = events.iter().map(|e| (e.step, e.phase)).collect();
    assert!(phases.ends_with(&[
        ("plan-rendered-manifests", "start"),
        ("plan-rendered-manifests", "fetch"),
        ("plan-rendered-manifests", "compare"),
        ("plan-rendered-manifests", "done")
    ]));
    // The JSON of the outcome carries both (the deployer shows the plan before it pushes).
    let j = serde_json::to_value(&o).unwrap();
    assert_eq!(j["plan"]["changed"], true);
    assert!(!j.to_string().contains("dummy-db-password"), "no secret value in the outcome");

    // The matrix: the versions asked for, the changed/dead/out-of-range cells of this input.
    let m = o.matrix.as_ref().expect("matrix asked for");
    assert_eq!(m.versions, ["1.12.0", "1.17.0"]);
    let cell = |patch: &str, i: usize| {
        let row = m.patches.iter().find(|r| r.patch == patch).unwrap_or_else(|| panic!("{patch}"));
        (row.cells[i].state, row.cells[i].changed)
    };
    assert_eq!(cell("empty-protocol", 0), ("changed", 1));
    assert_eq!(cell("ums-probes", 1), ("dead", 0));
    assert_eq!(cell("ox-appsuite-ingress", 0).0, "dead");
    assert_eq!(cell("ox-appsuite-ingress", 1).0, "out-of-range");

    // After a push of that tree, the same plan says: no change.
    let push = opendesk_steps::push::PushRenderedManifests {
        path: "instances/acme".into(),
        ..opendesk_steps::push::PushRenderedManifests::new(root.join("out"), repo.to_str().unwrap())
    };
    push.run(&mut |_| {}).expect("push");
    s.matrix = None;
    let (r, _) = run(&s);
    let o = r.expect("second render");
    let p = o.plan.expect("plan");
    assert!(p.base.is_some() && !p.report.changed, "{:?}", p.report.counts);
    assert!(o.matrix.is_none());

    // A bad version is bad input, a plan against a missing repository a failure after the
    // render (which is written: the message says so).
    s.matrix = Some(vec!["1.13".into()]);
    let (r, _) = run(&s);
    let e = r.unwrap_err();
    assert_eq!(e.kind, StepErrorKind::BadInput, "{e}");
    assert!(e.message().contains("\"1.13\" is not a full semver version"), "{e}");
    s.matrix = None;
    s.plan = Some(PlanTarget::new(root.join("nowhere.git").to_str().unwrap(), "instances/acme"));
    let (r, _) = run(&s);
    let e = r.unwrap_err();
    assert!(e.message().contains("but the plan failed"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}
