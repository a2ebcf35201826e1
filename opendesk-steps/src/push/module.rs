//! The push of a module render (a tree whose render-meta has `module:`;
//! docs/output-and-push.md#pushing-a-module). Instead of replacing the instance subtree:
//!
//! 1. The branch head must hold a full tree at `<path>` (its `render-meta.yaml`, same
//!    `instance`): a module is pushed onto a full render, never instead of one.
//! 2. The secret-skew guard runs again against the tree at the head (the branch may have moved
//!    since the render, or the render used `--no-base`: then it is skipped with a warning). A
//!    difference fails the push (exit 1) and nothing is committed.
//! 3. For every release the module covers: `releases/<r>/` and `applications/<r>.yaml` are
//!    replaced by the module tree's (removed when the module no longer renders the release).
//!    Nothing else under `<path>` is written: every other file stays byte-identical, whatever
//!    input digest it was rendered from. The parent Application points at `applications/`, so
//!    it never needs to change (a new release's Application is picked up by it).
//! 4. `render-meta.yaml` is merged: the module's `releases:` entries replace the head's for the
//!    covered releases, `totals` and `outputDigest` are recomputed over the resulting subtree,
//!    and `modules.<keys>` records the module render (its covered releases, input digest,
//!    versions, base). Every other field stays as the full render wrote it.

use super::{MetaFacts, STEP};
use crate::gitsafe::Workspace;
use crate::step::{Reporter, StepError, StepErrorKind};
use opendesk_render::digest::{digest_entries, file_hash};
use opendesk_render::module::{read_external_secrets, secret_skew, BaseTree, ModuleScope};
use opendesk_render::output::{APPLICATIONS_DIR, META_FILE, RELEASES_DIR};
use opendesk_render::yaml::{emit, parse_documents, Node, Value};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The `module:` facts of a module render's tree.
#[derive(Debug, Clone)]
pub(super) struct ModuleTree {
    keys: Vec<String>,
    covers: BTreeSet<String>,
    no_base: bool,
    allow_secret_removal: bool,
    base_output_digest: Option<String>,
    /// The module tree's render-meta root.
    meta: Node,
}

fn bad(m: impl Into<String>) -> StepError {
    StepError::bad_input(STEP, m)
}

fn failed(m: impl Into<String>) -> StepError {
    StepError::failed(STEP, m)
}

/// An I/O error at `p`, typed ([`opendesk_render::fsio::FileError::Io`]: `p: error`).
fn io(p: &Path, source: std::io::Error) -> StepError {
    StepError::file(
        STEP,
        StepErrorKind::Failed,
        opendesk_render::fsio::FileError::Io { path: p.to_path_buf(), source },
        "",
    )
}

fn strings(n: Option<&Node>) -> Vec<String> {
    n.and_then(Node::as_seq).into_iter().flatten().filter_map(Node::scalar_text).map(str::to_string).collect()
}

/// A release name that is one plain path component.
fn safe_release(r: &str) -> bool {
    !r.is_empty() && !r.starts_with('.') && !r.contains(['/', '\\', '\0'])
}

fn read_root(file: &Path) -> Result<Node, StepError> {
    let text = opendesk_render::fsio::read_regular_string_max(file, opendesk_render::limits::CONFIG_FILE)
        .map_err(|e| StepError::file(STEP, StepErrorKind::BadInput, e, ""))?;
    let mut docs =
        parse_documents(&text).map_err(|e| bad(format!("{}:{}:{}: {}", file.display(), e.line, e.col, e.reason)))?;
    if docs.is_empty() || docs[0].as_map().is_none() {
        return Err(bad(format!("{}: not a render-meta mapping", file.display())));
    }
    Ok(docs.swap_remove(0))
}

