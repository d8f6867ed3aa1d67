//! The redb backend.

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use synod_core::{decode_row, encode_row, Row, Rows, Schema, Storage, StorageError};

use crate::blob::{self, Ahead, BlobRef, BlobWriter};
use bytes::Bytes;

/// Meta keys that record where a blob is start with this.
const BLOB_PREFIX: &str = "blob.";

const CHECKSUM_LEN: usize = 4;

/// One node's database file, shared by the storages of its roles.
#[derive(Clone)]
pub struct RedbBackend {
    db: Arc<Database>,
    path: Arc<PathBuf>,
    ahead: Ahead,
}

impl std::fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBackend")
            .field("path", &self.path)
            .finish()
    }
}

/// redb's page cache when none is given: enough for the B-tree's inner pages and a batch's
/// writes. redb's own default (1 GiB) would keep the whole file resident; Synod reads its file
/// only when a node starts.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl RedbBackend {
    /// Opens (or creates) the database at `path` with the default cache, creating its
    /// directory. A file that is not a sound redb database is refused with an error naming it.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`Self::open`] with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Write(format!("{}: cannot create directory: {e}", dir.display()))
            })?;
        }
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let mut builder = Database::builder();
            builder.set_check_integrity_on_open(true);
            builder.set_cache_size(cache_bytes);
            builder.create(path)
        }));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(StorageError::Write(format!(
                    "{shown}: the database is already open (is another node using this data directory?)"
                )))
            }
            Ok(Err(e)) => return Err(StorageError::Corrupt(format!("{shown}: {e}"))),
            Err(_) => return Err(StorageError::Corrupt(format!("{shown}: the database file is damaged"))),
        };
        let backend = Self {
            db: Arc::new(db),
            path: Arc::new(path.to_path_buf()),
            ahead: Ahead::default(),
        };
        blob::remove_leftovers(&backend.dir());
        Ok(backend)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// Writes blob `key` of state `name` ahead of its persist (see [`BlobWriter`]).
    pub fn blob_writer(&self, name: &str, key: &'static str) -> BlobWriter {
        BlobWriter {
            dir: self.dir(),
            state: name.to_string(),
            key,
            ahead: self.ahead.clone(),
        }
    }

    /// The storage of one state, in tables named after `name` ("raft", "acceptor", ...).
    pub fn storage<S: Schema>(&self, name: &str) -> RedbStorage<S> {
        RedbStorage {
            db: self.db.clone(),
            path: self.path.clone(),
            dir: self.dir(),
            ahead: self.ahead.clone(),
            name: name.to_string(),
            meta: format!("{name}.meta"),
            log: format!("{name}.log"),
            mapped: BTreeMap::new(),
            state: PhantomData,
        }
    }
}

/// The durable storage of state `S`.
pub struct RedbStorage<S> {
    db: Arc<Database>,
    path: Arc<PathBuf>,
    /// Where blob files go: beside the database.
    dir: PathBuf,
    ahead: Ahead,
    name: String,
    meta: String,
    log: String,
    /// Blobs the last persist wrote from memory, mapped (see [`Storage::take_stored_blob`]).
    mapped: BTreeMap<String, Bytes>,
    state: PhantomData<fn() -> S>,
}

fn seal(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CHECKSUM_LEN + payload.len());
    v.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

fn unseal(sealed: &[u8], what: impl Fn() -> String) -> Result<Vec<u8>, StorageError> {
    let (sum, payload) = sealed
        .split_at_checked(CHECKSUM_LEN)
        .ok_or_else(|| StorageError::Corrupt(format!("{}: value too short", what())))?;
    let mut expected = [0u8; CHECKSUM_LEN];
    expected.copy_from_slice(sum);
    if crc32fast::hash(payload) != u32::from_le_bytes(expected) {
        return Err(StorageError::Corrupt(format!(
            "{}: checksum mismatch",
            what()
        )));
    }
    Ok(payload.to_vec())
}

impl<S> RedbStorage<S> {
    fn fail(&self, kind: fn(String) -> StorageError, e: impl std::fmt::Display) -> StorageError {
        kind(format!("{}: {e}", self.path.display()))
    }

