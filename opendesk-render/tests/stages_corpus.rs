//! The stages on the real corpus (`../shared/corpus/opendesk-like`): JIT → dedup → lint →
//! inventory → ESO → redact → guards with a config that has a secrets manager.
//!
//! Proves: the stages succeed; no `Secret` with data is left; every generated
//! `ExternalSecret` validates against the `ExternalSecret` CRD's `openAPIV3Schema` from the
//! corpus (external-secrets-crds release), checked by a small structural validator below;
//! and no secret value of the corpus Secrets is left in any emitted document or report,
//! except the one true positive the redact stage refuses (the minio provisioning Job inlines
//! the openproject S3 key in its script). With `benches/corpus-instance.yaml` (which fixes that
//! Job with an override) the whole pipeline renders; no CRD and no generated ExternalSecret is
//! changed by redaction; every `remoteRef.property` exists in the payload under its key.
//!
//! Skipped with a message when the corpus is missing, unless `CI` is set.

use opendesk_render::config::{SecretsManager, StoreRef};
use opendesk_render::stages::{classify, dedup, eso, forms, guards, inventory, jit, lint, redact};
use opendesk_render::yaml::Node;
use opendesk_render::{load_dir, Document, InstanceConfig, Severity};
use serde_json::Value as J;
use std::collections::HashSet;

