//! The checks registry: every finding code and every guard, with its stage, default
//! severity and documentation, in one table (as ruff's rule registry does).
//!
//! A stage emits a finding through [`Finding::of`](crate::Finding::of) with a [`Check`], so a
//! code cannot be misspelt, and `opendesk-render rules` lists the table. To add a check:
//! add one entry to the `checks!` list below (doc comment: what it finds, why it matters, an
//! example; then `Variant = "stage/code", "stage", Severity, Tunable|Fixed;`) and emit it.
//! The docs test (`docs/json-report.md` lists every code) and the pipeline's check that
//! every emitted code is registered do the rest.
//!
//! `Fixed` checks keep the rule that matters most: exit 0 means the output is safe for git and
//! will deploy. They are the guards and the lint errors for what the API server or server-side
//! apply rejects; a config cannot lower them. `Tunable` checks (risky shapes, information)
//! can be raised, lowered or switched off.

use crate::report::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether the instance config may change a check's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tuning {
    /// Any severity, or off.
    Tunable,
    /// Fixed: what it reports would not deploy or is not safe for git.
    Fixed,
}

macro_rules! checks {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $code:literal, $stage:literal, $sev:ident, $tuning:ident; )+) => {
        /// A registered check: a finding code or a guard. See the module docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Check {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Check {
            /// Every check, in registry order (by stage, then code).
            pub const ALL: &'static [Check] = &[$(Check::$variant),+];

            /// The stable code (`lint/unknown-field`, `guard/scim`).
            pub fn code(self) -> &'static str {
                match self { $(Check::$variant => $code),+ }
            }

            /// The stage that emits it.
            pub fn stage(self) -> &'static str {
                match self { $(Check::$variant => $stage),+ }
            }

            /// The severity it is emitted with unless the config says otherwise.
            pub fn default_severity(self) -> Severity {
                match self { $(Check::$variant => Severity::$sev),+ }
            }

            /// Whether the config may change its severity.
            pub fn tuning(self) -> Tuning {
                match self { $(Check::$variant => Tuning::$tuning),+ }
            }

            /// Its documentation: what it finds, why it matters, an example (Markdown).
            pub fn doc(self) -> &'static str {
                match self { $(Check::$variant => concat!($($doc, "\n"),+)),+ }
            }
        }
    };
}

