//! The instance config (DESIGN §10): what one openDesk instance renders to.
//!
//! Parsed with serde-saphyr; unknown keys and missing required keys are errors naming the
//! line and column. See `examples/instance.yaml` for a documented example.

use crate::patch::spec::PatchSpec;
pub use crate::typed::{saphyr_options, ConfigError};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// Argo CD settings for the generated Applications.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCd {
    /// Namespace of Argo CD (Applications live there).
    #[serde(default = "d_argocd")]
    pub namespace: String,
    /// Argo CD project.
    #[serde(default = "d_project")]
    pub project: String,
    /// Git repository Argo CD syncs from.
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    /// Branch, tag or commit.
    #[serde(default = "d_rev")]
    pub target_revision: String,
    /// Folder of the output tree inside that repository.
    #[serde(default)]
    pub path: String,
    /// Namespaces something outside this tree creates (a platform team, another Argo CD
    /// Application): resources may use them although no Application of this tree creates
    /// them. `kube-system`, `kube-public`, `default` and `argocd.namespace` are implied.
    #[serde(default)]
    pub external_namespaces: Vec<String>,
}

fn d_argocd() -> String {
    "argocd".into()
}
fn d_project() -> String {
    "default".into()
}
fn d_rev() -> String {
    "main".into()
}
fn d_refresh() -> String {
    "1h".into()
}

impl Default for ArgoCd {
    fn default() -> Self {
        ArgoCd {
            namespace: d_argocd(),
            project: d_project(),
            repo_url: String::new(),
            target_revision: d_rev(),
            path: String::new(),
            external_namespaces: Vec::new(),
        }
    }
}

/// `secretStoreRef` of the generated ExternalSecrets.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreRef {
    /// `ClusterSecretStore` or `SecretStore`.
    #[serde(default)]
    pub kind: String,
    /// Store name.
    #[serde(default)]
    pub name: String,
}

/// Where plaintext Secrets go instead of git (External Secrets Operator).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsManager {
    /// The store reference.
    #[serde(default)]
    pub store_ref: StoreRef,
    /// `remoteRef.key = <keyPrefix>/<namespace>/<secret name>`.
    #[serde(default)]
    pub key_prefix: String,
    /// `refreshInterval` of the ExternalSecrets.
    #[serde(default = "d_refresh")]
    pub refresh_interval: String,
}

impl SecretsManager {
    /// A store is usable only when kind, name and prefix are all non-empty: a half-filled
    /// block is treated as missing, never as "off" (a past incident pushed plaintext Secrets).
    pub fn is_usable(&self) -> bool {
        !self.store_ref.kind.trim().is_empty()
            && !self.store_ref.name.trim().is_empty()
            && !self.key_prefix.trim().is_empty()
    }
}

/// External identity provider settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalIdp {
    /// Inject the JIT provisioning plugin into Keycloak.
    #[serde(default)]
    pub user_sync: bool,
}

/// The JIT plugin.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Jit {
    /// Plugin image (copies the provider jar).
    #[serde(default)]
    pub image: String,
    /// Image pull secret for the plugin image.
    #[serde(default)]
    pub pull_secret: String,
}

/// SCIM provisioning.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scim {
    /// SCIM enabled: the guard then requires a SCIM server workload and its token Secret.
    #[serde(default)]
    pub enabled: bool,
}

/// Redaction settings. `Debug` never prints `values` (each shows as `***`).
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redact {
    /// Extra known secret values (never printed).
    #[serde(default)]
    pub values: Vec<String>,
    /// `secrets/weak-value` (a weak value under a credential-named key) is an error.
    #[serde(default)]
    pub strict: bool,
    // --- issue 15 (seccore): classification overrides and the mode ---
    /// What happens to a secret value found outside its Secret (other than a whole env value,
    /// which becomes a `secretKeyRef`): `refuse` (default: the render fails naming where) or
    /// `mask` (replaced by `<redacted>` in scalar values, listed in the summary).
    #[serde(default)]
    pub mode: RedactMode,
    /// `(Secret, key)` pairs whose values are configuration, never searched for.
    #[serde(default)]
    pub public: Vec<SecretKeyRef>,
    /// `(Secret, key)` pairs whose values are secrets, whatever they look like.
    #[serde(default)]
    pub secret: Vec<SecretKeyRef>,
}

