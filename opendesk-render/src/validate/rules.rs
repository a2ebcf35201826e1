//! The API server's validation rules that the OpenAPI schemas do not hold (Kubernetes'
//! `pkg/apis/*/validation`): each its own code. Only the rules whose shape is certain from the
//! manifest alone; nothing that depends on cluster state.

use super::Issue;
use crate::stages::lint::{is_dns1123_label, is_dns1123_subdomain, is_iana_svc_name};
use crate::yaml::{path_to_string, Node, PathSeg};

struct R<'a> {
    out: &'a mut Vec<Issue>,
}

use crate::yaml::{join, key};

impl R<'_> {
    fn push(&mut self, code: &'static str, path: &[PathSeg], n: &Node, message: String) {
        self.out.push(Issue { code, path: path_to_string(path), line: n.line, col: n.col, message });
    }
}

/// Run every rule on one resource.
pub fn check(kind: &str, api_version: &str, root: &Node, out: &mut Vec<Issue>) {
    let mut r = R { out };
    metadata(&mut r, kind, root, &[]);
    let spec = root.get("spec");
    let sp = [key("spec")];
    match kind {
        "Pod" => {
            if let Some(s) = spec {
                pod_spec(&mut r, kind, s, &sp, &[]);
            }
        }
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => {
            template(&mut r, kind, spec, &sp);
        }
        "CronJob" => {
            let jt = spec.and_then(|s| s.get("jobTemplate")).and_then(|j| j.get("spec"));
            template(&mut r, kind, jt, &join(&sp, &[key("jobTemplate"), key("spec")]));
        }
        "Service" if api_version == "v1" => {
            if let Some(s) = spec {
                service(&mut r, s, &sp);
            }
        }
        "Ingress" => {
            if let Some(s) = spec {
                ingress(&mut r, s, &sp);
            }
        }
        "NetworkPolicy" => {
            if let Some(s) = spec {
                network_policy(&mut r, s, &sp);
            }
        }
        "PodDisruptionBudget" => {
            if let Some(s) = spec {
                if s.get("minAvailable").is_some_and(|n| !n.is_null())
                    && s.get("maxUnavailable").is_some_and(|n| !n.is_null())
                {
                    r.push(
                        "validate/pdb-both-bounds",
                        &join(&sp, &[key("maxUnavailable")]),
                        s.get("maxUnavailable").unwrap_or(s),
                        "a PodDisruptionBudget sets `minAvailable` or `maxUnavailable`, not both: drop one".into(),
                    );
                }
            }
        }
        _ => {}
    }
}

fn template(r: &mut R<'_>, kind: &str, spec: Option<&Node>, base: &[PathSeg]) {
    let Some(t) = spec.and_then(|s| s.get("template")) else { return };
    let tp = join(base, &[key("template")]);
    metadata(r, "", t, &tp);
    // A StatefulSet's volumeClaimTemplates are volumes of its pods.
    let claims: Vec<&str> = match (kind, spec) {
        ("StatefulSet", Some(s)) => items(s, "volumeClaimTemplates")
            .filter_map(|(_, c)| c.get_path("metadata.name").and_then(Node::as_str))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(ps) = t.get("spec") {
        pod_spec(r, kind, ps, &join(&tp, &[key("spec")]), &claims);
    }
}

/// A qualified name (`prefix/name`): the key syntax of labels and annotations.
fn qualified_name_error(k: &str) -> Option<String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        if p.is_empty() || !is_dns1123_subdomain(p) {
            return Some(format!("the prefix of {k:?} must be a DNS-1123 subdomain"));
        }
    }
    if name.is_empty() || name.len() > 63 || !name_chars_ok(name) {
        return Some(format!(
            "the name part of {k:?} must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric"
        ));
    }
    None
}

fn name_chars_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn label_map(r: &mut R<'_>, m: &Node, base: &[PathSeg], values: bool) {
    let Some(es) = m.as_map() else { return };
    for e in es {
        let k = e.key.text.as_str();
        let p = join(base, &[key(k)]);
        if let Some(msg) = qualified_name_error(k) {
            let code = if values { "validate/label-key" } else { "validate/annotation-key" };
            r.out.push(Issue { code, path: path_to_string(&p), line: e.key_line, col: e.key_col, message: msg });
        }
        if values {
            if let Some(v) = e.value.as_str() {
                if !(v.is_empty() || (v.len() <= 63 && name_chars_ok(v))) {
                    r.push(
                        "validate/label-value",
                        &p,
                        &e.value,
                        "a label value is empty or 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric"
                            .into(),
                    );
                }
            }
        }
    }
}

