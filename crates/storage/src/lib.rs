//! The durable storage backend: one [redb](https://www.redb.org) file per node, every value
//! checksummed, every persist one fsync'd transaction.
//!
//! ```text
//!   Shell ──persist([op, op, …])──► RedbStorage<S> ──Schema::rows──► one write transaction
//!                                        │                            (Durability::Immediate)
//!                                        ▼
//!                      node.redb:  "<name>.meta"  str → crc32 ‖ bytes
//!                                  "<name>.log"   u64 → crc32 ‖ bytes
//!                      beside it:  "<name>.snapshot.<crc32>-<len>.blob"  (see [`BlobWriter`])
//! ```
//!
//! All of a shell's ops from one step share one transaction and so one fsync (group commit).
//! Opening checks the file's integrity; a damaged file or a value whose checksum does not match
//! is an error that names the file and what is wrong, never silently dropped data. The
//! [`conformance`] suite runs against this backend and the in-memory one.

mod blob;
pub mod conformance;
mod redb_store;

pub use blob::BlobWriter;
pub use redb_store::{RedbBackend, RedbStorage, DEFAULT_CACHE_BYTES};
