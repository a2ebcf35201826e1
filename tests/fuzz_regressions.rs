//! Every input the fuzzers found (fuzz/regressions/<target>/*) replayed through the same
//! check the fuzz target runs (fuzz/src/lib.rs, included here), so CI keeps them fixed
//! without running a fuzzer. A check fails by panicking.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use opendesk_e2e::time_bound;
use std::path::Path;

#[test]
fn every_saved_fuzz_input_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut ran = 0;
    let mut failed = Vec::new();
    for (target, check) in checks::TARGETS {
        let dir = root.join(target);
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            assert!(
                data.len() <= 64 * 1024,
                "{}: keep regression inputs small (minimize with cargo fuzz tmin)",
                f.display()
            );
            let t = std::time::Instant::now();
            let r = std::panic::catch_unwind(|| check(&data));
            ran += 1;
            if r.is_err() {
                failed.push(f.display().to_string());
            } else if t.elapsed() > time_bound() {
                // Timeouts found by the fuzzers are regressions too; the bound is the suites'
                // generous hang guard (a loaded machine is slow, a regressed input hangs).
                failed.push(format!("{} (took {:?})", f.display(), t.elapsed()));
            }
        }
    }
    assert!(failed.is_empty(), "fuzz regressions failing: {failed:#?}");
    assert!(ran > 0, "no regression inputs found under {}", root.display());
    println!("{ran} fuzz regression inputs passed");
}
