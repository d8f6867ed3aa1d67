//! Blobs (state machine snapshots) live in files next to the database rather than in its
//! pages, so a large snapshot is not copied through the page cache and can be written ahead,
//! off the protocol's actor ([`BlobWriter`]).
//!
//! A blob file is named `<state>.<key>.<crc32>-<len>.blob`. It is written under a temporary
//! name, synced, renamed and the directory synced; only then does the database commit a row
//! naming it, so a crash leaves either the old snapshot or the new one, never half of one. A
//! file already present under the right name (written ahead) is not written again. Reading
//! checks length and checksum.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use synod_core::StorageError;

/// Where a blob is, as recorded in the database.
pub(crate) type BlobRef = (String, u64, u32);

fn file_name(state: &str, key: &str, crc: u32, len: usize) -> String {
    format!("{state}.{key}.{crc:08x}-{len}.blob")
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> StorageError {
    StorageError::Write(format!("{}: {e}", path.display()))
}

/// Makes `data` durable as blob `key` of `state` in `dir` unless it is there already; returns
/// where it is.
pub(crate) fn ensure(
    dir: &Path,
    state: &str,
    key: &str,
    data: &[u8],
) -> Result<BlobRef, StorageError> {
    let crc = crc32fast::hash(data);
    let name = file_name(state, key, crc, data.len());
    let path = dir.join(&name);
    let present = fs::metadata(&path).is_ok_and(|m| m.len() == data.len() as u64);
    if !present {
        let tmp = dir.join(format!("{name}.tmp"));
        let mut file = File::create(&tmp).map_err(|e| write_err(&tmp, e))?;
        file.write_all(data).map_err(|e| write_err(&tmp, e))?;
        file.sync_all().map_err(|e| write_err(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| write_err(&path, e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| write_err(dir, e))?;
    }
    Ok((name, data.len() as u64, crc))
}

/// Reads a blob and checks it is the one recorded.
pub(crate) fn read(dir: &Path, (name, len, crc): &BlobRef) -> Result<Arc<[u8]>, StorageError> {
    let path = dir.join(name);
    let corrupt = |what: String| StorageError::Corrupt(format!("{}: {what}", path.display()));
    let data =
        fs::read(&path).map_err(|e| corrupt(format!("cannot read the snapshot file: {e}")))?;
    if data.len() as u64 != *len || crc32fast::hash(&data) != *crc {
        return Err(corrupt(format!(
            "the snapshot file is damaged ({} bytes, {len} recorded)",
            data.len()
        )));
    }
    Ok(data.into())
}

/// Removes the files of blob `key` of `state` other than `keep` (older snapshots, leftovers
/// of an interrupted write). Failing to remove one only costs disk space.
pub(crate) fn remove_others(dir: &Path, state: &str, key: &str, keep: &str) {
    let prefix = format!("{state}.{key}.");
    // A `.tmp` may be a write ahead in progress; leftovers go when the node starts.
    remove_where(dir, |name| {
        name.starts_with(&prefix) && name != keep && !name.ends_with(".tmp")
    });
}

/// Removes the temporary files of writes a crash interrupted (when nothing writes).
pub(crate) fn remove_leftovers(dir: &Path) {
    remove_where(dir, |name| name.ends_with(".blob.tmp"));
}

/// Removes the files of `dir` whose name `doomed` picks.
fn remove_where(dir: &Path, doomed: impl Fn(&str) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(&doomed) {
            if let Err(e) = fs::remove_file(entry.path()) {
                tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove an old snapshot file");
            }
        }
    }
}

/// Writes blobs of one state ahead of their persist, from any thread: the persist then finds
/// the file in place and only records it.
#[derive(Debug, Clone)]
pub struct BlobWriter {
    pub(crate) dir: PathBuf,
    pub(crate) state: String,
    pub(crate) key: &'static str,
}

impl BlobWriter {
    /// Makes `data` durable where the persist of blob `key` will look for it.
    pub fn write(&self, data: &[u8]) -> Result<(), StorageError> {
        ensure(&self.dir, &self.state, self.key, data).map(|_| ())
    }
}
