//! The render's budgets (issue 16, `opendesk-render/src/limits.rs`) against the real binary
//! under a 1 GiB address-space limit (`ulimit -v`, see support::limited): hostile width, alias
//! expansion spread over many documents, a deep-and-wide mix over many files and oversized
//! input each end with exit 2 and a message naming the file, the limit and its value, never an
//! abort or an OOM kill, and nothing is written (the out dir's parent is byte-identical
//! afterwards). The corpus and the corpus replicated 10× still render: the budgets never fire
//! on real charts.
//!
//! Every input is generated here, in the test's temp dir (the largest is 98 MB), streamed to
//! disk; nothing large is committed. Each run has the hang guard of support::time_bound,
//! measured from the child's start.

use opendesk_e2e::*;
use std::ffi::OsStr;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// One render: a [`Scene`] (an input dir with release `rel`, [`MIN_CONFIG`]) and an out dir's
/// parent holding an old file.
struct Case {
    scene: Scene,
    input: PathBuf,
    parent: PathBuf,
}

impl Case {
    fn new(tag: &str) -> Self {
        let scene = Scene::new(tag);
        let input = scene.input.clone();
        let parent = scene.tmp.join("parent");
        std::fs::create_dir_all(input.join("rel/chart/templates")).unwrap();
        write(&parent, "keep.txt", "nothing may change here\n");
        Case { scene, input, parent }
    }

    /// A buffered writer for `rel/chart/templates/<name>` and its path.
    fn create(&self, name: &str) -> (BufWriter<std::fs::File>, PathBuf) {
        let p = self.input.join("rel/chart/templates").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        (BufWriter::with_capacity(1 << 20, std::fs::File::create(&p).unwrap()), p)
    }

    /// Render into `parent/out`; expect exit 2 with every needle in stderr and nothing written.
    fn refused(&self, what: &str, needles: &[&str]) -> Outcome {
        let out = self.parent.join("out");
        let before = snapshot(&self.parent);
        let o = self.scene.render_args(&out).run();
        o.expect(what, 2);
        for n in needles {
            o.stderr_has(what, n);
        }
        assert!(!o.stderr.contains("memory allocation"), "{what}: {}", o.stderr);
        assert_eq!(snapshot(&self.parent), before, "{what}: the out dir's parent changed");
        assert!(!out.exists(), "{what}: --out was created");
        assert_eq!(hidden_entries(&self.parent), Vec::<String>::new(), "{what}: temp dirs left");
        eprintln!("{what}: exit 2 in {:?}: {}", o.elapsed, o.stderr.lines().next().unwrap_or(""));
        o
    }
}

/// One document of [`alias_docs`]: an anchor of 999 scalars and `refs` aliases of it.
fn alias_doc(w: &mut impl Write, i: usize, refs: usize) {
    let anchor = vec!["x"; 999].join(",");
    let refs = vec!["*a"; refs].join(",");
    write!(w, "---\napiVersion: example.org/v1\nkind: Thing\nmetadata:\n  name: c{i}\nspec:\n  anchor: &a [{anchor}]\n  refs: [{refs}]\n")
        .unwrap();
}

#[test]
fn alias_expansion_is_budgeted_per_file_not_per_document() {
    // Control: one such document (99 aliases of a 1,000-node anchor: 99,000 nodes of expansion,
    // just under the per-document cap of 100,000) renders.
    let ok = Case::new("alias-one");
    let (mut w, _) = ok.create("a.yaml");
    alias_doc(&mut w, 0, 99);
    drop(w);
    ok.scene.render_args(&ok.parent.join("out")).run().expect("one document under the alias cap", 0);

    // 2,000 of them in one file (the case: it aborted with SIGABRT after 11 GB). The
    // file's own nodes are ~1,000 per document: its allowance is the floor, 100,000, passed by
    // the second alias of the second document (line 16: `  refs: [*a,*a` → column 13).
    let c = Case::new("alias-many");
    let (mut w, file) = c.create("a.yaml");
    for i in 0..2000 {
        alias_doc(&mut w, i, 99);
    }
    drop(w);
    assert!(std::fs::metadata(&file).unwrap().len() > 4_000_000);
    c.refused(
        "2,000 documents each just under the per-document alias cap",
        &[
            &format!("{}:16:13: alias expansion in this file exceeds 100000 nodes", file.display()),
            "(limit ALIAS_FACTOR = 4 × the file's own 2028 nodes, at least 100000;",
            "write the repeated content out or split the file",
        ],
    );
}

