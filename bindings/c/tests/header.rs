//! The checked-in header equals what cbindgen generates from the sources.
//! `ODR_UPDATE_HEADER=1 cargo test -p opendesk-render-c --test header` rewrites it.

use std::path::Path;

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
    let path = dir.join("include/opendesk_render.h");
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
