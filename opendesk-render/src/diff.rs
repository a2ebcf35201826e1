//! Semantic, per-resource diff of two sets of documents (two output trees, or a tree and the
//! branch head a push would replace), the engine behind `diff OLD NEW`, `plan` and
//! `push --dry-run`.
//!
//! - Formatting is ignored: values are compared the way Kubernetes reads them (`0644` == `420`).
//! - Resources are matched by release and identity: added, removed or changed; a changed one
//!   lists each changed path with its complete old and new value (compact JSON, never cut).
//! - Multi-line strings (config files in ConfigMaps, scripts) are shown as a unified diff of
//!   just the changed lines with [`CONTEXT`] lines of context.
//! - `Secret` values are never shown (`<redacted>`, paths only); an `ExternalSecret` shows its
//!   key names only (`spec.data` is matched by `secretKey`, values redacted).
//! - **Churn**: a changed resource whose changes all touch `checksum/*` annotations or the
//!   values of existing Secret keys is marked `churn` (a chart's random values re-rendered,
//!   not a real change; docs/before-you-push.md).
//!
//! [`render_text`], [`render_markdown`] and the `Serialize` impl of [`DiffReport`] are the three
//! output formats.

use crate::document::Document;
use crate::yaml::{Node, PathSeg, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Lines of context around each changed line of a multi-line string.
pub const CONTEXT: usize = 2;

/// What shows in place of a Secret or ExternalSecret value.
pub const REDACTED: &str = "<redacted>";

/// One path-level change inside a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChange {
    /// Normalized JSONPath (`$.data['homeserver.yaml']`).
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// Old value: complete compact JSON, or `<redacted>` (absent for `added` and for a
    /// multi-line string, which has `lines`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// New value, like `old`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// For a multi-line string: the unified diff of its changed lines (`@@ … @@`, ` ctx`,
    /// `-old`, `+new`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// True when this change alone is churn (a `checksum/*` annotation, a Secret value).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub churn: bool,
}

/// The diff of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceDiff {
    /// `release:Kind/namespace/name`.
    pub resource: String,
    /// The release (`(applications)` for the Argo CD Applications).
    pub release: String,
    /// `added`, `removed` or `changed`.
    pub status: &'static str,
    /// True for a changed resource whose every change is churn.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub churn: bool,
    /// Path-level changes (for `changed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PathChange>,
}

/// Counts of a [`DiffReport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Resources only in the new set.
    pub added: usize,
    /// Resources only in the old set.
    pub removed: usize,
    /// Resources in both that differ (churn included).
    pub changed: usize,
    /// Of `changed`, those that are only churn.
    pub churn: usize,
    /// Resources in both that are equal.
    pub unchanged: usize,
}

/// A whole diff: what `diff --json` and `plan --json` print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffReport {
    /// True when anything was added, removed or changed (churn included).
    pub changed: bool,
    /// Counts.
    pub counts: Counts,
    /// Per resource, sorted by release and identity.
    pub resources: Vec<ResourceDiff>,
}

fn key(d: &Document) -> String {
    format!("{}:{}", d.origin.release, d.id())
}

/// How values of a resource may be shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reveal {
    All,
    /// Secret: values never, paths only.
    Secret,
    /// ExternalSecret: key names only.
    KeyNames,
}

fn reveal(a: &Document, b: &Document) -> Reveal {
    let is = |k: &str| a.kind() == Some(k) || b.kind() == Some(k);
    if is("Secret") {
        Reveal::Secret
    } else if is("ExternalSecret") || is("ClusterExternalSecret") || is("PushSecret") {
        Reveal::KeyNames
    } else {
        Reveal::All
    }
}

