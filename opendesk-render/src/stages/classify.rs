//! Which values of a Secret are secrets: classification by strength, explained.
//!
//! Charts keep configuration in Secrets (`MM_SQLSETTINGS_DRIVERNAME: postgres`,
//! `KC_LOG_LEVEL: INFO`, an SMTP host) next to real credentials. Only values that are
//! *secret* are searched for in the rest of the render (the redact stage); *configuration*
//! values are not, so a log level or a host name in a Secret never makes a manifest that
//! mentions it fail or change.
//!
//! Every value is judged **by the value first** ([`value_class`]), in this order:
//!
//! | value | class | reason |
//! |---|---|---|
//! | empty | configuration | `empty` |
//! | holds a PEM private key | secret | `private-key` |
//! | a URL with a password (`scheme://user:pass@host`) | secret | `url-credentials` |
//! | not UTF-8 | secret | `binary` |
//! | a public certificate / public key (PEM, `ssh-…`) | configuration | `public-certificate` |
//! | `true`/`false`/`yes`/… to Kubernetes | configuration | `boolean` |
//! | a number or null to Kubernetes | configuration | `number` |
//! | a duration (`30s`, `1h30m`, `7d`) | configuration | `duration` |
//! | a log level (`INFO`, `debug`, `warning`) | configuration | `log-level` |
//! | a URL without credentials and without a random path segment | configuration | `url` |
//! | an e-mail address | configuration | `email` |
//! | an absolute or relative path of word-like segments | configuration | `path` |
//! | a host name (lowercase, dotted, letter TLD), IPv4, optional `:port` | configuration | `host` |
//! | a namespace, resource, release or instance name of the render | configuration | `identifier` |
//! | 1–3 dictionary-like words (`cassandra-secret`, `admin123`, `Opendesk`) | configuration | `words` |
//! | shorter than 8 characters | configuration | `short` |
//! | under 40 estimated bits, or fewer than 4 distinct characters | configuration | `low-entropy` |
//! | anything else | secret | `strong` |
//!
//! **The key second**: a strong value under a key whose last word names public configuration
//! (`…_ID`, `…user`, `…host`, `…url`, `…name`, `…path`; see [`CONFIG_KEY_WORDS`]) and no word
//! naming a credential is configuration (`config-key`): an OIDC client id, a bucket name.
//!
//! **The config decides last**: `redact.values` are always secrets (`redact.values`);
//! `redact.secret: [{secret, key}]` makes matching keys secrets (`redact.secret`) and
//! `redact.public` makes them configuration (`redact.public`); when both match, `secret` wins.
//! A value forced to be a secret that is not strong is searched for on token boundaries only
//! (see the redact stage); values under 4 characters are never searched (`too-short`).
//!
//! A value too weak to be searched for under a key that names a credential (`password`,
//! `token`, `secret`, `key`, …; [`CREDENTIAL_KEY_WORDS`]) is a finding on that Secret:
//! `secrets/weak-value` (Secret, key and why, never the value; an error with `redact.strict`).
//! Empty and boolean values are not reported (unset or a flag).

use crate::config::{InstanceConfig, SecretKeyRef};
use crate::document::Document;
use crate::yaml::resolve::{resolve_plain, Resolved};
use serde::Serialize;
use std::collections::HashSet;

/// Values shorter than this (in characters) are never searched for, even when the config
/// says they are secrets: they would match everywhere.
pub const MIN_SEARCH_LEN: usize = 4;

/// Values shorter than this (in characters) are too weak to be a secret on their own.
pub const MIN_STRONG_LEN: usize = 8;

/// Estimated bits below which a value is too weak to be a secret on their own.
pub const MIN_STRONG_BITS: f64 = 40.0;

/// Last words of keys whose strong values are still public configuration.
pub const CONFIG_KEY_WORDS: &[&str] = &[
    "id",
    "user",
    "username",
    "login",
    "host",
    "hostname",
    "url",
    "uri",
    "endpoint",
    "address",
    "name",
    "email",
    "mail",
    "path",
    "dir",
    "directory",
    "domain",
    "realm",
    "issuer",
    "audience",
    "bucket",
    "region",
    "database",
    "db",
    "schema",
    "namespace",
    "version",
    "image",
    "tag",
    "label",
    "title",
    "server",
    "port",
    "scope",
];

