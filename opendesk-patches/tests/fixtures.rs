//! Every fixture of `runtime-patches/` against its insta snapshot, plus idempotence and the
//! out-of-range check (see `opendesk_patches::run_fixture`).

use std::path::Path;

#[test]
fn every_fixture_matches_its_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-patches");
    let outcomes = opendesk_patches::run_fixtures(&root, false).expect("fixtures run");
    assert!(!outcomes.is_empty(), "no fixtures found");
    let mut failed = Vec::new();
    for o in &outcomes {
        insta::with_settings!({snapshot_path => o.snapshot.parent().unwrap(), prepend_module_to_snapshot => false, omit_expression => false}, {
            insta::assert_snapshot!(o.name.as_str(), o.output.as_str(), "output");
        });
        if !o.passed() {
            failed.push(format!("{}: {}", o.name, o.problems.join("; ")));
        }
    }
    assert!(failed.is_empty(), "fixture problems:\n{}", failed.join("\n"));
    println!("{} fixtures passed", outcomes.len());
}

#[test]
fn default_set_compiles_and_has_a_fixture_per_patch() {
    let set = opendesk_patches::default_set().expect("default set compiles");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-patches/fixtures");
    let files: std::collections::BTreeSet<String> = set.patches.iter().map(|p| p.file.to_string()).collect();
    for f in files {
        let name = f.split_once('-').map(|(_, r)| r.trim_end_matches(".yaml").to_string()).unwrap();
        assert!(root.join(&name).join("input.yaml").is_file(), "patch file {f} has no fixture dir {name}/");
    }
}

#[test]
fn schema_is_valid_json_with_all_primitives() {
    let s = opendesk_patches::schema();
    let ops = s["properties"]["ops"]["items"]["oneOf"].as_array().unwrap();
    let names: Vec<&str> = ops.iter().map(|o| o["required"][0].as_str().unwrap()).collect();
    assert_eq!(names, opendesk_render::patch::PRIMITIVE_NAMES, "one schema entry per primitive, in order");
    for o in ops {
        let n = o["required"][0].as_str().unwrap();
        assert!(o["properties"][n].is_object(), "{n}: a body schema");
        assert!(o["description"].as_str().is_some_and(|d| !d.is_empty()), "{n}: a description");
    }
}
