//! Build [`Node`] trees from `saphyr-parser` events, without recursion.
//!
//! Limits (hostile input must fail fast, never overflow the stack or eat memory):
//! nesting deeper than [`MAX_DEPTH`] and alias expansion beyond [`MAX_ALIAS_NODES`] nodes per
//! document are errors. Duplicate keys in one mapping are errors naming both lines. Every node,
//! alias copies included, is counted on a [`FileBudget`] before it is built (see
//! [`crate::limits`]): a render's node count and a file's alias expansion are bounded too.
//! YAML 1.1 merge keys (`<<`) are applied, as go-yaml v2 does.

use super::node::{Entry, Node, Scalar, Style, Value};
use crate::limits::{FileBudget, LimitHit, RenderBudget};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Deepest nesting accepted (Kubernetes manifests and CRD schemas stay far below).
pub const MAX_DEPTH: usize = 256;
/// Most nodes that alias expansion may add to one document ("billion laughs" guard).
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A syntax or structure error inside one YAML text, with a 1-based line and column relative to
/// that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub reason: String,
}

/// Why a budgeted parse ([`parse_documents_budgeted`]) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The text is not valid YAML (or not in the supported subset).
    Syntax(SyntaxError),
    /// A budget of [`crate::limits`] was hit.
    Limit(LimitHit),
}

impl From<SyntaxError> for ParseError {
    fn from(e: SyntaxError) -> Self {
        ParseError::Syntax(e)
    }
}

impl From<LimitHit> for ParseError {
    fn from(e: LimitHit) -> Self {
        ParseError::Limit(e)
    }
}

impl From<ParseError> for SyntaxError {
    /// A budget hit as a syntax error at its position (for callers without a typed path).
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Syntax(s) => s,
            ParseError::Limit(l) => SyntaxError { line: l.line.max(1), col: l.col.max(1), reason: l.describe() },
        }
    }
}

/// A parsed document: its root node.
pub type Parsed = Vec<Node>;

enum Frame {
    Seq {
        /// Where this sequence's items start in the shared item stack.
        start: usize,
        line: u32,
        col: u32,
        anchor: usize,
    },
    Map {
        /// Where this mapping's entries start in the shared entry stack.
        start: usize,
        key: Option<(Scalar, u32, u32)>,
        line: u32,
        col: u32,
        anchor: usize,
        index: Option<HashMap<String, u32>>,
    },
}

