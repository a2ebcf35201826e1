//! Lossless YAML for Kubernetes manifests: tree, parser, emitter, YAML 1.1 resolution.

mod emit;
mod node;
mod parse;
pub mod resolve;

pub use emit::{emit, emit_into};
pub use node::{path_to_string, Entry, Node, PathSeg, Scalar, Style, Value};
pub use parse::{parse_documents, SyntaxError, MAX_ALIAS_NODES, MAX_DEPTH};