/// Words of keys that name a credential.
pub const CREDENTIAL_KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "apikey",
    "credential",
    "credentials",
    "auth",
    "salt",
    "pepper",
    "private",
    "cookie",
    "signing",
    "jwt",
    "hmac",
    "pin",
];

/// Log level names (compared case-insensitively).
const LOG_LEVELS: &[&str] = &[
    "trace", "debug", "info", "notice", "warn", "warning", "error", "err", "fatal", "critical", "crit", "panic",
    "alert", "emerg", "verbose", "silent", "off", "all", "none",
];

/// Secret or configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Searched for everywhere outside its Secret.
    Secret,
    /// Not searched for.
    Configuration,
}

/// Why a value got its class (see the module docs' table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Reason {
    /// Long and varied enough to be a secret.
    #[serde(rename = "strong")]
    Strong,
    /// Holds a PEM private key.
    #[serde(rename = "private-key")]
    PrivateKey,
    /// A URL with a password in it.
    #[serde(rename = "url-credentials")]
    UrlCredentials,
    /// Not UTF-8.
    #[serde(rename = "binary")]
    Binary,
    /// Listed in `redact.values`.
    #[serde(rename = "redact.values")]
    ConfigValues,
    /// Matched by `redact.secret`.
    #[serde(rename = "redact.secret")]
    ConfigSecret,
    /// Matched by `redact.public`.
    #[serde(rename = "redact.public")]
    ConfigPublic,
    /// Forced to be a secret, but under [`MIN_SEARCH_LEN`] characters: never searched.
    #[serde(rename = "too-short")]
    TooShort,
    /// Empty.
    #[serde(rename = "empty")]
    Empty,
    /// A public certificate or public key.
    #[serde(rename = "public-certificate")]
    PublicCertificate,
    /// A boolean to Kubernetes.
    #[serde(rename = "boolean")]
    Boolean,
    /// A number or null to Kubernetes.
    #[serde(rename = "number")]
    Number,
    /// A duration.
    #[serde(rename = "duration")]
    Duration,
    /// A log level.
    #[serde(rename = "log-level")]
    LogLevel,
    /// A URL without credentials.
    #[serde(rename = "url")]
    Url,
    /// An e-mail address.
    #[serde(rename = "email")]
    Email,
    /// A path.
    #[serde(rename = "path")]
    Path,
    /// A host name or address.
    #[serde(rename = "host")]
    Host,
    /// A name of the render (namespace, resource, release, instance).
    #[serde(rename = "identifier")]
    Identifier,
    /// One to three dictionary-like words.
    #[serde(rename = "words")]
    Words,
    /// Shorter than [`MIN_STRONG_LEN`].
    #[serde(rename = "short")]
    Short,
    /// Under [`MIN_STRONG_BITS`] or fewer than 4 distinct characters.
    #[serde(rename = "low-entropy")]
    LowEntropy,
    /// A strong value under a configuration key ([`CONFIG_KEY_WORDS`]).
    #[serde(rename = "config-key")]
    ConfigKey,
    /// A strong credential inside the key's value (a configuration file, a JSON document, a
    /// URL's password): see [`super::embedded`].
    #[serde(rename = "embedded")]
    Embedded,
}

impl Reason {
    /// The reason as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Strong => "strong",
            Reason::PrivateKey => "private-key",
            Reason::UrlCredentials => "url-credentials",
            Reason::Binary => "binary",
            Reason::ConfigValues => "redact.values",
            Reason::ConfigSecret => "redact.secret",
            Reason::ConfigPublic => "redact.public",
            Reason::TooShort => "too-short",
            Reason::Empty => "empty",
            Reason::PublicCertificate => "public-certificate",
            Reason::Boolean => "boolean",
            Reason::Number => "number",
            Reason::Duration => "duration",
            Reason::LogLevel => "log-level",
            Reason::Url => "url",
            Reason::Email => "email",
            Reason::Path => "path",
            Reason::Host => "host",
            Reason::Identifier => "identifier",
            Reason::Words => "words",
            Reason::Short => "short",
            Reason::LowEntropy => "low-entropy",
            Reason::ConfigKey => "config-key",
            Reason::Embedded => "embedded",
        }
    }

    /// A reason that, under a credential-named key, means the credential is weak.
    pub fn is_weak_credential(self) -> bool {
        matches!(
            self,
            Reason::Short
                | Reason::LowEntropy
                | Reason::Words
                | Reason::Identifier
                | Reason::Number
                | Reason::LogLevel
                | Reason::Duration
        )
    }

    /// Why, in words (for `secrets/weak-value`).
    pub fn explain(self) -> &'static str {
        match self {
            Reason::Short => "shorter than 8 characters",
            Reason::LowEntropy => "too few distinct characters or classes (under 40 bits)",
            Reason::Words => "one to three dictionary-like words",
            Reason::Identifier => "equal to a name of the render (namespace, resource, release or instance)",
            Reason::Number => "a number",
            Reason::LogLevel => "a log level name",
            Reason::Duration => "a duration",
            _ => "not a strong value",
        }
    }
}

