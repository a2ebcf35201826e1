//! The patch primitives, one module each (its spec as written, compile, `${...}` binding,
//! apply, JSON Schema of its body, unit tests), and `primitives!`: the one list of them.
//!
//! The list generates [`OpSpec`] (what serde-saphyr reads), [`Op`] (compiled), [`NAMES`] (the
//! names in order, used by the docs test) and [`PRIMITIVES`] (name, summary and body schema, from
//! which `opendesk-patches` builds the JSON Schema). Adding a primitive: a module here
//! implementing [`Primitive`], one line in the list, its unit tests (docs/architecture.md).

use super::compile::{PatchError, Pattern};
use super::query::{compile, find, CompiledPath};
use super::Vars;
use crate::document::Document;
use crate::yaml::{Node, PathSeg, Value};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// One patch primitive.
pub trait Primitive: Sized {
    /// The op's body as written (structure only; values are read from the lossless tree).
    type Spec: DeserializeOwned + std::fmt::Debug + Clone;
    /// One line for the JSON Schema and the docs.
    const SUMMARY: &'static str;
    /// Compile the typed body with its lossless tree ([`OpCx`]).
    fn compile(spec: &Self::Spec, cx: &OpCx<'_>) -> Result<Self, PatchError>;
    /// Substitute `${values.*}`, `${instance}`, … in the op's values (default: none to bind).
    fn bind(&mut self, _vars: &Vars) -> Result<(), String> {
        Ok(())
    }
    /// Apply to one document, recording each change with `rec`; whether anything changed.
    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool;
    /// The JSON Schema of the op's body (what follows `- <name>:`).
    fn schema() -> serde_json::Value;
}

/// Who records a change (`patch:<name>` or `override:<name>`) and under which action (the
/// primitive's name).
#[derive(Debug, Clone, Copy)]
pub struct Rec<'a> {
    /// `patch:<name>` or `override:<name>`.
    pub by: &'a str,
    /// The primitive's name.
    pub action: &'static str,
}

impl Rec<'_> {
    /// Record one change on `d` (for `explain`).
    pub fn record(&self, d: &mut Document, path: &[PathSeg], detail: Option<String>) {
        d.record(self.by, self.action, crate::yaml::path_to_string(path), detail);
    }
}

/// What an op's compile step can read: its body (lossless), line, and the patch it is in.
pub struct OpCx<'a> {
    /// The op's body: the value under `- <name>:`.
    pub body: &'a Node,
    /// 1-based line of the op.
    pub line: u32,
    /// The patch's name.
    pub(crate) patch: &'a str,
    /// 0-based index of the op in the patch.
    pub(crate) index: usize,
    /// The primitive's name.
    pub(crate) name: &'static str,
    /// Builds a positioned error: (line, text to find on the line for the column, message).
    pub(crate) err_at: &'a dyn Fn(u32, &str, String) -> PatchError,
}

impl OpCx<'_> {
    /// `patch "p" op #2 (set): <m>`.
    fn ctx(&self, m: &str) -> String {
        format!("patch {:?} op #{} ({}): {m}", self.patch, self.index + 1, self.name)
    }

    /// An error on the op's line, the column found by `needle`.
    pub fn error(&self, needle: &str, m: &str) -> PatchError {
        (self.err_at)(self.line, needle, self.ctx(m))
    }

    /// A field of the body as written (null when absent).
    pub fn value(&self, key: &str) -> Node {
        self.body.get(key).cloned().unwrap_or_default()
    }

    /// Compile the body's JSONPath `p`.
    pub fn path(&self, p: &str) -> Result<CompiledPath, PatchError> {
        let l = self.body.get("path").map_or(self.line, |n| n.line);
        compile(p).map_err(|e| (self.err_at)(l, p, self.ctx(&format!("bad JSONPath {p:?}: {e}"))))
    }

    /// A path the op writes at: it must end in a key name.
    pub fn write_path(&self, p: &str) -> Result<CompiledPath, PatchError> {
        let p = self.path(p)?;
        if p.parent.is_none() {
            let m = format!("path {:?} must end in a key name (`.key` or `['key']`) for this op", p.text);
            return Err(self.error(&p.text, &m));
        }
        Ok(p)
    }

    /// The `container` pattern (all containers when not given).
    pub fn container(&self, c: &Option<String>) -> Result<Pattern, PatchError> {
        Pattern::parse(c.as_deref().unwrap_or("*")).map_err(|e| self.error("container", &e))
    }
}

