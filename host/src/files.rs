//! Reading a file the host is told to read (a component, a manifest, a pipeline, a run's
//! input) with a bound: regular files only, never more than a cap.
//!
//! Why: `component = "/dev/zero"` read without end (4.2 GB in 9 s), a FIFO hung the
//! host forever, `--input /dev/zero` grew without bound. So the file is opened without
//! blocking (a FIFO with no writer cannot hang the open), checked on the open handle (no
//! window to swap the path between the check and the read), and read through a
//! `take(cap + 1)`, so even a file that grows while read costs at most cap + 1 bytes.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest file of its own the CLI reads (a manifest, a pipeline, a run's input, a
/// dry-run's context): far above any real one, far below what would hurt the host.
pub const CLI_FILE_MAX_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file does not exist")]
    Missing,
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is larger than the limit of {limit} ({max_bytes} bytes)")]
    TooLarge { max_bytes: u64, limit: String },
    #[error("cannot read it: {0}")]
    Io(std::io::Error),
}

impl From<FileError> for std::io::Error {
    /// For callers whose errors carry an `io::Error`; the message says what is wrong.
    fn from(e: FileError) -> Self {
        // The message as text, not as a source: `{:#}` chains would say it twice.
        match e {
            FileError::Missing => std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()),
            FileError::Io(io) => io,
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// Read the regular file at `path` whole, refusing anything else and anything over
/// `max_bytes`; `limit` names the limit in the message (`component-mib = 256`).
pub fn read(path: &Path, max_bytes: u64, limit: &str) -> Result<Vec<u8>, FileError> {
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path).map_err(
            |e| match e.kind() {
                std::io::ErrorKind::NotFound => FileError::Missing,
                _ => FileError::Io(e),
            },
        )?;
    let meta = file.metadata().map_err(FileError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(FileError::NotRegular(if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        }));
    }
    let too_large = || FileError::TooLarge { max_bytes, limit: limit.to_string() };
    if meta.len() > max_bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    read_up_to(file, max_bytes.saturating_add(1), &mut bytes).map_err(FileError::Io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read`] for text files; invalid UTF-8 is an error.
pub fn read_text(path: &Path, max_bytes: u64, limit: &str) -> Result<String, FileError> {
    let bytes = read(path, max_bytes, limit)?;
    String::from_utf8(bytes)
        .map_err(|e| FileError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error())))
}

/// A file the CLI reads for itself, with [`CLI_FILE_MAX_BYTES`] as its cap.
pub fn read_cli_text(path: &Path) -> std::io::Result<String> {
    Ok(read_text(path, CLI_FILE_MAX_BYTES, "256 MiB for a file troupe reads")?)
}

fn read_up_to(file: File, max: u64, into: &mut Vec<u8>) -> std::io::Result<()> {
    // The non-blocking flag only mattered for opening; a regular file reads the same.
    file.take(max).read_to_end(into).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_oversize_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read(Path::new("/dev/zero"), 10, "x"), Err(FileError::NotRegular("a character device"))));
        assert!(matches!(read(dir.path(), 10, "x"), Err(FileError::NotRegular("a directory"))));
        let big = dir.path().join("big");
        std::fs::write(&big, [0u8; 11]).unwrap();
        let err = read(&big, 10, "ten bytes").unwrap_err();
        assert_eq!(err.to_string(), "it is larger than the limit of ten bytes (10 bytes)");
        assert_eq!(read(&big, 11, "x").unwrap().len(), 11);
        assert!(matches!(read(&dir.path().join("none"), 10, "x"), Err(FileError::Missing)));
    }
}
