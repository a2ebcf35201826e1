//! The state the stages share while a render runs, and the report built from it.

use super::{RenderRequest, Report, Summary};
use crate::config::InstanceConfig;
use crate::document::Document;
use crate::error::ExitCode;
use crate::load::LoadedInput;
use crate::output::argo::AppOptions;
use crate::output::graph::ReleaseGraph;
use crate::output::meta::{GuardResult, MetaInput, RENDERER_VERSION};
use crate::output::RenderedTree;
use crate::patch::{PatchSet, PatchStat, Vars};
use crate::report::{Finding, Severity};
use crate::stages::eso::EsoOutput;
use crate::stages::inventory::Inventory;
use crate::stages::redact::{KnownSecrets, RedactOutput};
use std::collections::BTreeMap;

/// Everything a stage reads and writes: the request's inputs, the documents, and what earlier
/// stages produced. Built by [`super::render`]; a stage gets it as `&mut`.
pub struct RenderContext<'a> {
    /// The instance config.
    pub cfg: &'a InstanceConfig,
    /// The patch set (`None` = no patches).
    pub patches: Option<&'a PatchSet>,
    /// The release graph.
    pub graph: Option<&'a ReleaseGraph>,
    /// Application sync options.
    pub app_options: &'a AppOptions,
    /// A module render's request (`None`: a full render).
    pub module: Option<&'a crate::module::ModuleRequest>,
    /// A module render's facts (the guards stage).
    pub module_meta: Option<crate::module::ModuleMeta>,
    /// Required patches of a module render whose releases are all outside the module.
    pub out_of_scope_patches: Vec<String>,
    /// The patch variables, from the config.
    pub vars: Vars,
    /// The openDesk version rendered.
    pub version: semver::Version,
    /// The documents, as the stages so far left them.
    pub docs: Vec<Document>,
    /// Every finding so far, in pipeline order (merged by the loop).
    pub findings: Vec<Finding>,
    /// Guard results so far (`required-patch`, then the guards stage's).
    pub guards: Vec<GuardResult>,
    /// Per patch, then per override (`override:<name>`), in order.
    pub patch_stats: Vec<PatchStat>,
    /// What each release renders (the inventory stage).
    pub inventory: Inventory,
    /// The ESO stage's report and the secret payload.
    pub eso: EsoOutput,
    /// The redact stage's output (`None` before it ran).
    pub redact: Option<RedactOutput>,
    /// What the validate stage covered (CEL rules and patterns it could not evaluate).
    pub validation: Option<crate::validate::Coverage>,
    /// The output tree (the output stage).
    pub tree: Option<RenderedTree>,
    /// Documents loaded.
    pub documents_in: usize,
    /// Input bytes.
    pub input_bytes: u64,
    /// sha256 of the input tree.
    pub input_digest: String,
}

impl<'a> RenderContext<'a> {
    /// The context at the start of a render.
    pub fn new(input: LoadedInput, cfg: &'a InstanceConfig, req: &'a RenderRequest<'a>) -> Self {
        RenderContext {
            cfg,
            patches: req.patches,
            graph: req.graph,
            app_options: &req.app_options,
            module: req.module,
            module_meta: None,
            out_of_scope_patches: Vec::new(),
            vars: Vars::from_config(cfg),
            version: cfg.version(),
            documents_in: input.documents.len(),
            docs: input.documents,
            findings: Vec::new(),
            guards: Vec::new(),
            patch_stats: Vec::new(),
            inventory: Inventory::default(),
            eso: EsoOutput::default(),
            redact: None,
            validation: None,
            tree: None,
            input_bytes: input.bytes,
            input_digest: input.digest,
        }
    }

    /// The known secret values, once the redact stage ran.
    pub fn known_secrets(&self) -> Option<&KnownSecrets> {
        self.redact.as_ref().map(|r| &r.known)
    }