/// Diff two document sets; resources are matched by release and identity.
pub fn diff(old: &[Document], new: &[Document]) -> DiffReport {
    let a: BTreeMap<String, &Document> = old.iter().map(|d| (key(d), d)).collect();
    let b: BTreeMap<String, &Document> = new.iter().map(|d| (key(d), d)).collect();
    let mut resources = Vec::new();
    let mut counts = Counts::default();
    let entry = |k: &String, d: &Document, status, churn, changes| ResourceDiff {
        resource: k.clone(),
        release: d.origin.release.to_string(),
        status,
        churn,
        changes,
    };
    for (k, da) in &a {
        match b.get(k) {
            None => {
                counts.removed += 1;
                resources.push(entry(k, da, "removed", false, Vec::new()));
            }
            Some(db) => {
                let r = reveal(da, db);
                let mut changes = Vec::new();
                let (ra, rb) = if r == Reveal::KeyNames {
                    (keyed_external_secret(&da.root), keyed_external_secret(&db.root))
                } else {
                    (da.root.clone(), db.root.clone())
                };
                node_diff(&ra, &rb, &mut Vec::new(), r, &mut changes);
                if changes.is_empty() {
                    counts.unchanged += 1;
                } else {
                    let churn = changes.iter().all(|c| c.churn);
                    counts.changed += 1;
                    counts.churn += usize::from(churn);
                    resources.push(entry(k, db, "changed", churn, changes));
                }
            }
        }
    }
    for (k, db) in &b {
        if !a.contains_key(k) {
            counts.added += 1;
            resources.push(entry(k, db, "added", false, Vec::new()));
        }
    }
    resources.sort_by(|x, y| (&x.release, &x.resource).cmp(&(&y.release, &y.resource)));
    let known = secret_values_in(&[old, new]);
    if !known.is_empty() {
        for r in &mut resources {
            scrub_resource(&known, r);
        }
    }
    DiffReport { changed: counts.added + counts.removed + counts.changed > 0, counts, resources }
}

/// The values of the `Secret`s among `sets` (`stringData`, and `data` decoded), as the matcher
/// the pipeline scrubs findings with ([`KnownSecrets`]): what `diff`, `plan` and `explain` mask
/// wherever else they would print them (a ConfigMap line holding a Secret's password, a key).
/// A Secret whose data does not decode contributes what does.
///
/// [`KnownSecrets`]: crate::stages::redact::KnownSecrets
pub fn secret_values_in(sets: &[&[Document]]) -> crate::stages::redact::KnownSecrets {
    let mut values = Vec::new();
    for d in sets.iter().flat_map(|s| s.iter()).filter(|d| crate::stages::eso::is_secret(d)) {
        for field in ["data", "stringData"] {
            let Some(m) = d.root.get(field).and_then(Node::as_map) else { continue };
            for e in m {
                let Some(t) = e.value.scalar_text() else { continue };
                let v = if field == "data" {
                    crate::stages::eso::decode_base64(t).and_then(|b| String::from_utf8(b).ok())
                } else {
                    Some(t.to_string())
                };
                values.extend(v);
            }
        }
    }
    crate::stages::redact::KnownSecrets::from_values(values)
}

/// Mask every known value in what a resource's diff would print.
fn scrub_resource(known: &crate::stages::redact::KnownSecrets, r: &mut ResourceDiff) {
    let mask = |s: &mut String| {
        if let std::borrow::Cow::Owned(m) = known.mask(s) {
            *s = m;
        }
    };
    mask(&mut r.resource);
    for c in &mut r.changes {
        mask(&mut c.path);
        c.old.iter_mut().chain(c.new.iter_mut()).chain(c.lines.iter_mut()).for_each(mask);
    }
}

/// An ExternalSecret with `spec.data` as a map keyed by `secretKey` (so an inserted key is one
/// added key, not a cascade of index changes).
fn keyed_external_secret(root: &Node) -> Node {
    let mut r = root.clone();
    if let Some(data) = r.get_mut("spec").and_then(|s| s.get_mut("data")) {
        if let Some(items) = data.as_seq() {
            let mut m = Node::map();
            let mut ok = true;
            for (i, it) in items.iter().enumerate() {
                let k = it.get("secretKey").and_then(Node::scalar_text).map(str::to_string);
                match k {
                    Some(k) if m.get(&k).is_none() => {
                        m.insert(&k, it.clone());
                    }
                    _ => {
                        ok = false;
                        let _ = i;
                        break;
                    }
                }
            }
            if ok {
                *data = m;
            }
        }
    }
    r
}

