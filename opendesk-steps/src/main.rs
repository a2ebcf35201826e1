//! The `opendesk-render` binary: a thin shell over [`opendesk_steps::cli`].

/// mimalloc instead of glibc malloc: the pipeline allocates hundreds of thousands of small
/// nodes on every rayon worker; with mimalloc the full corpus render is about a quarter faster
/// (benches/peers/README.md has the figures). Build with `--no-default-features` for the
/// system allocator (heaptrack, valgrind).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// `.init_array` is an ELF section: the tuning is Linux-only (elsewhere mimalloc's defaults).
#[cfg(all(feature = "mimalloc", target_os = "linux"))]
mod tuning {
    use std::ffi::{c_int, c_long};
    extern "C" {
        // From the mimalloc library that the `mimalloc` crate links (mimalloc.h).
        fn mi_option_set(option: c_int, value: c_long);
    }
    /// `mi_option_arena_eager_commit`: the fifth option in mimalloc.h, in both v2 and v3.
    const ARENA_EAGER_COMMIT: c_int = 4;

    /// Commit arena memory on demand, not eagerly: peak RSS on the corpus drops from ~92 MB to
    /// ~58 MB at no measurable cost. `MIMALLOC_ARENA_EAGER_COMMIT` in the environment wins.
    /// Runs from `.init_array`, before `main` and before the first allocation of the Rust
    /// runtime, which is when mimalloc reserves its first arena.
    extern "C" fn apply() {
        // No allocation here: `getenv` reads the environment in place.
        extern "C" {
            fn getenv(name: *const std::ffi::c_char) -> *const std::ffi::c_char;
        }
        // SAFETY: a NUL-terminated literal; getenv only reads.
        let set = unsafe { !getenv(c"MIMALLOC_ARENA_EAGER_COMMIT".as_ptr()).is_null() };
        if !set {
            // SAFETY: a plain setter of a global option, valid at any time.
            unsafe { mi_option_set(ARENA_EAGER_COMMIT, 0) }
        }
    }

    #[used]
    #[link_section = ".init_array"]
    static INIT: extern "C" fn() = apply;
}

/// Die quietly on a closed pipe (`opendesk-render patches list | head`), as Unix tools do:
/// Rust ignores SIGPIPE, and `println!` then panics on the broken pipe.
#[cfg(unix)]
fn default_sigpipe() {
    extern "C" {
        fn signal(signum: std::ffi::c_int, handler: usize) -> usize;
    }
    const SIGPIPE: std::ffi::c_int = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

fn main() {
    #[cfg(unix)]
    default_sigpipe();
    std::process::exit(opendesk_steps::cli::main());
}
