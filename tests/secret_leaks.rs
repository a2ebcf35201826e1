//! No secret value leaves the real binary, over any channel (issue 15, "Prove it"; the
//! in-process twin is `opendesk-render/tests/redact_props.rs`).
//!
//! A random strong value is planted in a Secret (or in `redact.values`) and at one place: nowhere
//! else, a container env value, ConfigMap text, an annotation, a label, inside a base64 blob, as
//! the password of a URL, in ConfigMap text with `redact.mode: mask`, beside a Secret wrapped in
//! a `kind: List`, written by an instance override, in the name of two conflicting resources
//! (an error before the redact stage), on a Secret line that does not parse (block, flow and
//! JSON style), or in a `redact.values` entry the config cannot read (same styles).
//! Then the binary runs `render --json`, `render` (text, `--discard-secret-values`), `explain`
//! (text and `--json`) and, for a render that passed, `diff` against a render of the same input
//! without the planted occurrence. The value must appear, in no form the test's own search
//! knows ([`opendesk_e2e::leak`]: raw, percent-encoded, JSON-escaped, hex, base64 at every
//! alignment, URL-safe, wrapped), in the output tree (render-meta included), stdout or stderr of
//! any of them; the binary's TMPDIR is empty after every run. The outcome is asserted exactly
//! per place: exit 0 with every document unchanged or changed only by a reported rewrite
//! (`secretKeyRef`, or the mask); exit 1 with one `redact/inline-secret` error naming the
//! resource, the path and whose value it is; exit 2 (the input or config does not parse, or two
//! resources share an identity) with the offending line shown as `***` or the name masked. Each place runs [`CASES`] cases, on a tiny input and the
//! debug binary.

use opendesk_e2e::leak::{hex, json_escape, percent, Needle};
use opendesk_e2e::*;
use proptest::prelude::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Cases per place (14 places, two of them in three styles): each case is 4 to 6 runs of the
/// binary (0.1 to 0.2 s each in a debug build).
const CASES: u32 = 2;

const SECRET: &str = "Secret/opendesk/app-secret";
const KEY: &str = "api-token";
/// The Secret's `api-token` when the planted value is a `redact.values` entry instead.
const OTHER_VALUE: &str = "Nq4-unrelated-Zr8pLx2Kv";

/// How a Secret (or the config) that fails to parse on the value's line is written.
#[derive(Debug, Clone, Copy)]
enum Style {
    /// A block mapping: `  api-token: 'VALUE': x`, `  values: 'VALUE'`.
    Block,
    /// One flow mapping on one line (the Secret), a flow `redact:` value (the config).
    Flow,
    /// A JSON object over several lines.
    Json,
}

#[derive(Debug, Clone)]
enum Place {
    /// In the Secret only.
    Nowhere,
    /// A whole container env value.
    EnvValue,
    /// Glued into ConfigMap text.
    ConfigMapText(String, String),
    /// Inside an annotation value.
    Annotation,
    /// A label value.
    Label,
    /// Inside a base64 blob in a ConfigMap (bytes before and after it).
    Base64Blob(Vec<u8>, Vec<u8>),
    /// The password of a URL in a ConfigMap (`https://u:VALUE@host`, percent-encoded).
    UrlPassword,
    /// A `redact.values` entry (in no Secret), inlined in ConfigMap text.
    RedactValues,
    /// A YAML error on the Secret line that holds the value.
    SecretParseError(Style),
    /// A config error on the `redact.values` line that holds the value.
    RedactValuesConfigError(Style),
    /// Glued into ConfigMap text, with `redact.mode: mask`.
    MaskedText(String, String),
    /// The Secret inside a `kind: List`, the value in ConfigMap text.
    ListWrapped,
    /// An instance override writes the value into an annotation (its change record holds it).
    Override,
    /// Two different ConfigMaps named `cm-VALUE` (lowercase value): the dedup stage fails
    /// before the redact stage knows the values.
    ConflictingNames,
}

/// The one change a passing render may make to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// None.
    Unchanged,
    /// The env value became a `valueFrom.secretKeyRef` (`redact/secret-ref`).
    SecretRef,
    /// The ConfigMap text is masked (`redact/masked`, `redact.mode: mask`).
    Masked,
}

