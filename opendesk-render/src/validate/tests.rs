//! A fixture per check code: the invalid shape gives the finding at its path; the valid
//! neighbour (one change away) gives none.

use super::*;
use crate::{Document, Origin};

fn docs(text: &str) -> Vec<Document> {
    crate::yaml::parse_documents(text)
        .unwrap()
        .into_iter()
        .map(|root| {
            let origin = Origin { release: Arc::from("r"), file: Arc::from("f.yaml"), line: root.line.max(1) };
            Document::new(origin, Vec::new(), root)
        })
        .collect()
}

fn findings(text: &str) -> Vec<(String, String)> {
    let s = Schemas::new(None).unwrap();
    validate(&docs(text), &s, &[]).findings.into_iter().map(|f| (f.code, f.path.unwrap_or_default())).collect()
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n";

fn pod(spec: &str) -> String {
    format!("{POD}{spec}")
}

/// (code, invalid, valid neighbour, path of the finding)
fn cases() -> Vec<(&'static str, String, String, &'static str)> {
    let deploy = |x: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata: {{labels: {{a: b}}}}\n    spec:\n      containers:\n        - name: c\n          image: i:1\n{x}"
        )
    };
    vec![
        (
            "validate/unknown-field",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replica: 2\n  selector: {}\n  template: {}\n".into(),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 2\n  selector: {}\n  template: {}\n".into(),
            "$.spec.replica",
        ),
        ("validate/type", deploy("").replace("spec:\n  selector", "spec:\n  replicas: \"2\"\n  selector"), deploy("").replace("spec:\n  selector", "spec:\n  replicas: 2\n  selector"), "$.spec.replicas"),
        (
            "validate/required",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate: {}\n".into(),
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '* * * * *'\n  jobTemplate: {}\n".into(),
            "$.spec",
        ),
        (
            "validate/enum",
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e}\nspec:\n  refreshPolicy: Sometimes\n".into(),
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e}\nspec:\n  refreshPolicy: Periodic\n".into(),
            "$.spec.refreshPolicy",
        ),
        (
            "validate/quantity",
            pod("  containers:\n    - name: c\n      image: i:1\n      resources: {limits: {memory: 512 MB}}\n"),
            pod("  containers:\n    - name: c\n      image: i:1\n      resources: {limits: {memory: 512Mi}}\n"),
            "$.spec.containers[0].resources.limits.memory",
        ),
        (
            "validate/value",
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e}\nspec:\n  data: [{secretKey: 'a b', remoteRef: {key: k}}]\n".into(),
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e}\nspec:\n  data: [{secretKey: a-b, remoteRef: {key: k}}]\n".into(),
            "$.spec.data[0].secretKey",
        ),
        (
            "validate/duplicate-item",
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}, {port: 80, protocol: TCP}]\n".into(),
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}, {port: 80, protocol: UDP}]\n".into(),
            "$.spec.ports[1]",
        ),
        (
            "validate/unserved-api",
            "apiVersion: extensions/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1}\n".into(),
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1}\n".into(),
            "$.apiVersion",
        ),
        (
            "validate/no-schema",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n".into(),
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec: {type: object, properties: {size: {type: integer}}}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n".into(),
            "$.apiVersion",
        ),
        (
            "validate/crd-invalid",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.example.com}\nspec: {names: {kind: X}}\n".into(),
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.example.com}\nspec: {group: example.com, names: {kind: X, plural: xs}, scope: Namespaced, versions: []}\n".into(),
            "",
        ),
        (
            "validate/duplicate-volume",
            pod("  containers: [{name: c, image: 'i:1'}]\n  volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}]\n"),
            pod("  containers: [{name: c, image: 'i:1'}]\n  volumes: [{name: v, emptyDir: {}}, {name: w, emptyDir: {}}]\n"),
            "$.spec.volumes[1].name",
        ),
        (
            "validate/duplicate-container",
            pod("  initContainers: [{name: c, image: 'i:1'}]\n  containers: [{name: c, image: 'i:1'}]\n"),
            pod("  initContainers: [{name: i, image: 'i:1'}]\n  containers: [{name: c, image: 'i:1'}]\n"),
            "$.spec.containers[0].name",
        ),
        (
            "validate/duplicate-mount-path",
            pod("  containers: [{name: c, image: 'i:1', volumeMounts: [{name: v, mountPath: /a}, {name: w, mountPath: /a/}]}]\n  volumes: [{name: v, emptyDir: {}}, {name: w, emptyDir: {}}]\n"),
            pod("  containers: [{name: c, image: 'i:1', volumeMounts: [{name: v, mountPath: /a}, {name: w, mountPath: /b}]}]\n  volumes: [{name: v, emptyDir: {}}, {name: w, emptyDir: {}}]\n"),
            "$.spec.containers[0].volumeMounts[1].mountPath",
        ),
        (
            "validate/unknown-volume",
            pod("  containers: [{name: c, image: 'i:1', volumeMounts: [{name: x, mountPath: /a}]}]\n  volumes: [{name: v, emptyDir: {}}]\n"),
            pod("  containers: [{name: c, image: 'i:1', volumeMounts: [{name: v, mountPath: /a}]}]\n  volumes: [{name: v, emptyDir: {}}]\n"),
            "$.spec.containers[0].volumeMounts[0].name",
        ),
        (
            "validate/port-range",
            pod("  containers: [{name: c, image: 'i:1', ports: [{containerPort: 70000}]}]\n"),
            pod("  containers: [{name: c, image: 'i:1', ports: [{containerPort: 65535}]}]\n"),
            "$.spec.containers[0].ports[0].containerPort",
        ),
        (
            "validate/protocol",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: 80, protocol: HTTP}]}]\n".into(),
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: 80, protocol: TCP}]}]\n".into(),
            "$.spec.ingress[0].ports[0].protocol",
        ),
        (
            "validate/service-type",
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: Loadbalancer}\n".into(),
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer}\n".into(),
            "$.spec.type",
        ),
        (
            "validate/restart-policy",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n      containers: [{name: c, image: 'i:1'}]\n".into(),
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: 'i:1'}]\n".into(),
            "$.spec.template.spec.restartPolicy",
        ),
        (
            "validate/image-pull-policy",
            deploy("          imagePullPolicy: always\n"),
            deploy("          imagePullPolicy: Always\n"),
            "$.spec.template.spec.containers[0].imagePullPolicy",
        ),
        (
            "validate/path-type",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n  rules: [{http: {paths: [{path: /, pathType: prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]\n".into(),
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n  rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]\n".into(),
            "$.spec.rules[0].http.paths[0].pathType",
        ),
        (
            "validate/label-key",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {'-bad': x}}\n".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {'example.com/good': x}}\n".into(),
            "$.metadata.labels['-bad']",
        ),
        (
            "validate/label-value",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: 'two words'}}\n".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: two-words}}\n".into(),
            "$.metadata.labels.a",
        ),
        (
            "validate/annotation-key",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {'Bad_Prefix/x': z}}\n".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {'good.prefix/x': z}}\n".into(),
            "$.metadata.annotations['Bad_Prefix/x']",
        ),
        (
            "validate/annotation-size",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, annotations: {{a: '{}'}}}}\n", "x".repeat(270_000)),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, annotations: {{a: '{}'}}}}\n", "x".repeat(200_000)),
            "$.metadata.annotations",
        ),
        (
            "validate/name",
            "apiVersion: v1\nkind: Service\nmetadata: {name: my.svc}\n".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: my.svc}\n".into(),
            "$.metadata.name",
        ),
        (
            "validate/pdb-both-bounds",
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1, maxUnavailable: 1}\n".into(),
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 1}\n".into(),
            "$.spec.maxUnavailable",
        ),
        (
            "validate/probe-handlers",
            pod("  containers: [{name: c, image: 'i:1', readinessProbe: {httpGet: {port: 80}, tcpSocket: {port: 80}}}]\n"),
            pod("  containers: [{name: c, image: 'i:1', readinessProbe: {httpGet: {port: 80}}}]\n"),
            "$.spec.containers[0].readinessProbe",
        ),
    ]
}

