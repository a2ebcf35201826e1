//! Every form a secret value can take in a manifest, as literal search patterns.
//!
//! A chart that inlines a secret rarely inlines it as is: it base64-encodes it into a
//! `Secret`-like blob of a ConfigMap, URL-encodes it into a connection string, JSON-escapes it
//! into a config file, HTML-escapes it into a template, hex-encodes it, or re-indents a PEM key
//! inside a YAML block. For each *strong* secret value (see [`super::classify`]), whatever its
//! length, the redact stage searches for:
//!
//! - the value itself ([`Form::Plain`]);
//! - its base64, standard and URL-safe alphabets, at all three byte alignments
//!   ([`Form::Base64`], [`Form::Base64Url`]): for alignment `o` the value is encoded after `o`
//!   unknown bytes, and only the characters that depend on the value alone are kept (the
//!   *core*). So the value is found inside a longer base64 blob wherever it starts, padded or
//!   not, and the core of a value encoded on its own is a substring of its padded encoding;
//! - the same cores split across the lines of a blob wrapped at a fixed width (MIME's 76, PEM's
//!   and `openssl`'s 64, any width ≥ 16): the matcher reads such a blob joined, as a decoder
//!   does ([`Form::Base64Wrapped`]);
//! - its hex, lower- and uppercase ([`Form::Hex`]);
//! - its URL-encoding (`%XX`, upper- and lowercase hex; `+` for a space) ([`Form::UrlEncoded`]);
//! - its JSON / YAML double-quoted escaping (`\"`, `\\`, `\n`, …, and `\/`) ([`Form::Escaped`]);
//! - its YAML single-quoted escaping (`''`) ([`Form::SingleQuoted`]);
//! - its HTML / XML character references of `&`, `<`, `>`, `"`, `'`, named or numeric, as
//!   Python's `html.escape`, Go's `html.EscapeString` and XML write them ([`Form::HtmlEscaped`]);
//! - for a PEM block, each body line on its own ([`Form::PemLine`]), so a key re-indented
//!   inside a config file is found.
//!
//! Long values (config files and keys kept in Secrets) get every form too: the matcher's cost
//! does not grow with the patterns' length (see [`super::redact::KnownSecrets`]). Strong values
//! and their forms need no token boundary (`xVALUE` is found). Values that are secrets only
//! because the config says so but are not strong get the plain form only, on token boundaries.

use super::eso::encode_base64;
use serde::Serialize;

/// Shortest base64 core searched for (shorter cores would match by chance).
pub const MIN_CORE_LEN: usize = 8;

/// Shortest PEM body line searched for on its own.
pub const MIN_PEM_LINE: usize = 16;

/// A form of a secret value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// The value as is.
    Plain,
    /// Standard base64 (any alignment, padded or not).
    Base64,
    /// URL-safe base64 (any alignment, padded or not).
    Base64Url,
    /// Percent-encoded.
    UrlEncoded,
    /// JSON / YAML double-quoted escaping.
    Escaped,
    /// YAML single-quoted escaping.
    SingleQuoted,
    /// One body line of a PEM block.
    PemLine,
    /// Hexadecimal, lower- or uppercase.
    Hex,
    /// HTML / XML character references of `&`, `<`, `>`, `"`, `'` (named or numeric).
    HtmlEscaped,
    /// Base64 (either alphabet) inside a blob wrapped at a fixed width (MIME 76, PEM 64, …),
    /// the value's encoding split across lines.
    Base64Wrapped,
}

impl Form {
    /// As written in messages and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Plain => "plain",
            Form::Base64 => "base64",
            Form::Base64Url => "base64url",
            Form::UrlEncoded => "url-encoded",
            Form::Escaped => "escaped",
            Form::SingleQuoted => "single-quoted",
            Form::PemLine => "pem-line",
            Form::Hex => "hex",
            Form::HtmlEscaped => "html-escaped",
            Form::Base64Wrapped => "base64-wrapped",
        }
    }
}

