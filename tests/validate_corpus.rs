//! The 35 invalid shapes of issue 17, injected into an in-memory copy of the shared corpus
//! (loaded from `../shared/corpus/opendesk-like`, mutated here, nothing written): the render
//! fails and reports each at its resource and JSON path. The unmutated corpus renders with no
//! validate error (the snipr documents fixed by the config's overrides).

use opendesk_e2e::*;
use opendesk_render::config::InstanceConfig;
use opendesk_render::pipeline::{render, RenderRequest};
use opendesk_render::yaml::{Node, Scalar};
use opendesk_render::{load_dir, Document, Severity};

type Pick = fn(&Document) -> bool;
type Mutate = fn(&mut Node) -> Option<String>;

fn kind(d: &Document, k: &str) -> bool {
    d.kind() == Some(k)
}

/// The first container's path and node of a workload.
fn pod_spec(root: &mut Node) -> Option<(&mut Node, &'static str)> {
    let kind = root.get("kind")?.scalar_text()?.to_string();
    match kind.as_str() {
        "Pod" => Some((root.get_mut("spec")?, "$.spec")),
        "CronJob" => {
            Some((root.get_path_mut("spec.jobTemplate.spec.template.spec")?, "$.spec.jobTemplate.spec.template.spec"))
        }
        _ => Some((root.get_path_mut("spec.template.spec")?, "$.spec.template.spec")),
    }
}

fn container(root: &mut Node) -> Option<(&mut Node, String)> {
    let (ps, p) = pod_spec(root)?;
    let c = ps.get_mut("containers")?.as_seq_mut()?.get_mut(0)?;
    Some((c, format!("{p}.containers[0]")))
}

fn set(n: &mut Node, k: &str, v: Node) -> bool {
    n.insert(k, v)
}

fn rename(n: &mut Node, from: &str, to: &str) -> bool {
    let Some(m) = n.as_map_mut() else { return false };
    match m.iter_mut().find(|e| e.key.text == from) {
        Some(e) => {
            e.key = Scalar::plain(to);
            true
        }
        None => false,
    }
}

trait PathMut {
    fn get_path_mut(&mut self, dotted: &str) -> Option<&mut Node>;
}

impl PathMut for Node {
    fn get_path_mut(&mut self, dotted: &str) -> Option<&mut Node> {
        dotted.split('.').try_fold(self, |n, k| n.get_mut(k))
    }
}

fn has_pod(d: &Document) -> bool {
    matches!(d.kind(), Some("Deployment" | "StatefulSet" | "DaemonSet"))
}

fn q(s: &str) -> Node {
    Node::new(opendesk_render::yaml::Value::Scalar(Scalar {
        text: s.into(),
        style: opendesk_render::yaml::Style::DoubleQuoted,
        tag: None,
    }))
}

