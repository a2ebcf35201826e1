//! ESO stage: plaintext `Secret`s become `external-secrets.io/v1` `ExternalSecret`s.
//!
//! Every core `Secret` carrying data (`data` or `stringData` with at least one key) is
//! replaced, at the same position in the document list, by an `ExternalSecret`:
//!
//! ```yaml
//! apiVersion: external-secrets.io/v1
//! kind: ExternalSecret
//! metadata:
//!   name: <name>                 # same name and namespace as the Secret
//!   namespace: <namespace>
//!   labels: <the Secret's labels>
//!   annotations: <the Secret's argocd.argoproj.io/* and helm.sh/hook* annotations>
//! spec:
//!   refreshInterval: <secretsManager.refreshInterval>
//!   secretStoreRef: <secretsManager.storeRef>
//!   target:
//!     name: <name>
//!     creationPolicy: Owner
//!     immutable: true            # only when the Secret was immutable
//!     template:
//!       type: <the Secret's type, Opaque when unset>
//!       metadata: {labels: …, annotations: …}   # all of the Secret's labels and annotations
//!   data:
//!     - secretKey: <key>
//!       remoteRef: {key: <keyPrefix>/<namespace>/<name>, property: <key>}
//! ```
//!
//! The decoded values go into a separate [`SecretPayload`] for the caller to write to the
//! secrets manager; they never enter the output tree, the report or an error. Values that
//! are not UTF-8 are stored base64-encoded and their `remoteRef` gets
//! `decodingStrategy: Base64`, so the target Secret receives the original bytes.
//!
//! `kubernetes.io/service-account-token` and `helm.sh/release.v1` Secrets are dropped from
//! the output and reported (the cluster creates the former; the latter is Helm's own state
//! and means nothing to Argo CD). Secrets without data (filled at runtime by a controller)
//! stay as they are.
//!
//! **Plaintext rule**: when the input holds a Secret with data and the instance config has no
//! usable `secretsManager` (missing, or any of `storeRef.kind`, `storeRef.name`, `keyPrefix`
//! empty), the stage fails with [`EsoError::NoSecretStore`]; a half-filled block is never
//! read as "off".

use crate::config::InstanceConfig;
use crate::document::{Document, Origin, ResourceId};
use crate::report::Finding;
use crate::yaml::{map_of, Entry, Node, Value};
use serde::Serialize;
use std::fmt;
use thiserror::Error;

const BY: &str = "stage:eso";

/// Secret type of service-account tokens (dropped).
pub const SERVICE_ACCOUNT_TOKEN: &str = "kubernetes.io/service-account-token";
/// Secret type of Helm release records (dropped).
pub const HELM_RELEASE: &str = "helm.sh/release.v1";

/// A secret value. Its `Debug` output shows only the length, so it cannot leak through
/// `{:?}`, and it has no `Serialize`: the only way out is [`SecretPayload::to_secrets_file`]
/// or an explicit [`SecretValue::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wrap bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretValue(bytes)
    }

    /// The bytes. Callers must not log or serialize them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, when it is UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<{} bytes>)", self.0.len())
    }
}

/// The values of one converted Secret.
#[derive(Debug, Clone)]
pub struct PayloadEntry {
    /// `remoteRef.key`: `<keyPrefix>/<namespace>/<name>`.
    pub remote_key: String,
    /// The Secret it came from (identity as written).
    pub resource: ResourceId,
    /// The namespace the Secret lands in (its own, else the instance namespace).
    pub namespace: String,
    /// Where that Secret came from.
    pub origin: Origin,
    /// The Secret's `type` (`Opaque` when unset).
    pub secret_type: String,
    /// `(property, value)` in the Secret's key order (`stringData` overrides `data`).
    pub properties: Vec<(String, SecretValue)>,
}

