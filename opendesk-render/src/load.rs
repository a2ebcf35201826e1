//! Loading a helmfile `--output-dir` tree: release folders, files, documents.
//!
//! Files are read and split at column-0 `---` / `...` lines (a byte scan, no parsing), then
//! every chunk is parsed on the rayon pool and the results are joined in input order, so the
//! result is the same on any number of threads.

use crate::document::{Document, Origin};
use crate::error::LoadError;
use crate::limits::{FileBudget, RenderBudget};
use crate::yaml::{parse_documents_budgeted, Entry, Node, ParseError, Scalar, Value};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The release name of a helmfile output folder.
///
/// Helmfile's default folder is `<state basename>-<8 hex of sha1(abs path)>-<release>`, e.g.
/// `helmfile-child.yaml-1a2b3c4d-ums`; with `--output-dir-template .../{{ .Release.Name }}`
/// it is the release itself. The hash depends on the checkout path and never reaches output.
/// A prefix is only stripped when it looks like a state file name (`*.yaml`, `*.yml`,
/// `*.gotmpl` or containing `helmfile`), so a release called `app-deadbeef-x` stays intact.
pub fn release_name(folder: &str) -> &str {
    let b = folder.as_bytes();
    // Find `-<8 hex>-` scanning from the left; the state basename may contain dashes.
    let mut i = 0;
    while i + 10 <= b.len() {
        if b[i] == b'-'
            && i + 10 < b.len()
            && b[i + 9] == b'-'
            && b[i + 1..i + 9].iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            let prefix = &folder[..i];
            if prefix.ends_with(".yaml")
                || prefix.ends_with(".yml")
                || prefix.ends_with(".gotmpl")
                || prefix.contains("helmfile")
            {
                return &folder[i + 10..];
            }
        }
        i += 1;
    }
    folder
}

/// A chunk of a file: the text of one document (head comments included) and its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// 1-based line of the chunk's first line in the file.
    pub line: u32,
    /// The text.
    pub text: &'a str,
}

/// Split a YAML stream at column-0 `---` and `...` lines. A `--- <content>` line starts the
/// next chunk (the parser reads the marker); a bare marker line belongs to no chunk.
pub fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0usize; // byte offset of the current chunk
    let mut start_line = 1u32;
    // Line starts come from one SIMD scan for line breaks; only lines that start with `-` or
    // `.` are looked at.
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
    for (line, pos) in (1u32..).zip(starts) {
        if pos >= bytes.len() {
            break;
        }
        if matches!(bytes[pos], b'-' | b'.') {
            let end = memchr_nl(bytes, pos);
            let l = &bytes[pos..end];
            if l.len() >= 3
                && (l.starts_with(b"---") || l.starts_with(b"..."))
                && (l.len() == 3 || l[3] == b' ' || l[3] == b'\t')
            {
                if pos > start {
                    // `%YAML 1.1` / `%TAG` directives belong to the document the `---` opens:
                    // keep them in its chunk so the parser reads them.
                    if l.starts_with(b"---") && directives_only(&text[start..pos]) {
                        continue;
                    }
                    chunks.push(Chunk { line: start_line, text: &text[start..pos] });
                }
                let rest = std::str::from_utf8(&l[3..]).unwrap_or("").trim_matches([' ', '\t']);
                let next = (end + 1).min(bytes.len());
                if l.starts_with(b"---") && !rest.is_empty() && !rest.starts_with('#') {
                    start = pos;
                    start_line = line;
                } else {
                    start = next;
                    start_line = line + 1;
                }
            }
        }
    }
    if start < bytes.len() {
        chunks.push(Chunk { line: start_line, text: &text[start..] });
    }
    chunks
}

/// True for text of directive lines (`%YAML 1.2`, `%TAG ! tag:x,2000:`), comments and blank
/// lines only, with at least one directive.
fn directives_only(t: &str) -> bool {
    let mut any = false;
    for l in t.split('\n') {
        let trimmed = l.trim_matches([' ', '\t']);
        if l.starts_with('%') {
            any = true;
        } else if !(trimmed.is_empty() || trimmed.starts_with('#')) {
            return false;
        }
    }
    any
}

fn memchr_nl(b: &[u8], from: usize) -> usize {
    memchr::memchr(b'\n', &b[from..]).map_or(b.len(), |i| from + i)
}

/// Head comment lines of a chunk (comments before the first content line) and the 1-based
/// offset (within the chunk) of the first content line, or `None` when the chunk is empty.
fn head(chunk: &str) -> (Vec<String>, Option<u32>) {
    let mut comments = Vec::new();
    for (i, l) in chunk.split('\n').enumerate() {
        // YAML whitespace is space and tab only: a line starting with a vertical tab or form
        // feed is content to the parser, so it must not pass for a comment or a blank line here.
        let t = l.trim_matches([' ', '\t']);
        if t.is_empty() {
            continue;
        }
        if t.starts_with('#') {
            comments.push(l.trim_end().to_string());
            continue;
        }
        return (comments, Some(i as u32 + 1));
    }
    (comments, None)
}

/// Decode file bytes: reject invalid UTF-8 with its position, drop a BOM, normalise CRLF and lone CR to LF.
pub fn decode(file: &Path, bytes: Vec<u8>) -> Result<String, LoadError> {
    let s = String::from_utf8(bytes).map_err(|e| utf8_error(file, e.as_bytes(), e.utf8_error().valid_up_to()))?;
    match normalize(&s) {
        // Nothing to drop or rewrite: the bytes are the text (no copy).
        Cow::Borrowed(t) if t.len() == s.len() => Ok(s),
        t => Ok(t.into_owned()),
    }
}

