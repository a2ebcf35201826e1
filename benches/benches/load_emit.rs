//! Load (read + split + parallel parse) and emit of the whole corpus, in MB/s.
//! `cargo bench -p opendesk-benches --bench load_emit`; `RAYON_NUM_THREADS=1` for one thread.

use divan::counter::BytesCount;
use divan::Bencher;
use opendesk_render::document::emit_stream;
use opendesk_render::load::load_dir;

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
