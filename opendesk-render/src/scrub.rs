//! What error messages may show of an input line (issue 15, "nothing leaves the process").
//!
//! Messages name `file:line:col` and quote the offending line. Three kinds of text never reach
//! them as they are:
//! - a line of a `Secret` document (a YAML error on a Secret line, in a manifest or a list):
//!   shown with its values replaced by `***` ([`mask_values`]), keys and indentation kept;
//! - a line of the instance config's `redact:` block (it lists `redact.values`): the same, and
//!   the config error's own message is scrubbed of that line's values
//!   ([`scrub_config_message`]);
//! - credentials in a URL, anywhere: `https://user:token@host/…` becomes `https://***@host/…`
//!   ([`redact_url_credentials`]).
//!
//! The pipeline's own matcher of known secret values
//! ([`KnownSecrets`](crate::stages::redact::KnownSecrets)) scrubs findings, `diff` and
//! `explain`; this module covers what is printed before any value is known (load and config
//! errors).

use std::borrow::Cow;

/// What a masked value shows.
pub const MASK: &str = "***";

/// One `scheme://authority` of a text, found by [`url_spans`]: the one reading of URLs with
/// their userinfo (`user:pass@`) that the scrubber, the config check, the classifier and the
/// embedded-credential search share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlSpan<'a> {
    /// The scheme before `://` (the run of letters, digits, `+`, `-`, `.` before it; may be
    /// empty), as written.
    pub scheme: &'a str,
    /// The userinfo before the authority's last `@` (`user:pass`, `token`, `:pass`), when
    /// there is an `@`.
    pub userinfo: Option<&'a str>,
    /// Byte offset of the userinfo (just after `://`) in the text.
    pub start: usize,
    /// Byte offset just past the authority: of the `@` when there is userinfo, else where the
    /// authority ends.
    pub end: usize,
}

impl<'a> UrlSpan<'a> {
    /// The password of `user:pass@` (everything after the userinfo's first `:`), if any.
    pub fn password(&self) -> Option<&'a str> {
        self.userinfo.and_then(|u| u.split_once(':')).map(|(_, p)| p)
    }
}

/// Where a URL's authority ends in running text: a path, white space, a quote or a backtick,
/// a closing `>`. (`?` and `#` do not end it: a password holding one, unencoded, is still
/// found.)
fn ends_authority(c: char) -> bool {
    c == '/' || c.is_whitespace() || matches!(c, '\'' | '"' | '>' | '`')
}

/// Every `scheme://authority` in `s`, in order: the userinfo is what stands before the last
/// `@` of the authority (which ends at [`ends_authority`]). After a userinfo the search goes on
/// from its `@`, else just after the `://`, so URLs packed together (`a://u:p@h,b://v:q@k`) are
/// each found.
pub fn url_spans(s: &str) -> impl Iterator<Item = UrlSpan<'_>> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let i = from + s.get(from..)?.find("://")?;
        let start = i + 3;
        let scheme_start = s[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(i, |(j, _)| j);
        let rest = &s[start..];
        let authority = &rest[..rest.find(ends_authority).unwrap_or(rest.len())];
        let (userinfo, end) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), start + at),
            None => (None, start + authority.len()),
        };
        from = if userinfo.is_some() { end } else { start };
        Some(UrlSpan { scheme: &s[scheme_start..i], userinfo, start, end })
    })
}

