//! Kubernetes documents: a tree plus where it came from.

use crate::yaml::{emit_into, Node};
use std::fmt;
use std::sync::Arc;

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Release name (the helmfile output folder without the state-file hash).
    pub release: Arc<str>,
    /// File path relative to the release folder, `/`-separated.
    pub file: Arc<str>,
    /// 1-based line of the document's first line in that file.
    pub line: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.release, self.file, self.line)
    }
}

impl Origin {
    /// The file as findings name it: `release/file` (`file` alone outside a release, as
    /// `opendesk-render validate` reads plain files).
    pub fn display_file(&self) -> String {
        if self.release.is_empty() {
            self.file.to_string()
        } else {
            format!("{}/{}", self.release, self.file)
        }
    }

    /// `release/file:line` for another line of this document's file.
    pub fn with_line(&self, line: u32) -> String {
        format!("{}:{line}", self.display_file())
    }

    /// The [`Location`](crate::error::Location) of a node of this document at `pos`: its line
    /// and column, or, for a node made by a stage (line 0), the document's first line without
    /// a column.
    pub fn location(&self, pos: crate::yaml::Pos) -> crate::error::Location {
        let (line, col) = if pos.line == 0 { (self.line, 0) } else { (pos.line, pos.col) };
        crate::error::Location::new(self.display_file(), line as usize, col as usize)
    }
}

/// One YAML document of the input, with its head comments (`# Source: ...`).
#[derive(Debug, Clone)]
pub struct Document {
    /// Origin for messages, `explain` and the output tree.
    pub origin: Origin,
    /// Comment lines before the content, verbatim without the line break (e.g. `# Source: x`).
    pub head_comments: Vec<String>,
    /// The document's root node (a mapping for Kubernetes resources).
    pub root: Node,
    /// Every change made by a patch or stage, in order (for `explain`). Never holds secret
    /// values: stages record paths and actions, and patch details are masked for Secrets.
    pub changes: Vec<Change>,
}

/// One recorded change to a document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Who changed it: a patch name (`patch:<name>`) or a stage (`stage:jit`).
    pub by: String,
    /// The action (`set`, `remove`, `rename`, `append`, ...).
    pub action: String,
    /// The concrete path (normalized JSONPath).
    pub path: String,
    /// A short, non-secret description of the new value, when useful.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The identity Kubernetes uses for a resource: API group, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    /// API group (`""` for the core group, `apps`, ...), version dropped.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` when not set).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = if self.namespace.is_empty() { "-" } else { &self.namespace };
        write!(f, "{}/{}/{}", self.kind, ns, self.name)
    }
}

impl Document {
    /// Create a document.
    pub fn new(origin: Origin, head_comments: Vec<String>, root: Node) -> Self {
        Document { origin, head_comments, root, changes: Vec::new() }
    }

    /// An estimate of the document's size for scheduling parallel work: the source lines it
    /// spans, from its first line to the last line a walk down the last children reaches (so
    /// without visiting every node). Documents made by a stage count as one line.
    pub fn weight(&self) -> usize {
        (self.root.last_line().saturating_sub(self.origin.line) as usize) + 1
    }

    fn str_at(&self, path: &str) -> Option<&str> {
        self.root.get_path(path).and_then(|n| n.scalar_text()).filter(|s| !s.is_empty())
    }

    /// `kind`, if set.
    pub fn kind(&self) -> Option<&str> {
        self.str_at("kind")
    }

    /// `apiVersion`, if set.
    pub fn api_version(&self) -> Option<&str> {
        self.str_at("apiVersion")
    }

    /// `metadata.name`, if set.
    pub fn name(&self) -> Option<&str> {
        self.str_at("metadata.name")
    }

    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.str_at("metadata.namespace")
    }

    /// The API group of `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
    pub fn group(&self) -> &str {
        match self.api_version() {
            Some(v) => v.rsplit_once('/').map(|(g, _)| g).unwrap_or(""),
            None => "",
        }
    }

    /// A label value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.root.get("metadata")?.get("labels")?.get(key)?.scalar_text()
    }

    /// An annotation value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.root.get("metadata")?.get("annotations")?.get(key)?.scalar_text()
    }

    /// The identity (group, kind, namespace, name).
    pub fn id(&self) -> ResourceId {
        ResourceId {
            group: self.group().to_string(),
            kind: self.kind().unwrap_or("").to_string(),
            namespace: self.namespace().unwrap_or("").to_string(),
            name: self.name().unwrap_or("").to_string(),
        }
    }

    /// The `# Source: ...` path, when the document has one.
    pub fn source(&self) -> Option<&str> {
        self.head_comments.iter().find_map(|c| c.strip_prefix("# Source: "))
    }

    /// Record a change made by `by` (`patch:<name>` or `stage:<stage>`).
    pub fn record(&mut self, by: &str, action: &str, path: String, detail: Option<String>) {
        self.changes.push(Change { by: by.to_string(), action: action.to_string(), path, detail });
    }

    /// Emit head comments and body (no `---`).
    pub fn emit(&self) -> String {
        let mut out = String::new();
        self.emit_into(&mut out);
        out
    }

    /// Emit head comments and body into `out`.
    pub fn emit_into(&self, out: &mut String) {
        for c in &self.head_comments {
            out.push_str(c);
            out.push('\n');
        }
        emit_into(out, &self.root);
    }
}

/// Emit a stream of documents, each preceded by `---`.
pub fn emit_stream(docs: &[Document]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        d.emit_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(text: &str, first_line: u32) -> Document {
        let root = parse_documents(text).unwrap().remove(0);
        let origin = Origin { release: "r".into(), file: "f.yaml".into(), line: first_line };
        Document::new(origin, Vec::new(), root)
    }

    #[test]
    fn weight_is_the_lines_a_document_spans() {
        assert_eq!(doc("a: 1\n", 1).weight(), 1);
        let d = doc("kind: X\nspec:\n  list:\n    - a\n    - b: |\n        text\n  last: 1\n", 1);
        assert_eq!(d.root.last_line(), 7);
        assert_eq!(d.weight(), 7);
        // An empty last collection ends the walk at its own line.
        assert_eq!(doc("a: 1\nb: []\n", 1).root.last_line(), 2);
        // Nodes a stage made (line 0) never make a document lighter than one line.
        let mut made = doc("a: 1\n", 10);
        made.root.line = 0;
        made.root.as_map_mut().unwrap()[0].value.line = 0;
        made.root.as_map_mut().unwrap()[0].key_line = 0;
        assert_eq!(made.weight(), 1);
    }
}