/// The verdict on one value: class, reason, and whether the value is strong (a strong value
/// is searched for without token boundaries, and in every encoded form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Secret or configuration.
    pub class: Class,
    /// Why.
    pub reason: Reason,
    /// Strong enough to be found anywhere, in any form.
    pub strong: bool,
}

/// One `(Secret, key)` with its class and reason, for `--json` and render-meta. Names only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyClass {
    /// `Secret/namespace/name`.
    pub secret: String,
    /// The key.
    pub key: String,
    /// Secret or configuration.
    pub class: Class,
    /// Why (see the module docs).
    pub reason: Reason,
    /// Where inside the key's value, for a credential embedded in it (`$.auths['r'].password`,
    /// ``line 3 `DB_PASS` ``): keys only, never values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside: Option<String>,
}

/// The split words of a key, lowercased: `OPENPROJECT_HOST__NAME` → `openproject host name`,
/// `adminUser` → `admin user`, `tls.key` → `tls key`.
pub fn key_words(k: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in k.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Last words that make a key configuration even when an earlier word names a credential:
/// `JVB_AUTH_USER`, `FOG_CREDENTIALS_PROVIDER`, `AWS_ACCESS_KEY_ID`, `SIGNATURE_VERSION`.
const NOT_CREDENTIAL_LAST_WORDS: &[&str] =
    &["provider", "type", "mode", "method", "algorithm", "enabled", "length", "file", "format", "expiry", "ttl"];

/// Does the key name a credential (`DB_PASSWORD`, `apiKey`, `tls.key`, `client-secret`)? Not
/// when its last word names configuration (`JVB_AUTH_USER`, `ACCESS_KEY_ID`).
pub fn is_credential_key(k: &str) -> bool {
    let words = key_words(k);
    if words
        .last()
        .is_some_and(|w| CONFIG_KEY_WORDS.contains(&w.as_str()) || NOT_CREDENTIAL_LAST_WORDS.contains(&w.as_str()))
    {
        return false;
    }
    words.iter().any(|w| {
        CREDENTIAL_KEY_WORDS.contains(&w.as_str())
            || w.ends_with("password")
            || w.ends_with("secret")
            || w.ends_with("token")
            || w.ends_with("passwd")
    })
}

/// Does the URL `v` carry a password (`scheme://user:pass@host`)?
pub fn has_url_credentials(v: &str) -> bool {
    crate::scrub::url_spans(v).next().is_some_and(|u| u.password().is_some())
}

/// Estimated bits of a value: length × log2(size of the character classes it uses).
pub fn estimated_bits(v: &str) -> f64 {
    let (mut lower, mut upper, mut digit, mut other, mut wide) = (false, false, false, false, false);
    let mut n = 0usize;
    for c in v.chars() {
        n += 1;
        match c {
            'a'..='z' => lower = true,
            'A'..='Z' => upper = true,
            '0'..='9' => digit = true,
            c if c.is_ascii() => other = true,
            _ => wide = true,
        }
    }
    let pool = 26 * usize::from(lower)
        + 26 * usize::from(upper)
        + 10 * usize::from(digit)
        + 33 * usize::from(other)
        + 100 * usize::from(wide);
    if pool <= 1 {
        return 0.0;
    }
    n as f64 * (pool as f64).log2()
}

/// A dictionary-like word: 2–12 ASCII letters in one case (or capitalized), with a vowel and
/// no run of five consonants, optionally followed by up to 4 digits (`admin123`).
fn is_word_like(w: &str) -> bool {
    let letters = w.trim_end_matches(|c: char| c.is_ascii_digit());
    if w.len() - letters.len() > 4 || letters.len() < 2 || letters.len() > 12 {
        return false;
    }
    if !letters.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let rest = &letters[1..];
    let one_case = letters.bytes().all(|b| b.is_ascii_lowercase())
        || letters.bytes().all(|b| b.is_ascii_uppercase())
        || rest.bytes().all(|b| b.is_ascii_lowercase());
    if !one_case {
        return false;
    }
    let vowel = |b: u8| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u' | b'y');
    if !letters.bytes().any(vowel) {
        return false;
    }
    let mut run = 0;
    for b in letters.bytes() {
        run = if vowel(b) { 0 } else { run + 1 };
        if run >= 5 {
            return false;
        }
    }
    true
}

/// One to three dictionary-like words joined by `-`, `_`, `.`, ` ` (or nothing else).
pub fn is_words(v: &str) -> bool {
    let parts: Vec<&str> = v.split(['-', '_', '.', ' ']).collect();
    (1..=3).contains(&parts.len()) && parts.iter().all(|p| is_word_like(p))
}

fn is_duration(v: &str) -> bool {
    if crate::config::go_duration_ok(v) && v != "0" {
        return true;
    }
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&v[digits..], "d" | "w" | "y" | "ms" | "s" | "m" | "h" | "min" | "days" | "hours")
}