fn metadata(r: &mut R<'_>, kind: &str, root: &Node, base: &[PathSeg]) {
    let Some(md) = root.get("metadata") else { return };
    let mp = join(base, &[key("metadata")]);
    if let Some(l) = md.get("labels") {
        label_map(r, l, &join(&mp, &[key("labels")]), true);
    }
    if let Some(a) = md.get("annotations") {
        label_map(r, a, &join(&mp, &[key("annotations")]), false);
        let size: usize = a
            .as_map()
            .map_or(0, |es| es.iter().map(|e| e.key.text.len() + e.value.scalar_text().map_or(0, str::len)).sum());
        if size > 256 * 1024 {
            r.push(
                "validate/annotation-size",
                &join(&mp, &[key("annotations")]),
                a,
                format!("annotations total {size} bytes; the API server allows 262144"),
            );
        }
    }
    if kind.is_empty() {
        return;
    }
    if let Some(n) = md.get("name") {
        if let Some(name) = n.as_str().filter(|s| !s.is_empty()) {
            let (ok, rule) = match kind {
                "Service" | "Namespace" => (is_dns1123_label(name), "a DNS-1123 label (at most 63 of [a-z0-9-])"),
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => (
                    name != "." && name != ".." && !name.contains('/') && !name.contains('%'),
                    "a path segment (no '/', '%', '.' or '..')",
                ),
                _ => (is_dns1123_subdomain(name), "a DNS-1123 subdomain (at most 253 of [a-z0-9-.])"),
            };
            if !ok {
                r.push("validate/name", &join(&mp, &[key("name")]), n, format!("a {kind} name must be {rule}"));
            }
        }
    }
    if let Some(n) = md.get("namespace") {
        if let Some(ns) = n.as_str().filter(|s| !s.is_empty()) {
            if !is_dns1123_label(ns) {
                r.push(
                    "validate/name",
                    &join(&mp, &[key("namespace")]),
                    n,
                    "a namespace must be a DNS-1123 label".into(),
                );
            }
        }
    }
}

fn items<'a>(n: &'a Node, k: &str) -> impl Iterator<Item = (usize, &'a Node)> {
    n.get(k).and_then(Node::as_seq).into_iter().flatten().enumerate()
}

fn port_range(r: &mut R<'_>, n: Option<&Node>, p: &[PathSeg], min: i64, what: &str) {
    let Some(n) = n else { return };
    if let Some(v) = n.as_i64() {
        if v < min || v > 65535 {
            r.push("validate/port-range", p, n, format!("{what} {v} is outside {min}-65535"));
        }
    }
}

fn protocol(r: &mut R<'_>, port: &Node, p: &[PathSeg]) {
    if let Some(n) = port.get("protocol") {
        if let Some(v) = n.as_str() {
            // An empty protocol is lint's `lint/empty-protocol` (folded into one finding).
            if !matches!(v, "TCP" | "UDP" | "SCTP") {
                r.push(
                    "validate/protocol",
                    &join(p, &[key("protocol")]),
                    n,
                    format!("protocol {v:?} is not TCP, UDP or SCTP"),
                );
            }
        }
    }
}

fn int_or_name_port(r: &mut R<'_>, n: Option<&Node>, p: &[PathSeg], what: &str) {
    let Some(n) = n else { return };
    if let Some(v) = n.as_i64() {
        if !(1..=65535).contains(&v) {
            r.push("validate/port-range", p, n, format!("{what} {v} is outside 1-65535"));
        }
    } else if let Some(s) = n.as_str() {
        if !is_iana_svc_name(s) {
            r.push(
                "validate/port-range",
                p,
                n,
                format!("{what} {s:?} is neither a port number nor a port name (IANA service name: 1-15 of [a-z0-9-] with a letter)"),
            );
        }
    }
}

