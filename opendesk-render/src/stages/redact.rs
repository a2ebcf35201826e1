//! Redact stage: no secret value outside the secret payload, and never a broken manifest.
//!
//! **Which values** ([`KnownSecrets::collect`]): every value of every Secret the ESO stage
//! converted (and of the dropped service-account-token / Helm release Secrets) is classified
//! *secret* or *configuration* by [`super::classify`] (strength first, key second, the
//! `redact.public` / `redact.secret` overrides last); `redact.values` entries are always
//! secrets. Only secret values are searched for, in every form [`super::forms`] lists (plain,
//! base64 at all alignments, URL-encoded, escaped, PEM lines). Strong values need no token
//! boundary; a value that is a secret only because the config says so, and is not strong, is
//! found on token boundaries only (`pass` is not found inside `proxy_pass`).
//!
//! **What happens to an occurrence** outside a Secret:
//!
//! - a whole container env `value:` equal to a Secret's value (a Secret converted in the same
//!   namespace) becomes `valueFrom.secretKeyRef` to that Secret and key: the ExternalSecret's
//!   target keeps the Secret's name, so the app keeps working and git holds no value. It is
//!   recorded as a change (`explain` shows it) and reported (`redact/secret-ref`, info);
//! - anywhere else (ConfigMap text, args, annotations, labels, CRD text, names, mapping keys):
//!   the render fails (`redact/inline-secret`, an error: exit 1) naming the resource, the path,
//!   the Secret and key whose value it is and the form, never the value, and what to do;
//! - with `redact.mode: mask` (an explicit choice) an occurrence inside a scalar value is
//!   replaced by [`MASK`] instead (`redact/masked`), and the masked documents are listed in
//!   the summary. Mapping keys are never masked, nor the ExternalSecrets the ESO stage
//!   generated: an occurrence there still fails the render.
//!
//! Head comments and `explain` change records are masked in any mode (`redact/comment-masked`,
//! info): they do not deploy. [`KnownSecrets::mask`] and [`KnownSecrets::contains`] are meant
//! for the caller too: render-meta, reports, error messages and logs go through them.
//!
//! Every `(Secret, key)` with its class and reason is in the report ([`RedactReport::secrets`])
//! and render-meta (names only).

use super::classify::{self, Class, KeyClass, Reason, MIN_SEARCH_LEN};
use super::eso::SecretPayload;
use super::forms::{self, Form};
use super::Seg;
use crate::checks::Check;
use crate::config::{InstanceConfig, RedactMode};
use crate::document::Document;
use crate::report::{Finding, Severity};
use crate::yaml::{path_to_string, Entry, Node, PathSeg, Pos, Scalar, Value};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Values shorter than this (in characters) are never searched for.
pub const MIN_SECRET_LEN: usize = MIN_SEARCH_LEN;

/// What a masked occurrence is replaced with.
pub const MASK: &str = "<redacted>";

const BY: &str = "stage:redact";

/// Whose value a known value is (names only).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    /// `Secret/namespace/name`, or a description (`redact.values`, a dropped Secret).
    pub resource: String,
    /// The Secret's name (empty when not a converted Secret).
    pub name: String,
    /// The namespace the Secret lands in (empty when not a converted Secret).
    pub namespace: String,
    /// The key (empty for `redact.values`).
    pub key: String,
    /// Where inside the key's value, for a credential embedded in it (empty: the whole value).
    /// Such a value cannot become a `secretKeyRef` (the key holds more than it).
    pub inside: String,
}

impl Owner {
    fn describe(&self) -> String {
        if self.key.is_empty() {
            self.resource.clone()
        } else if self.inside.is_empty() {
            format!("{} key `{}`", self.resource, self.key)
        } else {
            format!("{} key `{}` (the credential at {} inside it)", self.resource, self.key, self.inside)
        }
    }
}

#[derive(Clone)]
struct Known {
    /// The value's bytes (never shown).
    bytes: Vec<u8>,
    strong: bool,
    owners: Vec<Owner>,
}

/// One literal searched for: a form of a known value.
#[derive(Clone)]
struct Pattern {
    text: Box<str>,
    /// Index in [`KnownSecrets::values`].
    value: usize,
    form: Form,
    /// Whether each end needs a token boundary.
    bounded: (bool, bool),
}

/// The known secret values, with their forms and a matcher. `Debug` shows only the count.
///
/// The matcher samples each text at a fixed stride `S` (see [`Sampler`]) instead of running an
/// automaton over every byte: every pattern is at least `S + 3` bytes long, so an occurrence
/// covers exactly one sampled position `j` with its 4-byte window `text[j..j + 4]` at an
/// offset under `S` from the occurrence's start. The windows at offsets `0..S` of every
/// pattern are in a table (and a bitset of their hashes, the cheap "no" for the common case);
/// each window found is verified against the patterns it comes from. The search is exact
/// (every occurrence of every pattern, overlapping ones too) and reads a quarter to an eighth
/// of the 4-byte windows an automaton would step through; nothing is built per pattern byte,
/// which matters for PEM keys and config files thousands of bytes long in a dozen forms each.
#[derive(Clone, Default)]
pub struct KnownSecrets {
    values: Vec<Known>,
    patterns: Vec<Pattern>,
    sampler: Sampler,
}

/// Bits of the window-hash bitset (2^18 bits: 32 KiB, stays in the L1/L2 cache).
const SAMPLE_BITS: u32 = 18;

/// The largest sampling stride: more would put more windows per pattern in the table (and
/// the bitset would fill up) for little gain.
const MAX_STRIDE: usize = 8;