#[test]
fn a_fixture_per_code() {
    for (code, bad, good, path) in cases() {
        let got = findings(&bad);
        assert!(
            got.iter().any(|(c, p)| c == code && (path.is_empty() || p == path)),
            "{code}: want {path}, got {got:?}"
        );
        let fine = findings(&good);
        assert!(!fine.iter().any(|(c, _)| c == code), "{code}: the valid neighbour gives {fine:?}");
        assert!(fine.iter().all(|(c, _)| c == "validate/no-schema"), "{code}: {fine:?}");
    }
}

#[test]
fn every_documented_code_has_a_fixture() {
    let doc = include_str!("mod.rs");
    let have: HashSet<&str> = cases().iter().map(|c| c.0).collect();
    for line in doc.lines().filter(|l| l.starts_with("//! | `validate/")) {
        for code in line.split('`').skip(1).step_by(2).filter(|c| c.starts_with("validate/")) {
            assert!(have.contains(code), "no fixture for {code}");
        }
    }
}

#[test]
fn yaml_11_types_and_int_or_string() {
    // `on` is a boolean to Kubernetes: wrong for a string field; 0644 is an integer.
    let got = findings(&pod(
        "  containers: [{name: c, image: 'i:1', env: [{name: A, value: on}], ports: [{containerPort: 0x50}]}]\n  volumes: [{name: v, configMap: {name: m, defaultMode: 0644}}]\n",
    ));
    assert_eq!(got, vec![("validate/type".to_string(), "$.spec.containers[0].env[0].value".to_string())]);
    let got = findings(&pod("  containers: [{name: c, image: 'i:1', livenessProbe: {httpGet: {port: http}}}]\n"));
    assert!(got.is_empty(), "{got:?}");
    let got = findings(&pod("  containers: [{name: c, image: 'i:1', livenessProbe: {httpGet: {port: [1]}}}]\n"));
    assert_eq!(got, vec![("validate/type".to_string(), "$.spec.containers[0].livenessProbe.httpGet.port".to_string())]);
    // null is "unset".
    assert!(
        findings("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, creationTimestamp: null}\ndata: ~\n").is_empty()
    );
}