mod common;
use common::corpus;
#[path = "common/b64.rs"]
mod b64;
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
                let v = if decode { String::from_utf8_lossy(&b64::decode(raw)).into_owned() } else { raw.to_string() };
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
    let redact_out = redact::redact(&mut docs, &cfg, &eso_out.payload);
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
    for o in &redact_out.report.occurrences {
        println!("  {:?} {} at {} ({}): {} ({:?})", o.action, o.resource, o.path, o.origin, o.secret, o.form);
    }
    // The one true positive without the instance config's override: the minio provisioning
    // Job's script inlines the openproject S3 key. Refused (the render would exit 1), unchanged.
    let refused: Vec<(&str, &str, &str)> = redact_out
        .report
        .occurrences
        .iter()
        .filter(|o| o.action == redact::Action::Refused)
        .map(|o| (o.resource.as_str(), o.path.as_str(), o.secret.as_str()))
        .collect();
    assert_eq!(
        refused,
        [(
            "Job/opendesk/minio-provisioning",
            "$.spec.template.spec.containers[0].command[2]",
            "Secret/opendesk/openproject-s3 key `OPENPROJECT_FOG_CREDENTIALS_AWS__SECRET__ACCESS__KEY`"
        )]
    );
    assert!(redact_out.report.masked_documents.is_empty());
    assert!(redact_out.report.count(redact::Action::SecretRef) >= 8, "env values rewritten to secretKeyRef");

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
    // Only the plaintext guard fails, on the refused Job (the backstop agrees with the stage).
    let failed: Vec<(String, Option<String>)> =
        guard_r.findings().iter().map(|f| (f.code.clone(), f.resource.clone())).collect();
    assert_eq!(failed, [("guard/plaintext-secrets".to_string(), Some("Job/opendesk/minio-provisioning".to_string()))]);
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

    // No secret value in any emitted document or report, in any form, but in the refused Job.
    // The test's own selection: the classification the stage documents, per (Secret, key).
    let ids_owned: Vec<String> = docs
        .iter()
        .flat_map(|d| {
            let mut v = vec![d.origin.release.to_string()];
            v.extend(d.name().map(str::to_string));
            v.extend(d.namespace().map(str::to_string));
            v
        })
        .chain([cfg.namespace.clone(), cfg.instance.clone()])
        .collect();
    let ids: HashSet<&str> = ids_owned.iter().map(String::as_str).collect();
    let mut secret_values: Vec<&str> = Vec::new();
    for (_, k, v) in &input_values {
        if classify::classify(k, v.as_bytes(), &ids).class == classify::Class::Secret {
            secret_values.push(v);
        }
    }
    secret_values.sort_unstable();
    secret_values.dedup();
    assert!(secret_values.len() >= 30, "the corpus has many strong secret values: {}", secret_values.len());
    let reports: Vec<String> = reports.iter().map(|r| redact_out.known.mask(r).into_owned()).collect();
    let emitted: Vec<String> = docs.iter().map(Document::emit).collect();
    let mut leaks = Vec::new();
    for v in &secret_values {
        let needles: Vec<String> = forms::forms(v.as_bytes(), true).into_iter().map(|(t, _)| t).collect();
        for (d, text) in docs.iter().zip(&emitted) {
            let refused = d.name() == Some("minio-provisioning") && v.contains("op-s3");
            if d.kind() != Some("Secret") && !refused && needles.iter().any(|n| text.contains(n.as_str())) {
                leaks.push(format!("{} ({})", d.id(), d.origin));
            }
        }
        for (i, r) in reports.iter().enumerate() {
            if needles.iter().any(|n| r.contains(n.as_str())) {
                leaks.push(format!("report #{i}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secret values left in: {leaks:#?}");
    // The classification is in the report, names only, one entry per (Secret, key).
    assert_eq!(redact_out.report.secrets.len(), eso_out.report.values);
    println!(
        "scanned {} documents and {} reports for {} secret values in every form: none found outside the refused Job",
        docs.len(),
        reports.len(),
        secret_values.len(),
    );
}

/// The whole pipeline with `benches/corpus-instance.yaml`: exit 0 (the minio Job reads the key
/// from its Secret through the config's override), no CRD and no generated ExternalSecret
/// changed by redaction, every `remoteRef` resolvable in the payload.
#[test]
fn corpus_renders_with_the_instance_config() {
    let Some(dir) = corpus() else { return };
    let cfg_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/corpus-instance.yaml");
    let cfg = InstanceConfig::load(&cfg_path).expect("corpus config");
    let input = load_dir(&dir).expect("corpus loads");
    let req = opendesk_render::pipeline::RenderRequest { config: Some(&cfg), ..Default::default() };
    let r = match opendesk_render::pipeline::render(input, &req) {
        Ok(r) => r,
        Err(e) => panic!("corpus render failed: {e}"),
    };
    let codes: Vec<&str> = r.report.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(!codes.contains(&"redact/inline-secret") && !codes.contains(&"redact/masked"), "{codes:?}");
    assert!(r.report.summary.secret_refs >= 8, "{:?}", r.report.summary);
    for d in &r.documents {
        let kind = d.kind().unwrap_or("");
        let by_redact = d.changes.iter().any(|c| c.by == "stage:redact");
        if kind == "CustomResourceDefinition" || kind == "ExternalSecret" {
            assert!(!by_redact, "{} changed by redaction", d.id());
        }
    }
    // Every remoteRef resolves: the payload has that key with that property.
    let mut payload: std::collections::HashMap<&str, HashSet<&str>> = Default::default();
    for e in &r.secrets.entries {
        payload.entry(e.remote_key.as_str()).or_default().extend(e.properties.iter().map(|(k, _)| k.as_str()));
    }
    let mut checked = 0;
    for d in r.documents.iter().filter(|d| d.kind() == Some("ExternalSecret")) {
        for item in d.root.get_path("spec.data").and_then(Node::as_seq).into_iter().flatten() {
            let key = item.get_path("remoteRef.key").and_then(Node::scalar_text).unwrap_or("");
            let prop = item.get_path("remoteRef.property").and_then(Node::scalar_text).unwrap_or("");
            let secret_key = item.get("secretKey").and_then(Node::scalar_text).unwrap_or("");
            assert!(payload.get(key).is_some_and(|p| p.contains(prop)), "{}: {key}#{prop} not in the payload", d.id());
            assert_eq!(secret_key, prop, "{}", d.id());
            checked += 1;
        }
    }
    assert!(checked >= 100, "{checked} remoteRefs");
    // No secret value, in any form, in any output file (render-meta included).
    let rendered = redact::redact(&mut Vec::new(), &cfg, &r.secrets);
    let known = &rendered.known;
    assert!(known.len() >= 30);
    for (p, text) in &r.tree.files {
        assert!(!known.contains(text), "{} holds a secret value", p.display());
    }
    let json = serde_json::to_string(&r.report).unwrap();
    assert!(!known.contains(&json), "the report holds a secret value");
    assert!(json.contains("\"secrets\":[{\"secret\":\"Secret/"), "the classification is in --json");
    let meta = &r.tree.files[std::path::Path::new("render-meta.yaml")];
    assert!(meta.contains("\nsecrets:\n"), "the classification is in render-meta");
}