/// [`decode`] without taking the bytes: borrowed unless a CR had to be rewritten.
pub fn decode_str<'a>(file: &Path, bytes: &'a [u8]) -> Result<Cow<'a, str>, LoadError> {
    let s = std::str::from_utf8(bytes).map_err(|e| utf8_error(file, bytes, e.valid_up_to()))?;
    Ok(normalize(s))
}

/// Where decoding stopped, as the 1-based line and column of the first invalid byte.
fn utf8_error(file: &Path, bytes: &[u8], valid: usize) -> LoadError {
    let line = memchr::memchr_iter(b'\n', &bytes[..valid]).count() + 1;
    let col = valid - memchr::memrchr(b'\n', &bytes[..valid]).map_or(0, |p| p + 1) + 1;
    LoadError::InvalidUtf8 { file: file.to_path_buf(), line, col }
}

/// The text without a BOM and with every CRLF and lone CR made LF.
fn normalize(s: &str) -> Cow<'_, str> {
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    if memchr::memchr(b'\r', s.as_bytes()).is_some() {
        // A lone CR is a line break to YAML too; make it one for the line-based splitting and
        // head-comment scans (which only see `\n`), so both agree with the parser.
        return Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"));
    }
    Cow::Borrowed(s)
}

/// Parse one file's text into documents (empty ones dropped). `display` names the file in
/// errors; `require_map` rejects documents whose root is not a mapping (Kubernetes input).
pub fn parse_text(
    release: &Arc<str>,
    rel: &Arc<str>,
    display: &Path,
    text: &str,
    require_map: bool,
) -> Result<Vec<Document>, LoadError> {
    // One text, one budget (a render counts all its files on one: `load_dir`).
    let render = RenderBudget::default();
    let mut budget = render.file();
    let chunks = split_documents(text);
    let docs: Vec<Document> = chunks
        .iter()
        .map(|c| parse_chunk(release, rel, display, *c, require_map, &mut budget))
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
    budget.finish().map_err(|hit| LoadError::Limit { file: display.to_path_buf(), hit })?;
    if require_map {
        flatten_lists(display, docs)
    } else {
        Ok(docs)
    }
}

/// True for a kind `kubectl apply` reads as a list: `List` and every `…List` kind.
fn is_list_kind(kind: &str) -> bool {
    kind.ends_with("List")
}

/// Flatten `kind: List` and every `…List` kind with `items` (`SecretList`, `ConfigMapList`)
/// into their items, as `kubectl apply` does, nested lists too. Each item keeps the list's
/// release, file and head comments (its `# Source:`) and its own line as origin, so a Secret
/// wrapped in a list is a Secret like any other (converted by the ESO stage or refused), and
/// never passes through as one opaque document.
///
/// As the API machinery does for typed lists, an item without `kind` gets the list's kind
/// without `List` (`SecretList` → `Secret`) and, without `apiVersion`, the list's. A list
/// kind whose `items` is absent is left alone (a custom kind that happens to end in `List`);
/// `items` that is not a sequence, or an item that is not a mapping, is an error naming
/// `file:line`. `display` names the file in errors.
pub fn flatten_lists(display: &Path, docs: Vec<Document>) -> Result<Vec<Document>, LoadError> {
    if !docs.iter().any(|d| d.root.get("kind").and_then(Node::as_str).is_some_and(is_list_kind)) {
        return Ok(docs);
    }
    let bad = |line: u32, reason: String| LoadError::Syntax {
        file: display.to_path_buf(),
        line: line as usize,
        col: 1,
        reason,
    };
    let mut out = Vec::with_capacity(docs.len());
    // A work stack in document order: nested lists are expanded where they stand.
    let mut stack: Vec<Document> = docs.into_iter().rev().collect();
    while let Some(mut d) = stack.pop() {
        let kind = d.root.get("kind").and_then(Node::as_str).map(str::to_string);
        let Some(kind) = kind.filter(|k| is_list_kind(k)) else {
            out.push(d);
            continue;
        };
        let Some(items) = d.root.remove("items") else {
            out.push(d);
            continue;
        };
        if items.is_null() {
            continue;
        }
        let Value::Seq(items) = items.value else {
            return Err(bad(
                items.line.max(d.origin.line),
                format!("kind: {kind}: `items` must be a sequence of manifests"),
            ));
        };
        let api_version = d.root.get("apiVersion").cloned();
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty()).map(str::to_string);
        let mut expanded = Vec::with_capacity(items.len());
        for (i, mut item) in items.into_iter().enumerate() {
            let line = if item.line > 0 { item.line } else { d.origin.line };
            let Some(map) = item.as_map_mut() else {
                let what = if item.as_seq().is_some() { "sequence" } else { "scalar" };
                return Err(bad(
                    line,
                    format!(
                        "kind: {kind}: items[{i}] is a {what}, not a mapping (a Kubernetes manifest must be a mapping)"
                    ),
                ));
            };
            if let Some(k) = &item_kind {
                if !map.iter().any(|e| e.key.text == "kind") {
                    map.insert(
                        0,
                        Entry { key: Scalar::plain("kind"), key_line: 0, key_col: 0, value: Node::string(k.clone()) },
                    );
                }
            }
            if let Some(v) = &api_version {
                if !map.iter().any(|e| e.key.text == "apiVersion") {
                    map.insert(
                        0,
                        Entry { key: Scalar::plain("apiVersion"), key_line: 0, key_col: 0, value: v.clone() },
                    );
                }
            }
            let origin = Origin { release: d.origin.release.clone(), file: d.origin.file.clone(), line };
            let mut doc = Document::new(origin, d.head_comments.clone(), item);
            doc.changes = d.changes.clone();
            doc.record(
                "stage:load",
                "flatten-list",
                format!("$.items[{i}]"),
                Some(format!("item {i} of the {kind} at line {}", d.origin.line)),
            );
            expanded.push(doc);
        }
        stack.extend(expanded.into_iter().rev());
    }
    Ok(out)
}

