//! The output tree the push step commits and Argo CD syncs (DESIGN §7):
//!
//! ```text
//! <out>/render-meta.yaml
//! <out>/applications/<release>.yaml            child Application per release
//! <out>/applications/<instance>-parent.yaml    app of apps (excludes its own file)
//! <out>/releases/<release>/<kind>-<name>.yaml  one resource per file
//! ```
//!
//! [`build_tree`] is pure: documents + config + release graph + pipeline facts → file map.
//! [`write_tree`] swaps the map in atomically. A typical caller:
//!
//! ```no_run
//! # use opendesk_render::output::*;
//! # fn f(cfg: &opendesk_render::InstanceConfig, docs: &[opendesk_render::Document],
//! #      graph: Option<&ReleaseGraph>, meta: &MetaInput) -> Result<(), OutputError> {
//! let tree = build_tree(cfg, docs, graph, meta, &AppOptions::default())?;
//! write_tree(std::path::Path::new("out"), &tree.files)?;
//! # Ok(()) }
//! ```

pub mod argo;
pub mod graph;
pub mod meta;
#[cfg(test)]
pub(crate) mod schema;
pub mod tree;
pub mod write;

pub use argo::{child_application, parent_application, AppOptions};
pub use graph::{GraphError, GraphIssue, GraphProblem, ReleaseGraph, ReleaseWave, WaveAssignment};
pub use meta::{render_meta, GuardResult, MetaInput, ReleaseMeta, META_SCHEMA_VERSION, RENDERER_VERSION};
pub use tree::TreeError;
pub use write::{
    check_out_disjoint, check_out_owned, check_secrets_out, clean_stale, previous_releases, read_tree,
    stage_secrets_file, write_secrets_file, write_tree, StagedSecrets, WriteError,
};

use crate::config::InstanceConfig;
use crate::document::Document;
use crate::report::Finding;
use crate::yaml::emit;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// File name of the render metadata at the tree's root.
pub const META_FILE: &str = "render-meta.yaml";
/// Folder of the Applications.
pub const APPLICATIONS_DIR: &str = "applications";
/// Folder of the release folders.
pub const RELEASES_DIR: &str = "releases";

/// Building or writing the output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A resource cannot be placed (unnamed, duplicate, bad release name).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The release graph does not fit the rendered releases.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A generated Application name is not a DNS-1123 subdomain, or clashes with another.
    #[error("Application name {name:?} ({why}); check `instance` and the release names")]
    BadApplicationName {
        /// The name.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Writing failed; the previous output is untouched.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl OutputError {
    /// The CLI exit code: 2 (bad input, config or graph; or an I/O failure).
    pub fn exit_code(&self) -> i32 {
        crate::error::ExitCode::Usage.code()
    }
}

impl crate::error::Located for OutputError {
    fn location(&self) -> Option<crate::error::Location> {
        match self {
            OutputError::Graph(g) => g.location(),
            _ => None,
        }
    }
}

/// The built tree.
#[derive(Debug, Clone)]
pub struct RenderedTree {
    /// Relative path → file text: releases, applications and `render-meta.yaml`.
    pub files: BTreeMap<PathBuf, String>,
    /// Per-release facts (also in render-meta).
    pub releases: Vec<ReleaseMeta>,
    /// Findings of the output stage (no graph, empty repoURL, graph releases not rendered);
    /// already included in render-meta after the caller's findings.
    pub findings: Vec<Finding>,
    /// sha256 over `releases/` and `applications/` (not render-meta).
    pub output_digest: String,
}