/// (what, which document, mutation returning the expected JSON path)
fn shapes() -> Vec<(&'static str, Pick, Mutate)> {
    vec![
        (
            "spec.replica",
            |d| kind(d, "Deployment") && d.root.get_path("spec.replicas").is_some(),
            |r| rename(r.get_mut("spec")?, "replicas", "replica").then(|| "$.spec.replica".into()),
        ),
        ("imagepullpolicy", has_pod, |r| {
            let (c, p) = container(r)?;
            set(c, "imagepullpolicy", Node::plain("Always")).then(|| format!("{p}.imagepullpolicy"))
        }),
        ("resources.limit", has_pod, |r| {
            let (c, p) = container(r)?;
            let res = c.ensure_map("resources")?;
            set(res, "limit", Node::map()).then(|| format!("{p}.resources.limit"))
        }),
        (
            "targetport",
            |d| kind(d, "Service") && d.root.get_path("spec.ports").is_some(),
            |r| {
                let port = r.get_path_mut("spec.ports")?.as_seq_mut()?.get_mut(0)?;
                set(port, "targetport", Node::plain("8080")).then(|| "$.spec.ports[0].targetport".into())
            },
        ),
        ("container fsGroup", has_pod, |r| {
            let (c, p) = container(r)?;
            let sc = c.ensure_map("securityContext")?;
            set(sc, "fsGroup", Node::plain("1001")).then(|| format!("{p}.securityContext.fsGroup"))
        }),
        (
            "Ingress serviceName",
            |d| kind(d, "Ingress") && d.root.get_path("spec.rules").is_some(),
            |r| {
                let path = r
                    .get_path_mut("spec.rules")?
                    .as_seq_mut()?
                    .get_mut(0)?
                    .get_path_mut("http.paths")?
                    .as_seq_mut()?
                    .get_mut(0)?;
                let b = path.get_mut("backend")?;
                set(b, "serviceName", Node::plain("x"));
                set(b, "servicePort", Node::plain("80"));
                Some("$.spec.rules[0].http.paths[0].backend.serviceName".into())
            },
        ),
        (
            "string Service port",
            |d| kind(d, "Service") && d.root.get_path("spec.ports").is_some(),
            |r| {
                let port = r.get_path_mut("spec.ports")?.as_seq_mut()?.get_mut(0)?;
                set(port, "port", q("80")).then(|| "$.spec.ports[0].port".into())
            },
        ),
        (
            "replicas: \"2\"",
            |d| kind(d, "StatefulSet"),
            |r| set(r.get_mut("spec")?, "replicas", q("2")).then(|| "$.spec.replicas".into()),
        ),
        ("runAsUser: \"1001\"", has_pod, |r| {
            let (c, p) = container(r)?;
            let sc = c.ensure_map("securityContext")?;
            set(sc, "runAsUser", q("1001")).then(|| format!("{p}.securityContext.runAsUser"))
        }),
        (
            "string accessModes",
            |d| kind(d, "PersistentVolumeClaim"),
            |r| {
                set(r.get_mut("spec")?, "accessModes", Node::plain("ReadWriteOnce"))
                    .then(|| "$.spec.accessModes".into())
            },
        ),
        ("list nodeSelector", has_pod, |r| {
            let (ps, p) = pod_spec(r)?;
            let mut l = Node::seq();
            l.as_seq_mut()?.push(Node::plain("a=b"));
            set(ps, "nodeSelector", l).then(|| format!("{p}.nodeSelector"))
        }),
        (
            "missing pathType",
            |d| kind(d, "Ingress") && d.root.get_path("spec.rules").is_some(),
            |r| {
                let path = r
                    .get_path_mut("spec.rules")?
                    .as_seq_mut()?
                    .get_mut(0)?
                    .get_path_mut("http.paths")?
                    .as_seq_mut()?
                    .get_mut(0)?;
                path.remove("pathType")?;
                Some("$.spec.rules[0].http.paths[0]".into())
            },
        ),
        (
            "CronJob schedule",
            |d| kind(d, "CronJob"),
            |r| {
                r.get_mut("spec")?.remove("schedule")?;
                Some("$.spec".into())
            },
        ),
        ("secretKeyRef.key", has_pod, |r| {
            let (c, p) = container(r)?;
            let env = c.ensure_seq("env")?;
            let mut e = Node::map();
            e.insert("name", Node::plain("INJECTED"));
            let mut vf = Node::map();
            let mut skr = Node::map();
            skr.insert("name", Node::plain("some-secret"));
            vf.insert("secretKeyRef", skr);
            e.insert("valueFrom", vf);
            let i = env.as_seq()?.len();
            env.as_seq_mut()?.push(e);
            Some(format!("{p}.env[{i}].valueFrom.secretKeyRef"))
        }),
        (
            "ServiceMonitor typo",
            |d| kind(d, "ServiceMonitor") && d.root.get_path("spec.endpoints").is_some(),
            |r| {
                let ep = r.get_path_mut("spec.endpoints")?.as_seq_mut()?.get_mut(0)?;
                set(ep, "intervall", Node::plain("30s")).then(|| "$.spec.endpoints[0].intervall".into())
            },
        ),
        (
            "ServiceMonitor type",
            |d| kind(d, "ServiceMonitor") && d.root.get_path("spec.selector").is_some(),
            |r| set(r.get_mut("spec")?, "selector", Node::plain("app=x")).then(|| "$.spec.selector".into()),
        ),
        (
            "PrometheusRule typo",
            |d| kind(d, "PrometheusRule"),
            |r| rename(r.get_mut("spec")?, "groups", "group").then(|| "$.spec.group".into()),
        ),
        (
            "PrometheusRule type",
            |d| kind(d, "PrometheusRule") && d.root.get_path("spec.groups").is_some(),
            |r| {
                let g = r.get_path_mut("spec.groups")?.as_seq_mut()?.get_mut(0)?;
                set(g, "rules", Node::plain("none")).then(|| "$.spec.groups[0].rules".into())
            },
        ),
        (
            "PDB extensions/v1beta1",
            |d| kind(d, "PodDisruptionBudget"),
            |r| set(r, "apiVersion", Node::plain("extensions/v1beta1")).then(|| "$.apiVersion".into()),
        ),
        (
            "duplicate volume name",
            |d| {
                has_pod(d)
                    && d.root
                        .get_path("spec.template.spec.volumes")
                        .is_some_and(|v| v.as_seq().is_some_and(|s| !s.is_empty()))
            },
            |r| {
                let (ps, p) = pod_spec(r)?;
                let vs = ps.get_mut("volumes")?.as_seq_mut()?;
                let dup = vs[0].clone();
                vs.push(dup);
                Some(format!("{p}.volumes[{}].name", vs.len() - 1))
            },
        ),
        (
            "duplicate mountPath",
            |d| {
                has_pod(d)
                    && d.root
                        .get_path("spec.template.spec.containers")
                        .and_then(|c| c.as_seq()?.first()?.get("volumeMounts")?.as_seq()?.first().cloned())
                        .is_some()
            },
            |r| {
                let (c, p) = container(r)?;
                let ms = c.get_mut("volumeMounts")?.as_seq_mut()?;
                let dup = ms[0].clone();
                ms.push(dup);
                Some(format!("{p}.volumeMounts[{}].mountPath", ms.len() - 1))
            },
        ),
        (
            "type: Loadbalancer",
            |d| kind(d, "Service"),
            |r| set(r.get_mut("spec")?, "type", Node::plain("Loadbalancer")).then(|| "$.spec.type".into()),
        ),
        (
            "Job restartPolicy Always",
            |d| kind(d, "Job"),
            |r| {
                let (ps, p) = pod_spec(r)?;
                set(ps, "restartPolicy", Node::plain("Always")).then(|| format!("{p}.restartPolicy"))
            },
        ),
        (
            "NetworkPolicy protocol HTTP",
            |d| {
                kind(d, "NetworkPolicy")
                    && d.root
                        .get_path("spec.ingress")
                        .and_then(|i| i.as_seq()?.first()?.get("ports")?.as_seq()?.first().cloned())
                        .is_some()
            },
            |r| {
                let p = r
                    .get_path_mut("spec.ingress")?
                    .as_seq_mut()?
                    .get_mut(0)?
                    .get_mut("ports")?
                    .as_seq_mut()?
                    .get_mut(0)?;
                set(p, "protocol", Node::plain("HTTP")).then(|| "$.spec.ingress[0].ports[0].protocol".into())
            },
        ),
        ("512 MB", has_pod, |r| {
            let (c, p) = container(r)?;
            let res = c.ensure_map("resources")?;
            let lim = res.ensure_map("limits")?;
            set(lim, "memory", Node::plain("512 MB")).then(|| format!("{p}.resources.limits.memory"))
        }),
        ("port 70000", has_pod, |r| {
            let (c, p) = container(r)?;
            let ports = c.ensure_seq("ports")?;
            let mut port = Node::map();
            port.insert("containerPort", Node::plain("70000"));
            port.insert("name", Node::plain("injected"));
            let i = ports.as_seq()?.len();
            ports.as_seq_mut()?.push(port);
            Some(format!("{p}.ports[{i}].containerPort"))
        }),
        (
            "PDB both bounds",
            |d| kind(d, "PodDisruptionBudget"),
            |r| {
                let s = r.get_mut("spec")?;
                s.insert("minAvailable", Node::plain("1"));
                s.insert("maxUnavailable", Node::plain("1"));
                Some("$.spec.maxUnavailable".into())
            },
        ),
        // Eight more of the rules no schema holds.
        (
            "duplicate container name",
            |d| kind(d, "Deployment"),
            |r| {
                let (ps, p) = pod_spec(r)?;
                let cs = ps.get_mut("containers")?.as_seq_mut()?;
                let dup = cs[0].clone();
                cs.push(dup);
                Some(format!("{p}.containers[{}].name", cs.len() - 1))
            },
        ),
        ("imagePullPolicy always", has_pod, |r| {
            let (c, p) = container(r)?;
            set(c, "imagePullPolicy", Node::plain("always")).then(|| format!("{p}.imagePullPolicy"))
        }),
        (
            "pathType prefix",
            |d| kind(d, "Ingress") && d.root.get_path("spec.rules").is_some(),
            |r| {
                let path = r
                    .get_path_mut("spec.rules")?
                    .as_seq_mut()?
                    .get_mut(0)?
                    .get_path_mut("http.paths")?
                    .as_seq_mut()?
                    .get_mut(0)?;
                set(path, "pathType", Node::plain("prefix")).then(|| "$.spec.rules[0].http.paths[0].pathType".into())
            },
        ),
        (
            "label value with a space",
            |d| kind(d, "ConfigMap"),
            |r| {
                let md = r.get_mut("metadata")?;
                let l = md.ensure_map("labels")?;
                set(l, "injected", q("two words")).then(|| "$.metadata.labels.injected".into())
            },
        ),
        ("probe with two handlers", has_pod, |r| {
            let (c, p) = container(r)?;
            let mut probe = Node::map();
            let mut tcp = Node::map();
            tcp.insert("port", Node::plain("80"));
            let mut exec = Node::map();
            exec.insert("command", Node::seq());
            probe.insert("tcpSocket", tcp);
            probe.insert("exec", exec);
            set(c, "startupProbe", probe).then(|| format!("{p}.startupProbe"))
        }),
        (
            "Deployment restartPolicy Never",
            |d| kind(d, "Deployment"),
            |r| {
                let (ps, p) = pod_spec(r)?;
                set(ps, "restartPolicy", Node::plain("Never")).then(|| format!("{p}.restartPolicy"))
            },
        ),
        ("integer env value", has_pod, |r| {
            let (c, p) = container(r)?;
            let env = c.ensure_seq("env")?;
            let mut e = Node::map();
            e.insert("name", Node::plain("PORT_INJECTED"));
            e.insert("value", Node::plain("8080"));
            let i = env.as_seq()?.len();
            env.as_seq_mut()?.push(e);
            Some(format!("{p}.env[{i}].value"))
        }),
        (
            "StatefulSet servicename",
            |d| kind(d, "StatefulSet") && d.root.get_path("spec.serviceName").is_some(),
            |r| rename(r.get_mut("spec")?, "serviceName", "servicename").then(|| "$.spec.servicename".into()),
        ),
    ]
}