fn pod_spec<'a>(r: &mut R<'_>, kind: &str, s: &'a Node, base: &[PathSeg], claims: &[&'a str]) {
    // Volumes.
    let mut volumes: Vec<&str> = Vec::new();
    for (i, v) in items(s, "volumes") {
        if let Some(n) = v.get("name").and_then(Node::as_str) {
            if volumes.contains(&n) {
                r.push(
                    "validate/duplicate-volume",
                    &join(base, &[key("volumes"), PathSeg::Index(i), key("name")]),
                    v.get("name").unwrap_or(v),
                    format!("volume name {n:?} is used twice"),
                );
            } else {
                volumes.push(n);
            }
        }
    }
    let has_volumes_list = s.get("volumes").is_some_and(|v| v.as_seq().is_some()) || !claims.is_empty();
    volumes.extend_from_slice(claims);
    // restartPolicy per workload kind.
    if let Some(n) = s.get("restartPolicy") {
        if let Some(v) = n.as_str() {
            let allowed: &[&str] = match kind {
                "Job" | "CronJob" => &["OnFailure", "Never"],
                "Pod" => &["Always", "OnFailure", "Never"],
                _ => &["Always"],
            };
            if !allowed.contains(&v) {
                r.push(
                    "validate/restart-policy",
                    &join(base, &[key("restartPolicy")]),
                    n,
                    format!("restartPolicy {v:?} is not allowed for a {kind} (allowed: {})", allowed.join(", ")),
                );
            }
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in items(s, list) {
            let cp = join(base, &[key(list), PathSeg::Index(i)]);
            if let Some(n) = c.get("name").and_then(Node::as_str) {
                if names.contains(&n) {
                    r.push(
                        "validate/duplicate-container",
                        &join(&cp, &[key("name")]),
                        c.get("name").unwrap_or(c),
                        format!("container name {n:?} is used twice in the pod"),
                    );
                } else {
                    names.push(n);
                }
            }
            container(r, list, c, &cp, &volumes, has_volumes_list);
        }
    }
}

fn container(r: &mut R<'_>, list: &str, c: &Node, cp: &[PathSeg], volumes: &[&str], has_volumes: bool) {
    if let Some(n) = c.get("imagePullPolicy") {
        if let Some(v) = n.as_str() {
            if !matches!(v, "Always" | "IfNotPresent" | "Never") {
                r.push(
                    "validate/image-pull-policy",
                    &join(cp, &[key("imagePullPolicy")]),
                    n,
                    format!("imagePullPolicy {v:?} is not Always, IfNotPresent or Never"),
                );
            }
        }
    }
    if let Some(n) = c.get("restartPolicy") {
        if let Some(v) = n.as_str() {
            if list != "initContainers" || v != "Always" {
                r.push(
                    "validate/restart-policy",
                    &join(cp, &[key("restartPolicy")]),
                    n,
                    "a container-level restartPolicy is only allowed on initContainers, as `Always` (sidecars)".into(),
                );
            }
        }
    }
    let mut paths: Vec<&str> = Vec::new();
    for (i, m) in items(c, "volumeMounts") {
        let mp = join(cp, &[key("volumeMounts"), PathSeg::Index(i)]);
        if let Some(p) = m.get("mountPath").and_then(Node::as_str) {
            let norm = p.trim_end_matches('/');
            if paths.contains(&norm) {
                r.push(
                    "validate/duplicate-mount-path",
                    &join(&mp, &[key("mountPath")]),
                    m.get("mountPath").unwrap_or(m),
                    format!("mountPath {p:?} is mounted twice in this container"),
                );
            } else {
                paths.push(norm);
            }
        }
        if let Some(n) = m.get("name").and_then(Node::as_str) {
            if list != "ephemeralContainers" && !volumes.contains(&n) {
                let why = if has_volumes {
                    "names no volume of the pod"
                } else {
                    "names no volume: the pod has no `volumes`"
                };
                r.push(
                    "validate/unknown-volume",
                    &join(&mp, &[key("name")]),
                    m.get("name").unwrap_or(m),
                    format!("volumeMount {n:?} {why}"),
                );
            }
        }
    }
    for (i, p) in items(c, "ports") {
        let pp = join(cp, &[key("ports"), PathSeg::Index(i)]);
        port_range(r, p.get("containerPort"), &join(&pp, &[key("containerPort")]), 1, "containerPort");
        if p.get("hostPort").and_then(Node::as_i64) != Some(0) {
            port_range(r, p.get("hostPort"), &join(&pp, &[key("hostPort")]), 1, "hostPort");
        }
        protocol(r, p, &pp);
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(pr) = c.get(probe).filter(|n| n.as_map().is_some()) else { continue };
        let handlers: Vec<&str> = ["exec", "httpGet", "tcpSocket", "grpc"]
            .into_iter()
            .filter(|h| pr.get(h).is_some_and(|n| !n.is_null()))
            .collect();
        if handlers.len() != 1 {
            let msg = if handlers.is_empty() {
                "a probe needs one handler (exec, httpGet, tcpSocket or grpc)".to_string()
            } else {
                format!("a probe has exactly one handler; this one has {}", handlers.join(", "))
            };
            r.push("validate/probe-handlers", &join(cp, &[key(probe)]), pr, msg);
        }
        for h in ["httpGet", "tcpSocket"] {
            if let Some(hn) = pr.get(h) {
                int_or_name_port(r, hn.get("port"), &join(cp, &[key(probe), key(h), key("port")]), "probe port");
            }
        }
    }
}

fn service(r: &mut R<'_>, s: &Node, base: &[PathSeg]) {
    if let Some(n) = s.get("type") {
        if let Some(v) = n.as_str() {
            if !matches!(v, "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName") {
                r.push(
                    "validate/service-type",
                    &join(base, &[key("type")]),
                    n,
                    format!("Service type {v:?} is not ClusterIP, NodePort, LoadBalancer or ExternalName"),
                );
            }
        }
    }
    for (i, p) in items(s, "ports") {
        let pp = join(base, &[key("ports"), PathSeg::Index(i)]);
        port_range(r, p.get("port"), &join(&pp, &[key("port")]), 1, "port");
        if p.get("nodePort").and_then(Node::as_i64) != Some(0) {
            port_range(r, p.get("nodePort"), &join(&pp, &[key("nodePort")]), 1, "nodePort");
        }
        if p.get("targetPort").and_then(Node::as_i64) != Some(0) {
            int_or_name_port(r, p.get("targetPort"), &join(&pp, &[key("targetPort")]), "targetPort");
        }
        protocol(r, p, &pp);
    }
}

fn ingress(r: &mut R<'_>, s: &Node, base: &[PathSeg]) {
    for (i, rule) in items(s, "rules") {
        let Some(http) = rule.get("http") else { continue };
        for (j, p) in items(http, "paths") {
            let pp = join(base, &[key("rules"), PathSeg::Index(i), key("http"), key("paths"), PathSeg::Index(j)]);
            if let Some(n) = p.get("pathType") {
                if let Some(v) = n.as_str() {
                    if !matches!(v, "Exact" | "Prefix" | "ImplementationSpecific") {
                        r.push(
                            "validate/path-type",
                            &join(&pp, &[key("pathType")]),
                            n,
                            format!("pathType {v:?} is not Exact, Prefix or ImplementationSpecific"),
                        );
                    }
                }
            }
            if let Some(sp) = p.get("backend").and_then(|b| b.get("service")).and_then(|s| s.get("port")) {
                port_range(
                    r,
                    sp.get("number"),
                    &join(&pp, &[key("backend"), key("service"), key("port"), key("number")]),
                    1,
                    "port",
                );
            }
        }
    }
}

fn network_policy(r: &mut R<'_>, s: &Node, base: &[PathSeg]) {
    for dir in ["ingress", "egress"] {
        for (i, rule) in items(s, dir) {
            for (j, p) in items(rule, "ports") {
                let pp = join(base, &[key(dir), PathSeg::Index(i), key("ports"), PathSeg::Index(j)]);
                protocol(r, p, &pp);
                int_or_name_port(r, p.get("port"), &join(&pp, &[key("port")]), "port");
                port_range(r, p.get("endPort"), &join(&pp, &[key("endPort")]), 1, "endPort");
            }
        }
    }
}