fn is_ipv4(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n < 256))
}

/// A lowercase dotted host name with a letter TLD, or an IPv4 address; optional `:port`.
pub fn is_host(v: &str) -> bool {
    let host = match v.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => v,
    };
    if is_ipv4(host) {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels.last().is_some_and(|t| t.bytes().all(|b| b.is_ascii_lowercase()))
}

fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.contains([':', '/', ' ', '@'])
                && local.len() <= 64
                && is_host(&domain.to_ascii_lowercase())
        }
        None => false,
    }
}

/// A segment that is not random: word-like, short, numeric, or words with an extension.
fn weak_segment(s: &str) -> bool {
    s.is_empty()
        || s.chars().count() < MIN_STRONG_LEN
        || is_words(s)
        || s.bytes().all(|b| b.is_ascii_digit())
        || s.split(['-', '_', '.']).all(|p| p.chars().count() < MIN_STRONG_LEN || is_word_like(p))
}

fn is_path(v: &str) -> bool {
    let rest = if let Some(r) = v.strip_prefix("~/").or(v.strip_prefix("./")).or(v.strip_prefix("../")) {
        r
    } else if let Some(r) = v.strip_prefix('/') {
        r
    } else {
        return false;
    };
    rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b'*' | b'@'))
        && rest.split('/').all(weak_segment)
}

fn is_plain_url(v: &str) -> bool {
    let Some(i) = v.find("://") else { return false };
    let scheme = &v[..i];
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
    {
        return false;
    }
    if has_url_credentials(v) || v.contains(char::is_whitespace) {
        return false;
    }
    // A random path or query segment (a webhook token, `?key=…`) makes it a secret.
    v[i + 3..].split(['/', '?', '&', '=', '#', ';', ',']).all(|s| s.chars().count() < 16 || weak_segment(s))
}

fn is_public_key_material(v: &str) -> bool {
    let pem_public = v.contains("-----BEGIN CERTIFICATE-----")
        || v.contains("-----BEGIN PUBLIC KEY-----")
        || v.contains("-----BEGIN RSA PUBLIC KEY-----")
        || v.contains("-----BEGIN X509 CRL-----")
        || v.contains("-----BEGIN TRUSTED CERTIFICATE-----");
    let ssh_public =
        ["ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-", "ssh-dss "].iter().any(|p| v.trim_start().starts_with(p))
            && !v.trim().contains('\n');
    (pem_public || ssh_public) && !v.contains("PRIVATE KEY")
}

/// Is the value strong enough to be a secret on its own (long, varied, not words)?
pub fn is_strong(v: &str) -> bool {
    let n = v.chars().count();
    if n < MIN_STRONG_LEN || is_words(v) {
        return false;
    }
    let distinct: HashSet<char> = v.chars().take(64).collect();
    distinct.len() >= 4 && estimated_bits(v) >= MIN_STRONG_BITS
}