fn config() -> InstanceConfig {
    InstanceConfig::load(&root().join("benches/corpus-instance.yaml")).expect("corpus config")
}

#[test]
fn corpus_has_no_validate_error() {
    let Some(corpus) = corpus() else { return };
    let cfg = config();
    let set = opendesk_patches::default_set().expect("patches");
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let r = render(load_dir(&corpus).unwrap(), &req).expect("the corpus renders with exit 0");
    let bad: Vec<_> = r.report.findings.iter().filter(|f| f.stage == "validate").collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(r.report.timings.iter().any(|t| t.stage == "validate"));
}

#[test]
fn the_35_shapes_are_each_reported_at_their_resource_and_path() {
    let Some(corpus) = corpus() else { return };
    let cfg = config();
    let set = opendesk_patches::default_set().expect("patches");
    let mut input = load_dir(&corpus).unwrap();
    let mut used = vec![false; input.documents.len()];
    let mut want: Vec<(&str, String, String, String)> = Vec::new();
    let shapes = shapes();
    assert_eq!(shapes.len(), 35);
    for (what, pick, mutate) in shapes {
        // A document not mutated yet, so every shape is reported on its own resource.
        let i = (0..input.documents.len())
            .find(|&i| !used[i] && pick(&input.documents[i]) && input.documents[i].name().is_some())
            .unwrap_or_else(|| panic!("{what}: no document to mutate"));
        used[i] = true;
        let d = &mut input.documents[i];
        let path = mutate(&mut d.root).unwrap_or_else(|| panic!("{what}: mutation did not apply to {}", d.id()));
        want.push((what, d.kind().unwrap_or("").to_string(), format!("/{}", d.name().unwrap_or("")), path));
    }
    let req = RenderRequest { config: Some(&cfg), patches: Some(&set), ..Default::default() };
    let err = render(input, &req).expect_err("the mutated corpus fails");
    let report = err.report().expect("a failed render has a report");
    let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
    let mut missing = Vec::new();
    for (what, kind, name, path) in &want {
        let hit = errors.iter().any(|f| {
            f.path.as_deref() == Some(path.as_str())
                && f.resource
                    .as_deref()
                    .is_some_and(|r| r.starts_with(&format!("{kind}/")) && r.ends_with(name.as_str()))
        });
        if !hit {
            missing.push(format!("{what}: {kind}{name} at {path}"));
        }
    }
    assert!(missing.is_empty(), "not reported:\n{}\n\nerrors:\n{errors:#?}", missing.join("\n"));
    // Every finding is located: a resource, a path and an origin with a line.
    for f in report.findings.iter().filter(|f| f.stage == "validate") {
        assert!(f.resource.is_some() && f.path.is_some(), "{f:?}");
        assert!(f.origin.as_deref().and_then(|o| o.rsplit(':').next()?.parse::<u32>().ok()).is_some(), "{f:?}");
    }
}

