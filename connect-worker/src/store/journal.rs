//! An append-only file of JSON lines: a change costs one line and one sync, however much state
//! there is. Replaced atomically by a compacted copy when the owner says so.
//!
//! Crash safety: an append is one write of whole lines followed by a sync, and only a synced
//! append is reported done. A crash during an append can leave a torn last line (a fragment,
//! garbage, or zeros the file system put where data never arrived); it was never reported
//! done, so it is dropped with a warning and cut off the file, and the lines before it are
//! kept. An unreadable line with good lines after it is not a crash's doing: that is an error
//! naming the line.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::file::{
    create_parent, make_private, private_options, read_if_exists, sync_parent, write_atomically,
};
use super::StoreError;

/// An open journal, positioned for appending.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Lines in the file.
    lines: usize,
    /// Bytes in the file: where a failed append is cut back to.
    len: u64,
    /// A failed append may have left part of a line that could not be cut off: the next change
    /// must rewrite the file instead of appending after it.
    damaged: bool,
}

impl Journal {
    /// Opens the journal at `path` (creating it when missing) and reads its entries in order.
    /// `looks_like_ours` tells a torn line of this journal from another kind of file: a
    /// file with no good line is dropped only when it looks like ours.
    pub(crate) fn open<T: DeserializeOwned>(
        path: &Path,
        looks_like_ours: impl Fn(&[u8]) -> bool,
    ) -> Result<(Self, Vec<T>), StoreError> {
        let existed = path.exists();
        let bytes = read_if_exists(path)?.unwrap_or_default();
        let (entries, good_len) = parse(path, &bytes, looks_like_ours)?;
        create_parent(path)?;
        let error = |source| StoreError::Write {
            path: path.display().to_string(),
            source,
        };
        let file = private_options()
            .append(true)
            .create(true)
            .open(path)
            .map_err(error)?;
        if good_len < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                line = entries.len() + 1,
                dropped_bytes = bytes.len() - good_len,
                "the last line of the journal is torn (the worker stopped while writing it); it is dropped, the lines before it are kept"
            );
            file.set_len(good_len as u64).map_err(error)?;
            file.sync_all().map_err(error)?;
        }
        make_private(path)?;
        if !existed {
            sync_parent(path);
        }
        let journal = Self {
            path: path.to_owned(),
            file,
            lines: entries.len(),
            len: good_len as u64,
            damaged: false,
        };
        Ok((journal, entries))
    }

    /// Lines in the journal.
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }

    /// Whether the next change must [`rewrite`](Self::rewrite) the journal rather than append.
    pub(crate) fn damaged(&self) -> bool {
        self.damaged
    }

    /// Appends `entries` (one line each) in one write and syncs them.
    pub(crate) fn append<T: Serialize>(&mut self, entries: &[T]) -> Result<(), StoreError> {
        let bytes = encode_lines(&self.path, entries)?;
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Cut off what part of the lines may have been written, so that the next append
            // does not continue a broken line; when that fails too, rewrite next time.
            let cut = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            self.damaged = cut.is_err();
            return Err(StoreError::Write {
                path: self.path.display().to_string(),
                source,
            });
        }
        self.lines += entries.len();
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Replaces the journal with `entries` (the compacted state), atomically.
    pub(crate) fn rewrite<T: Serialize>(&mut self, entries: &[T]) -> Result<(), StoreError> {
        let bytes = encode_lines(&self.path, entries)?;
        write_atomically(&self.path, &bytes)?;
        // The old handle points at the replaced file.
        self.file = private_options()
            .append(true)
            .open(&self.path)
            .map_err(|source| StoreError::Write {
                path: self.path.display().to_string(),
                source,
            })?;
        self.lines = entries.len();
        self.len = bytes.len() as u64;
        self.damaged = false;
        Ok(())
    }
}