fn style(s: ScalarStyle) -> Style {
    match s {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

/// The scalar's text without large spare capacity. saphyr-parser builds every plain scalar in a
/// `String::with_capacity(32)` that then doubles: kept as is, that slack was two thirds of the
/// whole tree's memory on the corpus (31 of 46 MB).
fn trim_slack(v: std::borrow::Cow<'_, str>) -> String {
    match v {
        std::borrow::Cow::Owned(mut s) => {
            // Short scalars sit in their 32-byte start buffer: reallocating each would cost
            // more time than the few bytes are worth. Long ones lost up to half to doubling.
            if s.capacity() - s.len() > 64 {
                s.shrink_to_fit();
            }
            s
        }
        std::borrow::Cow::Borrowed(b) => b.to_owned(),
    }
}

fn err(span: &Span, reason: impl Into<String>) -> ParseError {
    ParseError::Syntax(SyntaxError { line: span.start.line(), col: span.start.col() + 1, reason: reason.into() })
}

/// Parse every document of `text` into trees. Empty documents (no content) yield no node.
///
/// Text in Helm's block-style subset is read by the fast path ([`super::fast::parse_fast`]);
/// everything else, and every error, by the general parser ([`parse_documents_general`]).
/// Both build the same tree.
///
/// The text gets a budget of its own ([`RenderBudget::default`]); a render counts all its
/// files on one budget with [`parse_documents_budgeted`].
pub fn parse_documents(text: &str) -> Result<Parsed, SyntaxError> {
    let render = RenderBudget::default();
    let mut budget = render.file();
    Ok(parse_documents_budgeted(text, &mut budget)?)
}

/// [`parse_documents`] counting every node on `budget` (the fast path counts on its own and
/// charges its total; when it would not fit, the general parser reads the text and reports the
/// hit at the node that crossed the budget).
pub fn parse_documents_budgeted(text: &str, budget: &mut FileBudget<'_>) -> Result<Parsed, ParseError> {
    match super::fast::parse_fast_within(text, budget.room()) {
        super::fast::Fast::Read(docs, nodes) => {
            budget.own(nodes, 1, 1)?;
            Ok(docs)
        }
        // The budget is hit whatever reads the text: no second parse.
        super::fast::Fast::Full { line } => Err(budget.full(line as usize).into()),
        super::fast::Fast::GaveUp => general(text, budget),
    }
}

/// [`parse_documents`] with the general parser only (saphyr-parser events): the reference the
/// fast path is tested against.
pub fn parse_documents_general(text: &str) -> Result<Parsed, SyntaxError> {
    let render = RenderBudget::default();
    let mut budget = render.file();
    Ok(general(text, &mut budget)?)
}

fn general(text: &str, budget: &mut FileBudget<'_>) -> Result<Parsed, ParseError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // The children of every open collection live on two shared stacks; a collection takes
    // exactly its own slice when it closes. One exact-size allocation per collection instead
    // of a doubling `Vec` each: no growth copies, no spare capacity kept for the whole render.
    let mut items_stack: Vec<Node> = Vec::new();
    let mut entries_stack: Vec<Entry> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut in_doc = false;

    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| SyntaxError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            reason: e.info().to_string(),
        })?;
        let line = span.start.line() as u32;
        // saphyr counts columns in characters, from 0.
        let col = span.start.col() as u32 + 1;
        let at = |span: &Span| (span.start.line(), span.start.col() + 1);
        let done: Option<(Node, usize)> = match ev {
            Event::StreamStart | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                in_doc = true;
                anchors.clear();
                alias_nodes = 0;
                None
            }
            Event::DocumentEnd => {
                if let Some(r) = root.take() {
                    docs.push(r);
                }
                in_doc = false;
                None
            }
            Event::Scalar(v, st, anchor, tag) => {
                let (l, c) = at(&span);
                budget.own(1, l, c)?;
                let tag = tag.map(|t| {
                    if t.is_yaml_core_schema() {
                        format!("!!{}", t.suffix).into_boxed_str()
                    } else {
                        format!("{}{}", t.handle, t.suffix).into_boxed_str()
                    }
                });
                Some((
                    Node { value: Value::Scalar(Scalar { text: trim_slack(v), style: style(st), tag }), line, col },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(&span, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let (l, c) = at(&span);
                budget.own(1, l, c)?;
                stack.push(Frame::Seq { start: items_stack.len(), line, col, anchor });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(&span, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let (l, c) = at(&span);
                budget.own(1, l, c)?;
                stack.push(Frame::Map { start: entries_stack.len(), key: None, line, col, anchor, index: None });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { start, line, col, anchor }) => {
                    let items: Vec<Node> = crate::limits::take_tail(&mut items_stack, start);
                    Some((Node { value: Value::Seq(items), line, col }, anchor))
                }
                _ => return Err(err(&span, "unbalanced sequence end")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { start, key, line, col, anchor, .. }) => {
                    if let Some((k, kl, kc)) = key {
                        // A key without value cannot happen with a conforming parser; keep it as null.
                        entries_stack.push(Entry {
                            key: k,
                            key_line: kl,
                            key_col: kc,
                            value: Node { value: Value::default(), line: kl, col: kc },
                        });
                    }
                    let mut entries: Vec<Entry> = crate::limits::take_tail(&mut entries_stack, start);
                    apply_merge_keys(&mut entries);
                    Some((Node { value: Value::Map(entries), line, col }, anchor))
                }
                _ => return Err(err(&span, "unbalanced mapping end")),
            },
            Event::Alias(id) => {
                let Some(n) = anchors.get(&id) else {
                    return Err(err(&span, "alias to an unknown anchor"));
                };
                let size = n.size();
                alias_nodes += size;
                if alias_nodes > MAX_ALIAS_NODES {
                    return Err(err(
                        &span,
                        format!("alias expansion exceeds {MAX_ALIAS_NODES} nodes (possible \"billion laughs\" input)"),
                    ));
                }
                let (l, c) = at(&span);
                budget.alias(size, l, c)?;
                let mut n = n.clone();
                n.line = line;
                n.col = col;
                Some((n, 0))
            }
        };
        let Some((node, anchor)) = done else { continue };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if !in_doc {
                    return Err(err(&span, "content outside a document"));
                }
                root = Some(node);
            }
            Some(Frame::Seq { .. }) => items_stack.push(node),
            Some(Frame::Map { start, key, index, .. }) => match key.take() {
                None => {
                    let Value::Scalar(k) = node.value else {
                        return Err(err(&span, "a mapping key must be a scalar (complex keys are not supported)"));
                    };
                    if !(k.style == Style::Plain && k.text == "<<") {
                        if let Some(first) = find_key(&entries_stack[*start..], index, &k.text) {
                            return Err(err(
                                &span,
                                format!("duplicate key {:?} (first defined on line {first})", k.text),
                            ));
                        }
                    }
                    *key = Some((k, node.line, node.col));
                }
                Some((k, kl, kc)) => {
                    if let Some(ix) = index {
                        ix.insert(k.text.clone(), kl);
                    }
                    entries_stack.push(Entry { key: k, key_line: kl, key_col: kc, value: node });
                    let entries = &entries_stack[*start..];
                    if index.is_none() && entries.len() >= 24 {
                        *index = Some(entries.iter().map(|e| (e.key.text.clone(), e.key_line)).collect());
                    }
                }
            },
        }
    }
    if let Some(r) = root.take() {
        docs.push(r);
    }
    Ok(docs)
}

