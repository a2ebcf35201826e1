//! Issue 16's remaining edges against the real binary: namespaces every resource lands in are
//! created (Deliver 5), overrides that break a document are blamed on their config line
//! (Deliver 4). Every case asserts the exit code, the message and what changed on disk (the
//! whole scratch dir is hashed before and after).

use opendesk_e2e::*;
use std::path::{Path, PathBuf};

/// A [`Scene`] that renders with a config written per case.
struct Edges(Scene);

impl std::ops::Deref for Edges {
    type Target = Scene;
    fn deref(&self) -> &Scene {
        &self.0
    }
}

impl Edges {
    fn new(tag: &str) -> Self {
        Edges(Scene::new(tag))
    }

    /// Write the config `tmp/<name>`.
    fn config(&self, name: &str, text: &str) -> PathBuf {
        write(self.tmp.path(), name, text)
    }

    fn args(&self, config: &Path, out: &Path) -> RenderArgs {
        RenderArgs::new(&self.input, out).no_patches().config(config)
    }

    fn render(&self, config: &Path, out: &Path) -> Outcome {
        self.args(config, out).run()
    }

    /// Render, expect `code`, every needle in stderr and the scratch dir unchanged.
    fn refused(&self, what: &str, config: &Path, code: i32, needles: &[&str]) -> Outcome {
        self.0.refused(what, code, &self.args(config, &self.tmp.join("out")).to_vec(), needles)
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `spec.destination.namespace` of an Application file, and whether it creates it.
fn destination(app: &Path) -> (String, bool) {
    let t = read(app);
    let ns = t
        .split("destination:")
        .nth(1)
        .and_then(|d| d.lines().find_map(|l| l.trim().strip_prefix("namespace: ")))
        .unwrap_or_default()
        .to_string();
    (ns, t.contains("CreateNamespace=true"))
}

#[test]
fn each_release_deploys_to_the_namespace_its_resources_carry() {
    let s = Edges::new("ns-dest");
    // vault's chart puts its resources in `vault`; one template sets no namespace.
    s.file("vault/vault/templates/cm.yaml", config_map("vault-config", Some("vault")));
    s.file("vault/vault/templates/svc.yaml", config_map("vault-other", None));
    s.file(
        "vault/vault/templates/rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: vault-reader\n",
    );
    s.file("app/chart/templates/cm.yaml", config_map("app", None));
    let config = s.config("instance.yaml", MIN_CONFIG);
    let out = s.tmp.join("out");
    let o = s.render(&config, &out);
    o.expect("vault in its own namespace", 0);
    assert!(!o.stderr.contains("release-spans-namespaces"), "{}", o.stderr);
    assert_eq!(destination(&out.join("applications/vault.yaml")), ("vault".into(), true));
    assert_eq!(destination(&out.join("applications/app.yaml")), ("opendesk".into(), true));
    // The resource without a namespace gets its release's; a cluster-scoped one never does.
    assert!(read(&out.join("releases/vault/configmap-vault-other.yaml")).contains("  namespace: vault\n"));
    assert!(read(&out.join("releases/app/configmap-app.yaml")).contains("  namespace: opendesk\n"));
    assert!(!read(&out.join("releases/vault/clusterrole-vault-reader.yaml")).contains("namespace"));
    // The parent deploys the Applications to Argo CD's namespace and creates nothing.
    assert_eq!(destination(&out.join("applications/acme-parent.yaml")), ("argocd".into(), false));
    assert!(read(&out.join("render-meta.yaml")).contains("- name: namespaces\n    passed: true"));
}

#[test]
fn a_namespace_nothing_creates_fails_the_render() {
    let s = Edges::new("ns-missing");
    for i in 0..3 {
        s.file(&format!("app/chart/templates/cm{i}.yaml"), config_map(&format!("app-{i}"), Some("opendesk")));
    }
    s.file(
        "app/chart/templates/servicemonitor.yaml",
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: app\n  namespace: monitoring\nspec:\n  endpoints: []\n  selector: {}\n",
    );
    s.file("app/chart/templates/le.yaml", config_map("app-leader", Some("kube-system")));
    let config = s.config("instance.yaml", MIN_CONFIG);
    let o = s.refused(
        "monitoring created by nothing",
        &config,
        1,
        &[
            "Error[guard/namespaces]",
            "namespace \"monitoring\" is used by 1 resource(s) of release(s) app (ServiceMonitor/monitoring/app)",
            "argocd.externalNamespaces",
            "app/chart/templates/servicemonitor.yaml",
        ],
    );
    // kube-system is implied: not reported.
    assert!(!o.stderr.contains("namespace \"kube-system\""), "{}", o.stderr);

    // Listed as created elsewhere: renders, with the warning naming the namespaces.
    let listed = s.config("listed.yaml", &format!("{MIN_CONFIG}argocd:\n  externalNamespaces:\n    - monitoring\n"));
    let out = s.tmp.join("out");
    let o = s.render(&listed, &out);
    o.expect("monitoring listed", 0);
    o.stderr_has(
        "monitoring listed",
        "Warning[output/release-spans-namespaces]: release app spans namespaces kube-system (1), monitoring (1), opendesk (3): its Application deploys to opendesk",
    );
    assert_eq!(destination(&out.join("applications/app.yaml")), ("opendesk".into(), true));

    // A Namespace object in the tree creates it too.
    std::fs::remove_dir_all(&out).unwrap();
    s.file("platform/ns/templates/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n");
    s.render(&config, &out).expect("Namespace object in the tree", 0);
    std::fs::remove_dir_all(&out).unwrap();

    // A bad entry is a config error at its position.
    let bad = s.config(
        "bad.yaml",
        &format!("{MIN_CONFIG}argocd:\n  externalNamespaces: [monitoring]\n  externalNamespaces2: x\n"),
    );
    s.refused("unknown key beside it", &bad, 2, &[&format!("{}:6:3: ", bad.display()), "externalNamespaces2"]);
    let bad = s.config("bad2.yaml", &format!("{MIN_CONFIG}argocd:\n  externalNamespaces:\n    - Monitoring\n"));
    s.refused(
        "not a DNS label",
        &bad,
        2,
        &[&format!("{}:6:7: ", bad.display()), "`argocd.externalNamespaces[0]` \"Monitoring\" is not a DNS-1123 label"],
    );
}

#[test]
fn cluster_scoped_kinds_and_crd_scopes_use_no_namespace() {
    let s = Edges::new("ns-scope");
    s.file("app/chart/templates/cm.yaml", config_map("app", None));
    // A cluster-scoped CRD's resource and a ClusterRoleBinding carrying a namespace by mistake.
    s.file(
        "app/chart/templates/crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.io\nspec:\n  group: example.io\n  scope: Cluster\n  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n",
    );
    s.file("app/chart/templates/w.yaml", "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\n");
    let config = s.config("instance.yaml", MIN_CONFIG);
    let out = s.tmp.join("out");
    s.render(&config, &out).expect("cluster-scoped", 0);
    assert!(!read(&out.join("releases/app/widget-w.yaml")).contains("namespace"), "cluster-scoped CR");
    assert!(read(&out.join("releases/app/configmap-app.yaml")).contains("namespace: opendesk"));
    std::fs::remove_dir_all(&out).unwrap();
    // The same CRD namespaced: the Widget lands in the release's namespace.
    let crd = read(&s.input.join("app/chart/templates/crd.yaml")).replace("scope: Cluster", "scope: Namespaced");
    s.file("app/chart/templates/crd.yaml", &crd);
    s.render(&config, &out).expect("namespaced CRD", 0);
    assert!(read(&out.join("releases/app/widget-w.yaml")).contains("namespace: opendesk"));
}

#[test]
fn overrides_that_break_a_document_name_their_config_line() {
    let s = Edges::new("ovr");
    s.file("app/chart/templates/cm.yaml", config_map("app", Some("opendesk")));
    let root = s.config(
        "root.yaml",
        &format!("{MIN_CONFIG}overrides:\n  - name: drop-all\n    select: {{kind: ConfigMap}}\n    ops:\n      - remove: {{path: $}}\n"),
    );
    s.refused(
        "remove: $",
        &root,
        2,
        &[
            &format!("{}:8:24: ", root.display()),
            "override \"drop-all\" op #1 (remove): path \"$\" is the document root",
        ],
    );
    let merge = s.config(
        "merge.yaml",
        &format!("{MIN_CONFIG}overrides:\n  - name: merge-root\n    ops:\n      - merge:\n          path: $\n          value: {{a: b}}\n"),
    );
    s.refused(
        "merge: $",
        &merge,
        2,
        &[&format!("{}:8:17: ", merge.display()), "override \"merge-root\" op #1 (merge)"],
    );
    for (field, path) in [
        ("metadata.name", "$.metadata.name"),
        ("kind", "$.kind"),
        ("apiVersion", "$.apiVersion"),
        ("metadata.name", "$.metadata"),
    ] {
        let c = s.config(
            "field.yaml",
            &format!("{MIN_CONFIG}overrides:\n  - name: strip\n    select: {{kind: ConfigMap}}\n    ops:\n      - remove: {{path: \"{path}\"}}\n"),
        );
        s.refused(
            &format!("remove {path}"),
            &c,
            2,
            &[
                &format!("{}:5:5: ", c.display()),
                &format!(
                    "override \"strip\" leaves ConfigMap/opendesk/app (app:chart/templates/cm.yaml) without `{field}`"
                ),
            ],
        );
    }
    // An override that keeps the identity renders.
    let ok = s.config(
        "ok.yaml",
        &format!("{MIN_CONFIG}overrides:\n  - name: label\n    select: {{kind: ConfigMap}}\n    ops:\n      - remove: {{path: $.data}}\n"),
    );
    s.render(&ok, &s.tmp.join("out")).expect("harmless override", 0);
}

#[test]
fn corpus_namespaces_are_all_created() {
    let Some(corpus) = corpus() else { return };
    let tmp = TempDir::new("ns-corpus");
    let out = tmp.join("out");
    let config = root().join("benches/corpus-instance.yaml");
    let o = RenderArgs::new(&corpus, &out).config(&config).extra(&["--discard-secret-values"]).run();
    o.expect("corpus", 0);
    for (release, ns) in [
        ("kube-prometheus-stack", "monitoring"),
        ("loki", "monitoring"),
        ("cert-manager", "cert-manager"),
        ("ingress-nginx", "ingress-nginx"),
        ("external-secrets", "external-secrets"),
        ("argocd", "argocd"),
        ("jitsi", "opendesk"),
    ] {
        assert_eq!(destination(&out.join(format!("applications/{release}.yaml"))), (ns.to_string(), true), "{release}");
    }
    for r in ["cert-manager", "kube-prometheus-stack"] {
        o.stderr_has("corpus", &format!("release {r} spans namespaces"));
    }
    // A copy of the corpus where one monitoring resource moves to a namespace nothing creates.
    let copy = tmp.join("in");
    copy_dir(&corpus, &copy);
    let victim = walk(&copy.join("loki"))
        .into_iter()
        .find(|p| read(p).contains("namespace: monitoring") && read(p).matches("\nkind:").count() == 1)
        .expect("a loki file with one namespaced resource");
    std::fs::write(&victim, read(&victim).replace("namespace: monitoring", "namespace: observability")).unwrap();
    let out2 = tmp.join("out2");
    let o = RenderArgs::new(&copy, &out2).config(&config).extra(&["--discard-secret-values"]).run();
    o.expect("mutated corpus", 1);
    o.stderr_has("mutated corpus", "namespace \"observability\" is used by 1 resource(s) of release(s) loki");
    assert!(!out2.exists(), "nothing written on failure");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if e.file_type().unwrap().is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn long_names_directives_and_bad_kinds() {
    let s = Edges::new("d3");
    // A valid 253-character name: its file name is cut to 255 bytes with a stable hash.
    let long = format!("{}.example", "a".repeat(244));
    assert_eq!(long.len(), 252);
    s.file("app/chart/templates/long.yaml", config_map(&long, Some("opendesk")));
    // `%YAML 1.1` and `%YAML 1.2` directives are accepted.
    s.file("app/chart/templates/y11.yaml", format!("%YAML 1.1\n---\n{}", config_map("y11", Some("opendesk"))));
    s.file("app/chart/templates/y12.yaml", format!("%YAML 1.2\n---\n{}", config_map("y12", Some("opendesk"))));
    let config = s.config("instance.yaml", MIN_CONFIG);
    let out = s.tmp.join("out");
    s.render(&config, &out).expect("long name and directives", 0);
    let names: Vec<String> = std::fs::read_dir(out.join("releases/app"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.len() <= 255), "{names:?}");
    let cut = names.iter().find(|n| n.starts_with("configmap-aaaa")).expect("the long one");
    assert!(cut.len() == 255 && cut.ends_with(".yaml"), "{cut} ({} bytes)", cut.len());
    assert!(read(&out.join("releases/app").join(cut)).contains(&long));
    assert!(names.contains(&"configmap-y11.yaml".to_string()) && names.contains(&"configmap-y12.yaml".to_string()));
    // The same name again: the same file name.
    let out2 = s.tmp.join("out2");
    s.render(&config, &out2).expect("again", 0);
    assert!(out2.join("releases/app").join(cut).is_file());
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&out2).unwrap();
    // A kind with `/` or a broken apiVersion is a lint error (exit 1), nothing written.
    s.file(
        "app/chart/templates/bad.yaml",
        "apiVersion: v1\nkind: Config/Map\nmetadata:\n  name: bad\n  namespace: opendesk\n---\napiVersion: apps/v1/x\nkind: Deployment\nmetadata:\n  name: d\n  namespace: opendesk\n",
    );
    s.refused(
        "kind with a slash",
        &config,
        1,
        &[
            "Error[lint/invalid-name]",
            "kind \"Config/Map\" is not a Kubernetes kind",
            "apiVersion \"apps/v1/x\" is not VERSION or GROUP/VERSION",
            "app/chart/templates/bad.yaml:",
        ],
    );
}
