//! The redb backend.

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use synod_core::{Row, Rows, Schema, Storage, StorageError};

const CHECKSUM_LEN: usize = 4;

/// One node's database file, shared by the storages of its roles.
#[derive(Clone)]
pub struct RedbBackend {
    db: Arc<Database>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBackend")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbBackend {
    /// Opens (or creates) the database at `path`, creating its directory. A file that is not a
    /// sound redb database is refused with an error naming it.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Write(format!("{}: cannot create directory: {e}", dir.display()))
            })?;
        }
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let mut builder = Database::builder();
            builder.set_check_integrity_on_open(true);
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
        Ok(Self {
            db: Arc::new(db),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The storage of one state, in tables named after `name` ("raft", "acceptor", ...).
    pub fn storage<S: Schema>(&self, name: &str) -> RedbStorage<S> {
        RedbStorage {
            db: self.db.clone(),
            path: self.path.clone(),
            meta: format!("{name}.meta"),
            log: format!("{name}.log"),
            state: PhantomData,
        }
    }
}

/// The durable storage of state `S`.
pub struct RedbStorage<S> {
    db: Arc<Database>,
    path: Arc<PathBuf>,
    meta: String,
    log: String,
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
        match txn.open_table(TableDefinition::<&str, &[u8]>::new(&self.meta)) {
            Ok(table) => {
                for row in table.iter().map_err(|e| corrupt(&e))? {
                    let (k, v) = row.map_err(|e| corrupt(&e))?;
                    let key = k.value().to_string();
                    let value = unseal(v.value(), || {
                        format!("{}: {} {key}", self.path.display(), self.meta)
                    })?;
                    meta.insert(key, value);
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
        Ok(Rows { meta, log })
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
                }
            }
        }
        txn.commit().map_err(|e| write(&e))
    }
}