/// What the render must do.
#[derive(Debug)]
enum Expect {
    /// Exit 0, every document unchanged but for the reported `rewrite`.
    Passes { rewrite: Rewrite },
    /// Exit 1: one `redact/inline-secret` at `resource`, `path`, naming `whose`.
    Refused { resource: &'static str, path: &'static str, whose: String },
    /// Exit 2, the line shown masked.
    Unreadable,
    /// Exit 2, two resources with one identity, the name shown masked.
    Conflict,
}

impl Place {
    fn expect(&self) -> Expect {
        let secret = format!("{SECRET} key `{KEY}`");
        let cm = "ConfigMap/opendesk/app-config";
        match self {
            Place::Nowhere => Expect::Passes { rewrite: Rewrite::Unchanged },
            Place::EnvValue => Expect::Passes { rewrite: Rewrite::SecretRef },
            Place::MaskedText(..) => Expect::Passes { rewrite: Rewrite::Masked },
            Place::ConfigMapText(..) | Place::Base64Blob(..) | Place::UrlPassword | Place::ListWrapped => {
                Expect::Refused { resource: cm, path: "$.data.conf", whose: secret }
            }
            Place::Annotation | Place::Override => Expect::Refused {
                resource: "Deployment/opendesk/web",
                path: "$.metadata.annotations.note",
                whose: secret,
            },
            Place::Label => Expect::Refused {
                resource: "Deployment/opendesk/web",
                path: "$.spec.template.metadata.labels.tier",
                whose: secret,
            },
            Place::RedactValues => {
                Expect::Refused { resource: cm, path: "$.data.conf", whose: "a `redact.values` entry".into() }
            }
            Place::SecretParseError(_) | Place::RedactValuesConfigError(_) => Expect::Unreadable,
            Place::ConflictingNames => Expect::Conflict,
        }
    }
}

/// YAML single-quoted scalar.
fn sq(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// The input (one release, `app`) and the config for `value` at `place`.
fn scene(value: &str, place: &Place) -> (String, String) {
    let in_secret =
        if matches!(place, Place::RedactValues | Place::RedactValuesConfigError(_)) { OTHER_VALUE } else { value };
    let mut text = match place {
        Place::SecretParseError(Style::Block) => format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-secret, namespace: opendesk}}\nstringData:\n  \
             LOG_LEVEL: INFO\n  {KEY}: {}: x\n  SMTP_HOST: smtp.example.org\n",
            sq(value)
        ),
        Place::SecretParseError(Style::Flow) => format!(
            "{{apiVersion: v1, kind: Secret, metadata: {{name: app-secret, namespace: opendesk}}, stringData: \
             {{LOG_LEVEL: INFO, {KEY}: {} x}}}}\n",
            sq(value)
        ),
        Place::SecretParseError(Style::Json) => format!(
            "{{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"metadata\": {{\"name\": \"app-secret\", \
             \"namespace\": \"opendesk\"}},\n  \"stringData\": {{\"LOG_LEVEL\": \"INFO\", \"{KEY}\": \"{}\" \"x\"}}\n}}\n",
            json_escape(value, false)
        ),
        Place::ListWrapped => format!(
            "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {{name: app-secret, \
             namespace: opendesk}}\n    stringData:\n      {KEY}: {}\n      LOG_LEVEL: INFO\n",
            sq(value)
        ),
        _ => format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-secret, namespace: opendesk}}\nstringData:\n  \
             {KEY}: {}\n  LOG_LEVEL: INFO\n  SMTP_HOST: smtp.example.org\n",
            sq(in_secret)
        ),
    };
    let plain = || "plain".to_string();
    let (env, annotation, label) = match place {
        Place::EnvValue => (sq(value), plain(), "web".into()),
        Place::Annotation => (plain(), sq(&format!("see {value} here")), "web".into()),
        Place::Label => (plain(), plain(), sq(value)),
        _ => (plain(), plain(), "web".into()),
    };
    text.push_str(&format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: opendesk\n  annotations: \
         {{note: {annotation}}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: \
         {{app: web, tier: {label}}}}}\n    spec:\n      containers:\n        - name: web\n          image: web:1.0\n          \
         env:\n            - {{name: API_TOKEN, value: {env}}}\n            - {{name: LOG, value: INFO}}\n"
    ));
    let data = match place {
        Place::ConfigMapText(a, b) | Place::MaskedText(a, b) => sq(&format!("{a}{value}{b}")),
        Place::RedactValues | Place::ListWrapped => sq(&format!("token={value}")),
        Place::Base64Blob(a, b) => {
            let mut bytes = a.clone();
            bytes.extend_from_slice(value.as_bytes());
            bytes.extend_from_slice(b);
            opendesk_render::stages::eso::encode_base64(&bytes)
        }
        Place::UrlPassword => sq(&format!("db: https://app:{}@db.example.org:5432/app", percent(value, false))),
        _ => sq("smtp.example.org INFO"),
    };
    text.push_str(&format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: opendesk}}\ndata:\n  conf: {data}\n"
    ));
    if matches!(place, Place::ConflictingNames) {
        for conf in ["a", "b"] {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{value}, namespace: opendesk}}\ndata: {{conf: {conf}}}\n"
            ));
        }
    }
    let head = "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\nargocd: {repoURL: \
                https://git.example.org/acme.git}\nsecretsManager:\n  storeRef: {kind: ClusterSecretStore, name: \
                stackit-sm}\n  keyPrefix: acme\n";
    let config = match place {
        Place::RedactValues => format!("{head}redact:\n  values:\n    - {}\n", sq(value)),
        // A string where a list is expected: an error at the line of the value.
        Place::RedactValuesConfigError(Style::Block) => format!("{head}redact:\n  values: {}\n", sq(value)),
        Place::RedactValuesConfigError(Style::Flow) => {
            format!("{head}redact: {{mode: refuse, values: {}}}\n", sq(value))
        }
        Place::RedactValuesConfigError(Style::Json) => format!(
            "{{\n  \"opendeskVersion\": \"1.13.1\",\n  \"instance\": \"acme\",\n  \"namespace\": \"opendesk\",\n  \
             \"redact\": {{\n    \"mode\": \"refuse\",\n    \"values\": \"{}\"\n  }}\n}}\n",
            json_escape(value, false)
        ),
        Place::MaskedText(..) => format!("{head}redact:\n  mode: mask\n"),
        Place::Override => format!(
            "{head}overrides:\n  - name: leak\n    description: writes the value into an annotation\n    select: \
             {{kind: Deployment, name: web}}\n    ops:\n      - set: {{path: $.metadata.annotations.note, value: {}}}\n",
            sq(&format!("by override {value}"))
        ),
        _ => head.to_string(),
    };
    (text, config)
}

