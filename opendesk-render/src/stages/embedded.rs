//! Credentials embedded in a Secret's value.
//!
//! Charts often keep a whole configuration file in one Secret key: a `.dockerconfigjson`
//! (`{"auths":{"registry":{"password":"…"}}}`), an `application.yaml` with `password: …`, an
//! INI or `.env` file with `DB_PASS=…`, a DSN `postgres://app:…@db/app`. The Secret's value as a
//! whole is searched for by the redact stage; the credential *inside* it is a value of its own,
//! and a chart that copies it into a ConfigMap, an argument or an annotation leaks it just the
//! same. This module finds those inner credentials so the redact stage searches for them too.
//!
//! What counts, from the shapes configuration files really have (not from any one chart):
//! - a JSON document (object or array) is parsed and walked: every string leaf under a key that
//!   names a credential ([`classify::is_credential_key`]);
//! - any other text is read line by line as `key: value`, `key = value`, `key=value` or
//!   `"key": "value",` (YAML, INI, TOML, Java properties, `.env`, HCL and pretty JSON all have
//!   that shape), quotes and a trailing `,`/`;` removed;
//! - in any text, the password of a URL with credentials (`scheme://user:password@host`).
//!
//! An inner value is kept only when it is strong ([`classify::is_strong`]): a weak inner value
//! (`password: changeme`) would be found everywhere and is the Secret's own business; the
//! whole-value search and `secrets/weak-value` are about the key itself. Never the values are
//! shown: an [`Inner`]'s `path` names keys only.

use super::classify;

/// One credential found inside a Secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inner {
    /// Where inside the value: `$.auths['r.example.org'].password` (JSON), `line 12 `DB_PASS``
    /// (line-based) or `line 3 URL password` (a URL's password). Keys only, never values.
    pub path: String,
    /// The credential (never shown).
    pub value: String,
}

/// Largest value this looks inside (a bigger one is searched as a whole only).
pub const MAX_SCAN: usize = 1 << 20;

/// Most inner credentials taken from one value.
pub const MAX_INNER: usize = 256;

/// The strong credentials inside `value`, in order of appearance, each value once.
pub fn inner_credentials(value: &[u8]) -> Vec<Inner> {
    let mut out: Vec<Inner> = Vec::new();
    if value.len() > MAX_SCAN {
        return out;
    }
    let Ok(text) = std::str::from_utf8(value) else { return out };
    // Private keys and certificates are one value; their lines are not `key: value` lines.
    if text.contains("-----BEGIN ") {
        return out;
    }
    let trimmed = text.trim_start();
    let json = (trimmed.starts_with('{') || trimmed.starts_with('['))
        .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
        .flatten();
    match json {
        Some(json) => walk_json(&json, &mut String::from("$"), None, &mut out),
        None => {
            for (no, line) in text.lines().enumerate() {
                if let Some((k, v)) = key_value(line).filter(|(k, _)| classify::is_credential_key(k)) {
                    push(&mut out, format!("line {} `{k}`", no + 1), v);
                }
            }
        }
    }
    for (no, line) in text.lines().enumerate() {
        url_passwords(line, no + 1, &mut out);
    }
    finish(out, value)
}

/// Drop what repeats, what equals the whole value (already searched) and what is weak.
fn finish(mut out: Vec<Inner>, whole: &[u8]) -> Vec<Inner> {
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| i.value.as_bytes() != whole && classify::is_strong(&i.value) && seen.insert(i.value.clone()));
    out.truncate(MAX_INNER);
    out
}

fn push(out: &mut Vec<Inner>, path: String, v: &str) {
    if !v.is_empty() && out.len() < MAX_INNER * 4 {
        out.push(Inner { path, value: v.to_string() });
    }
}