    /// Add a stage's findings. Nothing that leaves the process may carry a known secret value,
    /// even by coincidence: once the redact stage has the known set, findings are scrubbed here
    /// (the redact stage scrubs the ones merged before it).
    ///
    /// The instance config's `lint.severity` settings are applied here, to every stage's
    /// findings (fixed checks, such as the guards, cannot be changed).
    pub fn merge(&mut self, mut found: Vec<Finding>) {
        for f in &found {
            debug_assert!(
                crate::checks::Check::from_code(&f.code).is_some_and(|c| c.stage() == f.stage),
                "finding code {} (stage {}) is not in the checks registry",
                f.code,
                f.stage
            );
        }
        self.cfg.lint.severity.apply(&mut found);
        if let Some(known) = self.known_secrets() {
            crate::stages::redact::scrub_findings(known, &mut found);
        }
        // Credentials in a URL, known or not (`https://***@host/…`).
        for f in &mut found {
            if let std::borrow::Cow::Owned(m) = crate::scrub::redact_url_credentials(&f.message) {
                f.message = m;
            }
        }
        self.findings.append(&mut found);
    }

    /// True when a guard failed or a finding is an error: the render fails (exit 1).
    pub fn failed(&self) -> bool {
        self.guards.iter().any(|g| !g.passed) || self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// What render-meta is written from (the output stage).
    pub fn meta_input(&self) -> MetaInput {
        MetaInput {
            report: self.report(false),
            images: self.inventory.releases.iter().map(|r| (r.release.clone(), r.images.clone())).collect(),
        }
    }

    fn redactions(&self) -> usize {
        self.redact.as_ref().map_or(0, |r| r.report.count(crate::stages::redact::Action::Masked))
    }

    fn secret_classes(&self) -> Vec<crate::stages::classify::KeyClass> {
        self.redact.as_ref().map(|r| r.report.secrets.clone()).unwrap_or_default()
    }

    /// The report as things stand (`failed`: the loop stopped before a stage that needs a
    /// passing render), with the output's facts once the output stage ran. Timings are the
    /// loop's to add.
    pub fn report(&self, failed: bool) -> Report {
        let stats = &self.patch_stats;
        let summary = Summary {
            releases: self.tree.as_ref().map_or(0, |t| t.releases.len()),
            documents_in: self.documents_in,
            documents_out: self.docs.len(),
            input_bytes: self.input_bytes,
            patches_applied: stats.iter().filter(|s| s.changed > 0).count(),
            patches_skipped: stats.iter().filter(|s| s.skipped.is_some()).count(),
            patches_dead: stats.iter().filter(|s| s.skipped.is_none() && s.matched == 0).count(),
            findings: count(&self.findings),
            eso_converted: self.eso.report.converted.len(),
            redactions: self.redactions(),
            secret_refs: self.redact.as_ref().map_or(0, |r| r.report.count(crate::stages::redact::Action::SecretRef)),
            inline_secrets_refused: self
                .redact
                .as_ref()
                .map_or(0, |r| r.report.count(crate::stages::redact::Action::Refused)),
            masked_documents: self.redact.as_ref().map(|r| r.report.masked_documents.clone()).unwrap_or_default(),
            // The caller's decision, after the pipeline (`session::settle_payload`).
            secret_values_discarded: None,
        };
        Report {
            status: if failed { "failed" } else { "ok" },
            exit_code: if failed { ExitCode::Failed } else { ExitCode::Ok }.code(),
            renderer_version: RENDERER_VERSION.to_string(),
            opendesk_version: self.cfg.opendesk_version.clone(),
            instance: self.cfg.instance.clone(),
            input_digest: self.input_digest.clone(),
            output_digest: self.tree.as_ref().map(|t| t.output_digest.clone()).unwrap_or_default(),
            summary,
            patches: stats.clone(),
            findings: self.findings.clone(),
            guards: self.guards.clone(),
            secrets: self.secret_classes(),
            releases: self.tree.as_ref().map(|t| t.releases.clone()).unwrap_or_default(),
            timings: Vec::new(),
            validation: self.validation.clone(),
            module: self.module_meta.clone(),
        }
    }
}

fn count(f: &[Finding]) -> BTreeMap<Severity, usize> {
    let mut m = BTreeMap::new();
    for x in f {
        *m.entry(x.severity).or_insert(0) += 1;
    }
    m
}
