//! File digests: one file's sha256 and the digest over a list of them. The input digest
//! (`load`), the per-release and whole-tree output digests (`output`) and a module push's base
//! check (`opendesk-steps`) all use these two functions.

use sha2::{Digest, Sha256};

/// A file's sha256 (the leaf of the tree digests).
pub fn file_hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// sha256 over `(name, length, sha256 of the bytes)` triples in the given order (callers pass
/// sorted names), as `sha256:<hex>`. Each name is followed by a NUL, the 8-byte length and the
/// file's own 32-byte sha256 ([`file_hash`]), so different splits cannot collide.
///
/// Why a digest of digests: each file is hashed once, on the worker that emitted (or read)
/// it while its bytes are in cache, and the per-release and whole-tree digests hash 48 bytes
/// a file instead of every byte again, serially. One file can also be checked on its own
/// (`sha256sum`) against a recomputation.
pub fn digest_entries<'a>(files: impl IntoIterator<Item = (&'a str, u64, &'a [u8; 32])>) -> String {
    let mut h = Sha256::new();
    for (name, len, hash) in files {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update(len.to_le_bytes());
        h.update(hash);
    }
    format!("sha256:{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_separates_names_and_bytes() {
        let a = digest_entries([("ab", 1, &file_hash(b"c"))]);
        let b = digest_entries([("a", 2, &file_hash(b"bc"))]);
        assert_ne!(a, b);
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
    }
}
