//! An independent base64 decoder for the tests (not the crate's encoder read backwards):
//! the standard and the URL-safe alphabet, every other character (padding, line breaks,
//! separators) skipped, trailing bits dropped. Included with `#[path]` by the test crates that
//! decode (stages_corpus, redact_props).

/// Decodes `s`.
pub fn decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}
