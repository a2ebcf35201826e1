//! Atomic replacement of the output directory.
//!
//! [`write_tree`] builds the whole tree in a temp dir `.<name>.tmp-<pid>-<n>` beside `--out`
//! (same file system, so renames are atomic), fsyncs every file and directory, then swaps it in:
//! the old `--out` is renamed aside to `.<name>.tmp-<pid>-<n>.old`, the new tree renamed to
//! `--out`, the old one removed. Any failure before the swap removes the temp dir and leaves an
//! existing `--out` byte-identical; a failure of the second rename renames the old tree back.
//!
//! A process killed mid-way leaves a `.<name>.tmp-*` dir behind. The next write removes such
//! dirs of processes that are no longer running (never its own, never a live one), and if it
//! finds `--out` missing but an `.old` dir of a dead process (killed between the two renames),
//! it first restores that. These dirs are hidden, sit beside `--out`, and are never read as
//! output (the loader skips dot entries too).
//!
//! The swap is two renames, not one: between them `--out` is briefly absent. Readers that need
//! a never-absent path should point at a symlink they flip themselves.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Writing the output failed; nothing was changed (see the module docs).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An I/O error at `path`.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `--out` exists and is not a directory (or is a symlink): refusing to replace it.
    #[error("{0}: exists and is not a directory (or is a symlink); refusing to replace it")]
    NotADirectory(PathBuf),
    /// A parent of `--out` (or `--secrets-out`) exists and is not a directory.
    #[error("{0}: exists and is not a directory, so nothing can be created below it")]
    ParentNotADirectory(PathBuf),
    /// `--out` has no usable name or parent (`/`, `..`).
    #[error("{0}: cannot be used as an output directory")]
    BadOut(PathBuf),
    /// A file path of the tree that is absolute or leaves the tree.
    #[error("output file path {0:?} must be relative and stay inside the output tree")]
    BadPath(PathBuf),
    /// `--out` exists, is not empty and holds no `render-meta.yaml`: it is not an output tree
    /// of this tool, so replacing it could delete someone's data.
    #[error(
        "--out {out}: exists, is not empty and is not an output tree of opendesk-render (no render-meta.yaml; it \
         holds {found}); refusing to replace it. Pass an absent or empty directory, or the --out of an earlier render"
    )]
    NotOwned {
        /// The output dir.
        out: PathBuf,
        /// A few of its entries, for the message.
        found: String,
    },
    /// `--out` is, contains or lies inside one of the render's inputs.
    #[error("--out {out} {how} the {what} {input}: the render would replace (or read back) its own input; choose an --out outside it")]
    OverlapsInput {
        /// The output dir.
        out: PathBuf,
        /// `is`, `contains` or `lies inside`.
        how: &'static str,
        /// `input dir`, `config file`, `patch dir`, `release graph`.
        what: &'static str,
        /// The input path.
        input: PathBuf,
    },
    /// `--secrets-out` points into `--out` (or into its temp dirs).
    #[error(
        "--secrets-out {secrets} is inside --out {out}: the secret payload must never be written into the output tree"
    )]
    SecretsInsideOut {
        /// The secrets file.
        secrets: PathBuf,
        /// The output dir.
        out: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io { path: path.to_path_buf(), source }
}

/// Make `p` absolute and remove `.` and `..` lexically.
pub fn normalize(p: &Path) -> io::Result<PathBuf> {
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    Ok(out)
}

/// `p` with symlinks of its longest existing ancestor resolved.
fn resolve(p: &Path) -> io::Result<PathBuf> {
    let p = normalize(p)?;
    let mut existing = p.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut r = fs::canonicalize(&existing).unwrap_or(existing);
    for n in rest.into_iter().rev() {
        r.push(n);
    }
    Ok(r)
}

