//! The key that authenticates the compile cache's artifacts.
//!
//! Why outside the cache: whoever can write the cache directory (a shared
//! `TROUPE_CACHE_DIR`, a cache restored by CI) must not also be able to read the key,
//! or they could tag machine code of their own. So it lives in the user's state
//! directory, is created owner-only (0600, in a 0700 directory) from the system's random
//! source, and a key file that others could read or replace is refused.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `$TROUPE_CACHE_KEY` (a file path), else `$XDG_STATE_HOME/troupe/cache.key`, else
/// `~/.local/state/troupe/cache.key`.
pub(crate) fn default_file() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("TROUPE_CACHE_KEY") {
        return Some(PathBuf::from(file));
    }
    let state = match std::env::var_os("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local").join("state"),
    };
    Some(state.join("troupe").join("cache.key"))
}

pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The key in `file`, created first if there is none.
pub(crate) fn load_or_create(file: &Path) -> Result<[u8; 32], String> {
    let shown = file.display();
    if !file.exists() {
        create(file).map_err(|e| format!("cannot create the cache key {shown}: {e}"))?;
    }
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read the cache key {shown}: {e}"))?;
    let me = effective_uid();
    if !meta.is_file() || meta.uid() != me {
        return Err(format!("the cache key {shown} is not a file owned by this user (uid {me})"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "the cache key {shown} is open to others (mode {:o}); delete it (a new one is made) or `chmod 600` it",
            meta.mode() & 0o7777
        ));
    }
    let mut key = [0u8; 32];
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(33).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read the cache key {shown}: {e}"))?;
    if bytes.len() != key.len() {
        return Err(format!("the cache key {shown} is not 32 bytes; delete it (a new one is made)"));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Write a fresh random key to a private temporary file, then link it into place, so
/// that two processes creating it at once agree on one key and none reads a half one.
fn create(file: &Path) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let tmp = dir.join(format!(".cache.key.{}.tmp", std::process::id()));
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    out.write_all(&key)?;
    out.sync_all()?;
    let linked = std::fs::hard_link(&tmp, file);
    std::fs::remove_file(&tmp)?;
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_is_made_owner_only_once_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/troupe/cache.key");
        let key = load_or_create(&file).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&file).unwrap(), key, "the same key next time");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&file).unwrap_err();
        assert!(err.contains("is open to others (mode 644)"), "{err}");
    }
}
