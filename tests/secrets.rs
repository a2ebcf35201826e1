//! No code path prints a secret value (issue 8). The corpus is rendered with a secrets
//! manager; the decoded Secret values that the redact stage treats as secret
//! (`KnownSecrets::collect` on the ESO payload) are then searched for in every output file,
//! the `--json` report, stderr, `explain` (text and `--json`), `diff` (text and `--json`) and
//! the messages of a render that fails on an inlined secret (`redact.strict`). The search is
//! the redact stage's own (token-bounded), plus a plain substring search for the base64 form
//! of every value of 12 bytes or more.

use opendesk_e2e::*;
use opendesk_render::config::InstanceConfig;
use opendesk_render::stages::eso::encode_base64;
use opendesk_render::stages::redact::KnownSecrets;
use opendesk_steps::session::{render_to, Inputs};
use std::ffi::OsString;
use std::path::Path;

struct Needles {
    known: KnownSecrets,
    base64: Vec<String>,
}

impl Needles {
    /// Panic when `text` (named `what`) holds a secret value.
    fn check(&self, what: &str, text: &str) {
        let hits = self.known.find(text);
        if let Some(&(a, b)) = hits.first() {
            let line = text[..a].matches('\n').count() + 1;
            panic!(
                "{what}: a secret value ({} bytes) appears at line {line} ({} occurrence(s) in all)",
                b - a,
                hits.len()
            );
        }
        for (i, b) in self.base64.iter().enumerate() {
            assert!(!text.contains(b.as_str()), "{what}: the base64 form of secret value #{i} appears");
        }
    }
}

fn run_strs(a: &[OsString]) -> Outcome {
    let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    run(&refs)
}

fn args(v: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    v.iter().map(|s| s.as_ref().to_os_string()).collect()
}

#[test]
fn no_secret_value_in_any_output_report_or_message() {
    let Some(corpus) = corpus() else { return };
    let t = TempDir::new("secrets");
    let cfg_path = root().join("benches/corpus-instance.yaml");
    let cfg = InstanceConfig::load(&cfg_path).expect("corpus config");

    // In-process: the payload and the documents, to know what counts as secret.
    let inputs = Inputs { config: Some(cfg_path.clone()), ..Default::default() };
    let lib_out = t.join("lib-out");
    let lib_secrets = t.join("lib-secrets.json");
    let rendered = render_to(Some(&corpus), &lib_out, Some(&lib_secrets), &inputs)
        .unwrap_or_else(|f| panic!("corpus render failed: {}", f.message()));
    let (known, selection) = KnownSecrets::collect(&rendered.secrets, &cfg, &rendered.documents);
    assert!(known.len() >= 10, "too few known secret values to make this test mean anything: {selection:?}");
    let mut base64: Vec<String> = rendered
        .secrets
        .values()
        .map(|(_, v)| v.expose())
        .filter(|v| v.len() >= 12 && known.contains(&String::from_utf8_lossy(v)))
        .map(encode_base64)
        .collect();
    base64.sort();
    base64.dedup();
    let needles = Needles { known, base64 };
    // The needles work: the payload file holds them.
    let payload = std::fs::read_to_string(&lib_secrets).unwrap();
    assert!(!needles.known.find(&payload).is_empty(), "the secrets file holds no known value: the search is broken");
    eprintln!("secrets: {} known values, {} base64 forms", needles.known.len(), needles.base64.len());

    let check_tree = |what: &str, dir: &Path| {
        let files = snapshot(dir);
        assert!(!files.is_empty());
        for (p, bytes) in files {
            needles.check(&format!("{what}/{}", p.display()), &String::from_utf8_lossy(&bytes));
        }
    };
    check_tree("in-process --out", &lib_out);

    // The CLI: render with --json and --secrets-out.
    let out = t.join("out");
    let so = t.join("secrets.json");
    let o = run_strs(&args(&[
        &"render",
        &corpus,
        &"--out",
        &out,
        &"--config",
        &cfg_path,
        &"--secrets-out",
        &so,
        &"--json",
    ]));
    o.expect("render --json", 0);
    needles.check("render --json stdout", &o.stdout);
    needles.check("render stderr", &o.stderr);
    check_tree("--out", &out);
    assert!(!needles.known.find(&std::fs::read_to_string(&so).unwrap()).is_empty());
    // explain, text and JSON.
    for json in [false, true] {
        let mut a = args(&[&"explain", &corpus, &"--config", &cfg_path]);
        if json {
            a.push("--json".into());
        }
        let o = run_strs(&a);
        o.expect("explain", 0);
        assert!(o.stdout.len() > 1000, "explain printed little");
        needles.check(&format!("explain{} stdout", if json { " --json" } else { "" }), &o.stdout);
        needles.check("explain stderr", &o.stderr);
    }

    // diff between an unpatched and a patched render: many changed values are printed.
    let unpatched = t.join("out-unpatched");
    let so3 = t.join("secrets3.json");
    // (without --json: the text findings and summary go to stderr)
    let o = run_strs(&args(&[
        &"render",
        &corpus,
        &"--out",
        &unpatched,
        &"--config",
        &cfg_path,
        &"--no-patches",
        &"--secrets-out",
        &so3,
    ]));
    o.expect("render --no-patches", 0);
    needles.check("render stdout (text)", &o.stdout);
    needles.check("render stderr (text)", &o.stderr);
    check_tree("--out (no patches)", &unpatched);
    for json in [false, true] {
        let mut a = args(&[&"diff", &unpatched, &out]);
        if json {
            a.push("--json".into());
        }
        let o = run_strs(&a);
        o.expect("diff", 1);
        needles.check(&format!("diff{} stdout", if json { " --json" } else { "" }), &o.stdout);
        needles.check("diff stderr", &o.stderr);
    }

    // A render that fails because a known value is inlined (strict redaction): the error
    // names where, never what.
    let strict_cfg = write(
        t.path(),
        "strict.yaml",
        format!("{}\nredact:\n  strict: true\n", std::fs::read_to_string(&cfg_path).unwrap()),
    );
    let out_strict = t.join("out-strict");
    let a = args(&[&"render", &corpus, &"--out", &out_strict, &"--config", &strict_cfg, &"--json"]);
    let o = run_strs(&a);
    assert!(matches!(o.code, Some(1) | Some(2)), "strict redaction should fail the render: {}", o.stderr);
    o.expect("strict render", o.code.unwrap());
    assert!(!out_strict.exists(), "a failed render wrote --out");
    needles.check("strict render stdout", &o.stdout);
    needles.check("strict render stderr", &o.stderr);
    let a = args(&[&"explain", &corpus, &"--config", &strict_cfg]);
    let o = run_strs(&a);
    needles.check("strict explain stdout", &o.stdout);
    needles.check("strict explain stderr", &o.stderr);
    eprintln!("secrets: no value found in any output, report or message");
}
