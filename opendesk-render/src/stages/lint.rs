//! Lint stage: problems Kubernetes or server-side apply would reject, and risky shapes.
//!
//! Every finding carries the resource, the location of the offending node
//! (`release/file:line:col`; a mapping key's own position for a finding about a key) and a
//! JSONPath. Errors fail the render (exit 1) after all findings
//! are collected; warnings only go to the report.
//!
//! | code | severity | what |
//! |---|---|---|
//! | `lint/missing-field` | error | no `apiVersion`, `kind` or `metadata.name` (`generateName` does not work with SSA) |
//! | `lint/invalid-name` | error | `metadata.name` not a DNS-1123 subdomain (label for `Service`/`Namespace`; RBAC kinds: a path segment), namespace, container or volume name not a DNS-1123 label, container port name not an IANA service name |
//! | `lint/unknown-field` | error | lowercase `subpath` in a volumeMount, `port` in a container port, `enabled` in a probe (SSA: "unknown field") |
//! | `lint/empty-protocol` | error | `protocol:` present but empty in a container or Service port (a list-map key) |
//! | `lint/probe-without-handler` | error | a probe with none of `exec`, `httpGet`, `tcpSocket`, `grpc` |
//! | `lint/missing-image` | error | a container without `image` |
//! | `lint/non-string-value` | error | a value Kubernetes must read as a string but YAML 1.1 reads as something else (plain `yes`, `0644`, `true`, `1.0`) in ConfigMap `data`, Secret `stringData`, labels, annotations or env `value` |
//! | `lint/placeholder` | error | an unresolved patch variable `${values.…}` (`${namespace}` and the like are not checked: Grafana dashboards and scripts use them legitimately) |
//! | `lint/non-string-key` | error | a mapping key Kubernetes reads as another string than its text (plain `on` → `"true"`, `0644` → `"420"`, `0x1F` → `"31"`) or cannot read at all (`~`, `null`, empty): sigs.k8s.io/yaml converts or rejects non-string keys |
//! | `lint/non-string-key` | warning | a non-string key that converts to its own text (`80`, `true`, `1.5`): quote it |
//! | `lint/too-large` | error | an object holding more than [`MAX_OBJECT_TEXT`] bytes of scalar text (etcd's default request limit is 1.5 MiB, the API server's 3 MiB) |
//! | `lint/image-untagged` | warning | an image with neither tag nor digest |
//! | `lint/image-latest` | warning | an image tagged `:latest` |
//!
//! `__UPPER_CASE__` placeholders are left to the `namespace-markers` guard, so they are not
//! reported twice.

use super::{containers, key, pod_spec_path, ContainerRef, ImageRef, Seg};
use crate::checks::Check;
use crate::config::InstanceConfig;
use crate::document::Document;
use crate::report::{Finding, Severity};
use crate::yaml::resolve::Resolved;
use crate::yaml::{path_to_string, Node, PathSeg, Pos, Scalar, Value};
use regex::Regex;
use serde::Serialize;
use std::sync::OnceLock;

/// The lint stage's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LintReport {
    /// Number of error findings.
    pub errors: usize,
    /// Number of warning findings.
    pub warnings: usize,
    /// Every finding, in document order, then path order within a document.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// True when at least one finding is an error (the render must fail).
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }
}

/// Lint every document. Pure and parallel; the result does not depend on the thread count.
pub fn lint(docs: &[Document], _cfg: &InstanceConfig) -> LintReport {
    let findings: Vec<Finding> = crate::par::map(docs, Document::weight, lint_document).into_iter().flatten().collect();
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.iter().filter(|f| f.severity == Severity::Warning).count();
    LintReport { errors, warnings, findings }
}

struct Ctx<'a> {
    doc: &'a Document,
    out: Vec<Finding>,
}