impl ModuleTree {
    /// `Some` when `out`'s render-meta has `module:` (a module render's tree).
    pub(super) fn read(out: &Path) -> Result<Option<Self>, StepError> {
        let meta = read_root(&out.join(META_FILE))?;
        let Some(m) = meta.get("module") else { return Ok(None) };
        let keys = strings(m.get("keys"));
        let covers: BTreeSet<String> = strings(m.get("covers")).into_iter().collect();
        if keys.is_empty() || covers.is_empty() {
            return Err(bad(format!("{}: `module:` needs keys and covers", out.join(META_FILE).display())));
        }
        if let Some(r) = covers.iter().find(|r| !safe_release(r)) {
            return Err(bad(format!("{}: module release {r:?} is not a folder name", out.join(META_FILE).display())));
        }
        // The tree may hold nothing but the covered releases.
        for (dir, strip) in [(RELEASES_DIR, ""), (APPLICATIONS_DIR, ".yaml")] {
            for e in fs::read_dir(out.join(dir)).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let r = name.strip_suffix(strip).unwrap_or(&name);
                if !covers.contains(r) {
                    return Err(bad(format!(
                        "{}: {dir}/{name} is not a release of module {}; refusing to push it",
                        out.display(),
                        keys.join(", ")
                    )));
                }
            }
        }
        let flag = |k: &str| m.get(k).and_then(Node::as_bool).unwrap_or(false);
        Ok(Some(ModuleTree {
            base_output_digest: m.get_path("base.outputDigest").and_then(Node::scalar_text).map(str::to_string),
            no_base: flag("noBase"),
            allow_secret_removal: flag("allowSecretRemoval"),
            keys,
            covers,
            meta,
        }))
    }

    /// The commit message of a module push.
    pub(super) fn commit_message(&self, m: &MetaFacts, path: &str) -> String {
        let short = m.input_digest.strip_prefix("sha256:").unwrap_or(&m.input_digest);
        let short = &short[..short.len().min(12)];
        let rels: Vec<&str> = self.covers.iter().map(String::as_str).collect();
        format!(
            "opendesk-render: {} module {} (input {short})\n\nModule render for {path}: {}.\nOther releases \
             untouched.\n\nInput-Digest: {}\nRenderer-Version: {}\nOpenDesk-Version: {}\nModule: {}\n",
            m.instance,
            self.keys.join(", "),
            rels.join(", "),
            m.input_digest,
            m.renderer_version,
            if m.opendesk_version.is_empty() { "unknown" } else { &m.opendesk_version },
            self.keys.join(", ")
        )
    }

    /// Replace the module's releases inside `<ws>/<path>`, merge render-meta and stage;
    /// true when something changed.
    pub(super) fn replace_and_stage(
        &self,
        ws: &Workspace,
        out: &Path,
        path: &str,
        r: &mut Reporter<'_>,
    ) -> Result<bool, StepError> {
        let target = ws.dir().join(path);
        let head_meta_file = target.join(META_FILE);
        if fs::symlink_metadata(&head_meta_file).map(|m| !m.is_file()).unwrap_or(true) {
            return Err(bad(format!(
                "{path}/{META_FILE} is missing at the branch head: push a full render of the instance first; a \
                 module render only replaces its releases inside one"
            )));
        }
        let head_meta = read_root(&head_meta_file)?;
        if head_meta.get("module").is_some() {
            return Err(bad(format!("{path}/{META_FILE} at the branch head is a module render's; push a full render")));
        }
        let txt = |n: &Node, k: &str| n.get(k).and_then(Node::scalar_text).unwrap_or("").to_string();
        if txt(&head_meta, "instance") != txt(&self.meta, "instance") {
            return Err(bad(format!(
                "the branch head renders instance {:?} at {path}, the module tree instance {:?}",
                txt(&head_meta, "instance"),
                txt(&self.meta, "instance")
            )));
        }
        self.check_skew(out, &target, &head_meta, r)?;

        // Replace the covered releases and their Applications, nothing else.
        let mut n = 0;
        for rel in &self.covers {
            let (dir, app) =
                (target.join(RELEASES_DIR).join(rel), target.join(APPLICATIONS_DIR).join(format!("{rel}.yaml")));
            for p in [&dir, &app] {
                ws.check_write(p).map_err(failed)?;
                if let Ok(md) = fs::symlink_metadata(p) {
                    let res = if md.is_dir() { fs::remove_dir_all(p) } else { fs::remove_file(p) };
                    res.map_err(|e| failed(format!("{}: {e}", p.display())))?;
                }
            }
            let src = out.join(RELEASES_DIR).join(rel);
            if src.is_dir() {
                ws.create_parents(&dir).map_err(failed)?;
                n += super::copy_tree(ws, &src, &dir)?;
            }
            let src_app = out.join(APPLICATIONS_DIR).join(format!("{rel}.yaml"));
            if src_app.is_file() {
                ws.create_parents(&app).map_err(failed)?;
                ws.copy_file(&src_app, &app).map_err(failed)?;
                n += 1;
            }
        }
        let merged = self.merge_meta(head_meta, &target)?;
        fs::remove_file(&head_meta_file).map_err(|e| failed(format!("{}: {e}", head_meta_file.display())))?;
        write_new(ws, &head_meta_file, &merged)?;
        r.info("replace", format!("{n} files of module {} into {path}", self.keys.join(", ")));
        ws.ok(&["add", "-A", "--", &format!(":(literal){path}")]).map_err(failed)?;
        let o = ws.run(&["diff", "--cached", "--quiet"]).map_err(failed)?;
        match o.status.code() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(failed(format!("git diff failed: {}", o.stderr))),
        }
    }

    /// The secret-skew guard against the tree at the branch head.
    fn check_skew(&self, out: &Path, target: &Path, head_meta: &Node, r: &mut Reporter<'_>) -> Result<(), StepError> {
        if self.no_base {
            r.warn("skew", "the module was rendered with --no-base: the secret-skew guard is skipped for this push");
            return Ok(());
        }
        let head_digest = head_meta.get("outputDigest").and_then(Node::scalar_text).unwrap_or("");
        if self.base_output_digest.as_deref() != Some(head_digest) {
            r.warn(
                "skew",
                "the branch head is not the base the module was rendered against; checking its ExternalSecrets \
                 against the head",
            );
        }
        let scope = ModuleScope { keys: self.keys.clone(), releases: self.covers.clone() };
        let (releases, external_secrets) =
            read_external_secrets(target, &self.covers).map_err(|e| failed(e.to_string()))?;
        let base = BaseTree { dir: PathBuf::from("<branch head>"), releases, external_secrets, ..Default::default() };
        let (_, module_docs) = read_external_secrets(out, &self.covers).map_err(|e| bad(e.to_string()))?;
        let skew = secret_skew(&module_docs, &base, &scope, self.allow_secret_removal);
        for f in skew.findings.iter().filter(|f| f.severity != opendesk_render::Severity::Error) {
            r.warn("skew", f.message.clone());
        }
        if !skew.guard.passed {
            let msgs: Vec<String> = skew
                .findings
                .iter()
                .filter(|f| f.severity == opendesk_render::Severity::Error)
                .map(|f| format!("{}: {}", f.code, f.message))
                .collect();
            return Err(failed(format!("secret skew against the branch head, nothing pushed: {}", msgs.join("; "))));
        }
        Ok(())
    }

    /// The head's render-meta with the module's release entries, totals, output digest and
    /// `modules.<keys>` entry.
    fn merge_meta(&self, mut head: Node, target: &Path) -> Result<String, StepError> {
        let module_releases: Vec<Node> = self.meta.get("releases").and_then(Node::as_seq).cloned().unwrap_or_default();
        let mut releases: Vec<Node> = head
            .get("releases")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .filter(|e| e.get("name").and_then(Node::scalar_text).is_none_or(|n| !self.covers.contains(n)))
            .cloned()
            .collect();
        releases.extend(module_releases);
        let name = |e: &Node| e.get("name").and_then(Node::scalar_text).unwrap_or("").to_string();
        releases.sort_by_key(name);
        let resources: i64 = releases.iter().filter_map(|e| e.get("resources").and_then(Node::as_i64)).sum();
        let count = releases.len();
        head.insert("releases", Node::new(Value::Seq(releases)));
        if let Some(t) = head.get_mut("totals") {
            t.insert("releases", Node::plain(count.to_string()));
            t.insert("resources", Node::plain(resources.to_string()));
        }
        head.insert("outputDigest", Node::plain(output_digest(target)?));
        // modules.<keys>: this render; an older entry covering any of its releases goes.
        let key = self.keys.join("+");
        let mut entry = Node::map();
        let covers = Node::new(Value::Seq(self.covers.iter().map(|r| Node::string(r.as_str())).collect()));
        entry.insert("covers", covers);
        for k in ["inputDigest", "rendererVersion", "opendeskVersion"] {
            if let Some(v) = self.meta.get(k) {
                entry.insert(k, v.clone());
            }
        }
        if let Some(b) = self.meta.get_path("module.base") {
            entry.insert("base", b.clone());
        }
        entry.insert("noBase", Node::plain(self.no_base.to_string()));
        let mut modules = head.remove("modules").filter(|m| m.as_map().is_some()).unwrap_or_else(Node::map);
        if let Some(map) = modules.as_map_mut() {
            map.retain(|e| {
                e.key.text != key && strings(e.value.get("covers")).iter().all(|r| !self.covers.contains(r))
            });
        }
        modules.insert(&key, entry);
        if let Some(map) = modules.as_map_mut() {
            map.sort_by(|a, b| a.key.text.cmp(&b.key.text));
        }
        head.insert("modules", modules);
        Ok(format!("# Written by opendesk-render.\n{}", emit(&head)))
    }
}

