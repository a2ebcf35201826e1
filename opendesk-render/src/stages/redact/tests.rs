//! Fixtures in the real shapes (issue 15), each asserting the exact outcome.

use super::*;
use crate::config::SecretKeyRef;
use crate::document::emit_stream;
use crate::stages::eso::{encode_base64, eso};
use crate::stages::testutil::{cfg_with_store, docs};

fn run(text: &str, cfg: &InstanceConfig) -> (Vec<Document>, RedactOutput, String) {
    let mut ds = docs("app", "app/templates/all.yaml", text);
    let e = eso(&mut ds, cfg).unwrap();
    let before = emit_stream(&ds);
    let out = redact(&mut ds, cfg, &e.payload);
    (ds, out, before)
}

fn codes(out: &RedactOutput) -> Vec<(String, Option<String>)> {
    out.report.findings.iter().map(|f| (f.code.clone(), f.path.clone())).collect()
}

fn no_value_in(out: &RedactOutput, values: &[&str]) {
    let report = serde_json::to_string(&out.report).unwrap();
    for v in values {
        assert!(!report.contains(v), "{v} in the report: {report}");
    }
}

/// A mattermost-like config Secret: driver names, log levels, hosts, a port, a URL. The same
/// values appear in a Service, a ConfigMap, an image tag and a mount path: nothing changes.
const MATTERMOST: &str = r#"apiVersion: v1
kind: Secret
metadata: {name: mattermost-config, namespace: chat}
stringData:
  MM_FILESETTINGS_DRIVERNAME: local
  MM_SQLSETTINGS_DRIVERNAME: postgres
  MM_LOGSETTINGS_CONSOLELEVEL: INFO
  KC_LOG_LEVEL: warning
  MM_EMAILSETTINGS_SMTPSERVER: smtp.example.org
  MM_EMAILSETTINGS_SMTPPORT: "587"
  MM_SERVICESETTINGS_SITEURL: https://chat.example.org
  NO_PROXY: svc.cluster.local
  XWIKI_DATA: /usr/local/xwiki/data
  MM_SQLSETTINGS_DATASOURCE: "postgres://mmuser:Zq8rT2vLx9PwK4@postgres:5432/mattermost?sslmode=disable"
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: chat}
spec: {type: ExternalName, externalName: postgres.chat.svc.cluster.local}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx, namespace: chat}
data:
  nginx.conf: "proxy_pass http://local:8065; # log INFO warning\nserver_name smtp.example.org;\n"
  NO_PROXY: "svc.cluster.local,localhost"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: xwiki, namespace: chat}
spec:
  template:
    spec:
      containers:
        - name: xwiki
          image: xwiki:lts-postgres-tomcat
          env: [{name: LOG, value: INFO}, {name: SMTP, value: smtp.example.org}]
          volumeMounts: [{name: data, mountPath: /usr/local/xwiki/data}]
"#;

#[test]
fn mattermost_like_config_secret_changes_nothing() {
    let cfg = cfg_with_store();
    let (ds, out, before) = run(MATTERMOST, &cfg);
    assert_eq!(emit_stream(&ds), before, "nothing masked, nothing rewritten");
    assert!(out.report.occurrences.is_empty(), "{:?}", out.report.occurrences);
    assert_eq!(codes(&out), []);
    let classes: Vec<(&str, Class, Reason)> =
        out.report.secrets.iter().map(|c| (c.key.as_str(), c.class, c.reason)).collect();
    use Class::*;
    assert_eq!(
        classes,
        [
            ("MM_FILESETTINGS_DRIVERNAME", Configuration, Reason::Words),
            ("MM_SQLSETTINGS_DRIVERNAME", Configuration, Reason::Words),
            ("MM_LOGSETTINGS_CONSOLELEVEL", Configuration, Reason::LogLevel),
            ("KC_LOG_LEVEL", Configuration, Reason::LogLevel),
            ("MM_EMAILSETTINGS_SMTPSERVER", Configuration, Reason::Host),
            ("MM_EMAILSETTINGS_SMTPPORT", Configuration, Reason::Number),
            ("MM_SERVICESETTINGS_SITEURL", Configuration, Reason::Url),
            ("NO_PROXY", Configuration, Reason::Host),
            ("XWIKI_DATA", Configuration, Reason::Path),
            ("MM_SQLSETTINGS_DATASOURCE", Secret, Reason::UrlCredentials),
        ]
    );
    assert_eq!(out.report.selection.known, 1);
}