impl Ctx<'_> {
    fn push(&mut self, check: Check, sev: Severity, msg: String, path: &[PathSeg], pos: Pos) {
        let mut f = Finding::new(check.stage(), check.code(), sev, msg).at_node(&self.doc.id(), &self.doc.origin, pos);
        if !path.is_empty() {
            f = f.path(path_to_string(path));
        }
        self.out.push(f);
    }
    fn error(&mut self, code: Check, msg: String, path: &[PathSeg], pos: Pos) {
        self.push(code, Severity::Error, msg, path, pos)
    }
    fn warn(&mut self, code: Check, msg: String, path: &[PathSeg], pos: Pos) {
        self.push(code, Severity::Warning, msg, path, pos)
    }
}

use crate::yaml::{join as with, keys as p};

/// Lint one document.
pub fn lint_document(doc: &Document) -> Vec<Finding> {
    let mut c = Ctx { doc, out: Vec::new() };
    required_fields(&mut c);
    type_identifiers(&mut c);
    names(&mut c);
    string_values(&mut c);
    workload(&mut c);
    service_ports(&mut c);
    placeholders(&mut c);
    keys_and_size(&mut c);
    c.out
}

/// Most bytes of scalar text (values, not keys) one object may hold: etcd's default request
/// limit, 1.5 MiB. The text is a lower bound of the stored object, so an object over it can
/// never be applied to a default cluster.
pub const MAX_OBJECT_TEXT: usize = 3 << 19;

/// What sigs.k8s.io/yaml (YAML → JSON in kubectl and Argo CD) makes of a non-string key:
/// `Some(text)` for the string it uses, `None` when it rejects the key.
fn k8s_key(r: &Resolved<'_>) -> Option<String> {
    match r {
        Resolved::Str(s) => Some(s.to_string()),
        Resolved::Null => None,
        Resolved::Bool(b) => Some(b.to_string()),
        Resolved::Int(i) => Some(i.to_string()),
        // strconv.FormatFloat(f, 'g', -1, 32) for ordinary values; anything unusual is reported
        // as changed, which errs on the side of an error.
        Resolved::Float(f) if f.is_finite() => Some(format!("{}", *f as f32)),
        Resolved::Float(f) if f.is_nan() => Some(".nan".into()),
        Resolved::Float(f) => Some(if *f > 0.0 { ".inf" } else { "-.inf" }.into()),
    }
}

/// Non-string keys and the object's size, in one walk.
fn keys_and_size(c: &mut Ctx<'_>) {
    fn scan<'a>(
        n: &'a Node,
        path: &mut Vec<Seg<'a>>,
        size: &mut usize,
        found: &mut Vec<(Vec<PathSeg>, &'a Scalar, Pos)>,
    ) {
        match &n.value {
            Value::Scalar(s) => *size += s.text.len(),
            Value::Seq(items) => {
                for (i, x) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    scan(x, path, size, found);
                    path.pop();
                }
            }
            Value::Map(m) => {
                for e in m {
                    path.push(Seg::Key(&e.key.text));
                    if !matches!(e.key.resolve(), Resolved::Str(_)) {
                        let p = path.iter().map(Seg::owned).collect();
                        found.push((p, &e.key, e.key_pos()));
                    }
                    scan(&e.value, path, size, found);
                    path.pop();
                }
            }
        }
    }
    let doc = c.doc;
    let (mut size, mut found) = (0usize, Vec::new());
    scan(&doc.root, &mut Vec::new(), &mut size, &mut found);
    for (path, k, line) in found {
        let shown = if k.text.is_empty() { "(empty)".to_string() } else { format!("{:?}", k.text) };
        match k8s_key(&k.resolve()) {
            None => c.error(
                Check::LintNonStringKey,
                format!("key {shown} is null in YAML 1.1: Kubernetes cannot read it (quote it, or remove it)"),
                &path,
                line,
            ),
            Some(t) if t != k.text => c.error(
                Check::LintNonStringKey,
                format!("key {shown} is not a string: Kubernetes reads it as {t:?} (quote it: '{}')", k.text),
                &path,
                line,
            ),
            Some(_) => c.warn(
                Check::LintNonStringKey,
                format!("key {shown} is not a string in YAML 1.1 (Kubernetes converts it to the same text; quote it)"),
                &path,
                line,
            ),
        }
    }
    if size > MAX_OBJECT_TEXT {
        c.error(
            Check::LintTooLarge,
            format!(
                "the object holds {:.1} MB of text: more than etcd's default limit of 1.5 MiB per object (the API server \
                 refuses 3 MiB); split it or move the data elsewhere",
                size as f64 / 1e6
            ),
            &[],
            doc.root.pos(),
        );
    }
}

