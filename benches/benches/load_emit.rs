//! Load (read + split + parallel parse) and emit of the whole corpus, in MB/s.
//! `cargo bench -p opendesk-benches --bench load_emit`; `RAYON_NUM_THREADS=1` for one thread.

use divan::counter::BytesCount;
use divan::Bencher;
use opendesk_render::document::emit_stream;
use opendesk_render::load::{decode, load_dir, split_documents};
use opendesk_render::yaml::{parse_documents, parse_documents_general};
use rayon::prelude::*;

/// The allocator of the `opendesk-render` binary (opendesk-steps/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn input_bytes() -> usize {
    load_dir(&opendesk_benches::corpus()).expect("corpus loads").bytes as usize
}

#[divan::bench(sample_count = 20)]
fn load(b: Bencher) {
    let dir = opendesk_benches::corpus();
    b.counter(BytesCount::new(input_bytes())).bench(|| load_dir(&dir).unwrap());
}

#[divan::bench(sample_count = 20)]
fn emit(b: Bencher) {
    let input = load_dir(&opendesk_benches::corpus()).unwrap();
    b.counter(BytesCount::new(input.bytes as usize)).bench(|| emit_stream(&input.documents));
}

#[divan::bench(sample_count = 20)]
fn load_and_emit(b: Bencher) {
    let dir = opendesk_benches::corpus();
    b.counter(BytesCount::new(input_bytes())).bench(|| {
        let input = load_dir(&dir).unwrap();
        emit_stream(&input.documents)
    });
}

/// Every file read, decoded and split beforehand: `(text, chunk ranges)`.
fn chunks() -> Vec<(String, Vec<(usize, usize)>)> {
    let input = load_dir(&opendesk_benches::corpus()).unwrap();
    input
        .files
        .iter()
        .map(|f| {
            let text = decode(&f.path, std::fs::read(&f.path).unwrap()).unwrap();
            let base = text.as_ptr() as usize;
            let ranges = split_documents(&text)
                .iter()
                .map(|c| (c.text.as_ptr() as usize - base, c.text.as_ptr() as usize - base + c.text.len()))
                .collect();
            (text, ranges)
        })
        .collect()
}

/// Parse only, in memory, on the pool: every chunk of the corpus into trees (the figure to
/// hold against rapidyaml's parse-only peer, `benches/peers/rapidyaml_parse.py`).
#[divan::bench(sample_count = 20)]
fn parse_only(b: Bencher) {
    let files = chunks();
    let bytes: usize = files.iter().map(|(t, _)| t.len()).sum();
    let tasks: Vec<&str> = files.iter().flat_map(|(t, r)| r.iter().map(move |&(s, e)| &t[s..e])).collect();
    b.counter(BytesCount::new(bytes))
        .bench(|| tasks.par_iter().with_min_len(4).map(|c| parse_documents(c).ok()).collect::<Vec<_>>());
}

/// The general parser alone (saphyr-parser events), for the fast path's gain.
#[divan::bench(sample_count = 10)]
fn parse_only_general(b: Bencher) {
    let files = chunks();
    let bytes: usize = files.iter().map(|(t, _)| t.len()).sum();
    let tasks: Vec<&str> = files.iter().flat_map(|(t, r)| r.iter().map(move |&(s, e)| &t[s..e])).collect();
    b.counter(BytesCount::new(bytes))
        .bench(|| tasks.par_iter().with_min_len(4).map(|c| parse_documents_general(c).ok()).collect::<Vec<_>>());
}
