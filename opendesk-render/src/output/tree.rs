//! One file per resource: `releases/<release>/<kind>-<name>.yaml`.
//!
//! File names are a pure function of the resource identities in the release, never of the
//! document order, so they are stable across renders:
//!
//! 1. `<kind>-<name>.yaml`, kind lowercased, both reduced to `[a-z0-9.-]` (anything else, e.g.
//!    the `:` of `system:auth-delegator`, becomes `_`; names are lowercased too so that the tree
//!    checks out on case-insensitive file systems);
//! 2. only when two resources of a release share that name (the same kind and name in two
//!    namespaces): `<kind>-<namespace>-<name>.yaml` for the ones with a namespace;
//! 3. only when that still collides (same kind name in two API groups, or names that only
//!    differ in case or in replaced characters): `-<8 hex>` of the sha256 of the full identity
//!    is appended;
//! 4. a name longer than 255 bytes with `.yaml` (a 253-character resource name and its kind)
//!    is cut to fit and ends in `-<8 hex>` of that hash ([`MAX_FILE_NAME`]).
//!
//! Each file starts with the document's `# Source:` comment (synthesised from the origin when
//! a stage created the document), then the other head comments and the body, as written by
//! [`Document::emit_into`]. There is no leading `---`.

use crate::document::{Document, ResourceId};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// A resource that cannot be placed in the output tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// A document without `kind` or `metadata.name` (lint reports these first).
    #[error("{origin}: document has no {what}; cannot name its output file")]
    Unnamed {
        /// `release/file:line`.
        origin: String,
        /// `kind` or `metadata.name`.
        what: &'static str,
    },
    /// The same resource twice in one release (dedup should have merged them).
    #[error("{id} appears twice in release {release:?} ({first} and {second}); run dedup first")]
    Duplicate {
        /// The release.
        release: String,
        /// The resource.
        id: String,
        /// First origin.
        first: String,
        /// Second origin.
        second: String,
    },
    /// A release name that cannot be a folder name.
    #[error("release name {0:?} cannot be used as a folder name")]
    BadRelease(String),
}

/// Reduce to `[a-z0-9.-]`, other characters to `_`; never empty, never `.`/`..`.
pub fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = out.replace('.', "_");
        if out.is_empty() {
            out.push('_');
        }
    }
    out
}

/// True when `release` is usable as a single path component as is.
pub fn release_ok(release: &str) -> bool {
    !release.is_empty()
        && release != "."
        && release != ".."
        && !release.starts_with('.')
        && !release.contains(['/', '\\', '\0'])
}