/// The characters of the base64 of `value` that depend on `value` alone, when it follows
/// `align` (0, 1 or 2) unknown bytes: standard alphabet.
fn base64_core(value: &[u8], align: usize) -> String {
    let mut buf = vec![0u8; align];
    buf.extend_from_slice(value);
    let enc = encode_base64(&buf);
    let enc = enc.trim_end_matches('=');
    // Characters touched by the unknown prefix bytes: 0 → none, 1 byte → 2 chars, 2 → 3.
    let skip = [0, 2, 3][align];
    // Only whole 6-bit groups of known bits (the last, partial one depends on what follows).
    let full = (buf.len() * 8) / 6;
    if full <= skip {
        return String::new();
    }
    enc[skip..full.min(enc.len())].to_string()
}

fn url_encode(v: &str, upper: bool, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' if plus_for_space => out.push('+'),
            _ => {
                if upper {
                    out.push_str(&format!("%{b:02X}"));
                } else {
                    out.push_str(&format!("%{b:02x}"));
                }
            }
        }
    }
    out
}

fn json_escape(v: &str) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    s[1..s.len().saturating_sub(1).max(1)].to_string()
}

fn hex(value: &[u8], upper: bool) -> String {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    let digits = if upper { UPPER } else { LOWER };
    let mut out = String::with_capacity(value.len() * 2);
    for b in value {
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 15)] as char);
    }
    out
}

/// The ways templates and libraries write `&`, `<`, `>`, `"`, `'` as character references:
/// Python's `html.escape`, Go's `html.EscapeString` / `template.HTMLEscapeString`, XML's named
/// entities, and numeric references in upper- and lowercase hex.
const HTML_STYLES: [[&str; 5]; 5] = [
    ["&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"],
    ["&amp;", "&lt;", "&gt;", "&#34;", "&#39;"],
    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"],
    ["&#x26;", "&#x3C;", "&#x3E;", "&#x22;", "&#x27;"],
    ["&#x26;", "&#x3c;", "&#x3e;", "&#x22;", "&#x27;"],
];

fn html_escape(v: &str, style: &[&str; 5]) -> String {
    let mut out = String::with_capacity(v.len() + 16);
    for c in v.chars() {
        match c {
            '&' => out.push_str(style[0]),
            '<' => out.push_str(style[1]),
            '>' => out.push_str(style[2]),
            '"' => out.push_str(style[3]),
            '\'' => out.push_str(style[4]),
            c => out.push(c),
        }
    }
    out
}

/// The PEM body lines of `v` worth searching for on their own.
fn pem_lines(v: &str) -> Vec<String> {
    if !v.contains("-----BEGIN ") {
        return Vec::new();
    }
    v.lines()
        .map(str::trim)
        .filter(|l| {
            l.len() >= MIN_PEM_LINE
                && !l.starts_with("-----")
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        })
        .map(str::to_string)
        .collect()
}

