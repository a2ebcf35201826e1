//! Helpers for the end-to-end suites: locate (and build) the real `opendesk-render` binary,
//! run it under a memory limit and a deadline, make throwaway directories.

#![allow(missing_docs)]

pub mod leak;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Address-space limit for every run of the binary (the "< 1 GB of memory").
pub const MEMORY_LIMIT_BYTES: u64 = 1 << 30;

/// The hang guard per run of the binary: generous, since the suites run on loaded 2-core
/// machines in debug builds; measured from the child's start (never including the build of
/// the binary, see [`bin`]). A run that passes it is a hang, not a slow machine; speed is
/// measured by the divan benches, never by a test. `OPENDESK_TEST_TIME_BOUND_SECS` overrides it.
pub fn time_bound() -> Duration {
    let secs = std::env::var("OPENDESK_TEST_TIME_BOUND_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    Duration::from_secs(secs)
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `../shared/corpus/opendesk-like`, when present. Under CI (`CI` set) its absence is an error.
pub use opendesk_render::testing::corpus;

/// The `opendesk-render` binary of this test build's profile (`target/<profile>/`), built
/// once per test process with `cargo build` so it is never stale. `OPENDESK_RENDER_BIN`
/// overrides it (a prebuilt binary; no build).
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("OPENDESK_RENDER_BIN") {
            return PathBuf::from(p);
        }
        // target/<profile>/deps/<test>-<hash> → target/<profile>
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let profile = profile_dir.file_name().and_then(OsStr::to_str).unwrap_or("debug").to_string();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root())
            .args(["build", "--quiet", "-p", "opendesk-steps", "--bin", "opendesk-render"])
            .arg("--target-dir")
            .arg(&target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let st = cmd.status().expect("run cargo build");
        assert!(st.success(), "cargo build of opendesk-render failed");
        let b = profile_dir.join(format!("opendesk-render{}", std::env::consts::EXE_SUFFIX));
        assert!(b.is_file(), "{} not built", b.display());
        b
    })
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Terminating signal, if any.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Panic with the whole outcome unless the run ended with `code`, in time, without a panic
    /// message or a crash.
    pub fn expect(&self, what: &str, code: i32) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("stack overflow"),
            "{what}: the binary panicked or overflowed its stack:\n{}",
            self.stderr
        );
        assert_eq!(
            self.signal, None,
            "{what}: killed by signal {:?} (stack overflow or memory limit?)\n{}",
            self.signal, self.stderr
        );
        assert_eq!(
            self.code,
            Some(code),
            "{what}: exit code\nstderr:\n{}\nstdout:\n{}",
            self.stderr,
            short(&self.stdout)
        );
        assert!(
            self.elapsed < time_bound(),
            "{what}: took {:?}, bound {:?}\n{}",
            self.elapsed,
            time_bound(),
            self.stderr
        );
        self
    }

    /// Panic unless stderr contains `needle`.
    pub fn stderr_has(&self, what: &str, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "{what}: stderr lacks {needle:?}:\n{}", short(&self.stderr));
        self
    }
}