/// A chart pair with database `postgres` and key `postgres-password`: the ExternalSecret is
/// intact, the image is intact, the weak value is a finding naming Secret and key only.
const POSTGRES: &str = r#"apiVersion: v1
kind: Secret
metadata: {name: keycloak-postgresql, namespace: opendesk}
stringData:
  postgres-password: postgres
  password: Jx7kQ2mP9vLs4RtW
  database: postgres
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: keycloak-postgresql, namespace: opendesk}
spec:
  template:
    spec:
      containers:
        - name: postgresql
          image: docker.io/library/postgres:15
          env:
            - {name: POSTGRES_DB, value: postgres}
            - name: POSTGRES_PASSWORD
              valueFrom: {secretKeyRef: {name: keycloak-postgresql, key: postgres-password}}
            - {name: POSTGRES_ADMIN_PASSWORD, value: postgres}
"#;

#[test]
fn postgres_pair_keeps_the_external_secret_and_the_image() {
    let cfg = cfg_with_store();
    let (ds, out, before) = run(POSTGRES, &cfg);
    let es = ds[0].emit();
    assert!(es.contains("secretKey: postgres-password") && es.contains("property: postgres-password"), "{es}");
    assert!(before.contains("image: docker.io/library/postgres:15"));
    let after = emit_stream(&ds);
    assert!(after.contains("image: docker.io/library/postgres:15"), "{after}");
    // The only change: the weak credential in a credential-named env var became a reference.
    let sts = ds[1].emit();
    assert_eq!(sts.matches("secretKeyRef").count(), 2, "{sts}");
    assert_eq!(sts.matches("key: postgres-password").count(), 2, "{sts}");
    assert_eq!(
        codes(&out),
        [
            ("secrets/weak-value".to_string(), None),
            ("redact/secret-ref".to_string(), Some("$.spec.template.spec.containers[0].env[2]".to_string()))
        ]
    );
    let w = &out.report.findings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.resource.as_deref(), Some("Secret/opendesk/keycloak-postgresql"));
    assert!(w.message.contains("key `postgres-password`") && w.message.contains("dictionary-like"), "{}", w.message);
    assert!(!w.message.contains(": postgres "), "{}", w.message);
    no_value_in(&out, &["Jx7kQ2mP9vLs4RtW"]);
    // redact.strict: the weak value is an error.
    let mut strict = cfg_with_store();
    strict.redact.strict = true;
    let (_, out, _) = run(POSTGRES, &strict);
    assert_eq!(out.report.findings[0].severity, Severity::Error);
}

const STRONG: &str = "Zk3!qp9-Lm2@xR7w";

fn with_place(place: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-secret, namespace: opendesk}}\nstringData:\n  \
         api-token: \"{STRONG}\"\n---\n{place}"
    )
}

fn cm(data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: opendesk}}\ndata:\n  conf: {data}\n"
    )
}

