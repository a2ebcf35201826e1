//! The loader's fast path against the general parser: identical trees (text, style, tag, every
//! line) on every document of the real corpus, on hand-picked edge cases and on generated
//! documents; and the fast path must cover the bulk of Helm's output (else it is no fast path).

use opendesk_render::load::{decode, list_inputs, split_documents};
use opendesk_render::yaml::{
    emit, parse_documents_general, parse_fast, why_not_fast, Entry, Node, Scalar, Style, Value,
};
use proptest::prelude::*;

/// `Ok(true)` when the fast path read `text` (and agreed), `Ok(false)` when it gave up.
fn check(text: &str) -> Result<bool, String> {
    let Some(fast) = parse_fast(text) else { return Ok(false) };
    let general = parse_documents_general(text).map_err(|e| format!("fast path accepted invalid YAML: {e:?}"))?;
    if fast.len() != general.len() {
        return Err(format!("{} vs {} documents", fast.len(), general.len()));
    }
    for (a, b) in fast.iter().zip(&general) {
        if let Some(d) = a.first_difference(b) {
            return Err(d);
        }
    }
    Ok(true)
}

mod common;
use common::corpus;

#[test]
fn corpus_fast_path_agrees_and_covers() {
    let Some(dir) = corpus() else { return };
    let files = list_inputs(&dir).expect("corpus lists");
    let (mut total, mut fast, mut failures) = (0usize, 0usize, Vec::new());
    let mut fell_back = Vec::new();
    for f in files.iter().map(|f| &f.path) {
        let text = decode(f, std::fs::read(f).unwrap()).unwrap();
        for c in split_documents(&text) {
            total += c.text.len();
            match check(c.text) {
                Ok(true) => fast += c.text.len(),
                Ok(false) => {
                    let (line, why) = why_not_fast(c.text).unwrap_or_default();
                    fell_back.push(format!("{}:{} ({why})", f.display(), c.line + line.max(1) - 1));
                }
                Err(e) => failures.push(format!("{}:{}: {e}", f.display(), c.line)),
            }
        }
    }
    assert!(failures.is_empty(), "{} documents differ:\n{}", failures.len(), failures.join("\n"));
    let share = fast as f64 / total as f64;
    eprintln!("fast path read {:.1} % of {total} bytes; general parser for {} chunks", share * 100.0, fell_back.len());
    for f in fell_back.iter().take(40) {
        eprintln!("  general: {f}");
    }
    assert!(share > 0.9, "the fast path read only {:.1} % of the corpus", share * 100.0);
}

