//! The `opendesk-render` command line (DESIGN §10). Exit codes: 0 success (warnings
//! allowed), 1 the render ran but a guard or lint error failed it, 2 bad input, config or usage.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

use opendesk_render::error::ExitCode;

/// Exit code: success ([`ExitCode::Ok`]).
pub const EXIT_OK: i32 = ExitCode::Ok.code();
/// Exit code: a guard or lint error failed the render (nothing written; [`ExitCode::Failed`]).
pub const EXIT_FAILED: i32 = ExitCode::Failed.code();
/// Exit code: bad input, config or usage (nothing written; [`ExitCode::Usage`]).
pub const EXIT_USAGE: i32 = ExitCode::Usage.code();

#[derive(Parser, Debug)]
#[command(
    name = "opendesk-render",
    version = env!("OPENDESK_RENDER_VERSION"),
    about = "Render openDesk helmfile output into a git-ready, Argo CD-ready tree",
    long_about = "Takes a `helmfile template --output-dir` tree, fixes the upstream charts with declarative \
patches, converts plaintext Secrets to ExternalSecrets, checks everything, and writes one folder and one \
Argo CD Application per release.\n\nExit codes: 0 ok (warnings allowed), 1 a guard or lint error failed the \
render, 2 bad input, config or usage. Nothing is written unless the exit code is 0."
)]
struct Cli {
    /// Print errors only: no warnings, notes, progress bar or summary.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Colour diagnostics on stderr: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = crate::term::ColorChoice::Auto)]
    color: crate::term::ColorChoice,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Render a helmfile output dir (default: the bundled example) into an output tree.
    #[command(
        after_help = "Examples:\n  opendesk-render render --out out/ --secrets-out secrets.json   # the bundled example\n  opendesk-render render ./helmfile-out --out out/ --config instance.yaml --release-graph release-graph.yaml --secrets-out secrets.json\n  opendesk-render render ./helmfile-out --out out/ --config instance.yaml --discard-secret-values --json | jq .summary   # a dry run"
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
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the diff as Markdown (collapsible per release).
        #[arg(long)]
        markdown: bool,
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
        /// Print the outcome as JSON (with --dry-run: the plan as JSON).
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Show what the push would change (the same as `plan`); commit and push nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: print the plan as Markdown.
        #[arg(long, requires = "dry_run")]
        markdown: bool,
    },
    /// Show what a push would change: fetch the branch head and diff its instance subtree
    /// against the rendered tree, per resource (exit 0 either way).
    #[command(
        after_help = "Examples:\n  opendesk-render plan out/ --repo https://git.example.org/opendesk/acme.git --path instances/acme\n  opendesk-render plan out/ --repo ../acme.git --path instances/acme --markdown > plan.md"
    )]
    Plan {
        /// The rendered output tree (as written by `render --out`).
        out_dir: PathBuf,
        /// Git URL (or local path) of the instance repository.
        #[arg(long)]
        repo: String,
        /// Branch to compare with.
        #[arg(long, default_value = "main")]
        branch: String,
        /// Folder inside the repository that holds the instance (default: the repository root).
        #[arg(long, default_value = "")]
        path: String,
        /// Time limit of every git command, in seconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        /// Print the plan as JSON (`changed`, `counts`, per resource).
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the plan as Markdown (collapsible per release, for a merge-request comment).
        #[arg(long)]
        markdown: bool,
    },
    /// Validate manifests against Kubernetes schemas, CRDs and API-server rules (exit 1 on errors).
    #[command(
        after_help = "Examples:\n  opendesk-render validate out/                      # an output tree\n  opendesk-render validate helmfile-out/ --kubernetes-version 1.30 --crds crds/\n  opendesk-render validate deploy.yaml --json | jq .summary"
    )]
    Validate(ValidateCliArgs),
    /// List the release graph's modules with their releases and waves.
    #[command(after_help = "Example:\n  opendesk-render modules --release-graph release-graph.yaml --json")]
    Modules(crate::modules_cmd::ModulesArgs),
    /// Print the JSON Schema of the patch file format.
    #[command(after_help = "Example:\n  opendesk-render schema > target/patch.schema.json")]
    Schema,
    /// List the checks (finding codes and guards), or explain one.
    #[command(
        after_help = "Examples:\n  opendesk-render rules\n  opendesk-render rules lint/unknown-field\n  opendesk-render rules --json | jq -r '.[].code'"
    )]
    Rules {
        /// A check code (`lint/unknown-field`, `guard/scim`): print its whole documentation.
        code: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(
        after_help = "Examples:\n  opendesk-render completions bash > ~/.local/share/bash-completion/completions/opendesk-render\n  opendesk-render completions zsh > ~/.zfunc/_opendesk-render\n  opendesk-render completions fish > ~/.config/fish/completions/opendesk-render.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(
        after_help = "Examples:\n  opendesk-render man | man -l -\n  opendesk-render man > ~/.local/share/man/man1/opendesk-render.1"
    )]
    Man,
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
    /// Worker threads, 1..=512 (default: all cores). Output is identical for any count.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=512))]
    threads: Option<u16>,
}