fn required_fields(c: &mut Ctx<'_>) {
    let d = c.doc;
    let line = d.root.pos();
    if d.api_version().is_none() {
        c.error(Check::LintMissingField, "missing `apiVersion`".into(), &p(&["apiVersion"]), line);
    }
    if d.kind().is_none() {
        c.error(Check::LintMissingField, "missing `kind`".into(), &p(&["kind"]), line);
    }
    if d.name().is_none() {
        let msg = if d.root.get_path("metadata.generateName").is_some() {
            "missing `metadata.name`: `generateName` cannot be applied with server-side apply; set a fixed name"
        } else {
            "missing `metadata.name`"
        };
        c.error(Check::LintMissingField, msg.into(), &p(&["metadata", "name"]), line);
    }
}

/// A `kind` whose lowercase form is not a DNS-1035 label (what the API server and CRD
/// validation accept: a letter first, then letters, digits and `-`, ≤ 63), or an `apiVersion`
/// that is not `VERSION` or `GROUP/VERSION` (group a DNS-1123 subdomain, version a DNS-1035
/// label): such a resource cannot be applied, and a `/` in a kind would also break file names.
fn type_identifiers(c: &mut Ctx<'_>) {
    let d = c.doc;
    let line = |k: &str| d.root.get(k).map_or(d.root.pos(), Node::pos);
    if let Some(kind) = d.kind() {
        if !is_dns1035_label(&kind.to_ascii_lowercase()) {
            let m = format!(
                "kind {kind:?} is not a Kubernetes kind (a letter, then letters, digits or '-', at most 63): the API \
                 server cannot apply it"
            );
            c.error(Check::LintInvalidName, m, &p(&["kind"]), line("kind"));
        }
    }
    if let Some(v) = d.api_version() {
        let ok = match v.split_once('/') {
            None => is_dns1035_label(v),
            Some((g, ver)) => is_dns1123_subdomain(g) && is_dns1035_label(ver),
        };
        if !ok {
            let m = format!(
                "apiVersion {v:?} is not VERSION or GROUP/VERSION (group a DNS-1123 subdomain, version such as v1 or \
                 v1beta1): the API server cannot apply it"
            );
            c.error(Check::LintInvalidName, m, &p(&["apiVersion"]), line("apiVersion"));
        }
    }
}

/// DNS-1035 label: 1–63 of `[a-z0-9-]`, starting with a letter and ending alphanumeric.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// DNS-1123 label: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// DNS-1123 subdomain: at most 253 characters, dot-separated labels of `[a-z0-9-]` that start
/// and end alphanumeric.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// IANA service name (container port names): 1–15 of `[a-z0-9-]`, at least one letter, no
/// leading, trailing or doubled `-`.
pub fn is_iana_svc_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_lowercase())
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

fn names(c: &mut Ctx<'_>) {
    let d = c.doc;
    if let Some(n) = d.root.get_path("metadata.name").filter(|n| n.scalar_text().is_some_and(|t| !t.is_empty())) {
        let name = n.scalar_text().unwrap_or("");
        let (ok, rule) = match d.kind().unwrap_or("") {
            "Service" | "Namespace" => {
                (is_dns1123_label(name), "a DNS-1123 label (lowercase alphanumerics and '-', at most 63)")
            }
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => (
                !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%'),
                "a path segment (no '/', '%', '.' or '..')",
            ),
            _ => {
                (is_dns1123_subdomain(name), "a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253)")
            }
        };
        if !ok {
            c.error(Check::LintInvalidName, format!("name {name:?} is not {rule}"), &p(&["metadata", "name"]), n.pos());
        }
    }
    if let Some(n) = d.root.get_path("metadata.namespace") {
        if let Some(ns) = n.scalar_text().filter(|t| !t.is_empty()) {
            if !is_dns1123_label(ns) {
                c.error(
                    Check::LintInvalidName,
                    format!("namespace {ns:?} is not a DNS-1123 label"),
                    &p(&["metadata", "namespace"]),
                    n.pos(),
                );
            }
        }
    }
}