/// Shortest line of a wrapped base64 blob (MIME wraps at 76, PEM and `openssl` at 64).
pub const MIN_WRAP_WIDTH: usize = 16;

/// The window table of [`KnownSecrets`]' matcher.
#[derive(Clone, Default)]
struct Sampler {
    /// Distance between sampled positions (≥ 1); 0 when there is no pattern.
    stride: usize,
    /// Bit `hash(w)` is set for every window `w` in `windows`.
    bits: Vec<u64>,
    /// `(window, pattern, offset)`, sorted.
    windows: Vec<(u32, u32, u8)>,
}

fn window_hash(w: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B1) >> (32 - SAMPLE_BITS)) as usize
}

fn window_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Sampler {
    fn new(patterns: &[Pattern]) -> Self {
        let Some(shortest) = patterns.iter().map(|p| p.text.len()).min() else { return Sampler::default() };
        // Every pattern is at least MIN_SEARCH_LEN (4) bytes long.
        let stride = (shortest.saturating_sub(3)).clamp(1, MAX_STRIDE);
        let mut windows = Vec::with_capacity(patterns.len() * stride);
        let mut bits = vec![0u64; 1 << (SAMPLE_BITS - 6)];
        for (i, p) in patterns.iter().enumerate() {
            let b = p.text.as_bytes();
            for off in 0..stride {
                let w = window_at(b, off);
                windows.push((w, i as u32, off as u8));
                let h = window_hash(w);
                bits[h >> 6] |= 1 << (h & 63);
            }
        }
        windows.sort_unstable();
        Sampler { stride, bits, windows }
    }
}

impl fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnownSecrets(<{} values, {} patterns>)", self.values.len(), self.patterns.len())
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn prev_word(t: &str, at: usize) -> bool {
    t[..at].chars().next_back().is_some_and(is_word)
}

fn next_word(t: &str, at: usize) -> bool {
    t[at..].chars().next().is_some_and(is_word)
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// The base64 blobs of `text` wrapped at a fixed width: at least two consecutive lines of
/// base64 characters (indentation and trailing blanks aside), all as long as the first
/// (≥ [`MIN_WRAP_WIDTH`]) except the last, which is not longer. Each is returned joined, with
/// the byte offset in `text` of each of its bytes, so that a value's encoding split across
/// lines is found as it would be decoded.
fn wrapped_runs(text: &str) -> Vec<(String, Vec<usize>)> {
    let mut runs = Vec::new();
    // The current run: joined text, offsets, width, lines.
    let mut cur = (String::new(), Vec::new(), 0usize, 0usize);
    let flush = |cur: &mut (String, Vec<usize>, usize, usize), runs: &mut Vec<(String, Vec<usize>)>| {
        if cur.3 >= 2 {
            runs.push((std::mem::take(&mut cur.0), std::mem::take(&mut cur.1)));
        }
        *cur = (String::new(), Vec::new(), 0, 0);
    };
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let body = line.trim_start_matches([' ', '\t']);
        let lead = line.len() - body.len();
        let body = body.trim_end_matches(['\n', '\r', ' ', '\t']);
        let b64 = body.len() >= 2 && body.bytes().all(is_base64_byte);
        if !b64 {
            flush(&mut cur, &mut runs);
            continue;
        }
        // A line continues the run when the run's lines so far are all full width.
        let fits = cur.3 > 0 && cur.0.len() == cur.2 * cur.3 && body.len() <= cur.2;
        if !fits {
            flush(&mut cur, &mut runs);
            if body.len() < MIN_WRAP_WIDTH {
                continue;
            }
            cur.2 = body.len();
        }
        cur.0.push_str(body);
        cur.1.extend((0..body.len()).map(|i| start + lead + i));
        cur.3 += 1;
    }
    flush(&mut cur, &mut runs);
    runs
}

/// One occurrence in a text: byte range, the value (index) and the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Start byte.
    pub start: usize,
    /// End byte.
    pub end: usize,
    value: usize,
    /// The form found.
    pub form: Form,
}