impl fmt::Debug for Redact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redact")
            .field("values", &Masked(self.values.len()))
            .field("strict", &self.strict)
            .field("mode", &self.mode)
            .field("public", &self.public)
            .field("secret", &self.secret)
            .finish()
    }
}

/// `Debug` of `n` values that must not be printed: `["***", …]` (`n` times).
struct Masked(usize);

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(std::iter::repeat_n(format_args!("***"), self.0)).finish()
    }
}

/// `redact.mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RedactMode {
    /// A secret value inlined outside an env value fails the render (exit 1).
    #[default]
    Refuse,
    /// Explicit opt-in: mask it in scalar values and list the masked documents.
    Mask,
}

/// An entry of `redact.public` / `redact.secret`: a Secret (`name` or `namespace/name`) and a
/// key, both globs (`*`, `?`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// `name` or `namespace/name` of the Secret (glob).
    pub secret: String,
    /// The key (glob).
    pub key: String,
    /// Line of the entry in the config file (0 when unknown), for `redact/unknown-override`.
    #[serde(skip)]
    pub line: usize,
}

/// The instance config. `Debug` never prints `redact.values` nor the config text (which holds
/// them): `source` shows the file name and the text's length.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceConfig {
    /// openDesk version being rendered (selects patches by `appliesTo`).
    pub opendesk_version: String,
    /// Instance name (Application names, default secret key prefix).
    pub instance: String,
    /// Destination namespace of every release.
    pub namespace: String,
    /// Argo CD settings.
    #[serde(default)]
    pub argocd: ArgoCd,
    /// Secret store; required when the input holds Secrets.
    #[serde(default)]
    pub secrets_manager: Option<SecretsManager>,
    /// External IdP.
    #[serde(default)]
    pub external_idp: ExternalIdp,
    /// JIT plugin (used when `externalIdp.userSync`).
    #[serde(default)]
    pub jit: Jit,
    /// SCIM.
    #[serde(default)]
    pub scim: Scim,
    /// Per-instance patches (select + ops, no `appliesTo`), applied after JIT.
    #[serde(default)]
    pub overrides: Vec<PatchSpec>,
    /// Redaction.
    #[serde(default)]
    pub redact: Redact,
    /// Check settings: `lint: {severity: {CODE: info|warning|error|off}}` (see
    /// `opendesk-render rules`).
    #[serde(default)]
    pub lint: crate::checks::LintConfig,
    /// Free values that patches reference as `${values.a.b}`.
    #[serde(default)]
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The Kubernetes version the output is validated for (`1.31` when unset; see
    /// docs/validation.md for the versions shipped).
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    /// The validate stage's settings.
    #[serde(default, rename = "validate")]
    pub validation: crate::validate::ValidateConfig,
    /// The config file name and text (for positions in override errors).
    #[serde(skip)]
    pub source: Option<(String, String)>,
}

impl fmt::Debug for InstanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field but the config text (it holds `redact.values`); `redact` prints its
        // values as `***`.
        let source = self.source.as_ref().map(|(file, text)| format!("{file} ({} bytes)", text.len()));
        f.debug_struct("InstanceConfig")
            .field("opendesk_version", &self.opendesk_version)
            .field("instance", &self.instance)
            .field("namespace", &self.namespace)
            .field("argocd", &self.argocd)
            .field("secrets_manager", &self.secrets_manager)
            .field("external_idp", &self.external_idp)
            .field("jit", &self.jit)
            .field("scim", &self.scim)
            .field("overrides", &self.overrides)
            .field("redact", &self.redact)
            .field("lint", &self.lint)
            .field("values", &self.values)
            .field("kubernetes_version", &self.kubernetes_version)
            .field("validation", &self.validation)
            .field("source", &source)
            .finish()
    }
}