fn walk_json(v: &serde_json::Value, path: &mut String, key: Option<&str>, out: &mut Vec<Inner>) {
    match v {
        serde_json::Value::String(s) if key.is_some_and(classify::is_credential_key) => push(out, path.clone(), s),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk_json(item, path, key, out);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    path.push('.');
                    path.push_str(k);
                } else {
                    path.push_str(&format!("['{}']", k.replace('\'', "''")));
                }
                walk_json(item, path, Some(k), out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// `key: value` / `key = value` / `"key": "value",` of one line, or `None`.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let mut l = line.trim();
    if l.is_empty() || l.starts_with('#') || l.starts_with(';') || l.starts_with("//") {
        return None;
    }
    l = l.strip_prefix("- ").unwrap_or(l).trim_start();
    l = l.strip_prefix("export ").unwrap_or(l).trim_start();
    let (key, rest) = if let Some(q) = l.strip_prefix('"').or_else(|| l.strip_prefix('\'')) {
        let quote = l.as_bytes()[0] as char;
        let end = q.find(quote)?;
        (&q[..end], q[end + 1..].trim_start())
    } else {
        let end = l.find(|c: char| c == ':' || c == '=' || c.is_whitespace())?;
        (&l[..end], l[end..].trim_start())
    };
    if key.is_empty() || key.len() > 128 {
        return None;
    }
    let rest = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
    // `key: |` / `key: >` start a block scalar: its lines are not one value.
    let mut v = rest.trim();
    if v.starts_with('|') || v.starts_with('>') || v.starts_with('{') || v.starts_with('[') {
        return None;
    }
    v = v.strip_suffix(',').or_else(|| v.strip_suffix(';')).unwrap_or(v).trim_end();
    let v = unquote(v)?;
    Some((key, v))
}

/// The inside of `"…"`/`'…'`, or an unquoted value up to a ` #` comment.
fn unquote(v: &str) -> Option<&str> {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q) {
            // Up to the last quote, escapes as written.
            return inner.rfind(q).map(|end| &inner[..end]);
        }
    }
    Some(v.split(" #").next().unwrap_or(v).trim_end())
}

