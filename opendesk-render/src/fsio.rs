//! Reading input files safely: regular files only, symlinks only inside their root.
//!
//! Every file the renderer reads (input documents, the instance config, patch files, the
//! release graph, the trees `diff` compares) goes through [`open_regular`]: it opens the path
//! without blocking (`O_NONBLOCK`, so a FIFO cannot hang the open), checks the opened file's type
//! with `fstat` and refuses anything that is not a regular file (FIFO, character or block device,
//! socket, directory) before a single byte is read. Checking the opened descriptor, not the path,
//! leaves no window between the check and the read.
//!
//! Every read is bounded ([`FileLimit`]): a file larger than its reader's limit is refused from
//! its `fstat` size before a byte is read, and no read takes more than the limit whatever the
//! size said ([`read_regular_into_max`], [`read_regular_max`], [`read_regular_string_max`]).
//! Config-like files (instance config, release graph, patch files, render-meta, runtime state)
//! have [`crate::limits::CONFIG_FILE`], data files (input documents, CRDs, a previous payload,
//! the files of a tree) [`crate::limits::INPUT_FILE`].
//!
//! Trees (the input dir, a patch dir, `diff` trees) are walked with [`check_link`] on every
//! symlink: a link is followed only while its target stays inside the tree's root (resolved once
//! with [`canonical_root`]); a link out of it (`/etc/passwd`, `/dev/zero`, another checkout) is an
//! error naming the link and its target, and the target is never opened.

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub use crate::limits::FileLimit;

/// A file that must not be read.
#[derive(Debug, Error)]
pub enum FileError {
    /// An I/O error at `path`.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Not a regular file (FIFO, device, socket, directory).
    #[error("{path}: is a {kind}, not a regular file; refusing to read it")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// `FIFO`, `character device`, …
        kind: &'static str,
    },
    /// A symlink whose target leaves the root it was found in.
    #[error(
        "{link}: symlink to {target} leaves {root}; only symlinks that stay inside it are followed (copy the file in \
         instead)"
    )]
    SymlinkOutside {
        /// The link.
        link: PathBuf,
        /// Where it points (resolved).
        target: PathBuf,
        /// The root it must stay inside.
        root: PathBuf,
    },
    /// A file larger than a reader's limit ([`read_regular_into_max`]): refused from its size
    /// before it is read, or when it grew past the limit while it was read.
    #[error(
        "{path}: {bytes} bytes or more: over the limit {} = {} bytes for {} (docs/robustness.md); refusing to \
         read it",
        .limit.name,
        .limit.bytes,
        .limit.what
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least).
        bytes: u64,
        /// The limit it is over.
        limit: FileLimit,
    },
}

impl FileError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
        move |source| FileError::Io { path: path.to_path_buf(), source }
    }

    /// The file the error is about (for a symlink, the link).
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. } | FileError::NotRegular { path, .. } | FileError::TooLarge { path, .. } => path,
            FileError::SymlinkOutside { link, .. } => link,
        }
    }

    /// The message without the leading `path: `, for an error type that prints the file itself
    /// (a config or patch error's `file: message`).
    pub fn reason(&self) -> String {
        let m = self.to_string();
        let prefix = format!("{}: ", self.path().display());
        match m.strip_prefix(&prefix) {
            Some(rest) => rest.to_string(),
            None => m,
        }
    }
}

/// What a file type is called in messages.
pub fn kind_name(ft: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// Refuse `md` (of `path`) unless it is a regular file.
pub fn require_regular(path: &Path, md: &Metadata) -> Result<(), FileError> {
    if md.is_file() {
        Ok(())
    } else {
        Err(FileError::NotRegular { path: path.to_path_buf(), kind: kind_name(md.file_type()) })
    }
}

/// Open `path` for reading without blocking on a FIFO, and refuse it unless the opened file is
/// a regular file.
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let f = o.open(path).map_err(FileError::io(path))?;
    let md = f.metadata().map_err(FileError::io(path))?;
    require_regular(path, &md)?;
    Ok(f)
}

/// Read a whole regular file of at most `limit.bytes` bytes into `buf` (cleared first; see
/// [`open_regular`]): a larger one is refused from its `fstat` size before a byte is read
/// ([`FileError::TooLarge`]), and the read stops after `limit.bytes + 1` bytes whatever the size
/// said (a file that grows while it is read).
pub fn read_regular_into_max(path: &Path, buf: &mut Vec<u8>, limit: FileLimit) -> Result<(), FileError> {
    buf.clear();
    let f = open_regular(path)?;
    let len = f.metadata().map_err(FileError::io(path))?.len();
    if len > limit.bytes {
        return Err(FileError::TooLarge { path: path.to_path_buf(), bytes: len, limit });
    }
    buf.reserve_exact(len as usize);
    f.take(limit.bytes.saturating_add(1)).read_to_end(buf).map_err(FileError::io(path))?;
    if buf.len() as u64 > limit.bytes {
        let bytes = buf.len() as u64;
        *buf = Vec::new();
        return Err(FileError::TooLarge { path: path.to_path_buf(), bytes, limit });
    }
    Ok(())
}