fn short(s: &str) -> String {
    if s.len() <= 4000 {
        return s.to_string();
    }
    let mut end = 4000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Start the binary under `ulimit -v` (RLIMIT_AS) with the given args; stdout and stderr are
/// piped. Extra env vars are set on top of the inherited environment.
pub fn spawn(args: &[&OsStr], env: &[(&str, &str)]) -> Child {
    spawn_timed(args, env).0
}

/// [`spawn`], and the instant the child was started: the binary is located (and built, the
/// first time) before the clock starts, so a bound measured from it covers the child only.
pub fn spawn_timed(args: &[&OsStr], env: &[(&str, &str)]) -> (Child, Instant) {
    let mut cmd = limited(bin(), args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    (cmd.spawn().expect("spawn opendesk-render"), start)
}

/// A command running `program args…` under a 1 GiB address-space limit (`sh -c 'ulimit -v'`).
pub fn limited(program: &Path, args: &[&OsStr]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", MEMORY_LIMIT_BYTES / 1024))
        .arg(program)
        .args(args)
        // Fewer malloc arenas: each thread's arena reserves address space, not memory.
        .env("MALLOC_ARENA_MAX", "2")
        .env("NO_COLOR", "1");
    cmd
}

/// Run the binary to completion (killed after a hard deadline of 2× the time bound, so a
/// hang fails [`Outcome::expect`] instead of blocking the suite).
pub fn run(args: &[&OsStr]) -> Outcome {
    run_env(args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env(args: &[&OsStr], env: &[(&str, &str)]) -> Outcome {
    let (child, start) = spawn_timed(args, env);
    wait(child, start, time_bound() * 2)
}

/// Wait for a child (reading its pipes on threads), killing it at `deadline` after `start`.
pub fn wait(mut child: Child, start: Instant, deadline: Duration) -> Outcome {
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = None;
    Outcome { code: status.code(), signal, stdout, stderr, elapsed }
}

/// Convenience: `&str` args as `&OsStr`.
pub fn args<'a>(v: &'a [&'a str]) -> Vec<&'a OsStr> {
    v.iter().map(OsStr::new).collect()
}

/// A directory under the system temp dir, removed (after restoring permissions) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "odr-e2e-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        #[cfg(unix)]
        fn open_up(p: &Path) {
            use std::os::unix::fs::PermissionsExt;
            let Ok(md) = std::fs::symlink_metadata(p) else { return };
            if md.file_type().is_symlink() {
                return;
            }
            let _ =
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(if md.is_dir() { 0o755 } else { 0o644 }));
            if md.is_dir() {
                if let Ok(rd) = std::fs::read_dir(p) {
                    for e in rd.flatten() {
                        open_up(&e.path());
                    }
                }
            }
        }
        #[cfg(unix)]
        open_up(&self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Write `bytes` to `dir/rel`, creating parents.
pub fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("create parents");
    std::fs::write(&p, bytes).expect("write file");
    p
}

/// Every file under `dir` (relative path → bytes); symlinks are not followed, hidden entries
/// included.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    opendesk_render::output::write::read_tree(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
}

/// Names in `dir` that start with `.` (temp dirs of the atomic write and the like).
pub fn hidden_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The smallest instance config an input dir renders with (`--config`): the openDesk
/// version, the instance and its namespace.
pub const MIN_CONFIG: &str = "opendeskVersion: 1.13.1\ninstance: acme\nnamespace: opendesk\n";

/// A ConfigMap `name` (one data key), in `namespace` when given.
pub fn config_map(name: &str, namespace: Option<&str>) -> String {
    let ns = namespace.map(|n| format!("  namespace: {n}\n")).unwrap_or_default();
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{ns}data:\n  a: b\n")
}

/// The arguments of one `render` of the binary: `render INPUT --out OUT`, `--no-patches` when
/// asked, `--config FILE` unless the extra arguments give their own, then the extra arguments.
#[derive(Debug, Clone)]
pub struct RenderArgs {
    input: std::ffi::OsString,
    out: std::ffi::OsString,
    no_patches: bool,
    config: Option<std::ffi::OsString>,
    extra: Vec<std::ffi::OsString>,
}

impl RenderArgs {
    /// `render input --out out`, nothing else.
    pub fn new(input: &Path, out: &Path) -> Self {
        RenderArgs {
            input: input.as_os_str().to_owned(),
            out: out.as_os_str().to_owned(),
            no_patches: false,
            config: None,
            extra: Vec::new(),
        }
    }

    /// Render with the bundled patch set off (`--no-patches`).
    pub fn no_patches(mut self) -> Self {
        self.no_patches = true;
        self
    }

    /// The default `--config` (left out when the extra arguments have a `--config`).
    pub fn config(mut self, file: &Path) -> Self {
        self.config = Some(file.as_os_str().to_owned());
        self
    }

    /// Arguments after the others, in order.
    pub fn extra<S: AsRef<OsStr>>(mut self, args: &[S]) -> Self {
        self.extra.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The whole argument list.
    pub fn to_vec(&self) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> =
            vec!["render".into(), self.input.clone(), "--out".into(), self.out.clone()];
        if self.no_patches {
            a.push("--no-patches".into());
        }
        if let Some(c) = self.config.as_ref().filter(|_| !self.extra.iter().any(|x| x == "--config")) {
            a.extend(["--config".into(), c.clone()]);
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Run it ([`run`]).
    pub fn run(&self) -> Outcome {
        self.run_env(&[])
    }

    /// Run it with extra environment variables ([`run_env`]).
    pub fn run_env(&self, env: &[(&str, &str)]) -> Outcome {
        let v = self.to_vec();
        let a: Vec<&OsStr> = v.iter().map(|s| s.as_os_str()).collect();
        run_env(&a, env)
    }
}

/// A scratch dir with an input dir (`in/`, empty) and [`MIN_CONFIG`] as `instance.yaml`.
pub struct Scene {
    /// The scratch dir (removed on drop).
    pub tmp: TempDir,
    /// `tmp/in`.
    pub input: PathBuf,
    /// `tmp/instance.yaml`.
    pub config: PathBuf,
}

impl Scene {
    /// A fresh scene; `tag` names its dir.
    pub fn new(tag: &str) -> Self {
        let tmp = TempDir::new(tag);
        let input = tmp.join("in");
        std::fs::create_dir_all(&input).expect("create the input dir");
        let config = write(tmp.path(), "instance.yaml", MIN_CONFIG);
        Scene { tmp, input, config }
    }

    /// Write `in/<rel>`; its full path.
    pub fn file(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        write(&self.input, rel, bytes)
    }

    /// `render INPUT --out OUT --no-patches --config instance.yaml`, to add to.
    pub fn args(&self, input: &Path, out: &Path) -> RenderArgs {
        RenderArgs::new(input, out).no_patches().config(&self.config)
    }

    /// [`Scene::args`] of the scene's input.
    pub fn render_args(&self, out: &Path) -> RenderArgs {
        self.args(&self.input, out)
    }

    /// Run `args`, expect exit `code` with every needle in stderr and the scratch dir
    /// byte-identical afterwards (every file hashed before and after).
    pub fn refused<S: AsRef<OsStr>>(&self, what: &str, code: i32, args: &[S], needles: &[&str]) -> Outcome {
        let before = snapshot(self.tmp.path());
        let a: Vec<&OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let o = run(&a);
        o.expect(what, code);
        for n in needles {
            o.stderr_has(what, n);
        }
        assert_eq!(snapshot(self.tmp.path()), before, "{what}: files changed");
        eprintln!(
            "{what}: exit {code}: {}",
            o.stderr.lines().find(|l| l.to_lowercase().starts_with("error")).or(o.stderr.lines().next()).unwrap_or("")
        );
        o
    }
}

/// Copy `from` to `to` recursively: directories and regular files (symlinks are left out).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's dir");
    for e in std::fs::read_dir(from).expect("read the dir to copy").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            copy_dir(&src, &dst);
        } else if ft.is_file() {
            std::fs::copy(&src, &dst).expect("copy a file");
        }
    }
}

/// Make a FIFO at `p`.
#[cfg(unix)]
pub fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", p.display());
}

/// A sparse file of `len` bytes at `p` (parents created): its size says `len`, no byte is
/// written and none is on disk.
pub fn sparse(p: &Path, len: u64) -> PathBuf {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("create parents");
    std::fs::File::create(p).expect("create").set_len(len).expect("set_len");
    p.to_path_buf()
}