/// Write a new file inside the work dir (never through a symlink).
fn write_new(ws: &Workspace, p: &Path, text: &str) -> Result<(), StepError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    ws.check_write(p).map_err(failed)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
        .map_err(|e| failed(format!("{}: {e}", p.display())))?;
    f.write_all(text.as_bytes()).map_err(|e| failed(format!("{}: {e}", p.display())))
}

/// The tree digest over `releases/` and `applications/` of `dir`, as the render computes it
/// (`output::build_tree`): sorted relative paths, each with its length and sha256.
fn output_digest(dir: &Path) -> Result<String, StepError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), StepError> {
        let rd = match fs::read_dir(d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(d, e)),
        };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().map_err(|e| io(&p, e))?;
            if ft.is_dir() {
                walk(root, &p, out)?;
            } else if ft.is_file() {
                let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
                let bytes = opendesk_render::fsio::read_regular_max(&p, opendesk_render::limits::INPUT_FILE)
                    .map_err(|e| StepError::file(STEP, StepErrorKind::Failed, e, ""))?;
                out.push((rel, bytes));
            }
        }
        Ok(())
    }
    for sub in [APPLICATIONS_DIR, RELEASES_DIR] {
        walk(dir, &dir.join(sub), &mut files)?;
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let hashes: Vec<[u8; 32]> = files.iter().map(|(_, b)| file_hash(b)).collect();
    Ok(digest_entries(files.iter().zip(&hashes).map(|((p, b), h)| (p.as_str(), b.len() as u64, h))))
}