/// Passwords of `scheme://user:password@host` URLs in a line (percent-encoded as written, and
/// decoded when that differs).
fn url_passwords(line: &str, no: usize, out: &mut Vec<Inner>) {
    for pass in crate::scrub::url_spans(line).filter_map(|u| u.password()) {
        push(out, format!("line {no} URL password"), pass);
        if let Some(decoded) = percent_decode(pass) {
            if decoded != pass {
                push(out, format!("line {no} URL password"), &decoded);
            }
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "Xq7pL2mN9vR4tW8z";

    fn values(v: &str) -> Vec<String> {
        inner_credentials(v.as_bytes()).into_iter().map(|i| i.value).collect()
    }

    #[test]
    fn dockerconfigjson_password_is_found_with_its_path() {
        let v = format!(r#"{{"auths":{{"registry.example.org":{{"username":"robot","password":"{STRONG}"}}}}}}"#);
        let got = inner_credentials(v.as_bytes());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].value, STRONG);
        assert_eq!(got[0].path, "$.auths['registry.example.org'].password");
    }

    #[test]
    fn line_based_formats_find_credential_keys_only() {
        for text in [
            format!("db:\n  host: db.svc\n  password: {STRONG}\n"),
            format!("[db]\nhost = db\npass = \"{STRONG}\"\n"),
            format!("DB_HOST=db\nexport DB_PASSWORD='{STRONG}'\n"),
            format!("{{\n  \"host\": \"db\",\n  \"password\" : \"{STRONG}\",\n  \"x\": [1]\n}}"),
            format!("jdbc.password={STRONG}\n"),
        ] {
            assert_eq!(values(&text), vec![STRONG.to_string()], "{text}");
        }
    }

    #[test]
    fn configuration_and_weak_values_are_not_credentials() {
        // A strong-looking value under a configuration key, a weak password, a block scalar,
        // comments, and a key that is configuration (`password_file`).
        let text = format!(
            "client_id: {STRONG}\npassword: changeme\n# password: {STRONG}\ntoken: |\n  abc\npassword_file: /run/{STRONG}\n"
        );
        assert!(values(&text).is_empty(), "{:?}", values(&text));
    }

    #[test]
    fn url_passwords_are_found_in_any_text_raw_and_decoded() {
        let text = "DATABASE_URL=postgres://app:Xq7pL2mN%2F9vR4tW8z@db:5432/app?sslmode=disable\n";
        let got = values(text);
        assert_eq!(got, vec!["Xq7pL2mN%2F9vR4tW8z".to_string(), "Xq7pL2mN/9vR4tW8z".to_string()]);
        // No password: nothing.
        assert!(values("url: https://user@host/x\n").is_empty());
    }

    #[test]
    fn the_whole_value_pem_and_binary_are_left_to_the_whole_value_search() {
        assert!(values(STRONG).is_empty());
        assert!(inner_credentials(b"-----BEGIN RSA PRIVATE KEY-----\npassword: Xq7pL2mN9vR4tW8z\n").is_empty());
        assert!(inner_credentials(&[0xff, 0xfe, b'a']).is_empty());
    }

    #[test]
    fn each_value_once_and_bounded() {
        let text = format!("password: {STRONG}\nsecret: {STRONG}\n");
        assert_eq!(values(&text).len(), 1);
        let many: String = (0..2000).map(|i| format!("password_{i}: {STRONG}{i:04}\n")).collect();
        assert_eq!(values(&many).len(), MAX_INNER);
    }

    /// Through the redact stage: a registry password inside a `.dockerconfigjson`, copied into
    /// a container argument, is refused naming the Secret, key and inner path (never the
    /// value); an env value equal to it is refused too (a `secretKeyRef` to the key would give
    /// the whole file); the classification lists it; without the copy nothing changes.
    #[test]
    fn the_redact_stage_searches_for_embedded_credentials() {
        use crate::document::emit_stream;
        use crate::stages::eso::eso;
        use crate::stages::redact::redact;
        use crate::stages::testutil::{cfg_with_store, docs};

        let secret = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: regcred, namespace: apps}}\n\
             type: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: \
             '{{\"auths\":{{\"r.example.org\":{{\"username\":\"robot\",\"password\":\"{STRONG}\"}}}}}}'\n\
             ---\napiVersion: v1\nkind: Secret\nmetadata: {{name: app, namespace: apps}}\nstringData:\n  \
             application.yaml: \"db:\\n  host: db\\n  password: Zq8rT2vLx9PwK4mN\\n\"\n"
        );
        let deployment = |args: &str, env: &str| {
            format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: apps}}\nspec:\n  \
                 template:\n    spec:\n      containers:\n        - name: a\n          image: nginx:1.27\n          \
                 args: [\"{args}\"]\n          env:\n            - {{name: DB_PASSWORD, value: \"{env}\"}}\n"
            )
        };
        let cfg = cfg_with_store();
        let run = |text: String| {
            let mut ds = docs("app", "app/templates/all.yaml", &text);
            let e = eso(&mut ds, &cfg).unwrap();
            let before = emit_stream(&ds);
            let out = redact(&mut ds, &cfg, &e.payload);
            (emit_stream(&ds), before, out)
        };

        let (after, before, out) = run(format!("{secret}{}", deployment(&format!("--password={STRONG}"), "plain")));
        assert_eq!(after, before);
        let refused: Vec<_> = out.report.findings.iter().filter(|f| f.code == "redact/inline-secret").collect();
        assert_eq!(refused.len(), 1, "{:?}", out.report.findings);
        assert!(refused[0].message.contains("Secret/apps/regcred key `.dockerconfigjson`"), "{}", refused[0].message);
        assert!(refused[0].message.contains("$.auths['r.example.org'].password"), "{}", refused[0].message);
        let report = serde_json::to_string(&out.report).unwrap();
        assert!(!report.contains(STRONG) && !report.contains("Zq8rT2vLx9PwK4mN"), "{report}");
        let embedded: Vec<_> = out
            .report
            .secrets
            .iter()
            .filter(|k| k.reason == classify::Reason::Embedded)
            .map(|k| (k.key.as_str(), k.inside.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            embedded,
            vec![(".dockerconfigjson", "$.auths['r.example.org'].password"), ("application.yaml", "line 3 `password`")]
        );

        // An env value equal to the inner credential: refused, not rewritten.
        let (after, before, out) = run(format!("{secret}{}", deployment("--verbose", "Zq8rT2vLx9PwK4mN")));
        assert_eq!(after, before);
        let codes: Vec<_> = out.report.findings.iter().map(|f| (f.code.as_str(), f.path.as_deref())).collect();
        assert!(
            codes.contains(&("redact/inline-secret", Some("$.spec.template.spec.containers[0].env[0].value"))),
            "{codes:?}"
        );

        // No copy anywhere: nothing refused.
        let (_, _, out) = run(format!("{secret}{}", deployment("--verbose", "plain")));
        assert!(out.report.findings.iter().all(|f| f.code != "redact/inline-secret"), "{:?}", out.report.findings);
    }
}