impl InstanceConfig {
    /// Parse a config text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        // A config error never quotes a `redact.values` entry nor URL credentials.
        let scrubbed = |mut e: ConfigError| {
            e.message = crate::scrub::scrub_config_message(text, e.line, &e.message);
            e
        };
        let cfg: InstanceConfig = serde_saphyr::from_str_with_options(text, saphyr_options())
            .map_err(|e| scrubbed(ConfigError::from_saphyr(file, &e)))?;
        let mut cfg = cfg;
        cfg.validate(file, text).map_err(scrubbed)?;
        cfg.locate_redact_overrides(text);
        cfg.source = Some((file.display().to_string(), text.to_string()));
        Ok(cfg)
    }

    /// Read and parse a config file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = crate::fsio::read_regular_string_max(file, crate::limits::CONFIG_FILE).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            message: e.reason(),
        })?;
        Self::parse(file, &text)
    }

    /// The parsed openDesk version.
    pub fn version(&self) -> semver::Version {
        semver::Version::parse(self.opendesk_version.trim()).unwrap_or(semver::Version::new(0, 0, 0))
    }

    /// Compile the `overrides:` into patches (values taken losslessly from the config text).
    pub fn compiled_overrides(&self) -> Result<Vec<crate::patch::Patch>, crate::patch::PatchError> {
        if self.overrides.is_empty() {
            return Ok(Vec::new());
        }
        let (file, text) = self.source.clone().unwrap_or_else(|| ("<config>".into(), String::new()));
        let file: std::sync::Arc<str> = std::sync::Arc::from(file.as_str());
        let tree = crate::yaml::parse_documents(&text).ok().and_then(|mut d| d.pop()).unwrap_or_default();
        let nodes = tree.get("overrides").and_then(crate::yaml::Node::as_seq).cloned().unwrap_or_default();
        self.overrides
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let node = nodes.get(i).cloned().unwrap_or_default();
                let mut p = crate::patch::compile::compile_patch(&file, &text, spec.clone(), &node)?;
                if p.applies_to.is_some() {
                    return Err(crate::patch::PatchError {
                        file: file.to_string(),
                        line: p.line as usize,
                        col: 1,
                        message: format!("override {:?}: `appliesTo` is not allowed in overrides", p.name),
                    });
                }
                p.applies_to = None;
                override_root_problem(&p, &node, &text)?;
                Ok(p)
            })
            .collect()
    }

    /// Fill the lines of the `redact.public` / `redact.secret` entries from the config text.
    fn locate_redact_overrides(&mut self, text: &str) {
        let tree = crate::yaml::parse_documents(text).ok().and_then(|mut d| d.pop()).unwrap_or_default();
        for (field, list) in [("public", &mut self.redact.public), ("secret", &mut self.redact.secret)] {
            let nodes = tree.get("redact").and_then(|r| r.get(field)).and_then(crate::yaml::Node::as_seq);
            for (r, n) in list.iter_mut().zip(nodes.into_iter().flatten()) {
                r.line = n.line as usize;
            }
        }
    }

    /// `redact.public` / `redact.secret` entries must name a Secret and a key.
    fn validate_redact_overrides(&self, file: &Path, tree: &crate::yaml::Node, text: &str) -> Result<(), ConfigError> {
        for (field, list) in [("public", &self.redact.public), ("secret", &self.redact.secret)] {
            let nodes = tree.get("redact").and_then(|r| r.get(field)).and_then(crate::yaml::Node::as_seq);
            for (i, r) in list.iter().enumerate() {
                let bad = [("secret", &r.secret), ("key", &r.key)].into_iter().find(|(_, v)| v.trim().is_empty());
                if let Some((what, _)) = bad {
                    let node = nodes.and_then(|n| n.get(i));
                    let line = node.map_or(0, |n| n.line as usize);
                    let col = text
                        .lines()
                        .nth(line.saturating_sub(1))
                        .map_or(0, |l| l.find(|c: char| c != ' ' && c != '-').map_or(1, |c| c + 1));
                    return Err(ConfigError {
                        file: file.to_path_buf(),
                        line,
                        col: if line == 0 { 0 } else { col },
                        message: format!(
                            "`redact.{field}[{i}].{what}` is empty: name the Secret (`name` or `namespace/name`, globs \
                             allowed) and the key, e.g. {{secret: mattermost-config, key: \"MM_*\"}}"
                        ),
                    });
                }
                if r.secret.matches('/').count() > 1 {
                    let line = nodes.and_then(|n| n.get(i)).map_or(0, |n| n.line as usize);
                    return Err(ConfigError {
                        file: file.to_path_buf(),
                        line,
                        col: usize::from(line > 0),
                        message: format!(
                            "`redact.{field}[{i}].secret` {:?} is neither `name` nor `namespace/name`",
                            r.secret
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn validate(&self, file: &Path, text: &str) -> Result<(), ConfigError> {
        if let Some((line, col, message)) = &self.lint.severity.invalid {
            return Err(ConfigError { file: file.to_path_buf(), line: *line, col: *col, message: message.clone() });
        }
        let tree = crate::yaml::parse_documents(text).ok().and_then(|mut d| d.pop()).unwrap_or_default();
        let bad = |key: &str, m: String| {
            let (line, col) = key_position(&tree, text, key);
            ConfigError { file: file.to_path_buf(), line, col, message: m }
        };
        let v = self.opendesk_version.trim();
        if let Err(e) = semver::Version::parse(v) {
            let parts: Vec<&str> = v.split('.').collect();
            let numeric = !v.is_empty() && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            let hint = match (numeric, parts.len()) {
                (true, 1) => format!("; did you mean {v}.0.0?"),
                (true, 2) => format!("; did you mean {v}.0?"),
                _ => String::new(),
            };
            return Err(bad(
                "opendeskVersion",
                format!("opendeskVersion {v:?} is not a full semantic version (MAJOR.MINOR.PATCH): {e}{hint}"),
            ));
        }
        for (k, v) in
            [("instance", &self.instance), ("namespace", &self.namespace), ("argocd.namespace", &self.argocd.namespace)]
        {
            if let Some(why) = dns_label_problem(v) {
                return Err(bad(k, format!("`{k}` {v:?} is not a DNS-1123 label ({why})")));
            }
        }
        // Credentials in argocd.repoURL would be written into every Application (issue 15).
        if crate::scrub::url_has_credentials(self.argocd.repo_url.trim()) {
            return Err(bad(
                "argocd.repoURL",
                format!(
                    "`argocd.repoURL` {} carries credentials: they would be written into every Application in \
                     git. Use the URL without them and give Argo CD the credentials as a repository Secret \
                     (docs/argocd.md)",
                    crate::scrub::redact_url_credentials(self.argocd.repo_url.trim())
                ),
            ));
        }
        if let Some(e) = self.external_namespaces_problem(&tree, text, file) {
            return Err(e);
        }
        if let Some(why) = repo_path_problem(&self.argocd.path) {
            return Err(bad(
                "argocd.path",
                format!("`argocd.path` {:?} is not a clean relative path ({why})", self.argocd.path),
            ));
        }
        if let Some(sm) = &self.secrets_manager {
            let kind = sm.store_ref.kind.as_str();
            if !kind.is_empty() && !matches!(kind, "SecretStore" | "ClusterSecretStore") {
                let hint = crate::error::did_you_mean(kind, &["SecretStore", "ClusterSecretStore"]);
                return Err(bad(
                    "secretsManager.storeRef.kind",
                    format!("`secretsManager.storeRef.kind` {kind:?} must be SecretStore or ClusterSecretStore{hint}"),
                ));
            }
            if !sm.key_prefix.is_empty() {
                if let Some(why) = key_prefix_problem(&sm.key_prefix) {
                    return Err(bad(
                        "secretsManager.keyPrefix",
                        format!(
                            "`secretsManager.keyPrefix` {:?} is not usable in remoteRef.key ({why})",
                            sm.key_prefix
                        ),
                    ));
                }
            }
            if !go_duration_ok(&sm.refresh_interval) {
                return Err(bad(
                    "secretsManager.refreshInterval",
                    format!(
                        "`secretsManager.refreshInterval` {:?} is not a Go duration (e.g. 1h, 30m, 1h30m, 90s)",
                        sm.refresh_interval
                    ),
                ));
            }
        }
        self.validate_redact_overrides(file, &tree, text)?;
        if let Some(v) = &self.kubernetes_version {
            if crate::validate::builtin::get(v).is_none() {
                return Err(bad(
                    "kubernetesVersion",
                    format!(
                    "kubernetesVersion {v:?} is not one of the shipped schema versions ({}); see docs/validation.md to add one",
                    crate::validate::builtin::versions().join(", ")
                ),
                ));
            }
        }
        Ok(())
    }

    /// `argocd.externalNamespaces`: every entry a DNS-1123 label, none twice; the error
    /// points at the entry.
    fn external_namespaces_problem(&self, tree: &crate::yaml::Node, text: &str, file: &Path) -> Option<ConfigError> {
        const KEY: &str = "argocd.externalNamespaces";
        let items = tree.get_path(KEY).and_then(crate::yaml::Node::as_seq);
        let mut seen = std::collections::BTreeSet::new();
        for (i, ns) in self.argocd.external_namespaces.iter().enumerate() {
            let why = match dns_label_problem(ns) {
                Some(why) => format!("`{KEY}[{i}]` {ns:?} is not a DNS-1123 label ({why})"),
                None if !seen.insert(ns.as_str()) => format!("`{KEY}[{i}]` {ns:?} is listed twice"),
                None => continue,
            };
            let (line, col) = match items.and_then(|s| s.get(i)) {
                Some(n) if n.line > 0 => {
                    let l = n.line as usize;
                    let col = text.lines().nth(l - 1).and_then(|t| t.find(ns.as_str())).map_or(1, |c| c + 1);
                    (l, col)
                }
                _ => key_position(tree, text, KEY),
            };
            return Some(ConfigError { file: file.to_path_buf(), line, col, message: why });
        }
        None
    }

    /// A minimal config for tests and tools.
    pub fn minimal(version: &str) -> Self {
        InstanceConfig {
            opendesk_version: version.into(),
            instance: "test".into(),
            namespace: "opendesk".into(),
            argocd: ArgoCd::default(),
            secrets_manager: None,
            external_idp: ExternalIdp::default(),
            jit: Jit::default(),
            scim: Scim::default(),
            overrides: Vec::new(),
            redact: Redact::default(),
            lint: Default::default(),
            values: Default::default(),
            kubernetes_version: None,
            validation: Default::default(),
            source: None,
        }
    }
}

/// An override op on the document root (`$`): `remove: $` would delete the whole resource
/// (the engine cannot, so it was a silent no-op), and no other op has a meaning there. The
/// error names the override, the op and its config line.
fn override_root_problem(
    p: &crate::patch::compile::Patch,
    node: &crate::yaml::Node,
    text: &str,
) -> Result<(), crate::patch::PatchError> {
    let ops = node.get("ops").and_then(crate::yaml::Node::as_seq).map(Vec::as_slice).unwrap_or_default();
    for (i, op) in ops.iter().enumerate() {
        let Some(e) = op.as_map().and_then(|m| m.first()) else { continue };
        let Some(path) = e.value.get("path").and_then(crate::yaml::Node::scalar_text) else { continue };
        if !crate::patch::query::compile(path).is_ok_and(|c| c.full.segments.is_empty()) {
            continue;
        }
        let line = e.value.get("path").map_or(op.line, |n| n.line).max(op.line);
        let col = text.lines().nth((line as usize).saturating_sub(1)).and_then(|l| l.find(path)).map_or(1, |c| c + 1);
        return Err(crate::patch::PatchError {
            file: p.file.to_string(),
            line: line as usize,
            col,
            message: format!(
                "override {:?} op #{} ({}): path {path:?} is the document root; an override changes fields of a \
                 resource (use `select` to pick resources, and a path below the root such as `$.metadata.labels`); \
                 to drop a resource, render without its release or template",
                p.name,
                i + 1,
                e.key.text
            ),
        });
    }
    Ok(())
}

/// Line and column of the key at the dotted `path` in the config text (the deepest part of the
/// path that exists), or `(0, 0)` when the text has none of it.
fn key_position(tree: &crate::yaml::Node, text: &str, path: &str) -> (usize, usize) {
    let mut node = tree;
    let mut found = (0usize, String::new());
    for part in path.split('.') {
        let Some(e) = node.as_map().and_then(|m| m.iter().find(|e| e.key.text == part)) else { break };
        found = (e.key_line as usize, part.to_string());
        node = &e.value;
    }
    let (line, key) = found;
    if line == 0 {
        return (0, 0);
    }
    let col = text.lines().nth(line - 1).and_then(|l| l.find(key.as_str())).map_or(1, |c| c + 1);
    (line, col)
}

/// Why `v` is not a DNS-1123 label (≤ 63 of `[a-z0-9-]`, alphanumeric at both ends), or `None`.
pub fn dns_label_problem(v: &str) -> Option<&'static str> {
    if v.is_empty() {
        return Some("empty");
    }
    if v.len() > 63 {
        return Some("longer than 63 characters");
    }
    if !v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Some("only lowercase letters, digits and '-' are allowed");
    }
    if v.starts_with('-') || v.ends_with('-') {
        return Some("must start and end with a letter or digit");
    }
    None
}

/// Why `p` is not a clean relative repository path (`a/b`; empty = the repository root).
pub fn repo_path_problem(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return None;
    }
    if p.starts_with('/') {
        return Some("absolute");
    }
    if p.chars().any(|c| c.is_control() || c == '\\') {
        return Some("control characters or backslashes");
    }
    for seg in p.split('/') {
        match seg {
            "" => return Some("empty segment or trailing '/'"),
            "." | ".." => return Some("'.' or '..' segment"),
            _ => {}
        }
    }
    None
}

/// Why `p` is not a `/`-joined list of `[a-z0-9._-]+` segments without `.` and `..`.
pub fn key_prefix_problem(p: &str) -> Option<&'static str> {
    for seg in p.split('/') {
        if seg.is_empty() {
            return Some("empty segment: leading, trailing or double '/'");
        }
        if seg == "." || seg == ".." {
            return Some("'.' or '..' segment");
        }
        if !seg.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')) {
            return Some("segments may hold only lowercase letters, digits, '.', '_' and '-'");
        }
    }
    None
}

/// A Go `time.ParseDuration` string: `0`, or one or more `<number><unit>` with units ns, us, µs,
/// ms, s, m, h (an optional leading sign is not accepted: a refresh interval is positive).
pub fn go_duration_ok(d: &str) -> bool {
    if d == "0" {
        return true;
    }
    let mut rest = d;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let int = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut n = int;
        if rest[n..].starts_with('.') {
            n += 1 + rest[n + 1..].bytes().take_while(u8::is_ascii_digit).count();
        }
        if n == 0 || (int == 0 && n == 1) {
            return false;
        }
        rest = &rest[n..];
        let unit = ["ns", "us", "\u{b5}s", "\u{3bc}s", "ms", "s", "m", "h"].iter().find(|u| rest.starts_with(**u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

impl crate::patch::Vars {
    /// The variables of an instance config (here, not in `patch`: the patch engine does not
    /// depend on the config module).
    pub fn from_config(c: &InstanceConfig) -> Self {
        crate::patch::Vars {
            values: c.values.clone(),
            instance: c.instance.clone(),
            namespace: c.namespace.clone(),
            opendesk_version: c.opendesk_version.clone(),
        }
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert_eq!(dns_label_problem("acme"), None);
        assert!(dns_label_problem("../other").is_some());
        assert!(dns_label_problem("-a").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
        assert_eq!(repo_path_problem("instances/acme"), None);
        assert_eq!(repo_path_problem(""), None);
        for p in ["/a", "a/../b", "./a", "a/", "a//b", "a\\b"] {
            assert!(repo_path_problem(p).is_some(), "{p}");
        }
        assert_eq!(key_prefix_problem("acme/prod-1.x_y"), None);
        for p in ["../..", "a/./b", "a\nb", "/a", "a/", "Acme"] {
            assert!(key_prefix_problem(p).is_some(), "{p:?}");
        }
        for d in ["0", "1h", "30m", "1h30m", "1.5h", "90s", "100ms", "2\u{b5}s"] {
            assert!(go_duration_ok(d), "{d}");
        }
        for d in ["", "1", "h", "1 hour", "-1h", "1d", ".h", "1.h2"] {
            assert!(!go_duration_ok(d), "{d}");
        }
    }

    #[test]
    fn errors_carry_the_key_position_and_hints() {
        let e = InstanceConfig::parse(Path::new("c.yaml"), "opendeskVersion: '1.13'\ninstance: a\nnamespace: b\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (1, 1));
        assert!(e.to_string().ends_with("did you mean 1.13.0?"), "{e}");
        let e = InstanceConfig::parse(
            Path::new("c.yaml"),
            "opendeskVersion: 1.0.0\ninstance: a\nnamespace: b\nargocd:\n  namespace: x\n  projct: p\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.to_string().contains("did you mean `project`?"), "{e}");
        assert!(!e.to_string().contains(" at line "), "{e}");
        let head = "opendeskVersion: 1.0.0\ninstance: a\nnamespace: b\nargocd:\n  externalNamespaces:\n";
        let c = InstanceConfig::parse(Path::new("c.yaml"), &format!("{head}    - monitoring\n    - vault\n")).unwrap();
        assert_eq!(c.argocd.external_namespaces, ["monitoring", "vault"]);
        let e =
            InstanceConfig::parse(Path::new("c.yaml"), &format!("{head}    - monitoring\n    - Bad_NS\n")).unwrap_err();
        assert_eq!((e.line, e.col), (7, 7), "{e}");
        assert!(e.message.contains("`argocd.externalNamespaces[1]` \"Bad_NS\" is not a DNS-1123 label"), "{e}");
        let e = InstanceConfig::parse(Path::new("c.yaml"), &format!("{head}    - vault\n    - vault\n")).unwrap_err();
        assert_eq!((e.line, e.col), (7, 7), "{e}");
        assert!(e.message.contains("listed twice"), "{e}");
        let e = InstanceConfig::load(Path::new("/nonexistent/c.yaml")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/c.yaml: "), "{e}");
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_never_prints_redact_values_nor_the_config_text() {
        let text = "opendeskVersion: 1.0.0\ninstance: a\nnamespace: b\nredact:\n  values: [Zq8!hunter2-Xy, second-Vk3pWq9]\n  secret: [{secret: db, key: password}]\n";
        let c = InstanceConfig::parse(Path::new("c.yaml"), text).unwrap();
        assert_eq!(c.redact.values.len(), 2);
        for shown in [format!("{c:?}"), format!("{c:#?}"), format!("{:?}", c.redact)] {
            assert!(!shown.contains("hunter2") && !shown.contains("Vk3pWq9"), "{shown}");
            assert_eq!(shown.matches("***").count(), 2, "{shown}");
            assert!(shown.contains("password"), "names are shown: {shown}");
        }
        let shown = format!("{c:?}");
        assert!(shown.contains(&format!("source: Some(\"c.yaml ({} bytes)\")", text.len())), "{shown}");
    }
}
