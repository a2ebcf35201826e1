//! `opendesk-render plan` and `push --dry-run` against a real local bare repository: a pushed
//! tree, then a changed render; the plan lists exactly the changed resources and paths, a
//! block-scalar change shows only its changed lines, a checksum-only change is churn, a Secret
//! value never appears, and a plan with no change says so.

use std::path::Path;
use std::process::Command;

mod common;
use common::{copy_dir, ok, run, Tmp};

fn edit(f: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(f).unwrap();
    assert!(t.contains(from), "{}: no {from:?}", f.display());
    std::fs::write(f, t.replacen(from, to, 1)).unwrap();
}

const PLANTED: &str = "pl4nted-S3cret-value";

#[test]
fn plan_against_a_pushed_tree() {
    let t = Tmp::new("plan");
    let out1 = t.0.join("out1");
    let payload = t.0.join("secrets.json");
    ok(&run(&["render", "--out", out1.to_str().unwrap(), "--secrets-out", payload.to_str().unwrap()]));
    // A plain Secret in the tree (as with redaction off), to prove values never show.
    std::fs::write(
        out1.join("releases/mariadb/secret-planted.yaml"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: planted\n  namespace: opendesk\nstringData:\n  password: {PLANTED}-old\n"),
    )
    .unwrap();
    let repo = t.0.join("acme.git");
    assert!(Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main", repo.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let (o1, r) = (out1.to_str().unwrap(), repo.to_str().unwrap());

    // Before the first push: the branch does not exist, everything is added.
    let first: serde_json::Value =
        serde_json::from_str(&ok(&run(&["plan", o1, "--repo", r, "--path", "instances/acme", "--json"]))).unwrap();
    assert_eq!(first["changed"], true);
    assert_eq!(first["base"], serde_json::Value::Null);
    assert_eq!(first["counts"]["removed"], 0);
    assert!(first["counts"]["added"].as_u64().unwrap() > 20);

    ok(&run(&["push", o1, "--repo", r, "--path", "instances/acme"]));
    let same = ok(&run(&["plan", o1, "--repo", r, "--path", "instances/acme"]));
    assert!(same.starts_with("no changes ("), "{same}");
    let same: serde_json::Value =
        serde_json::from_str(&ok(&run(&["plan", o1, "--repo", r, "--path", "instances/acme", "--json"]))).unwrap();
    assert_eq!((same["changed"].clone(), same["counts"]["changed"].clone()), (false.into(), 0.into()));

    // A changed render.
    let out2 = t.0.join("out2");
    copy_dir(&out1, &out2);
    let rel = out2.join("releases");
    edit(
        &rel.join("opendesk-synapse/configmap-opendesk-synapse.yaml"),
        "max_upload_size: 100M",
        "max_upload_size: 200M",
    );
    edit(
        &rel.join("opendesk-synapse/statefulset-opendesk-synapse.yaml"),
        "checksum/config: 5a4f",
        "checksum/config: 0000",
    );
    edit(&rel.join("ums/deployment-ums-udm-rest-api.yaml"), "replicas: 1", "replicas: 2");
    edit(&rel.join("mariadb/externalsecret-mariadb.yaml"), "  data:\n", "  data:\n    - secretKey: new-key\n      remoteRef:\n        key: acme/opendesk/mariadb\n        property: new-key\n");
    edit(&rel.join("mariadb/secret-planted.yaml"), &format!("{PLANTED}-old"), &format!("{PLANTED}-new"));
    std::fs::remove_file(rel.join("ox-connector/service-ox-connector.yaml")).unwrap();
    std::fs::write(
        rel.join("mariadb/configmap-extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: opendesk\ndata:\n  a: b\n",
    )
    .unwrap();
    let o2 = out2.to_str().unwrap();

    let json = ok(&run(&["plan", o2, "--repo", r, "--path", "instances/acme", "--json"]));
    let text = ok(&run(&["plan", o2, "--repo", r, "--path", "instances/acme"]));
    let md = ok(&run(&["plan", o2, "--repo", r, "--path", "instances/acme", "--markdown"]));
    let dry = ok(&run(&["push", o2, "--repo", r, "--path", "instances/acme", "--dry-run"]));
    assert_eq!(dry, text, "push --dry-run is the plan");
    for s in [&json, &text, &md] {
        assert!(!s.contains(PLANTED), "a Secret value leaked: {s}");
    }
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // The hand-written expectation: exactly these resources and paths.
    let got: Vec<(String, String, bool, Vec<String>)> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["resource"].as_str().unwrap().to_string(),
                r["churn"].as_bool().unwrap_or(false),
                r["changes"].as_array().map_or(vec![], |c| {
                    c.iter()
                        .map(|c| format!("{} {}", c["kind"].as_str().unwrap(), c["path"].as_str().unwrap()))
                        .collect()
                }),
            )
        })
        .collect();
    let want: Vec<(String, String, bool, Vec<String>)> = [
        ("added", "mariadb:ConfigMap/opendesk/extra", false, vec![]),
        ("changed", "mariadb:ExternalSecret/opendesk/mariadb", false, vec!["added $.spec.data['new-key']"]),
        ("changed", "mariadb:Secret/opendesk/planted", true, vec!["changed $.stringData.password"]),
        (
            "changed",
            "opendesk-synapse:ConfigMap/opendesk/opendesk-synapse",
            false,
            vec!["changed $.data['homeserver.yaml']"],
        ),
        (
            "changed",
            "opendesk-synapse:StatefulSet/opendesk/opendesk-synapse",
            true,
            vec!["changed $.spec.template.metadata.annotations['checksum/config']"],
        ),
        ("removed", "ox-connector:Service/opendesk/ox-connector", false, vec![]),
        ("changed", "ums:Deployment/opendesk/ums-udm-rest-api", false, vec!["changed $.spec.replicas"]),
    ]
    .into_iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c, d.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(v["changed"], true);
    assert_eq!(v["counts"]["churn"], 2);
    // The block scalar: only its changed line with two lines of context.
    let cm = &v["resources"][3]["changes"][0];
    assert!(cm.get("old").is_none() && cm.get("new").is_none(), "{cm}");
    let lines: Vec<&str> = cm["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with('-') || l.starts_with('+')).count(), 2, "{lines:?}");
    assert!(lines.contains(&"-max_upload_size: 100M") && lines.contains(&"+max_upload_size: 200M"), "{lines:?}");
    assert_eq!(lines.len(), 7, "a header, 2 changed lines, 2 lines of context each side: {lines:?}");
    assert!(text.contains("$.spec.replicas: 1 → 2"), "{text}");
    assert!(text.contains("(churn only)"), "{text}");

    // Snapshots, with the run-specific repository path and commit replaced.
    let base = v["base"].as_str().unwrap().to_string();
    let norm = |s: &str| s.replace(&base, "[base]").replace(r, "[repo]");
    insta::assert_snapshot!("plan_json", norm(&json));
    insta::assert_snapshot!("plan_markdown", norm(&md));

    // Nothing was pushed by the plan or the dry run.
    let o = Command::new("git").args(["-C", r, "rev-parse", "main"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), base);
    // And no work dir is left: nothing named opendesk-plan-* in the temp dir from this run is
    // checked by .ci/run's empty-TMPDIR rule.
}