/// One case's scratch dir: the input, the config, a TMPDIR for the binary (checked empty
/// after every run), outputs.
struct Case {
    t: TempDir,
    input: PathBuf,
    config: PathBuf,
    needle: Needle,
}

impl Case {
    fn new(value: &str, place: &Place) -> Self {
        let t = TempDir::new("leaks");
        let (text, config) = scene(value, place);
        let input = t.join("in");
        write(&input, "app/chart/templates/all.yaml", text);
        let config = write(t.path(), "instance.yaml", config);
        std::fs::create_dir_all(t.join("tmp")).expect("create TMPDIR");
        Case { t, input, config, needle: Needle::new(value) }
    }

    /// Run the binary with `args` (paths are the case's), TMPDIR inside the case.
    fn run(&self, what: &str, args: &[&OsStr]) -> Outcome {
        let tmp = self.t.join("tmp");
        let o = run_env(args, &[("TMPDIR", tmp.to_str().expect("utf-8 temp path"))]);
        let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "{what}: the binary left {left} entries in TMPDIR");
        self.clean(&format!("{what} stdout"), &o.stdout);
        self.clean(&format!("{what} stderr"), &o.stderr);
        o
    }

    /// Panic when `text` holds the value in any form.
    fn clean(&self, what: &str, text: &str) {
        if let Some(form) = self.needle.found_in(text) {
            let shown: String = text.chars().take(3000).collect();
            panic!("{what}: the secret value appears ({form} form):\n{shown}");
        }
    }

    fn clean_tree(&self, what: &str, dir: &Path) {
        let files = snapshot(dir);
        assert!(files.keys().any(|p| p.ends_with("render-meta.yaml")), "{what}: no render-meta.yaml");
        for (p, bytes) in files {
            self.clean(&format!("{what}/{}", p.display()), &String::from_utf8_lossy(&bytes));
        }
    }

    /// `render INPUT --out OUT --no-patches --config instance.yaml EXTRA` ([`RenderArgs`]),
    /// run as [`Case::run`].
    fn render(&self, what: &str, input: &Path, out: &Path, extra: &[&str]) -> Outcome {
        let v = RenderArgs::new(input, out).no_patches().config(&self.config).extra(extra).to_vec();
        let a: Vec<&OsStr> = v.iter().map(|s| s.as_os_str()).collect();
        self.run(what, &a)
    }
}