#[test]
fn custom_resources_against_their_crd() {
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec:\n              type: object\n              required: [size]\n              properties:\n                size: {type: integer, minimum: 1}\n                port: {x-kubernetes-int-or-string: true}\n                tags: {type: array, items: {type: string}, x-kubernetes-list-type: set}\n                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}\n                inner: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}\n    - name: v0\n      served: false\n      storage: false\n";
    let cr = |spec: &str, api: &str| {
        format!("{crd}---\napiVersion: example.com/{api}\nkind: Widget\nmetadata: {{name: w}}\nspec: {spec}\n")
    };
    assert!(findings(&cr("{size: 2, port: http, tags: [a, b], extra: {anything: 1}, inner: {apiVersion: v1, kind: X, metadata: {name: np}, z: 1}}", "v1")).is_empty());
    assert_eq!(
        findings(&cr("{size: 0, port: 1.5, tags: [a, a], sise: 1}", "v1")),
        vec![
            ("validate/value".into(), "$.spec.size".into()),
            ("validate/type".into(), "$.spec.port".into()),
            ("validate/duplicate-item".into(), "$.spec.tags[1]".into()),
            ("validate/unknown-field".into(), "$.spec.sise".into()),
        ]
    );
    assert_eq!(findings(&cr("{port: 1}", "v1")), vec![("validate/required".to_string(), "$.spec".to_string())]);
    assert_eq!(
        findings(&cr("{size: 1}", "v0")),
        vec![("validate/unserved-api".to_string(), "$.apiVersion".to_string())]
    );
    // The metadata of a custom resource is ObjectMeta.
    assert_eq!(
        findings(&format!("{crd}---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w, label: {{a: b}}}}\nspec: {{size: 1}}\n")),
        vec![("validate/unknown-field".to_string(), "$.metadata.label".to_string())]
    );
}