fn show(n: &Node, r: Reveal) -> String {
    if r != Reveal::All {
        return REDACTED.into();
    }
    n.to_json().to_string()
}

/// A `checksum/*` annotation key (`metadata.annotations` or a pod template's).
fn is_checksum_path(path: &[PathSeg]) -> bool {
    let n = path.len();
    n >= 3
        && matches!(&path[n - 1], PathSeg::Key(k) if k.starts_with("checksum/"))
        && matches!(&path[n - 2], PathSeg::Key(k) if k == "annotations")
        && matches!(&path[n - 3], PathSeg::Key(k) if k == "metadata")
}

/// The value of an existing Secret key (`data.K` / `stringData.K`).
fn is_secret_value_path(path: &[PathSeg], r: Reveal) -> bool {
    r == Reveal::Secret
        && path.len() == 2
        && matches!(&path[0], PathSeg::Key(k) if k == "data" || k == "stringData" || k == "binaryData")
}

fn push_change(
    path: &[PathSeg],
    kind: &'static str,
    old: Option<&Node>,
    new: Option<&Node>,
    r: Reveal,
    out: &mut Vec<PathChange>,
) {
    let churn = is_checksum_path(path) || (kind == "changed" && is_secret_value_path(path, r));
    let mut lines = Vec::new();
    let (mut o, mut n) = (old.map(|v| show(v, r)), new.map(|v| show(v, r)));
    if r == Reveal::All && kind == "changed" {
        if let (Some(a), Some(b)) = (old.and_then(Node::as_str), new.and_then(Node::as_str)) {
            if a.contains('\n') || b.contains('\n') {
                lines = unified(a, b);
                o = None;
                n = None;
            }
        }
    }
    out.push(PathChange { path: crate::yaml::path_to_string(path), kind, old: o, new: n, lines, churn });
}

/// Unified diff of two texts, changed lines with [`CONTEXT`] lines of context, without the
/// `---`/`+++` header.
pub fn unified(a: &str, b: &str) -> Vec<String> {
    let d = similar::TextDiff::from_lines(a, b);
    let mut out = Vec::new();
    for h in d.unified_diff().context_radius(CONTEXT).iter_hunks() {
        out.push(h.header().to_string());
        for c in h.iter_changes() {
            let sign = match c.tag() {
                similar::ChangeTag::Equal => ' ',
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
            };
            let v = c.value();
            let v = v.strip_suffix('\n').unwrap_or(v);
            out.push(format!("{sign}{v}"));
            if c.missing_newline() {
                out.push("\\ No newline at end of text".into());
            }
        }
    }
    out
}

fn node_diff(a: &Node, b: &Node, path: &mut Vec<PathSeg>, r: Reveal, out: &mut Vec<PathChange>) {
    match (&a.value, &b.value) {
        (Value::Map(ma), Value::Map(mb)) => {
            for e in ma {
                path.push(PathSeg::Key(e.key.text.clone()));
                match b.get(&e.key.text) {
                    Some(v) => node_diff(&e.value, v, path, r, out),
                    None => push_change(path, "removed", Some(&e.value), None, r, out),
                }
                path.pop();
            }
            for e in mb {
                if a.get(&e.key.text).is_none() {
                    path.push(PathSeg::Key(e.key.text.clone()));
                    push_change(path, "added", None, Some(&e.value), r, out);
                    path.pop();
                }
            }
        }
        (Value::Seq(sa), Value::Seq(sb)) => {
            for i in 0..sa.len().max(sb.len()) {
                path.push(PathSeg::Index(i));
                match (sa.get(i), sb.get(i)) {
                    (Some(x), Some(y)) => node_diff(x, y, path, r, out),
                    (Some(x), None) => push_change(path, "removed", Some(x), None, r, out),
                    (None, Some(y)) => push_change(path, "added", None, Some(y), r, out),
                    (None, None) => {}
                }
                path.pop();
            }
        }
        _ => {
            if a != b {
                push_change(path, "changed", Some(a), Some(b), r, out);
            }
        }
    }
}