/// `scheme://user:token@host/…` → `scheme://***@host/…`, for every URL in `s`. Other text is
/// unchanged (borrowed when there was nothing to redact).
pub fn redact_url_credentials(s: &str) -> Cow<'_, str> {
    if !s.contains("://") || !s.contains('@') {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    let mut copied = 0;
    for u in url_spans(s).filter(|u| u.userinfo.is_some()) {
        out.push_str(&s[copied..u.start]);
        out.push_str(MASK);
        copied = u.end;
    }
    if copied == 0 {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

/// True when `url` carries credentials Argo CD would receive in every Application: a
/// password (`user:pass@`), or any user part of an `http(s)` URL (a token given as the user
/// name). An SSH user without a password (`ssh://git@host/…`, `git@host:org/repo`) is not one.
pub fn url_has_credentials(url: &str) -> bool {
    url_spans(url).next().is_some_and(|u| {
        u.userinfo.is_some_and(|user| {
            user.contains(':') || u.scheme.eq_ignore_ascii_case("http") || u.scheme.eq_ignore_ascii_case("https")
        })
    })
}

/// `line` with its values replaced by [`MASK`]: indentation, sequence dashes and a `key:` are
/// kept, whatever follows is masked (`  password: hunter2` → `  password: ***`, `- x` →
/// `- ***`, a block scalar's text line → `***`). A line with nothing after its key is kept.
pub fn mask_values(line: &str) -> String {
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    let mut at = indent;
    let bytes = line.as_bytes();
    // Sequence dashes: `- `, `- - `.
    while bytes.get(at) == Some(&b'-') && matches!(bytes.get(at + 1), Some(b' ') | Some(b'\t') | None) {
        at += 1;
        while matches!(bytes.get(at), Some(b' ') | Some(b'\t')) {
            at += 1;
        }
    }
    let rest = &line[at..];
    let key_end = key_length(rest);
    let (kept, value) = match key_end {
        Some(k) => line.split_at(at + k),
        None => line.split_at(at),
    };
    let v = value.trim_start_matches([' ', '\t']);
    if v.is_empty() {
        return line.to_string();
    }
    // A bare block indicator (`|`, `>-`) shows no value.
    if v.len() <= 3 && v.starts_with(['|', '>']) && v[1..].chars().all(|c| matches!(c, '-' | '+' | '1'..='9')) {
        return line.to_string();
    }
    let gap = &value[..value.len() - v.len()];
    format!("{kept}{gap}{MASK}")
}

/// The length of `key:` at the start of `rest` (the colon included), when `rest` starts with a
/// mapping key: a plain key up to `: ` or a final `:`, or a quoted one followed by `:`.
fn key_length(rest: &str) -> Option<usize> {
    if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = rest[1..].find(q)? + 1;
        let after = &rest[close + 1..];
        let after_trim = after.trim_start_matches([' ', '\t']);
        return after_trim.starts_with(':').then(|| close + 1 + (after.len() - after_trim.len()) + 1);
    }
    if rest.starts_with(['#', '{', '[', '|', '>', '&', '*', '!']) {
        return None;
    }
    let i = rest.find(": ").or_else(|| rest.find(":\t")).or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
    let key = &rest[..i];
    (!key.contains(" #")).then_some(i + 1)
}

/// True when `line` (1-based) of `text` lies in a document that is, or holds, a `Secret`: its
/// chunk (between `---` markers) has a `kind` key whose value is `Secret` or `…SecretList`, in
/// any style: a block mapping at any indentation (a list item included), a flow mapping
/// (`{kind: Secret, …}`), JSON (`"kind": "Secret",`), with a tag (`kind: !!str Secret`). Text
/// only: it works on input that does not parse, and errs on the side of masking.
pub fn in_secret_document(text: &str, line: usize) -> bool {
    let line = line as u32;
    let chunks = crate::load::split_documents(text);
    let Some(c) = chunks.iter().rev().find(|c| c.line <= line) else { return false };
    names_secret_kind(c.text)
}

/// True when `text` has a `kind` key (plain or quoted, starting a token) whose value (plain or
/// quoted, after an optional tag) is the word `Secret` or ends with `SecretList`.
fn names_secret_kind(text: &str) -> bool {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("kind") {
        let at = from + i;
        from = at + 4;
        let quote = at.checked_sub(1).map(|j| b[j]).filter(|q| matches!(q, b'"' | b'\''));
        let start = if quote.is_some() { at.checked_sub(2) } else { at.checked_sub(1) };
        if !start.is_none_or(|j| matches!(b[j], b' ' | b'\t' | b'\n' | b'\r' | b'{' | b',' | b'-' | b'?')) {
            continue;
        }
        let mut rest = &text[at + 4..];
        if let Some(q) = quote {
            let Some(r) = rest.strip_prefix(char::from(q)) else { continue };
            rest = r;
        }
        let Some(rest) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') else { continue };
        let mut v = rest.trim_start_matches([' ', '\t']);
        if v.starts_with('!') {
            v = v.trim_start_matches(|c: char| !c.is_whitespace()).trim_start_matches([' ', '\t']);
        }
        let v = v.trim_start_matches(['"', '\'']);
        let word = &v[..v.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(v.len())];
        if word == "Secret" || word.ends_with("SecretList") {
            return true;
        }
    }
    false
}

/// True when `line` (1-based) of the config `text` lies in its top-level `redact:` block (the
/// `redact:` line and every more-indented line after it), where `redact.values` are listed; in
/// a config written as one flow mapping (JSON), the lines of the top-level `redact` value.
pub fn in_redact_block(text: &str, line: usize) -> bool {
    let mut inside = false;
    for (i, l) in text.lines().enumerate() {
        let top = !l.is_empty() && !l.starts_with([' ', '\t', '#']);
        if top {
            inside = l.starts_with("redact:") || l.starts_with("\"redact\":") || l.starts_with("'redact':");
        }
        if i + 1 == line {
            return inside || flow_redact_lines(text).is_some_and(|(a, b)| (a..=b).contains(&line));
        }
    }
    false
}

/// The first and last line (1-based) of the top-level `redact` entry of a config whose
/// document is one flow mapping (`{"redact": {"values": [...]}, ...}`, JSON included); `None`
/// when the document is not a flow mapping or has no such key. Text only (the config may not
/// parse): quoted strings and comments are skipped, brackets counted; an unclosed entry runs
/// to the end of the text.
fn flow_redact_lines(text: &str) -> Option<(usize, usize)> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")?;
    if !first.starts_with('{') {
        return None;
    }
    let b = text.as_bytes();
    let (mut i, mut line, mut depth) = (0, 1, 0usize);
    let mut token = String::new();
    let mut start: Option<usize> = None;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => line += 1,
            b'"' | b'\'' => {
                // A quoted scalar: its text (escapes kept, enough to compare a key), its lines.
                let mut j = i + 1;
                while j < b.len() {
                    if b[j] == b'\n' {
                        line += 1;
                    }
                    if c == b'"' && b[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if b[j] == c {
                        if c == b'\'' && b.get(j + 1) == Some(&b'\'') {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                if depth == 1 {
                    token = String::from_utf8_lossy(&b[i + 1..j.min(b.len())]).into_owned();
                }
                i = j;
            }
            b'#' if i == 0 || b[i - 1].is_ascii_whitespace() => {
                while i + 1 < b.len() && b[i + 1] != b'\n' {
                    i += 1;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                token.clear();
            }
            b'}' | b']' | b',' => {
                if depth == 1 {
                    if let Some(s) = start {
                        return Some((s, line));
                    }
                    token.clear();
                }
                if c != b',' {
                    depth = depth.saturating_sub(1);
                }
            }
            b':' if depth == 1 && start.is_none() => {
                if token.trim() == "redact" {
                    start = Some(line);
                }
                token.clear();
            }
            _ if depth == 1 && start.is_none() => token.push(char::from(c)),
            _ => {}
        }
        i += 1;
    }
    start.map(|s| (s, line))
}

/// The line `line` (1-based) of `text` as an error message may quote it: masked in a Secret
/// document or a config's `redact:` block, URL credentials redacted, at most 200 characters.
pub fn shown_line(text: &str, line: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    let l = text.lines().nth(line - 1)?;
    let l = if in_secret_document(text, line) || in_redact_block(text, line) {
        Cow::Owned(mask_values(l))
    } else {
        Cow::Borrowed(l)
    };
    Some(redact_url_credentials(&l).chars().take(200).collect())
}

/// A config error's message for `text` (the config it was parsed from) when the error points
/// at `line` in the `redact:` block: every value on that line (as written, and unquoted) is
/// replaced by [`MASK`]. serde quotes a value it cannot read (``invalid type: integer `1234`
/// ``); a `redact.values` entry must never be printed. URL credentials are redacted always.
pub fn scrub_config_message(text: &str, line: usize, message: &str) -> String {
    let mut m = redact_url_credentials(message).into_owned();
    if line == 0 || !in_redact_block(text, line) {
        return m;
    }
    let Some(l) = text.lines().nth(line - 1) else { return m };
    let masked = mask_values(l);
    if masked == l {
        return m;
    }
    // `masked` is the kept prefix of `l` followed by the mask.
    let value = l[masked.len() - MASK.len()..].trim();
    let mut needles: Vec<String> = vec![value.to_string()];
    let unquoted = value.trim_matches(['"', '\'']);
    needles.push(unquoted.to_string());
    // A flow list on the line (`values: [a, b]`): each item too.
    needles.extend(
        unquoted.trim_matches(['[', ']', '{', '}']).split(',').map(|s| s.trim().trim_matches(['"', '\'']).to_string()),
    );
    needles.retain(|n| n.chars().count() >= 2);
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in needles {
        m = m.replace(&n, MASK);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_redacted_everywhere_in_a_text() {
        assert_eq!(
            redact_url_credentials("https://user:tok3n@git.example.org/a.git"),
            "https://***@git.example.org/a.git"
        );
        assert_eq!(
            redact_url_credentials("fatal: unable to access 'https://x:y@h/r/': 403 and http://t0k@h2"),
            "fatal: unable to access 'https://***@h/r/': 403 and http://***@h2"
        );
        assert!(matches!(redact_url_credentials("https://h/r and a@b"), Cow::Borrowed(_)));
        assert_eq!(redact_url_credentials("https://a:b@c@h/"), "https://***@h/");
        assert!(url_has_credentials("https://oauth2:glpat-x@git.example.org/a.git"));
        assert!(url_has_credentials("https://ghp_token@github.com/a.git"));
        assert!(url_has_credentials("ssh://git:pw@h/r"));
        assert!(!url_has_credentials("ssh://git@h/r"));
        assert!(!url_has_credentials("git@github.com:org/repo.git"));
        assert!(!url_has_credentials("https://git.example.org/a@b.git"));
    }

    #[test]
    fn url_spans_read_every_url_and_its_userinfo() {
        let t = "x=postgres://app:p%2Fw@db:5432/a,redis://:r3@h2 'https://tok@h3/x' ssh://git@h4 https://h5/a@b";
        let got: Vec<(&str, Option<&str>, Option<&str>)> =
            url_spans(t).map(|u| (u.scheme, u.userinfo, u.password())).collect();
        assert_eq!(
            got,
            vec![
                ("postgres", Some("app:p%2Fw"), Some("p%2Fw")),
                ("redis", Some(":r3"), Some("r3")),
                ("https", Some("tok"), None),
                ("ssh", Some("git"), None),
                ("https", None, None),
            ]
        );
        // Packed URLs are each found: the search goes on from the `@`.
        let packed: Vec<_> = url_spans("a://u:p@h,b://v:q@k").filter_map(|u| u.password()).collect();
        assert_eq!(packed, vec!["p", "q"]);
        // The span is the userinfo: what the scrubber replaces.
        let u = url_spans("see https://a:b@c@h/").next().unwrap();
        assert_eq!((&"see https://a:b@c@h/"[u.start..u.end], u.scheme), ("a:b@c", "https"));
        assert_eq!(url_spans("no url here").count(), 0);
        // A scheme with nothing after it does not borrow a later `user:…@` (an e-mail address
        // further on in a JSON value): its authority ends at the quote.
        let json = "{\"path\" : \"http://\",\n \"email\" : \"noreply@example.com\"}";
        assert_eq!(url_spans(json).next().unwrap().userinfo, None);
        assert!(!crate::stages::classify::has_url_credentials(json) && !url_has_credentials(json));
        assert!(matches!(redact_url_credentials(json), Cow::Borrowed(_)));
        // The four readers agree on one URL.
        for (url, pass) in [("https://u:s3cr3t@h/r", true), ("https://u@h/r", false), ("ssh://git@h/r", false)] {
            assert_eq!(crate::stages::classify::has_url_credentials(url), pass, "{url}");
            assert_eq!(url_has_credentials(url), pass || url.starts_with("https://u@"), "{url}");
            assert_eq!(redact_url_credentials(url).contains("***@h/r"), url.contains('@'), "{url}");
        }
    }

    #[test]
    fn values_are_masked_keys_kept() {
        assert_eq!(mask_values("  password: hunter2"), "  password: ***");
        assert_eq!(mask_values("  \"pass word\": 'x: y'"), "  \"pass word\": ***");
        assert_eq!(mask_values("    - hunter2"), "    - ***");
        assert_eq!(mask_values("- - a: b"), "- - a: ***");
        assert_eq!(mask_values("    some config text"), "    ***");
        assert_eq!(mask_values("stringData:"), "stringData:");
        assert_eq!(mask_values("  conf: |-"), "  conf: |-");
        assert_eq!(mask_values("data: {a: b}"), "data: ***");
        assert_eq!(mask_values("  url: https://u:p@h/x"), "  url: ***");
    }

    /// A Secret written as a flow mapping or as JSON is a Secret document too: a YAML error on
    /// its line never shows the value (found by tests/secret_leaks.rs).
    #[test]
    fn secret_documents_in_flow_and_json_style_are_masked() {
        let flow = "{apiVersion: v1, kind: Secret, stringData: {token: 'Qx7kP2mVr9LsT4wZ' x}}\n";
        assert_eq!(shown_line(flow, 1).unwrap(), "***");
        let json = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"stringData\": {\"token\": \"Qx7kP2mVr9LsT4wZ\" \"x\"}\n}\n";
        assert_eq!(shown_line(json, 4).unwrap(), "  \"stringData\": ***");
        let compact = "{\"kind\":\"Secret\",\"data\":{\"t\":\"UXg3a1AybVZyOUxzVDR3Wg==\" 1}}";
        assert_eq!(shown_line(compact, 1).unwrap(), "***");
        let tagged = "kind: !!str Secret\nstringData:\n  token: 'Qx7kP2mVr9LsT4wZ': x\n";
        assert_eq!(shown_line(tagged, 3).unwrap(), "  token: ***");
        let list = "{kind: List, items: [{kind: Secret, data: {t: x: y}}]}";
        assert_eq!(shown_line(list, 1).unwrap(), "***");
        // Other kinds and keys that merely end in `kind` are not Secrets.
        for other in [
            "{kind: ConfigMap, data: {a: visible}}",
            "{\"kind\": \"SecretStore\", \"spec\": visible}",
            "metadata: {labels: {kind: SecretStore}}\ndata: {a: visible}",
            "data: {mykind: Secret, a: visible}",
        ] {
            assert_eq!(shown_line(other, other.lines().count()).unwrap(), other.lines().last().unwrap(), "{other}");
        }
    }

    /// A config written as JSON (one flow mapping): the lines of its `redact` entry are masked,
    /// the message of an error there is scrubbed (found by tests/secret_leaks.rs).
    #[test]
    fn the_redact_entry_of_a_json_config_is_masked() {
        let c = "{\n  \"instance\": \"acme\",\n  \"redact\": {\n    \"mode\": \"refuse\",\n    \"values\": \"S3cr3t-Value\"\n  },\n  \"namespace\": \"opendesk\"\n}\n";
        assert_eq!(flow_redact_lines(c), Some((3, 6)));
        assert_eq!(shown_line(c, 5).unwrap(), "    \"values\": ***");
        assert_eq!(shown_line(c, 3).unwrap(), "  \"redact\": ***");
        assert_eq!(shown_line(c, 2).unwrap(), "  \"instance\": \"acme\",");
        assert_eq!(shown_line(c, 7).unwrap(), "  \"namespace\": \"opendesk\"");
        assert_eq!(
            scrub_config_message(c, 5, "invalid type: string \"S3cr3t-Value\", expected a sequence"),
            "invalid type: string ***, expected a sequence"
        );
        // One line, quotes and brackets inside strings, a comment, an unclosed entry.
        let one = "{opendeskVersion: 1.13.1, redact: {values: 'S3cr3t-Value'}}";
        assert_eq!(shown_line(one, 1).unwrap(), "***");
        let tricky = "# config\n{\"a\": \"x}, redact: [\", # not the key: redact\n \"redact\": {\"values\": [\"S3cr3t";
        assert_eq!(flow_redact_lines(tricky), Some((3, 3)));
        assert_eq!(flow_redact_lines("opendeskVersion: 1.13.1\nredact: {values: [x]}\n"), None);
        assert_eq!(flow_redact_lines("{\"nested\": {\"redact\": {\"values\": [x]}}}"), None);
    }

    #[test]
    fn lines_of_secret_documents_and_the_redact_block_are_masked() {
        let t = "kind: ConfigMap\ndata:\n  a: visible\n---\napiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2: x\n---\nkind: List\nitems:\n  - kind: Secret\n    data: {p: aGk=}\n";
        assert_eq!(shown_line(t, 3).unwrap(), "  a: visible");
        assert_eq!(shown_line(t, 8).unwrap(), "  password: ***");
        assert_eq!(shown_line(t, 13).unwrap(), "    data: ***");
        let c = "opendeskVersion: 1.13.1\nredact:\n  values:\n    - S3cr3t-Value\n    - [1234]\nargocd: {repoURL: 'https://u:p@h/r.git'}\n";
        assert_eq!(shown_line(c, 4).unwrap(), "    - ***");
        assert_eq!(shown_line(c, 1).unwrap(), "opendeskVersion: 1.13.1");
        assert_eq!(shown_line(c, 6).unwrap(), "argocd: {repoURL: 'https://***@h/r.git'}");
        assert_eq!(
            scrub_config_message(c, 5, "invalid type: sequence [1234], expected a string"),
            "invalid type: sequence ***, expected a string"
        );
        assert_eq!(scrub_config_message(c, 4, "x `S3cr3t-Value` y"), "x `***` y");
        assert_eq!(scrub_config_message(c, 1, "keeps 1.13.1"), "keeps 1.13.1");
    }
}