#[test]
fn lint_findings_fold_into_one() {
    let text = pod("  containers: [{name: c, image: 'i:1', livenessProbe: {enabled: true}}]\n");
    let d = docs(&text);
    let lint = crate::stages::lint::lint_document(&d[0]);
    assert!(lint.iter().any(|f| f.path.as_deref() == Some("$.spec.containers[0].livenessProbe.enabled")));
    let s = Schemas::new(None).unwrap();
    let v = validate(&d, &s, &lint);
    for f in &v.findings {
        assert!(!lint.iter().any(|l| l.path == f.path), "{f:?} duplicates lint");
    }
    // Without lint's findings, validate reports both problems itself.
    let own: Vec<String> = validate(&d, &s, &[]).findings.into_iter().filter_map(|f| f.path).collect();
    assert!(own.contains(&"$.spec.containers[0].livenessProbe.enabled".to_string()), "{own:?}");
    assert!(own.contains(&"$.spec.containers[0].livenessProbe".to_string()), "{own:?}");
}

#[test]
fn versions_differ_where_kubernetes_did() {
    // flowcontrol v1beta3 was served up to 1.31 and removed in 1.32.
    let fs = "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata: {name: f}\nspec: {priorityLevelConfiguration: {name: p}}\n";
    let d = docs(fs);
    let v31 = validate(&d, &Schemas::new(Some("1.31")).unwrap(), &[]);
    let v32 = validate(&d, &Schemas::new(Some("1.32")).unwrap(), &[]);
    assert!(v31.findings.is_empty(), "{:?}", v31.findings);
    assert_eq!(v32.findings[0].code, "validate/unserved-api");
    assert!(v32.findings[0].message.contains("flowcontrol.apiserver.k8s.io/v1"), "{}", v32.findings[0].message);
    assert!(matches!(Schemas::new(Some("1.9")), Err(ValidateError::Version(..))));
}

#[test]
fn findings_name_resource_path_and_line() {
    let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: ns\nspec:\n  ports:\n    - port: \"80\"\n      targetport: 8080\n";
    let s = Schemas::new(None).unwrap();
    let v = validate(&docs(text), &s, &[]);
    let got: Vec<(String, Option<String>, Option<String>)> =
        v.findings.iter().map(|f| (f.code.clone(), f.path.clone(), f.origin.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("validate/type".into(), Some("$.spec.ports[0].port".into()), Some("r/f.yaml:8".into())),
            ("validate/unknown-field".into(), Some("$.spec.ports[0].targetport".into()), Some("r/f.yaml:9".into())),
        ]
    );
    assert_eq!(v.findings[0].resource.as_deref(), Some("Service/ns/s"));
}

mod props {
    use super::*;
    use crate::yaml::{Entry, Node, Scalar, Value};
    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = Node> {
        prop_oneof![
            Just("1"),
            Just("-5"),
            Just("on"),
            Just("null"),
            Just("x"),
            Just("512Mi"),
            Just("1.5"),
            Just(""),
            Just("TCP"),
            Just("apps/v1"),
            Just("v1"),
            Just("Pod"),
            Just("Deployment"),
            Just("policy/v1"),
        ]
        .prop_map(Node::plain)
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("apiVersion"),
            Just("kind"),
            Just("metadata"),
            Just("spec"),
            Just("name"),
            Just("containers"),
            Just("template"),
            Just("ports"),
            Just("volumes"),
            Just("volumeMounts"),
            Just("labels"),
            Just("port"),
            Just("protocol"),
            Just("x"),
            Just("resources"),
            Just("limits"),
            Just("replicas"),
            Just("type"),
        ]
        .prop_map(String::from)
    }

    fn tree() -> impl Strategy<Value = Node> {
        scalar().prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| Node::new(Value::Seq(v))),
                prop::collection::vec((key(), inner), 0..6).prop_map(|es| {
                    Node::new(Value::Map(
                        es.into_iter()
                            .map(|(k, v)| Entry { key: Scalar::plain(k), key_line: 0, key_col: 0, value: v })
                            .collect(),
                    ))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn never_panics(t in tree(), api in scalar(), kind in scalar()) {
            let s = Schemas::new(None).unwrap();
            let mut root = t;
            if let Some(m) = root.as_map_mut() {
                m.insert(0, Entry { key: Scalar::plain("apiVersion"), key_line: 0, key_col: 0, value: api });
                m.insert(1, Entry { key: Scalar::plain("kind"), key_line: 0, key_col: 0, value: kind });
            }
            let origin = Origin { release: Arc::from("r"), file: Arc::from("f"), line: 1 };
            let d = vec![Document::new(origin, Vec::new(), root)];
            let _ = validate(&d, &s, &[]);
        }
    }
}