/// Lay out the documents, one Application per release plus the parent, and render-meta.
/// `graph` = `None` puts every release in wave 0 with a warning.
pub fn build_tree(
    cfg: &InstanceConfig,
    docs: &[Document],
    graph: Option<&ReleaseGraph>,
    meta: &MetaInput,
    opts: &AppOptions,
) -> Result<RenderedTree, OutputError> {
    let per_release = tree::release_files(docs)?;
    let names = per_release.keys().map(String::as_str);
    let mut waves = match graph {
        Some(g) => g.assign(names)?,
        None => WaveAssignment::flat(names),
    };
    if let (Some(m), Some(_)) = (&meta.report.module, graph) {
        // Only the module's own releases can be missing from a module render.
        waves.findings.retain(|f| f.code != crate::checks::Check::OutputGraphReleaseNotRendered.code());
        let missing: Vec<&str> =
            m.covers.iter().map(String::as_str).filter(|r| !per_release.contains_key(*r)).collect();
        if !missing.is_empty() {
            waves.findings.push(Finding::of(
                crate::checks::Check::OutputGraphReleaseNotRendered,
                format!("module {} lists releases that were not rendered: {}", m.keys.join(", "), missing.join(", ")),
            ));
        }
    }
    let mut findings = waves.findings.clone();
    if cfg.argocd.repo_url.trim().is_empty() {
        findings.push(Finding::of(
            crate::checks::Check::OutputNoRepoUrl,
            "argocd.repoURL is empty: the generated Applications cannot sync until it is set",
        ));
    }

    let namespaces = argo::release_namespaces(docs, cfg);
    findings.extend(spanning_releases(&namespaces));

    let parent = argo::parent_name(cfg);
    for n in std::iter::once(parent.clone()).chain(per_release.keys().map(|r| argo::application_name(cfg, r))) {
        if !argo::dns_subdomain_ok(&n) {
            return Err(OutputError::BadApplicationName {
                name: n,
                why: "not a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
            });
        }
    }
    if per_release.contains_key("parent") {
        return Err(OutputError::BadApplicationName { name: parent, why: "release `parent` clashes with the parent" });
    }
    if per_release.contains_key(&parent) {
        return Err(OutputError::BadApplicationName {
            name: parent,
            why: "a release has the parent's name, so both would be written to the same file",
        });
    }

    // Each release's wave and each file's path, once: the Applications, the digests and the
    // file map all use them.
    let release_waves: Vec<ReleaseWave> = per_release
        .keys()
        .map(|r| waves.get(r).cloned().unwrap_or(ReleaseWave { wave: "default".into(), sync_wave: 0 }))
        .collect();
    let release_paths: Vec<Vec<String>> = per_release
        .iter()
        .map(|(release, rfiles)| rfiles.iter().map(|f| format!("{RELEASES_DIR}/{release}/{}", f.file_name)).collect())
        .collect();
    // The Applications (small), then the digests: per release, and the one over `releases/` and
    // `applications/` sorted by path string.
    let app_plan: Vec<(&String, &ReleaseWave)> = per_release.keys().zip(&release_waves).collect();
    let mut apps: Vec<(String, String)> = crate::par::map(
        &app_plan,
        |_| 1,
        |(release, w)| {
            let ns = namespaces.get(release.as_str()).map_or(cfg.namespace.as_str(), |r| r.destination.as_str());
            let app = argo::child_application(cfg, release, ns, w.sync_wave, opts);
            (format!("{APPLICATIONS_DIR}/{release}.yaml"), emit(&app))
        },
    );
    // A module render's tree holds only its releases' Applications: the parent is the full
    // render's, and the push keeps it (it points at the applications/ folder, so a module
    // never needs to change it).
    if meta.report.module.is_none() {
        apps.push((format!("{APPLICATIONS_DIR}/{parent}.yaml"), emit(&argo::parent_application(cfg, opts))));
    }
    // Every file was hashed where it was emitted: the digests hash names and those hashes.
    let app_hashes: Vec<[u8; 32]> = apps.iter().map(|(_, t)| crate::digest::file_hash(t.as_bytes())).collect();
    let digests: Vec<String> = per_release
        .values()
        .map(|rfiles| {
            crate::digest::digest_entries(rfiles.iter().map(|f| (f.file_name.as_str(), f.text.len() as u64, &f.sha256)))
        })
        .collect();
    let output_digest = {
        let mut parts: Vec<(&str, u64, &[u8; 32])> =
            apps.iter().zip(&app_hashes).map(|((p, t), h)| (p.as_str(), t.len() as u64, h)).collect();
        for (rfiles, paths) in per_release.values().zip(&release_paths) {
            parts.extend(paths.iter().zip(rfiles).map(|(p, f)| (p.as_str(), f.text.len() as u64, &f.sha256)));
        }
        parts.sort_unstable_by(|a, b| a.0.cmp(b.0));
        crate::digest::digest_entries(parts)
    };
    // The texts and paths are moved, not copied, into the file map.
    let mut entries: Vec<(PathBuf, String)> =
        Vec::with_capacity(release_paths.iter().map(Vec::len).sum::<usize>() + apps.len() + 1);
    let mut releases = Vec::with_capacity(per_release.len());
    for ((((release, rfiles), output_digest), w), paths) in
        per_release.into_iter().zip(digests).zip(release_waves).zip(release_paths)
    {
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for f in &rfiles {
            *kinds.entry(f.id.kind.clone()).or_default() += 1;
        }
        let resources = rfiles.len();
        entries.extend(rfiles.into_iter().zip(paths).map(|(f, path)| (PathBuf::from(path), f.text)));
        releases.push(ReleaseMeta {
            images: meta.images.get(&release).cloned().unwrap_or_default(),
            application: argo::application_name(cfg, &release),
            name: release,
            wave: w.wave,
            sync_wave: w.sync_wave,
            resources,
            kinds,
            output_digest,
        });
    }
    entries.extend(apps.into_iter().map(|(p, t)| (PathBuf::from(p), t)));
    // The map sorts the entries (already in runs: releases, applications) beside the
    // render-meta emission; paths are unique (checked above), so no entry is dropped.
    let (mut files, meta_text) = rayon::join(
        || entries.into_iter().collect::<BTreeMap<PathBuf, String>>(),
        || render_meta(meta, &releases, &output_digest, &findings),
    );
    files.insert(PathBuf::from(META_FILE), meta_text);
    Ok(RenderedTree { files, releases, findings, output_digest })
}

