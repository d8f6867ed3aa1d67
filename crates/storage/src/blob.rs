//! Blobs (state machine snapshots) live in files next to the database rather than in its
//! pages, so a large snapshot is not copied through the page cache and can be written ahead,
//! off the protocol's actor ([`BlobWriter`]).
//!
//! A blob file is named `<state>.<key>.<crc32>-<len>.blob`. It is written under a temporary
//! name, synced, renamed and the directory synced; only then does the database commit a row
//! naming it, so a crash leaves either the old snapshot or the new one, never half of one. A
//! file already present under the right name (written ahead) is not written again. Reading
//! checks length and checksum.
//!
//! A blob is kept as a read-only map of its file, not a copy in memory: the protocol holds the
//! latest snapshot to send it to lagging followers, and its pages stay on disk (not in the
//! process's memory) until a follower needs them. A blob written ahead is remembered, so its
//! persist recognizes it without reading it back.

use bytes::Bytes;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use synod_core::StorageError;

/// Where a blob is, as recorded in the database.
pub(crate) type BlobRef = (String, u64, u32);

fn file_name(state: &str, key: &str, crc: u32, len: usize) -> String {
    format!("{state}.{key}.{crc:08x}-{len}.blob")
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> StorageError {
    StorageError::Write(format!("{}: {e}", path.display()))
}

/// Blobs written ahead and not yet persisted, by `<state>.<key>`: the mapped bytes (held, so
/// no other allocation can take their address) and where they are.
pub(crate) type Ahead = Arc<Mutex<HashMap<String, (Bytes, BlobRef)>>>;

/// Makes `data` durable as blob `key` of `state` in `dir` unless it is there already; returns
/// where it is and, if it wrote `data` from memory, the file mapped (the holder of `data` can
/// keep that instead of its copy in memory; `None` if mapping failed, which only costs memory).
pub(crate) fn ensure(
    dir: &Path,
    state: &str,
    key: &str,
    data: &Bytes,
    ahead: &Ahead,
) -> Result<(BlobRef, Option<Bytes>), StorageError> {
    {
        let mut ahead = ahead.lock().unwrap_or_else(PoisonError::into_inner);
        let name = format!("{state}.{key}");
        // The very bytes the writer mapped: the file is in place, durable and checked. Another
        // blob written ahead (a newer snapshot, for a later persist) stays recorded.
        let found = ahead.get(&name).and_then(|(bytes, at)| {
            (bytes.as_ptr() == data.as_ptr() && bytes.len() == data.len()).then(|| at.clone())
        });
        if let Some(at) = found {
            ahead.remove(&name);
            return Ok((at, None));
        }
    }
    let (at, written) = write_file(dir, state, key, data)?;
    // Only the very bytes just written replace the copy in memory: a file found in place is
    // checked against its checksum when it is next loaded, not now.
    let mapped = written
        .then(|| {
            File::open(dir.join(&at.0))
                .and_then(|file| map(&file, at.1))
                .ok()
        })
        .flatten();
    Ok((at, mapped))
}

/// Writes `data` as blob `key` of `state` in `dir` unless a file of that content is there.
/// Also returns whether it wrote the file (and did not find it there).
fn write_file(
    dir: &Path,
    state: &str,
    key: &str,
    data: &[u8],
) -> Result<(BlobRef, bool), StorageError> {
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
    Ok(((name, data.len() as u64, crc), !present))
}

/// Checks a blob is the one recorded (reading it through, without keeping it) and maps it.
pub(crate) fn read(dir: &Path, (name, len, crc): &BlobRef) -> Result<Bytes, StorageError> {
    let path = dir.join(name);
    let corrupt = |what: String| StorageError::Corrupt(format!("{}: {what}", path.display()));
    let unreadable = |e: std::io::Error| corrupt(format!("cannot read the snapshot file: {e}"));
    let mut file = File::open(&path).map_err(unreadable)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        read += n as u64;
    }
    if read != *len || hasher.finalize() != *crc {
        return Err(corrupt(format!(
            "the snapshot file is damaged ({read} bytes, {len} recorded)"
        )));
    }
    map(&file, *len).map_err(unreadable)
}

/// Maps a blob file read-only.
#[allow(unsafe_code)]
fn map(file: &File, len: u64) -> std::io::Result<Bytes> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: a blob file is written once under a temporary name, synced and renamed; nothing
    // writes to or truncates it afterwards (it is only ever removed, which keeps a mapping
    // valid), so the mapped bytes cannot change under the reader. An I/O error of the disk
    // while reading a page would be a SIGBUS, as for any mapped file.
    let map = unsafe { memmap2::Mmap::map(file)? };
    if map.len() as u64 != len {
        return Err(std::io::Error::other("the file changed size while mapped"));
    }
    Ok(Bytes::from_owner(map))
}

/// Removes the files of blob `key` of `state` other than `keep` (older snapshots, leftovers
/// of an interrupted write) and other than one written ahead and not yet persisted. Failing
/// to remove one only costs disk space.
pub(crate) fn remove_others(dir: &Path, state: &str, key: &str, keep: &str, ahead: &Ahead) {
    let prefix = format!("{state}.{key}.");
    // Held while removing: a writer puts its file in place and records it under this lock
    // (`StagedBlob::commit`), so no file can be in place and not yet recorded here.
    let ahead = ahead.lock().unwrap_or_else(PoisonError::into_inner);
    let pending: Vec<&str> = ahead.values().map(|(_, at)| at.0.as_str()).collect();
    // A `.tmp` may be a write ahead in progress; leftovers go when the node starts.
    remove_where(dir, |name| {
        name.starts_with(&prefix)
            && name != keep
            && !name.ends_with(".tmp")
            && !pending.contains(&name)
    });
}

