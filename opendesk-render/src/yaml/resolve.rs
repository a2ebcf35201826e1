//! Scalar resolution the way Kubernetes does it, and the quoting decision for new strings.
//!
//! Kubernetes decodes manifests with go-yaml v2 (through sigs.k8s.io/yaml), which follows
//! YAML 1.1: `y`, `n`, `yes`, `no`, `on`, `off` are booleans, `0644` is octal (420), `0x1F`
//! is hex (31), `_` is allowed in numbers. Only *plain* scalars are resolved; quoted and
//! block scalars are strings. Explicit core tags (`!!str`, `!!int`, ...) are honoured.
//!
//! New strings ([`style_for_new_string`]) are stricter: they are written plain only when
//! neither YAML 1.1 nor YAML 1.2 (nor PyYAML's wider 1.1 patterns: sexagesimal numbers,
//! dates, `=`, `<<`) would read them as anything but that very string.

use super::node::{Scalar, Style};

/// A resolved scalar value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// `~`, `null`, `Null`, `NULL` or empty.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'a str),
}

/// Resolve a scalar with Kubernetes' (go-yaml v2) rules.
pub fn resolve(s: &Scalar) -> Resolved<'_> {
    if let Some(tag) = s.tag.as_deref() {
        return match tag {
            "!!str" | "!!binary" => Resolved::Str(&s.text),
            "!!int" => parse_int(&s.text).map(Resolved::Int).unwrap_or(Resolved::Str(&s.text)),
            "!!float" => parse_float(&s.text)
                .or_else(|| parse_int(&s.text).map(|i| i as f64))
                .map(Resolved::Float)
                .unwrap_or(Resolved::Str(&s.text)),
            "!!bool" => parse_bool(&s.text).map(Resolved::Bool).unwrap_or(Resolved::Str(&s.text)),
            "!!null" => Resolved::Null,
            _ => resolve_plain_if(s),
        };
    }
    resolve_plain_if(s)
}

fn resolve_plain_if(s: &Scalar) -> Resolved<'_> {
    if s.style == Style::Plain {
        resolve_plain(&s.text)
    } else {
        Resolved::Str(&s.text)
    }
}

/// Resolve plain text with YAML 1.1 / go-yaml v2 rules.
pub fn resolve_plain(t: &str) -> Resolved<'_> {
    let Some(&first) = t.as_bytes().first() else { return Resolved::Null };
    // Fast path: most scalars start with a letter that begins no special word.
    match first {
        b'~' if t.len() == 1 => return Resolved::Null,
        b'n' | b'N' => {
            if matches!(t, "null" | "Null" | "NULL") {
                return Resolved::Null;
            }
        }
        b'0'..=b'9' | b'-' | b'+' | b'.' => {
            if let Some(i) = parse_int(t) {
                return Resolved::Int(i);
            }
            if let Some(f) = parse_float(t) {
                return Resolved::Float(f);
            }
            return Resolved::Str(t);
        }
        _ => {}
    }
    if let Some(b) = parse_bool(t) {
        return Resolved::Bool(b);
    }
    Resolved::Str(t)
}

fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// go-yaml v2: strip `_`, then Go's `strconv.ParseInt(s, 0, 64)` (0x, 0o, 0b, leading-0 octal).
fn parse_int(t: &str) -> Option<i64> {
    let cleaned: std::borrow::Cow<str> = if t.contains('_') { t.replace('_', "").into() } else { t.into() };
    let s = cleaned.as_ref();
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, r)
    } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if v <= i64::MAX as u64 + 1 {
            Some((v as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// go-yaml v2 float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` and `.inf`/`.nan`.
fn parse_float(t: &str) -> Option<f64> {
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == fs {
            return None;
        }
    } else if int_digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

/// True when a YAML 1.1 (PyYAML) or 1.2 core-schema reader could take `t`, written plain, as
/// anything other than the string `t`: null/bool words, any number form, dates, `=`, `<<`.
pub fn is_ambiguous_word(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "" | "~" | "null" | "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "=" | "<<"
    ) {
        return true;
    }
    let b = t.as_bytes();
    // Numbers of every flavour (ints, floats, 0x/0o/0b, octal, sexagesimal, .inf/.nan) and
    // timestamps all begin with a digit, or a sign/dot followed by a digit or dot.
    let c0 = b[0];
    if c0.is_ascii_digit() {
        return true;
    }
    if matches!(c0, b'-' | b'+' | b'.') && b.len() > 1 && (b[1].is_ascii_digit() || b[1] == b'.') {
        return true;
    }
    matches!(lower.trim_start_matches(['-', '+']), ".inf" | ".nan")
}

/// Pick the style for a new string: plain when safe, literal block for readable multi-line
/// text, single quotes when printable, double quotes otherwise.
pub fn style_for_new_string(t: &str) -> Style {
    if t.contains('\n') && literal_ok(t) {
        return Style::Literal;
    }
    if plain_ok(t) {
        return Style::Plain;
    }
    if t.chars().all(|c| !c.is_control() && c != '\u{feff}') && !t.contains('\u{85}') {
        // Single quotes cannot carry escapes; leading/trailing spaces are kept inside them.
        Style::SingleQuoted
    } else {
        Style::DoubleQuoted
    }
}

/// Whether `t` can be written as a plain scalar (block context) and read back as this string.
pub fn plain_ok(t: &str) -> bool {
    if t.is_empty() || is_ambiguous_word(t) {
        return false;
    }
    let b = t.as_bytes();
    let first = b[0];
    if is_indicator(first) {
        // `-x`, `?x`, `:x` are legal plain starts in YAML 1.2 but not in every 1.1 reader.
        return false;
    }
    if first == b' ' || b[b.len() - 1] == b' ' || b[b.len() - 1] == b':' {
        return false;
    }
    if t.contains(": ") || t.contains(" #") || t.contains(":\t") {
        return false;
    }
    t.chars().all(|c| !c.is_control() && c != '\u{feff}' && c != '\u{85}' && c != '\u{2028}' && c != '\u{2029}')
}

/// Whether `t` needs double quotes (single quotes cannot carry it): control characters and
/// the invisible line/format characters YAML readers treat specially.
pub fn needs_double(t: &str) -> bool {
    t.chars().any(|c| c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// Whether text read from a plain scalar can be written back verbatim as a plain scalar: no
/// line break (an empty line inside a multi-line plain scalar folds to `\n`), no control or
/// invisible line/format character (YAML forbids them in plain scalars; lenient parsers accept
/// some) and no document marker at its start (`--- x`, folded from an indented line).
pub fn plain_verbatim_ok(t: &str) -> bool {
    if (t.starts_with("---") || t.starts_with("...")) && matches!(t.as_bytes().get(3), None | Some(b' ' | b'\t')) {
        return false;
    }
    // Nor an indicator at its start that a lenient parser let through inside a flow
    // collection (`[>x]`): in block context `>x` would open a block scalar.
    match t.as_bytes() {
        [b'|' | b'>' | b'%' | b'@' | b'`' | b'!' | b'&' | b'*' | b'\'' | b'"' | b'#' | b'[' | b']' | b'{' | b'}'
        | b',', ..] => return false,
        [b'-' | b'?' | b':'] | [b'-' | b'?' | b':', b' ' | b'\t', ..] => return false,
        _ => {}
    }
    if t.is_ascii() {
        return !t.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
    }
    !t.chars().any(|c| (c.is_control() && c != '\t') || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// A YAML indicator character (`-?:,[]{}#&*!|>'"%@` and backquote): what a plain scalar may
/// not start with (`-`, `?`, `:` may, before a non-space, in YAML 1.2 but not in every 1.1
/// reader).
pub(crate) fn is_indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// Whether `t` can be written as a literal block and read back unchanged.
pub fn literal_ok(t: &str) -> bool {
    // ASCII text (nearly every block in a manifest) in one byte pass, no line list.
    if t.is_ascii() {
        literal_ok_ascii(t.as_bytes())
    } else {
        literal_ok_general(t)
    }
}

/// [`literal_ok`] for ASCII: no control character but newline and tab; the first and last
/// line with content may only have empty lines before and after them (a whitespace-only line
/// there is ambiguous); the first content line does not start with a tab.
fn literal_ok_ascii(b: &[u8]) -> bool {
    if b.iter().any(|&c| (c < 0x20 && c != b'\n' && c != b'\t') || c == 0x7f) {
        return false;
    }
    let blank = |l: &[u8]| l.iter().all(|&c| c == b' ' || c == b'\t');
    let Some(start) = b.iter().position(|&c| c != b'\n') else { return false };
    let end = b.iter().rposition(|&c| c != b'\n').map_or(b.len(), |i| i + 1);
    let body = &b[start..end];
    let first = &body[..body.iter().position(|&c| c == b'\n').unwrap_or(body.len())];
    let last = &body[body.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1)..];
    !blank(first) && !blank(last) && first[0] != b'\t'
}

fn literal_ok_general(t: &str) -> bool {
    if !t.chars().any(|c| !c.is_whitespace()) {
        return false;
    }
    // Control characters other than newline and tab cannot appear in a block scalar.
    if t.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}')
    }) {
        return false;
    }
    // Trailing whitespace on a line is kept by literal blocks, but a whitespace-only line
    // before the first content line or in the trailing run is ambiguous: avoid it.
    let lines: Vec<&str> = t.split('\n').collect();
    let first_content = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    let last_content = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
    for (i, l) in lines.iter().enumerate() {
        let blank = l.trim().is_empty();
        if blank && !l.is_empty() && (i < first_content || i > last_content) {
            return false;
        }
        if i < first_content && !l.is_empty() {
            return false;
        }
    }
    // A tab as the first character of the first content line would be read as indentation.
    !lines[first_content].starts_with('\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: &str) -> Resolved<'_> {
        resolve_plain(t)
    }

    #[test]
    fn literal_ok_ascii_path_agrees() {
        // Every string of up to 6 characters over the alphabet that matters.
        let alphabet = ['a', ' ', '\t', '\n', '\r', '\x0b'];
        let mut stack = vec![String::new()];
        while let Some(t) = stack.pop() {
            assert_eq!(literal_ok_ascii(t.as_bytes()), literal_ok_general(&t), "{t:?}");
            if t.len() < 6 {
                stack.extend(alphabet.iter().map(|c| format!("{t}{c}")));
            }
        }
    }

    #[test]
    fn kubernetes_yaml11_typing() {
        assert_eq!(r("0644"), Resolved::Int(420));
        assert_eq!(r("0x1F"), Resolved::Int(31));
        assert_eq!(r("1_000"), Resolved::Int(1000));
        assert_eq!(r("-12"), Resolved::Int(-12));
        assert_eq!(r("0"), Resolved::Int(0));
        assert_eq!(r("0b101"), Resolved::Int(5));
        assert_eq!(r("y"), Resolved::Bool(true));
        assert_eq!(r("Off"), Resolved::Bool(false));
        assert_eq!(r("yes"), Resolved::Bool(true));
        assert_eq!(r("~"), Resolved::Null);
        assert_eq!(r(""), Resolved::Null);
        assert_eq!(r("1.5"), Resolved::Float(1.5));
        assert_eq!(r("1e3"), Resolved::Float(1000.0));
        // go-yaml v2: not octal, but its float pattern matches.
        assert_eq!(r("089"), Resolved::Float(89.0));
        assert_eq!(r("1.2.3"), Resolved::Str("1.2.3"));
        assert_eq!(r("TCP"), Resolved::Str("TCP"));
        assert_eq!(r("nginx"), Resolved::Str("nginx"));
        assert_eq!(r("12:30"), Resolved::Str("12:30"));
    }

    #[test]
    fn quoted_is_string() {
        let s = Scalar { text: "0644".into(), style: Style::SingleQuoted, tag: None };
        assert_eq!(resolve(&s), Resolved::Str("0644"));
        let s = Scalar { text: "12".into(), style: Style::Plain, tag: Some("!!str".into()) };
        assert_eq!(resolve(&s), Resolved::Str("12"));
    }

    #[test]
    fn new_string_styles() {
        for t in [
            "yes",
            "on",
            "0644",
            "0x1F",
            "1_000",
            "12:30",
            "1e3",
            "2024-01-01",
            "=",
            "<<",
            "null",
            "~",
            "",
            " a",
            "a ",
            "a: b",
            "a #b",
            "- x",
            "*x",
            "@x",
            ".5",
            "-1",
        ] {
            assert_ne!(style_for_new_string(t), Style::Plain, "{t:?} must be quoted");
        }
        for t in
            ["TCP", "nginx:1.25", "a-b", "hello world", "/etc/ssl/certs", "BeforeHookCreation,HookSucceeded", "a:b"]
        {
            assert_eq!(style_for_new_string(t), Style::Plain, "{t:?} can be plain");
        }
        assert_eq!(style_for_new_string("a\nb\n"), Style::Literal);
        assert_eq!(style_for_new_string("a\u{1}"), Style::DoubleQuoted);
    }
}
