//! Input and output edges against the real binary (issue 16): the output dir is owned, never
//! guessed; only regular files inside their root are read; limits give exit 2, never a hang or
//! an abort. Every case asserts the exit code, the message and that nothing outside the
//! expected files changed (the whole scratch dir is hashed before and after).

use opendesk_e2e::*;
use std::ffi::OsStr;
use std::path::Path;

fn cm(name: &str) -> String {
    config_map(name, None)
}

/// A scene whose input has releases `a` and `b` and a `.git` dir.
fn scene(tag: &str) -> Scene {
    let s = Scene::new(tag);
    s.file("a/chart/templates/cm.yaml", cm("a"));
    s.file("b/chart/templates/cm.yaml", cm("b"));
    s.file(".git/HEAD", "ref: refs/heads/main\n");
    s
}

/// Render `input` into `out` with the scene's config and `extra`.
fn render(s: &Scene, input: &Path, out: &Path, extra: &[&OsStr]) -> Outcome {
    s.args(input, out).extra(extra).run()
}

/// [`render`], expected to be refused (exit 2) with `needles` and nothing changed.
fn render_refused(s: &Scene, what: &str, input: &Path, out: &Path, extra: &[&OsStr], needles: &[&str]) -> Outcome {
    s.refused(what, 2, &s.args(input, out).extra(extra).to_vec(), needles)
}

#[test]
fn out_that_is_or_holds_an_input_is_refused() {
    let s = scene("overlap");
    let inp = s.input.as_path();
    let d = |p: &Path| p.display().to_string();
    render_refused(&s, "--out = input", inp, inp, &[], &["is the input dir", &d(inp)]);
    render_refused(&s, "--out = input/.", inp, &inp.join("."), &[], &["is the input dir"]);
    render_refused(&s, "--out = parent of input", inp, s.tmp.path(), &[], &["contains the input dir"]);
    render_refused(&s, "--out inside input", inp, &inp.join("a/out"), &[], &["lies inside the input dir"]);
    render_refused(&s, "--out inside input, via ..", inp, &inp.join("a/../b/x"), &[], &["lies inside the input dir"]);
    // The config, a patch dir and the release graph.
    let cfg_dir = s.tmp.join("cfg");
    let cfg = write(&cfg_dir, "instance.yaml", MIN_CONFIG);
    render_refused(
        &s,
        "--out holds the config",
        inp,
        &cfg_dir,
        &[OsStr::new("--config"), cfg.as_os_str()],
        &["contains the config file"],
    );
    let patches = s.tmp.join("patches");
    write(&patches, "010-x.yaml", "name: x\nselect: {kind: ConfigMap}\nops:\n  - set: {path: $.data.c, value: d}\n");
    let a = RenderArgs::new(inp, &patches)
        .config(&s.config)
        .extra(&[OsStr::new("--patches"), patches.as_os_str()])
        .to_vec();
    s.refused("--out = patch dir", 2, &a, &["is the patch dir"]);
    let graph = write(&s.tmp.join("g"), "graph.yaml", "waves:\n  - name: all\n    releases: [a, b]\n");
    render_refused(
        &s,
        "--out holds the release graph",
        inp,
        &s.tmp.join("g"),
        &[OsStr::new("--release-graph"), graph.as_os_str()],
        &["contains the release graph"],
    );
    // Through a symlink to the input.
    #[cfg(unix)]
    {
        let link = s.tmp.join("link");
        std::os::unix::fs::symlink(inp, &link).unwrap();
        render_refused(&s, "--out = symlink to input", inp, &link, &[], &["is the input dir"]);
    }
}

#[test]
fn out_must_be_absent_empty_or_ours() {
    let s = scene("owned");
    let foreign = s.tmp.join("foreign");
    write(&foreign, "README.md", "my notes\n");
    write(&foreign, "instances/x/keep.yaml", "keep: me\n");
    render_refused(
        &s,
        "--out is a foreign dir",
        &s.input,
        &foreign,
        &[],
        &["is not an output tree of opendesk-render", "\"README.md\""],
    );
    // Empty: rendered into.
    let empty = s.tmp.join("empty");
    std::fs::create_dir(&empty).unwrap();
    render(&s, &s.input, &empty, &[])
        .expect("empty --out", 0)
        .stderr_has("empty --out", "releases: 2 added (new tree)");
    assert!(empty.join("render-meta.yaml").is_file());
    // Ours: replaced; the summary names the releases added and removed.
    let second = s.tmp.join("in2");
    write(&second, "b/chart/templates/cm.yaml", cm("b"));
    write(&second, "c/chart/templates/cm.yaml", cm("c"));
    render(&s, &second, &empty, &[]).expect("replace", 0).stderr_has("replace", "releases vs the replaced tree: +c -a");
    assert!(empty.join("releases/c").is_dir() && !empty.join("releases/a").exists());
    // Same releases again: no release line.
    let o = render(&s, &second, &empty, &[]);
    o.expect("same again", 0);
    assert!(!o.stderr.contains("releases vs the replaced tree"), "{}", o.stderr);
}

