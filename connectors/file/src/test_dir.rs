//! A temporary directory for tests, removed at the end.

use std::path::PathBuf;

/// A directory of its own for each test, removed at the end.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// `connect-file-<kind>-<name>-<pid>` under the system's temporary directory, empty.
    pub(crate) fn new(kind: &str, name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("connect-file-{kind}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// A path inside the directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
