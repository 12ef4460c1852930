//! Writing a file so that a crash leaves either the old or the new contents, never a mix.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::StoreError;

/// Writes `contents` to a temporary file beside `path`, syncs it, and renames it over `path`.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let error = |source| StoreError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(error)?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    let mut file = File::create(tmp).map_err(error)?;
    file.write_all(contents).map_err(error)?;
    file.sync_all().map_err(error)?;
    fs::rename(tmp, path).map_err(error)?;
    // The rename itself is durable once the directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
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
}
