//! The suites' own search for a secret value in what the binary printed or wrote, independent
//! of the redact stage's matcher: the value raw, percent-encoded (either hex case), JSON/YAML
//! double-quote escaped, as hex, and inside any run of base64 (standard or URL-safe, padded or
//! not, at every byte alignment, also across the line breaks of a wrapped blob). The decoder is
//! `opendesk-render/tests/common/b64.rs` (not the crate's encoder read backwards).

#[path = "../../opendesk-render/tests/common/b64.rs"]
mod b64;

/// Shortest run of base64 characters that is decoded (shorter runs cannot hold a value of the
/// lengths the suites plant, 12 bytes and more, at any alignment).
const MIN_RUN: usize = 16;

/// A value and its literal forms.
pub struct Needle {
    value: Vec<u8>,
    forms: Vec<(&'static str, String)>,
}

impl Needle {
    /// The needle for `value` (its forms are computed once).
    pub fn new(value: &str) -> Self {
        let mut forms = vec![("plain", value.to_string())];
        for (name, f) in [
            ("percent-encoded", percent(value, false)),
            ("percent-encoded (lower hex)", percent(value, true)),
            ("JSON-escaped", json_escape(value, false)),
            ("JSON-escaped (\\/)", json_escape(value, true)),
            ("hex", hex(value, false)),
            ("hex (upper)", hex(value, true)),
        ] {
            if !forms.iter().any(|(_, g)| *g == f) {
                forms.push((name, f));
            }
        }
        Needle { value: value.as_bytes().to_vec(), forms }
    }

    /// The form of the value `text` holds (`"plain"`, `"base64"`, …), if any.
    pub fn found_in(&self, text: &str) -> Option<&'static str> {
        if let Some((name, _)) = self.forms.iter().find(|(_, f)| text.contains(f.as_str())) {
            return Some(name);
        }
        // A blob wrapped over lines (real or JSON `\n` escapes), indented: join its lines.
        let joined: String = text.replace("\\n", "\n").replace("\\r", "\n").split_whitespace().collect();
        (self.in_base64(text) || self.in_base64(&joined)).then_some("base64")
    }

    /// Whether some run of base64 characters of `text`, decoded from any of its first four
    /// characters, holds the value.
    fn in_base64(&self, text: &str) -> bool {
        let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/-_".contains(c);
        text.split(|c: char| !is_b64(c)).filter(|run| run.len() >= MIN_RUN).any(|run| {
            (0..4).any(|skip| {
                let decoded = b64::decode(&run[skip..]);
                decoded.windows(self.value.len()).any(|w| w == self.value.as_slice())
            })
        })
    }
}

/// Every byte but the URL-unreserved ones as `%XX`.
pub fn percent(v: &str, lower: bool) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The text of a JSON (or YAML double-quoted) string holding `v`, without the quotes.
pub fn json_escape(v: &str, slash: bool) -> String {
    let mut s = String::new();
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '/' if slash => s.push_str("\\/"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

/// `v`'s bytes as hex digits.
pub fn hex(v: &str, upper: bool) -> String {
    v.bytes().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect()
}