#[test]
fn every_form_is_refused_naming_secret_key_and_form() {
    let cfg = cfg_with_store();
    let json = serde_json::to_string(&format!("{{\"token\": \"{STRONG}\"}}")).unwrap();
    let cases: Vec<(String, Form)> = vec![
        (cm(&format!("\"token={STRONG}\"")), Form::Plain),
        (cm(&format!("\"x{STRONG}y\"")), Form::Plain),
        (cm(&encode_base64(format!("user: me\ntoken: {STRONG}\n").as_bytes())), Form::Base64),
        (cm(&encode_base64(format!("t={STRONG}").as_bytes()).replace('+', "-").replace('/', "_")), Form::Base64Url),
        (cm("\"https://h/?t=Zk3%21qp9-Lm2%40xR7w\""), Form::UrlEncoded),
        (cm(&json), Form::Plain),
        (cm(&serde_json::to_string(&format!("{{\"token\": \"{STRONG}\\\"\"}}")).unwrap()), Form::Plain),
    ];
    for (place, form) in cases {
        let (ds, out, before) = run(&with_place(&place), &cfg);
        assert_eq!(emit_stream(&ds), before, "refused: nothing changed ({place})");
        assert_eq!(out.report.occurrences.len(), 1, "{place}: {:?}", out.report.occurrences);
        let o = &out.report.occurrences[0];
        let same = o.form == form || (form == Form::Base64Url && o.form == Form::Base64);
        assert!(o.action == Action::Refused && same, "{place}: {:?}", o);
        assert_eq!(o.path, "$.data.conf");
        assert_eq!(o.secret, "Secret/opendesk/app-secret key `api-token`");
        let f = &out.report.findings[0];
        assert_eq!((f.code.as_str(), f.severity), ("redact/inline-secret", Severity::Error));
        assert_eq!(f.resource.as_deref(), Some("ConfigMap/opendesk/app-config"));
        assert!(f.message.contains("Secret/opendesk/app-secret key `api-token`"), "{}", f.message);
        assert!(f.message.contains("redact.public") && f.message.contains("secretKeyRef"), "{}", f.message);
        no_value_in(&out, &[STRONG, "Zk3%21"]);
    }
}

#[test]
fn a_json_escaped_value_is_refused_as_escaped() {
    let cfg = cfg_with_store();
    let v = "Qm8\"rT2\\vLx9Pw";
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: opendesk}}\nstringData:\n  password: '{v}'\n---\n{}",
        cm(&format!("'{{\"password\": \"{}\"}}'", v.replace('\\', "\\\\").replace('"', "\\\"")))
    );
    let (_, out, _) = run(&text, &cfg);
    assert_eq!(
        out.report.occurrences.iter().map(|o| (o.action, o.form)).collect::<Vec<_>>(),
        [(Action::Refused, Form::Escaped)]
    );
}

#[test]
fn a_pem_key_reindented_in_a_config_file_is_refused() {
    let cfg = cfg_with_store();
    let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\n-----END PRIVATE KEY-----\n";
    let indented: String = key.lines().map(|l| format!("      {l}\n")).collect();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: tls, namespace: opendesk}}\ndata:\n  tls.key: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: opendesk}}\ndata:\n  conf: |\n    tls:\n      key: |\n{indented}",
        encode_base64(key.as_bytes())
    );
    let (_, out, _) = run(&text, &cfg);
    assert_eq!(out.report.secrets[0].reason, Reason::PrivateKey);
    let got: Vec<(Action, Form, &str)> =
        out.report.occurrences.iter().map(|o| (o.action, o.form, o.path.as_str())).collect();
    assert_eq!(got, [(Action::Refused, Form::PemLine, "$.data.conf")]);
}

