//! `opendesk-render validate PATH...`: the validate stage's checks on any manifests (an output
//! tree, a helmfile output dir, plain YAML files), kubeconform-style. Exit 0 valid (warnings
//! allowed), 1 invalid resources or unparsable files, 2 usage (unknown version, unreadable
//! path or CRD file).

use opendesk_render::error::{LoadError, Located};
use opendesk_render::validate::{self, NoSchema, Schemas};
use opendesk_render::{fsio, limits, load, Document, Finding, Severity};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What to validate with.
#[derive(Debug, Clone, Default)]
pub struct ValidateArgs {
    /// Files or directories (recursively: `.yaml`, `.yml`, `.json`).
    pub paths: Vec<PathBuf>,
    /// Kubernetes version (`1.31`, `v1.31.2`); default 1.31.
    pub kubernetes_version: Option<String>,
    /// CRD files or directories.
    pub crds: Vec<PathBuf>,
    /// `validate/no-schema` severity.
    pub no_schema: NoSchema,
    /// JSON output.
    pub json: bool,
}

/// One resource in the JSON output (kubeconform's fields, plus our codes).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceOut {
    filename: String,
    kind: String,
    name: String,
    version: String,
    /// `statusValid`, `statusInvalid`, `statusSkipped` (no schema), `statusError` (unparsable).
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    validation_errors: Vec<ErrorOut>,
}

#[derive(Debug, Serialize)]
struct ErrorOut {
    code: String,
    severity: Severity,
    path: String,
    /// The position, `file:line:col` (`file:line` when the column is unknown).
    line: String,
    msg: String,
}

