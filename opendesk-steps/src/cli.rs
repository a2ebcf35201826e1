//! The `opendesk-render` command line (DESIGN §10). Exit codes: 0 success (warnings
//! allowed), 1 the render ran but a guard or lint error failed it, 2 bad input, config or usage.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a guard or lint error failed the render (nothing written).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input, config or usage (nothing written).
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "opendesk-render",
    version,
    about = "Render openDesk helmfile output into a git-ready, Argo CD-ready tree",
    long_about = "Takes a `helmfile template --output-dir` tree, fixes the upstream charts with declarative \
patches, converts plaintext Secrets to ExternalSecrets, checks everything, and writes one folder and one \
Argo CD Application per release.\n\nExit codes: 0 ok (warnings allowed), 1 a guard or lint error failed the \
render, 2 bad input, config or usage. Nothing is written unless the exit code is 0."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Render a helmfile output dir (default: the bundled example) into an output tree.
    #[command(
        after_help = "Examples:\n  opendesk-render render --out out/                      # the bundled example\n  opendesk-render render ./helmfile-out --out out/ --config instance.yaml --release-graph release-graph.yaml --secrets-out secrets.json\n  opendesk-render render ./helmfile-out --out out/ --config instance.yaml --json | jq .summary"
    )]
    Render(RenderArgs),
    /// Show, per resource, where it came from and every change each patch or stage made.
    #[command(
        after_help = "Examples:\n  opendesk-render explain ./helmfile-out --config instance.yaml\n  opendesk-render explain ./helmfile-out --resource Job/opendesk/ums-keycloak-bootstrap"
    )]
    Explain(ExplainArgs),
    /// Semantic per-resource diff of two output trees (exit 0 equal, 1 different).
    #[command(after_help = "Example:\n  opendesk-render diff out-old/ out-new/")]
    Diff {
        /// The old output tree.
        old: PathBuf,
        /// The new output tree.
        new: PathBuf,
        /// Print the diff as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Work with patch sets: run fixtures against snapshots, or validate patch files.
    #[command(subcommand)]
    Patches(PatchesCmd),
    /// Commit and push an output tree to the instance's git repository (no-op when unchanged).
    #[command(
        after_help = "Example:\n  opendesk-render push out/ --repo https://git.example.org/opendesk/acme.git --branch main --path instances/acme"
    )]
    Push {
        /// The rendered output tree (as written by `render --out`).
        out_dir: PathBuf,
        /// Git URL (or local path) of the instance repository.
        #[arg(long)]
        repo: String,
        /// Branch to commit to.
        #[arg(long, default_value = "main")]
        branch: String,
        /// Folder inside the repository that the tree replaces (a clean relative path, e.g.
        /// instances/acme; the repository root is refused).
        #[arg(long)]
        path: String,
        /// Time limit of every git command, network steps included, in seconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the release graph's modules with their releases and waves.
    #[command(after_help = "Example:\n  opendesk-render modules --release-graph release-graph.yaml --json")]
    Modules(crate::modules_cmd::ModulesArgs),
    /// Print the JSON Schema of the patch file format.
    #[command(after_help = "Example:\n  opendesk-render schema > patch.schema.json")]
    Schema,
}

#[derive(clap::Args, Debug, Clone)]
struct InputArgs {
    /// Instance config (YAML). Default: the bundled example's config.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Patch dir (a runtime-patches root or a folder of patch files). Default: the built-in set.
    #[arg(long, conflicts_with = "no_patches")]
    patches: Option<PathBuf>,
    /// Apply no patches.
    #[arg(long)]
    no_patches: bool,
    /// Release graph (waves). Default: none (every release in wave 0, with a warning); the
    /// bundled example uses its own graph.
    #[arg(long)]
    release_graph: Option<PathBuf>,
    /// Worker threads (default: all cores). Output is identical for any count.
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(clap::Args, Debug)]
struct RenderArgs {
    /// The helmfile output dir. Default: the bundled example.
    input: Option<PathBuf>,
    /// Where to write the tree (replaced atomically; untouched on failure).
    #[arg(long)]
    out: PathBuf,
    /// Where to write the ESO secret payload (JSON, mode 0600). Never inside --out.
    #[arg(long)]
    secrets_out: Option<PathBuf>,
    /// Print the full report as JSON on stdout (see docs/json-report.md).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input_args: InputArgs,
    #[command(flatten)]
    module: crate::modules_cmd::ModuleFlags,
}

#[derive(clap::Args, Debug)]
struct ExplainArgs {
    /// The helmfile output dir. Default: the bundled example.
    input: Option<PathBuf>,
    /// Only this resource: KIND/NAMESPACE/NAME (use `-` for no namespace).
    #[arg(long)]
    resource: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input_args: InputArgs,
}

