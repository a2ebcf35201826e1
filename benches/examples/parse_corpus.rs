//! The YAML parser alone (`yaml::parse_documents`, the fast path with its fallback), `N` times
//! over every document of the corpus, for instruction counts (issue 16: the parser's cost is
//! measured with callgrind, which is repeatable on a loaded machine, where wall-clock medians
//! are not). Reading and splitting the files runs once, outside the counted difference:
//!
//! ```text
//! cargo build --release -p opendesk-benches --example parse_corpus
//! export OPENDESK_CORPUS=../shared/corpus/opendesk-like RAYON_NUM_THREADS=1
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.setup target/release/examples/parse_corpus 3 setup-only
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.run target/release/examples/parse_corpus 3
//! # per parse of the corpus: (Ir of cg.run − Ir of cg.setup) / 3
//! ```
//!
//! `setup-only` lists, reads, decodes and splits the files and parses each chunk once (to leave
//! out the few the parser refuses), as the full run does first, so the difference is the `N`
//! parses alone. The trees are kept (not dropped): freeing them is not parsing.

use opendesk_render::load::{decode, list_inputs, split_documents};
use opendesk_render::yaml;

/// The allocator of the `opendesk-render` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let setup_only = std::env::args().nth(2).as_deref() == Some("setup-only");
    let files = list_inputs(&opendesk_benches::corpus()).expect("corpus lists");
    let texts: Vec<String> = files
        .iter()
        .map(|f| decode(&f.path, std::fs::read(&f.path).expect("corpus file reads")).expect("corpus decodes"))
        .collect();
    // The few chunks the parser refuses (the loader repairs them, `relax_flow_closers`) are
    // left out, found by one parse that both modes do.
    let chunks: Vec<&str> = texts
        .iter()
        .flat_map(|t| split_documents(t))
        .map(|c| c.text)
        .filter(|c| yaml::parse_documents(c).is_ok())
        .collect();
    let mut nodes = 0usize;
    if !setup_only {
        for _ in 0..n {
            for c in &chunks {
                let docs = yaml::parse_documents(c).expect("corpus parses");
                nodes += docs.iter().map(yaml::Node::size).sum::<usize>();
                // Kept, as the loader keeps them: dropping is not the parser's work.
                std::mem::forget(docs);
            }
        }
    }
    println!("{n} runs, {} files, {} chunks, {nodes} nodes", files.len(), chunks.len());
}
