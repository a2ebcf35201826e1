//! The `output` stage: lay out the output tree and render-meta ([`crate::output::build_tree`]).
//! It runs only when nothing failed the render.

use crate::output::build_tree;
use crate::pipeline::{RenderContext, RenderError, Stage};
use crate::report::Finding;

/// `output`: build the tree (the caller writes it).
pub struct OutputStage;

impl Stage for OutputStage {
    fn name(&self) -> &'static str {
        "output"
    }

    fn label(&self) -> &'static str {
        "building the output tree"
    }

    fn needs_passing_render(&self) -> bool {
        true
    }

    fn run(&self, cx: &mut RenderContext<'_>) -> Result<Vec<Finding>, RenderError> {
        // The overrides stage gave every namespaced resource its release's namespace; a stage
        // after it may have made one without (none does today): the tree says where each lands.
        let scopes = crate::stages::Scopes::from_docs(&cx.docs);
        let plan = crate::output::argo::release_namespaces_with(&cx.docs, cx.cfg, &scopes);
        crate::output::argo::assign_namespaces(&mut cx.docs, &plan, &scopes);
        let meta = cx.meta_input();
        let tree = build_tree(cx.cfg, &cx.docs, cx.graph, &meta, cx.app_options)?;
        let mut found = tree.findings.clone();
        // The Applications are made here: validate them too (an error is a renderer bug, and
        // still fails the render rather than push what Argo CD rejects).
        let schemas = crate::validate::Schemas::for_config(cx.cfg)?;
        found.extend(crate::validate::validate_tree_files(&tree.files, "applications", &schemas));
        cx.tree = Some(tree);
        Ok(found)
    }
}
