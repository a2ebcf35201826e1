//! The redact stage alone, `N` times on the corpus, for instruction counts (issue 15: the
//! stage's cost is measured with callgrind, which is repeatable on a loaded machine, where
//! wall-clock medians are not). Setup (load, ESO stage) runs once, outside the counted
//! difference:
//!
//! ```text
//! cargo build --release -p opendesk-benches --example stage_redact
//! export OPENDESK_CORPUS=../shared/corpus/opendesk-like RAYON_NUM_THREADS=1
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.setup target/release/examples/stage_redact 3 setup-only
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.run target/release/examples/stage_redact 3
//! # per run of the stage: (Ir of cg.run − Ir of cg.setup) / 3
//! ```
//!
//! `setup-only` does everything but the stage (load, ESO stage, one copy of the documents per
//! run), so the difference is the stage's alone.

use opendesk_render::config::InstanceConfig;
use opendesk_render::load::load_dir;
use opendesk_render::stages;
use std::path::PathBuf;

/// The allocator of the `opendesk-render` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let setup_only = std::env::args().nth(2).as_deref() == Some("setup-only");
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus-instance.yaml");
    let cfg = InstanceConfig::load(&p).expect("corpus config");
    let mut docs = load_dir(&opendesk_benches::corpus()).expect("corpus loads").documents;
    let eso = stages::eso::eso(&mut docs, &cfg).expect("eso");
    let inputs: Vec<_> = (0..n).map(|_| docs.clone()).collect();
    let mut occurrences = 0;
    for mut d in inputs {
        if !setup_only {
            let out = stages::redact::redact(&mut d, &cfg, &eso.payload);
            occurrences += out.report.occurrences.len();
            // Kept, as the pipeline keeps it: dropping it is not the stage's work.
            std::mem::forget(out);
        }
        std::mem::forget(d);
    }
    println!("{n} runs, {occurrences} occurrences");
}
