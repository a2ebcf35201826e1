//! The `opendesk-render` binary: a thin shell over [`opendesk_steps::cli`].

/// mimalloc instead of glibc malloc: the pipeline allocates millions of small nodes on every
/// rayon worker, and glibc's per-thread arenas spent a sixth of the run growing their heaps
/// (`sysmalloc`/`mprotect`); see benches/peers/README.md for the figures.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(opendesk_steps::cli::main());
}