impl KnownSecrets {
    /// Build from values as given: strong ones are searched in every form without token
    /// boundaries, others plainly on token boundaries; values under 4 characters are dropped.
    pub fn from_values<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: BTreeSet<String> = values.into_iter().map(Into::into).collect();
        let vals = set
            .into_iter()
            .map(|v| {
                let strong = classify::is_strong(&v);
                (v.into_bytes(), strong, Owner { resource: "a known value".into(), ..Default::default() })
            })
            .collect();
        Self::build(vals)
    }

    /// Build from `(bytes, strong, owner)`; the same bytes from several owners are one value.
    fn build(items: Vec<(Vec<u8>, bool, Owner)>) -> Self {
        let mut by_bytes: BTreeMap<Vec<u8>, Known> = BTreeMap::new();
        for (bytes, strong, owner) in items {
            let long_enough = match std::str::from_utf8(&bytes) {
                Ok(t) => t.chars().count() >= MIN_SEARCH_LEN,
                Err(_) => bytes.len() >= MIN_SEARCH_LEN,
            };
            if !long_enough {
                continue;
            }
            let k = by_bytes.entry(bytes.clone()).or_insert_with(|| Known { bytes, strong, owners: Vec::new() });
            k.strong |= strong;
            if !k.owners.contains(&owner) {
                k.owners.push(owner);
            }
        }
        let values: Vec<Known> = by_bytes.into_values().collect();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (i, k) in values.iter().enumerate() {
            for (text, form) in forms::forms(&k.bytes, k.strong) {
                if seen.contains(&text) {
                    continue;
                }
                seen.insert(text.clone());
                let bounded = if k.strong {
                    (false, false)
                } else {
                    (
                        text.chars().next().is_some_and(char::is_alphanumeric),
                        text.chars().next_back().is_some_and(char::is_alphanumeric),
                    )
                };
                patterns.push(Pattern { text: text.into_boxed_str(), value: i, form, bounded });
            }
        }
        let sampler = Sampler::new(&patterns);
        KnownSecrets { values, patterns, sampler }
    }

    /// Classify the values of a render and collect the secret ones: the payload's values (see
    /// [`super::classify`], with the identifiers found in `docs`) and `cfg.redact.values`.
    pub fn collect(payload: &SecretPayload, cfg: &InstanceConfig, docs: &[Document]) -> (Self, Selection) {
        let ids = classify::identifiers(docs, cfg);
        let r = &cfg.redact;
        let mut used_public = vec![false; r.public.len()];
        let mut used_secret = vec![false; r.secret.len()];
        let mut sel = Selection::default();
        let mut items: Vec<(Vec<u8>, bool, Owner)> = Vec::new();
        for e in &payload.entries {
            let name = e.resource.name.as_str();
            let resource = format!("Secret/{}/{name}", e.namespace);
            for (k, v) in &e.properties {
                let mut verdict = classify::classify(k, v.expose(), &ids);
                let forced_secret: Vec<usize> = (0..r.secret.len())
                    .filter(|&i| classify::override_matches(&r.secret[i], &e.namespace, name, k))
                    .collect();
                let forced_public: Vec<usize> = (0..r.public.len())
                    .filter(|&i| classify::override_matches(&r.public[i], &e.namespace, name, k))
                    .collect();
                forced_secret.iter().for_each(|&i| used_secret[i] = true);
                forced_public.iter().for_each(|&i| used_public[i] = true);
                let weak_reason = verdict.reason;
                if !forced_secret.is_empty() {
                    if verdict.class != Class::Secret {
                        verdict.reason = if v.len() < MIN_SEARCH_LEN { Reason::TooShort } else { Reason::ConfigSecret };
                        verdict.class =
                            if verdict.reason == Reason::TooShort { Class::Configuration } else { Class::Secret };
                    }
                } else if !forced_public.is_empty() {
                    verdict.class = Class::Configuration;
                    verdict.reason = Reason::ConfigPublic;
                    verdict.strong = false;
                }
                let owner = Owner {
                    resource: resource.clone(),
                    name: name.to_string(),
                    namespace: e.namespace.clone(),
                    key: k.clone(),
                    inside: String::new(),
                };
                let mut inside = Vec::new();
                if forced_public.is_empty() {
                    for inner in super::embedded::inner_credentials(v.expose()) {
                        inside.push(KeyClass {
                            secret: resource.clone(),
                            key: k.clone(),
                            class: Class::Secret,
                            reason: Reason::Embedded,
                            inside: Some(inner.path.clone()),
                        });
                        let owner = Owner { inside: inner.path, ..owner.clone() };
                        items.push((inner.value.into_bytes(), true, owner));
                    }
                }
                if verdict.class == Class::Secret {
                    items.push((v.expose().to_vec(), verdict.strong, owner));
                } else if forced_public.is_empty()
                    && forced_secret.is_empty()
                    && weak_reason.is_weak_credential()
                    && classify::is_credential_key(k)
                {
                    sel.weak.push(WeakValue {
                        secret: resource.clone(),
                        key: k.clone(),
                        reason: weak_reason,
                        origin: e.origin.to_string(),
                        name: name.to_string(),
                        namespace: e.namespace.clone(),
                        bytes: v.expose().to_vec(),
                    });
                }
                sel.secrets.push(KeyClass {
                    secret: resource.clone(),
                    key: k.clone(),
                    class: verdict.class,
                    reason: verdict.reason,
                    inside: None,
                });
                sel.secrets.extend(inside);
            }
        }
        let converted: usize = payload.entries.iter().map(|e| e.properties.len()).sum();
        for (k, v) in payload.values().skip(converted) {
            let verdict = classify::classify(k, v.expose(), &ids);
            if verdict.class == Class::Secret {
                let owner = Owner { resource: "a dropped Secret".into(), key: k.to_string(), ..Default::default() };
                items.push((v.expose().to_vec(), verdict.strong, owner));
            }
        }
        let config: BTreeSet<&String> =
            r.values.iter().filter(|v| v.chars().count() >= MIN_SEARCH_LEN).collect::<BTreeSet<_>>();
        sel.from_config = config.len();
        for v in config {
            let owner = Owner { resource: "a `redact.values` entry".into(), ..Default::default() };
            items.push((v.as_bytes().to_vec(), classify::is_strong(v), owner));
        }
        for (list, used, field) in [(&r.public, &used_public, "public"), (&r.secret, &used_secret, "secret")] {
            for (e, used) in list.iter().zip(used.iter()) {
                if !used {
                    sel.unknown_overrides.push(format!(
                        "redact.{field} {{secret: {}, key: {}}}{}",
                        e.secret,
                        e.key,
                        if e.line > 0 { format!(" (line {})", e.line) } else { String::new() }
                    ));
                }
            }
        }
        let known = KnownSecrets::build(items);
        sel.known = known.len();
        sel.secret_keys = sel.secrets.iter().filter(|c| c.class == Class::Secret).count();
        sel.configuration_keys = sel.secrets.len() - sel.secret_keys;
        (known, sel)
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn bounded_ok(&self, text: &str, pattern: usize, s: usize, e: usize) -> bool {
        let (bs, be) = self.patterns[pattern].bounded;
        !((bs && prev_word(text, s)) || (be && next_word(text, e)))
    }

    /// Every occurrence in `text` (token rules applied), in no particular order:
    /// `f(pattern, start)`; stops when `f` returns true (and returns true).
    fn search(&self, text: &str, f: &mut dyn FnMut(usize, usize) -> bool) -> bool {
        let sm = &self.sampler;
        let b = text.as_bytes();
        if sm.stride == 0 || b.len() < sm.stride + 3 {
            return false;
        }
        let mut j = 0;
        while j + 4 <= b.len() {
            let w = window_at(b, j);
            let h = window_hash(w);
            if sm.bits[h >> 6] & (1 << (h & 63)) != 0 {
                let lo = sm.windows.partition_point(|e| e.0 < w);
                for &(ww, p, off) in &sm.windows[lo..] {
                    if ww != w {
                        break;
                    }
                    let (p, off) = (p as usize, usize::from(off));
                    let Some(start) = j.checked_sub(off) else { continue };
                    let pat = self.patterns[p].text.as_bytes();
                    if b[start..].starts_with(pat) && self.bounded_ok(text, p, start, start + pat.len()) && f(p, start)
                    {
                        return true;
                    }
                }
            }
            j += sm.stride;
        }
        false
    }

    /// Occurrences in `text` found directly (not across wrapped lines), unsorted.
    fn direct_hits(&self, text: &str, out: &mut Vec<Hit>) {
        self.search(text, &mut |p, start| {
            let pat = &self.patterns[p];
            out.push(Hit { start, end: start + pat.text.len(), value: pat.value, form: pat.form });
            false
        });
    }

    /// Base64 forms split across the lines of a wrapped blob in `text` ([`Form::Base64Wrapped`]),
    /// as byte ranges of `text` (line breaks and indentation included); those within one line
    /// are direct hits. `first_only`: stop at the first.
    fn wrapped_hits(&self, text: &str, out: &mut Vec<Hit>, first_only: bool) {
        if !text.as_bytes().contains(&b'\n') {
            return;
        }
        for (joined, at) in wrapped_runs(text) {
            let mut found = Vec::new();
            self.direct_hits(&joined, &mut found);
            for h in found {
                if !matches!(h.form, Form::Base64 | Form::Base64Url) {
                    continue;
                }
                let (s, e) = (at[h.start], at[h.end - 1] + 1);
                if e - s == h.end - h.start {
                    // On one line: found directly.
                    continue;
                }
                out.push(Hit { start: s, end: e, value: h.value, form: Form::Base64Wrapped });
                if first_only {
                    return;
                }
            }
        }
    }

    /// Every occurrence in `text` with its value and form (token rules applied), by start.
    pub fn hits(&self, text: &str) -> Vec<Hit> {
        let mut r = Vec::new();
        self.direct_hits(text, &mut r);
        self.wrapped_hits(text, &mut r, false);
        r.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end), h.value, h.form));
        r.dedup();
        r
    }

    /// Byte ranges of the occurrences in `text` (token rules applied, merged, sorted).
    pub fn find(&self, text: &str) -> Vec<(usize, usize)> {
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for h in self.hits(text) {
            match merged.last_mut() {
                Some(last) if h.start <= last.1 => last.1 = last.1.max(h.end),
                _ => merged.push((h.start, h.end)),
            }
        }
        merged
    }

    /// Does `text` contain a known value (in any form)?
    pub fn contains(&self, text: &str) -> bool {
        self.contains_direct(text) || self.contains_wrapped(text)
    }

    /// Hot path (every scalar of every document): stop at the first match, no allocation.
    fn contains_direct(&self, text: &str) -> bool {
        self.search(text, &mut |_, _| true)
    }

    fn contains_wrapped(&self, text: &str) -> bool {
        let mut found = Vec::new();
        self.wrapped_hits(text, &mut found, true);
        !found.is_empty()
    }

    /// Does any scalar or mapping key of `n` contain a known value?
    pub fn any_in(&self, n: &Node) -> bool {
        !self.text_hits(n, true).is_empty()
    }

    /// Which texts of `n` contain a known value: their indices in [`Node::any_text`] order
    /// (every mapping key before its value), ascending.
    pub fn hits_in(&self, n: &Node) -> Vec<usize> {
        self.text_hits(n, false)
    }

    fn text_hits(&self, n: &Node, first_only: bool) -> Vec<usize> {
        let mut hits = Vec::new();
        if self.sampler.stride == 0 {
            return hits;
        }
        let mut idx = 0usize;
        n.any_text(&mut |t| {
            let found = self.contains_direct(t) || (t.len() > 2 * MIN_WRAP_WIDTH && self.contains_wrapped(t));
            if found {
                hits.push(idx);
            }
            idx += 1;
            found && first_only
        });
        hits
    }

    /// `path` as a normalized JSONPath with every known value in its keys masked: where a
    /// value was found may be reported, the value never.
    pub fn masked_path(&self, path: &[PathSeg]) -> String {
        let safe: Vec<PathSeg> = path
            .iter()
            .map(|p| match p {
                PathSeg::Key(k) => PathSeg::Key(self.mask(k).into_owned()),
                i => i.clone(),
            })
            .collect();
        path_to_string(&safe)
    }

    /// `text` with every occurrence (in any form) replaced by [`MASK`].
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let ranges = self.find(text);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in ranges {
            out.push_str(&text[at..s]);
            out.push_str(MASK);
            at = e;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The owners of a value, for messages (names only).
    fn owners(&self, value: usize) -> &[Owner] {
        &self.values[value].owners
    }

    /// The value with index `value` equals `text` exactly.
    fn equals(&self, value: usize, text: &str) -> bool {
        self.values[value].bytes == text.as_bytes()
    }
}

