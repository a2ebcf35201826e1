//! Positions everywhere (issue 16 Deliver 7, issue 17 Deliver 1), against the real binary:
//! every lint and validate finding names `file:line:col` of its node (render's stderr, its
//! `--json` report, `opendesk-render validate`); an error without a position names the file
//! only (never `:0:0`); no message repeats its position or its hint.

use opendesk_e2e::*;
use std::ffi::OsStr;
use std::path::Path;

/// A Deployment whose container uses `:latest` (lint/image-latest, a warning), in a file with a
/// comment line before it and a non-ASCII annotation value before the container (columns are
/// characters, not bytes).
const DEPLOY: &str = "# Source: a/templates/d.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {note: \"ünïcödé\"}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image:   nginx:latest
";

/// A ConfigMap with a key YAML 1.1 reads as a number (lint/non-string-key, a warning at the key).
const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: z\n  80: http\n";

/// A scene whose input holds `files` (path under the input dir, text).
fn scene(tag: &str, files: &[(&str, &str)]) -> Scene {
    let s = Scene::new(tag);
    for (rel, text) in files {
        s.file(rel, text);
    }
    s
}

/// Render the scene into `out/` with `extra`.
fn render(s: &Scene, extra: &[&OsStr]) -> Outcome {
    s.render_args(&s.tmp.join("out")).extra(extra).run()
}

