//! `patches matrix` over the real corpus for three versions: a snapshot with at least one patch
//! out of range and one dead; the default versions are the appliesTo boundaries plus the
//! configured one.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::corpus;

#[test]
fn corpus_matrix_for_three_versions() {
    let Some(corpus) = corpus() else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cfg = root.join("benches/corpus-instance.yaml");
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_opendesk-render"))
            .args(["patches", "matrix", corpus.to_str().unwrap(), "--config", cfg.to_str().unwrap()])
            .args(extra)
            .current_dir(&root)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let json = run(&["--versions", "1.12.0,1.13.1,1.17.0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let states: Vec<&str> = v["patches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()))
        .collect();
    assert!(states.contains(&"out-of-range") && states.contains(&"dead") && states.contains(&"changed"), "{states:?}");
    insta::assert_snapshot!("corpus_matrix_json", json);
    insta::assert_snapshot!("corpus_matrix_markdown", run(&["--versions", "1.12.0,1.13.1,1.17.0", "--markdown"]));
    let d: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    let cfg_version = std::fs::read_to_string(&cfg).unwrap();
    assert!(d["versions"].as_array().unwrap().iter().any(|x| x == "1.17.0"), "{d}");
    assert!(d["versions"].as_array().unwrap().iter().any(|x| cfg_version.contains(x.as_str().unwrap())), "{d}");
    let bad = Command::new(env!("CARGO_BIN_EXE_opendesk-render"))
        .args(["patches", "matrix", corpus.to_str().unwrap(), "--config", cfg.to_str().unwrap(), "--versions", "1.13"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