impl DiffReport {
    /// `1 added, 2 removed, 3 changed (1 churn)`, or `no changes`.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        if !self.changed {
            return format!("no changes ({} resources unchanged)", c.unchanged);
        }
        let mut s = format!("{} added, {} removed, {} changed", c.added, c.removed, c.changed);
        if c.churn > 0 {
            let _ = write!(s, " ({} only churn: checksum annotations or regenerated secret values)", c.churn);
        }
        let _ = write!(s, ", {} unchanged", c.unchanged);
        s
    }
}

fn text_change(c: &PathChange, indent: &str, out: &mut String) {
    let old = c.old.as_deref().unwrap_or("");
    let new = c.new.as_deref().unwrap_or("");
    let tag = if c.churn { "  (churn)" } else { "" };
    match c.kind {
        "added" => {
            let _ = writeln!(out, "{indent}+ {} = {new}{tag}", c.path);
        }
        "removed" => {
            let _ = writeln!(out, "{indent}- {} (was {old}){tag}", c.path);
        }
        _ if !c.lines.is_empty() => {
            let _ = writeln!(out, "{indent}~ {}:{tag}", c.path);
            for l in &c.lines {
                let _ = writeln!(out, "{indent}    {l}");
            }
        }
        _ => {
            let _ = writeln!(out, "{indent}~ {}: {old} → {new}{tag}", c.path);
        }
    }
}

/// The terminal format: one line per resource (`added`/`removed`/`changed`), its changes
/// indented below, a summary line last.
pub fn render_text(d: &DiffReport) -> String {
    let mut out = String::new();
    for r in &d.resources {
        let churn = if r.churn { "  (churn only)" } else { "" };
        let _ = writeln!(out, "{:<8} {}{churn}", r.status, r.resource);
        for c in &r.changes {
            text_change(c, "    ", &mut out);
        }
    }
    let _ = writeln!(out, "{}", d.summary());
    out
}