/// No unknown position printed as `:0`, no position repeated in serde-saphyr's words, one hint.
fn clean(what: &str, o: &Outcome) {
    for text in [&o.stderr, &o.stdout] {
        assert!(
            !text.contains(":0:") && !text.contains(":0\n") && !text.contains(":0 "),
            "{what}: a :0 position:\n{text}"
        );
        assert!(!text.contains(" at line "), "{what}: the position repeated:\n{text}");
        for line in text.lines() {
            assert!(line.matches("did you mean").count() <= 1, "{what}: the hint repeated: {line}");
        }
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn lint_findings_name_line_and_column() {
    let s = scene("pos-lint", &[("a/chart/templates/d.yaml", DEPLOY), ("b/chart/templates/c.yaml", CM)]);
    let o = render(&s, &[]);
    o.expect("lint warnings", 0);
    clean("lint warnings", &o);
    // The image value's first character (after three spaces), on line 16 of the file.
    o.stderr_has(
        "image-latest",
        "[lint/image-latest] Deployment/opendesk/web (a/chart/templates/d.yaml:16:20) at $.spec.template.spec.containers[0].image:",
    );
    // A finding about a key points at the key.
    o.stderr_has(
        "non-string-key",
        "[lint/non-string-key] ConfigMap/opendesk/c (b/chart/templates/c.yaml:7:3) at $.data.80:",
    );
}

#[test]
fn json_report_and_render_meta_carry_line_and_col() {
    let s = scene("pos-json", &[("a/chart/templates/d.yaml", DEPLOY)]);
    let o = render(&s, &[OsStr::new("--json")]);
    o.expect("--json", 0);
    clean("--json", &o);
    let needle = "\"origin\": \"a/chart/templates/d.yaml:16\",\n      \"line\": 16,\n      \"col\": 20,";
    assert!(o.stdout.contains(needle), "--json lacks {needle:?}:\n{}", o.stdout);
    let meta = std::fs::read_to_string(s.tmp.join("out/render-meta.yaml")).expect("render-meta");
    let needle = "    origin: a/chart/templates/d.yaml:16\n    line: 16\n    col: 20\n";
    assert!(meta.contains(needle), "render-meta lacks {needle:?}:\n{meta}");
}

/// The redact stage's findings point at the text that holds the value: line and column of the
/// scalar (a rewritten env value, a refused ConfigMap line), not the document's first line.
#[test]
fn redact_findings_name_line_and_column() {
    const SECRET: &str =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: Qx7kP2mVr9LsT4wZ\n";
    let env = DEPLOY.replace(
        "          image:   nginx:latest\n",
        "          image: nginx:1.27\n          env:\n            - name: DB\n              value: Qx7kP2mVr9LsT4wZ\n",
    );
    let s = scene("pos-redact", &[("a/chart/templates/s.yaml", SECRET), ("a/chart/templates/d.yaml", &env)]);
    write(
        s.tmp.path(),
        "instance.yaml",
        format!("{MIN_CONFIG}secretsManager:\n  storeRef: {{kind: ClusterSecretStore, name: sm}}\n  keyPrefix: acme\n"),
    );
    let secrets = s.tmp.join("secrets.json");
    let o = render(&s, &[OsStr::new("--secrets-out"), secrets.as_os_str(), OsStr::new("--json")]);
    o.expect("secret-ref", 0);
    // `value:` on line 19, the value at column 22.
    let needle = "\"code\": \"redact/secret-ref\"";
    let at = o.stdout.find(needle).unwrap_or_else(|| panic!("no secret-ref finding:\n{}", o.stdout));
    let rest = &o.stdout[at..];
    let rest = &rest[..rest.find('}').unwrap_or(rest.len())];
    assert!(rest.contains("\"line\": 19") && rest.contains("\"col\": 22"), "{rest}");

    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  conf: \"pw=Qx7kP2mVr9LsT4wZ\"\n";
    s.file("a/chart/templates/c.yaml", cm);
    let o = render(&s, &[OsStr::new("--secrets-out"), secrets.as_os_str()]);
    o.expect("inline secret", 1);
    clean("inline secret", &o);
    o.stderr_has(
        "inline secret",
        "[redact/inline-secret] ConfigMap/opendesk/c (a/chart/templates/c.yaml:6:9) at $.data.conf:",
    );
    assert!(!o.stderr.contains("Qx7kP2mVr9LsT4wZ"), "{}", o.stderr);
}

#[test]
fn validate_findings_name_line_and_column() {
    // `replica` (for `replicas`) is an unknown field: the finding points at the key.
    let bad = DEPLOY.replace("spec:\n  selector:", "spec:\n  replica: 2\n  selector:");
    let s = scene("pos-validate", &[("a/chart/templates/d.yaml", &bad)]);
    let o = render(&s, &[]);
    o.expect("unknown field", 1);
    clean("unknown field", &o);
    o.stderr_has(
        "render",
        "[validate/unknown-field] Deployment/opendesk/web (a/chart/templates/d.yaml:8:3) at $.spec.replica:",
    );
    // The kubeconform-style command: `file:line:col - Kind name error at $.path: message [code]`.
    let file = s.input.join("a/chart/templates/d.yaml");
    let o = run(&[OsStr::new("validate"), file.as_os_str()]);
    o.expect("validate", 1);
    clean("validate", &o);
    let line = format!("{}:8:3 - Deployment web error at $.spec.replica: unknown field `replica`", p(&file));
    assert!(o.stdout.contains(&line), "validate lacks {line:?}:\n{}", o.stdout);
    let o = run(&[OsStr::new("validate"), OsStr::new("--json"), file.as_os_str()]);
    o.expect("validate --json", 1);
    let needle = format!("\"line\": \"{}:8:3\"", p(&file));
    assert!(o.stdout.contains(&needle), "validate --json lacks {needle:?}:\n{}", o.stdout);
}

/// `validate` reads files as the render does: a syntax error names its position once (in the
/// `file:line:col - ` column, not again in the message), and a `List` is checked item by item.
#[test]
fn validate_reads_files_as_the_render_does() {
    let tmp = TempDir::new("pos-validate-load");
    let bad = write(tmp.path(), "m/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  b: [\n");
    let list = write(
        tmp.path(),
        "m/list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n  bogus: 1\n",
    );
    let dir = tmp.join("m");
    let o = run(&[OsStr::new("validate"), dir.as_os_str()]);
    o.expect("validate", 1);
    let broken = o.stdout.lines().find(|l| l.ends_with("[validate/syntax]")).expect("a syntax line");
    let at = format!("{}:6:1", p(&bad));
    assert!(broken.starts_with(&format!("{at} - error: ")), "{broken}");
    assert_eq!(broken.matches(&at).count(), 1, "position repeated: {broken}");
    let item = format!("{}:7:3 - ConfigMap x error at $.bogus: unknown field `bogus`", p(&list));
    assert!(o.stdout.contains(&item), "validate lacks {item:?}:\n{}", o.stdout);
    assert!(o.stdout.contains("Summary: 1 resources found in 2 files"), "{}", o.stdout);
}

#[test]
fn errors_without_a_position_name_the_file_only() {
    let s = scene("pos-files", &[("a/chart/templates/c.yaml", CM)]);
    let out = s.tmp.join("out");
    let (patches, graph) = (s.tmp.join("no-patches-here"), s.tmp.join("no-graph.yaml"));
    let base = RenderArgs::new(&s.input, &out).config(&s.config);
    let cases: [(&str, RenderArgs, &Path); 2] = [
        ("missing patch dir", base.clone().extra(&[OsStr::new("--patches"), patches.as_os_str()]), &patches),
        (
            "missing release graph",
            base.clone().no_patches().extra(&[OsStr::new("--release-graph"), graph.as_os_str()]),
            &graph,
        ),
    ];
    for (what, a, path) in cases {
        let o = a.run();
        o.expect(what, 2);
        clean(what, &o);
        o.stderr_has(what, &format!("error: {}: ", p(path)));
    }
}

#[test]
fn positioned_errors_print_their_position_once() {
    let s = scene("pos-errors", &[("a/chart/templates/c.yaml", CM)]);
    // Release graphs: syntax, an unknown field (one hint), an empty release name.
    let graphs = [
        ("waves: [\n", "1:8: "),
        ("waves:\n  - name: a\n    syncWave: 1\n    releases: [a]\n  - nam: c\n", "5:5: unknown field `nam`"),
        ("waves:\n  - name: a\n    syncWave: x\n    releases: [a]\n", "3:15: "),
        ("waves:\n  - name: a\n    syncWave: 1\n    releases: [a, \"\"]\n", "4:19: empty release name"),
    ];
    for (i, (text, pos)) in graphs.iter().enumerate() {
        let g = write(s.tmp.path(), &format!("graph-{i}.yaml"), text);
        let what = format!("graph {i}");
        let o = render(&s, &[OsStr::new("--release-graph"), g.as_os_str()]);
        o.expect(&what, 2);
        clean(&what, &o);
        o.stderr_has(&what, &format!("error: {}:{pos}", p(&g)));
    }
    // An override on the document root: the op's config line and column.
    let cfg = write(
        s.tmp.path(),
        "override.yaml",
        format!("{MIN_CONFIG}overrides:\n  - name: bad-op\n    select: {{kind: ConfigMap}}\n    ops:\n      - remove: {{path: \"$\"}}\n"),
    );
    let o = render(&s, &[OsStr::new("--config"), cfg.as_os_str()]);
    o.expect("override on $", 2);
    clean("override on $", &o);
    o.stderr_has("override on $", &format!("error: {}:8:", p(&cfg)));
    o.stderr_has("override on $", "override \"bad-op\" op #1 (remove)");
    // Input YAML: a syntax error and a duplicate key, each at its own line and column.
    for (i, (text, pos)) in [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"x\n  b: [\n", "6:6: "),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: x\n  a: y\n",
            "7:3: duplicate key \"a\" (first defined on line 6)",
        ),
    ]
    .iter()
    .enumerate()
    {
        let t = scene("pos-input", &[("a/chart/templates/c.yaml", text)]);
        let what = format!("input {i}");
        let o = render(&t, &[]);
        o.expect(&what, 2);
        clean(&what, &o);
        o.stderr_has(&what, &format!("a/chart/templates/c.yaml:{pos}"));
    }
}
