//! The checked-in header equals what cbindgen generates from the sources, says the ABI version
//! the library implements, and compiles as C and as C++.
//! `ODR_UPDATE_HEADER=1 cargo test -p opendesk-render-c --test header` rewrites it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn header() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include/opendesk_render.h")
}

#[test]
fn header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_src(dir.join("src/lib.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = header();
    if std::env::var_os("ODR_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write header");
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == fresh,
        "{} is stale: regenerate it with `ODR_UPDATE_HEADER=1 cargo test -p opendesk-render-c --test header` and commit it",
        path.display()
    );
}

#[test]
fn header_states_the_abi_version_of_the_library() {
    let text = std::fs::read_to_string(header()).unwrap();
    let want = format!("#define ODR_ABI_VERSION {}\n", opendesk_render_c::ODR_ABI_VERSION);
    assert!(text.contains(&want), "the header lacks {want:?}");
    assert_eq!(opendesk_render_c::odr_abi_version(), opendesk_render_c::ODR_ABI_VERSION);
    for f in ["odr_abi_version", "odr_render_request", "odr_result_free", "odr_cancel_new", "odr_cancel_request"] {
        assert!(
            text.contains(&format!("{f}(void)"))
                || text.contains(&format!("{f}(const"))
                || text.contains(&format!("{f}(struct")),
            "the header lacks {f}"
        );
    }
}

/// The header compiles on its own, as C11 and as C++17, without warnings (a C compiler is
/// needed for cgo anyway; the test says so when there is none).
#[test]
fn header_compiles_as_c_and_cpp() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("t.c");
    std::fs::write(
        &src,
        "#include \"opendesk_render.h\"\nint main(void) { return (int)odr_abi_version() - ODR_ABI_VERSION; }\n",
    )
    .unwrap();
    let inc = header().parent().unwrap().to_path_buf();
    for (cc, std) in [("cc", "-std=c11"), ("c++", "-std=c++17")] {
        let mut cmd = Command::new(cc);
        if cc == "c++" {
            cmd.args(["-x", "c++"]);
        }
        let out = match cmd
            .arg(std)
            .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
            .arg(&inc)
            .arg(&src)
            .output()
        {
            Ok(o) => o,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("skipping the {cc} check: {e}");
                continue;
            }
            Err(e) => panic!("{cc}: {e} (CI needs a C compiler for the bindings)"),
        };
        assert!(out.status.success(), "{cc} {std}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