fn check(value: &str, place: &Place) {
    let c = Case::new(value, place);
    let expect = place.expect();
    let out = c.t.join("out");
    let so = c.t.join("secrets.json");
    let so_arg = so.to_str().expect("utf-8 path");
    let code = match expect {
        Expect::Passes { .. } => 0,
        Expect::Refused { .. } => 1,
        Expect::Unreadable | Expect::Conflict => 2,
    };

    // 1. render --json (the report on stdout).
    let o = c.render("render --json", &c.input, &out, &["--secrets-out", so_arg, "--json"]);
    o.expect(&format!("render --json, {place:?}"), code);
    let report: Option<serde_json::Value> = serde_json::from_str(&o.stdout).ok();
    match &expect {
        Expect::Passes { rewrite } => {
            c.clean_tree("render --json --out", &out);
            // The search works: the payload holds the value.
            let payload = std::fs::read_to_string(&so).expect("--secrets-out written");
            assert!(c.needle.found_in(&payload).is_some(), "the payload lacks the value: the search is broken");
            let report = report.expect("--json prints the report");
            let refs = findings(&report, "redact/secret-ref");
            let masked = findings(&report, "redact/masked");
            let env = ("Deployment/opendesk/web".to_string(), "$.spec.template.spec.containers[0].env[0]".to_string());
            let conf = ("ConfigMap/opendesk/app-config".to_string(), "$.data.conf".to_string());
            let (want_refs, want_masked) = match rewrite {
                Rewrite::Unchanged => (vec![], vec![]),
                Rewrite::SecretRef => (vec![env], vec![]),
                Rewrite::Masked => (vec![], vec![conf.clone()]),
            };
            assert_eq!((refs, masked), (want_refs, want_masked), "the rewrite is reported");
            let masked_docs = report["summary"]["maskedDocuments"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(masked_docs, usize::from(*rewrite == Rewrite::Masked), "summary.maskedDocuments");
            assert!(errors(&report).is_empty(), "{:?}", errors(&report));
        }
        Expect::Refused { resource, path, whose } => {
            assert!(!out.exists(), "a refused render wrote --out");
            assert!(!so.exists(), "a refused render wrote --secrets-out");
            let report = report.expect("--json prints the report of a failed render");
            let errs = errors(&report);
            assert_eq!(errs.len(), 1, "one error: {errs:?}");
            let (code, res, p, msg) = &errs[0];
            assert_eq!((code.as_str(), res.as_str(), p.as_str()), ("redact/inline-secret", *resource, *path));
            assert!(msg.contains(whose.as_str()), "the message names {whose}: {msg}");
        }
        Expect::Unreadable => {
            assert!(!out.exists() && !so.exists(), "an unreadable input wrote something");
            assert!(o.stderr.contains("***"), "the offending line is shown masked:\n{}", o.stderr);
        }
        Expect::Conflict => {
            assert!(!out.exists() && !so.exists(), "a failed render wrote something");
            o.stderr_has("conflict", "rendered twice").stderr_has("conflict", "ConfigMap/opendesk/cm-<redacted>");
        }
    }

    // 2. render, text (findings and summary on stderr), as an explicit dry run.
    let out_text = c.t.join("out-text");
    let o = c.render("render (text)", &c.input, &out_text, &["--discard-secret-values"]);
    o.expect(&format!("render (text), {place:?}"), code);
    match &expect {
        Expect::Passes { .. } => c.clean_tree("render (text) --out", &out_text),
        Expect::Refused { resource, whose, .. } => {
            o.stderr_has("render (text)", resource).stderr_has("render (text)", whose);
        }
        Expect::Unreadable => {
            o.stderr_has("render (text)", "***");
        }
        Expect::Conflict => {
            o.stderr_has("render (text)", "cm-<redacted>");
        }
    }

    // 3. explain, text and JSON: it prints the changes even of a render that fails (exit 0).
    for json in [false, true] {
        let what = if json { "explain --json" } else { "explain" };
        let mut a: Vec<&OsStr> = vec![
            OsStr::new("explain"),
            c.input.as_os_str(),
            OsStr::new("--config"),
            c.config.as_os_str(),
            OsStr::new("--no-patches"),
        ];
        if json {
            a.push(OsStr::new("--json"));
        }
        let o = c.run(what, &a);
        o.expect(&format!("{what}, {place:?}"), if code == 2 { 2 } else { 0 });
        let shown = match expect {
            Expect::Passes { rewrite: Rewrite::SecretRef } => Some("secret-ref"),
            Expect::Passes { rewrite: Rewrite::Masked } => Some("mask"),
            _ => None,
        };
        if let (Some(action), false) = (shown, json) {
            assert!(
                o.stdout.lines().any(|l| l.contains("stage:redact") && l.contains(action)),
                "explain shows the rewrite:\n{}",
                o.stdout
            );
        }
        if matches!(place, Place::Override) && !json {
            // The channel is exercised: the override's change record is printed (masked).
            assert!(o.stdout.contains("override:leak"), "explain shows the override:\n{}", o.stdout);
        }
    }

    // 4. diff against a render of the same input with the value in the Secret only.
    if let Expect::Passes { rewrite } = expect {
        let control = c.t.join("in-control");
        write(&control, "app/chart/templates/all.yaml", scene(value, &Place::Nowhere).0);
        let out_control = c.t.join("out-control");
        c.render("render (control)", &control, &out_control, &["--discard-secret-values"]).expect("control", 0);
        let a: Vec<&OsStr> = vec![OsStr::new("diff"), out_control.as_os_str(), out.as_os_str()];
        let o = c.run("diff", &a);
        o.expect(&format!("diff, {place:?}"), i32::from(rewrite != Rewrite::Unchanged));
        // Only the rewritten part differs (the test's own reading of the trees).
        let old = opendesk_steps::session::load_tree(&out_control).expect("control tree");
        let new = opendesk_steps::session::load_tree(&out).expect("tree");
        let d = opendesk_render::diff::diff(&old, &new);
        let changed: Vec<(String, Vec<String>)> = d
            .resources
            .iter()
            .map(|r| (r.resource.clone(), r.changes.iter().map(|p| p.path.clone()).collect()))
            .collect();
        match rewrite {
            Rewrite::Unchanged => assert!(changed.is_empty(), "{changed:?}"),
            Rewrite::SecretRef => {
                assert_eq!(changed.len(), 1, "{changed:?}");
                let (res, paths) = &changed[0];
                assert!(res.ends_with("Deployment/opendesk/web"), "{res}");
                let env = "$.spec.template.spec.containers[0].env[0]";
                assert!(paths.iter().all(|p| p.starts_with(env)), "{paths:?}");
                assert!(o.stdout.contains("secretKeyRef"), "diff shows the rewrite:\n{}", o.stdout);
                let dep =
                    std::fs::read_to_string(out.join("releases/app/deployment-web.yaml")).expect("the Deployment");
                assert!(dep.contains("secretKeyRef") && dep.contains("app-secret") && dep.contains(KEY), "{dep}");
            }
            Rewrite::Masked => {
                assert_eq!(changed.len(), 1, "{changed:?}");
                let (res, paths) = &changed[0];
                assert!(res.ends_with("ConfigMap/opendesk/app-config"), "{res}");
                assert_eq!(paths, &["$.data.conf"]);
                assert!(o.stdout.contains("<redacted>"), "diff shows the mask:\n{}", o.stdout);
            }
        }
    }
}

/// `(resource, path)` of the report's findings with `code`.
fn findings(report: &serde_json::Value, code: &str) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == code)
        .map(|f| (f["resource"].as_str().unwrap_or("").to_string(), f["path"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// `(code, resource, path, message)` of the report's error findings.
fn errors(report: &serde_json::Value) -> Vec<(String, String, String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("code"), s("resource"), s("path"), s("message"))
        })
        .collect()
}