fn non_string(n: &Node) -> Option<&'static str> {
    match &n.value {
        Value::Scalar(s) => match s.resolve() {
            crate::yaml::resolve::Resolved::Str(_) | crate::yaml::resolve::Resolved::Null => None,
            crate::yaml::resolve::Resolved::Bool(_) => Some("a boolean"),
            crate::yaml::resolve::Resolved::Int(_) => Some("an integer"),
            crate::yaml::resolve::Resolved::Float(_) => Some("a float"),
        },
        Value::Seq(_) => Some("a list"),
        Value::Map(_) => Some("a mapping"),
    }
}

fn check_string_map(c: &mut Ctx<'_>, base: Vec<PathSeg>, what: &str) {
    let Some(m) = c.doc.root.at(&base).and_then(Node::as_map) else { return };
    let mut bad = Vec::new();
    for e in m {
        if let Some(t) = non_string(&e.value) {
            bad.push((e.key.text.clone(), t, e.value.scalar_text().map(str::to_string), e.value.pos()));
        }
    }
    for (k, t, text, line) in bad {
        let shown = text.map(|x| format!(" `{x}`")).unwrap_or_default();
        // Values of Secrets are never shown.
        let shown = if c.doc.kind() == Some("Secret") { String::new() } else { shown };
        c.error(
            Check::LintNonStringValue,
            format!("{what} {k:?}: value{shown} is {t} to Kubernetes (YAML 1.1), not a string; quote it"),
            &with(&base, &[key(&k)]),
            line,
        );
    }
}

fn string_values(c: &mut Ctx<'_>) {
    let kind = c.doc.kind().unwrap_or("");
    if kind == "ConfigMap" {
        check_string_map(c, p(&["data"]), "ConfigMap data");
    }
    if kind == "Secret" {
        check_string_map(c, p(&["stringData"]), "Secret stringData");
    }
    check_string_map(c, p(&["metadata", "labels"]), "label");
    check_string_map(c, p(&["metadata", "annotations"]), "annotation");
    if let Some(sp) = pod_spec_path(c.doc) {
        // The pod template's metadata sits beside its spec.
        let mut meta = sp[..sp.len() - 1].to_vec();
        if meta.is_empty() {
            return; // a Pod: its metadata is the document's
        }
        meta.push(key("metadata"));
        check_string_map(c, with(&meta, &[key("labels")]), "pod template label");
        check_string_map(c, with(&meta, &[key("annotations")]), "pod template annotation");
    }
}

/// A workload's pod spec, by concern: volume names, then per container its name, image, env,
/// volume mounts, ports and probes.
fn workload(c: &mut Ctx<'_>) {
    let Some(sp) = pod_spec_path(c.doc) else { return };
    volume_names(c, &sp);
    for ct in containers(c.doc) {
        container_name(c, &ct);
        container_image(c, &ct);
        container_env(c, &ct);
        container_mounts(c, &ct);
        container_ports(c, &ct);
        container_probes(c, &ct);
    }
}

/// Volume names are DNS-1123 labels.
fn volume_names(c: &mut Ctx<'_>, sp: &[PathSeg]) {
    let doc = c.doc;
    if let Some(vols) = doc.root.at(sp).and_then(|s| s.get("volumes")).and_then(Node::as_seq) {
        for (i, v) in vols.iter().enumerate() {
            if let Some(n) = v.get("name").and_then(Node::scalar_text) {
                if !is_dns1123_label(n) {
                    let path = with(sp, &[key("volumes"), PathSeg::Index(i), key("name")]);
                    c.error(
                        Check::LintInvalidName,
                        format!("volume name {n:?} is not a DNS-1123 label"),
                        &path,
                        v.pos(),
                    );
                }
            }
        }
    }
}

