//! One worker per state file: an exclusive advisory lock on `<state file>.lock`, taken before
//! the state file is read and held for as long as the store lives.
//!
//! Two workers on the same files would both run every connector (a sink writes each record
//! twice) and overwrite each other's configurations. The operating system releases the lock
//! when the process dies, however it dies, so a worker killed with SIGKILL does not block its
//! restart. The lock file stays behind (deleting it would let a third worker lock a new file
//! while a second one still holds the old); it holds who locked it last.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::file::{create_parent, make_private, private_options};
use super::StoreError;

/// The lock of one state file; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StateFileLock {
    path: PathBuf,
    /// Holds the lock: closing the file releases it.
    _file: File,
}

impl StateFileLock {
    /// Locks `state_file` for this process, or fails at once naming the file and the process
    /// that holds it. `holder` says who this process is (e.g. the worker's REST address); it
    /// goes into the lock file with the pid and host, for a second worker's error message.
    pub fn acquire(state_file: &Path, holder: &str) -> Result<Self, StoreError> {
        let path = lock_path(state_file);
        let error = |source| StoreError::Write {
            path: path.display().to_string(),
            source,
        };
        create_parent(&path)?;
        // Not truncated on open: until it is locked, it names the worker that holds it.
        let mut file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                // What a worker wrote is one short line; more is not worth showing.
                let holder = match text.trim() {
                    "" => "a process that has not said who it is".to_owned(),
                    text => text.chars().take(200).collect(),
                };
                return Err(StoreError::Locked {
                    path: state_file.display().to_string(),
                    lock: path.display().to_string(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Lock {
                    path: path.display().to_string(),
                    source,
                })
            }
        }
        make_private(&path)?;
        let this = describe(holder);
        file.set_len(0).map_err(error)?;
        file.rewind().map_err(error)?;
        file.write_all(format!("{this}\n").as_bytes())
            .map_err(error)?;
        Ok(Self { path, _file: file })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<state file>.lock`.
fn lock_path(state_file: &Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// "pid 1234 on host h, <holder>".
fn describe(holder: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".to_owned());
    let mut text = format!("pid {} on host {host}", std::process::id());
    if !holder.is_empty() {
        text.push_str(", ");
        text.push_str(holder);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_file_and_the_holder_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("connect-lock-{}", std::process::id()));
        let state = dir.join("offsets.json");
        let first = StateFileLock::acquire(&state, "REST API 127.0.0.1:1").unwrap();
        assert_eq!(first.path(), dir.join("offsets.json.lock"));
        #[cfg(unix)]
        assert_eq!(super::super::file::mode_of(first.path()), 0o600);

        // A second open of the lock file is a lock of its own, as in another process.
        let err = StateFileLock::acquire(&state, "other")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&state.display().to_string()), "{err}");
        assert!(err.contains("offsets.json.lock"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("REST API 127.0.0.1:1"), "{err}");

        drop(first);
        let again = StateFileLock::acquire(&state, "again").unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.ends_with(", again\n"), "{text}");
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
