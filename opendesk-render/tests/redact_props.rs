//! Property test of the redact stage (issue 15): a random strong value planted in a Secret and
//! at a random place (a container env value, ConfigMap text, an annotation, a label, inside a
//! base64 blob) never appears, in any form, in the output tree, render-meta or the report;
//! every output document is unchanged, or changed only by a reported `secretKeyRef` rewrite,
//! or the render failed (exit 1).
//!
//! The search for the value is the test's own: a plain substring search, the percent-encoding,
//! and every run of base64 characters decoded at each of the four character offsets (so the
//! value is found inside any base64 blob, whatever its alignment), not the stage's matcher.

use opendesk_render::config::{SecretsManager, StoreRef};
use opendesk_render::pipeline::{render, RenderError, RenderRequest};
use opendesk_render::stages::eso::encode_base64;
use opendesk_render::{Document, InstanceConfig, LoadedInput};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

#[path = "common/b64.rs"]
mod b64;

fn config() -> InstanceConfig {
    let mut c = InstanceConfig::minimal("1.13.1");
    c.instance = "acme".into();
    c.secrets_manager = Some(SecretsManager {
        store_ref: StoreRef { kind: "ClusterSecretStore".into(), name: "stackit-sm".into() },
        key_prefix: "acme".into(),
        refresh_interval: "1h".into(),
    });
    c
}

#[derive(Debug, Clone)]
enum Place {
    EnvValue,
    ConfigMapText(String, String),
    Annotation,
    Label,
    Base64Blob(Vec<u8>, Vec<u8>),
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::EnvValue),
        ("[a-z =:/?&]{0,12}", "[a-z =;&]{0,12}").prop_map(|(a, b)| Place::ConfigMapText(a, b)),
        Just(Place::Annotation),
        Just(Place::Label),
        (prop::collection::vec(any::<u8>(), 0..7), prop::collection::vec(any::<u8>(), 0..7))
            .prop_map(|(a, b)| Place::Base64Blob(a, b)),
    ]
}

/// A strong value: letters of both cases and digits, sometimes a symbol (never one that needs
/// YAML escaping inside double quotes); label-safe when it goes into a label.
fn strong(label_safe: bool) -> impl Strategy<Value = String> {
    let re = if label_safe {
        "[A-Z][a-z][0-9][A-Za-z0-9]{13,30}"
    } else {
        "[A-Z][a-z][0-9][A-Za-z0-9!%*+=_.-]{13,30}[a-z0-9]"
    };
    re.prop_filter("strong", |v| opendesk_render::stages::classify::is_strong(v))
}

fn input(value: &str, place: &Place) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-secret, namespace: opendesk}}\nstringData:\n  \
         api-token: \"{value}\"\n  LOG_LEVEL: INFO\n  SMTP_HOST: smtp.example.org\n---\n"
    );
    let (env, annotation, label) = match place {
        Place::EnvValue => (format!("\"{value}\""), "plain".to_string(), "web".to_string()),
        Place::Annotation => ("plain".into(), format!("\"x {value}\""), "web".into()),
        Place::Label => ("plain".into(), "plain".into(), value.to_string()),
        _ => ("plain".into(), "plain".into(), "web".into()),
    };
    text.push_str(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: opendesk\n  annotations: {{note: {annotation}}}\n\
         spec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web, tier: \"{label}\"}}}}\n    \
         spec:\n      containers:\n        - name: web\n          image: web:1.0\n          env:\n            \
         - {{name: API_TOKEN, value: {env}}}\n            - {{name: LOG, value: INFO}}\n---\n"
    ));
    let data = match place {
        Place::ConfigMapText(a, b) => format!("\"{a}{value}{b}\""),
        Place::Base64Blob(a, b) => {
            let mut bytes = a.clone();
            bytes.extend_from_slice(value.as_bytes());
            bytes.extend_from_slice(b);
            encode_base64(&bytes)
        }
        _ => "\"smtp.example.org INFO\"".into(),
    };
    text.push_str(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: opendesk}}\ndata:\n  conf: {data}\n"
    ));
    text
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Does `text` hold `value` plainly, percent-encoded, or inside a base64 run?
fn holds(text: &str, value: &str) -> bool {
    if text.contains(value) || text.contains(&percent(value)) {
        return true;
    }
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/-_".contains(c);
    let needle = value.as_bytes();
    text.split(|c: char| !is_b64(c)).filter(|run| run.len() >= 16).any(|run| {
        (0..4).any(|skip| {
            let decoded = b64::decode(&run[skip.min(run.len())..]);
            decoded.windows(needle.len()).any(|w| w == needle)
        })
    })
}