    fn read(&self) -> Result<Rows, StorageError> {
        let corrupt = |e: &dyn std::fmt::Display| self.fail(StorageError::Corrupt, e);
        let txn = self.db.begin_read().map_err(|e| corrupt(&e))?;
        let mut meta = BTreeMap::new();
        let mut blobs = BTreeMap::new();
        match txn.open_table(TableDefinition::<&str, &[u8]>::new(&self.meta)) {
            Ok(table) => {
                for row in table.iter().map_err(|e| corrupt(&e))? {
                    let (k, v) = row.map_err(|e| corrupt(&e))?;
                    let key = k.value().to_string();
                    let value = unseal(v.value(), || {
                        format!("{}: {} {key}", self.path.display(), self.meta)
                    })?;
                    match key.strip_prefix(BLOB_PREFIX) {
                        Some(blob_key) => {
                            let at: BlobRef = decode_row(&value, &key)?;
                            blobs.insert(blob_key.to_string(), blob::read(&self.dir, &at)?);
                            // Images written and never recorded go now (as for the log files).
                            blob::remove_others(
                                &self.dir,
                                &self.name,
                                blob_key,
                                &at.0,
                                &self.ahead,
                            );
                        }
                        None => {
                            meta.insert(key, value);
                        }
                    }
                }
            }
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(corrupt(&e)),
        }
        let mut log = Vec::new();
        match txn.open_table(TableDefinition::<u64, &[u8]>::new(&self.log)) {
            Ok(table) => {
                for row in table.iter().map_err(|e| corrupt(&e))? {
                    let (k, v) = row.map_err(|e| corrupt(&e))?;
                    let index = k.value();
                    let value = unseal(v.value(), || {
                        format!("{}: {} {index}", self.path.display(), self.log)
                    })?;
                    log.push((index, value));
                }
            }
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(corrupt(&e)),
        }
        Ok(Rows { meta, log, blobs })
    }
}

impl<S: Schema> Storage<S> for RedbStorage<S> {
    fn load(&mut self) -> Result<S, StorageError> {
        let rows = catch_unwind(AssertUnwindSafe(|| self.read()))
            .map_err(|_| self.fail(StorageError::Corrupt, "the database file is damaged"))??;
        S::from_rows(rows).map_err(|e| match e {
            StorageError::Corrupt(m) => {
                StorageError::Corrupt(format!("{}: {m}", self.path.display()))
            }
            other => other,
        })
    }

    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError> {
        if ops.is_empty() {
            return Ok(());
        }
        let write = |e: &dyn std::fmt::Display| self.fail(StorageError::Write, e);
        let mut rows = Vec::new();
        for op in ops {
            rows.extend(S::rows(op)?);
        }
        // Per blob key, the file the last of these ops names.
        let mut written = BTreeMap::new();
        let mut mapped = BTreeMap::new();
        let mut txn = self.db.begin_write().map_err(|e| write(&e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| write(&e))?;
        {
            let mut meta = txn
                .open_table(TableDefinition::<&str, &[u8]>::new(&self.meta))
                .map_err(|e| write(&e))?;
            let mut log = txn
                .open_table(TableDefinition::<u64, &[u8]>::new(&self.log))
                .map_err(|e| write(&e))?;
            for row in rows {
                match row {
                    Row::Meta { key, value } => {
                        meta.insert(key, seal(&value).as_slice())
                            .map_err(|e| write(&e))?;
                    }
                    Row::Put { index, value } => {
                        log.insert(index, seal(&value).as_slice())
                            .map_err(|e| write(&e))?;
                    }
                    Row::RemoveFrom(index) => {
                        log.retain_in(index.., |_, _| false)
                            .map_err(|e| write(&e))?;
                    }
                    Row::RemoveThrough(index) => {
                        log.retain_in(..=index, |_, _| false)
                            .map_err(|e| write(&e))?;
                    }
                    Row::Blob { key, data } => {
                        // The file is durable before the row naming it commits.
                        let (at, map) =
                            blob::ensure(&self.dir, &self.name, key, &data, &self.ahead)?;
                        // The last blob of `key` in these ops is the one handed back, if any.
                        match map {
                            Some(map) => mapped.insert(key.to_string(), map),
                            None => mapped.remove(key),
                        };
                        let value = encode_row(&at)?;
                        meta.insert(
                            format!("{BLOB_PREFIX}{key}").as_str(),
                            seal(&value).as_slice(),
                        )
                        .map_err(|e| write(&e))?;
                        written.insert(key, at.0);
                    }
                }
            }
        }
        txn.commit().map_err(|e| write(&e))?;
        for (key, file) in written {
            blob::remove_others(&self.dir, &self.name, key, &file, &self.ahead);
        }
        self.mapped = mapped;
        Ok(())
    }

    fn take_stored_blob(&mut self, key: &str) -> Option<Bytes> {
        self.mapped.remove(key)
    }
}