/// A weak value under a credential-named key (names only; the bytes stay in the process to
/// rewrite an env value that equals them).
#[derive(Clone)]
pub struct WeakValue {
    /// `Secret/namespace/name`.
    pub secret: String,
    /// The key.
    pub key: String,
    /// Why it is weak.
    pub reason: Reason,
    /// The Secret's origin.
    pub origin: String,
    name: String,
    namespace: String,
    bytes: Vec<u8>,
}

impl fmt::Debug for WeakValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WeakValue({}#{}: {})", self.secret, self.key, self.reason.as_str())
    }
}

/// How the values were classified (names and counts only).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// Distinct values searched for.
    pub known: usize,
    /// Of which from `redact.values`.
    pub from_config: usize,
    /// `(Secret, key)` pairs classified secret.
    pub secret_keys: usize,
    /// `(Secret, key)` pairs classified configuration.
    pub configuration_keys: usize,
    /// Every `(Secret, key)` with its class and reason, in payload order.
    #[serde(skip)]
    pub secrets: Vec<KeyClass>,
    /// Weak values under credential-named keys.
    #[serde(skip)]
    pub weak: Vec<WeakValue>,
    /// `redact.public` / `redact.secret` entries that matched nothing.
    pub unknown_overrides: Vec<String>,
}

