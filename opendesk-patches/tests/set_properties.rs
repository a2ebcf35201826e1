//! The whole default patch set: idempotent on generated documents and on the real corpus,
//! and its per-patch match counts on the corpus pinned in `tests/corpus_match_counts.txt` (a
//! silently dead patch shows up in review).
//!
//! The pins stay out of a patch author's way: a patch that has no line yet is reported, not
//! failed, so adding a patch takes its own three files only. A pinned patch whose counts moved,
//! or that left the set, fails. `OPENDESK_ACCEPT_CORPUS_COUNTS=1 cargo test -p
//! opendesk-patches --test set_properties` rewrites the file with every patch's counts.

use opendesk_render::document::{emit_stream, Document};
use opendesk_render::load::{load_dir, parse_text};
use opendesk_render::patch::{apply, Prepared, Vars};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

fn prepared(version: &str) -> Prepared {
    let set = opendesk_patches::default_set().unwrap();
    let values = serde_json::json!({
        "synapse": {"federationDomainWhitelist": ["matrix.example.org"]},
        "intercom": {"redisUsername": "default"}
    });
    let vars = Vars {
        values: values.as_object().unwrap().clone(),
        instance: "acme".into(),
        namespace: "opendesk".into(),
        opendesk_version: version.into(),
    };
    set.prepare(&semver::Version::parse(version).unwrap(), &vars).unwrap()
}

#[test]
fn corpus_match_counts_and_idempotence() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/opendesk-like");
    if !dir.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "corpus missing");
        return;
    }
    let mut docs = load_dir(&dir).unwrap().documents;
    let prep = prepared("1.13.1");
    let run = apply(&prep, &mut docs, "patch");
    let once = emit_stream(&docs);
    let rows: Vec<(String, String)> = run
        .stats
        .iter()
        .map(|s| {
            let row = format!(
                "{:<32} matched {:>3} changed {:>3}{}",
                s.name,
                s.matched,
                s.changed,
                s.skipped.as_deref().map(|w| format!(" skipped: {w}")).unwrap_or_default()
            );
            (s.name.clone(), row)
        })
        .collect();
    check_pins(&rows);
    let mut again = docs.clone();
    let run2 = apply(&prep, &mut again, "patch");
    assert_eq!(emit_stream(&again), once, "second application changed the corpus");
    assert!(run2.stats.iter().all(|s| s.changed == 0), "{:?}", run2.stats);
}

/// Compare the corpus counts with the pinned rows (see the module docs).
fn check_pins(rows: &[(String, String)]) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_match_counts.txt");
    if std::env::var_os("OPENDESK_ACCEPT_CORPUS_COUNTS").is_some() {
        let text: String = rows.iter().map(|(_, r)| format!("{r}\n")).collect();
        std::fs::write(&file, text).unwrap();
        eprintln!("wrote {}: review it with git diff", file.display());
        return;
    }
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let pinned: Vec<(&str, &str)> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| (l.split_whitespace().next().unwrap_or(""), l)).collect();
    let mut problems = Vec::new();
    for (name, line) in &pinned {
        match rows.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("{name}: pinned but no longer in the default set (remove its line)")),
            Some((_, row)) if row.trim_end() != line.trim_end() => {
                problems.push(format!("{name}: counts moved\n  pinned: {line}\n  now:    {row}"))
            }
            Some(_) => {}
        }
    }
    for (name, row) in rows {
        if !pinned.iter().any(|(n, _)| n == name) {
            eprintln!("not pinned yet (OPENDESK_ACCEPT_CORPUS_COUNTS=1 pins it): {row}");
        }
    }
    assert!(
        problems.is_empty(),
        "corpus match counts differ from {}:\n{}\n(if intended: OPENDESK_ACCEPT_CORPUS_COUNTS=1 cargo test -p opendesk-patches --test set_properties, then review the diff)",
        file.display(),
        problems.join("\n")
    );
}

fn workload() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec!["Deployment", "StatefulSet", "Job", "DaemonSet"]);
    let release = prop::sample::select(vec![
        "ums",
        "open-xchange",
        "opendesk-keycloak-bootstrap",
        "opendesk-openproject-bootstrap",
        "intercom-service",
        "x",
    ]);
    let name = prop::sample::select(vec![
        "ums-udm-rest-api",
        "ums-keycloak",
        "opendesk-openproject-bootstrap",
        "open-xchange-core-mw",
        "app",
    ]);
    let hook = prop::sample::select(vec!["", "pre-install,pre-upgrade", "post-install", "pre-delete"]);
    let argo = prop::sample::select(vec!["", "HookSucceeded", "BeforeHookCreation"]);
    (kind, release, name, hook, argo, any::<[bool; 6]>()).prop_map(|(kind, release, name, hook, argo, f)| {
        let mut ann = String::new();
        if !hook.is_empty() {
            ann.push_str(&format!("    helm.sh/hook: {hook}\n"));
        }
        if !argo.is_empty() {
            ann.push_str(&format!("    argocd.argoproj.io/hook: Sync\n    argocd.argoproj.io/hook-delete-policy: {argo}\n"));
        }
        let ann = if ann.is_empty() { String::new() } else { format!("  annotations:\n{ann}") };
        let ttl = if f[0] { "  ttlSecondsAfterFinished: 30\n  backoffLimit: 6\n" } else { "" };
        let sub = if f[1] { "subpath" } else { "subPath" };
        let port = if f[2] { "              port: 8080\n" } else { "" };
        let proto = if f[3] { "              protocol:\n" } else { "              protocol: TCP\n" };
        let probe = if f[4] { "          livenessProbe:\n            enabled: true\n            initialDelaySeconds: 5\n" } else { "" };
        let dup = if f[5] { "            - {name: A, value: '2'}\n" } else { "" };
        format!(
            "# Release: {release}\n# Source: c/templates/x.yaml\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{ann}spec:\n{ttl}  template:\n    spec:\n      containers:\n        - name: main\n          image: registry.example.org/app:1.0\n          env:\n            - {{name: A, value: '1'}}\n{dup}            - {{name: JAVA_OPTS_APPEND, value: -Dx=1}}\n          ports:\n            - containerPort: 8080\n{port}{proto}{probe}          volumeMounts:\n            - name: ca\n              mountPath: /etc/ssl/certs/ca-certificates.crt\n              {sub}: ca-certificates.crt\n"
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]
    #[test]
    fn applying_twice_equals_once(texts in prop::collection::vec(workload(), 1..6)) {
        let mut docs: Vec<Document> = Vec::new();
        for t in &texts {
            let f: Arc<str> = "f".into();
            let mut d = parse_text(&f, &f, Path::new("gen"), t, true).unwrap();
            let rel = t.lines().next().unwrap().trim_start_matches("# Release: ").to_string();
            d[0].origin.release = Arc::from(rel.as_str());
            docs.extend(d);
        }
        let prep = prepared("1.13.1");
        apply(&prep, &mut docs, "patch");
        let once = emit_stream(&docs);
        apply(&prep, &mut docs, "patch");
        prop_assert_eq!(emit_stream(&docs), once);
    }
}