/// Removes the temporary files of writes a crash interrupted (when nothing writes).
pub(crate) fn remove_leftovers(dir: &Path) {
    remove_where(dir, |name| name.ends_with(".blob.tmp"));
}

/// Removes the files of `dir` whose name `doomed` picks.
pub(crate) fn remove_where(dir: &Path, doomed: impl Fn(&str) -> bool) {
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
#[derive(Clone)]
pub struct BlobWriter {
    pub(crate) dir: PathBuf,
    pub(crate) state: String,
    pub(crate) key: &'static str,
    pub(crate) ahead: Ahead,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobWriter({}.{})", self.state, self.key)
    }
}

impl BlobWriter {
    /// Makes `data` durable where the persist of blob `key` will look for it, and returns the
    /// same bytes mapped from the file: persist those, and drop `data`, to keep the blob out
    /// of memory.
    pub fn write(&self, data: &[u8]) -> Result<Bytes, StorageError> {
        self.stage(|out| out.write_all(data))?.commit()
    }

    /// Streams a blob into a new file through `fill`, without building it in memory and
    /// without syncing: [`StagedBlob::commit`] (which may run on another thread) makes it
    /// durable, puts it in place and maps it, as [`Self::write`] does.
    pub fn stage<E: std::fmt::Display>(
        &self,
        fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<StagedBlob, StorageError> {
        static STAGED: AtomicU64 = AtomicU64::new(0);
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!("{}.{}.staged-{n}.blob.tmp", self.state, self.key));
        let file = File::create(&tmp).map_err(|e| write_err(&tmp, e))?;
        // Buffered in front of the checksum, so the checksum and the writes see 1 MiB chunks
        // rather than the encoder's many small pieces.
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            Checksummed {
                file,
                hasher: crc32fast::Hasher::new(),
                len: 0,
                unsynced: 0,
            },
        );
        let filled = fill(&mut out)
            .map_err(|e| write_err(&tmp, e))
            .and_then(|()| out.flush().map_err(|e| write_err(&tmp, e)));
        let out =
            match filled.and_then(|()| out.into_inner().map_err(|e| write_err(&tmp, e.error()))) {
                Ok(out) => out,
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
            };
        let (crc, len, file) = (out.hasher.finalize(), out.len, out.file);
        Ok(StagedBlob {
            writer: self.clone(),
            tmp,
            file,
            crc,
            len,
        })
    }
}

/// A blob streamed into a temporary file by [`BlobWriter::stage`], not yet durable.
pub struct StagedBlob {
    writer: BlobWriter,
    tmp: PathBuf,
    file: File,
    crc: u32,
    len: u64,
}

impl std::fmt::Debug for StagedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StagedBlob({}, {} bytes)", self.tmp.display(), self.len)
    }
}

impl StagedBlob {
    /// Syncs the file, renames it to its final name, syncs the directory, maps it and
    /// records it as written ahead: from here the persist of blob `key` finds it in place
    /// (see [`BlobWriter::write`]).
    pub fn commit(self) -> Result<Bytes, StorageError> {
        let writer = &self.writer;
        let dir = &writer.dir;
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        let name = file_name(&writer.state, writer.key, self.crc, len);
        let path = dir.join(&name);
        if let Err(e) = self.file.sync_all() {
            let _ = fs::remove_file(&self.tmp);
            return Err(write_err(&self.tmp, e));
        }
        // In place and recorded under one lock, which `remove_others` holds while it removes
        // the files of older snapshots: never one in place and not yet recorded.
        let mut ahead = writer.ahead.lock().unwrap_or_else(PoisonError::into_inner);
        let mapped = fs::rename(&self.tmp, &path)
            .map_err(|e| write_err(&path, e))
            .and_then(|()| {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| write_err(dir, e))
            })
            .and_then(|()| {
                File::open(&path)
                    .and_then(|file| map(&file, self.len))
                    .map_err(|e| write_err(&path, e))
            });
        let mapped = match mapped {
            Ok(mapped) => mapped,
            Err(e) => {
                let _ = fs::remove_file(&self.tmp);
                return Err(e);
            }
        };
        let at = (name, self.len, self.crc);
        ahead.insert(
            format!("{}.{}", writer.state, writer.key),
            (mapped.clone(), at),
        );
        Ok(mapped)
    }
}

/// Bytes a staged blob writes between syncs. Left to the kernel, hundreds of MB of dirty pages
/// would make the next sync of the protocol's log wait for them (ext4 commits its journal in
/// order), stalling the protocol for a second and more.
const SYNC_EVERY: u64 = 16 << 20;

/// A file writer that counts and checksums what passes through it and syncs every
/// [`SYNC_EVERY`] bytes.
struct Checksummed {
    file: File,
    hasher: crc32fast::Hasher,
    len: u64,
    unsynced: u64,
}

impl Write for Checksummed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