/// What was done about an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The render fails (`redact/inline-secret`).
    Refused,
    /// Masked (`redact.mode: mask`).
    Masked,
    /// A whole env value became `valueFrom.secretKeyRef`.
    SecretRef,
    /// In a head comment or change record: masked.
    CommentMasked,
}

/// A secret value found outside its Secret: where, whose, which form, what was done. Never
/// the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Occurrence {
    /// `Kind/namespace/name`.
    pub resource: String,
    /// `release/file:line`.
    pub origin: String,
    /// JSONPath of the text (keys in it masked); `#head-comment` / `#change-record` for the
    /// document's head comments and `explain` records; ` (key)` appended for a mapping key.
    pub path: String,
    /// Whose value (`Secret/namespace/name key `k``, or `a `redact.values` entry`).
    pub secret: String,
    /// The form found.
    pub form: Form,
    /// What was done.
    pub action: Action,
}

/// The redact stage's report.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactReport {
    /// `redact.mode`: `refuse` or `mask`.
    pub mode: &'static str,
    /// `redact.strict` (weak values are errors).
    pub strict: bool,
    /// How the values were classified.
    pub selection: Selection,
    /// Every `(Secret, key)` with its class and reason (names only).
    pub secrets: Vec<KeyClass>,
    /// Every occurrence, in document order.
    pub occurrences: Vec<Occurrence>,
    /// Documents masked under `redact.mode: mask` (`Kind/namespace/name`).
    pub masked_documents: Vec<String>,
    /// The findings (one per occurrence, weak value and unknown override).
    pub findings: Vec<Finding>,
}

impl RedactReport {
    /// Occurrences with this action.
    pub fn count(&self, a: Action) -> usize {
        self.occurrences.iter().filter(|o| o.action == a).count()
    }
}

/// What the redact stage returns.
#[derive(Debug, Clone, Default)]
pub struct RedactOutput {
    /// The report.
    pub report: RedactReport,
    /// The known values, for the guards and for scrubbing anything else the caller prints.
    pub known: KnownSecrets,
    /// Per document (in order): its tree held no known value when scanned and was not
    /// changed, so the plaintext-secrets guard need not search it again; empty when nothing
    /// was scanned.
    pub root_clean: Vec<bool>,
    /// Per document (in order): the paths of the scalar values refused
    /// (`redact/inline-secret`), as reported. The plaintext-secrets guard does not report them
    /// a second time (one finding per problem); empty when nothing was scanned.
    pub refused: Vec<Vec<String>>,
}

/// Is `path` a container env entry's `value` (`…containers[i].env[j].value`, also
/// `initContainers`, `ephemeralContainers`)? Returns the path of the env entry.
fn env_value_entry(path: &[PathSeg]) -> Option<&[PathSeg]> {
    let n = path.len();
    if n < 5 {
        return None;
    }
    match (&path[n - 5], &path[n - 4], &path[n - 3], &path[n - 2], &path[n - 1]) {
        (PathSeg::Key(c), PathSeg::Index(_), PathSeg::Key(env), PathSeg::Index(_), PathSeg::Key(v))
            if matches!(c.as_str(), "containers" | "initContainers" | "ephemeralContainers")
                && env == "env"
                && v == "value" =>
        {
            Some(&path[..n - 1])
        }
        _ => None,
    }
}

/// One text of a document holding a known value.
struct TextHit {
    path: Vec<PathSeg>,
    is_key: bool,
    /// Where the text is (its line and column; `0:0` for a node a stage made).
    pos: Pos,
    text_index: usize,
    hits: Vec<Hit>,
    /// For a whole env value: the Secret to reference.
    env_ref: Option<Owner>,
}