#[derive(clap::Args, Debug)]
struct RenderArgs {
    /// The helmfile output dir. Default: the bundled example.
    input: Option<PathBuf>,
    /// Where to write the tree (replaced atomically; untouched on failure).
    #[arg(long)]
    out: PathBuf,
    /// Where to write the ESO secret payload (JSON, mode 0600). Never inside --out. Required
    /// when the render converts Secrets (exit 2 without it), unless --discard-secret-values.
    #[arg(long)]
    secrets_out: Option<PathBuf>,
    /// An explicit dry run: convert Secrets but write their values nowhere (the summary says
    /// "secret values DISCARDED", --json has summary.secretValuesDiscarded). Without it a
    /// render that converts Secrets needs --secrets-out.
    #[arg(long, conflicts_with = "secrets_out")]
    discard_secret_values: bool,
    /// The payload an earlier render wrote (--secrets-out): report each Secret whose values
    /// changed since (`secrets/value-changed`, names only), e.g. a chart's random values.
    #[arg(long)]
    previous_secrets: Option<PathBuf>,
    /// With --previous-secrets: a changed value fails the render (exit 1) instead of warning.
    #[arg(long, requires = "previous_secrets")]
    strict_secrets: bool,
    /// Print the full report as JSON on stdout (see docs/json-report.md).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input_args: InputArgs,
    #[command(flatten)]
    module: crate::modules_cmd::ModuleFlags,
}

