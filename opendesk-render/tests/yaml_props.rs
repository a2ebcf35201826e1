//! Property tests of the YAML layer: parse(emit(tree)) == tree, and new string scalars read
//! back as the same string under our (Kubernetes, YAML 1.1) resolver and PyYAML's 1.1 rules.

use opendesk_render::yaml::resolve::{plain_ok, resolve_plain, Resolved};
use opendesk_render::yaml::{emit, parse_documents, Entry, Node, Scalar, Style, Value};
use proptest::prelude::*;
use regex::Regex;
use std::sync::LazyLock;

/// PyYAML's YAML 1.1 implicit resolvers (resolver.py): a plain scalar matching any of these
/// is not a string to PyYAML.
static PYYAML_NON_STR: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
        r"^(?:<<)$",
        r"^(?:~|null|Null|NULL|)$",
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
        r"^(?:=)$",
    ]
    .iter()
    .map(|r| Regex::new(r).unwrap())
    .collect()
});

fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![
            "y",
            "n",
            "yes",
            "No",
            "on",
            "OFF",
            "true",
            "null",
            "~",
            "0644",
            "0x1F",
            "1_000",
            "12:30",
            "1e3",
            "2024-01-01",
            "=",
            "<<",
            "-",
            "- a",
            "? x",
            ": x",
            "a: b",
            "a #b",
            "#c",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "'q'",
            "\"d\"",
            "%p",
            "@a",
            "`b",
            "[x]",
            "{y}",
            ",",
            " lead",
            "trail ",
            "tab\tin",
            ".5",
            "-.inf",
            ".NaN",
            "+1",
            "0o17",
            "0b101",
            "é ü",
            "日本",
            "a\nb",
            "a\n",
            "a\n\n",
            "\n",
            "\na",
            "  indented\nx",
            "x\n  y\n",
            "\t",
            "\u{1}",
            "\u{7f}",
            "\u{85}",
            "\u{feff}x",
            "\u{2028}",
            "line \r\n",
            "ends:",
            "x:",
            "a:b",
            "http://x",
            "k=v",
            "\\",
            "'",
            "\"",
        ])
        .prop_map(String::from),
        "\\PC{0,12}",
        any::<String>(),
        "[ a-z0-9:#\\-\\n'\"]{0,16}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn new_string_scalars_roundtrip(s in tricky_text()) {
        let mut root = Node::map();
        root.insert("k", Node::string(s.clone()));
        root.as_seq_mut();
        let mut seq = Node::seq();
        seq.as_seq_mut().unwrap().push(Node::string(s.clone()));
        root.insert("l", seq);
        let text = emit(&root);
        let back = parse_documents(&text).map_err(|e| TestCaseError::fail(format!("{e:?} in {text:?}")))?;
        let k = back[0].get("k").unwrap();
        prop_assert_eq!(k.as_str(), Some(s.as_str()), "emitted: {:?}", text);
        let l = &back[0].get("l").unwrap().as_seq().unwrap()[0];
        prop_assert_eq!(l.as_str(), Some(s.as_str()), "emitted: {:?}", text);
        let sc = Scalar::string(s.clone());
        if sc.style == Style::Plain {
            prop_assert!(matches!(resolve_plain(&s), Resolved::Str(_)));
            prop_assert!(!PYYAML_NON_STR.iter().any(|r| r.is_match(&s)), "PyYAML would not read {:?} as a string", s);
        }
    }
}

fn scalar() -> impl Strategy<Value = Node> {
    let plain = tricky_text().prop_filter("plain source text", |t| {
        plain_ok(t) || matches!(t.as_str(), "0644" | "yes" | "~" | "on" | "1e3" | "12:30" | "")
    });
    prop_oneof![
        plain.prop_map(|t| Node::new(Value::Scalar(Scalar { text: t, style: Style::Plain, tag: None }))),
        tricky_text().prop_map(|t| Node::new(Value::Scalar(Scalar { text: t, style: Style::SingleQuoted, tag: None }))),
        tricky_text().prop_map(|t| Node::new(Value::Scalar(Scalar { text: t, style: Style::DoubleQuoted, tag: None }))),
        tricky_text().prop_map(|t| Node::new(Value::Scalar(Scalar { text: t, style: Style::Literal, tag: None }))),
        tricky_text().prop_map(|t| Node::new(Value::Scalar(Scalar {
            text: t,
            style: Style::SingleQuoted,
            tag: Some("!!str".into())
        }))),
    ]
}

fn tree() -> impl Strategy<Value = Node> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| Node::new(Value::Seq(v))),
            prop::collection::vec((tricky_text(), inner), 0..5).prop_map(|kv| {
                let mut seen = std::collections::HashSet::new();
                let entries = kv
                    .into_iter()
                    .filter(|(k, _)| seen.insert(k.clone()))
                    .map(|(k, v)| Entry { key: Scalar::string(k), key_line: 0, key_col: 0, value: v })
                    .collect();
                Node::new(Value::Map(entries))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn parse_emit_roundtrip(inner in tree()) {
        // Kubernetes documents are mappings; an empty root document is dropped by design.
        let mut t = Node::map();
        t.insert("root", inner);
        let text = emit(&t);
        let back = parse_documents(&text).map_err(|e| TestCaseError::fail(format!("{e:?} in\n{text}")))?;
        let got = back.into_iter().next().unwrap_or_default();
        prop_assert!(t.same(&got), "tree changed through\n{}", text);
        // Emitting again gives the same bytes.
        prop_assert_eq!(emit(&got), text);
    }
}
