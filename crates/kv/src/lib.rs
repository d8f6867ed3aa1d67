//! The replicated key-value state machine.
//!
//! ```text
//!   committed log ──(index, Command)──► KvStore::apply ──► KvResult
//!                                          │
//!                       ┌──────────────────┴─────────────────┐
//!                   data: key → value              dedup: RequestId → result
//! ```
//!
//! Applying the same sequence of commands gives the same state and results on every replica
//! (no clocks, no randomness, no iteration-order dependence). A write whose [`RequestId`] was
//! already applied is not applied again: the first result is returned. The dedup table keeps
//! the ids of the last [`DEDUP_WINDOW`] log positions, expiring by log index so every replica
//! forgets the same ids at the same point; a retry must arrive within that window.

mod dedup;
mod stream;

use dedup::Dedup;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use synod_messages::codec::{self, CodecError};
use synod_messages::{Command, KvOp, KvResult, RequestId};

/// How many log positions a request id is remembered for.
pub const DEDUP_WINDOW: u64 = 1_000_000;

/// The serialized form of a [`KvStore`]: sorted keys, then the dedup table.
#[derive(Serialize, Deserialize)]
struct Image {
    applied_index: u64,
    data: Vec<(String, serde_bytes::ByteBuf)>,
    dedup: Vec<(u64, RequestId, KvResult)>,
}

/// [`Image`] by reference, to encode a snapshot without copying the store first (the same
/// bytes: strings and byte slices encode as `String` and byte buffers do).
#[derive(Serialize)]
struct ImageRef<'a> {
    applied_index: u64,
    data: Entries<'a>,
    dedup: DedupEntries<'a>,
}

/// The exactly-once table's entries, oldest first, encoded as a sequence straight from it.
struct DedupEntries<'a>(&'a Dedup);

impl Serialize for DedupEntries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.entries())
    }
}

/// The store's entries in key order, encoded as a sequence of pairs straight from the map.
struct Entries<'a>(&'a Data);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .iter()
                .map(|(k, v)| (&**k, serde_bytes::Bytes::new(v))),
        )
    }
}

/// Keys to values, in key order (snapshots need no sort), each held in one exact-size
/// allocation: a B-tree of boxed slices costs ~60 bytes per key besides the key and value
/// themselves, against ~150 for a hash map of `String` → `Vec<u8>`.
type Data = BTreeMap<Box<str>, Box<[u8]>>;

/// The key-value store with its exactly-once table.
#[derive(Debug, Default, Clone)]
pub struct KvStore {
    data: Data,
    dedup: Dedup,
    applied_index: u64,
    /// A snapshot image being written in chunks (see [`Self::snapshot_begin`]).
    freeze: Option<Box<stream::Freeze>>,
}

/// Two stores are equal when they hold the same state; an image under way is not state.
impl PartialEq for KvStore {
    fn eq(&self, other: &Self) -> bool {
        (self.applied_index, &self.data, &self.dedup)
            == (other.applied_index, &other.data, &other.dedup)
    }
}

impl Eq for KvStore {}

/// What the exactly-once table keeps of a write's result. A cas that succeeded found the
/// value it expected, which its command carries (and a retry brings again): that value is not
/// kept a second time, so cas on large values do not fill the table with copies of them.
fn kept(result: &KvResult) -> KvResult {
    match result {
        KvResult::Cas {
            succeeded: true, ..
        } => KvResult::Cas {
            succeeded: true,
            current: None,
        },
        other => other.clone(),
    }
}