fn short_hash(id: &ResourceId) -> String {
    let mut h = Sha256::new();
    for part in [&id.group, &id.kind, &id.namespace, &id.name] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut s = String::with_capacity(8);
    for b in &d[..4] {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn candidate(id: &ResourceId, level: u8) -> String {
    let kind = sanitize(&id.kind);
    let name = sanitize(&id.name);
    let base = if level >= 1 && !id.namespace.is_empty() {
        format!("{kind}-{}-{name}", sanitize(&id.namespace))
    } else {
        format!("{kind}-{name}")
    };
    let name = if level >= 2 { format!("{base}-{}", short_hash(id)) } else { base };
    fit_file_name(name, id)
}

/// Longest file name most file systems take (bytes, ext4/xfs/btrfs/APFS: 255).
pub const MAX_FILE_NAME: usize = 255;

/// A stem that with `.yaml` fits [`MAX_FILE_NAME`] bytes: longer ones (a 253-character
/// resource name plus its kind) keep their start and end in `-<8 hex>` of the identity's hash,
/// so the name stays stable and distinct. Stems are ASCII ([`sanitize`]).
fn fit_file_name(stem: String, id: &ResourceId) -> String {
    let max = MAX_FILE_NAME - ".yaml".len();
    if stem.len() <= max {
        return stem;
    }
    let hash = short_hash(id);
    let keep = max - hash.len() - 1;
    format!("{}-{hash}", &stem[..keep])
}

/// File names (without `.yaml`) for the resources of one release, in the given order.
/// Identities must be distinct (see [`TreeError::Duplicate`]).
pub fn file_stems(ids: &[ResourceId]) -> Vec<String> {
    let mut level = vec![0u8; ids.len()];
    loop {
        let names: Vec<String> = ids.iter().zip(&level).map(|(id, &l)| candidate(id, l)).collect();
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            groups.entry(n.as_str()).or_default().push(i);
        }
        let mut bumped = false;
        for members in groups.values().filter(|m| m.len() > 1) {
            for &i in members {
                if level[i] < 2 {
                    level[i] += 1;
                    bumped = true;
                }
            }
        }
        if !bumped {
            return names;
        }
    }
}

/// One output file of a release.
#[derive(Debug, Clone)]
pub struct ResourceFile {
    /// File name inside the release folder (`deployment-ums.yaml`).
    pub file_name: String,
    /// The resource identity.
    pub id: ResourceId,
    /// The file's text.
    pub text: String,
    /// sha256 of the text (computed where it was emitted; see [`crate::digest::digest_entries`]).
    pub sha256: [u8; 32],
}

/// Emit one document as an output file's text: `# Source:` line first, then the other head
/// comments and the body.
pub fn file_text(doc: &Document) -> String {
    thread_local! {
        /// Each worker emits into one buffer that keeps its capacity, then copies the text out
        /// at its exact size: no doubling reallocations and no slack held for the whole render.
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUF.with(|b| {
        let mut out = b.borrow_mut();
        out.clear();
        emit_file(doc, &mut out);
        let text = out.as_str().to_owned();
        // A huge document must not pin its buffer's size on the thread for good.
        if out.capacity() > 1 << 20 {
            *out = String::new();
        }
        text
    })
}

fn emit_file(doc: &Document, out: &mut String) {
    let src = doc.head_comments.iter().position(|c| c.starts_with("# Source: "));
    match src {
        Some(0) => doc.emit_into(out),
        Some(i) => {
            // Rare: other comments before the `# Source:` line. Move it to the front.
            out.push_str(&doc.head_comments[i]);
            out.push('\n');
            for (j, c) in doc.head_comments.iter().enumerate() {
                if j != i {
                    out.push_str(c);
                    out.push('\n');
                }
            }
            crate::yaml::emit_into(out, &doc.root);
        }
        None => {
            out.push_str("# Source: ");
            out.push_str(&doc.origin.file);
            out.push('\n');
            doc.emit_into(out);
        }
    }
}

/// A document with its identity and output file name, before emission.
type Planned<'a> = (&'a Document, ResourceId, String);

/// One release's files: identities (unique), file names (unique), sorted by name.
fn plan_release<'a>(release: &'a str, docs: &[&'a Document]) -> Result<(&'a str, Vec<Planned<'a>>), TreeError> {
    if !release_ok(release) {
        return Err(TreeError::BadRelease(release.to_string()));
    }
    let ids: Vec<ResourceId> = docs.iter().map(|d| d.id()).collect();
    let mut seen: HashMap<&ResourceId, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(&j) = seen.get(id) {
            return Err(TreeError::Duplicate {
                release: release.to_string(),
                id: id.to_string(),
                first: docs[j].origin.to_string(),
                second: docs[i].origin.to_string(),
            });
        }
        seen.insert(id, i);
    }
    let stems = file_stems(&ids);
    let mut taken: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stems.iter().enumerate() {
        if let Some(&j) = taken.get(s.as_str()) {
            // Only reachable through a 32-bit hash collision of two distinct identities.
            return Err(TreeError::Duplicate {
                release: release.to_string(),
                id: format!("{} / {}", ids[j], ids[i]),
                first: docs[j].origin.to_string(),
                second: docs[i].origin.to_string(),
            });
        }
        taken.insert(s, i);
    }
    let mut files: Vec<Planned<'a>> =
        docs.iter().zip(ids).zip(stems).map(|((d, id), stem)| (*d, id, format!("{stem}.yaml"))).collect();
    files.sort_by(|a, b| a.2.cmp(&b.2));
    Ok((release, files))
}

