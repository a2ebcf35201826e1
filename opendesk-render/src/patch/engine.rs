//! Applying compiled ops to one document. Every op is idempotent: applied twice it changes
//! nothing the second time. Each change is recorded on the document for `explain`.

use super::compile::{Op, Patch, Pattern, Select};
use super::query::{find, CompiledPath};
use crate::document::Document;
use crate::yaml::{path_to_string, Entry, Node, PathSeg, Scalar, Style, Value};

/// Does the selector match this document? Cheap string checks first, the JSONPath last.
pub fn selects(s: &Select, d: &Document) -> bool {
    fn any(p: &[Pattern], v: Option<&str>) -> bool {
        p.is_empty() || v.is_some_and(|v| p.iter().any(|p| p.matches(v)))
    }
    any(&s.kind, d.kind())
        && any(&s.release, Some(&d.origin.release))
        && any(&s.name, d.name())
        && any(&s.api_version, d.api_version())
        && (s.namespace.is_empty() || s.namespace.iter().any(|p| p.matches(d.namespace().unwrap_or(""))))
        && s.labels.iter().all(|(k, v)| d.label(k) == Some(v.as_str()))
        && s.where_.as_ref().is_none_or(|w| w.exists(&d.root))
}

/// Apply one patch's ops to a selected document; returns whether anything changed.
pub fn apply_patch(p: &Patch, by: &str, d: &mut Document) -> bool {
    let mut changed = false;
    for (op, _) in &p.ops {
        changed |= apply_op(op, by, d);
    }
    changed
}

/// The longest value a change records whole (characters).
pub const DETAIL_MAX_CHARS: usize = 4096;
/// How much of a longer value it keeps, before `… (N chars)`.
pub const DETAIL_KEPT_CHARS: usize = 120;

/// The new value as the change log records it: complete (scalars as written, lists and maps in
/// flow style with every key and value), unless longer than [`DETAIL_MAX_CHARS`]; then its
/// first [`DETAIL_KEPT_CHARS`] characters, an ellipsis and the full length, so an elided value
/// always says so. Scalar texts are kept raw (not escaped), so the redact stage finds and masks
/// a known secret value in them; never recorded for Secrets.
fn detail(d: &Document, v: &Node) -> Option<String> {
    if d.kind() == Some("Secret") {
        return None; // never record values of Secrets
    }
    let mut t = String::new();
    flow(v, &mut t);
    Some(elide(t))
}

fn flow(v: &Node, out: &mut String) {
    match &v.value {
        Value::Scalar(s) => out.push_str(&s.text),
        Value::Seq(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(it, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, e) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&e.key.text);
                out.push_str(": ");
                flow(&e.value, out);
            }
            out.push('}');
        }
    }
}

/// `t` whole when at most [`DETAIL_MAX_CHARS`] long, else its start, `…` and its length.
pub fn elide(t: String) -> String {
    let n = t.chars().count();
    if n <= DETAIL_MAX_CHARS {
        return t;
    }
    let kept: String = t.chars().take(DETAIL_KEPT_CHARS).collect();
    format!("{kept}… ({n} chars)")
}

/// Parents (maps) for a write path whose last segment is a key.
fn parents(path: &CompiledPath, root: &Node) -> (Vec<Vec<PathSeg>>, String) {
    let (pq, key) = path.parent.as_ref().expect("write paths have a parent (checked at compile time)");
    let mut ps = find(pq, root);
    ps.retain(|p| root.at(p).is_some_and(|n| n.as_map().is_some()));
    (ps, key.clone())
}

fn with_key(p: &[PathSeg], k: &str) -> Vec<PathSeg> {
    let mut v = p.to_vec();
    v.push(PathSeg::Key(k.to_string()));
    v
}