fn parse_chunk(
    release: &Arc<str>,
    rel: &Arc<str>,
    display: &Path,
    c: Chunk<'_>,
    require_map: bool,
    budget: &mut FileBudget<'_>,
) -> Result<Option<Document>, LoadError> {
    let (comments, first) = head(c.text);
    let Some(first) = first else { return Ok(None) };
    let off = c.line - 1;
    let limit = |mut hit: crate::limits::LimitHit| {
        if hit.line > 0 {
            hit.line += off as usize;
        }
        LoadError::Limit { file: display.to_path_buf(), hit }
    };
    let mark = budget.mark();
    let mut roots = match parse_documents_budgeted(c.text, budget) {
        Ok(r) => r,
        Err(ParseError::Limit(hit)) => return Err(limit(hit)),
        Err(ParseError::Syntax(e)) => match relax_flow_closers(c.text).map(|t| {
            // The failed attempt's nodes are gone: count the second one only.
            budget.rewind(mark);
            parse_documents_budgeted(&t, budget)
        }) {
            Some(Ok(r)) => r,
            Some(Err(ParseError::Limit(hit))) => return Err(limit(hit)),
            Some(Err(ParseError::Syntax(_))) | None => {
                return Err(LoadError::Syntax {
                    file: display.to_path_buf(),
                    line: e.line + off as usize,
                    col: e.col,
                    reason: shift_first_line(&e.reason, off),
                })
            }
        },
    };
    if roots.len() > 1 {
        return Err(LoadError::Syntax {
            file: display.to_path_buf(),
            line: (off + first) as usize,
            col: 1,
            reason: "more than one document in a chunk (unexpected document marker)".into(),
        });
    }
    let Some(mut root) = roots.pop() else { return Ok(None) };
    shift_lines(&mut root, off);
    if let Value::Scalar(s) = &root.value {
        if s.text.is_empty() && s.tag.is_none() {
            return Ok(None);
        }
    }
    if require_map && root.as_map().is_none() {
        let what = if root.as_seq().is_some() { "sequence" } else { "scalar" };
        return Err(LoadError::NotAMapping { file: display.to_path_buf(), line: (off + first) as usize, what });
    }
    let origin = Origin { release: release.clone(), file: rel.clone(), line: off + first };
    Ok(Some(Document::new(origin, comments, root)))
}

/// Duplicate-key messages name the first definition's line relative to the chunk; make it
/// relative to the file.
fn shift_first_line(reason: &str, off: u32) -> String {
    const MARK: &str = "(first defined on line ";
    match reason.find(MARK) {
        Some(i) if off > 0 => {
            let rest = &reason[i + MARK.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<u32>() {
                Ok(n) => format!("{}{MARK}{}{}", &reason[..i], n + off, &rest[digits.len()..]),
                Err(_) => reason.to_string(),
            }
        }
        _ => reason.to_string(),
    }
}

/// go-yaml and PyYAML accept a flow collection whose closing `]`/`}` sits on its own line at
/// the parent key's indentation (real charts do this, e.g. openproject's seeder-job); strict
/// YAML 1.2 parsers reject it. As a fallback only, move such closers to the end of the
/// previous line, keeping an empty line so every other line keeps its number.
fn relax_flow_closers(text: &str) -> Option<String> {
    let is_closer = |l: &str| {
        let t = l.trim();
        !t.is_empty() && t.trim_end_matches(',').chars().all(|c| c == ']' || c == '}')
    };
    if !text.split('\n').any(is_closer) {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for l in text.split('\n') {
        if is_closer(l) {
            if let Some(prev) = out.iter_mut().rev().find(|p| !p.trim().is_empty()) {
                if !prev.contains(" #") {
                    prev.push(' ');
                    prev.push_str(l.trim());
                    out.push(String::new());
                    continue;
                }
            }
        }
        out.push(l.to_string());
    }
    Some(out.join("\n"))
}

fn shift_lines(n: &mut crate::yaml::Node, off: u32) {
    if off == 0 {
        return;
    }
    // Iterative: trees are bounded by MAX_DEPTH but keep this stack-free anyway.
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        n.line += off;
        match &mut n.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => stack.extend(items.iter_mut()),
            Value::Map(m) => {
                for e in m.iter_mut() {
                    e.key_line += off;
                    stack.push(&mut e.value);
                }
            }
        }
    }
}

/// One input file found under a release folder.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Release name.
    pub release: Arc<str>,
    /// Path relative to the release folder, `/`-separated.
    pub rel: Arc<str>,
    /// Full path.
    pub path: PathBuf,
}

