//! The durable storage backends. Both map a protocol's ops onto the same rows
//! ([`synod_core::Row`]: metadata, a log keyed by position, blobs) and make each persist durable
//! with one sync.
//!
//! ```text
//!   Shell ──persist([op, op, …])──► Schema::rows ──┬──► WalStorage<S> (default): one record
//!                                                   │      appended to "<name>.<seq>.wal",
//!                                                   │      one fdatasync
//!                                                   └──► RedbStorage<S>: one redb write
//!                                                          transaction in "synod.redb"
//!                                                          (Durability::Immediate)
//!   beside either: "<name>.snapshot.<crc32>-<len>.blob"  (see [`BlobWriter`])
//! ```
//!
//! All of a shell's ops from one step share one record or transaction and so one sync (group
//! commit). Loading checks every record or value against its CRC32; damage is an error that
//! names the file and what is wrong, never silently dropped data (the one thing dropped is the
//! last record of a log cut short by a crash, which was never acknowledged). The
//! [`conformance`] suite runs against both backends and the in-memory one.

mod blob;
pub mod conformance;
mod redb_store;
mod wal;

pub use blob::{BlobWriter, StagedBlob};
pub use redb_store::{RedbBackend, RedbStorage, DEFAULT_CACHE_BYTES};
pub use wal::{WalBackend, WalStorage};