/// The class of a value by the value alone (the first column of the module docs' table).
/// `ids` are the identifiers of the render.
pub fn value_class(value: &[u8], ids: &HashSet<&str>) -> (Class, Reason) {
    use Class::*;
    if value.is_empty() {
        return (Configuration, Reason::Empty);
    }
    let Ok(v) = std::str::from_utf8(value) else { return (Secret, Reason::Binary) };
    if v.trim().is_empty() {
        return (Configuration, Reason::Empty);
    }
    if v.contains("PRIVATE KEY-----") {
        return (Secret, Reason::PrivateKey);
    }
    if has_url_credentials(v) {
        return (Secret, Reason::UrlCredentials);
    }
    if is_public_key_material(v) {
        return (Configuration, Reason::PublicCertificate);
    }
    match resolve_plain(v) {
        Resolved::Bool(_) => return (Configuration, Reason::Boolean),
        Resolved::Int(_) | Resolved::Float(_) | Resolved::Null => return (Configuration, Reason::Number),
        Resolved::Str(_) => {}
    }
    if is_duration(v) {
        return (Configuration, Reason::Duration);
    }
    if LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(v)) {
        return (Configuration, Reason::LogLevel);
    }
    if is_plain_url(v) {
        return (Configuration, Reason::Url);
    }
    if is_email(v) {
        return (Configuration, Reason::Email);
    }
    if is_path(v) {
        return (Configuration, Reason::Path);
    }
    if is_host(v) {
        return (Configuration, Reason::Host);
    }
    if ids.contains(v) {
        return (Configuration, Reason::Identifier);
    }
    if is_words(v) {
        return (Configuration, Reason::Words);
    }
    if v.chars().count() < MIN_STRONG_LEN {
        return (Configuration, Reason::Short);
    }
    if !is_strong(v) {
        return (Configuration, Reason::LowEntropy);
    }
    (Secret, Reason::Strong)
}

/// Value first, key second: a strong value under a configuration key (and no credential
/// word) is configuration.
pub fn classify(key: &str, value: &[u8], ids: &HashSet<&str>) -> Verdict {
    let (class, reason) = value_class(value, ids);
    let strong = class == Class::Secret;
    if reason == Reason::Strong && !is_credential_key(key) {
        let words = key_words(key);
        if words.last().is_some_and(|w| CONFIG_KEY_WORDS.contains(&w.as_str())) {
            return Verdict { class: Class::Configuration, reason: Reason::ConfigKey, strong: false };
        }
    }
    Verdict { class, reason, strong }
}

/// A glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Does an override entry match the Secret `namespace/name` and key? A `secret` with a `/`
/// is matched against `namespace/name`, without one against the name.
pub fn override_matches(r: &SecretKeyRef, namespace: &str, name: &str, key: &str) -> bool {
    let who = if r.secret.contains('/') { format!("{namespace}/{name}") } else { name.to_string() };
    glob_match(&r.secret, &who) && glob_match(&r.key, key)
}