/// A container has a name, a DNS-1123 label.
fn container_name(c: &mut Ctx<'_>, ct: &ContainerRef<'_>) {
    let node = ct.node;
    match ct.name {
        Some(n) if !is_dns1123_label(n) => c.error(
            Check::LintInvalidName,
            format!("container name {n:?} is not a DNS-1123 label"),
            &with(&ct.path, &[key("name")]),
            node.pos(),
        ),
        None => c.error(Check::LintMissingField, "container without `name`".into(), &ct.path, node.pos()),
        _ => {}
    }
}

/// A container has an image, pinned (a tag other than `latest`, or a digest).
fn container_image(c: &mut Ctx<'_>, ct: &ContainerRef<'_>) {
    let (cn, node) = (ct.name.unwrap_or("?"), ct.node);
    match node.get("image") {
        Some(i) if i.scalar_text().is_some_and(|t| !t.trim().is_empty()) => {
            let img = i.scalar_text().unwrap_or("");
            let r = ImageRef::parse(img);
            let path = with(&ct.path, &[key("image")]);
            if r.digest.is_none() {
                match r.tag {
                    None => c.warn(
                        Check::LintImageUntagged,
                        format!("container {cn:?}: image {img:?} has no tag (pulls `latest`); pin a version"),
                        &path,
                        i.pos(),
                    ),
                    Some("latest") => c.warn(
                        Check::LintImageLatest,
                        format!("container {cn:?}: image {img:?} uses `:latest`; pin a version"),
                        &path,
                        i.pos(),
                    ),
                    _ => {}
                }
            }
        }
        _ => c.error(
            Check::LintMissingImage,
            format!("container {cn:?} has no image"),
            &with(&ct.path, &[key("image")]),
            node.pos(),
        ),
    }
}

/// Env values are strings.
fn container_env(c: &mut Ctx<'_>, ct: &ContainerRef<'_>) {
    let (cn, node) = (ct.name.unwrap_or("?"), ct.node);
    if let Some(env) = node.get("env").and_then(Node::as_seq) {
        // A name defined twice is the dedup stage's (`dedup/duplicate-env`): it runs first.
        for (i, e) in env.iter().enumerate() {
            let Some(n) = e.get("name").and_then(Node::scalar_text) else { continue };
            let path = with(&ct.path, &[key("env"), PathSeg::Index(i)]);
            if let Some(v) = e.get("value") {
                if let Some(t) = non_string(v) {
                    let shown = v.scalar_text().map(|x| format!(" `{x}`")).unwrap_or_default();
                    c.error(
                        Check::LintNonStringValue,
                        format!("container {cn:?}: env {n:?} value{shown} is {t} to Kubernetes (YAML 1.1), not a string; quote it"),
                        &with(&path, &[key("value")]),
                        v.pos(),
                    );
                }
            }
        }
    }
}

/// Volume mounts have no lowercase `subpath`.
fn container_mounts(c: &mut Ctx<'_>, ct: &ContainerRef<'_>) {
    let (cn, node) = (ct.name.unwrap_or("?"), ct.node);
    if let Some(ms) = node.get("volumeMounts").and_then(Node::as_seq) {
        for (i, m) in ms.iter().enumerate() {
            if m.get("subpath").is_some() {
                let path = with(&ct.path, &[key("volumeMounts"), PathSeg::Index(i), key("subpath")]);
                c.error(
                    Check::LintUnknownField,
                    format!("container {cn:?}: volumeMount has unknown field `subpath` (SSA rejects it); the field is `subPath`"),
                    &path,
                    m.pos(),
                );
            }
        }
    }
}

/// Container ports: no `port` field, a non-empty protocol, IANA service names.
fn container_ports(c: &mut Ctx<'_>, ct: &ContainerRef<'_>) {
    let (cn, node) = (ct.name.unwrap_or("?"), ct.node);
    if let Some(ports) = node.get("ports").and_then(Node::as_seq) {
        for (i, pt) in ports.iter().enumerate() {
            let base = with(&ct.path, &[key("ports"), PathSeg::Index(i)]);
            if pt.get("port").is_some() {
                c.error(
                    Check::LintUnknownField,
                    format!("container {cn:?}: container port has unknown field `port` (SSA rejects it); use `containerPort`"),
                    &with(&base, &[key("port")]),
                    pt.pos(),
                );
            }
            empty_protocol(c, pt, &base, &format!("container {cn:?}: port"));
            if let Some(n) = pt.get("name").and_then(Node::scalar_text) {
                if !is_iana_svc_name(n) {
                    c.error(
                        Check::LintInvalidName,
                        format!("container {cn:?}: port name {n:?} is not an IANA service name (lowercase, at most 15, a letter)"),
                        &with(&base, &[key("name")]),
                        pt.pos(),
                    );
                }
            }
        }
    }
}