checks! {
    // --- jit ---
    /// The JIT provisioning plugin was injected into a Keycloak workload (`externalIdp.userSync`).
    ///
    /// Informational: the render changed the Keycloak workload (an initContainer, a volume and
    /// mounts); `explain` shows the change.
    JitInjected = "jit/injected", "jit", Info, Tunable;

    // --- dedup ---
    /// A resource rendered more than once with identical content; the first copy is kept.
    ///
    /// Two releases (or two templates) rendering the same `kind/namespace/name` would make two
    /// Argo CD Applications fight over it. Identical copies are harmless once one is dropped;
    /// different copies stop the render (exit 2).
    DedupIdenticalResource = "dedup/identical-resource", "dedup", Info, Tunable;
    /// An env var defined twice in one container; the last definition is kept, at its place.
    ///
    /// Kubernetes keeps the last one too, but server-side apply rejects duplicate list-map keys.
    /// Example: `env: [{name: A, value: "1"}, {name: A, value: "2"}]` → `A=2`.
    DedupDuplicateEnv = "dedup/duplicate-env", "dedup", Warning, Tunable;

    // --- patches ---
    /// An in-range patch (not `required`) that selected no document in this render.
    ///
    /// The fix no longer finds what it fixes: the chart changed shape, the release is gone, or
    /// upstream fixed the bug. Seen on the first render after an upgrade; `patches matrix`
    /// shows it per version. Update the patch's `select`, narrow its `appliesTo`, or remove it
    /// (a `required` patch fails the render instead: `guard/required-patch`).
    PatchesDead = "patches/dead", "patches", Warning, Tunable;

    // --- lint ---
    /// A resource without `apiVersion`, `kind` or `metadata.name`.
    ///
    /// The API server rejects it; `generateName` does not work with server-side apply.
    LintMissingField = "lint/missing-field", "lint", Error, Fixed;
    /// A name Kubernetes rejects.
    ///
    /// `metadata.name` not a DNS-1123 subdomain (a label for `Service` and `Namespace`; a path
    /// segment for RBAC kinds), a namespace, container or volume name not a DNS-1123 label, a
    /// container port name not an IANA service name, a `kind` or `apiVersion` that is not a
    /// Kubernetes identifier (`kind: Config/Map`, `apiVersion: apps/v1/x`). Example: `name: My_App`.
    LintInvalidName = "lint/invalid-name", "lint", Error, Fixed;
    /// A field server-side apply rejects as unknown.
    ///
    /// Lowercase `subpath` in a volumeMount, `port` in a container port, `enabled` in a probe:
    /// client-side apply dropped them silently, SSA fails the sync ("unknown field").
    LintUnknownField = "lint/unknown-field", "lint", Error, Fixed;
    /// `protocol:` present but empty in a container or Service port.
    ///
    /// `protocol` is part of the list-map key of ports: an empty one fails server-side apply.
    /// Example: `ports: [{containerPort: 80, protocol: ""}]`.
    LintEmptyProtocol = "lint/empty-protocol", "lint", Error, Fixed;
    /// A probe with none of `exec`, `httpGet`, `tcpSocket`, `grpc`.
    ///
    /// The API server rejects it ("must specify a handler type").
    LintProbeWithoutHandler = "lint/probe-without-handler", "lint", Error, Fixed;
    /// A container without `image`.
    ///
    /// The API server rejects the workload.
    LintMissingImage = "lint/missing-image", "lint", Error, Fixed;
    /// A value Kubernetes must read as a string but YAML 1.1 reads as something else.
    ///
    /// Plain `yes`, `0644`, `true`, `1.0` in ConfigMap `data`, Secret `stringData`, labels,
    /// annotations or env `value`: the API server rejects the non-string. Quote it.
    LintNonStringValue = "lint/non-string-value", "lint", Error, Fixed;
    /// An unresolved patch variable `${values.…}` left in a manifest.
    ///
    /// The variable is not set in the instance config, so the manifest carries the literal
    /// text. (`${namespace}` and the like are not checked: dashboards and scripts use them.)
    LintPlaceholder = "lint/placeholder", "lint", Error, Fixed;
    /// A mapping key Kubernetes reads as another string than its text, or cannot read.
    ///
    /// sigs.k8s.io/yaml converts non-string keys: plain `on` becomes `"true"`, `0644`
    /// becomes `"420"`; `~`, `null` and empty keys are rejected (error). A key that converts to
    /// its own text (`80`, `true`, `1.5`) is a warning: quote it.
    LintNonStringKey = "lint/non-string-key", "lint", Error, Fixed;
    /// An object holding more text than etcd accepts.
    ///
    /// More than `MAX_OBJECT_TEXT` bytes of scalar text: etcd's default request limit is
    /// 1.5 MiB, the API server's 3 MiB, so the apply fails.
    LintTooLarge = "lint/too-large", "lint", Error, Fixed;
    /// An image with neither tag nor digest.
    ///
    /// It runs whatever `latest` is when the node pulls it: not reproducible.
    /// Example: `image: nginx`.
    LintImageUntagged = "lint/image-untagged", "lint", Warning, Tunable;
    /// An image tagged `:latest`.
    ///
    /// Not reproducible, and `imagePullPolicy` defaults to `Always`. Pin a version or a digest.
    LintImageLatest = "lint/image-latest", "lint", Warning, Tunable;

    // --- eso ---
    /// A service-account-token or Helm release Secret left out of the output.
    ///
    /// The cluster (token controller) or Helm owns those; writing them to git would leak a
    /// token or fight the owner.
    EsoDroppedSecret = "eso/dropped-secret", "eso", Info, Tunable;

    // --- redact (issue 15, seccore) ---
    /// A secret value of a Secret found outside it, not as a whole env value: the render fails.
    ///
    /// It would be in git (base64, URL-encoded, JSON-escaped or plain) and masking it would
    /// break the manifest. The message names the resource, the path, the Secret and key whose
    /// value it is, and the form, never the value. Reference the Secret instead
    /// (`valueFrom.secretKeyRef`, `envFrom`, a secret volume, the chart's `existingSecret`), fix
    /// it with an override, or, if the value is not a secret, list it in `redact.public`.
    RedactInlineSecret = "redact/inline-secret", "redact", Error, Fixed;
    /// A whole container env `value:` equal to a Secret's value became `valueFrom.secretKeyRef`.
    ///
    /// The app keeps working and git holds no value; `explain` shows the change. Example:
    /// `{name: DB_PASSWORD, value: <the value>}` → `valueFrom: {secretKeyRef: {name: db, key: password}}`.
    RedactSecretRef = "redact/secret-ref", "redact", Info, Tunable;
    /// `redact.mode: mask`: a secret value in a scalar was replaced by `<redacted>`.
    ///
    /// An explicit choice: the manifest no longer holds the value and may not work as before.
    /// The masked documents are listed in the summary.
    RedactMasked = "redact/masked", "redact", Warning, Tunable;
    /// A secret value in a comment or an `explain` record was masked.
    ///
    /// Comments and change records do not deploy; masking them changes nothing that runs.
    RedactCommentMasked = "redact/comment-masked", "redact", Info, Tunable;
    /// A `redact.public` / `redact.secret` entry matched no key of any converted Secret.
    ///
    /// Usually a typo or a Secret the chart no longer renders; the entry does nothing.
    RedactUnknownOverride = "redact/unknown-override", "redact", Warning, Tunable;

    // --- guards ---
    /// Every required patch matched a document.
    ///
    /// A required patch that matches nothing means the chart changed shape or the release is
    /// missing, and a fix the deployment needs is silently gone.
    GuardRequiredPatch = "guard/required-patch", "guards", Error, Fixed;
    /// With `externalIdp.userSync`, every Keycloak workload carries the JIT plugin.
    ///
    /// Without it, users of the external IdP are not provisioned at first login.
    GuardJitKeycloak = "guard/jit-keycloak", "guards", Error, Fixed;
    /// Synapse-adjacent releases render workloads but no Synapse homeserver is rendered.
    ///
    /// The web client, admin, bots and groupsync would crash-loop without a homeserver.
    GuardOrphanSynapseSidecars = "guard/orphan-synapse-sidecars", "guards", Error, Fixed;
    /// An `__UPPER_CASE__` placeholder is left, or a namespaced resource lands in Argo CD's
    /// namespace.
    ///
    /// Placeholders are values the deployment never filled in; a resource in the Argo CD
    /// namespace would be managed by the wrong Application.
    GuardNamespaceMarkers = "guard/namespace-markers", "guards", Error, Fixed;
    /// `scim.enabled` and no SCIM server workload, or none that references a token Secret.
    ///
    /// Provisioning would silently do nothing.
    GuardScim = "guard/scim", "guards", Error, Fixed;
    /// A `Secret` still carries data, or a known secret value is left in a non-Secret document.
    ///
    /// The output goes to git: no secret value may be in it.
    GuardPlaintextSecrets = "guard/plaintext-secrets", "guards", Error, Fixed;
    /// A namespace that resources use and nothing creates.
    ///
    /// Argo CD creates only an Application's destination namespace (`CreateNamespace=true`);
    /// a resource in any other namespace fails its sync unless a `Namespace` object in the tree
    /// or something outside it creates that namespace. List the latter in
    /// `argocd.externalNamespaces` (`kube-system`, `kube-public`, `default` and the Argo CD
    /// namespace are implied). Example: a release's ServiceMonitor in `monitoring` while no
    /// release deploys to `monitoring`.
    GuardNamespaces = "guard/namespaces", "guards", Error, Fixed;

    /// A module render's ExternalSecrets differ from, or are missing against, the base full render.
    ///
    /// `render --module` with `--base`: after the sync the pods would read other secrets than
    /// the full render points at. Its details are the `module/*` findings.
    GuardSecretSkew = "guard/secret-skew", "guards", Error, Fixed;
    /// A module's ExternalSecret differs from the base full render's (store, key, properties).
    ///
    /// The module and the full render would point the same Secret at different remote keys.
    ModuleSecretSkew = "module/secret-skew", "guards", Error, Fixed;
    /// An ExternalSecret of the base full render that the module render no longer has.
    ///
    /// Pods that mount its Secret would lose it after the sync; a warning with
    /// `--allow-secret-removal`.
    ModuleSecretRemoved = "module/secret-removed", "guards", Error, Fixed;
    /// An ExternalSecret the module renders that the base full render does not have.
    ///
    /// Not fatal: a new Secret for a new component.
    ModuleSecretNew = "module/secret-new", "guards", Warning, Tunable;
    /// The base full render masked (or referenced) a secret value where the module leaves plain text.
    ///
    /// The value belongs to a Secret of a release outside the module, which a module render
    /// does not read: written as is, it would reach git in plain text.
    ModuleSecretValueUnknown = "module/secret-value-unknown", "guards", Error, Fixed;
    /// `--no-base`: the module render was not checked against a full render.
    ///
    /// The secret-skew guard was skipped.
    ModuleNoBase = "module/no-base", "guards", Warning, Tunable;

    // --- secrets ---
    /// A value too weak to be searched for sits under a key that names a credential.
    ///
    /// Short, low-entropy, dictionary words or a name of the render (`postgres-password:
    /// postgres`): it is not searched for (it would match everywhere), so it could be inlined
    /// anywhere unnoticed, and it is guessable. Use a strong generated value, list the key in
    /// `redact.secret` to search for it anyway, or in `redact.public` if it is not a secret.
    /// Names the Secret, the key and why, never the value. An error with `redact.strict`.
    SecretsWeakValue = "secrets/weak-value", "secrets", Warning, Tunable;
    /// Values of a Secret's existing keys changed since `--previous-secrets` (names only).
    ///
    /// Usually a chart that generates random values on every render (`randAlphaNum`, `genCA`,
    /// `genSelfSignedCert`): every deploy would rotate them in the secrets manager and restart
    /// the pods that use them. Pin them in the values or use an `existingSecret`. An error with
    /// `--strict-secrets`. Emitted after the pipeline, only to the report (not render-meta).
    SecretsValueChanged = "secrets/value-changed", "secrets", Warning, Tunable;

    // --- validate ---
    /// An annotation key that is not a qualified name.
    ///
    /// Example: `Bad_Prefix/x: y`.
    ValidateAnnotationKey = "validate/annotation-key", "validate", Error, Fixed;
    /// Annotations over 256 KiB in total.
    ///
    /// The API server rejects the object.
    ValidateAnnotationSize = "validate/annotation-size", "validate", Error, Fixed;
    /// A CRD whose schema could not be compiled; its custom resources are not checked.
    ///
    /// Example: a CRD without `spec.group`.
    ValidateCrdInvalid = "validate/crd-invalid", "validate", Warning, Tunable;
    /// Two containers (init, regular, ephemeral) of a pod with one name.
    ///
    /// The API server rejects the pod template.
    ValidateDuplicateContainer = "validate/duplicate-container", "validate", Error, Fixed;
    /// A duplicate in an `x-kubernetes-list-type` set or map list.
    ///
    /// Server-side apply rejects it. Example: two Service ports with one port and protocol.
    ValidateDuplicateItem = "validate/duplicate-item", "validate", Error, Fixed;
    /// One mountPath twice in a container.
    ///
    /// Example: `/data` and `/data/`.
    ValidateDuplicateMountPath = "validate/duplicate-mount-path", "validate", Error, Fixed;
    /// Two volumes of a pod with one name.
    ///
    /// The API server rejects the pod template.
    ValidateDuplicateVolume = "validate/duplicate-volume", "validate", Error, Fixed;
    /// A value outside the schema's `enum`.
    ///
    /// Example: an ExternalSecret `refreshPolicy: Sometimes`.
    ValidateEnum = "validate/enum", "validate", Error, Fixed;
    /// An imagePullPolicy other than Always, IfNotPresent, Never.
    ///
    /// Example: `imagePullPolicy: always`.
    ValidateImagePullPolicy = "validate/image-pull-policy", "validate", Error, Fixed;
    /// A label key that is not a qualified name (`prefix/name`).
    ///
    /// Example: `-bad: x`.
    ValidateLabelKey = "validate/label-key", "validate", Error, Fixed;
    /// A label value that is not empty or 1-63 of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
    ///
    /// Example: `a: two words`.
    ValidateLabelValue = "validate/label-value", "validate", Error, Fixed;
    /// A name that is not DNS-1123 as its kind requires, or a bad namespace.
    ///
    /// Example: a Service named `my.svc`.
    ValidateName = "validate/name", "validate", Error, Fixed;
    /// A custom resource whose CRD is neither in the render nor in `validate.crds`.
    ///
    /// The resource is not checked; `validate.noSchema` sets the severity.
    ValidateNoSchema = "validate/no-schema", "validate", Warning, Tunable;
    /// An Ingress pathType other than Exact, Prefix, ImplementationSpecific.
    ///
    /// Example: `pathType: prefix`.
    ValidatePathType = "validate/path-type", "validate", Error, Fixed;
    /// A PodDisruptionBudget with both `minAvailable` and `maxUnavailable`.
    ///
    /// The API server allows one of them.
    ValidatePdbBothBounds = "validate/pdb-both-bounds", "validate", Error, Fixed;
    /// A port outside 1-65535, or a named port that is not an IANA service name.
    ///
    /// Example: `containerPort: 70000`.
    ValidatePortRange = "validate/port-range", "validate", Error, Fixed;
    /// A probe with zero or several handlers (exec, httpGet, tcpSocket, grpc).
    ///
    /// The API server requires exactly one.
    ValidateProbeHandlers = "validate/probe-handlers", "validate", Error, Fixed;
    /// A protocol other than TCP, UDP or SCTP.
    ///
    /// Example: a NetworkPolicy port with `protocol: HTTP`.
    ValidateProtocol = "validate/protocol", "validate", Error, Fixed;
    /// A string that is not a Kubernetes quantity.
    ///
    /// Example: `memory: 512 MB` (write `512Mi` or `512M`).
    ValidateQuantity = "validate/quantity", "validate", Error, Fixed;
    /// A required field is missing or null.
    ///
    /// Example: an Ingress path without `pathType`, a CronJob without `schedule`.
    ValidateRequired = "validate/required", "validate", Error, Fixed;
    /// A restartPolicy the workload kind does not allow.
    ///
    /// Example: a Job with `restartPolicy: Always`.
    ValidateRestartPolicy = "validate/restart-policy", "validate", Error, Fixed;
    /// A Service type other than ClusterIP, NodePort, LoadBalancer, ExternalName.
    ///
    /// Example: `type: Loadbalancer`.
    ValidateServiceType = "validate/service-type", "validate", Error, Fixed;
    /// A file that does not parse (the `validate` command; a generated Application).
    ///
    /// Example: an unclosed flow sequence.
    ValidateSyntax = "validate/syntax", "validate", Error, Fixed;
    /// A wrong type, read with YAML 1.1 as Kubernetes reads it.
    ///
    /// Example: `replicas: "2"`, an env `value: 8080`, `namespace: n` (a boolean).
    ValidateType = "validate/type", "validate", Error, Fixed;
    /// A field the schema does not declare (strict field validation, `kubectl apply --validate=strict`).
    ///
    /// Example: `spec.replica`, `resources.limit`, a container `fsGroup`.
    ValidateUnknownField = "validate/unknown-field", "validate", Error, Fixed;
    /// A volumeMount naming no volume of the pod (StatefulSet claim templates count).
    ///
    /// The API server rejects it: `volumeMounts[0].name: Not found`.
    ValidateUnknownVolume = "validate/unknown-volume", "validate", Error, Fixed;
    /// An `apiVersion`/`kind` pair the target Kubernetes version (or the CRD) does not serve.
    ///
    /// Example: a PodDisruptionBudget in `extensions/v1beta1` (use `policy/v1`).
    ValidateUnservedApi = "validate/unserved-api", "validate", Error, Fixed;
    /// A value outside the schema's bounds, length, pattern, item count or int32 range.
    ///
    /// Example: a CRD `minimum: 1` field set to 0.
    ValidateValue = "validate/value", "validate", Error, Fixed;

    // --- output ---
    /// No release graph was given: every release is in wave 0.
    ///
    /// Argo CD then syncs everything at once; dependencies (databases before apps) are not
    /// ordered.
    OutputNoReleaseGraph = "output/no-release-graph", "output", Warning, Tunable;
    /// `argocd.repoURL` is empty.
    ///
    /// The generated Applications cannot sync until it is set.
    OutputNoRepoUrl = "output/no-repo-url", "output", Warning, Tunable;
    /// The release graph lists releases that were not rendered.
    ///
    /// Usually a disabled app; a typo in the graph shows up here too.
    OutputGraphReleaseNotRendered = "output/graph-release-not-rendered", "output", Info, Tunable;
    /// A release whose namespaced resources land in more than one namespace.
    ///
    /// Its Application deploys to (and creates) one namespace, the one most of its resources
    /// carry; the others must exist or be created by something else (`guard/namespaces`
    /// checks that). Example: cert-manager's leader-election Role in `kube-system`.
    OutputReleaseSpansNamespaces = "output/release-spans-namespaces", "output", Warning, Tunable;
}