macro_rules! primitives {
    ($( $(#[$doc:meta])* $name:literal => $variant:ident($module:ident::$ty:ident), )*) => {
        $( pub mod $module; )*

        /// A primitive as written (serde-saphyr checks the structure with positions).
        #[derive(Debug, Clone, Deserialize)]
        pub enum OpSpec {
            $( $(#[$doc])* #[serde(rename = $name)] $variant(<$module::$ty as Primitive>::Spec), )*
        }

        /// A compiled op. Values are lossless trees.
        #[derive(Debug, Clone)]
        pub enum Op {
            $( $(#[$doc])* $variant($module::$ty), )*
        }

        /// Every primitive's name, in the order of the list.
        pub const NAMES: &[&str] = &[$($name),*];

        /// Every primitive: name, summary, JSON Schema of its body.
        pub const PRIMITIVES: &[(&str, &str, fn() -> serde_json::Value)] =
            &[$( ($name, <$module::$ty as Primitive>::SUMMARY, <$module::$ty as Primitive>::schema) ),*];

        impl OpSpec {
            /// The primitive's name.
            pub fn name(&self) -> &'static str {
                match self { $( OpSpec::$variant(_) => $name, )* }
            }

            /// Compile (the caller fills in [`OpCx`]).
            pub(crate) fn compile(&self, cx: &OpCx<'_>) -> Result<Op, PatchError> {
                match self { $( OpSpec::$variant(s) => Ok(Op::$variant(<$module::$ty as Primitive>::compile(s, cx)?)), )* }
            }
        }

        impl Op {
            /// The primitive's name.
            pub fn name(&self) -> &'static str {
                match self { $( Op::$variant(_) => $name, )* }
            }

            /// Bind `${...}` variables in the op's values.
            pub fn bind(&mut self, vars: &Vars) -> Result<(), String> {
                match self { $( Op::$variant(o) => o.bind(vars), )* }
            }

            /// Apply to one document; whether it changed.
            pub fn apply(&self, by: &str, d: &mut Document) -> bool {
                let rec = Rec { by, action: self.name() };
                match self { $( Op::$variant(o) => o.apply(&rec, d), )* }
            }
        }

        #[cfg(test)]
        /// Per primitive: the field names of its spec type (None when it is not a struct).
        fn spec_fields() -> Vec<(&'static str, Option<&'static [&'static str]>)> {
            vec![$( ($name, test_util::fields_of::<<$module::$ty as Primitive>::Spec>()), )*]
        }
    };
}

primitives! {
    /// Set every match (creating a missing last key).
    "set" => Set(set::Set),
    /// Set only where missing or null.
    "setDefault" => SetDefault(set_default::SetDefault),
    /// Delete every match.
    "remove" => Remove(remove::Remove),
    /// Rename the key each match sits under.
    "rename" => Rename(rename::Rename),
    /// Replace matched scalars equal to `from` with `to`.
    "replace" => Replace(replace::Replace),
    /// Append to matched lists.
    "append" => Append(append::Append),
    /// Deep-merge a map.
    "merge" => Merge(merge::Merge),
    /// Keep the last item per key.
    "dedup" => Dedup(dedup::Dedup),
    /// Regex replace inside string scalars.
    "regexReplace" => RegexReplace(regex_replace::RegexReplace),
    /// Set an env var in matching containers.
    "ensureEnv" => EnsureEnv(ensure_env::EnsureEnv),
    /// Replace-or-append a pod volume by name.
    "ensureVolume" => EnsureVolume(ensure_volume::EnsureVolume),
    /// Replace-or-append a volume mount by mountPath in matching containers.
    "ensureVolumeMount" => EnsureVolumeMount(ensure_volume_mount::EnsureVolumeMount),
    /// Set annotations.
    "annotate" => Annotate(annotate::Annotate),
    /// Set labels.
    "label" => Label(label::Label),
}

// Helpers shared by several primitives.

/// The schema of a JSONPath field.
pub(crate) fn path_schema() -> serde_json::Value {
    serde_json::json!({"type": "string", "description": "RFC 9535 JSONPath", "pattern": "^\\$"})
}

/// The schema of a value field (any YAML value, `${...}` substituted).
pub(crate) fn value_schema() -> serde_json::Value {
    serde_json::json!({
        "description": "any YAML value; ${values.x}, ${instance}, ${namespace}, ${opendeskVersion} are substituted"
    })
}

/// Parents (maps) for a write path whose last segment is a key, and that key.
pub(crate) fn parents(path: &CompiledPath, root: &Node) -> (Vec<Vec<PathSeg>>, String) {
    let (pq, key) = path.parent.as_ref().expect("write paths have a parent (checked at compile time)");
    let mut ps = find(pq, root);
    ps.retain(|p| root.at(p).is_some_and(|n| n.as_map().is_some()));
    (ps, key.clone())
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
pub(crate) fn detail(d: &Document, v: &Node) -> Option<String> {
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

/// Paths of the pod spec(s) of a workload document, by kind.
pub fn pod_specs(d: &Document) -> Vec<Vec<PathSeg>> {
    let p: Vec<PathSeg> = match d.kind() {
        Some("Pod") => crate::yaml::keys(&["spec"]),
        Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController") => {
            crate::yaml::keys(&["spec", "template", "spec"])
        }
        Some("CronJob") => crate::yaml::keys(&["spec", "jobTemplate", "spec", "template", "spec"]),
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
            let base = crate::yaml::with_key(&sp, field);
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

/// Replace the item of `list` whose `field` equals `want`, or append `item`; whether the list
/// changed (an equal item is left alone).
pub(crate) fn upsert_by(list: &mut Vec<Node>, field: &str, want: &str, item: &Node) -> bool {
    match list.iter().position(|e| e.get(field).and_then(Node::scalar_text) == Some(want)) {
        Some(i) if list[i] == *item => false,
        Some(i) => {
            list[i] = item.clone();
            true
        }
        None => {
            list.push(item.clone());
            true
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Running one op on one document, for the primitives' unit tests.

    use crate::document::Document;
    use serde::de::{self, Deserializer, Visitor};

    /// Compile `ops` (the YAML list under `ops:`, indented by two) as one patch with
    /// `select`, bind it with `values`, apply it to the documents of `docs`; the emitted
    /// documents, the recorded changes (`action path (detail)`), and whether applying it again
    /// changed anything.
    pub fn run(select: &str, ops: &str, docs: &str) -> (String, Vec<String>, bool) {
        let text = format!("name: t\nselect: {select}\nops:\n{ops}");
        let set = crate::patch::PatchSet::from_texts([("t.yaml", text.as_str())]).expect("patch compiles");
        let vars = crate::patch::Vars {
            values: serde_json::json!({"tag": "1.2.3", "port": 8080}).as_object().unwrap().clone(),
            instance: "acme".into(),
            namespace: "opendesk".into(),
            opendesk_version: "1.13.1".into(),
        };
        let prep = set.prepare(&semver::Version::new(1, 13, 1), &vars).expect("binds");
        let mut d = crate::stages::testutil::docs("r", "f.yaml", docs);
        crate::patch::apply(&prep, &mut d, "patch");
        let changes = d
            .iter()
            .flat_map(|d| d.changes.iter())
            .map(|c| match &c.detail {
                Some(x) => format!("{} {} ({x})", c.action, c.path),
                None => format!("{} {}", c.action, c.path),
            })
            .collect();
        let once = crate::document::emit_stream(&d);
        let again = crate::patch::apply(&prep, &mut d, "patch").stats.iter().any(|s| s.changed > 0);
        (once, changes, again)
    }

    /// The compile error of a one-op patch.
    pub fn error(ops: &str) -> String {
        let text = format!("name: t\nops:\n{ops}");
        crate::patch::PatchSet::from_texts([("t.yaml", text.as_str())]).unwrap_err().to_string()
    }

    /// A document list for tests.
    pub fn docs(text: &str) -> Vec<Document> {
        crate::stages::testutil::docs("r", "f.yaml", text)
    }

    /// The field names serde reads for `T` when it is a struct.
    pub fn fields_of<T: de::DeserializeOwned>() -> Option<&'static [&'static str]> {
        let mut out = None;
        let _ = T::deserialize(Probe(&mut out));
        out
    }

    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_match_the_specs() {
        let mut seen = std::collections::BTreeSet::new();
        for n in NAMES {
            assert!(seen.insert(*n), "{n} twice");
        }
        assert_eq!(PRIMITIVES.len(), NAMES.len());
        assert_eq!(spec_fields().len(), NAMES.len());
    }

    /// Each body schema lists exactly the fields its spec type reads (`additionalProperties:
    /// false`), and its required fields are among them; a non-struct body has no field list.
    #[test]
    fn every_body_schema_matches_its_spec_type() {
        for ((name, _, schema), (n2, fields)) in PRIMITIVES.iter().zip(spec_fields()) {
            assert_eq!(*name, n2);
            let s = schema();
            assert_eq!(s["type"], "object", "{name}");
            match fields {
                Some(fields) => {
                    let props: Vec<&str> =
                        s["properties"].as_object().expect(name).keys().map(String::as_str).collect();
                    let mut a = props.clone();
                    a.sort_unstable();
                    let mut b = fields.to_vec();
                    b.sort_unstable();
                    assert_eq!(a, b, "{name}: schema properties vs spec fields");
                    assert_eq!(s["additionalProperties"], false, "{name}");
                    for r in s["required"].as_array().into_iter().flatten() {
                        assert!(fields.contains(&r.as_str().unwrap()), "{name}: required {r} is no field");
                    }
                }
                None => assert!(s.get("properties").is_none(), "{name}: a free-form body has no field list"),
            }
        }
    }

    /// An unknown primitive's error lists the known ones, from the list.
    #[test]
    fn an_unknown_primitive_names_the_known_ones() {
        let e = test_util::error("  - frobnicate: {path: \"$.a\"}\n");
        assert!(e.contains("t.yaml:3:") && e.contains("unknown variant `frobnicate`"), "{e}");
        let known = e.split("expected one of ").nth(1).expect(&e);
        assert_eq!(known.split(", ").collect::<Vec<_>>(), NAMES, "{e}");
    }

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

    #[test]
    fn containers_and_pod_specs_by_kind() {
        let d = test_util::docs(
            "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: init}]\n          containers: [{name: a}, {name: b}]\n---\nkind: ConfigMap\n",
        );
        let all = Pattern::parse("*").unwrap();
        assert_eq!(containers(&d[0], &all).len(), 3);
        assert_eq!(containers(&d[0], &Pattern::parse("b").unwrap()).len(), 1);
        assert!(pod_specs(&d[1]).is_empty());
    }
}
