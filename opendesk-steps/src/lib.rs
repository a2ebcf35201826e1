//! # opendesk-steps
//!
//! The thin layer over the core library: the `opendesk-render` CLI and the step wrappers the
//! deployer calls (render manifests, push rendered manifests).
#![warn(missing_docs)]

pub mod cli;
pub mod example;
pub mod gitsafe;
pub mod modules_cmd;
pub mod patches_cmd;
pub mod plan;
pub mod progress;
pub mod push;
pub mod render_cmd;
pub mod render_step;
pub mod rules_cmd;
pub mod session;
pub mod step;
pub mod suggest;
pub mod term;
pub mod validate_cmd;
