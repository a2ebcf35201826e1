//! Embed `runtime-patches/rendered-patches/*.yaml` (the default patch set) into the crate.
use std::path::Path;

fn main() {
    // The manifest dir as cargo passes it to this run, not `env!` (baked in when the script was
    // compiled): a build script binary copied to another checkout's target dir must read that
    // checkout's patches.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../runtime-patches/rendered-patches");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    let mut out = String::from("/// The default patch set: (file name, text), in application order.\npub static DEFAULT_PATCHES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.canonicalize().unwrap().display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("default_patches.rs");
    std::fs::write(dest, out).unwrap();
}