/// A fence that the text cannot close: one more backtick than its longest run.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// The merge-request format: a summary, then per release a collapsible `<details>` block with
/// its resources and their changes in a `diff` code block.
pub fn render_markdown(d: &DiffReport, title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n\n{}\n", d.summary());
    let mut by_release: BTreeMap<&str, Vec<&ResourceDiff>> = BTreeMap::new();
    for r in &d.resources {
        by_release.entry(&r.release).or_default().push(r);
    }
    for (release, rs) in by_release {
        let n = |s: &str| rs.iter().filter(|r| r.status == s).count();
        let churn = rs.iter().filter(|r| r.churn).count();
        let mut sum = format!("{} added, {} removed, {} changed", n("added"), n("removed"), n("changed"));
        if churn > 0 {
            let _ = write!(sum, " ({churn} churn)");
        }
        let _ = writeln!(out, "<details><summary><b>{}</b>: {sum}</summary>\n", html_escape(release));
        let mut body = String::new();
        for r in rs {
            let sign = match r.status {
                "added" => '+',
                "removed" => '-',
                _ => '~',
            };
            let churn = if r.churn { "  (churn only)" } else { "" };
            let _ = writeln!(body, "{sign} {} {}{churn}", r.status, r.resource);
            for c in &r.changes {
                text_change(c, "    ", &mut body);
            }
        }
        let f = fence(&body);
        let _ = writeln!(out, "{f}diff\n{body}{f}\n\n</details>\n");
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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
        assert_eq!(d.resources.len(), 3);
        assert_eq!(d.counts, Counts { added: 1, removed: 1, changed: 1, churn: 0, unchanged: 0 });
        let changed = d.resources.iter().find(|r| r.status == "changed").unwrap();
        assert_eq!(changed.changes.len(), 2, "{changed:?}"); // x changed, y added; m equal (octal)
        assert!(d.resources.iter().any(|r| r.status == "added" && r.resource.contains("Secret")));
        let same = diff(&a, &a);
        assert!(!same.changed && same.resources.is_empty());
        assert_eq!(same.counts.unchanged, 2);
    }

    #[test]
    fn complete_values_are_shown() {
        let long = format!("/data/{}/homeserver.yaml", "x".repeat(200));
        let a = docs(&format!("kind: ConfigMap\nmetadata: {{name: a}}\ndata: {{p: '{long}'}}\n"));
        let b = docs(&format!("kind: ConfigMap\nmetadata: {{name: a}}\ndata: {{p: '{long}2'}}\n"));
        let t = render_text(&diff(&a, &b));
        assert!(t.contains(&format!("\"{long}\" → \"{long}2\"")), "{t}");
    }

    #[test]
    fn block_scalars_show_only_changed_lines() {
        let body: Vec<String> = (1..=20).map(|i| format!("    line{i}: v{i}")).collect();
        let a = format!("kind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  conf.yaml: |\n{}\n", body.join("\n"));
        let b = a.replace("line10: v10", "line10: CHANGED");
        let d = diff(&docs(&a), &docs(&b));
        let c = &d.resources[0].changes[0];
        assert_eq!(c.path, "$.data['conf.yaml']");
        assert_eq!((c.old.as_deref(), c.new.as_deref()), (None, None));
        assert_eq!(
            c.lines,
            [
                "@@ -8,5 +8,5 @@",
                " line8: v8",
                " line9: v9",
                "-line10: v10",
                "+line10: CHANGED",
                " line11: v11",
                " line12: v12"
            ]
        );
    }

    #[test]
    fn a_secret_value_in_another_resource_is_masked() {
        // The Secret holds the password; a ConfigMap's config file (a block scalar) and a
        // key of another map hold it too: the diff shows neither.
        let secret = "kind: Secret\nmetadata: {name: db}\ndata: {password: Q29uZmlnTWFwLVB3LTc3eHE=}\n";
        let a = docs(&format!("{secret}---\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n  app.ini: |\n    [db]\n    host = db\n    user = app\n"));
        let b = docs(&format!("{secret}---\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n  app.ini: |\n    [db]\n    host = db\n    user = app\n    password = ConfigMap-Pw-77xq\n  ConfigMap-Pw-77xq: x\n  flat: ConfigMap-Pw-77xq\n"));
        let d = diff(&a, &b);
        let text = render_text(&d);
        let json = serde_json::to_string(&d).unwrap();
        let md = render_markdown(&d, "t");
        for out in [&text, &json, &md] {
            assert!(!out.contains("ConfigMap-Pw-77xq"), "{out}");
        }
        assert!(text.contains("\n        +password = <redacted>\n"), "{text}");
        assert!(text.contains("\n    + $.data['<redacted>'] = \"x\"\n"), "{text}");
        assert!(text.contains("\n    + $.data.flat = \"<redacted>\"\n"), "{text}");
    }

    #[test]
    fn secrets_are_redacted_and_external_secrets_show_key_names() {
        let a = docs("kind: Secret\nmetadata: {name: s}\nstringData: {p: hunter22}\n");
        let b = docs("kind: Secret\nmetadata: {name: s}\nstringData: {p: hunter23}\n");
        let d = diff(&a, &b);
        let s = serde_json::to_string(&d).unwrap() + &render_text(&d) + &render_markdown(&d, "t");
        assert!(!s.contains("hunter"), "{s}");
        assert!(s.contains(REDACTED));
        assert!(d.resources[0].churn, "a regenerated value of an existing key is churn");

        let es = |keys: &[(&str, &str)]| {
            let data: Vec<String> = keys
                .iter()
                .map(|(k, r)| format!("  - secretKey: {k}\n    remoteRef: {{key: acme/app, property: {r}}}"))
                .collect();
            docs(&format!(
                "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: e}}\nspec:\n  data:\n{}\n",
                data.join("\n")
            ))
        };
        let d = diff(&es(&[("a", "pa"), ("b", "pb")]), &es(&[("new", "pn"), ("a", "pa2"), ("b", "pb")]));
        let paths: Vec<_> = d.resources[0].changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(paths, [("$.spec.data.a.remoteRef.property", "changed"), ("$.spec.data.new", "added")]);
        let t = render_text(&d);
        assert!(!t.contains("pa2") && !t.contains("pn"), "{t}");
    }

    #[test]
    fn checksum_only_changes_are_churn() {
        let dep = |sum: &str, image: &str| {
            docs(&format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  template:\n    metadata:\n      annotations:\n        checksum/secret: {sum}\n    spec:\n      containers: [{{name: c, image: {image}}}]\n"
            ))
        };
        let d = diff(&dep("aaa", "x:1"), &dep("bbb", "x:1"));
        assert!(d.changed && d.resources[0].churn && d.counts.churn == 1, "{d:?}");
        assert!(d.summary().contains("1 only churn"), "{}", d.summary());
        let d = diff(&dep("aaa", "x:1"), &dep("bbb", "x:2"));
        assert!(!d.resources[0].churn && d.counts.churn == 0);
    }

    #[test]
    fn markdown_fences_survive_backticks() {
        let a = docs("kind: ConfigMap\nmetadata: {name: a}\ndata: {p: 'x'}\n");
        let b = docs("kind: ConfigMap\nmetadata: {name: a}\ndata: {p: '````'}\n");
        let m = render_markdown(&diff(&a, &b), "Plan");
        assert!(m.contains("`````diff"), "{m}");
    }

    proptest::proptest! {
        /// A value planted in a Secret (payload, annotation, label) or an ExternalSecret
        /// template never appears in any output format, whether it changed, appeared or went.
        #[test]
        fn planted_secret_values_never_appear(old in "[A-Za-z0-9+/=_-]{6,40}", new in "[A-Za-z0-9+/=_-]{6,40}", where_ in 0usize..5) {
            let (old, new) = (format!("S3CR3T{old}"), format!("S3CR3T{new}x"));
            let doc = |v: &str| {
                let body = match where_ {
                    0 => format!("kind: Secret\nmetadata: {{name: s}}\nstringData: {{password: '{v}'}}\n"),
                    1 => format!("kind: Secret\nmetadata: {{name: s}}\ndata:\n  {v}: '{v}'\n"),
                    2 => format!("kind: Secret\nmetadata:\n  name: s\n  annotations: {{kubectl.kubernetes.io/last-applied-configuration: '{{\"p\": \"{v}\"}}'}}\n"),
                    3 => format!("kind: Secret\nmetadata: {{name: s}}\nstringData:\n  config.yaml: |\n    a: 1\n    password: {v}\n    b: 2\n"),
                    _ => format!("kind: ExternalSecret\napiVersion: external-secrets.io/v1\nmetadata: {{name: s}}\nspec:\n  target:\n    template:\n      data: {{url: 'https://u:{v}@h'}}\n"),
                };
                docs(&body)
            };
            let empty = docs("kind: ConfigMap\nmetadata: {name: other}\n");
            for (a, b) in [(doc(&old), doc(&new)), (empty.clone(), doc(&new)), (doc(&old), empty.clone())] {
                let d = diff(&a, &b);
                proptest::prop_assert!(d.changed);
                let out = serde_json::to_string(&d).unwrap() + &render_text(&d) + &render_markdown(&d, "plan");
                // Key names may show (where_ == 1 uses the value as a key name too).
                let shown = if where_ == 1 { out.replace(&format!("['{old}']"), "").replace(&format!("['{new}']"), "").replace(&format!(".{old}"), "").replace(&format!(".{new}"), "") } else { out };
                proptest::prop_assert!(!shown.contains(&old) && !shown.contains(&new), "{}", shown);
            }
        }
    }
}
