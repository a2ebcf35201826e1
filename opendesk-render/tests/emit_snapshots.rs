//! Emitter decisions, pinned as insta snapshots: block chomping and quoting of new strings.

use opendesk_render::yaml::{emit, parse_documents, Node};

#[test]
fn block_scalars_each_chomping() {
    let src = "clip: |\n  a\n  b\nstrip: |-\n  a\n  b\nkeep: |+\n  a\n\nfolded: >\n  a\n  b\nindented: |2\n    starts with spaces\n  then not\nlist:\n  - |\n    in a list\n";
    let doc = &parse_documents(src).unwrap()[0];
    insta::assert_snapshot!("block_scalars", emit(doc));
}

#[test]
fn quoting_of_new_strings() {
    let mut m = Node::map();
    for (k, v) in [
        ("plain", "TCP"),
        ("yaml11_bool", "on"),
        ("yaml11_y", "y"),
        ("octal", "0644"),
        ("hex", "0x1F"),
        ("underscore_int", "1_000"),
        ("sexagesimal", "12:30"),
        ("exp_float", "1e3"),
        ("date", "2024-01-01"),
        ("value_key", "="),
        ("merge_key", "<<"),
        ("null_word", "null"),
        ("empty", ""),
        ("leading_space", " x"),
        ("colon_space", "a: b"),
        ("hash", "a #b"),
        ("indicator", "*alias"),
        ("quote_inside", "it's"),
        ("control", "bell\u{7}"),
        ("multi_line", "line one\nline two\n"),
        ("multi_line_no_newline", "line one\nline two"),
        ("url", "https://example.org/a?b=c"),
    ] {
        m.insert(k, Node::string(v));
    }
    insta::assert_snapshot!("new_string_quoting", emit(&m));
}
