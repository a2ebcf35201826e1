//! Helpers for the end-to-end suites: locate (and build) the real `opendesk-render` binary,
//! run it with a memory limit and a deadline, make throwaway directories.

#![allow(missing_docs)]
