//! RFC 9535 JSONPath on our tree: jsonpath-rust parses and evaluates (through its
//! `Queryable` trait, implemented here for [`Node`]); results come back as concrete
//! [`PathSeg`] paths so ops can mutate the exact nodes found.

use crate::yaml::{Node, PathSeg, Scalar, Value};
use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use jsonpath_rust::query::queryable::Queryable;

impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Node::string(s)
    }
}
impl From<String> for Node {
    fn from(s: String) -> Self {
        Node::string(s)
    }
}
impl From<bool> for Node {
    fn from(b: bool) -> Self {
        Node::plain(if b { "true" } else { "false" })
    }
}
impl From<i64> for Node {
    fn from(i: i64) -> Self {
        Node::plain(i.to_string())
    }
}
impl From<f64> for Node {
    fn from(f: f64) -> Self {
        let s = if f.is_nan() {
            ".nan".to_string()
        } else if f.is_infinite() {
            if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
        } else {
            format!("{f:?}")
        };
        Node::plain(s)
    }
}
impl From<Vec<Node>> for Node {
    fn from(v: Vec<Node>) -> Self {
        Node::new(Value::Seq(v))
    }
}

impl Queryable for Node {
    fn get(&self, key: &str) -> Option<&Self> {
        Node::get(self, key)
    }
    fn as_array(&self) -> Option<&Vec<Self>> {
        self.as_seq()
    }
    fn as_object(&self) -> Option<Vec<(&str, &Self)>> {
        self.as_map().map(|m| m.iter().map(|e| (e.key.text.as_str(), &e.value)).collect())
    }
    fn as_str(&self) -> Option<&str> {
        Node::as_str(self)
    }
    fn as_i64(&self) -> Option<i64> {
        Node::as_i64(self)
    }
    fn as_f64(&self) -> Option<f64> {
        match self.as_scalar()?.resolve() {
            crate::yaml::resolve::Resolved::Float(f) => Some(f),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        Node::as_bool(self)
    }
    fn null() -> Self {
        Node::new(Value::Scalar(Scalar::plain("null")))
    }
}

/// A compiled JSONPath with, for write ops, its parent query and last key.
#[derive(Debug, Clone)]
pub struct CompiledPath {
    /// The text as written.
    pub text: String,
    /// The full query.
    pub full: JpQuery,
    /// When the last segment is a plain name: the parent query and that name.
    pub parent: Option<(JpQuery, String)>,
    /// Mapping keys of which every match passes through one (the names of the query's last
    /// plain-name segment, `$..ports[*].port` → `port`); empty when the query has none. A
    /// document without any of them cannot match: one walk over its keys, far cheaper than
    /// evaluating the query (`$..` builds a path string for every node it visits).
    pub needs: Vec<String>,
}

impl CompiledPath {
    /// [`find`], with the [`CompiledPath::needs`] pre-check.
    pub fn find(&self, root: &Node) -> Vec<Vec<PathSeg>> {
        if !self.may_match(root) {
            return Vec::new();
        }
        find(&self.full, root)
    }

    /// [`exists`], with the [`CompiledPath::needs`] pre-check.
    pub fn exists(&self, root: &Node) -> bool {
        self.may_match(root) && exists(&self.full, root)
    }