/// A strong value: letters of both cases and digits, often symbols (`"` and `\` too, which
/// YAML and JSON escape); only label characters when it goes into a label.
fn strong(label_safe: bool) -> impl Strategy<Value = String> {
    let re = if label_safe {
        "[A-Z][a-z][0-9][A-Za-z0-9._-]{13,30}[a-z0-9]"
    } else {
        "[A-Z][a-z][0-9][A-Za-z0-9!%*+=_.~\"\\\\/@:#-]{13,30}[a-z0-9]"
    };
    re.prop_filter("strong", |v| opendesk_render::stages::classify::is_strong(v))
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..7)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, max_shrink_iters: 16, ..ProptestConfig::default() })]

    #[test]
    fn nowhere_else(v in strong(false)) { check(&v, &Place::Nowhere) }

    #[test]
    fn env_value(v in strong(false)) { check(&v, &Place::EnvValue) }

    #[test]
    fn configmap_text(v in strong(false), a in "[a-z =:/?&]{0,12}", b in "[a-z =;&]{0,12}") {
        check(&v, &Place::ConfigMapText(a, b))
    }

    #[test]
    fn annotation(v in strong(false)) { check(&v, &Place::Annotation) }

    #[test]
    fn label(v in strong(true)) { check(&v, &Place::Label) }

    #[test]
    fn base64_blob(v in strong(false), a in bytes(), b in bytes()) { check(&v, &Place::Base64Blob(a, b)) }

    #[test]
    fn url_password(v in strong(false)) { check(&v, &Place::UrlPassword) }

    #[test]
    fn redact_values(v in strong(false)) { check(&v, &Place::RedactValues) }

    #[test]
    fn masked_configmap_text(v in strong(false), a in "[a-z =:/?&]{0,12}", b in "[a-z =;&]{0,12}") {
        check(&v, &Place::MaskedText(a, b))
    }

    #[test]
    fn secret_in_a_list(v in strong(false)) { check(&v, &Place::ListWrapped) }

    #[test]
    fn written_by_an_override(v in strong(false)) { check(&v, &Place::Override) }

    #[test]
    fn conflicting_names(v in "[a-z][0-9][a-z0-9]{16,30}".prop_filter("strong", |v| opendesk_render::stages::classify::is_strong(v))) {
        check(&v, &Place::ConflictingNames)
    }

    #[test]
    fn secret_line_that_does_not_parse(v in strong(false)) {
        for style in [Style::Block, Style::Flow, Style::Json] {
            check(&v, &Place::SecretParseError(style));
        }
    }

    #[test]
    fn redact_values_line_that_does_not_parse(v in strong(false)) {
        for style in [Style::Block, Style::Flow, Style::Json] {
            check(&v, &Place::RedactValuesConfigError(style));
        }
    }
}