/// The secret values taken out of the render, for the secrets manager. `Debug` never shows a
/// value; there is deliberately no `Serialize` (use [`SecretPayload::to_secrets_file`]).
#[derive(Debug, Clone, Default)]
pub struct SecretPayload {
    /// One entry per converted Secret, in document order.
    pub entries: Vec<PayloadEntry>,
    /// Values of dropped Secrets (service-account tokens, Helm releases): not written to the
    /// secrets manager, kept only so the redact stage can mask them elsewhere.
    withheld: Vec<(String, SecretValue)>,
}

impl SecretPayload {
    /// True when nothing was converted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of values to store.
    pub fn value_count(&self) -> usize {
        self.entries.iter().map(|e| e.properties.len()).sum()
    }

    /// Every known value with its property name: converted ones, then withheld ones.
    pub fn values(&self) -> impl Iterator<Item = (&str, &SecretValue)> {
        self.entries
            .iter()
            .flat_map(|e| e.properties.iter().map(|(k, v)| (k.as_str(), v)))
            .chain(self.withheld.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The `--secrets-out` file (JSON, deterministic). The only serializer of values:
    ///
    /// ```json
    /// {
    ///   "kind": "opendesk-render/secret-payload",
    ///   "version": 1,
    ///   "secrets": [
    ///     {
    ///       "key": "acme/opendesk/redis",
    ///       "source": {"kind": "Secret", "namespace": "opendesk", "name": "redis",
    ///                  "type": "Opaque", "origin": "redis/redis/templates/secret.yaml:3"},
    ///       "properties": {"redis-password": "…"},
    ///       "base64Properties": ["keystore"]
    ///     }
    ///   ]
    /// }
    /// ```
    ///
    /// Store each entry as one secret named `key` whose JSON object holds `properties`
    /// (values listed in `base64Properties` are base64 text; their ExternalSecret decodes them).
    /// Write the file with mode 0600, never inside the output tree.
    pub fn to_secrets_file(&self) -> String {
        use serde_json::{json, Map, Value as J};
        let secrets: Vec<J> = self
            .entries
            .iter()
            .map(|e| {
                let mut props = Map::new();
                let mut b64 = Vec::new();
                for (k, v) in &e.properties {
                    match v.expose_str() {
                        Some(s) => props.insert(k.clone(), J::String(s.to_string())),
                        None => {
                            b64.push(J::String(k.clone()));
                            props.insert(k.clone(), J::String(encode_base64(v.expose())))
                        }
                    };
                }
                let mut o = Map::new();
                o.insert("key".into(), J::String(e.remote_key.clone()));
                o.insert(
                    "source".into(),
                    json!({
                        "kind": "Secret",
                        "namespace": e.namespace,
                        "name": e.resource.name,
                        "type": e.secret_type,
                        "origin": e.origin.to_string(),
                    }),
                );
                o.insert("properties".into(), J::Object(props));
                if !b64.is_empty() {
                    o.insert("base64Properties".into(), J::Array(b64));
                }
                J::Object(o)
            })
            .collect();
        let doc = json!({"kind": "opendesk-render/secret-payload", "version": 1, "secrets": secrets});
        let mut s = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
        s.push('\n');
        s
    }
}

/// A Secret that became an ExternalSecret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvertedSecret {
    /// `Secret/namespace/name`.
    pub resource: String,
    /// Origin (`release/file:line`).
    pub origin: String,
    /// `remoteRef.key`.
    pub remote_key: String,
    /// The Secret type kept in the template.
    pub secret_type: String,
    /// Property (key) names, in order. Names only, never values.
    pub properties: Vec<String>,
    /// Properties stored base64-encoded (binary values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base64_properties: Vec<String>,
}

/// A Secret left out of the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedSecret {
    /// `Secret/namespace/name`.
    pub resource: String,
    /// Origin.
    pub origin: String,
    /// Its type (why it was dropped).
    pub secret_type: String,
}