#[test]
fn env_values_become_secret_key_refs_and_everything_else_is_refused() {
    let cfg = cfg_with_store();
    let text = with_place(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: opendesk}}\nspec:\n  template:\n    spec:\n      \
         initContainers:\n        - name: init\n          image: busybox:1\n          env: [{{name: TOKEN, value: \"{STRONG}\"}}]\n      \
         containers:\n        - name: web\n          image: web:1\n          args: [\"--token={STRONG}\"]\n          env:\n            \
         - {{name: API_TOKEN, value: \"{STRONG}\"}}\n            - {{name: OTHER, value: plain}}\n---\napiVersion: apps/v1\nkind: Deployment\n\
         metadata: {{name: elsewhere, namespace: other}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          \
         image: c:1\n          env: [{{name: T, value: \"{STRONG}\"}}]\n"
    ));
    let (ds, out, _) = run(&text, &cfg);
    let web = ds[1].emit();
    assert_eq!(web.matches("secretKeyRef:\n").count(), 2, "{web}");
    assert!(web.contains("name: app-secret") && web.contains("key: api-token"), "{web}");
    assert!(web.contains(&format!("--token={STRONG}")), "refused, not masked: {web}");
    let got: Vec<(&str, Action, &str)> =
        out.report.occurrences.iter().map(|o| (o.resource.as_str(), o.action, o.path.as_str())).collect();
    assert_eq!(
        got,
        [
            ("Deployment/opendesk/web", Action::Refused, "$.spec.template.spec.containers[0].args[0]"),
            ("Deployment/opendesk/web", Action::SecretRef, "$.spec.template.spec.initContainers[0].env[0].value"),
            ("Deployment/opendesk/web", Action::SecretRef, "$.spec.template.spec.containers[0].env[0].value"),
            // Another namespace: no Secret there to reference.
            ("Deployment/other/elsewhere", Action::Refused, "$.spec.template.spec.containers[0].env[0].value"),
        ]
    );
    let records: Vec<(&str, &str)> = ds[1].changes.iter().map(|c| (c.action.as_str(), c.path.as_str())).collect();
    assert_eq!(
        records,
        [
            ("secret-ref", "$.spec.template.spec.initContainers[0].env[0]"),
            ("secret-ref", "$.spec.template.spec.containers[0].env[0]")
        ]
    );
    assert!(ds[1].changes[0].detail.as_deref().unwrap().contains("Secret/opendesk/app-secret key `api-token`"));
    no_value_in(&out, &[STRONG]);
}

#[test]
fn mask_mode_masks_scalars_only_and_never_keys_or_generated_external_secrets() {
    let mut cfg = cfg_with_store();
    cfg.redact.mode = RedactMode::Mask;
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secret\n  namespace: opendesk\n  labels: {{copy: \"{STRONG}\"}}\n\
         stringData:\n  api-token: \"{STRONG}\"\n---\n{}  \"{STRONG}\": as-key\n",
        cm(&format!("\"token={STRONG}\""))
    );
    let (ds, out, _) = run(&text, &cfg);
    let got: Vec<(&str, Action, &str)> =
        out.report.occurrences.iter().map(|o| (o.resource.as_str(), o.action, o.path.as_str())).collect();
    assert_eq!(
        got,
        [
            ("ExternalSecret/opendesk/app-secret", Action::Refused, "$.metadata.labels.copy"),
            ("ExternalSecret/opendesk/app-secret", Action::Refused, "$.spec.target.template.metadata.labels.copy"),
            ("ConfigMap/opendesk/app-config", Action::Masked, "$.data.conf"),
            ("ConfigMap/opendesk/app-config", Action::Refused, "$.data['<redacted>'] (key)"),
        ]
    );
    assert_eq!(out.report.masked_documents, ["ConfigMap/opendesk/app-config"]);
    let cm = ds[1].emit();
    assert!(cm.contains("conf: token=<redacted>"), "{cm}");
    assert!(cm.contains(&format!("{STRONG}\": as-key")), "keys are never masked: {cm}");
    assert!(ds[0].emit().contains(STRONG), "generated ExternalSecrets are never masked");
    assert_eq!(out.report.count(Action::Masked), 1);
}

#[test]
fn overrides_classify_by_name_and_unknown_ones_are_reported() {
    let mut cfg = cfg_with_store();
    cfg.redact.public = vec![
        SecretKeyRef { secret: "opendesk/app-*".into(), key: "api-*".into(), line: 7 },
        SecretKeyRef { secret: "nope".into(), key: "*".into(), line: 9 },
    ];
    cfg.redact.secret = vec![SecretKeyRef { secret: "weak".into(), key: "code".into(), line: 11 }];
    let text = format!(
        "{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: weak, namespace: opendesk}}\nstringData: {{code: banana, other: apple}}\n---\n{}",
        with_place("").trim_end_matches("---\n"),
        cm("\"token=Zk3!qp9-Lm2@xR7w banana bananas\"")
    );
    let (ds, out, before) = run(&text, &cfg);
    let classes: Vec<(&str, Class, Reason)> =
        out.report.secrets.iter().map(|c| (c.key.as_str(), c.class, c.reason)).collect();
    assert_eq!(
        classes,
        [
            ("api-token", Class::Configuration, Reason::ConfigPublic),
            ("code", Class::Secret, Reason::ConfigSecret),
            ("other", Class::Configuration, Reason::Words)
        ]
    );
    // `banana` (forced, not strong) is found on token boundaries only: not in `bananas`.
    let got: Vec<(Action, Form)> = out.report.occurrences.iter().map(|o| (o.action, o.form)).collect();
    assert_eq!(got, [(Action::Refused, Form::Plain)]);
    assert_eq!(emit_stream(&ds), before);
    let unknown: Vec<&str> = out
        .report
        .findings
        .iter()
        .filter(|f| f.code == "redact/unknown-override")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].starts_with("redact.public {secret: nope, key: *} (line 9) matches no key"), "{}", unknown[0]);
}