/// Lay out the documents as one file per resource, grouped by release (sorted), files sorted
/// by name. Documents must carry `kind` and `metadata.name`, and identities must be unique per
/// release.
pub fn release_files(docs: &[Document]) -> Result<BTreeMap<String, Vec<ResourceFile>>, TreeError> {
    let mut by_release: BTreeMap<&str, Vec<&Document>> = BTreeMap::new();
    for d in docs {
        if d.kind().is_none() {
            return Err(TreeError::Unnamed { origin: d.origin.to_string(), what: "kind" });
        }
        if d.name().is_none() {
            return Err(TreeError::Unnamed { origin: d.origin.to_string(), what: "metadata.name" });
        }
        by_release.entry(&d.origin.release).or_default().push(d);
    }
    // Names per release (in parallel: identities and stems are a few strings per document),
    // then the files. The first error in release order is the one reported.
    let releases: Vec<(&str, Vec<&Document>)> = by_release.into_iter().collect();
    let planned: Vec<(&str, Vec<Planned<'_>>)> =
        crate::par::map(&releases, |(_, docs)| docs.len(), |(release, docs)| plan_release(release, docs))
            .into_iter()
            .collect::<Result<_, _>>()?;
    // Every file is emitted and hashed in parallel, heaviest first (`crate::par`): a 1.4 MB
    // CRD started last would leave the other worker idle. Back in plan order.
    let counts: Vec<(&str, usize)> = planned.iter().map(|(r, f)| (*r, f.len())).collect();
    let flat: Vec<Planned<'_>> = planned.into_iter().flat_map(|(_, f)| f).collect();
    let texts = crate::par::map(
        &flat,
        |(d, _, _)| d.weight(),
        |(d, _, _)| {
            let text = file_text(d);
            let sha256 = crate::digest::file_hash(text.as_bytes());
            (text, sha256)
        },
    );
    let mut files = flat.into_iter().zip(texts);
    let out: BTreeMap<String, Vec<ResourceFile>> = counts
        .into_iter()
        .map(|(release, n)| {
            let rfiles = files
                .by_ref()
                .take(n)
                .map(|((_, id, file_name), (text, sha256))| ResourceFile { file_name, id, text, sha256 })
                .collect();
            (release.to_string(), rfiles)
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Origin;
    use crate::yaml::parse_documents;
    use std::sync::Arc;

    fn doc(release: &str, head: &[&str], body: &str) -> Document {
        let root = parse_documents(body).unwrap().remove(0);
        let origin = Origin { release: Arc::from(release), file: Arc::from("chart/templates/x.yaml"), line: 2 };
        Document::new(origin, head.iter().map(|s| s.to_string()).collect(), root)
    }

    fn id(group: &str, kind: &str, ns: &str, name: &str) -> ResourceId {
        ResourceId { group: group.into(), kind: kind.into(), namespace: ns.into(), name: name.into() }
    }

    #[test]
    fn simple_names_and_sanitizing() {
        let ids = [
            id("apps", "Deployment", "opendesk", "ums"),
            id("rbac.authorization.k8s.io", "ClusterRole", "", "system:auth-delegator"),
            id("", "ConfigMap", "opendesk", "Upper.Case"),
        ];
        assert_eq!(file_stems(&ids), ["deployment-ums", "clusterrole-system_auth-delegator", "configmap-upper.case"]);
        assert_eq!(sanitize(".."), "__");
        assert_eq!(sanitize(""), "_");
    }

    #[test]
    fn long_names_fit_255_bytes_stably() {
        let long = "a".repeat(253);
        let a = id("", "ConfigMap", "opendesk", &long);
        let b = id("", "ConfigMap", "opendesk", &format!("{}b", "a".repeat(252)));
        let c = id("apiextensions.k8s.io", "CustomResourceDefinition", "", &format!("{}.example.io", "x".repeat(230)));
        let n = file_stems(&[a.clone(), b.clone(), c.clone()]);
        for s in &n {
            assert!(s.len() + ".yaml".len() <= MAX_FILE_NAME, "{} bytes", s.len());
        }
        assert!(n[0].starts_with("configmap-aaaa") && n[0].ends_with(&format!("-{}", short_hash(&a))), "{}", n[0]);
        assert_ne!(n[0], n[1], "names that share the kept part stay distinct");
        assert_eq!(file_stems(&[c, b, a]).into_iter().rev().collect::<Vec<_>>(), n, "stable, order independent");
        let short = id("", "ConfigMap", "opendesk", &"a".repeat(240));
        assert_eq!(file_stems(&[short]), [format!("configmap-{}", "a".repeat(240))], "fits: unchanged");
    }

    #[test]
    fn namespace_only_when_needed_and_order_independent() {
        let a = id("", "ConfigMap", "opendesk", "x");
        let b = id("", "ConfigMap", "monitoring", "x");
        let c = id("", "Service", "opendesk", "x");
        let n = file_stems(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(n, ["configmap-opendesk-x", "configmap-monitoring-x", "service-x"]);
        let mut r = file_stems(&[c, b, a]);
        r.reverse();
        assert_eq!(r, n);
    }

    #[test]
    fn hash_when_namespace_is_not_enough() {
        let a = id("cert-manager.io", "Certificate", "opendesk", "x");
        let b = id("example.org", "Certificate", "opendesk", "x");
        let n = file_stems(&[a.clone(), b.clone()]);
        assert_ne!(n[0], n[1]);
        assert!(n[0].starts_with("certificate-opendesk-x-") && n[0].len() == "certificate-opendesk-x-".len() + 8);
        // A name that only differs in case.
        let n = file_stems(&[id("", "ConfigMap", "", "A"), id("", "ConfigMap", "", "a")]);
        assert_ne!(n[0], n[1]);
        // A level-1 name that equals another resource's level-0 name.
        let n =
            file_stems(&[id("", "ConfigMap", "a", "b"), id("", "ConfigMap", "c", "b"), id("", "ConfigMap", "", "a-b")]);
        let set: std::collections::HashSet<_> = n.iter().collect();
        assert_eq!(set.len(), 3, "{n:?}");
    }

    #[test]
    fn files_start_with_source() {
        let d = doc("ums", &["# Source: nubus/templates/cm.yaml"], "kind: ConfigMap\nmetadata:\n  name: a\n");
        assert_eq!(file_text(&d), "# Source: nubus/templates/cm.yaml\nkind: ConfigMap\nmetadata:\n  name: a\n");
        let d = doc("ums", &["# a comment", "# Source: s.yaml"], "kind: ConfigMap\nmetadata:\n  name: a\n");
        assert!(file_text(&d).starts_with("# Source: s.yaml\n# a comment\nkind:"));
        let d = doc("ums", &[], "kind: ConfigMap\nmetadata:\n  name: a\n");
        assert!(file_text(&d).starts_with("# Source: chart/templates/x.yaml\nkind:"));
    }

    #[test]
    fn release_files_group_sort_and_refuse_duplicates() {
        let docs = vec![
            doc("b", &[], "kind: Service\nmetadata:\n  name: s\n"),
            doc("a", &[], "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: z\n"),
            doc("a", &[], "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n"),
        ];
        let t = release_files(&docs).unwrap();
        assert_eq!(t.keys().collect::<Vec<_>>(), ["a", "b"]);
        let names: Vec<&str> = t["a"].iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, ["configmap-m.yaml", "configmap-z.yaml"]);
        let dup = vec![docs[1].clone(), docs[1].clone()];
        let e = release_files(&dup).unwrap_err();
        assert!(e.to_string().contains("ConfigMap/-/z appears twice"), "{e}");
        let e = release_files(&[doc("a", &[], "kind: ConfigMap\nmetadata: {}\n")]).unwrap_err();
        assert!(e.to_string().contains("no metadata.name"), "{e}");
        let e = release_files(&[doc("..", &[], "kind: A\nmetadata:\n  name: a\n")]).unwrap_err();
        assert!(matches!(e, TreeError::BadRelease(_)));
    }
}