/// Apply one op; returns whether the document changed.
pub fn apply_op(op: &Op, by: &str, d: &mut Document) -> bool {
    let mut changed = false;
    match op {
        Op::Set { path, value } | Op::SetDefault { path, value } => {
            let only_missing = matches!(op, Op::SetDefault { .. });
            let (ps, key) = parents(path, &d.root);
            for p in ps {
                let parent = d.root.at_mut(&p).expect("found");
                let cur = parent.get(&key);
                let skip = match cur {
                    Some(c) => (only_missing && !c.is_null()) || c.same(value),
                    None => false,
                };
                if !skip {
                    parent.insert(&key, value.clone());
                    let det = detail(d, value);
                    d.record(by, op.name(), path_to_string(&with_key(&p, &key)), det);
                    changed = true;
                }
            }
        }
        Op::Remove { path } => {
            let mut ps = path.find(&d.root);
            ps.sort();
            ps.dedup();
            for p in ps.into_iter().rev() {
                if remove_at(&mut d.root, &p) {
                    d.record(by, "remove", path_to_string(&p), None);
                    changed = true;
                }
            }
        }
        Op::Rename { path, to } => {
            let (ps, key) = parents(path, &d.root);
            for p in ps {
                let parent = d.root.at_mut(&p).expect("found");
                let Some(map) = parent.as_map_mut() else { continue };
                let Some(i) = map.iter().position(|e| e.key.text == key) else { continue };
                if key == *to {
                    continue;
                }
                map.retain(|e| e.key.text != *to);
                let i = map.iter().position(|e| e.key.text == key).unwrap_or(i);
                map[i].key = Scalar::string(to.as_str());
                d.record(by, "rename", path_to_string(&with_key(&p, &key)), Some(format!("→ {to}")));
                changed = true;
            }
        }
        Op::Replace { path, from, to } => {
            for p in path.find(&d.root) {
                let n = d.root.at_mut(&p).expect("found");
                if *n == *from && !n.same(to) {
                    *n = to.clone();
                    let det = detail(d, to);
                    d.record(by, "replace", path_to_string(&p), det);
                    changed = true;
                }
            }
        }
        Op::Append { path, value, unless_exists } => {
            let targets = list_targets(path, &mut d.root);
            for p in targets {
                let list = d.root.at_mut(&p).and_then(Node::as_seq_mut).expect("list");
                let present = match unless_exists {
                    Some(k) => {
                        let want = value.get(k);
                        list.iter().any(|i| i.get(k).is_some() && i.get(k) == want)
                    }
                    None => list.iter().any(|i| i == value),
                };
                if !present {
                    list.push(value.clone());
                    let det = detail(d, value);
                    d.record(by, "append", path_to_string(&p), det);
                    changed = true;
                }
            }
        }
        Op::Merge { path, value } => {
            let mut targets = path.find(&d.root);
            if targets.is_empty() {
                if let Some((_, key)) = &path.parent {
                    let (ps, _) = parents(path, &d.root);
                    for p in ps {
                        d.root.at_mut(&p).expect("found").ensure_map(key);
                        targets.push(with_key(&p, key));
                    }
                }
            }
            for p in targets {
                let Some(n) = d.root.at_mut(&p) else { continue };
                if n.is_null() {
                    *n = Node::map();
                }
                if n.as_map().is_some() && merge(n, value) {
                    let det = detail(d, value);
                    d.record(by, "merge", path_to_string(&p), det);
                    changed = true;
                }
            }
        }
        Op::Dedup { path, key } => {
            for p in path.find(&d.root) {
                let Some(list) = d.root.at_mut(&p).and_then(Node::as_seq_mut) else { continue };
                if dedup_keep_last(list, key) {
                    d.record(by, "dedup", path_to_string(&p), Some(format!("by {key}")));
                    changed = true;
                }
            }
        }
        Op::RegexReplace { path, regex, replacement } => {
            let is_secret = d.kind() == Some("Secret");
            for p in path.find(&d.root) {
                let Some(Value::Scalar(s)) = d.root.at_mut(&p).map(|n| &mut n.value) else { continue };
                if !s.is_string() {
                    continue;
                }
                let new = regex.replace_all(&s.text, replacement.as_str());
                if new != s.text {
                    let new = new.into_owned();
                    let style = match s.style {
                        Style::Plain => Scalar::string(new.as_str()).style,
                        Style::Literal | Style::Folded if new.contains('\n') => Style::Literal,
                        Style::Literal | Style::Folded => Scalar::string(new.as_str()).style,
                        st => st,
                    };
                    s.text = new;
                    s.style = style;
                    let det = if is_secret {
                        None
                    } else {
                        Some(format!("/{}/ → {}", regex.as_str(), replacement).replace('\n', "\\n"))
                    };
                    d.record(by, "regexReplace", path_to_string(&p), det);
                    changed = true;
                }
            }
        }
        Op::EnsureEnv { container, env } => {
            let name = env.get("name").and_then(Node::scalar_text).unwrap_or("").to_string();
            for cp in containers(d, container) {
                let c = d.root.at_mut(&cp).expect("container");
                let list = c.ensure_seq("env").expect("env list");
                let list = list.as_seq_mut().expect("seq");
                match list.iter().position(|e| e.get("name").and_then(Node::scalar_text) == Some(&name)) {
                    Some(i) if list[i] == *env => continue,
                    Some(i) => list[i] = env.clone(),
                    None => list.push(env.clone()),
                }
                d.record(by, "ensureEnv", path_to_string(&with_key(&cp, "env")), Some(name.clone()));
                changed = true;
            }
        }
        Op::EnsureVolume { volume } => {
            let name = volume.get("name").and_then(Node::scalar_text).unwrap_or("").to_string();
            for sp in pod_specs(d) {
                let spec = d.root.at_mut(&sp).expect("pod spec");
                let Some(list) = spec.ensure_seq("volumes").and_then(Node::as_seq_mut) else { continue };
                match list.iter().position(|v| v.get("name").and_then(Node::scalar_text) == Some(&name)) {
                    Some(i) if list[i] == *volume => continue,
                    Some(i) => list[i] = volume.clone(),
                    None => list.push(volume.clone()),
                }
                d.record(by, "ensureVolume", path_to_string(&with_key(&sp, "volumes")), Some(name.clone()));
                changed = true;
            }
        }
        Op::EnsureVolumeMount { container, mount } => {
            let mp = mount.get("mountPath").and_then(Node::scalar_text).unwrap_or("").to_string();
            for cp in containers(d, container) {
                let c = d.root.at_mut(&cp).expect("container");
                let Some(list) = c.ensure_seq("volumeMounts").and_then(Node::as_seq_mut) else { continue };
                match list.iter().position(|m| m.get("mountPath").and_then(Node::scalar_text) == Some(&mp)) {
                    Some(i) if list[i] == *mount => continue,
                    Some(i) => list[i] = mount.clone(),
                    None => list.push(mount.clone()),
                }
                d.record(by, "ensureVolumeMount", path_to_string(&with_key(&cp, "volumeMounts")), Some(mp.clone()));
                changed = true;
            }
        }
        Op::Annotate { entries } | Op::Label { entries } => {
            let field = if matches!(op, Op::Annotate { .. }) { "annotations" } else { "labels" };
            let Some(meta) = d.root.ensure_map("metadata") else { return false };
            let Some(target) = meta.ensure_map(field) else { return false };
            let mut done = Vec::new();
            for e in entries.as_map().into_iter().flatten() {
                if target.get(&e.key.text).is_some_and(|v| v == &e.value) {
                    continue;
                }
                target.insert(&e.key.text, e.value.clone());
                done.push(e.key.text.clone());
            }
            for k in done {
                let p = vec![PathSeg::Key("metadata".into()), PathSeg::Key(field.into()), PathSeg::Key(k)];
                d.record(by, op.name(), path_to_string(&p), None);
                changed = true;
            }
        }
    }
    changed
}