fn docs_of(text: &str) -> Vec<Document> {
    let r: Arc<str> = "app".into();
    let f: Arc<str> = "app/templates/all.yaml".into();
    opendesk_render::load::parse_text(&r, &f, Path::new("all.yaml"), text, true).expect("fixture parses")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_planted_value_never_leaves_and_nothing_breaks(
        (value, place) in place().prop_flat_map(|p| {
            let label = matches!(p, Place::Label);
            (strong(label), Just(p))
        })
    ) {
        let text = input(&value, &place);
        let docs = docs_of(&text);
        let before: Vec<(String, String)> = docs.iter().map(|d| (d.id().to_string(), d.emit())).collect();
        let loaded = LoadedInput { files: Vec::new(), documents: docs, bytes: text.len() as u64, digest: "sha256:00".into() };
        let cfg = config();
        let req = RenderRequest { config: Some(&cfg), ..Default::default() };
        match render(loaded, &req) {
            Ok(r) => {
                prop_assert!(matches!(place, Place::EnvValue), "only an env value can be rewritten, not {place:?}");
                for (p, t) in &r.tree.files {
                    prop_assert!(!holds(t, &value), "{} holds the value", p.display());
                }
                let json = serde_json::to_string(&r.report).unwrap();
                prop_assert!(!holds(&json, &value), "the report holds the value");
                let refs: Vec<&str> = r.report.findings.iter()
                    .filter(|f| f.code == "redact/secret-ref")
                    .filter_map(|f| f.resource.as_deref())
                    .collect();
                for d in &r.documents {
                    if d.kind() == Some("ExternalSecret") {
                        continue;
                    }
                    let id = d.id().to_string();
                    let was = &before.iter().find(|(i, _)| *i == id).expect("same resources").1;
                    if *was != d.emit() {
                        prop_assert!(refs.contains(&id.as_str()), "{id} changed without a reported rewrite");
                        prop_assert!(d.changes.iter().all(|c| c.by == "stage:redact" && c.action == "secret-ref"));
                        prop_assert!(d.emit().contains("secretKeyRef"));
                    }
                }
            }
            Err(RenderError::Failed(report, _)) => {
                prop_assert!(!matches!(place, Place::EnvValue), "an env value is rewritten, not refused");
                let json = serde_json::to_string(&report).unwrap();
                prop_assert!(!holds(&json, &value), "the report of the failed render holds the value");
                prop_assert!(report.findings.iter().any(|f| f.code == "redact/inline-secret"), "{json}");
            }
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }
}

/// The test's own search finds the value in every form it claims to.
#[test]
fn the_search_finds_every_form() {
    let v = "Qx7kP2mVr9LsT4wZ";
    for pre in ["", "a", "ab", "abc"] {
        for post in ["", "x", "xy"] {
            let blob = encode_base64(format!("{pre}{v}{post}").as_bytes());
            assert!(holds(&format!("data: {blob}\n"), v), "{pre:?} {post:?}");
            assert!(holds(&blob.replace('+', "-").replace('/', "_"), v));
        }
    }
    assert!(holds("u=Qx7kP2mVr9LsT4wZ&", v));
    assert!(holds(&percent("Qx7k!P2m"), "Qx7k!P2m"));
    assert!(!holds(&encode_base64(b"something else entirely"), v));
}
