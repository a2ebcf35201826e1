//! The full pipeline on the real corpus (load, all patches, every stage with a secrets manager
//! configured, output tree written to a temp dir), and each stage on its own.
//! `cargo bench -p opendesk-benches --bench pipeline`. Output files are not fsynced here
//! (`OPENDESK_RENDER_FSYNC=0`): fsync latency is the disk's, not the pipeline's; the tree goes to
//! `/dev/shm` when it exists (see `full_pipeline`).

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use opendesk_render::config::InstanceConfig;
use opendesk_render::load::{load_dir, LoadedInput};
use opendesk_render::patch::{apply, PatchSet, Vars};
use opendesk_render::pipeline::{render, RenderRequest};
use opendesk_render::stages;
use std::path::PathBuf;

/// The allocator of the `opendesk-render` binary (opendesk-steps/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::env::set_var("OPENDESK_RENDER_FSYNC", "0");
    divan::main();
}

fn config() -> InstanceConfig {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus-instance.yaml");
    InstanceConfig::load(&p).expect("corpus config")
}

fn input() -> LoadedInput {
    load_dir(&opendesk_benches::corpus()).expect("corpus loads")
}

fn patches() -> PatchSet {
    opendesk_patches::default_set().expect("default patches")
}

#[divan::bench(sample_count = 10)]
fn full_pipeline(b: Bencher) {
    let cfg = config();
    let set = patches();
    let dir = opendesk_benches::corpus();
    let first = input();
    // tmpfs when there is one: on this kind of machine's ext4 (mounted with `discard`) creating
    // and deleting 777 files per iteration measures the disk, not the pipeline. `ODR_BENCH_OUT`
    // picks another parent dir.
    let parent = std::env::var_os("ODR_BENCH_OUT").map(PathBuf::from).unwrap_or_else(|| {
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
    });
    let out = parent.join(format!("odr-bench-{}", std::process::id()));
    b.counter(BytesCount::new(first.bytes as usize)).counter(ItemsCount::new(first.documents.len())).bench(|| {
        let input = load_dir(&dir).unwrap();
        let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
        let r = render(input, &req).expect("corpus renders");
        opendesk_render::output::write::write_tree(&out, &r.tree.files).unwrap();
        r.report.summary.documents_out
    });
    let _ = std::fs::remove_dir_all(&out);
}

#[divan::bench(sample_count = 10)]
fn pipeline_in_memory(b: Bencher) {
    let cfg = config();
    let set = patches();
    let first = input();
    b.counter(BytesCount::new(first.bytes as usize)).with_inputs(input).bench_values(|input| {
        let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
        render(input, &req).expect("corpus renders").tree.files.len()
    });
}

#[divan::bench(sample_count = 10)]
fn stage_patches(b: Bencher) {
    let cfg = config();
    let prep = patches().prepare(&cfg.version(), &Vars::from_config(&cfg)).unwrap();
    b.with_inputs(|| input().documents).bench_refs(|docs| apply(&prep, docs, "patch"));
}

#[divan::bench(sample_count = 10)]
fn stage_lint(b: Bencher) {
    let cfg = config();
    let docs = input().documents;
    b.bench(|| stages::lint::lint(&docs, &cfg));
}

#[divan::bench(sample_count = 10)]
fn stage_eso_redact_guards(b: Bencher) {
    let cfg = config();
    b.with_inputs(|| input().documents).bench_refs(|docs| {
        let eso = stages::eso::eso(docs, &cfg).unwrap();
        let red = stages::redact::redact(docs, &cfg, &eso.payload);
        let ctx = stages::guards::GuardContext {
            known_secrets: Some(&red.known),
            root_clean: &red.root_clean,
            ..Default::default()
        };
        stages::guards::guards(docs, &cfg, &ctx).failed()
    });
}

/// The redact stage alone on the corpus (issue 15: median ≤ 15 ms): classification, the
/// forms automaton, the scan, env rewrites. Input: the documents after the ESO stage.
#[divan::bench(sample_count = 20)]
fn stage_redact(b: Bencher) {
    let cfg = config();
    b.with_inputs(|| {
        let mut docs = input().documents;
        let eso = stages::eso::eso(&mut docs, &cfg).unwrap();
        (docs, eso.payload)
    })
    .bench_refs(|(docs, payload)| stages::redact::redact(docs, &cfg, payload).report.occurrences.len());
}

/// The validate stage on the corpus's final documents (after every stage): schemas compiled
/// once per process, CRDs from the render compiled once and cached, documents in parallel.
#[divan::bench(sample_count = 20)]
fn stage_validate(b: Bencher) {
    let cfg = config();
    let set = patches();
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let docs = render(input(), &req).expect("corpus renders").documents;
    let schemas = opendesk_render::validate::Schemas::for_config(&cfg).expect("schemas");
    let _ = opendesk_render::validate::validate(&docs, &schemas, &[]);
    b.counter(ItemsCount::new(docs.len())).bench(|| opendesk_render::validate::validate(&docs, &schemas, &[]).checked);
}

/// The validate stage as the first render of a process runs it (issue 17's cold path): every
/// once-per-process cache emptied first, so the built-in schemas of the version, the render's
/// CRDs (and their patterns) and the CRD documents' own checks are compiled again.
#[divan::bench(sample_count = 10)]
fn stage_validate_cold(b: Bencher) {
    let cfg = config();
    let set = patches();
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let docs = render(input(), &req).expect("corpus renders").documents;
    b.counter(ItemsCount::new(docs.len())).bench(|| {
        opendesk_render::validate::clear_caches();
        let schemas = opendesk_render::validate::Schemas::for_config(&cfg).expect("schemas");
        opendesk_render::validate::validate(&docs, &schemas, &[]).checked
    });
}