/// Lists targeted by an append: found lists, or (when the last key is missing or null in a
/// found parent map) a new empty list created there.
fn list_targets(path: &CompiledPath, root: &mut Node) -> Vec<Vec<PathSeg>> {
    let mut out: Vec<Vec<PathSeg>> = path
        .find(root)
        .into_iter()
        .filter(|p| root.at(p).is_some_and(|n| n.as_seq().is_some() || n.is_null()))
        .collect();
    if let Some((_, key)) = &path.parent {
        let (ps, _) = parents(path, root);
        for p in ps {
            let parent = root.at(&p).expect("found");
            if parent.get(key).is_none_or(Node::is_null) {
                out.push(with_key(&p, key));
            }
        }
    }
    out.sort();
    out.dedup();
    for p in &out {
        let n = root.at_mut(p);
        if let Some(n) = n {
            if n.is_null() {
                *n = Node::seq();
            }
        } else if let Some((last, parent)) = p.split_last() {
            if let (PathSeg::Key(k), Some(pn)) = (last, root.at_mut(parent)) {
                pn.ensure_seq(k);
            }
        }
    }
    out
}

fn remove_at(root: &mut Node, p: &[PathSeg]) -> bool {
    let Some((last, parent)) = p.split_last() else { return false };
    let Some(parent) = root.at_mut(parent) else { return false };
    match (last, &mut parent.value) {
        (PathSeg::Key(k), Value::Map(m)) => {
            let before = m.len();
            m.retain(|e| e.key.text != *k);
            m.len() != before
        }
        (PathSeg::Index(i), Value::Seq(s)) if *i < s.len() => {
            s.remove(*i);
            true
        }
        _ => false,
    }
}

