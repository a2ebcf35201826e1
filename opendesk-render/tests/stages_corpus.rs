//! The stages on the real corpus (`../shared/corpus/opendesk-like`): JIT → dedup → lint →
//! inventory → ESO → redact → guards with a config that has a secrets manager.
//!
//! Proves: the stages succeed; no `Secret` with data is left; every generated
//! `ExternalSecret` validates against the `ExternalSecret` CRD's `openAPIV3Schema` from the
//! corpus (external-secrets-crds release), checked by a small structural validator below;
//! and no known secret value of the corpus Secrets is left in any emitted document or report.
//!
//! Skipped with a message when the corpus is missing, unless `CI` is set.

use opendesk_render::config::{SecretsManager, StoreRef};
use opendesk_render::stages::{dedup, eso, guards, inventory, jit, lint, redact};
use opendesk_render::yaml::Node;
use opendesk_render::{load_dir, Document, InstanceConfig, Severity};
use serde_json::Value as J;
use std::collections::HashSet;

mod common;
use common::corpus;
// The structural validator of the library's own tests (not in its public API).
#[path = "../src/output/schema.rs"]
#[allow(dead_code)]
mod openapi;

fn config() -> InstanceConfig {
    let mut c = InstanceConfig::minimal("1.13.1");
    c.instance = "acme".into();
    c.secrets_manager = Some(SecretsManager {
        store_ref: StoreRef { kind: "ClusterSecretStore".into(), name: "stackit-sm".into() },
        key_prefix: "acme".into(),
        refresh_interval: "1h".into(),
    });
    c.external_idp.user_sync = true;
    c.jit.image = "registry.example.org/keycloak-jit:1.0.0".into();
    c.jit.pull_secret = "jit-pull-secret".into();
    c
}

/// The test's structural OpenAPI v3 validator (`src/output/schema.rs`), with the old signature.
fn validate(schema: &J, v: &J, path: &str, errs: &mut Vec<String>) {
    errs.extend(openapi::validate(schema, v).into_iter().map(|e| e.replacen('$', path, 1)));
}

fn external_secret_schema(docs: &[Document]) -> J {
    let crd = docs
        .iter()
        .find(|d| {
            d.kind() == Some("CustomResourceDefinition") && d.name() == Some("externalsecrets.external-secrets.io")
        })
        .expect("the corpus has the ExternalSecret CRD (external-secrets-crds release)");
    let versions = crd.root.get_path("spec.versions").and_then(Node::as_seq).expect("versions");
    let v1 = versions.iter().find(|v| v.get("name").and_then(Node::scalar_text) == Some("v1")).expect("v1 version");
    v1.get_path("schema.openAPIV3Schema").expect("openAPIV3Schema").to_json()
}

#[test]
fn validator_rejects_what_it_should() {
    let Some(dir) = corpus() else { return };
    let docs = load_dir(&dir).expect("corpus loads").documents;
    let schema = external_secret_schema(&docs);
    let bad = serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x"},
        "spec": {
            "secretStoreRef": {"kind": "Vault", "name": "UPPER"},
            "target": {"creationPolicy": "Always", "bogus": 1},
            "data": [{"remoteRef": {"property": "p"}, "secretKey": "bad key"}]
        }
    });
    let mut errs = Vec::new();
    validate(&schema, &bad, "$", &mut errs);
    let want = [
        "secretStoreRef.kind: \"Vault\" is not one of",
        "secretStoreRef.name: \"UPPER\" does not match",
        "target.creationPolicy: \"Always\" is not one of",
        "target: unknown field \"bogus\"",
        "data[0].remoteRef: missing required field \"key\"",
        "data[0].secretKey: \"bad key\" does not match",
    ];
    for w in want {
        assert!(errs.iter().any(|e| e.contains(w)), "validator missed {w:?}; got {errs:#?}");
    }
}

/// Independent base64 decoder for the test (not the crate's).
fn b64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

/// Independent token-bounded occurrence scan (see the redact module docs for the rule).
fn occurs(hay: &str, needle: &str) -> bool {
    let a = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let (bs, be) = (a(needle.chars().next()), a(needle.chars().next_back()));
    hay.match_indices(needle).any(|(i, m)| {
        let glued_before = bs && a(hay[..i].chars().next_back());
        let glued_after = be && a(hay[i + m.len()..].chars().next());
        !glued_before && !glued_after
    })
}