/// Visitor of [`walk`]: `(path, text, is_key, pos)`.
type Visit<'v, 'a> = dyn FnMut(&[Seg<'a>], &'a str, bool, Pos) + 'v;

/// Walk a node: `f(path, text, is_key, pos)` for every scalar value and mapping key, in
/// [`Node::any_text`] order.
fn walk<'a>(n: &'a Node, path: &mut Vec<Seg<'a>>, f: &mut Visit<'_, 'a>) {
    match &n.value {
        Value::Scalar(s) => f(path, &s.text, false, n.pos()),
        Value::Seq(items) => {
            for (i, c) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(c, path, f);
                path.pop();
            }
        }
        Value::Map(m) => {
            for e in m {
                path.push(Seg::Key(&e.key.text));
                f(path, &e.key.text, true, Pos { line: e.key_line, col: e.key_col });
                walk(&e.value, path, f);
                path.pop();
            }
        }
    }
}

/// Was this document generated by the ESO stage?
fn generated_external_secret(d: &Document) -> bool {
    d.kind() == Some("ExternalSecret") && d.changes.iter().any(|c| c.by == "stage:eso")
}

/// What [`scan`] found in one document.
struct Scan {
    hits: Vec<TextHit>,
    comments: bool,
    records: bool,
    weak_refs: Vec<(Vec<PathSeg>, Owner, Pos)>,
}

/// Scan one document: the texts holding a known value (with the env references that can
/// replace them), and whether the head comments / change records hold one.
fn scan(d: &Document, known: &KnownSecrets, weak: &[WeakValue], default_ns: &str) -> Scan {
    if super::eso::is_secret(d) {
        return Scan { hits: Vec::new(), comments: false, records: false, weak_refs: Vec::new() };
    }
    let comments = d.head_comments.iter().any(|c| known.contains(c));
    let records =
        d.changes.iter().any(|c| known.contains(&c.path) || c.detail.as_deref().is_some_and(|t| known.contains(t)));
    let ns = d.namespace().unwrap_or(default_ns);
    // Weak credential values are not searched for, but a whole env value equal to one, under
    // an env name that names a credential, is still better as a reference.
    let mut weak_refs: Vec<(Vec<PathSeg>, Owner, Pos)> = Vec::new();
    if !weak.is_empty() {
        if let (Some(spec_path), Some(spec)) = (super::pod_spec_path(d), super::pod_spec(d)) {
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                for (ci, c) in spec.get(list).and_then(Node::as_seq).into_iter().flatten().enumerate() {
                    for (ei, e) in c.get("env").and_then(Node::as_seq).into_iter().flatten().enumerate() {
                        let (Some(name), Some(value)) = (e.get("name").and_then(Node::scalar_text), e.get("value"))
                        else {
                            continue;
                        };
                        let Some(text) = value.scalar_text() else { continue };
                        if !classify::is_credential_key(name) {
                            continue;
                        }
                        let Some(w) = weak.iter().find(|w| w.namespace == ns && w.bytes == text.as_bytes()) else {
                            continue;
                        };
                        let mut entry = spec_path.clone();
                        entry.extend([
                            PathSeg::Key(list.into()),
                            PathSeg::Index(ci),
                            PathSeg::Key("env".into()),
                            PathSeg::Index(ei),
                        ]);
                        let owner = Owner {
                            resource: w.secret.clone(),
                            name: w.name.clone(),
                            namespace: w.namespace.clone(),
                            key: w.key.clone(),
                            inside: String::new(),
                        };
                        weak_refs.push((entry, owner, value.pos()));
                    }
                }
            }
        }
    }
    let idx_hits = known.hits_in(&d.root);
    if idx_hits.is_empty() {
        return Scan { hits: Vec::new(), comments, records, weak_refs };
    }
    let mut out: Vec<TextHit> = Vec::new();
    let (mut idx, mut next) = (0usize, 0usize);
    walk(&d.root, &mut Vec::new(), &mut |path, text, is_key, pos| {
        if idx_hits.get(next) == Some(&idx) {
            next += 1;
            let owned: Vec<PathSeg> = path.iter().map(Seg::owned).collect();
            let hits = known.hits(text);
            let env_ref = if is_key {
                None
            } else {
                env_value_entry(&owned).and_then(|_| {
                    hits.iter().filter(|h| h.form == Form::Plain && h.start == 0 && h.end == text.len()).find_map(|h| {
                        known.equals(h.value, text).then(|| {
                            known
                                .owners(h.value)
                                .iter()
                                .find(|o| !o.name.is_empty() && o.inside.is_empty() && o.namespace == ns)
                                .cloned()
                        })?
                    })
                })
            };
            out.push(TextHit { path: owned, is_key, pos, text_index: idx, hits, env_ref });
        }
        idx += 1;
    });
    Scan { hits: out, comments, records, weak_refs }
}

/// Replace the env entry at `entry` by `{name, valueFrom: {secretKeyRef: {name, key}}}`.
fn rewrite_env(root: &mut Node, entry: &[PathSeg], owner: &Owner) -> bool {
    let Some(e) = root.at_mut(entry) else { return false };
    if e.remove("value").is_none() {
        return false;
    }
    let map_of = |entries: Vec<(&str, Node)>| {
        Node::new(Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Entry { key: Scalar::string(k), key_line: 0, key_col: 0, value: v })
                .collect(),
        ))
    };
    let r = map_of(vec![("name", Node::string(owner.name.as_str())), ("key", Node::string(owner.key.as_str()))]);
    e.insert("valueFrom", map_of(vec![("secretKeyRef", r)]))
}

fn mask_scalar(s: &mut Scalar, known: &KnownSecrets) -> bool {
    if let Cow::Owned(t) = known.mask(&s.text) {
        *s = Scalar::string(t);
        return true;
    }
    false
}