/// `opendesk-render validate PATH…` as a real process: exit codes, text and JSON output, CRDs
/// from `--crds`, and the rendered corpus tree valid.
#[test]
fn validate_command() {
    let t = TempDir::new("validate");
    let bad = write(
        t.path(),
        "m/bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: Loadbalancer\n  ports: [{port: \"80\"}]\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: x}\n",
    );
    let good = write(t.path(), "ok/good.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n");
    let crd = write(
        t.path(),
        "crds/widget.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}\n",
    );
    let b = bad.display().to_string();
    let o = run(&args(&["validate", &b]));
    o.expect("invalid", 1);
    assert!(o.stdout.contains("bad.yaml:5:9 - Service s error at $.spec.type"), "{}", o.stdout);
    assert!(o.stdout.contains("[validate/service-type]") && o.stdout.contains("[validate/type]"), "{}", o.stdout);
    assert!(o.stdout.contains("[validate/no-schema]"), "{}", o.stdout);
    assert!(
        o.stdout.contains(
            "Summary: 2 resources found in 1 files (Kubernetes 1.31) - Valid: 0, Invalid: 1, Errors: 0, Skipped: 1"
        ),
        "{}",
        o.stdout
    );
    let c = crd.parent().unwrap().display().to_string();
    let o = run(&args(&["validate", &b, "--crds", &c, "--json", "--kubernetes-version", "v1.30.2"]));
    o.expect("invalid, json", 1);
    assert!(o.stdout.contains("\"kubernetesVersion\": \"1.30\""), "{}", o.stdout);
    assert!(o.stdout.contains("\"status\": \"statusInvalid\"") && !o.stdout.contains("statusSkipped"), "{}", o.stdout);
    assert!(o.stdout.contains("\"path\": \"$.spec.size\""), "{}", o.stdout);
    run(&args(&["validate", &good.display().to_string()])).expect("valid", 0);
    run(&args(&["validate", &b, "--kubernetes-version", "1.9"]))
        .expect("unknown version", 2)
        .stderr_has("version", "1.9");
    run(&args(&["validate", &t.join("nope").display().to_string()])).expect("missing path", 2);
    let broken = write(t.path(), "broken/x.yaml", "a: [\n");
    let o = run(&args(&["validate", &broken.display().to_string()]));
    o.expect("unparsable", 1);
    assert!(o.stdout.contains("[validate/syntax]"), "{}", o.stdout);

    // The rendered corpus tree (releases and applications) is valid.
    let Some(corpus) = corpus() else { return };
    let out = t.join("out");
    let cfg = root().join("benches/corpus-instance.yaml");
    let sec = t.join("s.json");
    let (cs, os, ss) = (corpus.display().to_string(), out.display().to_string(), sec.display().to_string());
    run(&args(&["render", &cs, "--out", &os, "--config", &cfg.display().to_string(), "--secrets-out", &ss]))
        .expect("render", 0);
    let o = run(&args(&["validate", &os]));
    o.expect("rendered tree", 0);
    assert!(o.stdout.contains("Invalid: 0, Errors: 0"), "{}", o.stdout);
}
