//! Deterministic YAML emitter.
//!
//! Layout is fixed: two-space indentation, block style everywhere except empty collections
//! (`{}`, `[]`), sequences indented under their key (`key:\n  - a`), insertion order kept.
//! Scalars: plain text is written verbatim; single/double quotes keep their style (a
//! single-quoted value that now holds a line break becomes double-quoted); literal and folded
//! blocks are written as literal blocks with exact chomping (`|`, `|-`, `|+`) and an
//! indentation indicator when the first line starts with a space. Comments inside documents
//! are not kept (head comments such as `# Source:` are, by the document layer).

use super::node::{Entry, Node, Scalar, Style, Value};
use super::resolve::{literal_ok, needs_double, plain_verbatim_ok};

/// Emit a node as a YAML document body (no `---`), ending with a newline.
pub fn emit(node: &Node) -> String {
    let mut out = String::with_capacity(256);
    emit_into(&mut out, node);
    out
}

/// Emit a node as a YAML document body into `out`.
pub fn emit_into(out: &mut String, node: &Node) {
    match &node.value {
        Value::Map(m) if !m.is_empty() => emit_map(out, m, 0, false),
        Value::Seq(s) if !s.is_empty() => emit_seq(out, s, 0, false),
        Value::Map(_) => out.push_str("{}\n"),
        Value::Seq(_) => out.push_str("[]\n"),
        Value::Scalar(s) => {
            if !(s.style == Style::Plain && s.text.is_empty() && s.tag.is_none()) {
                // A root block scalar is indented by two (at column 0 a `---` line would end the
                // document) and, like one in a sequence, gets no indentation indicator.
                write_scalar(out, s, 2, true);
            } else {
                out.push_str("null");
            }
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

fn emit_map(out: &mut String, entries: &[Entry], indent: usize, first_inline: bool) {
    for (i, e) in entries.iter().enumerate() {
        if i > 0 || !first_inline {
            pad(out, indent);
        }
        write_key(out, &e.key, indent);
        out.push(':');
        match &e.value.value {
            Value::Scalar(s) => {
                if s.style == Style::Plain && s.text.is_empty() && s.tag.is_none() {
                    out.push('\n');
                } else {
                    out.push(' ');
                    write_scalar(out, s, indent + 2, false);
                    out.push('\n');
                }
            }
            Value::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Value::Seq(s) if s.is_empty() => out.push_str(" []\n"),
            Value::Map(m) => {
                out.push('\n');
                emit_map(out, m, indent + 2, false);
            }
            Value::Seq(s) => {
                out.push('\n');
                emit_seq(out, s, indent + 2, false);
            }
        }
    }
}

fn emit_seq(out: &mut String, items: &[Node], indent: usize, first_inline: bool) {
    for (i, n) in items.iter().enumerate() {
        if i > 0 || !first_inline {
            pad(out, indent);
        }
        out.push('-');
        match &n.value {
            Value::Scalar(s) => {
                if s.style == Style::Plain && s.text.is_empty() && s.tag.is_none() {
                    out.push('\n');
                } else {
                    out.push(' ');
                    write_scalar(out, s, indent + 2, true);
                    out.push('\n');
                }
            }
            Value::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Value::Seq(s) if s.is_empty() => out.push_str(" []\n"),
            Value::Map(m) => {
                out.push(' ');
                emit_map(out, m, indent + 2, true);
            }
            Value::Seq(s) => {
                out.push(' ');
                emit_seq(out, s, indent + 2, true);
            }
        }
    }
}

fn write_key(out: &mut String, k: &Scalar, indent: usize) {
    if k.style == Style::Plain && k.text.is_empty() {
        // An empty plain key (YAML's null key) has no inline form, and `""` would make it a
        // string: write an explicit entry, `?` (and the tag) with the `:` on the next line.
        out.push('?');
        if let Some(t) = &k.tag {
            out.push(' ');
            write_tag(out, t);
        }
        out.push('\n');
        pad(out, indent);
        return;
    }
    let start = out.len();
    if let Some(t) = &k.tag {
        write_tag(out, t);
        out.push(' ');
    }
    match k.style {
        Style::Plain if plain_text_ok(&k.text) && !k.text.is_empty() => out.push_str(&k.text),
        Style::SingleQuoted if !needs_double(&k.text) => write_single(out, &k.text),
        _ => write_double(out, &k.text),
    }
    // An implicit key may not be longer than 1024 characters: make a longer one explicit.
    if out.len() - start > 1000 {
        out.insert_str(start, "? ");
        out.push('\n');
        pad(out, indent);
    }
}

/// Write a tag as read (`!!str`, `!local`), re-escaping what the parser decoded from `%XX`
/// escapes: characters that cannot stand in a tag (controls, spaces, flow indicators,
/// non-ASCII) and `%` itself.
fn write_tag(out: &mut String, t: &str) {
    for c in t.chars() {
        if c.is_ascii_graphic() && !matches!(c, '%' | ',' | '[' | ']' | '{' | '}') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
}

/// Plain text from a source plain scalar can be written back verbatim unless it carries a
/// line break, a control character or a leading document marker (see [`plain_verbatim_ok`]).
fn plain_text_ok(t: &str) -> bool {
    plain_verbatim_ok(t)
}

/// Write a scalar after `key: ` or `- `. `content_indent` is where block lines go.
fn write_scalar(out: &mut String, s: &Scalar, content_indent: usize, in_seq: bool) {
    if let Some(t) = &s.tag {
        write_tag(out, t);
        out.push(' ');
    }
    match s.style {
        Style::Plain if plain_text_ok(&s.text) => out.push_str(&s.text),
        Style::SingleQuoted if !needs_double(&s.text) => write_single(out, &s.text),
        Style::Literal | Style::Folded if block_ok(&s.text, in_seq) => write_literal(out, &s.text, content_indent),
        _ => write_double(out, &s.text),
    }
}

fn block_ok(t: &str, in_seq: bool) -> bool {
    if !literal_ok(t) {
        return false;
    }
    // An indentation indicator is only emitted after a mapping key, where its base is clear.
    !(in_seq && t.trim_start_matches('\n').starts_with(' '))
}

fn write_single(out: &mut String, t: &str) {
    out.push('\'');
    for (i, part) in t.split('\'').enumerate() {
        if i > 0 {
            out.push_str("''");
        }
        out.push_str(part);
    }
    out.push('\'');
}

fn write_double(out: &mut String, t: &str) {
    out.push('"');
    // Runs of characters that need no escape are copied as slices.
    let mut from = 0;
    for (i, c) in t.char_indices() {
        let esc: std::borrow::Cow<'static, str> = match c {
            '"' => "\\\"".into(),
            '\\' => "\\\\".into(),
            '\n' => "\\n".into(),
            '\t' => "\\t".into(),
            '\r' => "\\r".into(),
            '\0' => "\\0".into(),
            '\u{85}' => "\\N".into(),
            '\u{2028}' => "\\L".into(),
            '\u{2029}' => "\\P".into(),
            '\u{feff}' => "\\uFEFF".into(),
            c if (c as u32) < 0x20 || c == '\u{7f}' => format!("\\x{:02X}", c as u32).into(),
            c if c.is_control() => format!("\\u{:04X}", c as u32).into(),
            _ => continue,
        };
        out.push_str(&t[from..i]);
        out.push_str(&esc);
        from = i + c.len_utf8();
    }
    out.push_str(&t[from..]);
    out.push('"');
}

fn write_literal(out: &mut String, t: &str, indent: usize) {
    out.push('|');
    let body = t.strip_suffix('\n');
    let keep = t.ends_with("\n\n");
    if t.trim_start_matches('\n').starts_with(' ') {
        out.push('2');
    }
    match (body, keep) {
        (None, _) => out.push('-'),
        (Some(_), true) => out.push('+'),
        (Some(_), false) => {}
    }
    out.push('\n');
    let body = body.unwrap_or(t);
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    // `split` already produced the last line; `out` ends with a newline which the caller
    // would add again, so remove ours.
    out.pop();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::parse_documents;

    fn rt(src: &str) -> String {
        emit(&parse_documents(src).unwrap()[0])
    }

    #[test]
    fn verbatim_plain_and_quotes() {
        let src = "a: 0644\nb: 'on'\nc: \"x\\ty\"\nd:\ne: ~\nf: {}\ng: []\n";
        assert_eq!(rt(src), src);
    }

    #[test]
    fn sequences_and_nesting() {
        let src =
            "spec:\n  containers:\n    - name: a\n      ports:\n        - containerPort: 80\n    - - x\n      - y\n";
        assert_eq!(rt(src), src);
    }

    #[test]
    fn block_scalars_roundtrip() {
        for src in [
            "a: |\n  x\n  y\n",
            "a: |-\n  x\n  y\n",
            "a: |+\n  x\n\n",
            "a: |2\n    indented\n  x\n",
            "a:\n  b: |\n    x\n\n    y\n",
        ] {
            let once = rt(src);
            assert_eq!(once, src, "emit of {src:?}");
        }
        // Folded becomes literal with the same value.
        assert_eq!(rt("a: >\n  x\n  y\n"), "a: |\n  x y\n");
    }
}
