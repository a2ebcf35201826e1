//! The documentation's examples are real: the patch examples of docs/patch-authors.md pass
//! `patches test`, appear verbatim in the page, cover every primitive; the `explain` output
//! shown there is what the binary prints; the config examples of docs/config.md parse.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_opendesk-render");
/// Every primitive, from the engine's one list.
const PRIMITIVES: &[&str] = opendesk_render::patch::PRIMITIVE_NAMES;

fn doc(name: &str) -> String {
    std::fs::read_to_string(Path::new("../docs").join(name)).unwrap()
}

#[test]
fn patch_examples_pass_their_fixtures_and_are_on_the_page() {
    let o = Command::new(BIN).args(["patches", "test", "../docs/patch-examples"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let examples = std::fs::read_dir("../docs/patch-examples/rendered-patches").unwrap().count();
    assert!(out.contains(&format!("{examples} passed, 0 failed")), "{out}");
    let o = Command::new(BIN).args(["patches", "check", "../docs/patch-examples"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));

    let page = doc("patch-authors.md");
    let mut used = String::new();
    for e in std::fs::read_dir("../docs/patch-examples/rendered-patches").unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        assert!(page.contains(&text), "docs/patch-authors.md must show this patch verbatim:\n{text}");
        used.push_str(&text);
    }
    for p in PRIMITIVES {
        assert!(page.contains(&format!("### `{p}`")), "a section for {p}");
        assert!(used.contains(&format!("- {p}:")), "an example using {p}");
    }
}

/// docs/patch-format.md's table of primitives has one row per primitive of the engine's list,
/// in its order, and no other.
#[test]
fn the_format_page_lists_every_primitive() {
    let page = doc("patch-format.md");
    let table = &page[page.find("| op | fields | meaning |").expect("the primitives table")..];
    let rows: Vec<&str> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('`').nth(1).expect("a row names its op"))
        .collect();
    assert_eq!(rows, PRIMITIVES);
}

#[test]
fn explain_output_on_the_page_is_real() {
    let page = doc("patch-authors.md");
    let cmd = "$ opendesk-render explain --resource Job/opendesk/opendesk-keycloak-bootstrap-bootstrap-1\n";
    let start = page.find(cmd).expect("the explain example") + cmd.len();
    let shown = &page[start..start + page[start..].find("```").unwrap()];
    let o = Command::new(BIN)
        .args(["explain", "--resource", "Job/opendesk/opendesk-keycloak-bootstrap-bootstrap-1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        shown,
        String::from_utf8_lossy(&o.stdout),
        "update the explain example in docs/patch-authors.md (the bundled example or a patch changed)"
    );
}

#[test]
fn config_examples_parse() {
    let page = doc("config.md");
    let yaml = |after: &str| {
        let i = page.find(after).unwrap();
        let s = &page[i..];
        let a = s.find("```yaml\n").unwrap() + 8;
        s[a..a + s[a..].find("```").unwrap()].to_string()
    };
    let minimal = yaml("## The smallest config");
    opendesk_render::InstanceConfig::parse(Path::new("config.md"), &minimal).unwrap();
    let sm = yaml("### `secretsManager` and the plaintext rule");
    let with_sm = format!("{minimal}{sm}");
    let cfg = opendesk_render::InstanceConfig::parse(Path::new("config.md"), &with_sm).unwrap();
    assert!(cfg.secrets_manager.unwrap().is_usable());
    let ov = yaml("## Overrides");
    let cfg = opendesk_render::InstanceConfig::parse(Path::new("config.md"), &format!("{minimal}{ov}")).unwrap();
    assert_eq!(cfg.compiled_overrides().unwrap().len(), 1);

    let i = page.find("```json\n").unwrap() + 8;
    let json = &page[i..i + page[i..].find("```").unwrap()];
    let s = opendesk_steps::render_step::RuntimeState::parse(Path::new("config.md"), json).unwrap();
    assert_eq!(s.environment.as_deref(), Some("prod"));
}