/// Mask the scalar values (never keys) of `n` whose [`Node::any_text`] index is in `targets`
/// (ascending): the walk visits the texts in the same order and stops after the last one.
fn mask_at(n: &mut Node, known: &KnownSecrets, targets: &[usize], idx: &mut usize, next: &mut usize) {
    match &mut n.value {
        Value::Scalar(s) => {
            if targets.get(*next) == Some(idx) {
                *next += 1;
                mask_scalar(s, known);
            }
            *idx += 1;
        }
        Value::Seq(items) => {
            for c in items {
                if *next == targets.len() {
                    return;
                }
                mask_at(c, known, targets, idx, next);
            }
        }
        Value::Map(m) => {
            for e in m.iter_mut() {
                if *next == targets.len() {
                    return;
                }
                // A key's index: keys are never masked.
                *idx += 1;
                mask_at(&mut e.value, known, targets, idx, next);
            }
        }
    }
}

fn mask_comments(d: &mut Document, known: &KnownSecrets) {
    for c in &mut d.head_comments {
        if let Cow::Owned(t) = known.mask(c) {
            *c = t;
        }
    }
    for c in &mut d.changes {
        if let Cow::Owned(t) = known.mask(&c.path) {
            c.path = t;
        }
        if let Some(Cow::Owned(t)) = c.detail.as_deref().map(|t| known.mask(t)) {
            c.detail = Some(t);
        }
    }
}

/// Mask every known value in `s` (in place; unchanged when it holds none).
pub fn scrub(known: &KnownSecrets, s: &mut String) {
    if known.contains(s) {
        *s = known.mask(s).into_owned();
    }
}

/// Scrub findings: message, resource, origin and path.
pub fn scrub_findings(known: &KnownSecrets, findings: &mut [Finding]) {
    for f in findings {
        scrub(known, &mut f.message);
        for o in [&mut f.resource, &mut f.origin, &mut f.path].into_iter().flatten() {
            scrub(known, o);
        }
    }
}

const WHAT_TO_DO: &str = "reference the Secret instead (env valueFrom.secretKeyRef, envFrom, a secret volume, or the \
                          chart's existingSecret option), or fix the manifest with an override (docs/config.md, \
                          \"A chart inlines a secret\"); if the value is not a secret, list the key in `redact.public`";