#[derive(clap::Args, Debug)]
struct ValidateCliArgs {
    /// Manifest files or directories (searched recursively for .yaml, .yml, .json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Kubernetes version whose schemas apply (shipped: see docs/validation.md).
    #[arg(long, default_value = opendesk_render::validate::builtin::DEFAULT_VERSION)]
    kubernetes_version: String,
    /// CRD files or directories to check custom resources against (repeatable); CRDs among
    /// the PATHs are used too.
    #[arg(long)]
    crds: Vec<PathBuf>,
    /// What a custom resource without a CRD is: warning (skipped), error, off.
    #[arg(long, default_value = "warning", value_parser = ["warning", "error", "off"])]
    no_schema: String,
    /// Print the result as JSON (kubeconform-like: resources, status, summary).
    #[arg(long)]
    json: bool,
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
    /// The upgrade matrix: the patch stage per openDesk version over INPUT; per patch × version
    /// out of range, changed N, no-op, or dead (in range, matched nothing).
    #[command(
        after_help = "Examples:\n  opendesk-render patches matrix ./helmfile-out --config instance.yaml --versions 1.12.0,1.13.1,1.17.0\n  opendesk-render patches matrix ./helmfile-out --config instance.yaml --markdown"
    )]
    Matrix {
        /// The helmfile output dir. Default: the bundled example.
        input: Option<PathBuf>,
        /// Comma-separated versions (default: every boundary of the set's appliesTo ranges plus
        /// the configured opendeskVersion).
        #[arg(long, value_delimiter = ',')]
        versions: Vec<String>,
        /// Print as JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print as a Markdown table.
        #[arg(long)]
        markdown: bool,
        #[command(flatten)]
        input_args: InputArgs,
    },
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
        /// Print the outcome as JSON (per fixture: name, passed, snapshot, problems).
        #[arg(long)]
        json: bool,
    },
    /// Validate every patch file (structure, JSONPath, regex, semver ranges, unique names).
    #[command(after_help = "Example:\n  opendesk-render patches check runtime-patches")]
    Check {
        /// A runtime-patches root or a directory of patch files.
        #[arg(default_value = "runtime-patches")]
        dir: PathBuf,
        /// Print the outcome as JSON (the patch count, or every error with file, line, col).
        #[arg(long)]
        json: bool,
    },
    /// List the built-in patch set (number, name, appliesTo, required, description).
    #[command(
        after_help = "Examples:\n  opendesk-render patches list\n  opendesk-render patches list --json | jq -r '.[].name'"
    )]
    List {
        /// Print as JSON (full descriptions).
        #[arg(long)]
        json: bool,
    },
    /// Scaffold a new patch: rendered-patches/NNN-NAME.yaml (next free number) and fixtures/NAME/.
    #[command(
        after_help = "Example:\n  opendesk-render patches new ums-probe-timeout --kind Deployment --release ums\n  # edit the two files, then:\n  opendesk-render patches test runtime-patches --only ums-probe-timeout --accept"
    )]
    New {
        /// The patch name (kebab-case; names the file, the fixture dir and the snapshot).
        name: String,
        /// The kind the patch selects (e.g. Deployment, Job).
        #[arg(long)]
        kind: String,
        /// The helmfile release the patch selects (e.g. ums).
        #[arg(long)]
        release: String,
        /// The runtime-patches root to write into.
        #[arg(long, default_value = "runtime-patches")]
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
    crate::term::init(cli.quiet, cli.color);
    match cli.cmd {
        Cmd::Render(a) => crate::render_cmd::render(
            a.input.as_deref(),
            &a.out,
            a.secrets_out.as_deref(),
            a.json,
            &crate::session::Inputs {
                module: a.module.into(),
                previous_secrets: a.previous_secrets,
                strict_secrets: a.strict_secrets,
                discard_secret_values: a.discard_secret_values,
                ..a.input_args.into()
            },
        ),
        Cmd::Explain(a) => {
            crate::render_cmd::explain(a.input.as_deref(), a.resource.as_deref(), a.json, &a.input_args.into())
        }
        Cmd::Diff { old, new, json, markdown } => crate::render_cmd::diff(&old, &new, diff_format(json, markdown)),
        Cmd::Push { out_dir, repo, branch, path, timeout, json, dry_run, markdown } => {
            let mut step = crate::push::PushRenderedManifests::new(out_dir, repo);
            step.branch = branch;
            step.path = path;
            step.timeout = std::time::Duration::from_secs(timeout);
            if dry_run {
                // The same validation as the push (a clean --path is required), then the plan.
                if let Err(e) = crate::push::check_repo_path(&step.path) {
                    eprintln!("error: {e}");
                    return e.exit_code();
                }
                plan(crate::plan::PlanRenderedManifests::for_push(&step), diff_format(json, markdown))
            } else {
                push(step, json)
            }
        }
        Cmd::Plan { out_dir, repo, branch, path, timeout, json, markdown } => {
            let mut step = crate::plan::PlanRenderedManifests::new(out_dir, repo);
            step.branch = branch;
            step.path = path;
            step.timeout = std::time::Duration::from_secs(timeout);
            plan(step, diff_format(json, markdown))
        }
        Cmd::Modules(a) => crate::modules_cmd::modules(&a),
        Cmd::Validate(a) => crate::validate_cmd::run(&crate::validate_cmd::ValidateArgs {
            paths: a.paths,
            kubernetes_version: Some(a.kubernetes_version),
            crds: a.crds,
            no_schema: match a.no_schema.as_str() {
                "error" => opendesk_render::validate::NoSchema::Error,
                "off" => opendesk_render::validate::NoSchema::Off,
                _ => opendesk_render::validate::NoSchema::Warning,
            },
            json: a.json,
        }),
        Cmd::Schema => {
            println!("{}", serde_json::to_string_pretty(&opendesk_patches::schema()).expect("schema serializes"));
            EXIT_OK
        }
        Cmd::Patches(PatchesCmd::Check { dir, json }) => crate::patches_cmd::check(&dir, json),
        Cmd::Patches(PatchesCmd::Test { dir, accept, only, json }) => {
            crate::patches_cmd::test(&dir, accept, only.as_deref(), json)
        }
        Cmd::Patches(PatchesCmd::List { json }) => crate::patches_cmd::list(json),
        Cmd::Patches(PatchesCmd::Matrix { input, versions, json, markdown, input_args }) => {
            crate::render_cmd::matrix(input.as_deref(), &versions, diff_format(json, markdown), &input_args.into())
        }
        Cmd::Patches(PatchesCmd::New { name, kind, release, dir }) => {
            crate::patches_cmd::new(&dir, &name, &kind, &release)
        }
        Cmd::Rules { code, json } => crate::rules_cmd::rules(code.as_deref(), json),
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "opendesk-render", &mut std::io::stdout());
            EXIT_OK
        }
        Cmd::Man => {
            use clap::CommandFactory;
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("error: writing the man page: {e}");
                    EXIT_FAILED
                }
            }
        }
    }
}