#[test]
fn empty_input_and_missing_config_are_refused() {
    let s = scene("empty-in");
    let out = s.tmp.join("out");
    render(&s, &s.input, &out, &[]).expect("first render", 0);
    // An input with no document (an empty dir, or only empty files): exit 2, the tree stays.
    let empty = s.tmp.join("empty-in");
    std::fs::create_dir(&empty).unwrap();
    render_refused(&s, "empty input dir", &empty, &out, &[], &["no Kubernetes document found", "Argo CD would prune"]);
    write(&empty, "a/chart/templates/cm.yaml", "---\n# nothing\n---\n");
    render_refused(&s, "input with only empty documents", &empty, &out, &[], &["no Kubernetes document found"]);
    // A given input without --config never renders with the bundled example's config.
    let a = RenderArgs::new(&s.input, &out).no_patches().to_vec();
    s.refused("input without --config", 2, &a, &["needs --config", "examples/instance.yaml"]);
    let a: Vec<&OsStr> = vec![OsStr::new("explain"), s.input.as_os_str()];
    s.refused("explain without --config", 2, &a, &["needs --config"]);
}

#[test]
fn threads_are_bounded() {
    let s = scene("threads");
    let out = s.tmp.join("out");
    for n in ["0", "513", "100000", "-1"] {
        let o = render_refused(
            &s,
            &format!("--threads {n}"),
            &s.input,
            &out,
            &[OsStr::new(&format!("--threads={n}"))],
            &["--threads"],
        );
        assert!(!o.stderr.contains("panicked"));
    }
    render(&s, &s.input, &out, &[OsStr::new("--threads"), OsStr::new("512")]).expect("--threads 512", 0);
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_by_type() {
    let s = scene("fifo");
    let out = s.tmp.join("out");
    // In the input: refused before it is opened, so nothing hangs.
    let fifo = s.input.join("a/chart/templates/fifo.yaml");
    mkfifo(&fifo);
    render_refused(&s, "FIFO in the input", &s.input, &out, &[], &[&format!("{}: is a FIFO", fifo.display())]);
    std::fs::remove_file(&fifo).unwrap();
    // As --config and --release-graph.
    let cfg_fifo = s.tmp.join("config.fifo");
    mkfifo(&cfg_fifo);
    let o = render_refused(
        &s,
        "FIFO as --config",
        &s.input,
        &out,
        &[OsStr::new("--config"), cfg_fifo.as_os_str()],
        &["is a FIFO"],
    );
    assert!(!o.stderr.contains(":0:0"), "{}", o.stderr);
    render_refused(
        &s,
        "FIFO as --release-graph",
        &s.input,
        &out,
        &[OsStr::new("--release-graph"), cfg_fifo.as_os_str()],
        &["is a FIFO"],
    );
    render_refused(
        &s,
        "device as --config",
        &s.input,
        &out,
        &[OsStr::new("--config"), OsStr::new("/dev/zero")],
        &["/dev/zero", "character device"],
    );
    // In a patch dir.
    let patches = s.tmp.join("patches");
    std::fs::create_dir(&patches).unwrap();
    mkfifo(&patches.join("010-x.yaml"));
    let a = RenderArgs::new(&s.input, &out)
        .config(&s.config)
        .extra(&[OsStr::new("--patches"), patches.as_os_str()])
        .to_vec();
    s.refused("FIFO in --patches", 2, &a, &["010-x.yaml", "is a FIFO"]);
    // In a diff tree.
    render(&s, &s.input, &out, &[]).expect("render for diff", 0);
    let other = s.tmp.join("other");
    render(&s, &s.input, &other, &[]).expect("render for diff", 0);
    mkfifo(&other.join("releases/a/fifo.yaml"));
    let a: Vec<&OsStr> = vec![OsStr::new("diff"), out.as_os_str(), other.as_os_str()];
    s.refused("FIFO in a diff tree", 2, &a, &["fifo.yaml", "is a FIFO"]);
    // Named to `validate`.
    let fifo = other.join("releases/a/fifo.yaml");
    s.refused("FIFO to validate", 2, &[OsStr::new("validate"), fifo.as_os_str()], &["fifo.yaml", "is a FIFO"]);
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_only_inside_the_root() {
    use std::os::unix::fs::symlink;
    let s = scene("symlink");
    let out = s.tmp.join("out");
    // Inside the input: followed.
    symlink("cm.yaml", s.input.join("a/chart/templates/again.yaml")).unwrap();
    symlink("../a", s.input.join("b/linked-a")).unwrap();
    // The same ConfigMap three times in two releases: identical, so dedup keeps one per release.
    render(&s, &s.input, &out, &[]).expect("symlinks inside the input", 0);
    std::fs::remove_file(s.input.join("a/chart/templates/again.yaml")).unwrap();
    std::fs::remove_file(s.input.join("b/linked-a")).unwrap();
    // Out of it: refused, naming the link and the target, never printing the target's content.
    let secret = write(s.tmp.path(), "secret.yaml", "password: hunter2-not-for-output\n");
    let link = s.input.join("a/chart/templates/passwd.yaml");
    for target in [Path::new("/etc/passwd"), Path::new("/dev/zero"), secret.as_path()] {
        let _ = std::fs::remove_file(&link);
        symlink(target, &link).unwrap();
        let o = render_refused(
            &s,
            &format!("symlink to {}", target.display()),
            &s.input,
            &out,
            &[],
            &[&link.display().to_string(), &target.display().to_string(), "leaves"],
        );
        assert!(!o.stderr.contains("root:x:") && !o.stderr.contains("hunter2"), "{}", o.stderr);
    }
    std::fs::remove_file(&link).unwrap();
    // A release folder linking out.
    let elsewhere = s.tmp.join("elsewhere");
    write(&elsewhere, "chart/templates/cm.yaml", cm("z"));
    symlink(&elsewhere, s.input.join("z")).unwrap();
    render_refused(&s, "release folder linking out", &s.input, &out, &[], &["leaves"]);
    std::fs::remove_file(s.input.join("z")).unwrap();
    // A patch dir whose file links out.
    let patches = s.tmp.join("patches");
    std::fs::create_dir(&patches).unwrap();
    symlink(&secret, patches.join("010-x.yaml")).unwrap();
    let a = RenderArgs::new(&s.input, &out)
        .config(&s.config)
        .extra(&[OsStr::new("--patches"), patches.as_os_str()])
        .to_vec();
    let o = s.refused("patch file linking out", 2, &a, &["010-x.yaml", "leaves"]);
    assert!(!o.stderr.contains("hunter2"), "{}", o.stderr);
    // A diff tree whose release links out.
    render(&s, &s.input, &out, &[]).expect("render for diff", 0);
    let other = s.tmp.join("other");
    render(&s, &s.input, &other, &[]).expect("render for diff", 0);
    symlink(&secret, other.join("releases/a/x.yaml")).unwrap();
    let a: Vec<&OsStr> = vec![OsStr::new("diff"), out.as_os_str(), other.as_os_str()];
    let o = s.refused("diff tree linking out", 2, &a, &["x.yaml", "leaves"]);
    assert!(!o.stderr.contains("hunter2"), "{}", o.stderr);
}

#[test]
fn config_values_that_cannot_be_right_are_refused_with_their_position() {
    let s = scene("config");
    let out = s.tmp.join("out");
    let base = "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\n";
    let sm = |extra: &str| {
        format!("{base}secretsManager:\n  storeRef: {{kind: ClusterSecretStore, name: sm}}\n  keyPrefix: acme\n{extra}")
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("opendeskVersion: 1.13\ninstance: acme\nnamespace: opendesk\n".into(), "1:1", "did you mean 1.13.0?"),
        ("opendeskVersion: 1.13.1\ninstance: Acme_1\nnamespace: opendesk\n".into(), "2:1", "not a DNS-1123 label"),
        ("opendeskVersion: 1.13.1\ninstance: acme\nnamespace: ../other\n".into(), "3:1", "not a DNS-1123 label"),
        (format!("{base}argocd:\n  namespace: Argo CD\n"), "5:3", "`argocd.namespace`"),
        (format!("{base}argocd:\n  path: ../elsewhere\n"), "5:3", "not a clean relative path"),
        (format!("{base}argocd:\n  path: /abs\n"), "5:3", "not a clean relative path"),
        (
            format!("{base}secretsManager:\n  storeRef: {{kind: Bogus, name: sm}}\n  keyPrefix: acme\n"),
            "5:14",
            "must be SecretStore or ClusterSecretStore",
        ),
        (
            format!(
                "{base}secretsManager:\n  storeRef: {{kind: ClusterSecretStore, name: sm}}\n  keyPrefix: \"../..\"\n"
            ),
            "6:3",
            "'.' or '..' segment",
        ),
        (
            format!(
                "{base}secretsManager:\n  storeRef: {{kind: ClusterSecretStore, name: sm}}\n  keyPrefix: \"a\\nb\"\n"
            ),
            "6:3",
            "keyPrefix",
        ),
        (sm("  refreshInterval: 1 hour\n"), "7:3", "not a Go duration"),
        (format!("{base}secretsManager:\n  keyPrefx: acme\n"), "5:3", "did you mean `keyPrefix`?"),
        (format!("{base}argocd:\n  repoUrl: x\n"), "5:3", "did you mean `repoURL`?"),
    ];
    for (i, (text, pos, needle)) in cases.iter().enumerate() {
        let cfg = write(s.tmp.path(), &format!("bad-{i}.yaml"), text);
        let o = render_refused(
            &s,
            &format!("config case {i} ({needle})"),
            &s.input,
            &out,
            &[OsStr::new("--config"), cfg.as_os_str()],
            &[&format!("{}:{pos}: ", cfg.display()), needle],
        );
        // The position is printed once.
        assert!(!o.stderr.contains(" at line "), "{}", o.stderr);
    }
    // Valid shapes pass.
    let good = write(s.tmp.path(), "good.yaml", sm("  refreshInterval: 1h30m\nargocd:\n  path: instances/acme\n"));
    s.render_args(&out).config(&good).run().expect("valid config", 0);
    // A missing config file names the file without a position.
    let missing = s.tmp.join("missing.yaml");
    let o = render_refused(
        &s,
        "missing --config",
        &s.input,
        &out,
        &[OsStr::new("--config"), missing.as_os_str()],
        &[&format!("{}: ", missing.display())],
    );
    assert!(!o.stderr.contains(":0"), "{}", o.stderr);
}

#[test]
fn files_over_their_limit_are_refused_from_their_size() {
    use opendesk_render::limits::{CONFIG_FILE, INPUT_FILE};
    let s = scene("bounded");
    let out = s.tmp.join("out");
    // The big files live apart, so the before/after snapshots of the scene never read them.
    let big = TempDir::new("bounded-big");
    let config_limit = format!("MAX_CONFIG_BYTES = {} bytes", CONFIG_FILE.bytes);
    let input_limit = format!("MAX_INPUT_BYTES = {} bytes", INPUT_FILE.bytes);
    let over_config = CONFIG_FILE.bytes + 1;
    let over_input = INPUT_FILE.bytes + 1;

    // A file named by an option: (option, file, its size, what the message names).
    let named = [
        ("--config", "instance.yaml", over_config, &config_limit, ""),
        ("--release-graph", "release-graph.yaml", over_config, &config_limit, ""),
        ("--previous-secrets", "previous.json", over_input, &input_limit, "--previous-secrets: "),
    ];
    for (flag, name, len, limit, prefix) in named {
        let f = sparse(&big.join(name), len);
        let o = render_refused(
            &s,
            &format!("sparse {flag} over its limit"),
            &s.input,
            &out,
            &[OsStr::new(flag), f.as_os_str()],
            &[&format!("{}: {prefix}{len} bytes or more", f.display()), limit],
        );
        assert!(!o.stderr.contains(":0:0"), "{}", o.stderr);
    }
    let patches = big.join("patches");
    let patch = sparse(&patches.join("010-x.yaml"), over_config);
    let a = RenderArgs::new(&s.input, &out).config(&s.config).extra(&[OsStr::new("--patches"), patches.as_os_str()]);
    s.refused(
        "sparse patch file over MAX_CONFIG_BYTES",
        2,
        &a.to_vec(),
        &[&patch.display().to_string(), &config_limit],
    );
    // One input file over the limit alone: refused from the listing, never read.
    let input = big.join("in");
    write(&input, "a/chart/templates/cm.yaml", cm("a"));
    let huge = sparse(&input.join("a/chart/templates/huge.yaml"), over_input);
    render_refused(
        &s,
        "sparse input file over MAX_INPUT_BYTES",
        &input,
        &out,
        &[],
        &[&format!("{} ({over_input} bytes)", huge.display()), "more than the limit MAX_INPUT_BYTES = "],
    );
    // A CRD file of `validate.crds`.
    let crd = sparse(&big.join("crds.yaml"), over_input);
    let cfg = write(s.tmp.path(), "with-crds.yaml", format!("{MIN_CONFIG}validate:\n  crds: [{}]\n", crd.display()));
    render_refused(
        &s,
        "sparse validate.crds file over MAX_INPUT_BYTES",
        &s.input,
        &out,
        &[OsStr::new("--config"), cfg.as_os_str()],
        &[&crd.display().to_string(), &input_limit],
    );
    // A file of a diff tree.
    render(&s, &s.input, &out, &[]).expect("render for diff", 0);
    let other = big.join("other");
    render(&s, &s.input, &other, &[]).expect("render for diff", 0);
    let huge = sparse(&other.join("releases/a/huge.yaml"), over_input);
    let a: Vec<&OsStr> = vec![OsStr::new("diff"), out.as_os_str(), other.as_os_str()];
    s.refused(
        "sparse file in a diff tree",
        2,
        &a,
        &[&format!("{}: {over_input} bytes or more", huge.display()), &input_limit],
    );
    // A file named to `validate`.
    let a = [OsStr::new("validate"), huge.as_os_str()];
    s.refused(
        "sparse file to validate",
        2,
        &a,
        &[&format!("{}: {over_input} bytes or more", huge.display()), &input_limit],
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[cfg(unix)]
#[test]
fn a_base_tree_linking_out_is_refused() {
    use std::os::unix::fs::symlink;
    let s = scene("base-link");
    // An ExternalSecret in release `a`, so the base's release folder has a file the guard reads.
    s.file(
        "a/chart/templates/es.yaml",
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: es\nspec:\n  \
         secretStoreRef: {kind: ClusterSecretStore, name: sm}\n  target: {name: s}\n  data:\n    - secretKey: k\n      \
         remoteRef: {key: acme/s, property: k}\n",
    );
    let graph = write(s.tmp.path(), "graph.yaml", "waves:\n  - name: all\n    releases: [a, b]\nmodules:\n  ma: [a]\n");
    let g = [OsStr::new("--release-graph"), graph.as_os_str()];
    let full = s.tmp.join("full");
    render(&s, &s.input, &full, &g).expect("full render", 0);
    let out = s.tmp.join("out");
    let module = |base: &Path| {
        s.args(&s.input, &out)
            .extra(&g)
            .extra(&[OsStr::new("--module"), OsStr::new("ma"), OsStr::new("--base")])
            .extra(&[base])
    };
    module(&full).run().expect("module render against the base", 0);
    std::fs::remove_dir_all(&out).unwrap();
    let secret = write(s.tmp.path(), "secret.yaml", "kind: ExternalSecret\npassword: hunter2-not-for-output\n");
    let elsewhere = s.tmp.join("elsewhere");
    copy_dir(&full, &elsewhere);
    // A file, a release folder, `releases/` and render-meta linking out of the base: refused
    // (exit 2) naming the link and the target, the target never read.
    let file = std::fs::read_dir(full.join("releases/a"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains("kind: ExternalSecret"))
        .expect("the ExternalSecret's file in the base");
    let cases: [(&str, std::path::PathBuf, std::path::PathBuf); 4] = [
        ("base file linking out", file.clone(), secret.clone()),
        ("base release folder linking out", full.join("releases/a"), elsewhere.join("releases/a")),
        ("base releases/ linking out", full.join("releases"), elsewhere.join("releases")),
        ("base render-meta linking out", full.join("render-meta.yaml"), secret.clone()),
    ];
    for (what, link, target) in cases {
        let saved = s.tmp.join("saved");
        std::fs::rename(&link, &saved).unwrap();
        symlink(&target, &link).unwrap();
        let o = s.refused(
            what,
            2,
            &module(&full).to_vec(),
            &["--base", &link.display().to_string(), &target.display().to_string(), "leaves"],
        );
        assert!(!o.stderr.contains("hunter2"), "{what}: {}", o.stderr);
        assert!(!out.exists(), "{what}: wrote {}", out.display());
        std::fs::remove_file(&link).unwrap();
        std::fs::rename(&saved, &link).unwrap();
    }
    // A link that stays inside the base is followed.
    let inside = full.join("releases/a-copy");
    std::fs::rename(full.join("releases/a"), &inside).unwrap();
    symlink("a-copy", full.join("releases/a")).unwrap();
    module(&full).run().expect("base release folder linking inside the base", 0);
}