impl Check {
    /// The check with this code.
    pub fn from_code(code: &str) -> Option<Check> {
        Check::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The guard name (`scim` for `guard/scim`), for guards.
    pub fn guard_name(self) -> Option<&'static str> {
        self.code().strip_prefix("guard/")
    }

    /// The first line of the doc: a one-line summary.
    pub fn summary(self) -> &'static str {
        self.doc().lines().next().unwrap_or("").trim()
    }
}

/// Check families that are not pipeline stages. `secrets/value-changed` is emitted after the
/// pipeline, into the report only (not render-meta, from `render --previous-secrets`);
/// `secrets/weak-value` is emitted by the redact stage (and so is in render-meta too).
pub const REPORT_ONLY_STAGES: &[&str] = &["secrets"];

/// The Markdown table of every check (`code | stage | severity | tunable | what`), as
/// docs/json-report.md carries it between `<!-- checks:begin -->` and `<!-- checks:end -->`
/// (a test keeps the two equal).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| code | stage | default severity | config can change it | what |\n|---|---|---|---|---|\n");
    for c in Check::ALL {
        let sev = match c.default_severity() {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        let tunable = match c.tuning() {
            Tuning::Tunable => "yes",
            Tuning::Fixed => "no",
        };
        out.push_str(&format!("| `{}` | {} | {sev} | {tunable} | {} |\n", c.code(), c.stage(), c.summary()));
    }
    out
}

