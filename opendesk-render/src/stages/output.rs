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
        let meta = cx.meta_input();
        let tree = build_tree(cx.cfg, &cx.docs, cx.graph, &meta, cx.app_options)?;
        let found = tree.findings.clone();
        cx.tree = Some(tree);
        Ok(found)
    }
}