/// List every `*.yaml`/`*.yml` under each release folder of `dir`, sorted by (release folder,
/// relative path). Hidden entries (`.git`, temp dirs) are skipped. Symlinks are followed (with
/// loop detection) only while their target stays inside `dir` (else [`FileError::SymlinkOutside`]);
/// a YAML entry that is not a regular file (FIFO, device, socket) is refused by its type
/// ([`FileError::NotRegular`]) before anything opens it.
///
/// [`FileError::SymlinkOutside`]: crate::fsio::FileError::SymlinkOutside
/// [`FileError::NotRegular`]: crate::fsio::FileError::NotRegular
pub fn list_inputs(dir: &Path) -> Result<Vec<InputFile>, LoadError> {
    list_inputs_only(dir, None)
}

/// A filter on release names: `load_dir_only` reads only the folders whose release it keeps.
pub type ReleaseFilter<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// [`list_inputs`] of the release folders `only` keeps (all when `None`). Other folders are
/// skipped at the listing of `dir`: never stat'ed, walked or opened.
pub fn list_inputs_only(dir: &Path, only: Option<ReleaseFilter<'_>>) -> Result<Vec<InputFile>, LoadError> {
    let meta = std::fs::metadata(dir).map_err(|e| LoadError::Io { path: dir.to_path_buf(), source: e })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory { path: dir.to_path_buf() });
    }
    let root = crate::fsio::canonical_root(dir)?;
    let root = root.as_path();
    let mut releases = Vec::new();
    let mut seen_release = std::collections::HashMap::new();
    for (entry, ft) in sorted_entries(dir)? {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name.starts_with('.') || only.is_some_and(|keep| !is_yaml(&name) && !keep(release_name(&name))) {
            continue;
        }
        if is_dir(root, &entry, ft)? {
            let release: Arc<str> = Arc::from(release_name(&name));
            if let Some(prev) = seen_release.insert(release.clone(), name.clone()) {
                return Err(LoadError::DuplicateRelease { release: release.to_string(), first: prev, second: name });
            }
            releases.push((release, entry));
        } else if is_yaml(&name) {
            return Err(LoadError::OutsideRelease { path: entry.clone() });
        }
    }
    // Release folders are walked in parallel (directory listings are syscalls, not CPU); the
    // lists are joined in order, and the first error in that order is the one reported.
    let walked: Vec<Result<Vec<InputFile>, LoadError>> = releases
        .par_iter()
        .map(|(release, entry)| {
            let mut out = Vec::new();
            walk(root, entry, entry, release, &mut HashSet::new(), &mut out)?;
            Ok(out)
        })
        .collect();
    let mut out = Vec::new();
    for w in walked {
        out.extend(w?);
    }
    Ok(out)
}

/// What identifies a directory for loop detection: device and inode (one `stat`; resolving
/// the canonical path took a `lstat` per path component, for every directory).
#[cfg(unix)]
type DirKey = (u64, u64);
#[cfg(not(unix))]
type DirKey = PathBuf;

#[cfg(unix)]
fn dir_key(dir: &Path) -> std::io::Result<DirKey> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(dir)?;
    Ok((md.dev(), md.ino()))
}

