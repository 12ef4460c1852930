//! Writing state files: readable by the worker's user only (they hold secrets and offsets),
//! and replaced so that a crash leaves either the old or the new contents, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::StoreError;

/// The mode of every state file: the worker's user reads and writes it, nobody else.
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// Options that create a file with [`PRIVATE_MODE`] (a file that exists keeps its mode; see
/// [`make_private`]).
pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_MODE);
    }
    options
}

/// Narrows the mode of an existing state file to [`PRIVATE_MODE`] (a file written by an older
/// worker, or loosened by hand), with a warning: the worker's files are private.
pub(crate) fn make_private(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let error = |source| StoreError::Write {
            path: path.display().to_string(),
            source,
        };
        let mode = match fs::metadata(path) {
            Ok(m) => m.permissions().mode() & 0o777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(error(e)),
        };
        if mode != PRIVATE_MODE {
            fs::set_permissions(path, fs::Permissions::from_mode(PRIVATE_MODE)).map_err(error)?;
            tracing::warn!(
                path = %path.display(),
                "the state file had mode {mode:o}; it is now {PRIVATE_MODE:o} (it may hold secrets)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the directory a state file goes in, when missing.
pub(crate) fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => fs::create_dir_all(dir).map_err(|source| StoreError::Write {
            path: path.display().to_string(),
            source,
        }),
        None => Ok(()),
    }
}

/// Writes `contents` to a temporary file beside `path` (mode [`PRIVATE_MODE`]), syncs it, and
/// renames it over `path`.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let error = |source| StoreError::Write {
        path: path.display().to_string(),
        source,
    };
    create_parent(path)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    // A temporary file left by a crash is removed rather than truncated: truncating would keep
    // its mode, which an older worker made world-readable.
    match fs::remove_file(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(error(e)),
        _ => {}
    }
    let mut file = private_options()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(error)?;
    file.write_all(contents).map_err(error)?;
    file.sync_all().map_err(error)?;
    fs::rename(tmp, path).map_err(error)?;
    sync_parent(path);
    Ok(())
}

/// Syncs the directory of `path`, which makes a rename or a new file in it durable.
pub(crate) fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

/// The file's contents, or `None` when it does not exist yet.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The permission bits of a file (tests).
#[cfg(all(test, unix))]
pub(crate) fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_contents_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("connect-store-{}", std::process::id()));
        let path = dir.join("nested/offsets.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(read_if_exists(&path).unwrap().unwrap(), b"two");
        assert!(!path.with_extension("json.tmp").exists());
        assert_eq!(read_if_exists(&dir.join("absent")).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_even_over_a_world_readable_leftover() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("connect-store-mode-{}", std::process::id()));
        let path = dir.join("configs.json");
        fs::create_dir_all(&dir).unwrap();
        // A temporary file left behind by a crashed older worker, readable by all.
        let tmp = dir.join("configs.json.tmp");
        fs::write(&tmp, b"old").unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(mode_of(&path), 0o600);
        write_atomically(&path, b"newer").unwrap();
        assert_eq!(mode_of(&path), 0o600);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        make_private(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        make_private(&dir.join("absent")).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