/// The identifiers of a render: every `metadata.name` and `metadata.namespace`, every release,
/// the instance and its namespace. Label values are not identifiers: a secret value that is
/// also used as a label value anywhere must not count as public.
pub fn identifiers<'d>(docs: &'d [Document], cfg: &'d InstanceConfig) -> HashSet<&'d str> {
    let mut ids: HashSet<&str> = HashSet::new();
    ids.insert(cfg.namespace.as_str());
    ids.insert(cfg.instance.as_str());
    for d in docs {
        ids.insert(&d.origin.release);
        if let Some(n) = d.name() {
            ids.insert(n);
        }
        if let Some(n) = d.namespace() {
            ids.insert(n);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(key: &str, v: &str) -> (Class, Reason) {
        let ids: HashSet<&str> = ["opendesk", "postgresql", "acme"].into_iter().collect();
        let v = classify(key, v.as_bytes(), &ids);
        (v.class, v.reason)
    }

    #[test]
    fn mattermost_like_configuration_is_not_secret() {
        use Class::Configuration as C;
        for (k, v, r) in [
            ("MM_FILESETTINGS_DRIVERNAME", "local", Reason::Words),
            ("MM_SQLSETTINGS_DRIVERNAME", "postgres", Reason::Words),
            ("MM_LOGSETTINGS_CONSOLELEVEL", "INFO", Reason::LogLevel),
            ("KC_LOG_LEVEL", "warning", Reason::LogLevel),
            ("MM_EMAILSETTINGS_SMTPSERVER", "smtp.example.org", Reason::Host),
            ("MM_EMAILSETTINGS_SMTPPORT", "587", Reason::Number),
            ("MM_SERVICESETTINGS_SITEURL", "https://chat.example.org/", Reason::Url),
            ("NO_PROXY", "svc.cluster.local", Reason::Host),
            ("DB_HOST", "postgresql.opendesk.svc.cluster.local:5432", Reason::Host),
            ("MM_FEEDBACK", "noreply@example.org", Reason::Email),
            ("DATA_DIR", "/usr/local/xwiki/data", Reason::Path),
            ("TIMEOUT", "30s", Reason::Duration),
            ("REDIS_SSL", "false", Reason::Boolean),
            ("root-user", "opendesk", Reason::Identifier),
            ("smtp-password", "pass", Reason::Words),
            ("smtp-password", "hunter2", Reason::Words),
            ("smtp-password", "x9!Kq", Reason::Short),
            ("password", "cassandra-secret", Reason::Words),
            ("password", "admin123", Reason::Words),
            ("password", "aaaaaaaaaaaaaaaa", Reason::LowEntropy),
            ("password", "", Reason::Empty),
            ("OIDC_CLIENT_ID", "8f3a9b2c-1d4e-4f6a-9b8c-7d6e5f4a3b2c", Reason::ConfigKey),
            ("TOKEN__ENDPOINT", "/realms/opendesk/protocol/openid-connect/token", Reason::Path),
        ] {
            assert_eq!(c(k, v), (C, r), "{k}={v}");
        }
    }

    #[test]
    fn credentials_are_secret() {
        use Class::Secret as S;
        for (k, v, r) in [
            ("password", "dummy-synapse-db-password", Reason::Strong),
            ("OPENPROJECT_FOG_CREDENTIALS_AWS__SECRET__ACCESS__KEY", "op-s3-secret", Reason::Strong),
            ("JVB_AUTH_PASSWORD", "r1TNpRBqoe", Reason::Strong),
            ("client_id_secret", "8f3a9b2c-1d4e-4f6a-9b8c-7d6e5f4a3b2c", Reason::Strong),
            ("DATABASE_URL", "postgresql://op:pg@postgresql:5432/op", Reason::UrlCredentials),
            ("WEBHOOK", "https://hooks.example.org/services/T000/Bq8xkW3nZr5tYp2LmV9c", Reason::Strong),
            ("tls.key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", Reason::PrivateKey),
        ] {
            assert_eq!(c(k, v), (S, r), "{k}={v}");
        }
        let ids = HashSet::new();
        assert_eq!(value_class(&[0xff, 0xfe], &ids), (Class::Secret, Reason::Binary));
        assert_eq!(
            value_class(b"-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n", &ids).1,
            Reason::PublicCertificate
        );
    }

    #[test]
    fn keys_and_globs() {
        assert_eq!(key_words("OPENPROJECT_HOST__NAME"), ["openproject", "host", "name"]);
        assert_eq!(key_words("adminUser"), ["admin", "user"]);
        assert!(is_credential_key("postgres-password"));
        assert!(is_credential_key("tls.key"));
        assert!(is_credential_key("clientSecret"));
        assert!(is_credential_key("DB_PASSWD"));
        assert!(!is_credential_key("MM_SQLSETTINGS_DRIVERNAME"));
        assert!(!is_credential_key("smtp-host"));
        assert!(!is_credential_key("JVB_AUTH_USER"));
        assert!(!is_credential_key("OPENPROJECT_FOG_CREDENTIALS_AWS__ACCESS__KEY__ID"));
        assert!(!is_credential_key("OPENPROJECT_FOG_CREDENTIALS_PROVIDER"));
        assert!(is_credential_key("OPENPROJECT_FOG_CREDENTIALS_AWS__SECRET__ACCESS__KEY"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("mm-*", "mm-config"));
        assert!(glob_match("MM_*LEVEL", "MM_LOGSETTINGS_CONSOLELEVEL"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("mm-*", "xmm-config"));
    }
}