/// What the instance config may set a check to (`lint.severity.<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Report as information.
    Info,
    /// Report as a warning (does not fail the render).
    Warning,
    /// Report as an error (fails the render, exit 1).
    Error,
    /// Do not report.
    Off,
}

/// `lint:` of the instance config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LintConfig {
    /// Per check code, its severity or `off`: `severity: {lint/image-latest: error}`.
    #[serde(default)]
    pub severity: SeverityOverrides,
}

/// Severity settings by check. An unknown code, an unknown level or a setting that would
/// lower a [`Tuning::Fixed`] check is kept as [`SeverityOverrides::invalid`] with its line and
/// column (the config's validation turns it into a positioned error).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeverityOverrides {
    map: BTreeMap<Check, Level>,
    /// The first bad entry: line, column, message.
    pub invalid: Option<(usize, usize, String)>,
}

impl SeverityOverrides {
    /// Set a check's level; refused for a fixed check set below `error`.
    pub fn set(&mut self, check: Check, level: Level) -> Result<(), String> {
        if check.tuning() == Tuning::Fixed && level != Level::Error {
            return Err(format!(
                "check {check} cannot be set to {}: it reports what would not deploy or is not safe for git, so it \
                 stays an error (`opendesk-render rules {check}` says why and what to do)",
                level_name(level)
            ));
        }
        self.map.insert(check, level);
        Ok(())
    }

