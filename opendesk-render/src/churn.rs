//! Churn from random chart values: compare this render's secret payload with the previous one
//! (`render --previous-secrets FILE`). Charts that call `randAlphaNum`, `genCA` or
//! `genSelfSignedCert` render new values on every `helmfile template`; every deploy would then
//! rotate those credentials in the secrets manager and re-roll the pods that hash them.
//!
//! One `secrets/value-changed` finding per Secret whose existing keys changed value: names only
//! (the Secret, its remote key, the property names), never a value. A warning; an error with
//! `strict`. Keys added or removed are a real change, not churn, and are not reported.

use crate::report::{Finding, Severity};
use crate::stages::eso::SecretPayload;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The finding's code ([`crate::checks::Check::SecretsValueChanged`]).
pub const VALUE_CHANGED: &str = "secrets/value-changed";

/// The previous payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PreviousSecretsError {
    /// Not JSON (the position is serde_json's).
    #[error("{}:{line}:{col}: --previous-secrets is not JSON: {message}", file.display())]
    Json {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// serde_json's message (it never quotes the input).
        message: String,
    },
    /// JSON, but not a secret payload.
    #[error("{}: --previous-secrets is not an opendesk-render secret payload ({why}); pass the file an earlier `render --secrets-out` wrote", file.display())]
    NotAPayload {
        /// The file.
        file: PathBuf,
        /// What is missing.
        why: &'static str,
    },
}

/// Per remote key: the Secret (`Kind/namespace/name`), its origin, and property → value.
type Props = BTreeMap<String, (String, Option<String>, BTreeMap<String, J>)>;

fn index(doc: &J) -> Option<Props> {
    if doc.get("kind").and_then(J::as_str) != Some("opendesk-render/secret-payload") {
        return None;
    }
    let mut out = Props::new();
    for s in doc.get("secrets")?.as_array()? {
        let key = s.get("key")?.as_str()?.to_string();
        let src = s.get("source");
        let field = |k: &str| src.and_then(|v| v.get(k)).and_then(J::as_str).unwrap_or("");
        let resource = format!(
            "{}/{}/{}",
            field("kind"),
            if field("namespace").is_empty() { "-" } else { field("namespace") },
            field("name")
        );
        let origin = src.and_then(|v| v.get("origin")).and_then(J::as_str).map(str::to_string);
        let props = s.get("properties")?.as_object()?.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.insert(key, (resource, origin, props));
    }
    Some(out)
}

/// Compare `current` with the previous payload `previous` (the text of `file`).
pub fn value_changes(
    file: &Path,
    previous: &str,
    current: &SecretPayload,
    strict: bool,
) -> Result<Vec<Finding>, PreviousSecretsError> {
    let prev: J = serde_json::from_str(previous).map_err(|e| PreviousSecretsError::Json {
        file: file.to_path_buf(),
        line: e.line(),
        col: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or("").to_string(),
    })?;
    let prev = index(&prev).ok_or(PreviousSecretsError::NotAPayload {
        file: file.to_path_buf(),
        why: "no `kind: opendesk-render/secret-payload` with `secrets[].key` and `properties`",
    })?;
    let cur: J = serde_json::from_str(&current.to_secrets_file()).unwrap_or(J::Null);
    let cur = index(&cur).unwrap_or_default();
    let severity = if strict { Severity::Error } else { Severity::Warning };
    let mut findings = Vec::new();
    for (key, (resource, origin, props)) in &cur {
        let Some((_, _, old)) = prev.get(key) else { continue };
        let changed: Vec<&str> =
            props.iter().filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v)).map(|(k, _)| k.as_str()).collect();
        if changed.is_empty() {
            continue;
        }
        let mut f = Finding::of(
            crate::checks::Check::SecretsValueChanged,
            format!(
                "{} value(s) of {key} changed since the previous payload: {} (names only). If nobody rotated them, the chart generates random values on every render (randAlphaNum, genCA, genSelfSignedCert): every deploy would rotate them in the secrets manager and restart the pods that use them. Pin them: set the values in the helmfile values, or point the chart at an existingSecret",
                changed.len(),
                changed.join(", ")
            ),
        );
        f.severity = severity;
        f.resource = Some(resource.clone());
        f.origin = origin.clone();
        findings.push(f);
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: &str) -> String {
        format!(
            r#"{{"kind":"opendesk-render/secret-payload","version":1,"secrets":[{{"key":"acme/opendesk/harbor-core","source":{{"kind":"Secret","namespace":"opendesk","name":"harbor-core","origin":"harbor/x.yaml:1"}},"properties":{{"secret":"{v}","stable":"same"}}}}]}}"#
        )
    }

    #[test]
    fn bad_files_name_the_position() {
        let e = value_changes(Path::new("p.json"), "{\n  nope", &SecretPayload::default(), false).unwrap_err();
        assert!(e.to_string().starts_with("p.json:2:"), "{e}");
        let e = value_changes(Path::new("p.json"), "{}", &SecretPayload::default(), false).unwrap_err();
        assert!(e.to_string().contains("not an opendesk-render secret payload"), "{e}");
    }

    #[test]
    fn indexes_and_compares_names_only() {
        let a = index(&serde_json::from_str(&payload("r4nd0m-one")).unwrap()).unwrap();
        let b = index(&serde_json::from_str(&payload("r4nd0m-two")).unwrap()).unwrap();
        let (_, _, pa) = &a["acme/opendesk/harbor-core"];
        let (res, origin, pb) = &b["acme/opendesk/harbor-core"];
        assert_eq!(res, "Secret/opendesk/harbor-core");
        assert_eq!(origin.as_deref(), Some("harbor/x.yaml:1"));
        assert_ne!(pa["secret"], pb["secret"]);
        assert_eq!(pa["stable"], pb["stable"]);
    }
}
