//! The `validate` stage of the pipeline (after guards, on the final documents).

use crate::pipeline::{RenderContext, RenderError, Stage};
use crate::report::Finding;

/// `validate`: Kubernetes schemas, CRDs and API-server rules (see [`super::validate`]).
pub struct ValidateStage;

impl Stage for ValidateStage {
    fn name(&self) -> &'static str {
        "validate"
    }

    fn label(&self) -> &'static str {
        "validating against Kubernetes schemas"
    }

    fn run(&self, cx: &mut RenderContext<'_>) -> Result<Vec<Finding>, RenderError> {
        let schemas = super::Schemas::for_config(cx.cfg)?;
        let v = super::validate(&cx.docs, &schemas, &cx.findings);
        cx.validation = Some(v.coverage());
        Ok(v.findings)
    }
}
