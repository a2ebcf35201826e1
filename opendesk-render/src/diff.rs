//! Semantic, per-resource diff of two sets of documents (two output trees), ignoring
//! formatting: values are compared the way Kubernetes reads them (`0644` == `420`).
//! Values of `Secret` resources are never shown.

use crate::document::Document;
use crate::yaml::{Node, PathSeg, Value};
use serde::Serialize;
use std::collections::BTreeMap;

/// One path-level change inside a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChange {
    /// Normalized JSONPath.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// Old value (compact, truncated; `<redacted>` for Secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// New value (compact, truncated; `<redacted>` for Secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// The diff of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceDiff {
    /// `release:Kind/namespace/name`.
    pub resource: String,
    /// `added`, `removed` or `changed`.
    pub status: &'static str,
    /// Path-level changes (for `changed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PathChange>,
}

fn key(d: &Document) -> String {
    format!("{}:{}", d.origin.release, d.id())
}

/// Diff two document sets; resources are matched by release and identity.
pub fn diff(old: &[Document], new: &[Document]) -> Vec<ResourceDiff> {
    let a: BTreeMap<String, &Document> = old.iter().map(|d| (key(d), d)).collect();
    let b: BTreeMap<String, &Document> = new.iter().map(|d| (key(d), d)).collect();
    let mut out = Vec::new();
    for (k, da) in &a {
        match b.get(k) {
            None => out.push(ResourceDiff { resource: k.clone(), status: "removed", changes: Vec::new() }),
            Some(db) => {
                let secret = da.kind() == Some("Secret") || db.kind() == Some("Secret");
                let mut changes = Vec::new();
                node_diff(&da.root, &db.root, &mut Vec::new(), secret, &mut changes);
                if !changes.is_empty() {
                    out.push(ResourceDiff { resource: k.clone(), status: "changed", changes });
                }
            }
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            out.push(ResourceDiff { resource: k.clone(), status: "added", changes: Vec::new() });
        }
    }
    out.sort_by(|x, y| x.resource.cmp(&y.resource));
    out
}

fn show(n: &Node, secret: bool) -> String {
    if secret {
        return "<redacted>".into();
    }
    let s = n.to_json().to_string();
    if s.chars().count() > 120 {
        s.chars().take(117).collect::<String>() + "..."
    } else {
        s
    }
}

fn node_diff(a: &Node, b: &Node, path: &mut Vec<PathSeg>, secret: bool, out: &mut Vec<PathChange>) {
    let p = |path: &Vec<PathSeg>| crate::yaml::path_to_string(path);
    match (&a.value, &b.value) {
        (Value::Map(ma), Value::Map(mb)) => {
            for e in ma {
                path.push(PathSeg::Key(e.key.text.clone()));
                match b.get(&e.key.text) {
                    Some(v) => node_diff(&e.value, v, path, secret, out),
                    None => out.push(PathChange {
                        path: p(path),
                        kind: "removed",
                        old: Some(show(&e.value, secret)),
                        new: None,
                    }),
                }
                path.pop();
            }
            for e in mb {
                if a.get(&e.key.text).is_none() {
                    path.push(PathSeg::Key(e.key.text.clone()));
                    out.push(PathChange { path: p(path), kind: "added", old: None, new: Some(show(&e.value, secret)) });
                    path.pop();
                }
            }
        }
        (Value::Seq(sa), Value::Seq(sb)) => {
            for i in 0..sa.len().max(sb.len()) {
                path.push(PathSeg::Index(i));
                match (sa.get(i), sb.get(i)) {
                    (Some(x), Some(y)) => node_diff(x, y, path, secret, out),
                    (Some(x), None) => {
                        out.push(PathChange { path: p(path), kind: "removed", old: Some(show(x, secret)), new: None })
                    }
                    (None, Some(y)) => {
                        out.push(PathChange { path: p(path), kind: "added", old: None, new: Some(show(y, secret)) })
                    }
                    (None, None) => {}
                }
                path.pop();
            }
        }
        _ => {
            if a != b {
                out.push(PathChange {
                    path: p(path),
                    kind: "changed",
                    old: Some(show(a, secret)),
                    new: Some(show(b, secret)),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_text;
    use std::path::Path;
    use std::sync::Arc;

    fn docs(t: &str) -> Vec<Document> {
        let r: Arc<str> = "r".into();
        parse_text(&r, &r, Path::new("x"), t, true).unwrap()
    }

    #[test]
    fn semantic_and_per_path() {
        let a = docs("kind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1', m: 0644}\n---\nkind: ConfigMap\nmetadata: {name: gone}\n");
        let b = docs("kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"2\"\n  m: 420\n  y: new\n---\nkind: Secret\nmetadata: {name: s}\ndata: {p: c2VjcmV0}\n");
        let d = diff(&a, &b);
        assert_eq!(d.len(), 3);
        let changed = d.iter().find(|r| r.status == "changed").unwrap();
        assert_eq!(changed.changes.len(), 2, "{changed:?}"); // x changed, y added; m equal (octal)
        assert!(d.iter().any(|r| r.status == "added" && r.resource.contains("Secret")));
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn secrets_are_redacted() {
        let a = docs("kind: Secret\nmetadata: {name: s}\nstringData: {p: hunter22}\n");
        let b = docs("kind: Secret\nmetadata: {name: s}\nstringData: {p: hunter23}\n");
        let s = serde_json::to_string(&diff(&a, &b)).unwrap();
        assert!(!s.contains("hunter"), "{s}");
        assert!(s.contains("<redacted>"));
    }
}