/// Probes have a handler and no `enabled` field.
fn container_probes(c: &mut Ctx<'_>, ct: &ContainerRef<'_>) {
    let (cn, node) = (ct.name.unwrap_or("?"), ct.node);
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(pr) = node.get(probe) else { continue };
        if pr.is_null() {
            continue;
        }
        let base = with(&ct.path, &[key(probe)]);
        if pr.get("enabled").is_some() {
            c.error(
                Check::LintUnknownField,
                format!(
                    "container {cn:?}: {probe} has unknown field `enabled` (SSA rejects it); remove it, or the probe"
                ),
                &with(&base, &[key("enabled")]),
                pr.pos(),
            );
        }
        if !["exec", "httpGet", "tcpSocket", "grpc"].iter().any(|h| pr.get(h).is_some_and(|n| !n.is_null())) {
            c.error(
                Check::LintProbeWithoutHandler,
                format!("container {cn:?}: {probe} has no handler (exec, httpGet, tcpSocket or grpc); the API server rejects it"),
                &base,
                pr.pos(),
            );
        }
    }
}

fn empty_protocol(c: &mut Ctx<'_>, port: &Node, base: &[PathSeg], what: &str) {
    if let Some(pr) = port.get("protocol") {
        if pr.is_null() || pr.scalar_text().is_some_and(|t| t.trim().is_empty()) {
            c.error(
                Check::LintEmptyProtocol,
                format!("{what} has an empty `protocol` (part of the list-map key; SSA rejects it); set TCP, UDP or SCTP or remove it"),
                &with(base, &[key("protocol")]),
                port.pos(),
            );
        }
    }
}

fn service_ports(c: &mut Ctx<'_>) {
    if c.doc.kind() != Some("Service") {
        return;
    }
    let Some(ports) = c.doc.root.get_path("spec.ports").and_then(Node::as_seq) else { return };
    for (i, pt) in ports.iter().enumerate() {
        let base = vec![key("spec"), key("ports"), PathSeg::Index(i)];
        empty_protocol(c, pt, &base, "Service port");
    }
}

fn placeholder_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\$\{values\.[A-Za-z0-9_.\-]+\}").expect("valid regex"))
}

/// `${` somewhere in `t` (a SIMD scan for `$`; `str::contains` set up a two-way search per
/// text, for every scalar of every document).
fn has_placeholder_start(t: &str) -> bool {
    let b = t.as_bytes();
    memchr::memchr_iter(b'$', b).any(|i| b.get(i + 1) == Some(&b'{'))
}

fn placeholders(c: &mut Ctx<'_>) {
    let re = placeholder_re();
    let mut hits = Vec::new();
    let is_secret = c.doc.kind() == Some("Secret");
    if !c.doc.root.any_text(&mut has_placeholder_start) {
        return;
    }
    c.doc.root.walk_scalars(&mut Vec::new(), &mut |path, s| {
        if has_placeholder_start(&s.text) {
            if let Some(m) = re.find(&s.text) {
                hits.push((path.to_vec(), m.as_str().to_string()));
            }
        }
    });
    for (path, m) in hits {
        let line = c.doc.root.at(&path).map_or(Pos::default(), Node::pos);
        let m = if is_secret { String::from("${…}") } else { m };
        c.error(
            Check::LintPlaceholder,
            format!("unresolved patch variable {m}: define it under `values:` in the instance config"),
            &path,
            line,
        );
    }
}

/// The `lint` stage ([`lint`]): error findings fail the render after collection.
pub struct LintStage;