fn split_out(out: &Path) -> Result<(PathBuf, PathBuf, String), WriteError> {
    let abs = normalize(out).map_err(io_err(out))?;
    let name = abs.file_name().and_then(|n| n.to_str()).map(str::to_string);
    match (abs.parent(), name) {
        (Some(parent), Some(name)) if !name.is_empty() => Ok((abs.clone(), parent.to_path_buf(), name)),
        _ => Err(WriteError::BadOut(out.to_path_buf())),
    }
}

fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// Refuse a `--secrets-out` inside `--out` (after resolving `..` and symlinks), or inside one
/// of `--out`'s temp dirs.
pub fn check_secrets_out(out: &Path, secrets_out: &Path) -> Result<(), WriteError> {
    let (_, parent, name) = split_out(out)?;
    let o = resolve(out).map_err(io_err(out))?;
    let s = resolve(secrets_out).map_err(io_err(secrets_out))?;
    let bad = || WriteError::SecretsInsideOut { secrets: secrets_out.to_path_buf(), out: out.to_path_buf() };
    if s.starts_with(&o) {
        return Err(bad());
    }
    let rp = resolve(&parent).map_err(io_err(&parent))?;
    if let Ok(rest) = s.strip_prefix(&rp) {
        if let Some(Component::Normal(first)) = rest.components().next() {
            if first.to_string_lossy().starts_with(&temp_prefix(&name)) {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// Refuse an `--out` that is not ours to replace: it must be absent, an empty directory, or a
/// directory holding `render-meta.yaml` (an output tree of this tool). A symlink or a file is
/// refused too ([`WriteError::NotADirectory`]).
pub fn check_out_owned(out: &Path) -> Result<(), WriteError> {
    let md = match fs::symlink_metadata(out) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(WriteError::Io { path: out.to_path_buf(), source: e }),
    };
    if !md.is_dir() {
        return Err(WriteError::NotADirectory(out.to_path_buf()));
    }
    let meta = out.join(super::META_FILE);
    if fs::symlink_metadata(&meta).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    let mut names: Vec<String> = fs::read_dir(out)
        .map_err(io_err(out))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    let n = names.len();
    let mut found: String = names.iter().take(3).map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    if n > 3 {
        found.push_str(&format!(" and {} more", n - 3));
    }
    Err(WriteError::NotOwned { out: out.to_path_buf(), found })
}

/// Refuse an `--out` that is, contains or lies inside one of `inputs` (`(what, path)`:
/// `("input dir", …)`, `("config file", …)`, …), after resolving `.`, `..` and symlinks of
/// the existing part of each path. Replacing such an `--out` would delete the input (its `.git`
/// included), and an output inside the input would be read back by the next render.
pub fn check_out_disjoint(out: &Path, inputs: &[(&'static str, &Path)]) -> Result<(), WriteError> {
    let o = resolve(out).map_err(io_err(out))?;
    for (what, p) in inputs {
        let r = resolve(p).map_err(io_err(p))?;
        let how = if r == o {
            "is"
        } else if r.starts_with(&o) {
            "contains"
        } else if o.starts_with(&r) {
            "lies inside"
        } else {
            continue;
        };
        return Err(WriteError::OverlapsInput { out: out.to_path_buf(), how, what, input: p.to_path_buf() });
    }
    Ok(())
}

/// The releases of the output tree at `out` (the folder names under `releases/`), sorted; empty
/// when there is no tree yet.
pub fn previous_releases(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(out.join(super::RELEASES_DIR))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Write the secret payload to `secrets_out` (mode 0600, via a temp file and rename), after
/// checking that it is not inside `out`.
pub fn write_secrets_file(out: &Path, secrets_out: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    stage_secrets_file(out, secrets_out, bytes)?.commit()
}

/// A secret payload written and synced to a temp file beside `--secrets-out` (mode 0600), not
/// yet renamed into place. [`StagedSecrets::commit`] renames it; dropping it uncommitted removes
/// the temp file. The CLI stages the payload before it swaps the output tree in and commits it
/// after, so a `--secrets-out` that cannot be written fails the render with nothing changed.
#[derive(Debug)]
pub struct StagedSecrets {
    tmp: PathBuf,
    dest: PathBuf,
    parent: PathBuf,
    shown: PathBuf,
    done: bool,
}

impl StagedSecrets {
    /// Rename the staged file into place.
    pub fn commit(mut self) -> Result<(), WriteError> {
        fs::rename(&self.tmp, &self.dest).map_err(io_err(&self.shown))?;
        self.done = true;
        sync_dir(&self.parent);
        Ok(())
    }
}

impl Drop for StagedSecrets {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Check `secrets_out` against `out`, write `bytes` to a synced temp file beside it and return
/// it staged (see [`StagedSecrets`]). Errors name `secrets_out`, not the temp file.
pub fn stage_secrets_file(out: &Path, secrets_out: &Path, bytes: &[u8]) -> Result<StagedSecrets, WriteError> {
    check_secrets_out(out, secrets_out)?;
    let abs = normalize(secrets_out).map_err(io_err(secrets_out))?;
    let (parent, name) = match (abs.parent(), abs.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_string_lossy().to_string()),
        _ => return Err(WriteError::BadOut(secrets_out.to_path_buf())),
    };
    if fs::metadata(&abs).is_ok_and(|m| m.is_dir()) {
        return Err(WriteError::Io {
            path: secrets_out.to_path_buf(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
        });
    }
    create_parent(&parent)?;
    let tmp = parent.join(format!(".{name}.tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io_err(secrets_out))?;
    let staged = StagedSecrets { tmp, dest: abs, parent, shown: secrets_out.to_path_buf(), done: false };
    f.write_all(bytes).map_err(io_err(secrets_out))?;
    if fsync_enabled() {
        f.sync_all().map_err(io_err(secrets_out))?;
    }
    Ok(staged)
}

/// `create_dir_all`, naming the ancestor that is in the way when one is not a directory.
fn create_parent(parent: &Path) -> Result<(), WriteError> {
    fs::create_dir_all(parent).map_err(|e| match parent.ancestors().find(|a| fs::metadata(a).is_ok()) {
        Some(a) if !a.is_dir() => WriteError::ParentNotADirectory(a.to_path_buf()),
        _ => WriteError::Io { path: parent.to_path_buf(), source: e },
    })
}

fn check_rel(p: &Path) -> Result<(), WriteError> {
    let ok = !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(WriteError::BadPath(p.to_path_buf()))
    }
}

/// False when `OPENDESK_RENDER_FSYNC=0`: no file or directory is synced (benchmarks, throwaway
/// trees). Every rename stays atomic against a killed process; only power-loss durability is
/// given up.
fn fsync_enabled() -> bool {
    std::env::var_os("OPENDESK_RENDER_FSYNC").is_none_or(|v| v != "0")
}

fn sync_dir(d: &Path) {
    if !fsync_enabled() {
        return;
    }
    // Directory fsync makes the renames durable; not supported everywhere, so best effort.
    if let Ok(f) = File::open(d) {
        let _ = f.sync_all();
    }
}

#[cfg(target_os = "linux")]
fn pid_alive(pid: u32) -> Option<bool> {
    Some(Path::new("/proc").join(pid.to_string()).exists())
}

#[cfg(not(target_os = "linux"))]
fn pid_alive(_pid: u32) -> Option<bool> {
    None
}

/// Parse `<pid>-<n>[.old]` after the temp prefix.
fn parse_temp(rest: &str) -> Option<(u32, bool)> {
    let (body, old) = match rest.strip_suffix(".old") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let (pid, n) = body.split_once('-')?;
    n.parse::<usize>().ok()?;
    Some((pid.parse().ok()?, old))
}

/// Remove stale temp dirs of `out` left by dead processes (restoring an `.old` one when `out`
/// is missing). Returns how many entries were removed or restored. Best effort: errors are
/// ignored, and entries of live processes (or of this one) are left alone.
pub fn clean_stale(out: &Path) -> usize {
    let Ok((abs, parent, name)) = split_out(out) else { return 0 };
    let prefix = temp_prefix(&name);
    let Ok(rd) = fs::read_dir(&parent) else { return 0 };
    let mut stale: Vec<(PathBuf, bool)> = Vec::new();
    for e in rd.flatten() {
        let fname = e.file_name().to_string_lossy().to_string();
        let Some((pid, old)) = fname.strip_prefix(&prefix).and_then(parse_temp) else { continue };
        if pid == std::process::id() {
            continue;
        }
        let dead = match pid_alive(pid) {
            Some(alive) => !alive,
            // Without a way to ask, only clean entries older than a day.
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 86_400),
        };
        if dead {
            stale.push((e.path(), old));
        }
    }
    stale.sort();
    let mut n = 0;
    for (p, old) in stale {
        if old && fs::symlink_metadata(&abs).is_err() && fs::rename(&p, &abs).is_ok() {
            sync_dir(&parent);
            n += 1;
            continue;
        }
        if fs::remove_dir_all(&p).is_ok() || fs::remove_file(&p).is_ok() {
            n += 1;
        }
    }
    n
}

/// Removes a directory on drop unless disarmed.
struct TempDir {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Atomically replace `out` with a directory holding exactly `files` (relative paths → text).
/// See the module docs for the guarantees.
pub fn write_tree(out: &Path, files: &BTreeMap<PathBuf, String>) -> Result<(), WriteError> {
    write_tree_with(out, files, &mut |_| Ok(()))
}

/// [`write_tree`] with a hook called after each file is written (index in `files`): tests use
/// it to inject failures or to pause for a kill.
#[doc(hidden)]
pub fn write_tree_with(
    out: &Path,
    files: &BTreeMap<PathBuf, String>,
    after_file: &mut (dyn FnMut(usize) -> io::Result<()> + Send),
) -> Result<(), WriteError> {
    for p in files.keys() {
        check_rel(p)?;
    }
    let (abs, parent, name) = split_out(out)?;
    if let Ok(md) = fs::symlink_metadata(&abs) {
        if !md.is_dir() {
            return Err(WriteError::NotADirectory(out.to_path_buf()));
        }
    }
    create_parent(&parent)?;
    clean_stale(&abs);

    let tag = format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let tmp = parent.join(format!("{}{tag}", temp_prefix(&name)));
    // Name --out in the error: the temp dir is an implementation detail.
    fs::create_dir(&tmp).map_err(io_err(&abs))?;
    let mut guard = TempDir { path: tmp.clone(), armed: true };

    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    dirs.insert(tmp.clone());
    for rel in files.keys() {
        let p = tmp.join(rel);
        if let Some(d) = p.parent() {
            if dirs.insert(d.to_path_buf()) {
                fs::create_dir_all(d).map_err(io_err(d))?;
                let mut a = d.parent();
                while let Some(x) = a.filter(|x| x.starts_with(&tmp) && *x != tmp) {
                    dirs.insert(x.to_path_buf());
                    a = x.parent();
                }
            }
        }
    }
    // File creation is kernel work (on ext4 about half a millisecond a file): the files are
    // written in parallel, into directories that all exist. The hook runs under a lock.
    let hook = std::sync::Mutex::new(after_file);
    let entries: Vec<(usize, (&PathBuf, &String))> = files.iter().enumerate().collect();
    entries.par_iter().with_min_len(8).try_for_each(|(i, (rel, text))| {
        let p = tmp.join(rel);
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&p).map_err(io_err(&p))?;
        f.write_all(text.as_bytes()).map_err(io_err(&p))?;
        let mut h = hook.lock().unwrap_or_else(|e| e.into_inner());
        (*h)(*i).map_err(io_err(&p))
    })?;
    // Make the contents durable before the swap. fsync is latency-bound, so the files are
    // synced in parallel after all were written (one pass instead of one stall per file).
    // `OPENDESK_RENDER_FSYNC=0` skips it (benchmarks, throwaway trees): the swap stays atomic
    // against a killed process, only power-loss durability is given up.
    if fsync_enabled() {
        // I/O-bound: more threads than cores helps; each syncs a contiguous slice.
        let keys: Vec<&PathBuf> = files.keys().collect();
        let per = keys.len().div_ceil(8).max(1);
        std::thread::scope(|sc| {
            let handles: Vec<_> = keys
                .chunks(per)
                .map(|chunk| {
                    let tmp = &tmp;
                    sc.spawn(move || {
                        for rel in chunk {
                            let p = tmp.join(rel);
                            fs::File::open(&p).and_then(|f| f.sync_all()).map_err(io_err(&p))?;
                        }
                        Ok::<(), WriteError>(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| h.join().unwrap_or(Ok(())))
        })?;
    }
    // Deepest first, so each directory's entries are durable before its parent's.
    for d in dirs.iter().rev() {
        sync_dir(d);
    }

    if fs::symlink_metadata(&abs).is_ok() {
        let aside = parent.join(format!("{}{tag}.old", temp_prefix(&name)));
        fs::rename(&abs, &aside).map_err(io_err(&abs))?;
        if let Err(e) = fs::rename(&tmp, &abs) {
            let _ = fs::rename(&aside, &abs);
            return Err(WriteError::Io { path: abs, source: e });
        }
        guard.armed = false;
        sync_dir(&parent);
        let _ = fs::remove_dir_all(&aside);
    } else {
        fs::rename(&tmp, &abs).map_err(io_err(&abs))?;
        guard.armed = false;
        sync_dir(&parent);
    }
    Ok(())
}

/// Read a directory tree into `relative path → bytes` (for tests, `diff` and checks). Hidden
/// entries are included; symlinks are not followed.
pub fn read_tree(dir: &Path) -> io::Result<BTreeMap<PathBuf, Vec<u8>>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) -> io::Result<()> {
        for e in fs::read_dir(d)? {
            let e = e?;
            let ft = e.file_type()?;
            let p = e.path();
            if ft.is_dir() {
                walk(root, &p, out)?;
            } else if ft.is_file() {
                out.insert(p.strip_prefix(root).unwrap_or(&p).to_path_buf(), fs::read(&p)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scratch;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
        pairs.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())).collect()
    }

    fn siblings(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces() {
        let s = Scratch::new("replace");
        let out = s.0.join("out");
        write_tree(&out, &files(&[("a/b.yaml", "b\n"), ("render-meta.yaml", "m\n")])).unwrap();
        write_tree(&out, &files(&[("c.yaml", "c\n")])).unwrap();
        let t = read_tree(&out).unwrap();
        assert_eq!(t.len(), 1, "old files are gone: {t:?}");
        assert_eq!(t[Path::new("c.yaml")], b"c\n");
        assert_eq!(siblings(&s.0), ["out"], "no temp dirs left");
    }

    #[test]
    fn failure_mid_way_leaves_old_tree_byte_identical() {
        let s = Scratch::new("fail");
        let out = s.0.join("out");
        write_tree(&out, &files(&[("releases/x/a.yaml", "old a\n"), ("render-meta.yaml", "old\n")])).unwrap();
        let before = read_tree(&out).unwrap();
        // `a.yaml` is written as a file, then `a.yaml/b.yaml` needs it to be a directory.
        let e = write_tree(&out, &files(&[("a.yaml", "1\n"), ("a.yaml/b.yaml", "2\n"), ("z.yaml", "3\n")]));
        assert!(e.is_err());
        assert_eq!(read_tree(&out).unwrap(), before);
        assert_eq!(siblings(&s.0), ["out"]);
        // An injected I/O error after some files.
        let many: BTreeMap<PathBuf, String> =
            (0..20).map(|i| (PathBuf::from(format!("f{i:02}.yaml")), "x\n".into())).collect();
        let e = write_tree_with(&out, &many, &mut |i| if i == 7 { Err(io::Error::other("disk full")) } else { Ok(()) })
            .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(read_tree(&out).unwrap(), before);
        assert_eq!(siblings(&s.0), ["out"]);
    }

    #[test]
    fn refuses_bad_paths_and_non_dirs() {
        let s = Scratch::new("bad");
        let out = s.0.join("out");
        for p in ["/etc/x", "../x", "a/../../x", ""] {
            let e = write_tree(&out, &files(&[(p, "x")])).unwrap_err();
            assert!(matches!(e, WriteError::BadPath(_)), "{p}: {e}");
        }
        assert!(!out.exists());
        fs::write(&out, "a file").unwrap();
        assert!(matches!(write_tree(&out, &files(&[("a", "x")])), Err(WriteError::NotADirectory(_))));
        assert_eq!(fs::read(&out).unwrap(), b"a file");
        assert!(matches!(write_tree(Path::new("/"), &files(&[("a", "x")])), Err(WriteError::BadOut(_))));
    }

    #[test]
    fn stale_temp_dirs_are_cleaned_and_old_tree_restored() {
        let s = Scratch::new("stale");
        let out = s.0.join("out");
        // A pid that cannot be alive (above pid_max).
        let dead = 4_194_399u32;
        let stale = s.0.join(format!(".out.tmp-{dead}-3"));
        fs::create_dir_all(stale.join("releases")).unwrap();
        fs::write(stale.join("releases/half.yaml"), "half").unwrap();
        // Killed between the renames: out missing, the old tree aside.
        let aside = s.0.join(format!(".out.tmp-{dead}-2.old"));
        fs::create_dir_all(&aside).unwrap();
        fs::write(aside.join("render-meta.yaml"), "previous").unwrap();
        // Unrelated dot dirs and our own in-flight dirs are left alone.
        let own = s.0.join(format!(".out.tmp-{}-999999", std::process::id()));
        fs::create_dir_all(&own).unwrap();
        fs::create_dir_all(s.0.join(".other.tmp-1-1")).unwrap();
        assert_eq!(clean_stale(&out), 2);
        assert_eq!(fs::read(out.join("render-meta.yaml")).unwrap(), b"previous");
        assert_eq!(
            siblings(&s.0),
            [".other.tmp-1-1".to_string(), format!(".out.tmp-{}-999999", std::process::id()), "out".into()]
        );
        fs::remove_dir_all(&own).unwrap();
        // write_tree cleans before writing, too.
        fs::create_dir_all(&stale).unwrap();
        write_tree(&out, &files(&[("a", "x")])).unwrap();
        assert_eq!(siblings(&s.0), [".other.tmp-1-1", "out"]);
    }

    #[test]
    fn out_must_be_owned_and_apart_from_inputs() {
        let s = Scratch::new("owned");
        let out = s.0.join("out");
        check_out_owned(&out).unwrap();
        fs::create_dir_all(&out).unwrap();
        check_out_owned(&out).unwrap();
        fs::write(out.join("README.md"), "mine").unwrap();
        let e = check_out_owned(&out).unwrap_err();
        assert!(matches!(e, WriteError::NotOwned { .. }), "{e}");
        assert!(e.to_string().contains("\"README.md\""), "{e}");
        fs::write(out.join(crate::output::META_FILE), "x").unwrap();
        check_out_owned(&out).unwrap();
        fs::write(s.0.join("file"), "x").unwrap();
        assert!(matches!(check_out_owned(&s.0.join("file")), Err(WriteError::NotADirectory(_))));

        let input = s.0.join("in");
        fs::create_dir_all(input.join("rel")).unwrap();
        let cases: [(&Path, &str); 4] =
            [(&input, "is"), (&s.0, "contains"), (&input.join("rel/out"), "lies inside"), (&input.join("."), "is")];
        for (o, how) in cases {
            let e = check_out_disjoint(o, &[("input dir", &input)]).unwrap_err();
            assert!(matches!(e, WriteError::OverlapsInput { how: h, .. } if h == how), "{}: {e}", o.display());
        }
        check_out_disjoint(&out, &[("input dir", &input), ("config file", &s.0.join("c.yaml"))]).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&input, s.0.join("link")).unwrap();
            assert!(check_out_disjoint(&s.0.join("link"), &[("input dir", &input)]).is_err());
        }
        assert_eq!(previous_releases(&out), Vec::<String>::new());
        fs::create_dir_all(out.join("releases/b")).unwrap();
        fs::create_dir_all(out.join("releases/a")).unwrap();
        assert_eq!(previous_releases(&out), ["a", "b"]);
    }

    #[test]
    fn secrets_out_must_not_be_inside_out() {
        let s = Scratch::new("secrets");
        let out = s.0.join("out");
        fs::create_dir_all(&out).unwrap();
        for inside in ["out/secrets.json", "out/sub/../secrets.json", "./out/x", "out"] {
            let p = s.0.join(inside);
            assert!(matches!(check_secrets_out(&out, &p), Err(WriteError::SecretsInsideOut { .. })), "{inside}");
        }
        assert!(check_secrets_out(&out, &s.0.join(".out.tmp-1-1/s.json")).is_err());
        // Through a symlink to out.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&out, s.0.join("link")).unwrap();
            assert!(check_secrets_out(&out, &s.0.join("link/s.json")).is_err());
            assert!(check_secrets_out(&s.0.join("link"), &out.join("s.json")).is_err());
        }
        check_secrets_out(&out, &s.0.join("secrets.json")).unwrap();
        check_secrets_out(&out, &s.0.join("out-secrets/s.json")).unwrap();
        write_secrets_file(&out, &s.0.join("secrets.json"), b"{}").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = fs::metadata(s.0.join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600);
        }
        assert!(write_secrets_file(&out, &out.join("s.json"), b"{}").is_err());
        assert!(!out.join("s.json").exists());
    }

    /// Child side of the kill test: writes slowly until killed.
    #[test]
    #[ignore = "run by kill_mid_write_leaves_old_tree as a child process"]
    fn kill_child_writer() {
        let Ok(out) = std::env::var("OPENDESK_KILL_CHILD_OUT") else { return };
        let many: BTreeMap<PathBuf, String> =
            (0..3_000).map(|i| (PathBuf::from(format!("releases/r/f{i:05}.yaml")), "new\n".into())).collect();
        let ready = PathBuf::from(format!("{out}.ready"));
        let _ = write_tree_with(Path::new(&out), &many, &mut |i| {
            if i == 5 {
                fs::write(&ready, "1")?;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(())
        });
    }

    #[test]
    fn kill_mid_write_leaves_old_tree() {
        let s = Scratch::new("kill");
        let out = s.0.join("out");
        write_tree(&out, &files(&[("releases/r/a.yaml", "old\n"), ("render-meta.yaml", "old meta\n")])).unwrap();
        let before = read_tree(&out).unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut child = std::process::Command::new(exe)
            .args(["--exact", "output::write::tests::kill_child_writer", "--ignored", "--nocapture"])
            .env("OPENDESK_KILL_CHILD_OUT", &out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ready = s.0.join("out.ready");
        let t0 = std::time::Instant::now();
        while !ready.exists() {
            assert!(t0.elapsed().as_secs() < 60, "child never started writing");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(read_tree(&out).unwrap(), before, "old tree intact after kill");
        let left: Vec<String> = siblings(&s.0).into_iter().filter(|n| n.starts_with(".out.tmp-")).collect();
        assert_eq!(left.len(), 1, "the killed writer left its temp dir: {left:?}");
        // The next write cleans it and is never confused by it.
        write_tree(&out, &files(&[("render-meta.yaml", "new meta\n")])).unwrap();
        assert_eq!(siblings(&s.0), ["out", "out.ready"]);
        assert_eq!(read_tree(&out).unwrap().len(), 1);
    }
}