/// Classify, then rewrite env values to references, refuse (or, with `redact.mode: mask`,
/// mask) every other occurrence, and report.
pub fn redact(docs: &mut [Document], cfg: &InstanceConfig, payload: &SecretPayload) -> RedactOutput {
    let (known, mut selection) = KnownSecrets::collect(payload, cfg, docs);
    let mode = cfg.redact.mode;
    let strict = cfg.redact.strict;
    let mut report = RedactReport {
        mode: match mode {
            RedactMode::Refuse => "refuse",
            RedactMode::Mask => "mask",
        },
        strict,
        secrets: std::mem::take(&mut selection.secrets),
        ..Default::default()
    };
    for w in &selection.weak {
        let mut f = Finding::of(
            Check::SecretsWeakValue,
            format!(
                "{} key `{}` names a credential, but its value is too weak to be searched for ({}): it could be \
                 inlined anywhere unnoticed and is guessable. Use a strong generated value, or list the key in \
                 `redact.secret` to search for it anyway (or in `redact.public` if it is not a secret)",
                w.secret,
                w.key,
                w.reason.explain()
            ),
        );
        f.resource = Some(w.secret.clone());
        f.origin = Some(w.origin.clone());
        if strict {
            f.severity = Severity::Error;
        }
        report.findings.push(f);
    }
    for u in &selection.unknown_overrides {
        report.findings.push(Finding::of(
            Check::RedactUnknownOverride,
            format!("{u} matches no key of any converted Secret: check the Secret name (`name` or `namespace/name`) and the key"),
        ));
    }
    let weak = std::mem::take(&mut selection.weak);
    report.selection = selection;
    if known.is_empty() && weak.is_empty() {
        return RedactOutput { report, known, root_clean: Vec::new(), refused: Vec::new() };
    }
    let default_ns = cfg.namespace.as_str();
    let scans: Vec<_> = crate::par::map(docs, Document::weight, |d| scan(d, &known, &weak, default_ns));
    let mut root_clean = Vec::with_capacity(docs.len());
    let mut refused = Vec::with_capacity(docs.len());
    for (d, Scan { hits, comments, records, weak_refs }) in docs.iter_mut().zip(scans) {
        root_clean.push(hits.is_empty() && weak_refs.is_empty() && !super::eso::is_secret(d));
        let id = d.id();
        let resource = known.mask(&id.to_string()).into_owned();
        let generated = generated_external_secret(d);
        let mut mask_targets: Vec<usize> = Vec::new();
        let mut masked_paths: Vec<String> = Vec::new();
        let mut refused_paths: Vec<String> = Vec::new();
        // Env references: weak ones first (not searched), then the known ones.
        let mut refs: Vec<(Vec<PathSeg>, Owner, Form, Pos)> =
            weak_refs.into_iter().map(|(p, o, pos)| (p, o, Form::Plain, pos)).collect();
        for th in &hits {
            let path_text = known.masked_path(&th.path);
            let path_text = if th.is_key { format!("{path_text} (key)") } else { path_text };
            let first = th.hits[0];
            let whose = known.owners(first.value).first().map(Owner::describe).unwrap_or_default();
            if let Some(owner) = &th.env_ref {
                refs.push((th.path[..th.path.len() - 1].to_vec(), owner.clone(), first.form, th.pos));
                continue;
            }
            let can_mask = mode == RedactMode::Mask && !th.is_key && !generated;
            let action = if can_mask { Action::Masked } else { Action::Refused };
            let origin = super::origin_at(d, th.pos.line);
            report.occurrences.push(Occurrence {
                resource: resource.clone(),
                origin: origin.clone(),
                path: path_text.clone(),
                secret: whose.clone(),
                form: first.form,
                action,
            });
            if !can_mask && !th.is_key {
                refused_paths.push(path_text.clone());
            }
            let mut f = if can_mask {
                mask_targets.push(th.text_index);
                masked_paths.push(path_text.clone());
                Finding::of(
                    Check::RedactMasked,
                    format!(
                        "the value of {whose} ({} form) was inlined here and is masked as {MASK} (redact.mode: \
                         mask); the manifest may not work as before: {WHAT_TO_DO}",
                        first.form.as_str()
                    ),
                )
            } else {
                let why = if th.is_key {
                    " in a mapping key (never masked)"
                } else if generated {
                    " in an ExternalSecret the ESO stage generated (never masked)"
                } else {
                    ""
                };
                Finding::of(
                    Check::RedactInlineSecret,
                    format!(
                        "the value of {whose} is inlined here{why} ({} form): git would hold it. The render stops; \
                         {WHAT_TO_DO}",
                        first.form.as_str()
                    ),
                )
            };
            f.resource = Some(resource.clone());
            f.origin = Some(origin);
            f.location = Some(d.origin.location(th.pos));
            f.path = Some(path_text);
            report.findings.push(f);
        }
        for (entry, owner, form, pos) in refs {
            if !rewrite_env(&mut d.root, &entry, &owner) {
                continue;
            }
            let p = path_to_string(&entry);
            d.record(BY, "secret-ref", p.clone(), Some(format!("value → valueFrom.secretKeyRef {}", owner.describe())));
            let origin = super::origin_at(d, pos.line);
            report.occurrences.push(Occurrence {
                resource: resource.clone(),
                origin: origin.clone(),
                path: format!("{p}.value"),
                secret: owner.describe(),
                form,
                action: Action::SecretRef,
            });
            let mut f = Finding::of(
                Check::RedactSecretRef,
                format!(
                    "this env value was the value of {}: it now reads it with valueFrom.secretKeyRef (the \
                     ExternalSecret's target keeps the Secret's name), so git holds no value",
                    owner.describe()
                ),
            );
            f.resource = Some(resource.clone());
            f.origin = Some(origin);
            f.location = Some(d.origin.location(pos));
            f.path = Some(p);
            report.findings.push(f);
        }
        refused.push(refused_paths);
        if !mask_targets.is_empty() {
            mask_at(&mut d.root, &known, &mask_targets, &mut 0, &mut 0);
            for p in masked_paths {
                d.record(BY, "mask", p, None);
            }
            report.masked_documents.push(resource.clone());
        }
        if comments || records {
            mask_comments(d, &known);
            let what = match (comments, records) {
                (true, true) => "a head comment and an `explain` record",
                (true, false) => "a head comment",
                _ => "an `explain` record",
            };
            let mut f = Finding::of(
                Check::RedactCommentMasked,
                format!("{what} of this document held a secret value; it is masked as {MASK} (nothing that deploys changed)"),
            );
            f.resource = Some(resource.clone());
            f.origin = Some(d.origin.to_string());
            report.findings.push(f);
            report.occurrences.push(Occurrence {
                resource: resource.clone(),
                origin: d.origin.to_string(),
                path: if comments { "#head-comment".into() } else { "#change-record".into() },
                secret: String::new(),
                form: Form::Plain,
                action: Action::CommentMasked,
            });
        }
    }
    report.masked_documents.sort();
    report.masked_documents.dedup();
    RedactOutput { report, known, root_clean, refused }
}

/// The `redact` stage ([`redact`]). Once the known values are collected, everything merged so
/// far that leaves the process is scrubbed: findings, guard messages, the inventory's images,
/// and document origins (`explain` prints them, and the output gives a document without a
/// `# Source:` comment one from its origin file). Later stages' findings are scrubbed as the
/// pipeline merges them.
pub struct RedactStage;

impl crate::pipeline::Stage for RedactStage {
    fn name(&self) -> &'static str {
        "redact"
    }

    fn label(&self) -> &'static str {
        "redacting secret values"
    }

    fn run(&self, cx: &mut crate::pipeline::RenderContext<'_>) -> Result<Vec<Finding>, crate::pipeline::RenderError> {
        let r = redact(&mut cx.docs, cx.cfg, &cx.eso.payload);
        let found = r.report.findings.clone();
        cx.redact = Some(r);
        let known = &cx.redact.as_ref().expect("set above").known;
        scrub_findings(known, &mut cx.findings);
        for m in cx.guards.iter_mut().filter_map(|g| g.message.as_mut()) {
            super::guards::scrub_guard_message(Some(known), m);
        }
        let scrub_sorted = |images: &mut Vec<String>| {
            if images.iter().any(|i| known.contains(i)) {
                images.iter_mut().for_each(|i| scrub(known, i));
                images.sort_unstable();
                images.dedup();
            }
        };
        for r in &mut cx.inventory.releases {
            scrub_sorted(&mut r.images);
            for c in r.resources.iter_mut().flat_map(|e| e.containers.iter_mut()) {
                scrub(known, &mut c.image);
            }
        }
        scrub_sorted(&mut cx.inventory.images);
        for d in &mut cx.docs {
            if known.contains(&d.origin.file) {
                d.origin.file = std::sync::Arc::from(known.mask(&d.origin.file).as_ref());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