#[test]
fn comments_and_change_records_are_masked() {
    let cfg = cfg_with_store();
    let text = with_place(&format!("# Source: {STRONG}.yaml\n{}", cm("plain")));
    let mut ds = docs("app", "app/templates/all.yaml", &text);
    ds[1].record("patch:p", "set", "$.data.conf".into(), Some(format!("to {STRONG}")));
    let e = eso(&mut ds, &cfg).unwrap();
    let out = redact(&mut ds, &cfg, &e.payload);
    assert_eq!(codes(&out), [("redact/comment-masked".to_string(), None)]);
    assert!(!ds[1].head_comments.iter().any(|c| c.contains(STRONG)));
    assert!(ds[1].changes.iter().all(|c| !c.detail.as_deref().unwrap_or("").contains(STRONG)));
}

#[test]
fn matcher_basics() {
    let k = KnownSecrets::from_values(["cassandra-secret", "pw!", "Zk3!qp9-Lm2@xR7w"]);
    assert_eq!(k.len(), 2);
    // Not strong: token boundaries.
    assert!(k.contains("-p cassandra-secret;"));
    assert!(!k.contains("name: cassandra-secrets"));
    // Strong: no boundary needed, and every form.
    assert!(k.contains("xZk3!qp9-Lm2@xR7wy"));
    assert!(k.contains(&encode_base64(b"--Zk3!qp9-Lm2@xR7w--")));
    assert_eq!(k.mask("u:cassandra-secret@h cassandra-secret"), "u:<redacted>@h <redacted>");
    assert!(format!("{k:?}").starts_with("KnownSecrets(<2 values"));
}

/// A value with every HTML special character.
const HTMLV: &str = "Qm8&rT2<vLx9\"Pw'z>";

/// A strong value longer than 256 bytes (a generated key file kept in a Secret).
fn long_value() -> String {
    let alphabet = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789+/!#%";
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..300)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

fn hex_of(v: &str, upper: bool) -> String {
    v.bytes().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect()
}

/// `bytes` base64-encoded and wrapped at `width`, each line indented for a block scalar.
fn wrapped(bytes: &[u8], width: usize) -> String {
    let b = encode_base64(bytes);
    let lines: Vec<&str> = b.as_bytes().chunks(width).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("|\n{}", lines.iter().map(|l| format!("    {l}\n")).collect::<String>())
}