#[derive(Subcommand, Debug)]
enum PatchesCmd {
    /// Run every fixture (runtime-patches/fixtures/<name>/input.yaml) and compare with its snapshot.
    #[command(
        after_help = "Examples:\n  opendesk-render patches test runtime-patches\n  opendesk-render patches test runtime-patches --accept   # write new snapshots, then review them with git diff"
    )]
    Test {
        /// The runtime-patches root (holding rendered-patches/ and fixtures/).
        #[arg(default_value = "runtime-patches")]
        dir: PathBuf,
        /// Write snapshots for fixtures whose output differs or has none.
        #[arg(long)]
        accept: bool,
        /// Run only this fixture.
        #[arg(long)]
        only: Option<String>,
    },
    /// Validate every patch file (structure, JSONPath, regex, semver ranges, unique names).
    #[command(after_help = "Example:\n  opendesk-render patches check runtime-patches")]
    Check {
        /// A runtime-patches root or a directory of patch files.
        #[arg(default_value = "runtime-patches")]
        dir: PathBuf,
    },
}

/// Run the CLI with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.cmd {
        Cmd::Render(a) => crate::render_cmd::render(
            a.input.as_deref(),
            &a.out,
            a.secrets_out.as_deref(),
            a.json,
            &crate::render_cmd::Inputs { module: a.module.into(), ..a.input_args.into() },
        ),
        Cmd::Explain(a) => {
            crate::render_cmd::explain(a.input.as_deref(), a.resource.as_deref(), a.json, &a.input_args.into())
        }
        Cmd::Diff { old, new, json } => crate::render_cmd::diff(&old, &new, json),
        Cmd::Push { out_dir, repo, branch, path, timeout, json } => push(out_dir, repo, branch, path, timeout, json),
        Cmd::Modules(a) => crate::modules_cmd::modules(&a),
        Cmd::Schema => {
            println!("{}", serde_json::to_string_pretty(&opendesk_patches::schema()).expect("schema serializes"));
            EXIT_OK
        }
        Cmd::Patches(PatchesCmd::Check { dir }) => patches_check(&dir),
        Cmd::Patches(PatchesCmd::Test { dir, accept, only }) => patches_test(&dir, accept, only.as_deref()),
    }
}

fn push(out_dir: PathBuf, repo: String, branch: String, path: String, timeout: u64, json: bool) -> i32 {
    use crate::step::Step;
    let mut step = crate::push::PushRenderedManifests::new(out_dir, repo);
    step.branch = branch;
    step.path = path;
    step.timeout = std::time::Duration::from_secs(timeout);
    // Ctrl-C / SIGTERM end the running git command; the step fails and removes its work dir.
    crate::gitsafe::install_interrupt_handler();
    match step.run(&mut |ev| eprintln!("{ev}")) {
        Ok(o) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&o).unwrap_or_default());
            } else if o.changed {
                println!("pushed {} ({} attempt(s))", o.commit.as_deref().unwrap_or("?"), o.attempts);
            } else {
                println!("no change: nothing committed");
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            if crate::gitsafe::interrupted() {
                return 130;
            }
            e.exit_code()
        }
    }
}

fn patches_check(dir: &Path) -> i32 {
    match opendesk_patches::check(dir) {
        Ok(n) => {
            println!("{n} patches OK in {}", opendesk_patches::patches_dir(dir).display());
            EXIT_OK
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
                print_snippet(Path::new(&e.file), e.line, e.col);
            }
            eprintln!("{} patch file error(s)", errors.len());
            EXIT_USAGE
        }
    }
}

fn patches_test(dir: &Path, accept: bool, only: Option<&str>) -> i32 {
    let outcomes = if let Some(name) = only {
        opendesk_patches::run_fixture(dir, &dir.join("fixtures").join(name), accept).map(|o| vec![o])
    } else {
        opendesk_patches::run_fixtures(dir, accept)
    };
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let mut failed = 0;
    for o in &outcomes {
        if o.passed() {
            println!("ok      {}{}", o.name, if o.accepted { " (snapshot written: review it)" } else { "" });
        } else {
            failed += 1;
            println!("FAILED  {}", o.name);
            for p in &o.problems {
                for (i, l) in p.lines().enumerate() {
                    println!("{}{l}", if i == 0 { "  - " } else { "    " });
                }
            }
        }
    }
    println!("{} passed, {} failed", outcomes.len() - failed, failed);
    if failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

impl From<InputArgs> for crate::render_cmd::Inputs {
    fn from(a: InputArgs) -> Self {
        crate::render_cmd::Inputs {
            config: a.config,
            patches: a.patches,
            no_patches: a.no_patches,
            release_graph: a.release_graph,
            threads: a.threads,
            config_text: None,
            module: Default::default(),
        }
    }
}

/// Print the offending line of `file` with a caret under `col` (1-based), to stderr.
pub fn print_snippet(file: &Path, line: usize, col: usize) {
    if line == 0 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(file) else { return };
    let Some(l) = text.lines().nth(line - 1) else { return };
    let shown: String = l.chars().take(200).collect();
    let w = line.to_string().len();
    eprintln!("{:w$} |", "");
    eprintln!("{line} | {shown}");
    eprintln!("{:w$} | {}^", "", " ".repeat(col.saturating_sub(1).min(200)));
}
