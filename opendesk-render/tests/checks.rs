//! The checks registry against the docs and against what the stages emit.

use opendesk_render::checks::{markdown_table, Check};
use opendesk_render::config::InstanceConfig;
use opendesk_render::load::load_dir;
use opendesk_render::patch::PatchSet;
use opendesk_render::pipeline::{render, RenderError, RenderRequest};
use opendesk_render::Finding;
use std::path::Path;

mod common;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

#[test]
fn json_report_lists_every_check_from_the_registry() {
    let doc = std::fs::read_to_string(repo("docs/json-report.md")).unwrap();
    let (begin, end) = ("<!-- checks:begin -->\n", "<!-- checks:end -->");
    let a = doc.find(begin).expect("docs/json-report.md has a checks:begin marker") + begin.len();
    let b = doc[a..].find(end).expect("and a checks:end marker") + a;
    let want = markdown_table();
    assert_eq!(&doc[a..b], want, "docs/json-report.md's table of codes is out of date; replace it with:\n{want}");
    for c in Check::ALL {
        assert!(doc.contains(&format!("`{}`", c.code())), "{c} is documented");
        assert!(!c.doc().trim().is_empty(), "{c} has a doc");
    }
}

fn registered(findings: &[Finding]) {
    for f in findings {
        let c = Check::from_code(&f.code).unwrap_or_else(|| panic!("{} is not in the checks registry", f.code));
        assert_eq!(c.stage(), f.stage, "{} is emitted by the stage the registry names", f.code);
    }
}

fn findings_of(r: Result<opendesk_render::pipeline::Rendered, RenderError>) -> Vec<Finding> {
    match r {
        Ok(r) => r.report.findings,
        Err(RenderError::Failed(rep, _)) => rep.findings,
        Err(e) => panic!("render: {e}"),
    }
}

#[test]
fn every_code_the_stages_emit_is_registered() {
    let cfg_text = std::fs::read_to_string(repo("examples/instance.yaml")).unwrap();
    let cfg = InstanceConfig::parse(Path::new("instance.yaml"), &cfg_text).unwrap();
    let mut texts = Vec::new();
    for e in std::fs::read_dir(repo("runtime-patches/rendered-patches")).unwrap().flatten() {
        texts.push((e.file_name().to_string_lossy().to_string(), std::fs::read_to_string(e.path()).unwrap()));
    }
    let set = PatchSet::from_texts(texts.iter().map(|(a, b)| (a.as_str(), b.as_str()))).unwrap();
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let example = findings_of(render(load_dir(&repo("examples/helmfile-output")).unwrap(), &req));
    registered(&example);
    // Without patches and a graph, the example trips lint errors and the output warnings.
    let bare = RenderRequest { config: Some(&cfg), ..Default::default() };
    registered(&findings_of(render(load_dir(&repo("examples/helmfile-output")).unwrap(), &bare)));
    if let Some(dir) = common::corpus() {
        let text = std::fs::read_to_string(repo("benches/corpus-instance.yaml")).unwrap();
        let cfg = InstanceConfig::parse(Path::new("corpus-instance.yaml"), &text).unwrap();
        let req = RenderRequest { config: Some(&cfg), ..Default::default() };
        let f = findings_of(render(load_dir(&dir).unwrap(), &req));
        assert!(!f.is_empty());
        registered(&f);
    }
}