fn three_secrets(place: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-secret, namespace: opendesk}}\nstringData:\n  \
         api-token: \"{STRONG}\"\n  html-password: '{}'\n  signing-key: \"{}\"\n---\n{place}",
        HTMLV.replace('\'', "''"),
        long_value()
    )
}

/// Hex, HTML character references, base64 wrapped at 64 and 76 columns, and the encoded forms
/// of a value longer than 256 bytes: each is refused naming its form and the Secret/key, and
/// the same shape holding a value that differs in one character is not.
#[test]
fn hex_html_wrapped_base64_and_long_value_forms_are_refused_and_neighbours_pass() {
    let cfg = cfg_with_store();
    let long = long_value();
    assert!(long.contains('/'));
    let one_off = |v: &str| format!("{}Q{}", &v[..5], &v[6..]);
    // Blob prefixes put the value's base64 across the line break at column 64 / 76.
    let blob = |pre: usize, v: &str| format!("{}{v}{}", "p".repeat(pre), "s".repeat(30));
    let cases: Vec<(String, String, Form, &str)> = vec![
        (cm(&hex_of(STRONG, false)), cm(&hex_of(&one_off(STRONG), false)), Form::Hex, "api-token"),
        (cm(&hex_of(STRONG, true)), cm(&hex_of(&one_off(STRONG), true)), Form::Hex, "api-token"),
        (
            cm("'<p>Qm8&amp;rT2&lt;vLx9&quot;Pw&#x27;z&gt;</p>'"),
            cm("'<p>Qm8&amp;rT3&lt;vLx9&quot;Pw&#x27;z&gt;</p>'"),
            Form::HtmlEscaped,
            "html-password",
        ),
        (
            cm("'value=\"Qm8&amp;rT2&lt;vLx9&#34;Pw&#39;z&gt;\"'"),
            cm("'value=\"Qm8&amp;rT2&lt;vLx9&#34;Pw&#39;y&gt;\"'"),
            Form::HtmlEscaped,
            "html-password",
        ),
        (
            cm("'Qm8&#x26;rT2&#x3C;vLx9&#x22;Pw&#x27;z&#x3E;'"),
            cm("'Qm8&#x26;rT2&#x3C;vLx9&#x22;Pw&#x27;q&#x3E;'"),
            Form::HtmlEscaped,
            "html-password",
        ),
        (
            cm(&wrapped(blob(40, STRONG).as_bytes(), 64)),
            cm(&wrapped(blob(40, &one_off(STRONG)).as_bytes(), 64)),
            Form::Base64Wrapped,
            "api-token",
        ),
        (
            cm(&wrapped(blob(50, STRONG).as_bytes(), 76)),
            cm(&wrapped(blob(50, &one_off(STRONG)).as_bytes(), 76)),
            Form::Base64Wrapped,
            "api-token",
        ),
        (
            cm(&encode_base64(format!("key={long}\n").as_bytes())),
            cm(&encode_base64(format!("key={}\n", one_off(&long)).as_bytes())),
            Form::Base64,
            "signing-key",
        ),
        (
            // JSON with `/` escaped (PHP's json_encode, some Java writers).
            cm(&format!("'{{\"k\": \"{}\"}}'", long.replace('/', "\\/"))),
            cm(&format!("'{{\"k\": \"{}\"}}'", one_off(&long).replace('/', "\\/"))),
            Form::Escaped,
            "signing-key",
        ),
        (cm(&hex_of(&long, false)), cm(&hex_of(&one_off(&long), false)), Form::Hex, "signing-key"),
    ];
    for (place, neighbour, form, key) in cases {
        let (ds, out, before) = run(&three_secrets(&place), &cfg);
        assert_eq!(emit_stream(&ds), before, "refused: nothing changed ({place})");
        let got: Vec<(Action, Form, &str, &str)> =
            out.report.occurrences.iter().map(|o| (o.action, o.form, o.path.as_str(), o.secret.as_str())).collect();
        let whose = format!("Secret/opendesk/app-secret key `{key}`");
        assert_eq!(got, [(Action::Refused, form, "$.data.conf", whose.as_str())], "{place}");
        assert!(out
            .report
            .findings
            .iter()
            .any(|f| f.code == "redact/inline-secret" && f.message.contains(&format!("({} form)", form.as_str()))));
        no_value_in(&out, &[STRONG, HTMLV, &long, &hex_of(STRONG, false)]);
        let (_, out, _) = run(&three_secrets(&neighbour), &cfg);
        assert!(out.report.occurrences.is_empty(), "{neighbour}: {:?}", out.report.occurrences);
    }
    // The three keys are secrets, the long one too.
    let (_, out, _) = run(&three_secrets(&cm("x")), &cfg);
    let classes: Vec<(&str, Class)> = out.report.secrets.iter().map(|c| (c.key.as_str(), c.class)).collect();
    assert_eq!(
        classes,
        [("api-token", Class::Secret), ("html-password", Class::Secret), ("signing-key", Class::Secret)]
    );
}