#[test]
fn stages_on_the_corpus() {
    let Some(dir) = corpus() else { return };
    let cfg = config();
    let mut docs = load_dir(&dir).expect("corpus loads").documents;
    let schema = external_secret_schema(&docs);

    // Every decoded value of the input Secrets: (Secret, key, value).
    let mut input_values: Vec<(String, String, String)> = Vec::new();
    for d in docs.iter().filter(|d| d.kind() == Some("Secret")) {
        for (field, decode) in [("data", true), ("stringData", false)] {
            for e in d.root.get(field).and_then(Node::as_map).into_iter().flatten() {
                let raw = e.value.scalar_text().unwrap_or("");
                let v = if decode { String::from_utf8_lossy(&b64(raw)).into_owned() } else { raw.to_string() };
                input_values.push((d.id().to_string(), e.key.text.clone(), v));
            }
        }
    }
    assert!(input_values.len() > 50, "the corpus has many Secret values");

    let jit_r = jit::jit(&mut docs, &cfg).expect("jit");
    assert_eq!(jit_r.workloads.len(), 1, "ums-keycloak's StatefulSet");
    let dedup_r = dedup::dedup(&mut docs, &cfg).expect("no conflicting duplicates in the corpus");
    let lint_r = lint::lint(&docs, &cfg);
    let inv = inventory::inventory(&docs, &cfg);
    let eso_out = eso::eso(&mut docs, &cfg).expect("eso with a store");
    let redact_out = redact::redact(&mut docs, &cfg, &eso_out.payload).expect("redact (not strict)");
    let guard_r = guards::guards(
        &docs,
        &cfg,
        &guards::GuardContext {
            known_secrets: Some(&redact_out.known),
            root_clean: &redact_out.root_clean,
            module: false,
            ..Default::default()
        },
    );

    // Reports, as they would be written.
    let reports = [
        serde_json::to_string(&jit_r).unwrap(),
        serde_json::to_string(&dedup_r).unwrap(),
        serde_json::to_string(&lint_r).unwrap(),
        serde_json::to_string(&inv).unwrap(),
        serde_json::to_string(&eso_out.report).unwrap(),
        serde_json::to_string(&redact_out.report).unwrap(),
        serde_json::to_string(&guard_r).unwrap(),
        format!("{:?}{:?}", eso_out.payload, redact_out.known),
    ];

    println!(
        "corpus: {} documents after stages, {} releases; dedup: {} identical resources dropped, {} containers with duplicate env",
        docs.len(),
        inv.releases.len(),
        dedup_r.resources.len(),
        dedup_r.env.len()
    );
    println!("lint: {} errors, {} warnings", lint_r.errors, lint_r.warnings);
    for f in lint_r.findings.iter().filter(|f| f.severity == Severity::Error) {
        println!("  lint error {} {} {:?}: {}", f.code, f.origin.as_deref().unwrap_or(""), f.path, f.message);
    }
    println!(
        "eso: {} Secrets converted ({} values), {} dropped, {} kept without data",
        eso_out.report.converted.len(),
        eso_out.report.values,
        eso_out.report.dropped.len(),
        eso_out.report.kept_without_data.len()
    );
    println!("redact: {:?}", redact_out.report.selection);
    println!("redact: {} inline occurrences masked", redact_out.report.occurrences.len());
    for o in &redact_out.report.occurrences {
        println!("  masked {} at {} ({})", o.resource, o.path, o.origin);
    }

    // The stages succeed.
    // The only lint errors are a real chart defect: snipr glues `apiVersion:` onto its SPDX
    // comment line (`# SPDX-License-Identifier: Apache-2.0apiVersion: ...`), so two of its
    // documents have no apiVersion and the API server would reject them.
    let errors: Vec<(&str, &str, &str)> = lint_r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code.as_str(), f.origin.as_deref().unwrap_or(""), f.path.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        errors,
        [
            ("lint/missing-field", "snipr/snipr/templates/ingress.yaml:5", "$.apiVersion"),
            ("lint/missing-field", "snipr/snipr/templates/serviceaccount.yaml:5", "$.apiVersion"),
        ],
        "unexpected lint errors on the corpus"
    );
    assert!(!guard_r.failed(), "guards failed: {:#?}", guard_r.failures().collect::<Vec<_>>());
    assert!(dedup_r.env.iter().any(|e| e.names.contains(&"KC_PROXY_HEADERS".to_string())));

    // No Secret with data left.
    for d in &docs {
        if d.kind() == Some("Secret") {
            for f in ["data", "stringData"] {
                assert!(d.root.get(f).and_then(Node::as_map).is_none_or(|m| m.is_empty()), "{} still has {f}", d.id());
            }
        }
    }

    // Every ExternalSecret validates against the CRD schema.
    let mut validated = 0;
    for d in docs.iter().filter(|d| d.kind() == Some("ExternalSecret")) {
        let mut errs = Vec::new();
        validate(&schema, &d.root.to_json(), "$", &mut errs);
        assert!(errs.is_empty(), "{} ({}) does not validate: {errs:#?}", d.id(), d.origin);
        validated += 1;
    }
    assert_eq!(validated, eso_out.report.converted.len());
    assert!(validated >= 30, "the corpus converts many Secrets");
    println!("validated {validated} ExternalSecrets against the ExternalSecret CRD openAPIV3Schema (v1)");

    // No known secret value in any emitted document or report. The known values follow the
    // documented selection (redact module docs): length >= 4, and for Secret values not
    // booleans/numbers, not identifiers of the render, not under a public-config key.
    let ids: HashSet<String> = docs
        .iter()
        .flat_map(|d| {
            let mut v = vec![d.origin.release.to_string()];
            for k in ["metadata.name", "metadata.namespace"] {
                v.extend(d.root.get_path(k).and_then(Node::scalar_text).map(str::to_string));
            }
            v.extend(
                d.root
                    .get_path("metadata.labels")
                    .and_then(Node::as_map)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.value.scalar_text().map(str::to_string)),
            );
            v
        })
        .chain([cfg.namespace.clone(), cfg.instance.clone()])
        .collect();
    let id_refs: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut secret_values: Vec<&str> = Vec::new();
    let mut public = 0;
    for (_, k, v) in &input_values {
        if v.chars().count() < 4 {
            continue;
        }
        match redact::classify(k, v, &id_refs) {
            None => secret_values.push(v),
            Some(_) => public += 1,
        }
    }
    secret_values.sort_unstable();
    secret_values.dedup();
    assert_eq!(secret_values.len(), redact_out.known.len(), "the test's selection equals the stage's");
    // The pipeline scrubs every report through `KnownSecrets::mask` before it leaves the
    // process, as it must: reports name chart files, and a value can coincide with a file
    // name (cassandra's dummy password `cassandra-secret` and `cassandra-secret.yaml`).
    let scrubbed = reports.iter().filter(|r| redact_out.known.contains(r)).count();
    let reports: Vec<String> = reports.iter().map(|r| redact_out.known.mask(r).into_owned()).collect();
    println!("{scrubbed} of {} reports needed scrubbing", reports.len());
    let emitted: Vec<String> = docs.iter().map(Document::emit).collect();
    let mut leaks = Vec::new();
    for v in &secret_values {
        for (d, text) in docs.iter().zip(&emitted) {
            if d.kind() != Some("Secret") && occurs(text, v) {
                leaks.push(format!("{} ({})", d.id(), d.origin));
            }
        }
        for (i, r) in reports.iter().enumerate() {
            if occurs(r, v) {
                leaks.push(format!("report #{i}"));
            }
        }
    }
    assert!(leaks.is_empty(), "known secret values left in: {leaks:#?}");
    println!(
        "scanned {} documents and {} reports for {} secret values (len >= 4): none found; {} values treated as public config",
        docs.len(),
        reports.len(),
        secret_values.len(),
        public
    );
    // Values with a secret-looking key are never treated as public unless they are
    // booleans/numbers or identifiers.
    for (s, k, v) in &input_values {
        let words = redact::key_words(k);
        if v.chars().count() >= 4
            && words.last().is_some_and(|w| ["password", "secret", "token", "key"].contains(&w.as_str()))
            && redact::classify(k, v, &id_refs) == Some(redact::PublicReason::PublicKey)
        {
            panic!("{s}#{k} treated as public config");
        }
    }
}