#[cfg(not(unix))]
fn dir_key(dir: &Path) -> std::io::Result<DirKey> {
    std::fs::canonicalize(dir)
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

fn sorted_entries(dir: &Path) -> Result<Vec<(PathBuf, std::fs::FileType)>, LoadError> {
    let rd = std::fs::read_dir(dir).map_err(|e| LoadError::Io { path: dir.to_path_buf(), source: e })?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|e| LoadError::Io { path: dir.to_path_buf(), source: e })?;
        // The entry's own type comes with the directory listing (no extra stat).
        let ft = e.file_type().map_err(|err| LoadError::Io { path: e.path(), source: err })?;
        v.push((e.path(), ft));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// Is `p` (of listed type `ft`) a directory, following a symlink that stays inside `root`?
fn is_dir(root: &Path, p: &Path, ft: std::fs::FileType) -> Result<bool, LoadError> {
    Ok(resolved_type(root, p, ft)?.is_dir())
}

/// The type of `p` (listed as `ft`), through a symlink only when it stays inside `root`.
fn resolved_type(root: &Path, p: &Path, ft: std::fs::FileType) -> Result<std::fs::FileType, LoadError> {
    if ft.is_symlink() {
        let target = crate::fsio::check_link(root, p)?;
        let md = std::fs::metadata(&target).map_err(|e| LoadError::Io { path: p.to_path_buf(), source: e })?;
        Ok(md.file_type())
    } else {
        Ok(ft)
    }
}

fn walk(
    input_root: &Path,
    root: &Path,
    dir: &Path,
    release: &Arc<str>,
    visited: &mut HashSet<DirKey>,
    out: &mut Vec<InputFile>,
) -> Result<(), LoadError> {
    let canon = dir_key(dir).map_err(|e| LoadError::Io { path: dir.to_path_buf(), source: e })?;
    #[allow(clippy::clone_on_copy)] // a `PathBuf` off Unix
    if !visited.insert(canon.clone()) {
        return Err(LoadError::SymlinkLoop { path: dir.to_path_buf() });
    }
    for (p, ft) in sorted_entries(dir)? {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        let ft = resolved_type(input_root, &p, ft)?;
        if ft.is_dir() {
            walk(input_root, root, &p, release, visited, out)?;
        } else if is_yaml(name) {
            if !ft.is_file() {
                return Err(crate::fsio::FileError::NotRegular { path: p, kind: crate::fsio::kind_name(ft) }.into());
            }
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(InputFile { release: release.clone(), rel: Arc::from(rel), path: p.clone() });
        }
    }
    // A directory reached twice through different symlinks is a loop only on the current
    // branch; remove it so sibling links to the same target are allowed.
    visited.remove(&canon);
    Ok(())
}

/// The raw bytes of every input file, in order (for the input digest).
pub struct LoadedInput {
    /// Files in order.
    pub files: Vec<InputFile>,
    /// Documents of all files, in input order.
    pub documents: Vec<Document>,
    /// Total input bytes.
    pub bytes: u64,
    /// sha256 over the sorted relative paths (`release/file`), each with its length and the
    /// sha256 of its (decoded) text: `digest::digest_entries`.
    pub digest: String,
}

/// Load a helmfile output dir: every document of every release, in order, parsed in parallel.
///
/// Each file is one job, heaviest (largest) first (see `crate::par`): read into the worker's
/// reused buffer, decoded, hashed, split and parsed while its bytes are in cache, and the
/// buffer is then reused for the next file. The input texts are never all in memory at once:
/// reading them into fresh buffers cost ~2,000 page faults (of ~14,000 a render) and a
/// barrier between reading and parsing. The input digest then hashes paths and the files'
/// hashes (see `digest::digest_entries`). The first error in input order is reported.
pub fn load_dir(dir: &Path) -> Result<LoadedInput, LoadError> {
    load_dir_only(dir, None)
}

/// [`load_dir`] of the release folders `only` keeps (a module render): the others are not
/// read at all, and the digest covers the files read.
pub fn load_dir_only(dir: &Path, only: Option<ReleaseFilter<'_>>) -> Result<LoadedInput, LoadError> {
    load_dir_budgeted(dir, only, &RenderBudget::default())
}

/// [`load_dir_only`] on the given budgets (see [`crate::limits`]): the input's bytes are
/// checked from the listing before a byte is read, and every node of every file is counted on
/// `budget` while it is parsed.
pub fn load_dir_budgeted(
    dir: &Path,
    only: Option<ReleaseFilter<'_>>,
    budget: &RenderBudget,
) -> Result<LoadedInput, LoadError> {
    let files = list_inputs_only(dir, only)?;
    // Sizes only order the work; a file that cannot be stat'ed fails when it is opened.
    let sizes: Vec<(usize, u64)> = files
        .par_iter()
        .enumerate()
        .with_max_len(16)
        .map(|(i, f)| (i, std::fs::metadata(&f.path).map_or(0, |m| m.len())))
        .collect();
    // The byte budget is checked from the listing, before anything is read.
    let listed: u64 = sizes.iter().map(|(_, n)| *n).sum();
    if listed > budget.max_bytes() {
        let mut largest: Vec<(PathBuf, u64)> = sizes.iter().map(|(i, n)| (files[*i].path.clone(), *n)).collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        largest.truncate(3);
        return Err(LoadError::InputTooLarge {
            path: dir.to_path_buf(),
            bytes: listed,
            files: files.len(),
            limit: budget.max_bytes(),
            largest,
        });
    }
    let per_file = crate::par::map(&sizes, |(_, len)| *len as usize, |(i, _)| load_file(&files[*i], budget));
    let mut documents = Vec::new();
    let mut hashes = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for r in per_file {
        let (docs, hash, len) = r?;
        documents.extend(docs);
        hashes.push((hash, len));
        total += len;
    }
    let names: Vec<String> = files.iter().map(|f| format!("{}/{}", f.release, f.rel)).collect();
    let digest = crate::digest::digest_entries(names.iter().zip(&hashes).map(|(n, (h, len))| (n.as_str(), *len, h)));
    Ok(LoadedInput { files, documents, bytes: total, digest })
}

/// Read, decode, hash, split and parse one file: its documents, the sha256 and the length of
/// its decoded text.
fn load_file(f: &InputFile, budget: &RenderBudget) -> Result<(Vec<Document>, [u8; 32], u64), LoadError> {
    thread_local! {
        /// The worker's read buffer: it keeps its capacity from file to file.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|b| {
        // Never re-entered: nothing below runs rayon work on this thread.
        let mut buf = b.borrow_mut();
        let result = (|| {
            // At most the file's `fstat` size, and only while the render's byte budget has
            // room (the listing's sizes passed; this holds for a file that grew since).
            let limit = crate::limits::FileLimit { bytes: budget.max_bytes(), ..crate::limits::INPUT_FILE };
            if let Err(e) = crate::fsio::read_regular_into_max(&f.path, &mut buf, limit) {
                return Err(match e {
                    crate::fsio::FileError::TooLarge { path, bytes, .. } => LoadError::InputTooLarge {
                        path,
                        bytes,
                        files: 1,
                        limit: budget.max_bytes(),
                        largest: Vec::new(),
                    },
                    e => e.into(),
                });
            }
            if !budget.take_bytes(buf.len() as u64) {
                return Err(LoadError::InputTooLarge {
                    path: f.path.clone(),
                    bytes: buf.len() as u64,
                    files: 1,
                    limit: budget.max_bytes(),
                    largest: Vec::new(),
                });
            }
            let text = decode_str(&f.path, &buf)?;
            let hash = crate::digest::file_hash(text.as_bytes());
            let mut docs = Vec::new();
            let mut nodes = budget.file();
            for c in split_documents(&text) {
                if let Some(d) = parse_chunk(&f.release, &f.rel, &f.path, c, true, &mut nodes)? {
                    docs.push(d);
                }
            }
            nodes.finish().map_err(|hit| LoadError::Limit { file: f.path.clone(), hit })?;
            let docs = flatten_lists(&f.path, docs)?;
            Ok((docs, hash, text.len() as u64))
        })();
        // A huge file must not pin its buffer's size on the thread for good.
        if buf.capacity() > 4 << 20 {
            *buf = Vec::new();
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names() {
        assert_eq!(release_name("helmfile-child.yaml-1a2b3c4d-ums"), "ums");
        assert_eq!(
            release_name("helmfile-child.yaml-1a2b3c4d-opendesk-keycloak-bootstrap"),
            "opendesk-keycloak-bootstrap"
        );
        assert_eq!(release_name("helmfile-0badcafe-redis"), "redis");
        assert_eq!(release_name("ums"), "ums");
        assert_eq!(release_name("app-deadbeef-x"), "app-deadbeef-x");
        assert_eq!(release_name("opendesk-keycloak-bootstrap"), "opendesk-keycloak-bootstrap");
    }

    #[test]
    fn splits_at_markers() {
        let t = "---\n# Source: a\na: 1\n---\nb: 2\n...\n--- !!map\nc: 3\n";
        let c = split_documents(t);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0], Chunk { line: 2, text: "# Source: a\na: 1\n" });
        assert_eq!(c[1], Chunk { line: 5, text: "b: 2\n" });
        assert_eq!(c[2].line, 7);
        // Indented or longer markers are content.
        assert_eq!(split_documents("a: |\n  ---\nb: ----\n").len(), 1);
    }

    #[test]
    fn yaml_directives_are_accepted() {
        let r: Arc<str> = "app".into();
        let f: Arc<str> = "c/templates/a.yaml".into();
        for v in ["1.1", "1.2"] {
            let t = format!("%YAML {v}\n---\n# Source: c/templates/a.yaml\nkind: ConfigMap\nmetadata:\n  name: x\n---\nkind: ConfigMap\nmetadata:\n  name: y\n...\n%YAML {v}\n%TAG !e! tag:example.org,2000:\n---\nkind: ConfigMap\nmetadata:\n  name: z\n");
            let d = parse_text(&r, &f, Path::new("a.yaml"), &t, true).unwrap_or_else(|e| panic!("{v}: {e}"));
            let names: Vec<_> = d.iter().map(|d| d.name().unwrap()).collect();
            assert_eq!(names, ["x", "y", "z"], "{v}");
        }
        // A directive inside a document is still an error.
        assert!(parse_text(&r, &f, Path::new("a.yaml"), "kind: A\n%YAML 1.2\n---\nb: 1\n", true).is_err());
    }

    #[test]
    fn parses_with_origin_and_comments() {
        let r: Arc<str> = "ums".into();
        let f: Arc<str> = "nubus/templates/a.yaml".into();
        let t = "---\n# Source: nubus/templates/a.yaml\nkind: ConfigMap\nmetadata:\n  name: x\n---\n# only a comment\n---\n\n";
        let d = parse_text(&r, &f, Path::new("a.yaml"), t, true).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].origin.line, 3);
        assert_eq!(d[0].head_comments, vec!["# Source: nubus/templates/a.yaml"]);
        assert_eq!(d[0].source(), Some("nubus/templates/a.yaml"));
        assert_eq!(d[0].root.get_path("metadata.name").unwrap().line, 5);
    }

    #[test]
    fn errors_are_positioned_in_the_file() {
        let r: Arc<str> = "x".into();
        let t = "a: 1\n---\nb: 1\nb: 2\n";
        let e = parse_text(&r, &r, Path::new("f.yaml"), t, true).unwrap_err();
        assert_eq!(e.to_string(), "f.yaml:4:1: duplicate key \"b\" (first defined on line 3)");
        let e = parse_text(&r, &r, Path::new("f.yaml"), "---\n- a\n", true).unwrap_err();
        assert!(e.to_string().starts_with("f.yaml:2:1: "), "{e}");
    }

    #[test]
    fn bom_crlf_and_bad_utf8() {
        let s = decode(Path::new("f"), b"\xef\xbb\xbfa: 1\r\nb: 2\r\n".to_vec()).unwrap();
        assert_eq!(s, "a: 1\nb: 2\n");
        let e = decode(Path::new("f"), b"a: 1\nb: \xff\n".to_vec()).unwrap_err();
        assert!(e.to_string().starts_with("f:2:4"), "{e}");
        // Borrowed unless a CR had to go; a BOM is sliced off.
        let f = Path::new("f");
        assert!(matches!(decode_str(f, b"a: 1\n").unwrap(), Cow::Borrowed("a: 1\n")));
        assert!(matches!(decode_str(f, b"\xef\xbb\xbfa: 1\n").unwrap(), Cow::Borrowed("a: 1\n")));
        assert_eq!(decode_str(f, b"a: 1\rb: 2\r\n").unwrap(), "a: 1\nb: 2\n");
        assert_eq!(decode(f, b"\xef\xbb\xbfa: 1\n".to_vec()).unwrap(), "a: 1\n");
        let e = decode_str(f, b"x\ny\nab\xc3").unwrap_err();
        assert!(e.to_string().starts_with("f:3:3"), "{e}");
    }

    #[test]
    fn load_reports_the_first_bad_file_in_input_order() {
        let d = std::env::temp_dir().join(format!("odr-load-order-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("rel/t")).unwrap();
        std::fs::write(d.join("rel/t/a.yaml"), "kind: A\nmetadata: {name: a}\n").unwrap();
        // Larger, so it is parsed first; still reported after the earlier bad file.
        std::fs::write(d.join("rel/t/c.yaml"), format!("kind: [\n{}", "# pad\n".repeat(100))).unwrap();
        std::fs::write(d.join("rel/t/b.yaml"), b"kind: \xff\n").unwrap();
        let e = load_dir(&d).err().expect("an error").to_string();
        assert!(e.contains("b.yaml:1:7"), "{e}");
        std::fs::remove_file(d.join("rel/t/b.yaml")).unwrap();
        let e = load_dir(&d).err().expect("an error").to_string();
        assert!(e.contains("c.yaml"), "{e}");
        std::fs::remove_file(d.join("rel/t/c.yaml")).unwrap();
        let ok = load_dir(&d).unwrap();
        assert_eq!((ok.documents.len(), ok.bytes), (1, 28));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// `n` documents, each with an anchor of 999 scalars and 60 aliases of it (59,940 nodes of
    /// expansion, under the per-document cap).
    fn alias_docs(n: usize) -> String {
        let anchor = vec!["x"; 999].join(",");
        let refs = vec!["*a"; 60].join(",");
        (0..n)
            .map(|i| format!("---\nkind: ConfigMap\nmetadata: {{name: c{i}}}\na: &a [{anchor}]\nb: [{refs}]\n"))
            .collect()
    }

    #[test]
    fn alias_expansion_is_budgeted_per_file_not_per_document() {
        let r: Arc<str> = "app".into();
        // One such document is fine; in one file, the second is over the file's floor.
        assert_eq!(parse_text(&r, &r, Path::new("a.yaml"), &alias_docs(1), true).unwrap().len(), 1);
        let e = parse_text(&r, &r, Path::new("a.yaml"), &alias_docs(3), true).unwrap_err();
        let LoadError::Limit { hit, .. } = &e else { panic!("{e}") };
        assert_eq!((hit.limit, hit.value), (crate::limits::Limit::FileAliasNodes, 100_000));
        // Second document (lines 6–10): the first alias past the budget, at its column.
        assert_eq!((hit.line, hit.col), (10, 125), "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with("a.yaml:10:125: alias expansion in this file exceeds 100000 nodes"), "{msg}");
        assert!(msg.contains("ALIAS_FACTOR = 4 × the file's own 2020 nodes"), "{msg}");
        // A file with more content of its own may expand more: four times its own nodes.
        let mut big = alias_docs(3);
        big.push_str(&format!(
            "---\nkind: ConfigMap\nmetadata: {{name: pad}}\npad: [{}]\n",
            vec!["y"; 60_000].join(",")
        ));
        let big =
            format!("---\nkind: ConfigMap\nmetadata: {{name: pad0}}\npad: [{}]\n{big}", vec!["y"; 60_000].join(","));
        assert_eq!(parse_text(&r, &r, Path::new("a.yaml"), &big, true).unwrap().len(), 5);
    }

    fn tree(tag: &str, files: &[(&str, String)]) -> PathBuf {
        let d = std::env::temp_dir().join(format!("odr-load-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (rel, text) in files {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    #[test]
    fn the_node_budget_counts_every_file_of_the_render() {
        // 3 + 2×1000 nodes per file; block style (fast path) and flow style (general parser).
        let block: String =
            std::iter::once("kind: A\ndata:\n".to_string()).chain((0..1000).map(|i| format!("  k{i}: v\n"))).collect();
        let flow =
            format!("kind: A\ndata: {{{}}}\n", (0..1000).map(|i| format!("k{i}: v")).collect::<Vec<_>>().join(", "));
        assert_eq!(parse_text(&"r".into(), &"r".into(), Path::new("x"), &block, true).unwrap()[0].root.size(), 2005);
        let d = tree("nodes", &[("rel/t/a.yaml", block.clone()), ("rel/t/b.yaml", flow), ("rel/t/c.yaml", block)]);
        let budget = |n| RenderBudget::new(n, crate::limits::MAX_INPUT_BYTES);
        let ok = load_dir_budgeted(&d, None, &budget(3 * 2005));
        let over = load_dir_budgeted(&d, None, &budget(3 * 2005 - 1)).err().expect("over the budget");
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(ok.unwrap().documents.len(), 3);
        let LoadError::Limit { hit, file } = &over else { panic!("{over}") };
        assert_eq!((hit.limit, hit.value), (crate::limits::Limit::Nodes, 6014));
        let msg = over.to_string();
        assert!(msg.contains("more than 6014 YAML nodes in this render (limit MAX_NODES = 6014"), "{msg}");
        assert!(file.ends_with("a.yaml") || file.ends_with("b.yaml") || file.ends_with("c.yaml"), "{msg}");
    }

    #[test]
    fn the_node_budget_stops_a_wide_mapping_at_its_line() {
        let r: Arc<str> = "r".into();
        let block: String =
            std::iter::once("kind: A\ndata:\n".to_string()).chain((0..1000).map(|i| format!("  k{i}: v\n"))).collect();
        let render = RenderBudget::new(1001, crate::limits::MAX_INPUT_BYTES);
        let mut budget = render.file();
        let c = Chunk { line: 5, text: &block };
        let e = parse_chunk(&r, &r, Path::new("w.yaml"), c, true, &mut budget).unwrap_err();
        // 5 nodes before `data`'s entries, 2 per entry: the 499th entry (line 501 of the
        // chunk, 505 of the file) crosses 1001; the fast path knows the line only.
        assert_eq!(e.to_string().split(" more than").next(), Some("w.yaml:505:"), "{e}");
        let flow =
            format!("kind: A\ndata: {{{}}}\n", (0..1000).map(|i| format!("k{i}: v")).collect::<Vec<_>>().join(", "));
        let mut budget = render.file();
        let c = Chunk { line: 1, text: &flow };
        let e = parse_chunk(&r, &r, Path::new("w.yaml"), c, true, &mut budget).unwrap_err();
        assert!(e.to_string().starts_with("w.yaml:2:"), "{e}");
    }

    #[test]
    fn input_bytes_are_refused_from_the_listing_before_reading() {
        let d = tree(
            "bytes",
            &[
                ("rel/t/a.yaml", format!("kind: A\n{}", "# comment\n".repeat(7) + "#\n")),
                ("rel/t/b.yaml", "kind: B\n".into()),
            ],
        );
        let budget = |n| RenderBudget::new(crate::limits::MAX_NODES, n);
        assert!(load_dir_budgeted(&d, None, &budget(88)).is_ok());
        let e = load_dir_budgeted(&d, None, &budget(87)).err().expect("over");
        // The listing is enough: an unreadable file is not even opened.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d.join("rel/t/b.yaml"), std::fs::Permissions::from_mode(0o000)).unwrap();
        }
        let again = load_dir_budgeted(&d, None, &budget(87)).err().expect("over").to_string();
        std::fs::remove_dir_all(&d).unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains(": 88 bytes of input in 2 YAML files: more than the limit MAX_INPUT_BYTES = 87 bytes"),
            "{msg}"
        );
        assert!(msg.contains("the largest: ") && msg.contains("a.yaml (80 bytes), "), "{msg}");
        assert_eq!(again, msg);
    }

    fn kinds_and_lines(docs: &[Document]) -> Vec<(String, String, u32)> {
        docs.iter()
            .map(|d| {
                let k = d.root.get("kind").and_then(Node::as_str).unwrap_or("").to_string();
                let n = d.root.get_path("metadata.name").and_then(Node::as_str).unwrap_or("").to_string();
                (k, n, d.origin.line)
            })
            .collect()
    }

    #[test]
    fn lists_are_flattened_into_their_items_with_origins() {
        let r: Arc<str> = "app".into();
        let f: Arc<str> = "app/templates/l.yaml".into();
        let t = "---\n# Source: app/templates/l.yaml\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: s1}\n    stringData: {password: hunter2-long-value}\n  - apiVersion: v1\n    kind: ConfigMapList\n    items:\n      - metadata: {name: c1}\n        data: {a: b}\n---\napiVersion: v1\nkind: SecretList\nitems:\n- metadata: {name: s2}\n  data: {token: dG9rZW4tdmFsdWU=}\n---\nkind: ConfigMap\nmetadata: {name: after}\n";
        let d = parse_text(&r, &f, Path::new("l.yaml"), t, true).unwrap();
        assert_eq!(
            kinds_and_lines(&d),
            vec![
                ("Secret".into(), "s1".into(), 6),
                ("ConfigMap".into(), "c1".into(), 13),
                ("Secret".into(), "s2".into(), 19),
                ("ConfigMap".into(), "after".into(), 22),
            ]
        );
        // Typed list items get the list's kind and apiVersion, first, as the API machinery does.
        assert_eq!(
            d[2].emit(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s2\ndata:\n  token: dG9rZW4tdmFsdWU=\n"
        );
        assert_eq!(d[1].root.get("apiVersion").and_then(Node::as_str), Some("v1"));
        // The head comment (`# Source:`) stays with every item; explain says where it came from.
        assert!(d.iter().take(2).all(|x| x.head_comments == vec!["# Source: app/templates/l.yaml"]));
        assert!(d[2].head_comments.is_empty());
        assert_eq!(d[0].changes[0].action, "flatten-list");
        assert_eq!(d[0].changes[0].detail.as_deref(), Some("item 0 of the List at line 3"));
        assert_eq!(d[1].changes.len(), 2, "nested: both levels recorded");
        assert_eq!(d[3].changes.len(), 0);
        // Empty and null lists leave nothing; a custom kind ending in List without items stays.
        let t = "kind: List\nitems: []\n---\nkind: List\nitems:\n---\napiVersion: x.io/v1\nkind: AllowList\nmetadata: {name: a}\nspec: {}\n";
        let d = parse_text(&r, &f, Path::new("l.yaml"), t, true).unwrap();
        assert_eq!(kinds_and_lines(&d), vec![("AllowList".into(), "a".into(), 7)]);
    }

    #[test]
    fn a_bad_list_is_an_error_at_its_line() {
        let r: Arc<str> = "app".into();
        let e = parse_text(&r, &r, Path::new("l.yaml"), "kind: List\nitems: {a: b}\n", true).unwrap_err();
        assert_eq!(e.to_string(), "l.yaml:2:1: kind: List: `items` must be a sequence of manifests");
        let e = parse_text(&r, &r, Path::new("l.yaml"), "kind: SecretList\nitems:\n  - x\n", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "l.yaml:3:1: kind: SecretList: items[0] is a scalar, not a mapping (a Kubernetes manifest must be a mapping)"
        );
    }

    #[test]
    fn load_dir_flattens_lists() {
        let d = std::env::temp_dir().join(format!("odr-load-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("rel/t")).unwrap();
        std::fs::write(
            d.join("rel/t/a.yaml"),
            "kind: List\nitems:\n  - kind: SecretList\n    apiVersion: v1\n    items: [{metadata: {name: s}}]\n",
        )
        .unwrap();
        let ok = load_dir(&d);
        std::fs::remove_dir_all(&d).unwrap();
        let ok = ok.unwrap();
        assert_eq!(kinds_and_lines(&ok.documents), vec![("Secret".into(), "s".into(), 5)]);
    }
}