/// The sampled matcher finds every occurrence of every pattern, overlapping ones too, at
/// every offset, as a naive search does (values of every length class: the stride depends on
/// the shortest pattern).
#[test]
fn the_sampled_matcher_finds_what_a_naive_search_finds() {
    for values in [vec!["Zk3!qp9-Lm2@xR7w"], vec!["Zk3!qp9-Lm2@xR7w", "abcd"], vec!["hunter2-x"]] {
        let k = KnownSecrets::from_values(values.iter().copied());
        let mut texts = Vec::new();
        for v in &values {
            for pre in 0..9 {
                for post in 0..3 {
                    texts.push(format!("{}{v}{}", " ".repeat(pre), ".".repeat(post)));
                    texts.push(format!("{}{v}{v}", "-".repeat(pre)));
                }
            }
        }
        for t in &texts {
            let naive: Vec<(usize, usize)> = k
                .patterns
                .iter()
                .flat_map(|p| t.match_indices(&*p.text).map(|(s, m)| (s, s + m.len())).collect::<Vec<_>>())
                .filter(|&(s, e)| {
                    let p = k.patterns.iter().position(|p| p.text.len() == e - s && t[s..e] == *p.text).unwrap();
                    k.bounded_ok(t, p, s, e)
                })
                .collect();
            let mut naive = naive;
            naive.sort_unstable();
            naive.dedup();
            let mut got: Vec<(usize, usize)> = k.hits(t).iter().map(|h| (h.start, h.end)).collect();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, naive, "{t:?} with {values:?}");
            assert_eq!(k.contains(t), !naive.is_empty(), "{t:?}");
        }
    }
}

/// Through the pipeline: an inlined value is one finding (`redact/inline-secret`), not a
/// second one from the plaintext-secrets guard, and the guard passes; its own failures are in
/// `guards::tests::plaintext_guard`.
#[test]
fn a_refusal_is_one_finding_not_two() {
    use crate::load::LoadedInput;
    use crate::pipeline::{render, RenderError, RenderRequest};
    let cfg = cfg_with_store();
    let text = with_place(&cm(&format!("\"token={STRONG}\"")));
    let input = LoadedInput {
        files: Vec::new(),
        documents: docs("app", "app/templates/all.yaml", &text),
        bytes: 0,
        digest: String::new(),
    };
    let req = RenderRequest { config: Some(&cfg), ..Default::default() };
    let Err(RenderError::Failed(report, _)) = render(input, &req) else { panic!("the render fails") };
    let errors: Vec<(&str, Option<&str>)> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code.as_str(), f.path.as_deref()))
        .collect();
    assert_eq!(errors, [("redact/inline-secret", Some("$.data.conf"))]);
    let guard = report.guards.iter().find(|g| g.name == "plaintext-secrets").expect("guard ran");
    assert!(guard.passed, "{guard:?}");
    assert!(!serde_json::to_string(&*report).unwrap().contains(STRONG));
}