fn find_key(entries: &[Entry], index: &Option<HashMap<String, u32>>, key: &str) -> Option<u32> {
    match index {
        Some(ix) => ix.get(key).copied(),
        None => entries.iter().find(|e| e.key.text == key).map(|e| e.key_line),
    }
}

/// YAML 1.1 merge keys: `<<: *base` or `<<: [*a, *b]` add the keys the map does not define.
fn apply_merge_keys(entries: &mut Vec<Entry>) {
    if !entries.iter().any(|e| e.key.style == Style::Plain && e.key.text == "<<") {
        return;
    }
    let mut own = Vec::with_capacity(entries.len());
    let mut merged = Vec::new();
    for e in entries.drain(..) {
        if e.key.style == Style::Plain && e.key.text == "<<" {
            match e.value.value {
                Value::Map(m) => merged.push(m),
                Value::Seq(items) => {
                    for i in items {
                        if let Value::Map(m) = i.value {
                            merged.push(m);
                        }
                    }
                }
                Value::Scalar(_) => {}
            }
        } else {
            own.push(e);
        }
    }
    for m in merged {
        for e in m {
            if !own.iter().any(|o| o.key.text == e.key.text) {
                own.push(e);
            }
        }
    }
    *entries = own;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_and_style() {
        let d = parse_documents("a: 0644\nb: 'x'\nc: |\n  hi\n").unwrap();
        let n = &d[0];
        assert_eq!(n.get("a").unwrap().scalar_text(), Some("0644"));
        assert_eq!(n.get("a").unwrap().as_i64(), Some(420));
        assert_eq!(n.get("b").unwrap().as_scalar().unwrap().style, Style::SingleQuoted);
        assert_eq!(n.get("c").unwrap().as_str(), Some("hi\n"));
        assert_eq!(n.as_map().unwrap()[2].key_line, 3);
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let e = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.reason.contains("line 1"), "{}", e.reason);
    }

    #[test]
    fn duplicate_keys_in_large_maps() {
        let mut s: String = (0..40).map(|i| format!("k{i}: v\n")).collect();
        s.push_str("k7: again\n");
        let e = parse_documents(&s).unwrap_err();
        assert_eq!(e.line, 41);
        assert!(e.reason.contains("line 8"));
    }

    #[test]
    fn alias_bomb_is_capped() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_documents(&s).unwrap_err();
        assert!(e.reason.contains("alias expansion"), "{}", e.reason);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let s = "[".repeat(200_000);
        let e = parse_documents(&s).unwrap_err();
        assert!(e.reason.contains("nesting") || e.reason.contains("recursion"), "{}", e.reason);
        let mut s = String::new();
        for i in 0..1000 {
            s.push_str(&" ".repeat(i));
            s.push_str("a:\n");
        }
        assert!(parse_documents(&s).unwrap_err().reason.contains("nesting"));
    }

    #[test]
    fn merge_keys() {
        let d = parse_documents("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n").unwrap();
        let m = d[0].get("m").unwrap();
        assert_eq!(m.get("x").unwrap().as_i64(), Some(1));
        assert_eq!(m.get("y").unwrap().as_i64(), Some(3));
        assert!(m.get("<<").is_none());
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_documents("a: \"unclosed\nb: 1\n").unwrap_err();
        assert!(e.line >= 1 && e.col >= 1);
        let e = parse_documents("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