fn plan(step: crate::plan::PlanRenderedManifests, format: crate::render_cmd::DiffFormat) -> i32 {
    use crate::step::Step;
    crate::gitsafe::install_interrupt_handler();
    match step.run(&mut |ev| eprintln!("{ev}")) {
        Ok(o) => {
            let title = o.title();
            if format == crate::render_cmd::DiffFormat::Json {
                println!("{}", serde_json::to_string_pretty(&o).unwrap_or_default());
            } else {
                crate::render_cmd::print_diff(&o.report, format, &title);
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

fn push(step: crate::push::PushRenderedManifests, json: bool) -> i32 {
    use crate::step::Step;
    // Ctrl-C / SIGTERM end the running git command; the step fails and removes its work dir.
    crate::gitsafe::install_interrupt_handler();
    let quiet = crate::term::quiet();
    match step.run(&mut |ev| {
        if !quiet {
            eprintln!("{ev}")
        }
    }) {
        Ok(o) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&o).unwrap_or_default());
            } else if o.changed {
                let attempts = crate::term::count(o.attempts as usize, "attempt", "attempts");
                println!("pushed {} ({attempts})", o.commit.as_deref().unwrap_or("?"));
            } else {
                println!("no change: nothing committed");
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{}", crate::term::paint_line(&format!("error: {e}")));
            if crate::gitsafe::interrupted() {
                return 130;
            }
            e.exit_code()
        }
    }
}

fn diff_format(json: bool, markdown: bool) -> crate::render_cmd::DiffFormat {
    use crate::render_cmd::DiffFormat;
    match (json, markdown) {
        (true, _) => DiffFormat::Json,
        (_, true) => DiffFormat::Markdown,
        _ => DiffFormat::Text,
    }
}

impl From<InputArgs> for crate::session::Inputs {
    fn from(a: InputArgs) -> Self {
        crate::session::Inputs {
            config: a.config,
            patches: a.patches,
            no_patches: a.no_patches,
            release_graph: a.release_graph,
            threads: a.threads.map(usize::from),
            config_text: None,
            module: Default::default(),
            previous_secrets: None,
            strict_secrets: false,
            discard_secret_values: false,
        }
    }
}

/// Print the offending line of `file` with a caret under `col` (1-based), to stderr.
pub fn print_snippet(file: &Path, line: usize, col: usize) {
    if let Some(s) = crate::session::snippet(file, line, col) {
        eprintln!("{s}");
    }
}
