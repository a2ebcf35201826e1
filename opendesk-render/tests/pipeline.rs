//! The composed pipeline on the bundled example: stage order (overrides see JIT's output),
//! idempotence of the whole pipeline, the required-patch guard, and determinism.

use opendesk_render::config::InstanceConfig;
use opendesk_render::load::load_dir;
use opendesk_render::patch::PatchSet;
use opendesk_render::pipeline::{render, RenderError, RenderRequest};
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/helmfile-output")
}

fn example_config(extra: &str) -> InstanceConfig {
    let base =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/instance.yaml")).unwrap();
    InstanceConfig::parse(Path::new("instance.yaml"), &format!("{base}{extra}")).unwrap()
}

fn default_patches() -> PatchSet {
    patches_with(None)
}

/// The default patch files, plus one extra `(file name, text)`.
fn patches_with(extra: Option<(&str, &str)>) -> PatchSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-patches/rendered-patches");
    let mut texts: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    if let Some((n, t)) = extra {
        texts.push((n.to_string(), t.to_string()));
    }
    PatchSet::from_texts(texts.iter().map(|(a, b)| (a.as_str(), b.as_str()))).unwrap()
}

#[test]
fn overrides_run_after_jit() {
    // An override that edits the initContainer JIT injects: it only matches after JIT ran. It
    // goes first in the example's own overrides (which the example needs to render).
    let base =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/instance.yaml")).unwrap();
    let ours = "overrides:\n  - name: pin-jit-pull-policy\n    select: {kind: StatefulSet, name: ums-keycloak}\n    ops:\n      - set: {path: \"$.spec.template.spec.initContainers[?(@.name == 'keycloak-jit-plugin')].imagePullPolicy\", value: Always}\n";
    assert!(base.contains("\noverrides:\n"));
    let text = base.replacen("\noverrides:\n", &format!("\n{ours}"), 1);
    let mut cfg = InstanceConfig::parse(Path::new("o.yaml"), &text).unwrap();
    cfg.external_idp.user_sync = true;
    let set = default_patches();
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let r = render(load_dir(&example()).unwrap(), &req).expect("renders");
    let ov = r.report.patches.iter().find(|p| p.name == "override:pin-jit-pull-policy").unwrap();
    assert_eq!((ov.matched, ov.changed), (1, 1), "{ov:?}");
    let kc = r.documents.iter().find(|d| d.name() == Some("ums-keycloak") && d.kind() == Some("StatefulSet")).unwrap();
    let by: Vec<&str> = kc.changes.iter().map(|c| c.by.as_str()).collect();
    let jit = by.iter().position(|b| *b == "stage:jit").expect("jit changed keycloak");
    let ov = by.iter().position(|b| *b == "override:pin-jit-pull-policy").expect("override changed keycloak");
    assert!(jit < ov, "{by:?}");
}

#[test]
fn pipeline_is_idempotent_and_deterministic() {
    let cfg = example_config("");
    let set = default_patches();
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let a = render(load_dir(&example()).unwrap(), &req).unwrap();
    let b = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| render(load_dir(&example()).unwrap(), &req).unwrap());
    assert_eq!(a.tree.files, b.tree.files, "same bytes on 1 thread and the default pool");
    // Feed the written releases back in: nothing changes any more.
    let dir = std::env::temp_dir().join(format!("odr-pipeline-idem-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (p, t) in &a.tree.files {
        if p.starts_with("releases") {
            let f = dir.join(p.strip_prefix("releases").unwrap());
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        }
    }
    let again = render(load_dir(&dir).unwrap(), &req).unwrap();
    // The example's override deliberately re-points what patch ox-initconfigdb-root-pwd sets,
    // so that pair rewrites each other on every run (same result); nothing else may change.
    let changed: Vec<&str> = again.report.patches.iter().filter(|p| p.changed > 0).map(|p| p.name.as_str()).collect();
    assert!(
        changed
            .iter()
            .all(|n| *n == "ox-initconfigdb-root-pwd" || *n == "override:acme-ox-root-password-from-mariadb-secret"),
        "{changed:?}"
    );
    let rel = |f: &std::collections::BTreeMap<PathBuf, String>| {
        f.iter().filter(|(p, _)| p.starts_with("releases")).map(|(p, t)| (p.clone(), t.clone())).collect::<Vec<_>>()
    };
    assert_eq!(rel(&a.tree.files), rel(&again.tree.files));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn required_patch_matching_nothing_fails_naming_it() {
    let cfg = example_config("");
    let set = patches_with(Some((
        "999-must-hit.yaml",
        "name: must-hit\nrequired: true\nselect: {kind: CronJob, name: nothing-like-this}\nops:\n  - set: {path: \"$.spec.suspend\", value: true}\n",
    )));
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    match render(load_dir(&example()).unwrap(), &req) {
        Err(e @ RenderError::Failed(..)) => {
            assert_eq!(e.exit_code(), 1);
            assert!(e.to_string().contains("must-hit"), "{e}");
        }
        Err(other) => panic!("expected a failed render, got {other}"),
        Ok(_) => panic!("expected a failed render"),
    }
    // Out of its appliesTo range, the same patch is skipped, not fatal.
    let set = patches_with(Some((
        "999-must-hit.yaml",
        "name: must-hit\nrequired: true\nappliesTo: \">=2.0.0\"\nselect: {kind: CronJob, name: nothing-like-this}\nops:\n  - set: {path: \"$.spec.suspend\", value: true}\n",
    )));
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let r = render(load_dir(&example()).unwrap(), &req).unwrap();
    assert!(r.report.patches.iter().find(|p| p.name == "must-hit").unwrap().skipped.is_some());
}