/// The result [`kept`] remembered, as it was, for a retry of the command `op`.
fn recalled(kept: &KvResult, op: &KvOp) -> KvResult {
    match (kept, op) {
        (
            KvResult::Cas {
                succeeded: true, ..
            },
            KvOp::Cas { expected, .. },
        ) => KvResult::Cas {
            succeeded: true,
            current: expected.clone(),
        },
        (other, _) => other.clone(),
    }
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the command committed at `index` and returns its result. Positions must come in
    /// increasing order; a position at or below the last one applied is ignored (`None`).
    pub fn apply(&mut self, index: u64, command: &Command) -> Option<KvResult> {
        if !self.advance(index) {
            return None;
        }
        if let Some(result) = self.dedup.get(&command.id) {
            return Some(recalled(result, &command.op));
        }
        let result = self.execute(&command.op);
        if command.op.is_write() {
            self.dedup.insert_new(index, command.id, kept(&result));
        }
        Some(result)
    }

    /// Records a committed position that carries no command (a no-op).
    pub fn skip(&mut self, index: u64) {
        self.advance(index);
    }

    fn advance(&mut self, index: u64) -> bool {
        if index <= self.applied_index {
            return false;
        }
        self.applied_index = index;
        self.dedup.expire(index.saturating_sub(DEDUP_WINDOW));
        true
    }

    fn execute(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Put { key, value } => {
                self.before_change(key);
                self.data
                    .insert(key.as_str().into(), value.as_slice().into());
                KvResult::Done
            }
            KvOp::Get { key } => KvResult::Value(self.get(key).map(<[u8]>::to_vec)),
            KvOp::Delete { key } => {
                self.before_change(key);
                self.data.remove(key.as_str());
                KvResult::Done
            }
            KvOp::Cas {
                key,
                expected,
                value,
            } => {
                let current = self.get(key).map(<[u8]>::to_vec);
                let succeeded = current == *expected;
                if succeeded {
                    self.before_change(key);
                    match value {
                        Some(v) => self.data.insert(key.as_str().into(), v.as_slice().into()),
                        None => self.data.remove(key.as_str()),
                    };
                }
                KvResult::Cas { succeeded, current }
            }
        }
    }

    /// The whole store as bytes: the state machine snapshot at [`Self::applied_index`].
    /// Deterministic: two replicas at the same position give the same bytes.
    pub fn snapshot(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(&self.image())
    }

    /// [`Self::snapshot`] written into `writer` (a file) instead of built in memory: the same
    /// bytes, without a second copy of the store.
    pub fn write_snapshot(&self, writer: &mut impl std::io::Write) -> Result<(), CodecError> {
        codec::encode_into(&self.image(), writer).map(|_| ())
    }

    /// The store as its image encodes it, by reference.
    fn image(&self) -> ImageRef<'_> {
        ImageRef {
            applied_index: self.applied_index,
            data: Entries(&self.data),
            dedup: DedupEntries(&self.dedup),
        }
    }

    /// The store a [`Self::snapshot`] was taken of.
    pub fn restore(bytes: &[u8]) -> Result<Self, CodecError> {
        let image: Image = codec::decode_large(bytes)?;
        let mut dedup = Dedup::default();
        for (index, id, result) in image.dedup {
            dedup.insert(index, id, result);
        }
        Ok(Self {
            data: image
                .data
                .into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_vec().into_boxed_slice()))
                .collect(),
            dedup,
            applied_index: image.applied_index,
            freeze: None,
        })
    }

    /// The local value of `key` (a possibly stale read).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.data.get(key).map(|v| &**v)
    }

    /// Whether a request id was already applied (within the window).
    pub fn was_applied(&self, id: &RequestId) -> bool {
        self.dedup.get(id).is_some()
    }

    /// The last log position applied.
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(seq: u64, op: KvOp) -> Command {
        Command {
            id: RequestId { client: 7, seq },
            op,
        }
    }
    fn put(k: &str, v: &str) -> KvOp {
        KvOp::Put {
            key: k.into(),
            value: v.into(),
        }
    }
    fn get(k: &str) -> KvOp {
        KvOp::Get { key: k.into() }
    }

    /// Found at 1,000,000 keys of 256 bytes: an image past the frame decode limit (256 MiB)
    /// could not be restored, so a node could neither restart from its own snapshot nor
    /// install one from a peer, and its state machine stopped.
    #[test]
    fn an_image_larger_than_any_frame_is_restored() {
        let mut kv = KvStore::new();
        for i in 0..3u64 {
            let value = vec![i as u8; 100 << 20];
            let op = KvOp::Put {
                key: format!("k{i}"),
                value,
            };
            kv.apply(i + 1, &cmd(i + 1, op));
        }
        let image = kv.snapshot().unwrap();
        assert!(image.len() > 300 << 20);
        let restored = KvStore::restore(&image).unwrap();
        assert_eq!(restored, kv);
    }

    #[test]
    fn put_get_delete() {
        let mut kv = KvStore::new();
        assert_eq!(kv.apply(1, &cmd(1, put("a", "1"))), Some(KvResult::Done));
        assert_eq!(
            kv.apply(2, &cmd(2, get("a"))),
            Some(KvResult::Value(Some(b"1".to_vec())))
        );
        kv.apply(3, &cmd(3, KvOp::Delete { key: "a".into() }));
        assert_eq!(kv.apply(4, &cmd(4, get("a"))), Some(KvResult::Value(None)));
        assert!(kv.is_empty());
    }

    #[test]
    fn cas_semantics() {
        let mut kv = KvStore::new();
        let cas = |expected: Option<&str>, value: Option<&str>| KvOp::Cas {
            key: "k".into(),
            expected: expected.map(Into::into),
            value: value.map(Into::into),
        };
        // Absent expected and absent: succeeds.
        assert_eq!(
            kv.apply(1, &cmd(1, cas(None, Some("x")))),
            Some(KvResult::Cas {
                succeeded: true,
                current: None
            })
        );
        // Wrong expectation: fails, reports the current value, changes nothing.
        assert_eq!(
            kv.apply(2, &cmd(2, cas(Some("y"), Some("z")))),
            Some(KvResult::Cas {
                succeeded: false,
                current: Some(b"x".to_vec())
            })
        );
        assert_eq!(kv.get("k"), Some(&b"x"[..]));
        // Null value deletes.
        kv.apply(3, &cmd(3, cas(Some("x"), None)));
        assert_eq!(kv.get("k"), None);
    }

    #[test]
    fn a_retried_write_is_applied_once() {
        let mut kv = KvStore::new();
        let c = cmd(
            1,
            KvOp::Cas {
                key: "n".into(),
                expected: None,
                value: Some(b"1".to_vec()),
            },
        );
        let first = kv.apply(1, &c);
        kv.apply(2, &cmd(2, put("n", "2")));
        // The retry of request 1 lands later in the log: not executed again, same answer.
        assert_eq!(kv.apply(3, &c), first);
        assert_eq!(kv.get("n"), Some(&b"2"[..]));
    }

    /// Found by a review of what breaks at scale: the table kept a successful cas's result
    /// with the value it found, a copy of its expected value, for the whole window.
    #[test]
    fn a_successful_cas_is_remembered_without_the_value_it_found_and_recalled_whole() {
        let mut kv = KvStore::new();
        let big = |b: u8| vec![b; 100_000];
        kv.apply(
            1,
            &cmd(
                1,
                KvOp::Put {
                    key: "k".into(),
                    value: big(1),
                },
            ),
        );
        let swap = cmd(
            2,
            KvOp::Cas {
                key: "k".into(),
                expected: Some(big(1)),
                value: Some(big(2)),
            },
        );
        let first = kv.apply(2, &swap);
        assert_eq!(
            first,
            Some(KvResult::Cas {
                succeeded: true,
                current: Some(big(1))
            })
        );
        let image = kv.snapshot().unwrap();
        assert!(
            image.len() < 110_000,
            "one value in the image, not the one found as well: {} bytes",
            image.len()
        );
        // A retry gets the same answer, from the table and from a restored snapshot.
        assert_eq!(kv.apply(3, &swap), first);
        let mut restored = KvStore::restore(&image).unwrap();
        assert_eq!(restored.apply(3, &swap), first);
        assert_eq!(restored.get("k"), Some(&big(2)[..]));
    }

    #[test]
    fn old_positions_are_ignored() {
        let mut kv = KvStore::new();
        kv.apply(5, &cmd(1, put("a", "1")));
        assert_eq!(kv.apply(5, &cmd(2, put("a", "2"))), None);
        assert_eq!(kv.apply(3, &cmd(3, put("a", "3"))), None);
        assert_eq!(kv.get("a"), Some(&b"1"[..]));
    }

    #[test]
    fn a_snapshot_restores_the_same_store_and_keeps_exactly_once() {
        let mut kv = KvStore::new();
        let c = cmd(1, put("a", "1"));
        kv.apply(1, &c);
        kv.apply(2, &cmd(2, put("b", "2")));
        kv.apply(3, &cmd(3, KvOp::Delete { key: "b".into() }));
        let bytes = kv.snapshot().unwrap();
        let mut back = KvStore::restore(&bytes).unwrap();
        assert_eq!(back, kv);
        assert_eq!(back.snapshot().unwrap(), bytes, "deterministic bytes");
        let mut written = Vec::new();
        kv.write_snapshot(&mut written).unwrap();
        assert_eq!(written, bytes, "written to a file, the same bytes");
        // The request applied before the snapshot is still applied once after it.
        kv.apply(4, &cmd(4, put("a", "2")));
        back.apply(4, &cmd(4, put("a", "2")));
        assert_eq!(back.apply(5, &c), Some(KvResult::Done));
        assert_eq!(back.get("a"), Some(&b"2"[..]));
        assert!(KvStore::restore(b"garbage").is_err());
    }

    #[test]
    fn dedup_entries_expire_after_the_window() {
        let mut kv = KvStore::new();
        let c = cmd(1, put("a", "1"));
        kv.apply(1, &c);
        assert!(kv.was_applied(&c.id));
        kv.skip(DEDUP_WINDOW + 2);
        assert!(!kv.was_applied(&c.id));
    }
}