#[derive(Debug, Default, Serialize)]
struct SummaryOut {
    valid: usize,
    invalid: usize,
    errors: usize,
    skipped: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportOut {
    kubernetes_version: String,
    resources: Vec<ResourceOut>,
    summary: SummaryOut,
    cel_rules_not_checked: u32,
}

/// A file that did not load: its name, the position (`file:line:col`, or the file alone) and
/// the reason without the position.
struct Broken {
    file: String,
    at: String,
    reason: String,
}

/// Documents (in file order), and the files that did not load.
type Loaded = (Vec<Document>, Vec<Broken>);

/// Read and parse every file with the render's own loader (document by document, Helm's
/// block subset on the fast path, `List` kinds flattened into their items, every file read
/// bounded and by type), in parallel; the result is in file order whatever the threads.
fn load(args: &ValidateArgs) -> Result<Loaded, String> {
    let mut files = Vec::new();
    for p in &args.paths {
        validate::collect_files(p, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    // An output tree's render-meta.yaml is this tool's record, not a Kubernetes resource.
    files.retain(|f| f.file_name().is_none_or(|n| n != "render-meta.yaml"));
    let release: Arc<str> = Arc::from("");
    let per_file: Vec<Result<Vec<Document>, LoadError>> = files
        .par_iter()
        .map(|f| {
            let text = load::decode(f, fsio::read_regular_max(f, limits::INPUT_FILE)?)?;
            let name: Arc<str> = Arc::from(f.display().to_string());
            load::parse_text(&release, &name, f, &text, true)
        })
        .collect();
    let mut docs = Vec::new();
    let mut broken = Vec::new();
    for (f, r) in files.iter().zip(per_file) {
        match r {
            Ok(d) => docs.extend(d.into_iter().filter(|d| d.root.as_map().is_some_and(|m| !m.is_empty()))),
            // A file that cannot be read at all is a usage error, as kubeconform's.
            Err(e @ (LoadError::Io { .. } | LoadError::File(_))) => return Err(e.to_string()),
            Err(e) => broken.push(Broken {
                file: f.display().to_string(),
                at: e.location().map_or_else(|| f.display().to_string(), |l| l.to_string()),
                reason: e.reason(),
            }),
        }
    }
    Ok((docs, broken))
}

/// Run the command; returns the exit code.
pub fn run(args: &ValidateArgs) -> i32 {
    let mut schemas = match Schemas::new(args.kubernetes_version.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::cli::EXIT_USAGE;
        }
    };
    schemas.no_schema = args.no_schema;
    for c in &args.crds {
        if let Err(e) = schemas.add_crd_path(c) {
            eprintln!("error: {e}");
            return crate::cli::EXIT_USAGE;
        }
    }
    if args.paths.is_empty() {
        eprintln!("error: no PATH given: name manifest files or directories");
        return crate::cli::EXIT_USAGE;
    }
    let (docs, broken) = match load(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::cli::EXIT_USAGE;
        }
    };
    let v = validate::validate(&docs, &schemas, &[]);
    let mut out = ReportOut {
        kubernetes_version: v.kubernetes_version.clone(),
        resources: Vec::new(),
        summary: SummaryOut::default(),
        cel_rules_not_checked: v.cel_rules_not_checked,
    };
    let mut fs_per_doc: Vec<Vec<&Finding>> = vec![Vec::new(); docs.len()];
    // Findings come back in document order; match them to documents by resource and file.
    let mut idx: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, d) in docs.iter().enumerate() {
        idx.entry((d.id().to_string(), d.origin.file.to_string())).or_default().push(i);
    }
    for f in &v.findings {
        let file = doc_key(f);
        if let Some(is) = idx.get(&(f.resource.clone().unwrap_or_default(), file)) {
            // Same resource twice in one file: the line decides (the first document at or
            // before the finding's line).
            let line = f.location.as_ref().map(|l| l.line as u32);
            let i = is
                .iter()
                .rev()
                .find(|&&i| line.is_some_and(|l| docs[i].origin.line <= l))
                .or(is.first())
                .copied()
                .unwrap_or(0);
            fs_per_doc[i].push(f);
        }
    }
    for (d, fs) in docs.iter().zip(&fs_per_doc) {
        let errors = fs.iter().any(|f| f.severity == Severity::Error);
        let skipped = fs.iter().any(|f| f.code == "validate/no-schema");
        let status = if errors {
            out.summary.invalid += 1;
            "statusInvalid"
        } else if skipped {
            out.summary.skipped += 1;
            "statusSkipped"
        } else {
            out.summary.valid += 1;
            "statusValid"
        };
        out.resources.push(ResourceOut {
            filename: d.origin.file.to_string(),
            kind: d.kind().unwrap_or("").to_string(),
            name: d.name().unwrap_or("").to_string(),
            version: d.api_version().unwrap_or("").to_string(),
            status,
            validation_errors: fs
                .iter()
                .map(|f| ErrorOut {
                    code: f.code.clone(),
                    severity: f.severity,
                    path: f.path.clone().unwrap_or_default(),
                    line: f.position().unwrap_or_default(),
                    msg: f.message.clone(),
                })
                .collect(),
        });
    }
    for b in &broken {
        out.summary.errors += 1;
        out.resources.push(ResourceOut {
            filename: b.file.clone(),
            kind: String::new(),
            name: String::new(),
            version: String::new(),
            status: "statusError",
            validation_errors: vec![ErrorOut {
                code: "validate/syntax".into(),
                severity: Severity::Error,
                path: String::new(),
                line: b.at.clone(),
                msg: b.reason.clone(),
            }],
        });
    }
    let files = {
        let mut f: Vec<&str> = docs.iter().map(|d| &*d.origin.file).collect();
        f.extend(broken.iter().map(|b| b.file.as_str()));
        f.sort_unstable();
        f.dedup();
        f.len()
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for r in &out.resources {
            for e in &r.validation_errors {
                let what = if r.kind.is_empty() { String::new() } else { format!("{} {} ", r.kind, r.name) };
                let sev = if e.severity == Severity::Error { "error" } else { "warning" };
                let at = if e.path.is_empty() { String::new() } else { format!(" at {}", e.path) };
                println!("{} - {what}{sev}{at}: {} [{}]", e.line, e.msg, e.code);
            }
        }
        let s = &out.summary;
        println!(
            "Summary: {} resources found in {files} files (Kubernetes {}) - Valid: {}, Invalid: {}, Errors: {}, Skipped: {}",
            docs.len(),
            out.kubernetes_version,
            s.valid,
            s.invalid,
            s.errors,
            s.skipped
        );
        if v.cel_rules_not_checked > 0 {
            println!(
                "note: {} CEL rule(s) (x-kubernetes-validations) of the CRDs used are not checked",
                v.cel_rules_not_checked
            );
        }
    }
    if out.summary.invalid + out.summary.errors > 0 {
        crate::cli::EXIT_FAILED
    } else {
        crate::cli::EXIT_OK
    }
}

/// The file part of a finding's origin (`file:line`).
fn doc_key(f: &Finding) -> String {
    let o = f.origin.as_deref().unwrap_or("");
    o.rsplit_once(':').map_or(o, |(a, _)| a).to_string()
}
