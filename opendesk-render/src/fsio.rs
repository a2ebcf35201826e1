//! Reading input files safely: regular files only, symlinks only inside their root.
//!
//! Every file the renderer reads (input documents, the instance config, patch files, the
//! release graph, the trees `diff` compares) goes through [`read_regular`]: it opens the path
//! without blocking (`O_NONBLOCK`, so a FIFO cannot hang the open), checks the opened file's type
//! with `fstat` and refuses anything that is not a regular file (FIFO, character or block device,
//! socket, directory) before a single byte is read. Checking the opened descriptor, not the path,
//! leaves no window between the check and the read.
//!
//! Trees (the input dir, a patch dir, `diff` trees) are walked with [`check_link`] on every
//! symlink: a link is followed only while its target stays inside the tree's root (resolved once
//! with [`canonical_root`]); a link out of it (`/etc/passwd`, `/dev/zero`, another checkout) is an
//! error naming the link and its target, and the target is never opened.

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use thiserror::Error;

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
    #[error("{path}: {bytes} bytes or more: larger than the limit of this read")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least).
        bytes: u64,
    },
}

impl FileError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
        move |source| FileError::Io { path: path.to_path_buf(), source }
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

/// Read a whole regular file into `buf` (cleared first); see [`open_regular`].
pub fn read_regular_into(path: &Path, buf: &mut Vec<u8>) -> Result<(), FileError> {
    buf.clear();
    let mut f = open_regular(path)?;
    f.read_to_end(buf).map_err(FileError::io(path))?;
    Ok(())
}

/// [`read_regular_into`] of a file of at most `max` bytes: a larger one is refused from its
/// `fstat` size before a byte is read ([`FileError::TooLarge`]), and the read stops after
/// `max + 1` bytes whatever the size said (a file that grows while it is read).
pub fn read_regular_into_max(path: &Path, buf: &mut Vec<u8>, max: u64) -> Result<(), FileError> {
    buf.clear();
    let f = open_regular(path)?;
    let len = f.metadata().map_err(FileError::io(path))?.len();
    if len > max {
        return Err(FileError::TooLarge { path: path.to_path_buf(), bytes: len });
    }
    buf.reserve_exact(len as usize);
    f.take(max + 1).read_to_end(buf).map_err(FileError::io(path))?;
    if buf.len() as u64 > max {
        let bytes = buf.len() as u64;
        *buf = Vec::new();
        return Err(FileError::TooLarge { path: path.to_path_buf(), bytes });
    }
    Ok(())
}

/// Read a whole regular file as UTF-8 text; see [`open_regular`].
pub fn read_regular_string(path: &Path) -> Result<String, FileError> {
    let mut buf = Vec::new();
    read_regular_into(path, &mut buf)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_only_and_links_inside_the_root() {
        let d = std::env::temp_dir().join(format!("odr-fsio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("root/sub")).unwrap();
        std::fs::write(d.join("root/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(d.join("outside.yaml"), "secret\n").unwrap();
        assert_eq!(read_regular_string(&d.join("root/a.yaml")).unwrap(), "a: 1\n");
        let e = read_regular_string(&d.join("root/sub")).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        #[cfg(unix)]
        {
            let e = read_regular_string(Path::new("/dev/null")).unwrap_err();
            assert!(e.to_string().contains("character device"), "{e}");
            let fifo = d.join("root/fifo.yaml");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let e = read_regular_string(&fifo).unwrap_err();
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
}
