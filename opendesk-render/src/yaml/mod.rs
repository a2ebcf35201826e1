//! Lossless YAML for Kubernetes manifests: tree, parser, emitter, YAML 1.1 resolution.

mod emit;
mod fast;
mod node;
mod parse;
pub mod resolve;

pub use emit::{emit, emit_into};
pub use fast::{parse_fast, why_not_fast};
pub use node::{
    join, key, keys, map_of, path_to_string, seq_of, with_key, Entry, Node, PathSeg, Pos, Scalar, Style, Value,
};
pub use parse::{
    parse_documents, parse_documents_budgeted, parse_documents_general, ParseError, SyntaxError, MAX_ALIAS_NODES,
    MAX_DEPTH,
};