#[test]
fn edge_cases_agree() {
    // Read by the fast path itself (and identical to the general parser).
    let fast = [
        "a: 1\n",
        "a:\nb: 2\n",
        "a:\n",
        "a:\n# c\n\nb:\n",
        "- a\n-\n- c\n",
        "-\n",
        "a:\n- x\n- y\nb: z\n",
        "a:\n  - x\n  -\n    k: v\n",
        "- k: v\n  l: w\n- m: 1\n",
        "- \"q\": v\n  'r': w\n",
        "a: 'it''s'\nb: \"x\\ty\\u00e9\\\\\\\"\"\nc: ''\nd: \"\"\n",
        "a: |\n  x\n   y\n\n  z\n\n\nb: 1\n",
        "a: |-\n  x\n\nb: 1\n",
        "a: |+\n  x\n\n\nb: 1\n",
        "a: >\n  x\n  y\n\n  z\n\n",
        "a: >-\n\n  x\n  y\n",
        "a: >+\n  x\n\n",
        "a: |\n\n  x\n",
        "a: | # comment\n  # not a comment\n  x\n# comment\nb: 2\n",
        "- |\n  x\n- >\n  y\n",
        "a: [x, 'y', \"z\"]\nb: []\nc: {}\nd: [ ]\ne: [x,]\n",
        "a: b # comment\nc: d#e\n  # indented comment\nf: g\n",
        "a: http://x:80/p\nb: -1\nc: --flag=x\nd: a[b]{c},d\n",
        "  a: 1\n  b:\n    c: 2\n",
        "a: \"\"\n'': x\n",
        "# only\n# comments\n",
        "",
        "\n\n",
        "a: x  \nb: y\n",
        "a: 'multi\n  line'\nb: \"two\n\n   lines \"\n",
        "a: plain\n  continued [x]\n\n  *and* 'more'\nb: 1\n",
        "- x\n  y\n- 'p\n  q'\n",
        "a:\n  {}\nb:\n  [x]\nc:\n  'q'\nd:\n  plain\ne:\n  - 1\n",
        // Positions: indentless sequences (saphyr puts them on what follows the first `-`),
        // empty values (on the key's `:`, at the end of a `-` line), comments, non-ASCII text
        // (columns count characters), block scalars (their first content line and indentation).
        "k:\n- a\n-\n- b\n",
        "k:\n-\n- b\n",
        "k:\n-   # c\n  - y\n",
        "k:\n- \n  x: 1\n",
        "k:\n- \"q\"\n- [a]\n- |\n  lit\n",
        "a:\n  b:\n  - x\n  c:   \n  d: # c\n",
        "- a\n-\n-   \n- # c\n",
        "é: ü\nkéy: [é, x, 'ü']\n\"日本\": 語 # ç\nx:\n  - ü: é\n    v: |\n      日本\n",
        "d: \"é\n  ü\"\np: é\n  ü\nq: >-\n\n  é\n",
        "a: |\n\n\n  x\nb: >+\n\n   y\n",
        "k: x # c\n# c\n  # c\nl:\n\n  - y\n",
        // Columns in a text with some non-ASCII: lines whose prefix is ASCII (counted as bytes)
        // and lines with a non-ASCII byte before the node (counted as characters); lead bytes
        // of the refused characters (C2, E2, EF) in characters that are fine.
        "a: x\nb: ’\n  c\nd:\n  - [©, x]\n  - ü: [日本, 'é', x]\n    ö: ä\nf: €\n",
        "é:\n  - ü: x\n    é: [y]\n  - ’:\n    - z\n",
        "’k’: v\n©: -x\nx: 'é' # ’\ny: [€, ‰, '！']\n",
    ];
    // Outside the subset or invalid: whatever the fast path says must agree.
    let others = [
        "a:\n    b: 1\n  c: 2\n",
        "a: y\t\n",
        "- 'p\n  q': no\n",
        // Found by the fast_path fuzz target: saphyr-parser rejects `-]` after a space in a flow item.
        "[cf  , --- -]\n",
        // Found by the fast_path fuzz target: a root block scalar with an indentation indicator.
        "#\"\n |2+\n    \"#\n",
        "- |2\n   x\n",
        "-\n  |2\n    x\n",
        "k: [a b, c]\n",
        "a: b: c\n",
        "a: 1\na: 2\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "<<: {a: 1}\n",
        "a: \"multi\n  line\"\n",
        "a: plain\n  continued\n",
        "- - x\n",
        "a: [x,\n  y]\n",
        "a: |2\n   x\n",
        "? a\n: b\n",
        "--- \na: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: é ü 日本\n",
        "k: v\n- x\n",
        "a: |\n  x\n  ",
        "a: |\n  x",
        "a: x\n b: y\n",
        "a: [a: b]\n",
        "a: [x] trailing\n",
        "a: \"x\" trailing\n",
    ];
    // Found by the fast_path fuzz target: implicit keys are capped at 1024 characters.
    let long = "k".repeat(1100);
    let long_keys = [format!("{long}: x\n"), format!("- {long}: x\n"), format!("\"{long}\": x\n")];
    for c in fast.iter().chain(&others).copied().chain(long_keys.iter().map(String::as_str)) {
        if let Err(e) = check(c) {
            panic!("{c:?}: {e}");
        }
    }
    for c in fast {
        assert!(parse_fast(c).is_some(), "fast path gave up on {c:?}: {:?}", why_not_fast(c));
    }
}

