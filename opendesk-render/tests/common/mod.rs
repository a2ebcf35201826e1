//! Shared by the integration tests that read the real corpus.

/// The corpus beside the repository, when present (a failure under CI when not).
pub use opendesk_render::testing::corpus;