    /// The configured level of a check, if any.
    pub fn get(&self, check: Check) -> Option<Level> {
        self.map.get(&check).copied()
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Apply the settings to findings: change their severity, drop the `off` ones.
    pub fn apply(&self, findings: &mut Vec<Finding>) {
        if self.map.is_empty() {
            return;
        }
        findings.retain_mut(|f| {
            let Some(level) = Check::from_code(&f.code).and_then(|c| self.get(c)) else { return true };
            f.severity = match level {
                Level::Info => Severity::Info,
                Level::Warning => Severity::Warning,
                Level::Error => Severity::Error,
                Level::Off => return false,
            };
            true
        });
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
        Level::Off => "off",
    }
}

/// An unknown code's message: what is wrong, the codes that share its prefix, where the list is.
pub fn unknown_code_message(code: &str) -> String {
    let prefix = code.split('/').next().unwrap_or("");
    let near: Vec<&str> = Check::ALL
        .iter()
        .map(|c| c.code())
        .filter(|c| !prefix.is_empty() && c.starts_with(&format!("{prefix}/")))
        .collect();
    let hint = if near.is_empty() { String::new() } else { format!(" (codes of {prefix}: {})", near.join(", ")) };
    format!("unknown check code {code:?}{hint}: `opendesk-render rules` lists every code")
}

impl<'de> Deserialize<'de> for SeverityOverrides {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_saphyr::Spanned;
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Vec<(Spanned<String>, Spanned<String>)>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of check code to info, warning, error or off")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    out.push(kv);
                }
                Ok(out)
            }
        }
        let mut out = SeverityOverrides::default();
        // In file order, so the first bad entry is the one reported.
        for (code, level) in d.deserialize_map(Pairs)? {
            let at = |s: &Spanned<String>| (s.referenced.line() as usize, s.referenced.column() as usize);
            let Some(check) = Check::from_code(&code.value) else {
                let (l, c) = at(&code);
                out.invalid.get_or_insert((l, c, unknown_code_message(&code.value)));
                continue;
            };
            let lv = match level.value.as_str() {
                "info" => Level::Info,
                "warning" => Level::Warning,
                "error" => Level::Error,
                "off" => Level::Off,
                other => {
                    let (l, c) = at(&level);
                    let m = format!("{check}: unknown severity {other:?}; use info, warning, error or off");
                    out.invalid.get_or_insert((l, c, m));
                    continue;
                }
            };
            if let Err(m) = out.set(check, lv) {
                let (l, c) = at(&level);
                out.invalid.get_or_insert((l, c, m));
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_prefixed_by_their_stage_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for c in Check::ALL {
            assert!(seen.insert(c.code()), "{} twice", c.code());
            assert_eq!(Check::from_code(c.code()), Some(*c));
            let prefix = c.code().split('/').next().unwrap();
            let stage = match prefix {
                "guard" | "module" => "guards",
                p => p,
            };
            assert_eq!(stage, c.stage(), "{c}");
            assert!(
                crate::pipeline::stage_names().any(|s| s == c.stage()) || REPORT_ONLY_STAGES.contains(&c.stage()),
                "{c}: stage {} is registered",
                c.stage()
            );
            assert!(c.doc().lines().count() >= 2 && !c.summary().is_empty(), "{c} has a doc");
            if c.guard_name().is_some() {
                assert_eq!((c.default_severity(), c.tuning()), (Severity::Error, Tuning::Fixed), "{c}");
            }
        }
        assert_eq!(Check::from_code("lint/nope"), None);
        assert_eq!(Check::GuardScim.guard_name(), Some("scim"));
    }

    fn cfg(lint: &str) -> Result<crate::InstanceConfig, crate::config::ConfigError> {
        let text = format!("opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\n{lint}");
        crate::InstanceConfig::parse(std::path::Path::new("instance.yaml"), &text)
    }

    #[test]
    fn config_sets_severities_by_code() {
        let c = cfg(
            "lint:\n  severity:\n    lint/image-latest: error\n    jit/injected: off\n    lint/missing-field: error\n",
        )
        .unwrap();
        let s = &c.lint.severity;
        assert_eq!(s.get(Check::LintImageLatest), Some(Level::Error));
        assert_eq!(s.get(Check::JitInjected), Some(Level::Off));
        let mut f = vec![
            Finding::of(Check::LintImageLatest, "a"),
            Finding::of(Check::JitInjected, "b"),
            Finding::of(Check::LintImageUntagged, "c"),
        ];
        s.apply(&mut f);
        let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.code.as_str(), f.severity)).collect();
        assert_eq!(got, [("lint/image-latest", Severity::Error), ("lint/image-untagged", Severity::Warning)]);
        assert!(cfg("").unwrap().lint.severity.is_empty());
    }

    #[test]
    fn config_rejects_unknown_codes_and_lowering_fixed_checks_with_the_line() {
        let e = cfg("lint:\n  severity:\n    lint/image-latest: off\n    lint/image-lastest: error\n").unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("unknown check code \"lint/image-lastest\""), "{e}");
        assert!(e.message.contains("lint/image-latest"), "the codes of lint are listed: {e}");
        let e = cfg("lint:\n  severity:\n    guard/plaintext-secrets: off\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("cannot be set to off"), "{e}");
        let e = cfg("lint:\n  severity:\n    lint/image-latest: loud\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = cfg("lint:\n  severities: {}\n").unwrap_err();
        assert!(e.message.contains("severities"), "{e}");
    }
}