/// The test's own search finds the value in every form it claims to.
#[test]
fn the_search_finds_every_form() {
    /// Standard or URL-safe base64, written here so the check does not lean on the crate's
    /// encoder.
    fn encode(bytes: &[u8], url_safe: bool, pad: bool) -> String {
        let a: &[u8; 64] = if url_safe {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        } else {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        };
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.len();
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let w = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= n {
                    out.push(a[((w >> (18 - 6 * i)) & 63) as usize] as char);
                } else if pad {
                    out.push('=');
                }
            }
        }
        out
    }
    let v = "Qx7k/P2m\"Vr9+Ls\\T4wZ";
    let n = Needle::new(v);
    assert_eq!(n.found_in(&format!("a{v}b")), Some("plain"));
    assert_eq!(n.found_in(&percent(v, false)), Some("percent-encoded"));
    assert_eq!(n.found_in(&percent(v, true)), Some("percent-encoded (lower hex)"));
    assert_eq!(n.found_in(r#"{"x": "Qx7k/P2m\"Vr9+Ls\\T4wZ"}"#), Some("JSON-escaped"));
    assert_eq!(n.found_in(r#"Qx7k\/P2m\"Vr9+Ls\\T4wZ"#), Some("JSON-escaped (\\/)"));
    assert_eq!(n.found_in(&hex(v, false)), Some("hex"));
    for pre in ["", "a", "ab", "abc"] {
        for post in ["", "x", "xy"] {
            for (url_safe, pad) in [(false, true), (true, false), (true, true), (false, false)] {
                let blob = encode(format!("{pre}{v}{post}").as_bytes(), url_safe, pad);
                assert_eq!(n.found_in(&format!("data: {blob}\n")), Some("base64"), "{pre:?} {post:?}");
                // Wrapped at 16 columns and indented, in YAML and in a JSON string.
                let lines: Vec<String> =
                    blob.as_bytes().chunks(16).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                assert_eq!(n.found_in(&format!("k: |\n    {}\n", lines.join("\n    "))), Some("base64"));
                assert_eq!(n.found_in(&format!("\"{}\"", lines.join("\\n"))), Some("base64"));
            }
        }
    }
    assert_eq!(n.found_in(&encode(b"something else entirely, long enough", false, true)), None);
    assert_eq!(n.found_in("Qx7k/P2m Vr9+Ls T4wZ"), None);
    // The scene plants what it says.
    let (text, config) = scene(v, &Place::RedactValues);
    assert!(n.found_in(&text).is_some() && n.found_in(&config).is_some() && !text.contains(&sq(v)));
}