impl crate::pipeline::Stage for LintStage {
    fn name(&self) -> &'static str {
        "lint"
    }

    fn label(&self) -> &'static str {
        "linting"
    }

    fn run(&self, cx: &mut crate::pipeline::RenderContext<'_>) -> Result<Vec<Finding>, crate::pipeline::RenderError> {
        Ok(lint(&cx.docs, cx.cfg).findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::testutil::docs;

    fn codes(text: &str) -> Vec<(String, Severity, String)> {
        let ds = docs("r", "c/templates/f.yaml", text);
        lint(&ds, &InstanceConfig::minimal("1.13.1"))
            .findings
            .into_iter()
            .map(|f| (f.code, f.severity, f.path.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn non_string_keys_and_size() {
        let head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n";
        let keyed = |k: &str| codes(&format!("{head}  {k}: v\n"));
        let err = |p: &str| vec![("lint/non-string-key".to_string(), Severity::Error, p.to_string())];
        assert_eq!(keyed("on"), err("$.data.on"));
        assert_eq!(keyed("0644"), err("$.data.0644"));
        assert_eq!(keyed("~"), err("$.data['~']"));
        assert_eq!(keyed("1.50"), err("$.data['1.50']"));
        assert_eq!(keyed("80"), vec![("lint/non-string-key".into(), Severity::Warning, "$.data.80".into())]);
        assert_eq!(keyed("true")[0].1, Severity::Warning);
        assert!(keyed("'on'").is_empty());
        assert!(keyed("\"80\"").is_empty());
        assert!(keyed("ok").is_empty());
        let big = format!("{head}  big: {}\n", "x".repeat(MAX_OBJECT_TEXT));
        assert_eq!(codes(&big), vec![("lint/too-large".into(), Severity::Error, String::new())]);
        let fits = format!("{head}  big: {}\n", "x".repeat(MAX_OBJECT_TEXT - 100));
        assert!(codes(&fits).is_empty());
    }

    #[test]
    fn names_rules() {
        assert!(
            is_dns1123_label("a-1") && !is_dns1123_label("A") && !is_dns1123_label("-a") && !is_dns1123_label("a.b")
        );
        assert!(is_dns1123_subdomain("a.b-c.d") && !is_dns1123_subdomain("a..b") && !is_dns1123_subdomain("a_b"));
        assert!(is_iana_svc_name("http-internal") && !is_iana_svc_name("http-internal-xy") && !is_iana_svc_name("80"));
        assert!(!is_iana_svc_name("a--b"));
    }

    #[test]
    fn clean_workload_has_no_findings() {
        let t = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: opendesk, labels: {app: web, version: "1.0"}}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27@sha256:abc
          ports: [{name: http, containerPort: 80, protocol: TCP}]
          env: [{name: A, value: "yes"}]
          livenessProbe: {tcpSocket: {port: 80}}
          volumeMounts: [{name: data, mountPath: /d, subPath: x}]
      volumes: [{name: data, emptyDir: {}}]
"#;
        assert_eq!(codes(t), vec![]);
    }

    #[test]
    fn ssa_shapes_and_probes() {
        let t = r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: udm}
spec:
  template:
    spec:
      containers:
        - name: udm
          image: udm:latest
          ports:
            - name: http
              containerPort: 9979
              port: 9979
              protocol:
          volumeMounts:
            - {name: trusted-cert-secret-volume, mountPath: /etc/ssl/certs/ca-certificates.crt, subpath: ca-certificates.crt}
          livenessProbe:
            enabled: true
            initialDelaySeconds: 120
          readinessProbe:
            httpGet: {path: /, port: http}
        - name: side
          image: busybox
          env:
            - {name: A, value: "1"}
            - {name: A, value: 2}
---
apiVersion: v1
kind: Service
metadata: {name: udm}
spec:
  ports: [{port: 80, protocol: ""}]
"#;
        let got = codes(t);
        let want = [
            ("lint/image-latest", Severity::Warning, "$.spec.template.spec.containers[0].image"),
            ("lint/unknown-field", Severity::Error, "$.spec.template.spec.containers[0].volumeMounts[0].subpath"),
            ("lint/unknown-field", Severity::Error, "$.spec.template.spec.containers[0].ports[0].port"),
            ("lint/empty-protocol", Severity::Error, "$.spec.template.spec.containers[0].ports[0].protocol"),
            ("lint/unknown-field", Severity::Error, "$.spec.template.spec.containers[0].livenessProbe.enabled"),
            ("lint/probe-without-handler", Severity::Error, "$.spec.template.spec.containers[0].livenessProbe"),
            ("lint/image-untagged", Severity::Warning, "$.spec.template.spec.containers[1].image"),
            ("lint/non-string-value", Severity::Error, "$.spec.template.spec.containers[1].env[1].value"),
            ("lint/empty-protocol", Severity::Error, "$.spec.ports[0].protocol"),
        ];
        let want: Vec<(String, Severity, String)> =
            want.iter().map(|(a, b, c)| (a.to_string(), *b, c.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn configmap_values_must_be_strings() {
        let t = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations: {enabled: on}\ndata:\n  a: yes\n  b: 0644\n  c: \"0644\"\n  d: plain text\n  e:\n  f: 1.5\n";
        let ds = docs("r", "c/templates/cm.yaml", t);
        let r = lint(&ds, &InstanceConfig::minimal("1.13.1"));
        assert!(r.has_errors());
        let got: Vec<_> = r.findings.iter().map(|f| (f.path.clone().unwrap(), f.origin.clone().unwrap())).collect();
        assert_eq!(
            got,
            [
                ("$.data.a".to_string(), "r/c/templates/cm.yaml:7".to_string()),
                ("$.data.b".into(), "r/c/templates/cm.yaml:8".into()),
                ("$.data.f".into(), "r/c/templates/cm.yaml:12".into()),
                ("$.metadata.annotations.enabled".into(), "r/c/templates/cm.yaml:5".into()),
            ]
        );
        assert!(r.findings[1].message.contains("`0644` is an integer"), "{}", r.findings[1].message);
    }

    #[test]
    fn secret_values_are_not_shown() {
        let t = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  pin: 123456\n  t: \"${values.x}\"\n";
        let ds = docs("r", "f.yaml", t);
        let r = lint(&ds, &InstanceConfig::minimal("1.13.1"));
        assert_eq!(r.errors, 2);
        for f in &r.findings {
            assert!(!f.message.contains("123456") && !f.message.contains("values.x"), "{}", f.message);
        }
    }

    #[test]
    fn kinds_and_api_versions_must_be_identifiers() {
        let bad = "apiVersion: v1\nkind: Config/Map\nmetadata: {name: a}\n---\napiVersion: apps/v1/x\nkind: Deployment\nmetadata: {name: b}\n---\napiVersion: Bad_Group/v1\nkind: 9Lives\nmetadata: {name: c}\n---\napiVersion: example.io/v1beta1\nkind: My-Kind2\nmetadata: {name: d}\n";
        let got: Vec<_> = codes(bad).into_iter().map(|(c, _, p)| format!("{c} {p}")).collect();
        assert_eq!(
            got,
            [
                "lint/invalid-name $.kind",
                "lint/invalid-name $.apiVersion",
                "lint/invalid-name $.kind",
                "lint/invalid-name $.apiVersion",
            ]
        );
    }

    #[test]
    fn missing_fields_names_and_placeholders() {
        let t = "metadata: {generateName: x-}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: my.svc, namespace: Bad_NS}\nspec: {ports: [{port: 1}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {url: \"https://${values.domain}/x\", ok: \"${HOME}\"}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: \"system:aggregate-to-view\"}\n";
        let got: Vec<_> = codes(t).into_iter().map(|(c, _, p)| format!("{c} {p}")).collect();
        assert_eq!(
            got,
            [
                "lint/missing-field $.apiVersion",
                "lint/missing-field $.kind",
                "lint/missing-field $.metadata.name",
                "lint/invalid-name $.metadata.name",
                "lint/invalid-name $.metadata.namespace",
                "lint/placeholder $.data.url",
            ]
        );
    }
}
