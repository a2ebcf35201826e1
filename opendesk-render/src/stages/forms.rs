//! Every form a secret value can take in a manifest, as literal search patterns.
//!
//! A chart that inlines a secret rarely inlines it as is: it base64-encodes it into a
//! `Secret`-like blob of a ConfigMap, URL-encodes it into a connection string, JSON-escapes it
//! into a config file, or re-indents a PEM key inside a YAML block. For each *strong* secret
//! value (see [`super::classify`]) the redact stage searches, with one Aho-Corasick automaton,
//! for:
//!
//! - the value itself ([`Form::Plain`]);
//! - its base64, standard and URL-safe alphabets, at all three byte alignments
//!   ([`Form::Base64`], [`Form::Base64Url`]): for alignment `o` the value is encoded after `o`
//!   unknown bytes, and only the characters that depend on the value alone are kept (the
//!   *core*). So the value is found inside a longer base64 blob wherever it starts, padded or
//!   not, and the core of a value encoded on its own is a substring of its padded encoding;
//! - its URL-encoding (`%XX`, upper- and lowercase hex; `+` for a space) ([`Form::UrlEncoded`]);
//! - its JSON / YAML double-quoted escaping (`\"`, `\\`, `\n`, …, and `\/`) ([`Form::Escaped`]);
//! - its YAML single-quoted escaping (`''`) ([`Form::SingleQuoted`]);
//! - for a PEM block, each body line on its own ([`Form::PemLine`]), so a key re-indented
//!   inside a config file is found.
//!
//! Values over [`MAX_ESCAPED_LEN`] bytes get the plain form only (config files kept in
//! Secrets), or for a PEM block the plain, base64 and PEM-line forms. Strong values and their forms need no token boundary (`xVALUE` is found). Values that are
//! secrets only because the config says so but are not strong get the plain form only, on
//! token boundaries.

use super::eso::encode_base64;
use serde::Serialize;

/// Shortest base64 core searched for (shorter cores would match by chance).
pub const MIN_CORE_LEN: usize = 8;

/// Values longer than this (bytes) are searched plainly only, or for a PEM block plainly, in
/// base64 and by its body lines.
pub const MAX_ESCAPED_LEN: usize = 256;

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
/// without duplicates. `strong`: all forms; otherwise the plain form only.
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
    // A long value that is not a PEM block (a config file kept in a Secret) is searched as
    // is: its encoded forms would multiply the automaton's size for a shape no chart writes.
    let pem = text.is_some_and(|t| t.contains("-----BEGIN "));
    if value.len() > MAX_ESCAPED_LEN && !pem {
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
    if let Some(t) = text {
        for l in pem_lines(t) {
            push(l, Form::PemLine, &mut out);
        }
        // Escaped and URL-encoded forms of a long PEM block: a shape no chart writes.
        if t.len() > MAX_ESCAPED_LEN {
            return out;
        }
        for (upper, plus) in [(true, false), (false, false), (true, true)] {
            push(url_encode(t, upper, plus), Form::UrlEncoded, &mut out);
        }
        push(json_escape(t), Form::Escaped, &mut out);
        if t.contains('/') {
            push(json_escape(t).replace('/', "\\/"), Form::Escaped, &mut out);
        }
        push(t.replace('\'', "''"), Form::SingleQuoted, &mut out);
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
}