/// The ESO stage's report. Never holds a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EsoReport {
    /// Converted Secrets, in document order.
    pub converted: Vec<ConvertedSecret>,
    /// Dropped service-account-token and Helm release Secrets.
    pub dropped: Vec<DroppedSecret>,
    /// Secrets without data, left in place (`Secret/namespace/name`).
    pub kept_without_data: Vec<String>,
    /// Number of values moved to the payload.
    pub values: usize,
    /// One info finding per dropped Secret.
    pub findings: Vec<Finding>,
}

/// What the ESO stage returns: the report and, separately, the secret values.
#[derive(Debug, Clone, Default)]
pub struct EsoOutput {
    /// The report (no values).
    pub report: EsoReport,
    /// The values, for the secrets manager only.
    pub payload: SecretPayload,
}

/// A fatal ESO condition. Messages never contain a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EsoError {
    /// Secrets with data in the input and no usable secret store (plaintext rule, exit 2).
    #[error(
        "the input holds {count} Secret(s) with data (e.g. {examples}) but the instance config has no usable \
         `secretsManager` ({missing}). Plaintext Secrets are never written to the output. Configure the store the \
         ExternalSecrets will read from, e.g.:\n  secretsManager:\n    storeRef: {{kind: ClusterSecretStore, name: <store name>}}\n    \
         keyPrefix: <instance>          # remoteRef.key = <keyPrefix>/<namespace>/<secret name>\n    refreshInterval: 1h"
    )]
    NoSecretStore {
        /// Number of Secrets with data.
        count: usize,
        /// The first few (`Secret/namespace/name at release/file:line`).
        examples: String,
        /// What is missing (`secretsManager is not set`, `storeRef.name is empty`, …).
        missing: String,
    },
    /// A `data` value that is not base64.
    #[error("{origin}: {resource}: data key {key:?} is not valid base64 (use stringData for plain text)")]
    InvalidBase64 {
        /// The Secret.
        resource: String,
        /// Its origin.
        origin: String,
        /// The key.
        key: String,
    },
    /// A `data`/`stringData` value that is a list or mapping.
    #[error("{origin}: {resource}: {field} key {key:?} holds a {what}, not a string")]
    NotAScalar {
        /// The Secret.
        resource: String,
        /// Its origin.
        origin: String,
        /// `data` or `stringData`.
        field: &'static str,
        /// The key.
        key: String,
        /// `list` or `mapping`.
        what: &'static str,
    },
}

/// Decode standard base64 (RFC 4648 alphabet), as Kubernetes decodes Secret `data`: line
/// breaks are ignored, padding may be omitted. `None` when not base64.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    let (mut buf, mut bits, mut n, mut pad) = (0u32, 0u32, 0usize, 0usize);
    for &c in s.as_bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b'\r' | b'\n' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None; // data after padding
        }
        n += 1;
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    if n % 4 == 1 || pad > 2 || (pad > 0 && (n + pad) % 4 != 0) {
        return None;
    }
    Some(out)
}