/// A warning per release whose namespaced resources land in more than one namespace: its
/// Application creates only its destination.
fn spanning_releases(plan: &BTreeMap<String, argo::ReleaseNamespaces>) -> Vec<Finding> {
    plan.iter()
        .filter_map(|(release, r)| {
            let spanned = r.spanned();
            if spanned.len() < 2 {
                return None;
            }
            let list: Vec<String> = spanned
                .iter()
                .map(|ns| {
                    let n = r.carried.get(*ns).copied().unwrap_or(0) + if *ns == r.destination { r.unset } else { 0 };
                    format!("{ns} ({n})")
                })
                .collect();
            Some(Finding::of(
                crate::checks::Check::OutputReleaseSpansNamespaces,
                format!(
                    "release {release} spans namespaces {}: its Application deploys to {} (CreateNamespace=true) and \
                     creates only that one; the others must exist (the namespaces guard checks that something \
                     creates them)",
                    list.join(", "),
                    r.destination
                ),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ArgoCd;
    use crate::load::load_dir;
    use crate::testing::{corpus, Scratch};
    use crate::yaml::parse_documents;
    use std::path::Path;

    fn cfg() -> InstanceConfig {
        let mut c = InstanceConfig::minimal("1.13.1");
        c.instance = "acme".into();
        c.argocd = ArgoCd {
            namespace: "argocd".into(),
            project: "default".into(),
            repo_url: "https://git.example.org/opendesk/acme.git".into(),
            target_revision: "main".into(),
            path: "instances/acme".into(),
            external_namespaces: Vec::new(),
        };
        c
    }

    fn meta_input(digest: &str) -> MetaInput {
        let mut m = MetaInput::default();
        m.report.opendesk_version = "1.13.1".into();
        m.report.instance = "acme".into();
        m.report.input_digest = digest.into();
        m
    }

    /// The corpus minus the huge, irrelevant monitoring release (keeps the test fast).
    fn corpus_docs() -> Option<(Vec<Document>, String)> {
        let c = corpus()?;
        let input = load_dir(&c).expect("corpus loads");
        Some((input.documents, input.digest))
    }

    fn graph_for(releases: &[&str]) -> ReleaseGraph {
        // Three waves, releases spread round-robin, needs pointing back one wave.
        let mut waves: Vec<Vec<&str>> = vec![vec![], vec![], vec![]];
        for (i, r) in releases.iter().enumerate() {
            waves[i % 3].push(r);
        }
        let mut t = String::from("waves:\n");
        for (i, w) in waves.iter().enumerate() {
            t.push_str(&format!("  - name: w{i}\n    syncWave: {}\n    releases: [{}]\n", i * 10, w.join(", ")));
        }
        if !waves[0].is_empty() && !waves[1].is_empty() {
            t.push_str(&format!("needs:\n  {}: [{}]\n", waves[1][0], waves[0][0]));
        }
        ReleaseGraph::parse(Path::new("g.yaml"), &t).unwrap()
    }

    #[test]
    fn every_application_validates_against_the_corpus_crd() {
        let Some(c) = corpus() else { return };
        let crd_file = c.join("argocd/argo-cd/templates/crds/crd-application.yaml");
        let text = std::fs::read_to_string(&crd_file).unwrap();
        let crd = parse_documents(&text).unwrap().remove(0).to_json();
        let schema = schema::crd_schema(&crd, "v1alpha1").expect("v1alpha1 schema in the CRD");
        let (docs, digest) = corpus_docs().unwrap();
        let rels: Vec<String> = {
            let mut v: Vec<String> = docs.iter().map(|d| d.origin.release.to_string()).collect();
            v.sort();
            v.dedup();
            v
        };
        let g = graph_for(&rels.iter().map(String::as_str).collect::<Vec<_>>());
        let mut validated = 0;
        for opts in [AppOptions::default(), AppOptions { automated: false, retry_limit: 0, ..Default::default() }] {
            let t = build_tree(&cfg(), &docs, Some(&g), &meta_input(&digest), &opts).unwrap();
            for (p, text) in &t.files {
                if !p.starts_with(APPLICATIONS_DIR) {
                    continue;
                }
                let app = parse_documents(text).unwrap().remove(0).to_json();
                let errs = schema::validate(schema, &app);
                assert!(errs.is_empty(), "{}: {errs:#?}", p.display());
                validated += 1;
            }
        }
        assert_eq!(validated, 2 * (rels.len() + 1));
        // A broken Application is caught (the validator is not vacuous).
        let mut bad = argo::child_application(&cfg(), "x", "opendesk", 0, &AppOptions::default()).to_json();
        bad["spec"]["destination"]["nameSpace"] = "typo".into();
        bad["spec"]["syncPolicy"]["retry"]["limit"] = "five".into();
        bad["spec"].as_object_mut().unwrap().remove("destination");
        assert_eq!(schema::validate(schema, &bad).len(), 2, "{:?}", schema::validate(schema, &bad));
        eprintln!(
            "validated {validated} Applications ({} releases + parent, 2 option sets) against {}",
            rels.len(),
            crd_file.display()
        );
    }

    #[test]
    fn tree_layout_waves_and_meta() {
        let Some((docs, digest)) = corpus_docs() else { return };
        let rels: Vec<&str> = vec!["redis", "postgresql", "argocd"];
        let docs: Vec<Document> = docs.into_iter().filter(|d| rels.contains(&&*d.origin.release)).collect();
        let g = ReleaseGraph::parse(
            Path::new("g.yaml"),
            "waves:\n  - name: services\n    releases: [redis, postgresql]\n  - name: gitops\n    syncWave: 5\n    releases: [argocd, jitsi]\n",
        )
        .unwrap();
        let t = build_tree(&cfg(), &docs, Some(&g), &meta_input(&digest), &AppOptions::default()).unwrap();
        // Every document is in exactly one file, starting with its Source comment.
        let rel_files: Vec<_> = t.files.keys().filter(|p| p.starts_with(RELEASES_DIR)).collect();
        assert_eq!(rel_files.len(), docs.len());
        for p in &rel_files {
            let text = &t.files[*p];
            assert!(text.starts_with("# Source: "), "{}", p.display());
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(name.ends_with(".yaml") && name == name.to_lowercase(), "{name}");
        }
        let app = parse_documents(&t.files[Path::new("applications/argocd.yaml")]).unwrap().remove(0);
        assert_eq!(app.get_path("metadata.annotations").unwrap().get(argo::SYNC_WAVE).unwrap().as_str(), Some("5"));
        let app = parse_documents(&t.files[Path::new("applications/redis.yaml")]).unwrap().remove(0);
        assert_eq!(app.get_path("metadata.annotations").unwrap().get(argo::SYNC_WAVE).unwrap().as_str(), Some("0"));
        assert_eq!(app.get_path("spec.source.path").unwrap().as_str(), Some("instances/acme/releases/redis"));
        assert!(t.files.contains_key(Path::new("applications/acme-parent.yaml")));
        let m = parse_documents(&t.files[Path::new(META_FILE)]).unwrap().remove(0);
        assert_eq!(m.get("inputDigest").unwrap().as_str(), Some(digest.as_str()));
        let mr = m.get("releases").unwrap().as_seq().unwrap();
        assert_eq!(mr.len(), 3);
        let total: i64 = mr.iter().map(|r| r.get("resources").unwrap().as_i64().unwrap()).sum();
        assert_eq!(total as usize, docs.len());
        // jitsi is in the graph but was not rendered: info, not an error.
        assert!(t.findings.iter().any(|f| f.code == "output/graph-release-not-rendered"));
        // A release outside the graph is an error naming it.
        let more: Vec<Document> =
            corpus_docs().unwrap().0.into_iter().filter(|d| &*d.origin.release == "mariadb").collect();
        let mut all = docs.clone();
        all.extend(more);
        let e = build_tree(&cfg(), &all, Some(&g), &meta_input(&digest), &AppOptions::default()).unwrap_err();
        assert!(e.to_string().contains("\"mariadb\" is rendered but sits in no wave"), "{e}");
        // Without a graph: wave 0 and a warning in render-meta.
        let t = build_tree(&cfg(), &docs, None, &meta_input(&digest), &AppOptions::default()).unwrap();
        assert!(t.files[Path::new(META_FILE)].contains("output/no-release-graph"));
    }

    #[test]
    fn two_renders_are_byte_identical_and_rerender_is_idempotent() {
        let Some(c) = corpus() else { return };
        let s = Scratch::new("idem");
        let (o1, o2, o3) = (s.0.join("o1"), s.0.join("o2"), s.0.join("o3"));
        let input = load_dir(&c).unwrap();
        let m = meta_input(&input.digest);
        let t1 = build_tree(&cfg(), &input.documents, None, &m, &AppOptions::default()).unwrap();
        write_tree(&o1, &t1.files).unwrap();
        // Same input, parsed again (rayon order must not matter).
        let again = load_dir(&c).unwrap();
        let t2 = build_tree(&cfg(), &again.documents, None, &m, &AppOptions::default()).unwrap();
        write_tree(&o2, &t2.files).unwrap();
        assert_eq!(read_tree(&o1).unwrap(), read_tree(&o2).unwrap());
        // Render the rendered releases/ tree: same release files.
        let back = load_dir(&o1.join(RELEASES_DIR)).unwrap();
        assert_eq!(back.documents.len(), input.documents.len());
        let t3 = build_tree(&cfg(), &back.documents, None, &m, &AppOptions::default()).unwrap();
        write_tree(&o3, &t3.files).unwrap();
        let (a, b) = (read_tree(&o1).unwrap(), read_tree(&o3).unwrap());
        assert_eq!(a, b, "re-rendering releases/ changes nothing (same input digest given)");
        assert_eq!(t1.output_digest, t3.output_digest);
    }

    /// openDesk's ordering facts (DOMAIN §4): `needs` edges and the stage order.
    const DOMAIN_NEEDS: [(&str, &str); 4] = [
        ("opendesk-keycloak-bootstrap", "ums"),
        ("ox-connector", "open-xchange"),
        ("opendesk-nextcloud", "opendesk-nextcloud-management"),
        ("opendesk-nextcloud-notifypush", "opendesk-nextcloud"),
    ];
    const DOMAIN_CHAIN: [&str; 6] = [
        "opendesk-migrations-pre",
        "postgresql",
        "ums",
        "open-xchange",
        "opendesk-openproject-bootstrap",
        "opendesk-migrations-post",
    ];

    #[test]
    fn example_release_graphs_respect_the_opendesk_order() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        // OPENDESK_RELEASE_GRAPH checks another graph file with the same rules.
        let graphs: Vec<PathBuf> = ["release-graph.yaml", "examples/release-graph.yaml"]
            .iter()
            .map(|p| root.join(p))
            .chain(std::env::var_os("OPENDESK_RELEASE_GRAPH").map(PathBuf::from))
            .filter(|p| p.is_file())
            .collect();
        if graphs.is_empty() {
            eprintln!("SKIP: no release-graph.yaml example in the repository yet");
            return;
        }
        for f in graphs {
            let g = ReleaseGraph::load(&f).unwrap_or_else(|e| panic!("{e}"));
            for (a, b) in DOMAIN_NEEDS {
                if let (Some(wa), Some(wb)) = (g.wave_of(a), g.wave_of(b)) {
                    assert!(wa.sync_wave > wb.sync_wave, "{}: {a} must sync after {b}", f.display());
                }
            }
            let chain: Vec<(&str, i64)> =
                DOMAIN_CHAIN.iter().filter_map(|r| g.wave_of(r).map(|w| (*r, w.sync_wave))).collect();
            assert!(chain.windows(2).all(|w| w[0].1 < w[1].1), "{}: stage order broken: {chain:?}", f.display());
            // The Applications carry exactly the graph's waves.
            let body = parse_documents("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n").unwrap().remove(0);
            let docs: Vec<Document> = g
                .waves
                .iter()
                .flat_map(|w| w.releases.iter())
                .map(|r| {
                    let o = crate::document::Origin { release: r.as_str().into(), file: "c.yaml".into(), line: 1 };
                    Document::new(o, vec![], body.clone())
                })
                .collect();
            let t = build_tree(&cfg(), &docs, Some(&g), &MetaInput::default(), &AppOptions::default()).unwrap();
            for w in &g.waves {
                for r in &w.releases {
                    let app = parse_documents(&t.files[&PathBuf::from(format!("applications/{r}.yaml"))]).unwrap();
                    let ann = app[0].get_path("metadata.annotations").unwrap().get(argo::SYNC_WAVE).unwrap();
                    assert_eq!(ann.as_str(), Some(w.sync_wave.to_string().as_str()), "{r}");
                }
            }
            eprintln!("{}: {} waves, {} releases checked", f.display(), g.waves.len(), docs.len());
        }
    }

    #[test]
    fn bad_application_names() {
        let d = parse_documents("kind: ConfigMap\nmetadata:\n  name: a\n").unwrap().remove(0);
        let mk = |rel: &str| {
            Document::new(
                crate::document::Origin { release: rel.into(), file: "c/templates/a.yaml".into(), line: 1 },
                vec![],
                d.clone(),
            )
        };
        let mut c = cfg();
        c.instance = "Acme".into();
        let e = build_tree(&c, &[mk("ums")], None, &MetaInput::default(), &AppOptions::default()).unwrap_err();
        assert!(e.to_string().contains("\"Acme-parent\""), "{e}");
        for r in ["parent", "acme-parent"] {
            let e = build_tree(&cfg(), &[mk(r)], None, &MetaInput::default(), &AppOptions::default()).unwrap_err();
            assert!(e.to_string().contains("\"acme-parent\""), "{e}");
        }
    }
}