/// Every form of `value` to search for (the plain form first when the value is UTF-8),
/// without duplicates. `strong`: all forms, whatever the value's length; otherwise the plain
/// form only.
pub fn forms(value: &[u8], strong: bool) -> Vec<(String, Form)> {
    let mut out: Vec<(String, Form)> = Vec::new();
    let push = |s: String, f: Form, out: &mut Vec<(String, Form)>| {
        if !s.is_empty() && !out.iter().any(|(t, _)| *t == s) {
            out.push((s, f));
        }
    };
    let text = std::str::from_utf8(value).ok();
    if let Some(t) = text {
        push(t.to_string(), Form::Plain, &mut out);
    }
    if !strong {
        return out;
    }
    for align in 0..3 {
        let core = base64_core(value, align);
        if core.len() >= MIN_CORE_LEN {
            let url = core.replace('+', "-").replace('/', "_");
            push(core, Form::Base64, &mut out);
            push(url, Form::Base64Url, &mut out);
        }
    }
    push(hex(value, false), Form::Hex, &mut out);
    push(hex(value, true), Form::Hex, &mut out);
    let Some(t) = text else { return out };
    for l in pem_lines(t) {
        push(l, Form::PemLine, &mut out);
    }
    for (upper, plus) in [(true, false), (false, false), (true, true)] {
        push(url_encode(t, upper, plus), Form::UrlEncoded, &mut out);
    }
    push(json_escape(t), Form::Escaped, &mut out);
    if t.contains('/') {
        push(json_escape(t).replace('/', "\\/"), Form::Escaped, &mut out);
    }
    push(t.replace('\'', "''"), Form::SingleQuoted, &mut out);
    if t.contains(['&', '<', '>', '"', '\'']) {
        for style in &HTML_STYLES {
            push(html_escape(t, style), Form::HtmlEscaped, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(form: Form, v: &str) -> Vec<String> {
        forms(v.as_bytes(), true).into_iter().filter(|(_, f)| *f == form).map(|(s, _)| s).collect()
    }

    #[test]
    fn base64_is_found_at_every_alignment_inside_longer_blobs() {
        let v = "Zk3!qp9-Lm2@xR7";
        let cores = find(Form::Base64, v);
        assert_eq!(cores.len(), 3, "{cores:?}");
        for pre in ["", "a", "ab", "abc", "password=", "user:"] {
            for post in ["", "x", "xy", "\n", "tail text"] {
                let blob = encode_base64(format!("{pre}{v}{post}").as_bytes());
                assert!(cores.iter().any(|c| blob.contains(c.as_str())), "{pre:?}+{post:?}: {blob}");
                let unpadded = blob.trim_end_matches('=');
                assert!(cores.iter().any(|c| unpadded.contains(c.as_str())));
                let url = blob.replace('+', "-").replace('/', "_");
                // A core without `+` or `/` is one pattern for both alphabets.
                let both: Vec<String> = [find(Form::Base64Url, v), cores.clone()].concat();
                assert!(both.iter().any(|c| url.contains(c.as_str())), "url-safe");
            }
        }
    }

    #[test]
    fn escapes_and_pem_lines() {
        let v = "p@ss w\"o/rd&x\\y'z";
        assert!(find(Form::UrlEncoded, v).contains(&"p%40ss%20w%22o%2Frd%26x%5Cy%27z".to_string()));
        assert!(find(Form::UrlEncoded, v).contains(&"p%40ss+w%22o%2Frd%26x%5Cy%27z".to_string()));
        assert!(find(Form::Escaped, v).contains(&"p@ss w\\\"o/rd&x\\\\y'z".to_string()));
        assert!(find(Form::Escaped, v).contains(&"p@ss w\\\"o\\/rd&x\\\\y'z".to_string()));
        assert_eq!(find(Form::SingleQuoted, v), ["p@ss w\"o/rd&x\\y''z"]);
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
        assert_eq!(find(Form::PemLine, pem), ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7"]);
        // Not strong: the plain form only.
        assert_eq!(forms(b"weak-one", false), [("weak-one".to_string(), Form::Plain)]);
        // Binary: no plain form.
        assert!(forms(&[0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07], true)
            .iter()
            .all(|(_, f)| *f != Form::Plain));
    }

    #[test]
    fn hex_and_html_forms() {
        assert_eq!(find(Form::Hex, "Ab1!zzzz"), ["416231217a7a7a7a", "416231217A7A7A7A"]);
        assert_eq!(
            find(Form::HtmlEscaped, "a&b<c>d\"e'f"),
            [
                "a&amp;b&lt;c&gt;d&quot;e&#x27;f",
                "a&amp;b&lt;c&gt;d&#34;e&#39;f",
                "a&amp;b&lt;c&gt;d&quot;e&apos;f",
                "a&#x26;b&#x3C;c&#x3E;d&#x22;e&#x27;f",
                "a&#x26;b&#x3c;c&#x3e;d&#x22;e&#x27;f",
            ]
        );
        // Nothing to escape: no HTML form (it would be the plain one).
        assert!(find(Form::HtmlEscaped, "Zk3!qp9-Lm2@xR7w").is_empty());
        // A long value gets every form.
        let long = "Zk3!qp9-Lm2@xR7w/".repeat(20);
        for f in [Form::Base64, Form::Hex, Form::UrlEncoded, Form::Escaped] {
            assert!(!find(f, &long).is_empty(), "{f:?}");
        }
    }
}
