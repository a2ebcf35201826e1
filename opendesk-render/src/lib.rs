//! # opendesk-render
//!
//! The pure core of the openDesk render pipeline: a lossless YAML document model for
//! helmfile `--output-dir` trees, the declarative patch engine, the pipeline stages and the
//! output model. See `DESIGN.md` in the repository for the architecture.
//!
//! ```
//! use opendesk_render::yaml::{parse_documents, emit};
//! let doc = &parse_documents("defaultMode: 0644\nenabled: on\n").unwrap()[0];
//! assert_eq!(doc.get("defaultMode").unwrap().as_i64(), Some(420)); // YAML 1.1, as Kubernetes
//! assert_eq!(emit(doc), "defaultMode: 0644\nenabled: on\n");     // written back verbatim
//! ```
#![warn(missing_docs)]

pub mod checks;
pub mod churn;
pub mod config;
pub mod diff;
pub mod digest;
pub mod document;
pub mod error;
pub mod fsio;
pub mod limits;
pub mod load;
pub mod module;
pub mod output;
mod par;
pub mod patch;
pub mod pipeline;
pub mod report;
pub mod scrub;
pub mod stages;
#[doc(hidden)]
pub mod testing;
pub mod typed;
pub mod validate;
pub mod yaml;

pub use config::InstanceConfig;
pub use document::{emit_stream, Change, Document, Origin, ResourceId};
pub use error::LoadError;
pub use load::{load_dir, LoadedInput};
pub use report::{Finding, Severity};