/// The characters the fast path leaves to the general parser (C1 controls and NEL, the Unicode
/// line and paragraph separators, a BOM, U+FFFE/U+FFFF), wherever they sit in a non-ASCII text,
/// and characters sharing their lead byte (C2, E2, EF) that it reads.
#[test]
fn special_characters_go_to_the_general_parser() {
    for bad in ["\u{85}", "\u{80}", "\u{9f}", "\u{2028}", "\u{2029}", "\u{feff}", "\u{fffe}", "\u{ffff}"] {
        for text in [
            format!("a: x{bad}y\n"),
            format!("é: ü\nb: {bad}\n"),
            format!("{bad}a: 1\n"),
            format!("a: 1\n# {bad}\n"),
            format!("a: ’\nb: 'x{bad}'"),
        ] {
            assert!(parse_fast(&text).is_none(), "fast path read {text:?}");
            assert!(check(&text).is_ok(), "{text:?}");
        }
    }
    for fine in ["\u{a0}", "\u{a9}", "\u{bf}", "\u{2019}", "\u{20ac}", "\u{2027}", "\u{202a}", "\u{ff01}", "\u{fffd}"] {
        let text = format!("a: x{fine}y\nb: [{fine}x, 'é']\n");
        assert!(parse_fast(&text).is_some(), "fast path gave up on {text:?}: {:?}", why_not_fast(&text));
        if let Err(e) = check(&text) {
            panic!("{text:?}: {e}");
        }
    }
}

fn scalar() -> impl Strategy<Value = Scalar> {
    let text = prop_oneof![
        "[a-z0-9./:-]{0,12}",
        "[ -~]{0,16}",
        "[a-z ]{0,6}\n[a-z ]{0,6}\n?",
        prop::sample::select(vec!["", "~", "null", "yes", "0644", "- x", "a: b", "#x", "'", "\"", "é", "a\n\nb\n\n"])
            .prop_map(str::to_string),
    ];
    let style = prop::sample::select(vec![
        Style::Plain,
        Style::SingleQuoted,
        Style::DoubleQuoted,
        Style::Literal,
        Style::Folded,
    ]);
    (text, style).prop_map(|(t, s)| {
        let mut sc = Scalar::string(t);
        if s != Style::Plain {
            sc.style = s;
        }
        sc
    })
}