/// Encode standard base64 with padding.
pub fn encode_base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for ch in b.chunks(3) {
        let v =
            (u32::from(ch[0]) << 16) | (u32::from(*ch.get(1).unwrap_or(&0)) << 8) | u32::from(*ch.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= ch.len() {
                s.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Is this document a core `Secret`?
pub fn is_secret(d: &Document) -> bool {
    d.kind() == Some("Secret") && d.group().is_empty()
}

/// The Secret's `type`, `Opaque` when unset.
pub fn secret_type(d: &Document) -> &str {
    d.root.get("type").and_then(Node::scalar_text).filter(|t| !t.is_empty()).unwrap_or("Opaque")
}

/// True when a Secret carries at least one key in `data` or `stringData`.
pub fn has_data(d: &Document) -> bool {
    ["data", "stringData"].iter().any(|f| d.root.get(f).and_then(Node::as_map).is_some_and(|m| !m.is_empty()))
}

/// The decoded `(key, value)` pairs of a Secret: `data` (base64-decoded), then `stringData`
/// (overriding `data` keys in place, as the API server merges them).
pub fn secret_values(d: &Document) -> Result<Vec<(String, SecretValue)>, EsoError> {
    let resource = d.id().to_string();
    let origin = d.origin.to_string();
    let mut out: Vec<(String, SecretValue)> = Vec::new();
    for field in ["data", "stringData"] {
        let Some(m) = d.root.get(field).and_then(Node::as_map) else { continue };
        for e in m {
            let text = match &e.value.value {
                Value::Scalar(s) => {
                    if e.value.is_null() {
                        ""
                    } else {
                        s.text.as_str()
                    }
                }
                other => {
                    return Err(EsoError::NotAScalar {
                        resource,
                        origin,
                        field: if field == "data" { "data" } else { "stringData" },
                        key: e.key.text.clone(),
                        what: if matches!(other, Value::Seq(_)) { "list" } else { "mapping" },
                    })
                }
            };
            let bytes = if field == "data" {
                decode_base64(text).ok_or_else(|| EsoError::InvalidBase64 {
                    resource: resource.clone(),
                    origin: origin.clone(),
                    key: e.key.text.clone(),
                })?
            } else {
                text.as_bytes().to_vec()
            };
            let v = SecretValue(bytes);
            match out.iter_mut().find(|(k, _)| *k == e.key.text) {
                Some(slot) => slot.1 = v,
                None => out.push((e.key.text.clone(), v)),
            }
        }
    }
    Ok(out)
}

/// Copy a string map (labels, annotations) keeping only keys that pass `keep`; values become
/// strings (a plain `true` label is the string "true" to the new object).
fn string_map(src: Option<&Node>, keep: impl Fn(&str) -> bool) -> Option<Node> {
    let m = src?.as_map()?;
    let entries: Vec<Entry> = m
        .iter()
        .filter(|e| keep(&e.key.text))
        .filter_map(|e| {
            let s = e.value.as_scalar()?;
            let value = if e.value.is_null() {
                Node::string("")
            } else if s.is_string() {
                e.value.clone()
            } else {
                Node::string(s.text.as_str())
            };
            Some(Entry { key: e.key.clone(), key_line: e.key_line, key_col: e.key_col, value })
        })
        .collect();
    (!entries.is_empty()).then(|| Node::new(Value::Map(entries)))
}

fn sync_annotation(k: &str) -> bool {
    k.starts_with("argocd.argoproj.io/") || k.starts_with("helm.sh/hook")
}

/// The annotation `kubectl apply` writes: the whole applied object as JSON, a Secret's data
/// included. Dropped from every Secret before conversion, so it reaches neither the output (a
/// Secret kept without data) nor the ExternalSecret or its target template.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Remove [`LAST_APPLIED`] from a Secret (and `annotations` when it is left empty), recorded
/// for `explain`. True when it was there.
fn drop_last_applied(d: &mut Document) -> bool {
    let Some(meta) = d.root.get_mut("metadata") else { return false };
    let Some(ann) = meta.get_mut("annotations") else { return false };
    if ann.remove(LAST_APPLIED).is_none() {
        return false;
    }
    if ann.as_map().is_some_and(|m| m.is_empty()) {
        meta.remove("annotations");
    }
    d.record(
        BY,
        "remove",
        format!("$.metadata.annotations['{LAST_APPLIED}']"),
        Some("it holds the Secret's data (kubectl apply's copy of the object)".into()),
    );
    true
}

/// The `missing` text of [`EsoError::NoSecretStore`], or `None` when the store is usable.
fn store_problem(cfg: &InstanceConfig) -> Option<String> {
    let Some(sm) = &cfg.secrets_manager else { return Some("secretsManager is not set".into()) };
    if sm.is_usable() {
        return None;
    }
    let mut m = Vec::new();
    if sm.store_ref.kind.trim().is_empty() {
        m.push("secretsManager.storeRef.kind is empty");
    }
    if sm.store_ref.name.trim().is_empty() {
        m.push("secretsManager.storeRef.name is empty");
    }
    if sm.key_prefix.trim().is_empty() {
        m.push("secretsManager.keyPrefix is empty");
    }
    Some(m.join(", "))
}

struct Conversion {
    index: usize,
    es: Document,
    entry: PayloadEntry,
    converted: ConvertedSecret,
}

/// Convert every Secret with data to an ExternalSecret; drop service-account-token and Helm
/// release Secrets. On error the documents are unchanged.
pub fn eso(docs: &mut Vec<Document>, cfg: &InstanceConfig) -> Result<EsoOutput, EsoError> {
    // Plaintext rule first: no store, no conversion, no output.
    let with_data: Vec<&Document> = docs
        .iter()
        .filter(|d| is_secret(d) && has_data(d))
        .filter(|d| !matches!(secret_type(d), SERVICE_ACCOUNT_TOKEN | HELM_RELEASE))
        .collect();
    if !with_data.is_empty() {
        if let Some(missing) = store_problem(cfg) {
            let mut examples: Vec<String> =
                with_data.iter().take(3).map(|d| format!("{} at {}", d.id(), d.origin)).collect();
            if with_data.len() > 3 {
                examples.push("…".into());
            }
            return Err(EsoError::NoSecretStore { count: with_data.len(), examples: examples.join(", "), missing });
        }
    }

    let mut out = EsoOutput::default();
    for d in docs.iter_mut().filter(|d| is_secret(d)) {
        drop_last_applied(d);
    }
    let mut conversions = Vec::new();
    let mut drop = vec![false; docs.len()];
    for (i, d) in docs.iter().enumerate() {
        if !is_secret(d) {
            continue;
        }
        let ty = secret_type(d).to_string();
        if ty == SERVICE_ACCOUNT_TOKEN || ty == HELM_RELEASE {
            drop[i] = true;
            // Values of dropped Secrets still count as known secrets for redaction.
            if let Ok(vals) = secret_values(d) {
                out.payload.withheld.extend(vals);
            }
            out.report.findings.push(
                Finding::of(
                    crate::checks::Check::EsoDroppedSecret,
                    format!("Secret of type {ty} left out of the output (the cluster or Helm owns it)"),
                )
                .at(&d.id(), &d.origin),
            );
            out.report.dropped.push(DroppedSecret {
                resource: d.id().to_string(),
                origin: d.origin.to_string(),
                secret_type: ty,
            });
            continue;
        }
        if !has_data(d) {
            out.report.kept_without_data.push(d.id().to_string());
            continue;
        }
        let values = secret_values(d)?;
        conversions.push(convert(i, d, ty, values, cfg));
    }

    for c in conversions {
        docs[c.index] = c.es;
        out.report.values += c.entry.properties.len();
        out.report.converted.push(c.converted);
        out.payload.entries.push(c.entry);
    }
    let mut it = drop.into_iter();
    docs.retain(|_| !it.next().unwrap_or(false));
    Ok(out)
}

fn convert(
    index: usize,
    d: &Document,
    ty: String,
    values: Vec<(String, SecretValue)>,
    cfg: &InstanceConfig,
) -> Conversion {
    let sm = cfg.secrets_manager.as_ref().expect("checked: a usable store");
    let name = d.name().unwrap_or("").to_string();
    let namespace = d.namespace().unwrap_or(cfg.namespace.as_str()).to_string();
    let prefix = sm.key_prefix.trim().trim_matches('/');
    let remote_key = format!("{prefix}/{namespace}/{name}");
    let meta = d.root.get("metadata");
    let labels = string_map(meta.and_then(|m| m.get("labels")), |_| true);
    let annotations = string_map(meta.and_then(|m| m.get("annotations")), |k| k != LAST_APPLIED);
    let es_annotations =
        string_map(meta.and_then(|m| m.get("annotations")), |k| sync_annotation(k) && k != LAST_APPLIED);

    let mut es_meta = vec![("name", Node::string(name.as_str()))];
    if let Some(ns) = d.namespace() {
        es_meta.push(("namespace", Node::string(ns)));
    }
    if let Some(l) = &labels {
        es_meta.push(("labels", l.clone()));
    }
    if let Some(a) = es_annotations {
        es_meta.push(("annotations", a));
    }
    let mut tmpl_meta = Vec::new();
    if let Some(l) = labels {
        tmpl_meta.push(("labels", l));
    }
    if let Some(a) = annotations {
        tmpl_meta.push(("annotations", a));
    }
    let mut template = vec![("type", Node::string(ty.as_str()))];
    if !tmpl_meta.is_empty() {
        template.push(("metadata", map_of(tmpl_meta)));
    }
    let mut base64_properties = Vec::new();
    let data: Vec<Node> = values
        .iter()
        .map(|(k, v)| {
            let mut rr = vec![("key", Node::string(remote_key.as_str())), ("property", Node::string(k.as_str()))];
            if v.expose_str().is_none() {
                rr.push(("decodingStrategy", Node::string("Base64")));
                base64_properties.push(k.clone());
            }
            map_of(vec![("secretKey", Node::string(k.as_str())), ("remoteRef", map_of(rr))])
        })
        .collect();
    let refresh = if sm.refresh_interval.trim().is_empty() { "1h" } else { sm.refresh_interval.trim() };
    let mut target = vec![("name", Node::string(name.as_str())), ("creationPolicy", Node::string("Owner"))];
    if d.root.get("immutable").and_then(Node::as_bool) == Some(true) {
        target.push(("immutable", Node::plain("true")));
    }
    target.push(("template", map_of(template)));
    let root = map_of(vec![
        ("apiVersion", Node::string("external-secrets.io/v1")),
        ("kind", Node::string("ExternalSecret")),
        ("metadata", map_of(es_meta)),
        (
            "spec",
            map_of(vec![
                ("refreshInterval", Node::string(refresh)),
                (
                    "secretStoreRef",
                    map_of(vec![
                        ("kind", Node::string(sm.store_ref.kind.trim())),
                        ("name", Node::string(sm.store_ref.name.trim())),
                    ]),
                ),
                ("target", map_of(target)),
                ("data", Node::new(Value::Seq(data))),
            ]),
        ),
    ]);
    let mut es = Document::new(d.origin.clone(), d.head_comments.clone(), root);
    es.changes = d.changes.clone();
    es.record(BY, "convert", "$".into(), Some(format!("Secret → ExternalSecret ({remote_key})")));
    let properties: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
    let converted = ConvertedSecret {
        resource: d.id().to_string(),
        origin: d.origin.to_string(),
        remote_key: remote_key.clone(),
        secret_type: ty.clone(),
        properties,
        base64_properties,
    };
    let entry = PayloadEntry {
        remote_key,
        resource: d.id(),
        namespace,
        origin: d.origin.clone(),
        secret_type: ty,
        properties: values,
    };
    Conversion { index, es, entry, converted }
}

/// The `eso` stage ([`eso`]): the payload stays in the context, never in a report.
pub struct EsoStage;

impl crate::pipeline::Stage for EsoStage {
    fn name(&self) -> &'static str {
        "eso"
    }

    fn label(&self) -> &'static str {
        "converting Secrets to ExternalSecrets"
    }

    fn run(&self, cx: &mut crate::pipeline::RenderContext<'_>) -> Result<Vec<Finding>, crate::pipeline::RenderError> {
        cx.eso = eso(&mut cx.docs, cx.cfg)?;
        Ok(cx.eso.report.findings.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::emit_stream;
    use crate::stages::testutil::{cfg_with_store, docs};

    const INPUT: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: redis
  namespace: opendesk
  labels:
    app.kubernetes.io/name: redis
    app.kubernetes.io/version: 7.2
  annotations:
    helm.sh/hook: pre-install
    argocd.argoproj.io/sync-wave: "-1"
    checksum/x: abc
type: Opaque
data:
  redis-password: cmVkaXMtb3BlbmRlc2stc2VjcmV0
  binary: //79
stringData:
  username: default
---
# Source: keycloakx/templates/database-secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: ums-keycloak-keycloakx-database
type: kubernetes.io/basic-auth
immutable: true
stringData:
  password: "kc-db-secret"
---
apiVersion: v1
kind: Secret
metadata: {name: sa-token, annotations: {kubernetes.io/service-account.name: x}}
type: kubernetes.io/service-account-token
data: {token: c2EtdG9rZW4tdmFsdWU=}
---
apiVersion: v1
kind: Secret
metadata: {name: sh.helm.release.v1.x.v1}
type: helm.sh/release.v1
data: {release: aGVsbS1yZWxlYXNlLWRhdGE=}
---
apiVersion: v1
kind: Secret
metadata: {name: webhook-cert, namespace: external-secrets}
data:
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: b}
"#;

    #[test]
    fn base64_round_trip_and_rejects() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(decode_base64(&encode_base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(encode_base64(b"foob"), "Zm9vYg==");
        assert_eq!(decode_base64("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode_base64("Zm9v\nYmFy\r\n").unwrap(), b"foobar");
        assert!(decode_base64("Zm9v YmFy").is_none());
        assert!(decode_base64("Zm9vY").is_none());
        assert!(decode_base64("Zm=9v").is_none());
        assert!(decode_base64("Zg===").is_none());
        assert_eq!(decode_base64("//79").unwrap(), [0xff, 0xfe, 0xfd]);
    }

    #[test]
    fn converts_secrets_snapshot() {
        let mut ds = docs("redis", "redis/templates/secret.yaml", INPUT);
        let out = eso(&mut ds, &cfg_with_store()).unwrap();
        let emitted = emit_stream(&ds);
        insta::assert_snapshot!("eso_output", emitted);
        insta::assert_yaml_snapshot!("eso_report", out.report);
        // No value in the output, the report or the payload's Debug.
        let report = serde_json::to_string(&out.report).unwrap();
        let debug = format!("{:?}", out.payload);
        for v in ["redis-opendesk-secret", "kc-db-secret", "default", "sa-token-value", "helm-release-data"] {
            assert!(!emitted.contains(v), "{v} in output");
            assert!(!report.contains(v), "{v} in report");
            assert!(!debug.contains(v), "{v} in Debug");
        }
        assert_eq!(ds.len(), 4, "2 ExternalSecrets, the data-less Secret, the ConfigMap");
        assert_eq!(out.report.kept_without_data, ["Secret/external-secrets/webhook-cert"]);
        assert_eq!(out.report.dropped.len(), 2);
        assert_eq!(out.report.values, 4);
        // The payload, for --secrets-out only.
        insta::assert_snapshot!("eso_secrets_file", out.payload.to_secrets_file());
        let known: Vec<&str> = out.payload.values().filter_map(|(_, v)| v.expose_str()).collect();
        assert!(known.contains(&"sa-token-value") && known.contains(&"kc-db-secret"));
        // Idempotent: nothing left to convert.
        let again = eso(&mut ds, &cfg_with_store()).unwrap();
        assert!(again.payload.is_empty());
        assert_eq!(emit_stream(&ds), emitted);
    }

    #[test]
    fn last_applied_configuration_is_dropped_from_secrets_and_never_copied() {
        let la = r#"{"apiVersion":"v1","kind":"Secret","stringData":{"password":"La5tApplied-Pw-91x"}}"#;
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: opendesk\n  annotations:\n    \
             kubectl.kubernetes.io/last-applied-configuration: '{la}'\n    argocd.argoproj.io/sync-wave: \"1\"\n\
             stringData:\n  password: La5tApplied-Pw-91x\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  \
             name: empty\n  namespace: opendesk\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: \
             '{la}'\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    \
             kubectl.kubernetes.io/last-applied-configuration: '{{}}'\ndata: {{a: b}}\n"
        );
        let mut ds = docs("db", "db/templates/secret.yaml", &text);
        let out = eso(&mut ds, &cfg_with_store()).unwrap();
        let emitted = emit_stream(&ds);
        assert!(!emitted.contains("La5tApplied"), "{emitted}");
        // The ExternalSecret keeps the other annotations, in its metadata and target template.
        let es = &ds[0];
        assert_eq!(es.kind(), Some("ExternalSecret"));
        assert_eq!(
            es.root.get_path("metadata.annotations").map(crate::yaml::emit).as_deref(),
            Some("argocd.argoproj.io/sync-wave: \"1\"\n")
        );
        assert_eq!(
            es.root.get_path("spec.target.template.metadata.annotations").map(crate::yaml::emit).as_deref(),
            Some("argocd.argoproj.io/sync-wave: \"1\"\n")
        );
        assert!(es.changes.iter().any(|c| c.action == "remove" && c.path.contains("last-applied-configuration")));
        // A Secret kept without data loses it too (and its then empty annotations).
        assert_eq!(ds[1].id().to_string(), "Secret/opendesk/empty");
        assert!(ds[1].root.get_path("metadata.annotations").is_none(), "{emitted}");
        // Only Secrets: a ConfigMap's annotation is not this stage's business.
        assert!(ds[2].root.get_path("metadata.annotations").is_some());
        assert_eq!(out.payload.value_count(), 1);
    }

    #[test]
    fn plaintext_rule_without_store() {
        let mut c = cfg_with_store();
        for (setup, missing) in [
            (
                Box::new(|c: &mut InstanceConfig| c.secrets_manager = None) as Box<dyn Fn(&mut InstanceConfig)>,
                "secretsManager is not set",
            ),
            (
                Box::new(|c: &mut InstanceConfig| c.secrets_manager.as_mut().unwrap().store_ref.name = " ".into()),
                "storeRef.name is empty",
            ),
            (
                Box::new(|c: &mut InstanceConfig| c.secrets_manager.as_mut().unwrap().key_prefix.clear()),
                "keyPrefix is empty",
            ),
        ] {
            c = cfg_with_store();
            setup(&mut c);
            let mut ds = docs("redis", "redis/templates/secret.yaml", INPUT);
            let before = emit_stream(&ds);
            let e = eso(&mut ds, &c).unwrap_err();
            let m = e.to_string();
            assert!(m.contains(missing), "{m}");
            assert!(m.contains("2 Secret(s) with data"), "{m}");
            assert!(
                m.contains("storeRef: {kind: ClusterSecretStore, name: <store name>}") && m.contains("keyPrefix"),
                "{m}"
            );
            assert!(!m.contains("kc-db-secret") && !m.contains("cmVkaXMt"), "{m}");
            assert_eq!(emit_stream(&ds), before);
        }
        // Only data-less or dropped Secrets: no store needed.
        c.secrets_manager = None;
        let mut ds = docs("x", "f.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/service-account-token\ndata: {token: YWJj}\n");
        let out = eso(&mut ds, &c).unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(out.report.kept_without_data.len(), 1);
    }

    #[test]
    fn invalid_data_is_an_error_without_value() {
        let mut ds = docs("x", "f.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: not-base64!}\n");
        let e = eso(&mut ds, &cfg_with_store()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x/f.yaml:1: Secret/-/a: data key \"k\" is not valid base64 (use stringData for plain text)"
        );
        let mut ds = docs("x", "f.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: [a]}\n");
        assert!(matches!(eso(&mut ds, &cfg_with_store()), Err(EsoError::NotAScalar { what: "list", .. })));
    }

    #[test]
    fn debug_of_values_hides_them() {
        let v = SecretValue::new(b"hunter22".to_vec());
        assert_eq!(format!("{v:?}"), "SecretValue(<8 bytes>)");
    }
}