/// `entries` as JSON lines.
pub(crate) fn encode_lines<T: Serialize>(
    path: &Path,
    entries: &[T],
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut bytes, entry).map_err(|e| StoreError::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// The entries of the good lines, and where the good lines end.
fn parse<T: DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
    looks_like_ours: impl Fn(&[u8]) -> bool,
) -> Result<(Vec<T>, usize), StoreError> {
    let mut entries = Vec::new();
    let mut good_len = 0;
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let Some(newline) = bytes[start..].iter().position(|b| *b == b'\n') else {
            // A last line without its newline: its append never completed.
            break;
        };
        let end = start + newline + 1;
        let line = bytes[start..end].trim_ascii();
        if !line.is_empty() {
            match serde_json::from_slice(line) {
                Ok(entry) => entries.push(entry),
                // The last line: an append that never completed.
                Err(_) if !bytes[end..].contains(&b'\n') => break,
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        path: path.display().to_string(),
                        message: format!(
                            "line {number}: {e} (a damaged line with good lines after it is not a torn write; repair or remove that line)"
                        ),
                    })
                }
            }
        }
        good_len = end;
        start = end;
    }
    let dropped = &bytes[good_len..];
    let zeros_or_blank = dropped.iter().all(|b| *b == 0 || b.is_ascii_whitespace());
    if entries.is_empty() && !zeros_or_blank && !looks_like_ours(dropped) {
        return Err(StoreError::Corrupt {
            path: path.display().to_string(),
            message: "it is not a journal this worker wrote (no line of it reads as one)".into(),
        });
    }
    Ok((entries, good_len))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::task::testkit::TestDir;

    /// A path of its own for each test, no file there yet, in a directory removed when the
    /// returned guard drops.
    fn temp(name: &str) -> (TestDir, PathBuf) {
        let dir = TestDir::new(&format!("journal-{name}"));
        let path = dir.0.join(name);
        (dir, path)
    }

    fn ours(bytes: &[u8]) -> bool {
        bytes.starts_with(b"{\"n\":")
    }

    fn open(path: &Path) -> Result<(Journal, Vec<Value>), StoreError> {
        Journal::open(path, ours)
    }

    #[test]
    fn appends_are_replayed_in_order_and_a_rewrite_replaces_them() {
        let (_dir, path) = temp("append.jsonl");
        let (mut journal, entries) = open(&path).unwrap();
        assert!(entries.is_empty());
        journal.append(&[json!({"n": 1}), json!({"n": 2})]).unwrap();
        journal.append(&[json!({"n": 3})]).unwrap();
        assert_eq!(journal.lines(), 3);
        drop(journal);

        let (mut journal, entries) = open(&path).unwrap();
        assert_eq!(entries, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
        journal.rewrite(&[json!({"n": 9})]).unwrap();
        assert_eq!(journal.lines(), 1);
        journal.append(&[json!({"n": 10})]).unwrap();
        drop(journal);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"n\":9}\n{\"n\":10}\n"
        );
        #[cfg(unix)]
        assert_eq!(super::super::file::mode_of(&path), 0o600);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_cut_off_and_the_lines_before_it_kept() {
        for tail in [
            &b"{\"n\":3"[..],                     // a fragment
            b"{\"n\":3}",                         // whole, but its newline never arrived
            b"\0\0\0\0\0\0",                      // zeros where the data never arrived
            b"\0\0\0\0\"n\":3}\n",                // the start of the line lost
            b"{\"n\":\0\0\0\0\0\0\0\0\0\0\0\0\0", // the end lost
        ] {
            let (_dir, path) = temp("torn.jsonl");
            std::fs::write(&path, [&b"{\"n\":1}\n{\"n\":2}\n"[..], tail].concat()).unwrap();
            let (mut journal, entries) = open(&path).unwrap();
            assert_eq!(entries, [json!({"n": 1}), json!({"n": 2})], "{tail:?}");
            // The next append starts a line of its own.
            journal.append(&[json!({"n": 4})]).unwrap();
            drop(journal);
            let (_, entries) = open(&path).unwrap();
            assert_eq!(
                entries,
                [json!({"n": 1}), json!({"n": 2}), json!({"n": 4})],
                "{tail:?}"
            );
        }
    }

    #[test]
    fn a_bad_line_with_good_lines_after_it_is_an_error_naming_it() {
        let (_dir, path) = temp("bad.jsonl");
        let text = "{\"n\":1}\n{\"n\":\n{\"n\":3}\n";
        std::fs::write(&path, text).unwrap();
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        // Nothing was cut off.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_an_error_not_dropped() {
        let (_dir, path) = temp("other.properties");
        std::fs::write(&path, "bootstrap.servers=localhost:9092").unwrap();
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("not a journal"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "bootstrap.servers=localhost:9092"
        );
    }
}