fn tree() -> impl Strategy<Value = Node> {
    let leaf = scalar().prop_map(|s| Node::new(Value::Scalar(s)));
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| Node::new(Value::Seq(v))),
            prop::collection::vec(("[a-z]{1,8}", inner), 0..5).prop_map(|kv| {
                let mut seen = std::collections::HashSet::new();
                Node::new(Value::Map(
                    kv.into_iter()
                        .filter(|(k, _)| seen.insert(k.clone()))
                        .map(|(k, v)| Entry { key: Scalar::plain(k), key_line: 0, key_col: 0, value: v })
                        .collect(),
                ))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("FAST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400), ..ProptestConfig::default() })]

    /// Whatever our emitter writes, the fast path reads exactly as the general parser does.
    #[test]
    fn emitted_documents_agree(root in tree()) {
        let Value::Map(_) = root.value else { return Ok(()) };
        let text = emit(&root);
        match check(&text) {
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- text\n{text}"))),
            // What our emitter writes is in the subset (bar control characters, which it
            // writes escaped in double quotes... or tabs in block scalars).
            Ok(false) => {
                let why = why_not_fast(&text);
                prop_assert!(why.as_ref().is_some_and(|w| w.0 == 0), "fast path gave up: {why:?}\n--- text\n{text}");
            }
            Ok(true) => {}
        }
    }
}

/// Lines of YAML-ish text, at random indentation: block structure, scalars of every style
/// opening and closing on different lines, comments, blank lines, and plain mistakes.
fn soup() -> impl Strategy<Value = String> {
    let frag = prop::sample::select(vec![
        "a: b",
        "b:",
        "c: d e",
        "- x",
        "-",
        "- a: 1",
        "- - y",
        "'q",
        "q'",
        "'q'",
        "\"d",
        "x\"",
        "\"d\\\"e\"",
        "k: |",
        "k: |-",
        "k: >",
        "k: >+",
        "k: |2",
        "- |",
        "- >-",
        "text",
        "more text",
        "# c",
        "a: b # c",
        "",
        "  ",
        "k: [a, b]",
        "k: []",
        "k: {}",
        "k: [a,",
        "b]",
        "a: 'x'",
        "a: 'x",
        "a: \"y",
        "y\"",
        ": x",
        "? y",
        "x: y: z",
        "long - dash",
        "[a]",
        "{}",
        "b: c:d",
        "a: -1",
        "a: 'it''s'",
        "k: \"\\u00e9\\t\"",
        "k: &a x",
        "k: *a",
        "k: !!str 1",
        "<<: {}",
        "a: b\t",
        "---",
        "...",
        "%YAML 1.2",
        "a:b",
        "a :b",
        "- 'q': v",
        "\"k\": v",
        "'k': v",
        "a: #",
        "a: x#y",
        "é: ü",
    ]);
    prop::collection::vec((0usize..7, frag), 1..14).prop_map(|lines| {
        let mut t = String::new();
        for (indent, f) in lines {
            t.push_str(&" ".repeat(indent));
            t.push_str(f);
            t.push('\n');
        }
        t
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("FAST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500), ..ProptestConfig::default() })]

    /// On any text, when the fast path reads it, it reads what the general parser reads.
    #[test]
    fn soup_agrees(text in soup()) {
        if let Err(e) = check(&text) {
            return Err(TestCaseError::fail(format!("{e}\n--- text\n{text}")));
        }
    }
}

/// Every node's and key's position, in document order: `path line:col` (`path key line:col`).
fn positions(root: &Node) -> Vec<String> {
    fn walk(n: &Node, path: &str, out: &mut Vec<String>) {
        out.push(format!("{path} {}:{}", n.line, n.col));
        match &n.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => {
                for (i, m) in items.iter().enumerate() {
                    walk(m, &format!("{path}[{i}]"), out);
                }
            }
            Value::Map(es) => {
                for e in es {
                    let p = format!("{path}.{}", e.key.text);
                    out.push(format!("{p} key {}:{}", e.key_line, e.key_col));
                    walk(&e.value, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "$", &mut out);
    out
}

/// The positions the general parser (saphyr) gives, pinned on inputs the fast path leaves to
/// it (CRLF, tabs, anchors) and on ones it reads (non-ASCII text, block scalars, indentless
/// sequences): 1-based lines, 1-based columns counted in characters (a tab and a multi-byte
/// character are one column each). Where both parsers read a text they agree (checked above).
#[test]
fn positions_are_pinned() {
    let cases: &[(&str, &[&str])] = &[
        ("a: b\r\nc:\r\n  - d\r\n", &["$ 1:1", "$.a key 1:1", "$.a 1:4", "$.c key 2:1", "$.c 3:3", "$.c[0] 3:5"]),
        (
            "a: [x,\ty]\nb: x\t# c\n\t\nc: \"\té\"\n",
            &[
                "$ 1:1",
                "$.a key 1:1",
                "$.a 1:4",
                "$.a[0] 1:5",
                "$.a[1] 1:8",
                "$.b key 2:1",
                "$.b 2:4",
                "$.c key 4:1",
                "$.c 4:4",
            ],
        ),
        (
            "é: ü\nkéy: [é, x]\n\"日本\": 語\n",
            &[
                "$ 1:1",
                "$.é key 1:1",
                "$.é 1:4",
                "$.kéy key 2:1",
                "$.kéy 2:6",
                "$.kéy[0] 2:7",
                "$.kéy[1] 2:10",
                "$.日本 key 3:1",
                "$.日本 3:7",
            ],
        ),
        (
            "a: |\n\n  x\nb: >-\n   y\nc:\n- z\n-\nd:\n  e:   # c\n",
            &[
                "$ 1:1",
                "$.a key 1:1",
                "$.a 3:3",
                "$.b key 4:1",
                "$.b 5:4",
                "$.c key 6:1",
                "$.c 7:3",
                "$.c[0] 7:3",
                "$.c[1] 8:2",
                "$.d key 9:1",
                "$.d 10:3",
                "$.d.e key 10:3",
                "$.d.e 10:4",
            ],
        ),
        (
            "x: &a [1]\ny: *a\n",
            &["$ 1:1", "$.x key 1:1", "$.x 1:4", "$.x[0] 1:8", "$.y key 2:1", "$.y 2:4", "$.y[0] 1:8"],
        ),
    ];
    for (text, want) in cases {
        let general = parse_documents_general(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(positions(&general[0]), *want, "{text:?}");
        if let Some(fast) = parse_fast(text) {
            assert_eq!(positions(&fast[0]), *want, "fast path on {text:?}");
        }
    }
}
