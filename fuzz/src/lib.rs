//! What each fuzz target checks, as plain functions of the input bytes.
//!
//! The fuzz targets (`fuzz_targets/*.rs`) call these; so does the regression test
//! `opendesk-render/tests/fuzz_regressions.rs`, which includes this file with `#[path]` and runs
//! every saved input under `fuzz/regressions/<target>/`. A check "fails" by panicking: an
//! `Err` from the library is the expected answer to bad input, a panic, hang or blow-up is not.
//! Depends on `opendesk_render` and `std` only, so the include works from any crate.

use opendesk_render::config::InstanceConfig;
use opendesk_render::document::emit_stream;
use opendesk_render::load::{decode, parse_text, split_documents};
use opendesk_render::output::graph::ReleaseGraph;
use opendesk_render::patch::query;
use opendesk_render::yaml::{parse_documents, parse_documents_general, parse_fast};
use std::path::Path;
use std::sync::Arc;

/// A check: panics when the input shows a bug.
pub type Check = fn(&[u8]);

/// Every target, by name (the folder names under `fuzz/regressions/`).
pub const TARGETS: &[(&str, Check)] = &[
    ("loader", loader),
    ("patch_file", patch_file),
    ("instance_config", instance_config),
    ("release_graph", release_graph),
    ("jsonpath", jsonpath),
    ("fast_path", fast_path),
];

/// Largest input the checks look at (libFuzzer's `-max_len` is lower; saved regressions too).
pub const MAX_INPUT: usize = 1 << 20;

fn text(data: &[u8]) -> Option<&str> {
    if data.len() > MAX_INPUT {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// Loader round trip: decode → split + parse (`parse_text`) → emit (`emit_stream`) → parse
/// again; the trees must be the same (`Node::same`), the head comments too, and emitting the
/// re-parsed documents must give the same text (the emitter is a fixed point after one pass).
pub fn loader(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let file = Path::new("fuzz.yaml");
    let Ok(text) = decode(file, data.to_vec()) else { return };
    let release: Arc<str> = Arc::from("fuzz");
    let rel: Arc<str> = Arc::from("templates/fuzz.yaml");
    // Kubernetes mode must not panic either; its answer is a subset of the lenient one's.
    let strict = parse_text(&release, &rel, file, &text, true);
    let Ok(docs) = parse_text(&release, &rel, file, &text, false) else {
        assert!(strict.is_err(), "strict mode accepted what lenient mode rejected:\n{text:?}");
        return;
    };
    let out = emit_stream(&docs);
    let again = parse_text(&release, &rel, file, &out, false)
        .unwrap_or_else(|e| panic!("the emitted text does not parse: {e}\n--- input\n{text:?}\n--- emitted\n{out:?}"));
    assert_eq!(docs.len(), again.len(), "document count changed\n--- input\n{text:?}\n--- emitted\n{out:?}");
    for (i, (a, b)) in docs.iter().zip(&again).enumerate() {
        assert!(
            a.root.same(&b.root),
            "document {i} changed in the round trip\n--- input\n{text:?}\n--- emitted\n{out:?}\n--- first\n{:?}\n--- again\n{:?}",
            a.root,
            b.root
        );
        assert_eq!(
            a.head_comments, b.head_comments,
            "head comments changed\n--- input\n{text:?}\n--- emitted\n{out:?}"
        );
    }
    let out2 = emit_stream(&again);
    assert_eq!(out, out2, "emit is not a fixed point\n--- input\n{text:?}");
    // The stream-level parser (used for config and patch trees) must not panic either.
    let _ = parse_documents(&text);
}

/// The loader's fast path against the general parser: on every chunk the fast path reads, the
/// general parser must read the same trees, lines, styles and tags included.
pub fn fast_path(data: &[u8]) {
    let Some(text) = text(data) else { return };
    for chunk in std::iter::once(text).chain(split_documents(text).into_iter().map(|c| c.text)) {
        let Some(fast) = parse_fast(chunk) else { continue };
        let general = match parse_documents_general(chunk) {
            Ok(g) => g,
            Err(e) => panic!("the fast path read what the general parser rejects ({e:?}):\n{chunk:?}"),
        };
        assert_eq!(fast.len(), general.len(), "document count differs:\n{chunk:?}");
        for (a, b) in fast.iter().zip(&general) {
            if let Some(d) = a.first_difference(b) {
                panic!("fast path and general parser differ at {d}:\n{chunk:?}");
            }
        }
    }
}

/// Patch-file parser: `compile_file` returns a patch list or a positioned error.
pub fn patch_file(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Err(e) = opendesk_render::patch::compile_file("fuzz.yaml", text) {
        // Rendering the message must not panic (it is what a patch author sees).
        let _ = e.to_string();
    }
}

/// Instance-config parser: `InstanceConfig::parse`, and on success what the pipeline derives
/// from it first (version, compiled overrides, patch variables).
pub fn instance_config(data: &[u8]) {
    let Some(text) = text(data) else { return };
    match InstanceConfig::parse(Path::new("fuzz.yaml"), text) {
        Ok(cfg) => {
            let _ = cfg.version();
            if let Err(e) = cfg.compiled_overrides() {
                let _ = e.to_string();
            }
            let _ = opendesk_render::patch::Vars::from_config(&cfg);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Release-graph parser: `ReleaseGraph::parse`, and on success assigning releases to waves.
pub fn release_graph(data: &[u8]) {
    let Some(text) = text(data) else { return };
    match ReleaseGraph::parse(Path::new("fuzz.yaml"), text) {
        Ok(g) => {
            let mut names: Vec<&str> = g.waves.iter().flat_map(|w| w.releases.iter().map(String::as_str)).collect();
            for r in &names {
                assert!(g.wave_of(r).is_some(), "release {r:?} of the graph has no wave");
            }
            let _ = g.assign(names.iter().copied());
            names.push("not-in-the-graph");
            if let Err(e) = g.assign(names.iter().copied()) {
                let _ = e.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A small Kubernetes-shaped tree for evaluating compiled JSONPaths.
const SAMPLE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, 'a.b/c': x}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [{containerPort: 80, protocol: TCP}, {containerPort: 443}]
          env:
            - {name: A, value: '1'}
            - {name: B, valueFrom: {secretKeyRef: {name: s, key: k}}}
        - name: side
          image: busybox
      volumes: [{name: v, emptyDir: {}}]
"#;

/// JSONPath compilation: `query::compile`, and on success evaluating the query (and, for write
/// paths, its parent) on a sample resource; every path found must lead to a node.
pub fn jsonpath(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if text.len() > 4096 {
        return;
    }
    let Ok(c) = query::compile(text) else { return };
    let root = parse_documents(SAMPLE).expect("sample parses").remove(0);
    for p in query::find(&c.full, &root) {
        assert!(root.at(&p).is_some(), "query {text:?} found a path that leads nowhere: {p:?}");
    }
    let _ = query::exists(&c.full, &root);
    if let Some((parent, _)) = &c.parent {
        let _ = query::find(parent, &root);
    }
}
