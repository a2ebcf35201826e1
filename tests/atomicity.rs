//! Atomicity at the CLI level (issue 8): a render that fails at any stage leaves an existing
//! `--out` byte-identical, and a render SIGKILLed while it writes leaves either the old or the
//! new tree (never a mix); its temp dir is never taken for output and the next render cleans
//! it. The library side (write_tree with injected failures, killed child writers) is tested in
//! opendesk-render/src/output/write.rs.

use opendesk_e2e::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn os(v: &[&str]) -> Vec<std::ffi::OsString> {
    v.iter().map(Into::into).collect()
}

fn run_os(a: &[std::ffi::OsString]) -> Outcome {
    let refs: Vec<&OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    run(&refs)
}

/// Copy a directory tree (files and dirs only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

#[test]
fn a_render_failing_at_any_stage_leaves_out_untouched() {
    let t = TempDir::new("fail-stages");
    let root = root();
    let input = t.join("in");
    copy_tree(&root.join("examples/helmfile-output"), &input);
    let out = t.join("out");
    let out_s = out.to_str().unwrap();
    let in_s = input.to_str().unwrap();
    let cfg = root.join("examples/instance.yaml");
    let cfg_s = cfg.to_str().unwrap();
    let so = t.join("secrets.json");
    let so_s = so.to_str().unwrap();
    // The old tree: a good render of the example.
    run_os(&os(&["render", in_s, "--out", out_s, "--config", cfg_s, "--secrets-out", so_s])).expect("good render", 0);
    let before = snapshot(&out);
    let secrets_before = std::fs::read(&so).unwrap();
    assert!(!before.is_empty());

    let bad_cfg = write(t.path(), "bad-config.yaml", "opendeskVersion: 1.13.1\ninstance: acme\n"); // no namespace
                                                                                                   // The example config without its `secretsManager:` block.
    let example = std::fs::read_to_string(&cfg).unwrap();
    let mut skipping = false;
    let no_sm_text: String = example
        .lines()
        .filter(|l| {
            if l.starts_with("secretsManager:") {
                skipping = true;
                return false;
            }
            if skipping && (l.starts_with(' ') || l.is_empty() || l.starts_with('#')) {
                return false;
            }
            skipping = false;
            true
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!no_sm_text.contains("secretsManager:"));
    let no_sm = write(t.path(), "no-sm.yaml", no_sm_text);
    write(
        t.path(),
        "patches/010-bad.yaml",
        "name: bad\nselect: {kind: Deployment}\nops:\n  - set: {path: \"$[\", value: 1}\n",
    );
    let graph = write(t.path(), "graph.yaml", "waves:\n  - name: only\n    releases: [ums]\n");
    let lint_in = t.join("in-lint");
    copy_tree(&input, &lint_in);
    write(
        &lint_in,
        "extra/extra/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  on: x\n",
    );
    let guard_in = t.join("in-guard");
    copy_tree(&input, &guard_in);
    write(
        &guard_in,
        "extra/extra/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  url: https://__EXTERNAL_HOST__/x\n",
    );
    let strs = |p: &PathBuf| p.to_str().unwrap().to_string();
    let cases: Vec<(&str, i32, Vec<String>)> = vec![
        ("config", 2, vec![in_s.into(), "--config".into(), strs(&bad_cfg)]),
        (
            "patches",
            2,
            vec![in_s.into(), "--config".into(), cfg_s.into(), "--patches".into(), strs(&t.join("patches"))],
        ),
        ("load", 2, vec![strs(&t.join("missing-input")), "--config".into(), cfg_s.into()]),
        ("eso (Secrets without a secrets manager)", 2, vec![in_s.into(), "--config".into(), strs(&no_sm)]),
        ("lint", 1, vec![strs(&lint_in), "--config".into(), cfg_s.into()]),
        ("guards", 1, vec![strs(&guard_in), "--config".into(), cfg_s.into()]),
        (
            "output (release graph)",
            2,
            vec![in_s.into(), "--config".into(), cfg_s.into(), "--release-graph".into(), strs(&graph)],
        ),
    ];
    for (stage, code, rest) in cases {
        let mut a = os(&["render"]);
        a.extend(rest.iter().map(Into::into));
        a.extend(os(&["--out", out_s, "--secrets-out", so_s, "--json"]));
        let o = run_os(&a);
        o.expect(stage, code);
        assert_eq!(snapshot(&out), before, "a render failing at {stage} changed --out");
        assert_eq!(std::fs::read(&so).unwrap(), secrets_before, "a render failing at {stage} changed --secrets-out");
        assert_eq!(hidden_entries(t.path()), Vec::<String>::new(), "{stage}: temp entries left");
        eprintln!("{stage}: exit {code}: {}", o.stderr.lines().rfind(|l| l.starts_with("error")).unwrap_or(""));
    }
}

/// A small deterministic PRNG (xorshift), seeded from the clock; the seed is printed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_during_the_write_leaves_old_or_new_tree() {
    let Some(corpus) = corpus() else { return };
    let t = TempDir::new("sigkill");
    let root = root();
    let out = t.join("out");
    let reference = t.join("reference");
    let cfg = root.join("benches/corpus-instance.yaml");
    let corpus_args = |dest: &Path| -> Vec<std::ffi::OsString> {
        let mut a = os(&["render"]);
        a.push(corpus.clone().into());
        a.extend(os(&["--out"]));
        a.push(dest.into());
        a.extend(os(&["--config"]));
        a.push(cfg.clone().into());
        a.extend(os(&["--discard-secret-values"]));
        a
    };
    // The new tree, rendered once undisturbed.
    let o = run_os(&corpus_args(&reference));
    o.expect("corpus render", 0);
    let new = snapshot(&reference);
    // The old tree: the bundled example.
    let old_args = {
        let mut a = os(&["render", "--discard-secret-values", "--out"]);
        a.push(out.clone().into());
        a
    };
    run_os(&old_args).expect("example render", 0);
    let old = snapshot(&out);
    assert_ne!(old, new);

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("sigkill: seed {seed}");
    let mut rng = Rng(seed);
    let prefix = ".out.tmp-";
    let mut saw = BTreeMap::new();
    for round in 0..5 {
        let a = corpus_args(&out);
        let refs: Vec<&OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        let (mut child, start) = spawn_timed(&refs, &[]);
        // Rounds 0-3 kill inside the write: wait for the temp dir to appear, then a random
        // 0-150 ms into it (the write of the corpus takes ~100-300 ms with fsync). Round 4
        // kills at a random point of the whole render.
        let delay = if round < 4 {
            loop {
                if hidden_entries(t.path()).iter().any(|n| n.starts_with(prefix)) {
                    break;
                }
                if child.try_wait().unwrap().is_some() || start.elapsed() > time_bound() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Duration::from_millis(rng.next() % 150)
        } else {
            Duration::from_millis(rng.next() % 2000)
        };
        std::thread::sleep(delay);
        let finished_first = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let state = match std::fs::symlink_metadata(&out) {
            Ok(_) => {
                let now = snapshot(&out);
                if now == old {
                    "old"
                } else if now == new {
                    "new"
                } else {
                    panic!("round {round} (seed {seed}): --out is neither the old nor the new tree after SIGKILL")
                }
            }
            Err(_) => {
                // Killed between the two renames of the swap: the old tree waits, complete, in
                // an `.old` temp dir, and the next write restores it.
                let olds: Vec<String> = hidden_entries(t.path())
                    .into_iter()
                    .filter(|n| n.starts_with(prefix) && n.ends_with(".old"))
                    .collect();
                assert_eq!(olds.len(), 1, "round {round} (seed {seed}): --out missing and no .old dir");
                assert_eq!(snapshot(&t.join(&olds[0])), old, "round {round}: the .old dir is not the old tree");
                "absent (old tree aside)"
            }
        };
        eprintln!(
            "sigkill round {round}: killed {delay:?} after {}; --out is {state}{}",
            if round < 4 { "the temp dir appeared" } else { "start" },
            if finished_first { " (the render had already finished)" } else { "" }
        );
        *saw.entry(state).or_insert(0) += 1;
        // Put the old tree back for the next round (a good render, which also cleans up the
        // dead process's temp dirs).
        run_os(&old_args).expect("restore the old tree", 0);
        assert_eq!(snapshot(&out), old);
        assert_eq!(hidden_entries(t.path()), Vec::<String>::new(), "round {round}: stale temp dirs survived a render");
    }
    eprintln!("sigkill: outcomes {saw:?}");
    // After a kill, the temp dir is never read as output: a fresh render into the same --out
    // gives exactly the new tree and leaves nothing beside it; `diff` against the reference
    // sees no difference.
    let mut child = spawn(&corpus_args(&out).iter().map(|s| s.as_os_str()).collect::<Vec<_>>(), &[]);
    loop {
        if hidden_entries(t.path()).iter().any(|n| n.starts_with(prefix)) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    run_os(&corpus_args(&out)).expect("render after a kill", 0);
    assert_eq!(snapshot(&out), new);
    assert_eq!(hidden_entries(t.path()), Vec::<String>::new());
    let mut d = os(&["diff"]);
    d.push(reference.into());
    d.push(out.into());
    run_os(&d).expect("diff after recovery", 0);
}