    /// False when `root` holds none of the keys a match needs.
    pub fn may_match(&self, root: &Node) -> bool {
        fn has(n: &Node, needs: &[String]) -> bool {
            match &n.value {
                Value::Scalar(_) => false,
                Value::Seq(items) => items.iter().any(|i| has(i, needs)),
                Value::Map(m) => m.iter().any(|e| needs.contains(&e.key.text) || has(&e.value, needs)),
            }
        }
        self.needs.is_empty() || has(root, &self.needs)
    }
}

/// The names of the last segment made of plain names only (descendant or not).
fn needed_keys(q: &JpQuery) -> Vec<String> {
    fn names(seg: &Segment) -> Option<Vec<String>> {
        match seg {
            Segment::Descendant(inner) => names(inner),
            Segment::Selector(Selector::Name(n)) => Some(vec![n.clone()]),
            Segment::Selectors(v) if !v.is_empty() => v
                .iter()
                .map(|s| match s {
                    Selector::Name(n) => Some(n.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
    q.segments.iter().rev().find_map(names).unwrap_or_default()
}

/// Deepest nesting of parentheses (function calls, grouped filters) a JSONPath may have. The
/// PEG parser of jsonpath-rust backtracks exponentially on nested calls (12 unclosed `count(`
/// take a second, 16 minutes); real patch paths nest 3 deep.
pub const MAX_PAREN_DEPTH: usize = 8;
/// Longest JSONPath accepted, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Reject paths that would make the parser slow: too long, or parentheses (outside quoted
/// names and strings) nested deeper than [`MAX_PAREN_DEPTH`].
fn check_bounds(text: &str) -> Result<(), String> {
    if text.len() > MAX_PATH_LEN {
        return Err(format!("path is {} bytes long (at most {MAX_PATH_LEN})", text.len()));
    }
    let (mut depth, mut quote, mut escaped) = (0usize, None::<char>, false);
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => {
                    depth += 1;
                    if depth > MAX_PAREN_DEPTH {
                        return Err(format!("parentheses nested more than {MAX_PAREN_DEPTH} deep"));
                    }
                }
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
}

/// Compile a JSONPath; the error is jsonpath-rust's message (or a bound's, see
/// [`MAX_PAREN_DEPTH`] and [`MAX_PATH_LEN`]).
pub fn compile(text: &str) -> Result<CompiledPath, String> {
    check_bounds(text)?;
    let full = parse_json_path(text).map_err(|e| {
        // pest's message spans several lines with an ASCII-art pointer; keep it on one line.
        let m = e.to_string();
        let expected = m
            .lines()
            .rev()
            .find(|l| l.contains("expected"))
            .map(|l| l.trim_start_matches(['=', ' ']).trim().to_string());
        expected.unwrap_or_else(|| m.split_whitespace().collect::<Vec<_>>().join(" "))
    })?;
    let parent = match full.segments.last() {
        Some(Segment::Selector(Selector::Name(n))) => {
            Some((JpQuery::new(full.segments[..full.segments.len() - 1].to_vec()), n.clone()))
        }
        _ => None,
    };
    let needs = needed_keys(&full);
    Ok(CompiledPath { text: text.to_string(), full, parent, needs })
}

/// Evaluate a query on `root`, returning the concrete paths found, in document order.
pub fn find(q: &JpQuery, root: &Node) -> Vec<Vec<PathSeg>> {
    if !may_reach(&q.segments, root) {
        return Vec::new();
    }
    match js_path_process(q, root) {
        Ok(refs) => refs.into_iter().filter_map(|r| parse_normalized(&r.path)).collect(),
        Err(_) => Vec::new(),
    }
}

/// True when the query finds at least one node.
pub fn exists(q: &JpQuery, root: &Node) -> bool {
    may_reach(&q.segments, root) && matches!(js_path_process(q, root), Ok(v) if !v.is_empty())
}

/// False when the query certainly selects nothing in `n`: the segments are followed over the
/// tree with every selector but a name widened to "every child" (a filter, an index, a slice
/// select a subset of the children), so this is a superset of the query's result, and an
/// empty superset proves an empty result. It stops at the first node reached.
///
/// The point is the descendant segment: jsonpath-rust builds a path string for every node a
/// `$..containers[*]` visits, and a CRD of the corpus has a million nodes, `containers` keys
/// among its properties and never a list of containers under them. This walk allocates
/// nothing. Results are unchanged: when a node is reached, jsonpath-rust evaluates the query.
pub fn may_reach(segs: &[Segment], n: &Node) -> bool {
    let Some((seg, rest)) = segs.split_first() else { return true };
    match seg {
        Segment::Descendant(inner) => {
            let one = std::slice::from_ref(inner.as_ref());
            // The inner selectors applied to this node and to every descendant.
            fn walk(one: &[Segment], rest: &[Segment], n: &Node) -> bool {
                if children_reach(one, rest, n) {
                    return true;
                }
                match &n.value {
                    Value::Scalar(_) => false,
                    Value::Seq(items) => items.iter().any(|x| walk(one, rest, x)),
                    Value::Map(es) => es.iter().any(|e| walk(one, rest, &e.value)),
                }
            }
            walk(one, rest, n)
        }
        _ => children_reach(std::slice::from_ref(seg), rest, n),
    }
}

/// Whether some child of `n` that the single child segment `seg[0]` may select reaches `rest`.
fn children_reach(seg: &[Segment], rest: &[Segment], n: &Node) -> bool {
    fn names(sel: &Selector) -> Option<&str> {
        match sel {
            Selector::Name(k) => Some(k.as_str()),
            _ => None,
        }
    }
    let all = |n: &Node| match &n.value {
        Value::Scalar(_) => false,
        Value::Seq(items) => items.iter().any(|x| may_reach(rest, x)),
        Value::Map(es) => es.iter().any(|e| may_reach(rest, &e.value)),
    };
    let by_name =
        |k: &str| n.as_map().is_some_and(|es| es.iter().any(|e| e.key.text == k && may_reach(rest, &e.value)));
    match &seg[0] {
        Segment::Selector(sel) => match names(sel) {
            Some(k) => by_name(k),
            None => all(n),
        },
        Segment::Selectors(sels) => {
            if sels.iter().all(|s| names(s).is_some()) {
                sels.iter().filter_map(names).any(by_name)
            } else {
                all(n)
            }
        }
        // Not produced by the parser as a descendant's inner segment; stay conservative.
        Segment::Descendant(_) => true,
    }
}

/// Parse jsonpath-rust's normalized path (`$['a'][0]['b\'c']`) into segments.
pub fn parse_normalized(p: &str) -> Option<Vec<PathSeg>> {
    let b = p.as_bytes();
    if b.first() != Some(&b'$') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < b.len() {
        if b[i] != b'[' {
            return None;
        }
        i += 1;
        if b.get(i) == Some(&b'\'') {
            i += 1;
            let mut s = String::new();
            let rest = &p[i..];
            let mut chars = rest.char_indices();
            loop {
                let (off, c) = chars.next()?;
                match c {
                    '\'' => {
                        i += off + 1;
                        break;
                    }
                    '\\' => {
                        let (_, e) = chars.next()?;
                        match e {
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'n' => s.push('\n'),
                            'r' => s.push('\r'),
                            't' => s.push('\t'),
                            'u' => {
                                let hex: String = (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                                s.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                            }
                            other => s.push(other),
                        }
                    }
                    c => s.push(c),
                }
            }
            out.push(PathSeg::Key(s));
        } else {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(PathSeg::Index(p[start..i].parse().ok()?));
        }
        if b.get(i) != Some(&b']') {
            return None;
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(s: &str) -> Node {
        parse_documents(s).unwrap().remove(0)
    }

    /// Queries of every shape the pre-check treats differently: names, quoted and unioned
    /// names, wildcards, indices (negative too), slices, filters (with `$` and `@`),
    /// descendants of each, chained descendants.
    const SHAPES: &[&str] = &[
        "$",
        "$.a",
        "$.a.b",
        "$['a','b']",
        "$.a[0]",
        "$.a[-1]",
        "$.a[1:]",
        "$.a[::-1]",
        "$.a[*]",
        "$.*",
        "$..a",
        "$..b",
        "$..*",
        "$..[0]",
        "$..[*].a",
        "$..['a','containers'][*]",
        "$..a..b",
        "$..a[*]..b",
        "$[?@.a]",
        "$[?$.kind == 'X'].a",
        "$.a[?@.b == 1].c",
        "$..containers[*].ports[?@.protocol == null || @.protocol == ''].protocol",
        "$..containers[*].ports[?@.protocol == null || @.protocol == '']",
        "$..containers[*].env",
        "$..['containers','initContainers'][?@.name == 'b'].args",
        "$..['containers','initContainers'][*]['livenessProbe','readinessProbe'].enabled",
        "$.a[?@ == 'b']",
        "$..[?@.name]",
    ];

    /// Every JSONPath in the default patch set (runtime-patches/rendered-patches), with the
    /// parents of write paths.
    fn patch_paths() -> Vec<CompiledPath> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-patches/rendered-patches");
        let mut out: Vec<CompiledPath> = SHAPES.iter().map(|q| compile(q).unwrap()).collect();
        for f in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                let Some(i) = line.find("\"$") else { continue };
                let rest = &line[i + 1..];
                let Some(j) = rest.find("\"") else { continue };
                if let Ok(q) = compile(&rest[..j].replace("\\\\", "\\")) {
                    out.push(q);
                }
            }
        }
        assert!(out.len() > SHAPES.len() + 30, "{} paths", out.len());
        out
    }

    fn queries_of(p: &CompiledPath) -> Vec<&JpQuery> {
        std::iter::once(&p.full).chain(p.parent.as_ref().map(|(q, _)| q)).collect()
    }

    #[test]
    fn pruned_queries_find_nothing_in_the_corpus() {
        // Each document of the corpus (CRDs over 3,000 lines left out: jsonpath-rust takes seconds
        // on them in a debug build) against every path of the patch set: where the pre-check
        // says "nothing", jsonpath-rust finds nothing.
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/opendesk-like");
        if !corpus.is_dir() {
            assert!(std::env::var_os("CI").is_none(), "corpus missing at {}", corpus.display());
            return;
        }
        let docs = crate::load::load_dir(&corpus).unwrap().documents;
        let paths = patch_paths();
        let (mut pruned, mut kept) = (0, 0);
        for d in docs.iter().filter(|d| d.kind() != Some("CustomResourceDefinition") || d.weight() < 3_000) {
            for q in paths.iter().flat_map(queries_of) {
                if may_reach(&q.segments, &d.root) {
                    kept += 1;
                } else {
                    pruned += 1;
                    assert!(matches!(js_path_process(q, &d.root), Ok(v) if v.is_empty()), "{q} on {}", d.id());
                }
            }
        }
        assert!(pruned > kept, "pruned {pruned}, kept {kept}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn tree() -> impl Strategy<Value = Node> {
            let key = prop::sample::select(vec!["a", "b", "name", "containers", "ports", "protocol", "env", "kind"]);
            let scalar = prop::sample::select(vec!["1", "b", "X", "''", "~", "TCP"]).prop_map(doc);
            scalar.prop_recursive(5, 48, 5, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(|v| Node::new(Value::Seq(v))),
                    prop::collection::vec((key.clone(), inner), 0..4).prop_map(|es| {
                        let mut seen = std::collections::HashSet::new();
                        let es: Vec<(&str, Node)> = es.into_iter().filter(|(k, _)| seen.insert(*k)).collect();
                        crate::yaml::map_of(es)
                    }),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
            /// The pre-check is a superset: whatever jsonpath-rust finds, it lets through.
            #[test]
            fn the_precheck_never_hides_a_match(root in tree(), i in 0..SHAPES.len()) {
                let q = compile(SHAPES[i]).unwrap();
                for q in queries_of(&q) {
                    let found = matches!(js_path_process(q, &root), Ok(v) if !v.is_empty());
                    prop_assert!(!found || may_reach(&q.segments, &root), "{} on {}", q, crate::yaml::emit(&root));
                }
            }
        }
    }

    #[test]
    fn nested_calls_are_bounded() {
        // Found by the jsonpath fuzzer: nested unclosed calls made the parser run for minutes.
        let slow = format!("$[?{}1", "count(".repeat(16));
        let t = std::time::Instant::now();
        assert!(compile(&slow).unwrap_err().contains("nested more than"));
        assert!(t.elapsed().as_secs() < 1);
        // Parentheses inside strings do not count; eight levels still compile.
        assert!(compile("$[?match(@.a, '((((((((((((x))))))))))))')]").is_ok());
        let eight = format!("$[?{}@.a{}]", "(".repeat(8), ")".repeat(8));
        assert!(compile(&eight).is_ok(), "{:?}", compile(&eight).err());
        assert!(compile(&"$.a".repeat(2000)).unwrap_err().contains("bytes long"));
    }

    #[test]
    fn finds_concrete_paths() {
        let d = doc("spec:\n  containers:\n    - name: a\n      ports:\n        - {containerPort: 80, protocol: }\n        - {containerPort: 81, protocol: UDP}\n    - name: \"it's\"\n");
        let q = compile("$..containers[*].ports[?(@.protocol == null || @.protocol == '')]").unwrap();
        let found = find(&q.full, &d);
        assert_eq!(
            found,
            vec![vec![
                PathSeg::Key("spec".into()),
                PathSeg::Key("containers".into()),
                PathSeg::Index(0),
                PathSeg::Key("ports".into()),
                PathSeg::Index(0)
            ]]
        );
        let q = compile("$.spec.containers[?(@.name == \"it's\")].name").unwrap();
        let f = find(&q.full, &d);
        assert_eq!(f.len(), 1);
        assert_eq!(d.at(&f[0]).unwrap().as_str(), Some("it's"));
        assert_eq!(q.parent.as_ref().unwrap().1, "name");
    }

    #[test]
    fn yaml11_semantics_in_filters() {
        let d = doc("items:\n  - {a: yes, m: 0644}\n  - {a: 'yes', m: '0644'}\n");
        assert_eq!(find(&compile("$.items[?(@.a == true)]").unwrap().full, &d).len(), 1);
        assert_eq!(find(&compile("$.items[?(@.m == 420)]").unwrap().full, &d).len(), 1);
        assert_eq!(find(&compile("$.items[?(@.m == '0644')]").unwrap().full, &d).len(), 1);
        assert_eq!(find(&compile("$.items[?match(@.m, '06.*')]").unwrap().full, &d).len(), 1);
    }

    #[test]
    fn needed_keys_skip_documents_that_cannot_match() {
        let q = compile("$..ports[*].port").unwrap();
        assert_eq!(q.needs, ["port"]);
        let q = compile("$..['containers','initContainers'][?@.a.enabled == false].livenessProbe").unwrap();
        assert_eq!(q.needs, ["livenessProbe"]);
        let q = compile("$..['a','b'][*]").unwrap();
        assert_eq!(q.needs, ["a", "b"]);
        assert!(compile("$[*]").unwrap().needs.is_empty());
        let with = doc("spec:\n  containers:\n    - ports:\n        - port: 80\n");
        let without = doc("spec:\n  containers:\n    - ports:\n        - containerPort: 80\n");
        let q = compile("$..containers[*].ports[*].port").unwrap();
        assert!(q.may_match(&with) && q.exists(&with) && q.find(&with).len() == 1);
        assert!(!q.may_match(&without) && !q.exists(&without) && q.find(&without).is_empty());
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(compile("$.a[").is_err());
        assert!(compile("spec").is_err());
    }
}