/// Deep merge `src` into `dst` (maps merge recursively, anything else replaces).
fn merge(dst: &mut Node, src: &Node) -> bool {
    let (Some(_), Some(sm)) = (dst.as_map(), src.as_map()) else {
        if dst.same(src) {
            return false;
        }
        *dst = src.clone();
        return true;
    };
    let mut changed = false;
    for e in sm {
        match dst.get_mut(&e.key.text) {
            Some(v) if v.as_map().is_some() && e.value.as_map().is_some() => changed |= merge(v, &e.value),
            Some(v) => {
                if !v.same(&e.value) {
                    *v = e.value.clone();
                    changed = true;
                }
            }
            None => {
                dst.as_map_mut().expect("map").push(Entry { key: e.key.clone(), key_line: 0, value: e.value.clone() });
                changed = true;
            }
        }
    }
    changed
}

/// Keep the last item for each key value, at its position. Items without the key stay.
pub fn dedup_keep_last(list: &mut Vec<Node>, key: &str) -> bool {
    let keys: Vec<Option<String>> =
        list.iter().map(|i| i.get(key).and_then(Node::scalar_text).map(str::to_string)).collect();
    let mut keep = vec![true; list.len()];
    let mut seen = std::collections::HashSet::new();
    for i in (0..list.len()).rev() {
        if let Some(k) = &keys[i] {
            if !seen.insert(k.clone()) {
                keep[i] = false;
            }
        }
    }
    if keep.iter().all(|k| *k) {
        return false;
    }
    let mut it = keep.into_iter();
    list.retain(|_| it.next().unwrap_or(true));
    true
}

/// Paths of the pod spec(s) of a workload document, by kind.
pub fn pod_specs(d: &Document) -> Vec<Vec<PathSeg>> {
    let k = |s: &str| PathSeg::Key(s.to_string());
    let p = match d.kind() {
        Some("Pod") => vec![k("spec")],
        Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController") => {
            vec![k("spec"), k("template"), k("spec")]
        }
        Some("CronJob") => vec![k("spec"), k("jobTemplate"), k("spec"), k("template"), k("spec")],
        _ => return Vec::new(),
    };
    if d.root.at(&p).is_some_and(|n| n.as_map().is_some()) {
        vec![p]
    } else {
        Vec::new()
    }
}

/// Paths of every container and initContainer whose name matches.
pub fn containers(d: &Document, pat: &Pattern) -> Vec<Vec<PathSeg>> {
    let mut out = Vec::new();
    for sp in pod_specs(d) {
        for field in ["initContainers", "containers"] {
            let mut base = sp.clone();
            base.push(PathSeg::Key(field.into()));
            if let Some(list) = d.root.at(&base).and_then(Node::as_seq) {
                for (i, c) in list.iter().enumerate() {
                    if c.get("name").and_then(Node::scalar_text).is_some_and(|n| pat.matches(n)) {
                        let mut p = base.clone();
                        p.push(PathSeg::Index(i));
                        out.push(p);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod detail_tests {
    use super::*;

    #[test]
    fn values_are_complete_and_an_elided_one_says_so() {
        let v = Node::from_json(
            &serde_json::json!({"exec": {"command": ["curl", "-f"]}, "periodSeconds": 10, "timeoutSeconds": 5}),
        );
        let mut t = String::new();
        flow(&v, &mut t);
        assert_eq!(t, "{exec: {command: [curl, -f]}, periodSeconds: 10, timeoutSeconds: 5}");
        let short = "x".repeat(DETAIL_MAX_CHARS);
        assert_eq!(elide(short.clone()), short, "up to the limit: whole");
        let long = "é".repeat(DETAIL_MAX_CHARS + 1);
        let e = elide(long);
        assert_eq!(e, format!("{}… ({} chars)", "é".repeat(DETAIL_KEPT_CHARS), DETAIL_MAX_CHARS + 1));
    }
}