/// The bytes of a regular file of at most `limit.bytes` bytes; see [`read_regular_into_max`].
pub fn read_regular_max(path: &Path, limit: FileLimit) -> Result<Vec<u8>, FileError> {
    let mut buf = Vec::new();
    read_regular_into_max(path, &mut buf, limit)?;
    Ok(buf)
}

/// The UTF-8 text of a regular file of at most `limit.bytes` bytes; see
/// [`read_regular_into_max`].
pub fn read_regular_string_max(path: &Path, limit: FileLimit) -> Result<String, FileError> {
    let buf = read_regular_max(path, limit)?;
    String::from_utf8(buf).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        ),
    })
}

/// The root a tree's symlinks must stay inside: `dir` with every symlink resolved.
pub fn canonical_root(dir: &Path) -> Result<PathBuf, FileError> {
    std::fs::canonicalize(dir).map_err(FileError::io(dir))
}

/// A symlink `link` found under `root` (canonical, see [`canonical_root`]): its resolved target
/// when that stays inside `root`, else [`FileError::SymlinkOutside`]. A dangling link is an
/// I/O error naming the link.
pub fn check_link(root: &Path, link: &Path) -> Result<PathBuf, FileError> {
    let target = std::fs::canonicalize(link).map_err(FileError::io(link))?;
    if target.starts_with(root) {
        Ok(target)
    } else {
        Err(FileError::SymlinkOutside { link: link.to_path_buf(), target, root: root.to_path_buf() })
    }
}

/// [`check_link`] when `p` is a symlink: `Ok` when `p` is not one, or is one whose target stays
/// inside `root` (canonical); a missing `p` is `Ok` (its reader decides).
pub fn follow_inside(root: &Path, p: &Path) -> Result<(), FileError> {
    if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
        check_link(root, p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::CONFIG_FILE;

    #[test]
    fn regular_files_only_and_links_inside_the_root() {
        let d = std::env::temp_dir().join(format!("odr-fsio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("root/sub")).unwrap();
        std::fs::write(d.join("root/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(d.join("outside.yaml"), "secret\n").unwrap();
        assert_eq!(read_regular_string_max(&d.join("root/a.yaml"), CONFIG_FILE).unwrap(), "a: 1\n");
        let e = read_regular_string_max(&d.join("root/sub"), CONFIG_FILE).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        #[cfg(unix)]
        {
            let e = read_regular_string_max(Path::new("/dev/null"), CONFIG_FILE).unwrap_err();
            assert!(e.to_string().contains("character device"), "{e}");
            let fifo = d.join("root/fifo.yaml");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let e = read_regular_string_max(&fifo, CONFIG_FILE).unwrap_err();
            assert!(e.to_string().contains("is a FIFO"), "{e}");
            let root = canonical_root(&d.join("root")).unwrap();
            std::os::unix::fs::symlink("a.yaml", d.join("root/in.yaml")).unwrap();
            std::os::unix::fs::symlink("../outside.yaml", d.join("root/out.yaml")).unwrap();
            assert_eq!(check_link(&root, &d.join("root/in.yaml")).unwrap(), root.join("a.yaml"));
            let e = check_link(&root, &d.join("root/out.yaml")).unwrap_err().to_string();
            assert!(e.contains("out.yaml: symlink to") && e.contains("outside.yaml"), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_over_its_limit_is_refused_from_its_size() {
        let d = crate::testing::Scratch::new("fsio-max");
        let small = FileLimit { name: "SMALL", bytes: 10, what: "a test file" };
        let f = d.join("ten.yaml");
        std::fs::write(&f, "0123456789").unwrap();
        assert_eq!(read_regular_string_max(&f, small).unwrap(), "0123456789");
        // Sparse: no byte is written, and none is read.
        let big = d.join("big.yaml");
        File::create(&big).unwrap().set_len(CONFIG_FILE.bytes + 1).unwrap();
        let e = read_regular_max(&big, CONFIG_FILE).unwrap_err();
        assert!(matches!(&e, FileError::TooLarge { bytes, .. } if *bytes == CONFIG_FILE.bytes + 1), "{e}");
        let m = e.to_string();
        assert!(m.starts_with(&format!("{}: ", big.display())) && m.contains("MAX_CONFIG_BYTES = 16777216"), "{m}");
        assert_eq!(e.path(), big);
        assert!(e.reason().starts_with("16777217 bytes or more"), "{}", e.reason());
        std::fs::write(&f, "01234567890").unwrap();
        assert!(matches!(read_regular_max(&f, small), Err(FileError::TooLarge { bytes: 11, .. })));
    }
}