#[test]
fn a_configmap_with_7m_keys_stops_at_the_node_budget() {
    // The case at its size: 98 MB, 7 M keys (it aborted under a 2 GB cap). Legal YAML
    // that passes the byte budget; the node budget stops it while it is parsed, at the line of
    // the key that crosses 4,000,000 nodes (11 before the first key, 2 per key).
    let c = Case::new("cm7m");
    let (mut w, file) = c.create("cm.yaml");
    w.write_all(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n").unwrap();
    for i in 0..7_000_000u32 {
        writeln!(w, "  k{i:07}: v").unwrap();
    }
    drop(w);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 98_000_059);
    c.refused(
        "a 98 MB ConfigMap with 7 M keys",
        &[
            &format!("{}:2000000: more than 4000000 YAML nodes in this render", file.display()),
            "(limit MAX_NODES = 4000000 nodes per render, counted over every file, alias expansions included;",
            "render fewer releases at a time (--module)",
        ],
    );
}

#[test]
fn a_deep_and_wide_mix_over_many_files_is_counted_across_files() {
    // 24 files, each a document nested 100 levels deep (past the fast path: the general parser
    // reads it) with an anchor of 10,000 scalars aliased 3 times and, at the bottom, a flow
    // sequence of 160,000 scalars: ~200,000 nodes a file, under every per-document and per-file
    // limit, 4.8 M in all. Which file crosses the render's budget depends on the threads; the
    // limit and its value do not.
    let c = Case::new("deepwide");
    let mut files = Vec::new();
    for f in 0..24 {
        let (mut w, file) = c.create(&format!("t{f:02}.yaml"));
        write!(w, "apiVersion: example.org/v1\nkind: Thing\nmetadata:\n  name: t{f}\nspec:\n").unwrap();
        writeln!(w, "  anchor: &a [{}]", vec!["y"; 10_000].join(", ")).unwrap();
        writeln!(w, "  copies: [*a, *a, *a]").unwrap();
        for d in 0..100 {
            writeln!(w, "{}l{d}:", " ".repeat(2 * d + 2)).unwrap();
        }
        writeln!(w, "{}wide: [{}]", " ".repeat(202), vec!["z"; 160_000].join(", ")).unwrap();
        drop(w);
        files.push(file);
    }
    let o = c.refused(
        "a deep-and-wide mix over 24 files",
        &[
            "more than 4000000 YAML nodes in this render (limit MAX_NODES = 4000000 nodes per render",
            "/rel/chart/templates/t",
        ],
    );
    let first = o.stderr.lines().next().unwrap_or("");
    assert!(files.iter().any(|f| first.contains(&format!("{}:", f.display()))), "names one of the files: {first}");
}

#[test]
fn input_over_the_byte_budget_is_refused_before_it_is_read() {
    // Two sparse files of 65 MiB of NUL bytes: read, they would be invalid input (NUL is not
    // printable); refused from the listing's sizes, they are never opened.
    let c = Case::new("bytes");
    for name in ["a.yaml", "b.yaml"] {
        let (w, _) = c.create(name);
        w.into_inner().unwrap().set_len(65 << 20).unwrap();
    }
    let o = c.refused(
        "130 MiB of input",
        &[
            &format!("{}: 136314880 bytes of input in 2 YAML files: more than the limit", c.input.display()),
            "MAX_INPUT_BYTES = 134217728 bytes per render",
            "the largest: ",
        ],
    );
    assert!(!o.stderr.contains("unprintable") && !o.stderr.contains("UTF-8"), "{}", o.stderr);
}

#[test]
fn the_corpus_and_the_10x_corpus_render_within_the_budgets() {
    let Some(corpus) = corpus() else { return };
    let config = root().join("benches/corpus-instance.yaml");
    let tmp = TempDir::new("corpus-x10");
    // As benches/peers/run_all.sh's scale mode: every release folder copied 10 times as
    // `<release>-r<i>` (100 MiB, 2.7 M nodes; the config's overrides select `snipr*`, `minio*`).
    let big = tmp.join("x10");
    let mut releases = 0;
    for e in std::fs::read_dir(&corpus).unwrap().flatten() {
        if !e.file_type().unwrap().is_dir() {
            continue;
        }
        releases += 1;
        for i in 1..=10 {
            copy_dir(&e.path(), &big.join(format!("{}-r{i}", e.file_name().to_string_lossy())));
        }
    }
    for (what, input, docs) in [("the corpus", corpus.as_path(), 777), ("the 10x corpus", big.as_path(), 7770)] {
        let out = tmp.join(format!("out-{docs}"));
        let secrets = tmp.join(format!("secrets-{docs}.json"));
        let a = RenderArgs::new(input, &out).config(&config).extra(&[OsStr::new("--secrets-out"), secrets.as_os_str()]);
        let o = a.run_env(&[("OPENDESK_RENDER_FSYNC", "0")]);
        o.expect(what, 0).stderr_has(what, &format!("{docs} documents in"));
        eprintln!("{what} ({releases} releases): exit 0 in {:?}", o.elapsed);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
