//! The instance config (DESIGN §10): what one openDesk instance renders to.
//!
//! Parsed with serde-saphyr; unknown keys and missing required keys are errors naming the
//! line and column. See `examples/instance.yaml` for a documented example.

use crate::patch::spec::PatchSpec;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A config file that could not be read or understood.
#[derive(Debug, Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct ConfigError {
    /// The file (or `<inline>`).
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// What is wrong, and what to do.
    pub message: String,
}

impl ConfigError {
    /// Map a serde-saphyr error to a positioned error for `file`.
    pub fn from_saphyr(file: &Path, e: &serde_saphyr::Error) -> Self {
        let (line, col) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
        let full = e.without_snippet().to_string();
        // serde-saphyr prefixes "line N column M:"-style context and appends snippets; keep the
        // first line of the message.
        let message = full.lines().next().unwrap_or("invalid YAML").trim().to_string();
        ConfigError { file: file.to_path_buf(), line, col, message }
    }
}

/// serde-saphyr options for our config files (instance config, patch files, release graph):
/// our own bounds instead of the library defaults. Config files are small and hand-written, so
/// the limits are generous for them and tight for hostile input: up to 10,000 documents (the
/// default 1,024 would cap a large patch set), 64 levels, 1,000 aliases, 16 MiB of scalars.
pub fn saphyr_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut b = o.budget.clone().unwrap_or_default();
    b.max_documents = 10_000;
    b.max_depth = 64;
    b.max_aliases = 1_000;
    b.max_anchors = 1_000;
    b.max_nodes = 250_000;
    b.max_total_scalar_bytes = 16 << 20;
    o.budget = Some(b);
    o
}

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

/// Redaction settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redact {
    /// Extra known secret values (never printed).
    #[serde(default)]
    pub values: Vec<String>,
    /// A secret value inlined in another manifest is fatal instead of masked.
    #[serde(default)]
    pub strict: bool,
}

/// The instance config.
#[derive(Debug, Clone, Deserialize)]
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

impl InstanceConfig {
    /// Parse a config text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let cfg: InstanceConfig = serde_saphyr::from_str_with_options(text, saphyr_options())
            .map_err(|e| ConfigError::from_saphyr(file, &e))?;
        let mut cfg = cfg;
        cfg.validate(file)?;
        cfg.source = Some((file.display().to_string(), text.to_string()));
        Ok(cfg)
    }

    /// Read and parse a config file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            message: e.to_string(),
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
                Ok(p)
            })
            .collect()
    }

    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let bad = |m: String| ConfigError { file: file.to_path_buf(), line: 0, col: 0, message: m };
        semver::Version::parse(self.opendesk_version.trim())
            .map_err(|e| bad(format!("opendeskVersion {:?} is not a semantic version: {e}", self.opendesk_version)))?;
        for (k, v) in [("instance", &self.instance), ("namespace", &self.namespace)] {
            if v.trim().is_empty() {
                return Err(bad(format!("`{k}` must not be empty")));
            }
        }
        if let Some(v) = &self.kubernetes_version {
            if crate::validate::builtin::get(v).is_none() {
                return Err(bad(format!(
                    "kubernetesVersion {v:?} is not one of the shipped schema versions ({}); see docs/validation.md to add one",
                    crate::validate::builtin::versions().join(", ")
                )));
            }
        }
        Ok(())
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
            values: Default::default(),
            kubernetes_version: None,
            validation: Default::default(),
            source: None,
        }
    }
}
