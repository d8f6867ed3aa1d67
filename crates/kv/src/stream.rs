//! A snapshot image written in chunks while the store goes on applying commands.
//!
//! ```text
//!   begin  ─► header (applied index, key count)        the image is of the store *now*
//!   next   ─► keys after the cursor, in key order       applies may run between chunks:
//!   next   ─► ...                                       a key changed ahead of the cursor
//!   next   ─► last keys + the exactly-once table        first saves its value as it was
//! ```
//!
//! The bytes are those [`KvStore::snapshot`] gives at the start: the same [`crate::Image`]
//! encoding, in pieces. Keys at or behind the cursor are written already, so changing them
//! costs nothing; a key ahead of it keeps its value at the start in `before` (or `None` if it
//! did not exist then) until the cursor passes it. The exactly-once table is encoded at the
//! start (it expires entries as positions advance, and every replica must keep the same): ~17
//! bytes per remembered write, where a copy of the table would take ~43 and more.

use crate::{DedupEntries, KvStore};
use std::collections::BTreeMap;
use std::ops::Bound;
use synod_messages::codec::{self, CodecError};

/// The image under way.
#[derive(Debug, Clone)]
pub(crate) struct Freeze {
    applied_index: u64,
    /// Keys in the image.
    keys: usize,
    /// The last key of the image: keys created after it since the start are not in it, and
    /// the walk stops there.
    last: Option<Box<str>>,
    /// Keys written so far.
    written: usize,
    /// The last key passed.
    cursor: Option<Box<str>>,
    /// The value at the start of each key changed since, ahead of the cursor.
    before: BTreeMap<Box<str>, Option<Box<[u8]>>>,
    /// The exactly-once table at the start, encoded.
    dedup: Vec<u8>,
}

impl Freeze {
    /// Whether the image still needs the value `key` had at the start.
    fn ahead(&self, key: &str) -> bool {
        self.last.as_deref().is_some_and(|last| key <= last)
            && self.cursor.as_deref().is_none_or(|c| key > c)
            && !self.before.contains_key(key)
    }
}

impl KvStore {
    /// Starts an image of the store as it is now, to be written with
    /// [`Self::snapshot_next`] while commands go on being applied; returns its first bytes and
    /// the position it is of. Replaces an image under way.
    pub fn snapshot_begin(&mut self) -> Result<(Vec<u8>, u64), CodecError> {
        let mut out = Vec::new();
        codec::encode_into(&self.applied_index, &mut out)?;
        codec::encode_into(&(self.data.len() as u64), &mut out)?;
        self.freeze = Some(Box::new(Freeze {
            applied_index: self.applied_index,
            keys: self.data.len(),
            last: self.data.last_key_value().map(|(k, _)| k.clone()),
            written: 0,
            cursor: None,
            before: BTreeMap::new(),
            dedup: codec::encode(&DedupEntries(&self.dedup))?,
        }));
        Ok((out, self.applied_index))
    }

    /// The next bytes of the image under way: up to `keys` keys, fewer once they take `bytes`
    /// (at least one key, whatever its size), and with the last of them the exactly-once
    /// table. `Ok(None)` once the image is complete (or none was begun).
    pub fn snapshot_next(
        &mut self,
        keys: usize,
        bytes: usize,
    ) -> Result<Option<Vec<u8>>, CodecError> {
        let Some(f) = self.freeze.as_deref_mut() else {
            return Ok(None);
        };
        let mut out = Vec::new();
        let mut taken = 0;
        let from = match f.cursor.take() {
            Some(c) => Bound::Excluded(c),
            None => Bound::Unbounded,
        };
        let to = match f.last.as_deref() {
            Some(last) => Bound::Included(last),
            // An empty store: an image of no keys.
            None => Bound::Excluded(""),
        };
        let range = (from.as_ref().map(|c| &**c), to);
        let mut now = self.data.range::<str, _>(range).peekable();
        let mut then = f.before.range::<str, _>(range).peekable();
        let mut last: Option<&str> = None;
        while taken < keys && (taken == 0 || out.len() < bytes) {
            let next_now: Option<&str> = now.peek().map(|(k, _)| &***k);
            let next_then: Option<&str> = then.peek().map(|(k, _)| &***k);
            let key = match (next_now, next_then) {
                (None, None) => break,
                (Some(k), None) | (None, Some(k)) => k,
                (Some(a), Some(b)) => a.min(b),
            };
            let value: Option<&[u8]> = if next_then == Some(key) {
                if next_now == Some(key) {
                    now.next();
                }
                then.next().and_then(|(_, v)| v.as_deref())
            } else {
                now.next().map(|(_, v)| &**v)
            };
            if let Some(value) = value {
                codec::encode_into(&(key, serde_bytes::Bytes::new(value)), &mut out)?;
                f.written += 1;
            }
            last = Some(key);
            taken += 1;
        }
        let done = now.peek().is_none() && then.peek().is_none();
        let cursor = last.map(Box::<str>::from);
        drop((now, then));
        f.cursor = match (cursor, from) {
            (Some(c), _) => Some(c),
            (None, Bound::Excluded(c)) => Some(c),
            (None, _) => None,
        };
        if let Some(c) = f.cursor.as_deref() {
            // What is behind the cursor is written: its old values are needed no more.
            f.before = f.before.split_off(c);
            f.before.remove(c);
        }
        if !done {
            return Ok(Some(out));
        }
        let Some(f) = self.freeze.take() else {
            return Ok(None);
        };
        if f.written != f.keys {
            return Err(CodecError::Encode(format!(
                "snapshot at {}: {} keys written, {} expected",
                f.applied_index, f.written, f.keys
            )));
        }
        out.extend_from_slice(&f.dedup);
        Ok(Some(out))
    }

    /// Whether an image is under way (begun, its last chunk not taken yet).
    pub fn snapshot_under_way(&self) -> bool {
        self.freeze.is_some()
    }

    /// Drops the image under way, if any.
    pub fn snapshot_abort(&mut self) {
        self.freeze = None;
    }

    /// Before `key` changes: keeps its value for the image under way if that still needs it.
    pub(crate) fn before_change(&mut self, key: &str) {
        if let Some(f) = self.freeze.as_deref_mut() {
            if f.ahead(key) {
                f.before.insert(key.into(), self.data.get(key).cloned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::KvStore;
    use synod_messages::{Command, KvOp, RequestId};

    /// A small deterministic generator (no dependency for a test).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// A random write (or read) on one of 40 keys, so changes land behind, at and ahead of
    /// the cursor.
    fn random_command(rng: &mut Rng, seq: u64) -> Command {
        let key = format!("k{:02}", rng.below(40));
        let value = format!("v{seq}").into_bytes();
        let op = match rng.below(5) {
            0 => KvOp::Delete { key },
            1 => KvOp::Cas {
                key,
                expected: None,
                value: Some(value),
            },
            2 => KvOp::Get { key },
            _ => KvOp::Put { key, value },
        };
        Command {
            id: RequestId {
                client: 1 + rng.below(3),
                seq,
            },
            op,
        }
    }

    #[test]
    fn an_image_written_in_chunks_while_commands_apply_is_the_image_of_its_start() {
        for seed in 0..300 {
            let mut rng = Rng(seed);
            let mut kv = KvStore::new();
            let mut index = 0;
            for _ in 0..rng.below(80) {
                index += 1;
                kv.apply(index, &random_command(&mut rng, index));
            }
            let at_start = kv.clone();
            let (mut image, at) = kv.snapshot_begin().unwrap();
            assert_eq!(at, index);
            loop {
                if rng.below(2) == 0 {
                    index += 1;
                    kv.apply(index, &random_command(&mut rng, index));
                    continue;
                }
                let keys = 1 + rng.below(6) as usize;
                let bytes = match rng.below(3) {
                    0 => 1 + rng.below(40) as usize,
                    _ => usize::MAX,
                };
                match kv.snapshot_next(keys, bytes).unwrap() {
                    Some(bytes) => image.extend(bytes),
                    None => break,
                }
            }
            assert_eq!(image, at_start.snapshot().unwrap(), "seed {seed}");
            assert_eq!(KvStore::restore(&image).unwrap(), at_start, "seed {seed}");
        }
    }

    /// Review finding: keys created after the start beyond its last key were recorded and
    /// walked, so ascending keys inserted faster than the steps kept the image from ending.
    #[test]
    fn keys_created_past_the_last_key_of_the_start_neither_count_nor_delay_the_image() {
        let put = |key: String, seq: u64| Command {
            id: RequestId { client: 1, seq },
            op: KvOp::Put {
                key,
                value: b"v".to_vec(),
            },
        };
        let mut kv = KvStore::new();
        for seq in 1..=3 {
            kv.apply(seq, &put(format!("k{seq}"), seq));
        }
        let at_start = kv.clone();
        let (mut image, _) = kv.snapshot_begin().unwrap();
        let mut seq = 3;
        let mut steps = 0;
        loop {
            for _ in 0..5 {
                seq += 1;
                kv.apply(seq, &put(format!("z{seq:06}"), seq));
            }
            steps += 1;
            match kv.snapshot_next(1, usize::MAX).unwrap() {
                Some(bytes) => image.extend(bytes),
                None => break,
            }
        }
        assert!(steps <= 4, "{steps} steps for 3 keys");
        assert_eq!(image, at_start.snapshot().unwrap());
    }

    #[test]
    fn an_empty_store_and_an_aborted_image() {
        let mut kv = KvStore::new();
        let (mut image, _) = kv.snapshot_begin().unwrap();
        while let Some(bytes) = kv.snapshot_next(4, usize::MAX).unwrap() {
            image.extend(bytes);
        }
        assert_eq!(image, KvStore::new().snapshot().unwrap());
        assert_eq!(
            kv.snapshot_next(4, usize::MAX).unwrap(),
            None,
            "nothing under way"
        );
        kv.apply(
            1,
            &Command {
                id: RequestId { client: 1, seq: 1 },
                op: KvOp::Put {
                    key: "a".into(),
                    value: b"1".to_vec(),
                },
            },
        );
        kv.snapshot_begin().unwrap();
        kv.snapshot_abort();
        assert_eq!(kv.snapshot_next(4, usize::MAX).unwrap(), None);
    }

    /// Found by a review of large values: a step took `keys` keys whatever their size, so with
    /// 1 MB values a step of the default 1,024 keys built a 1 GB chunk, and the writer's channel
    /// held four of them. A step now ends once it holds `bytes`.
    #[test]
    fn a_step_of_large_values_stops_at_its_byte_budget_but_takes_at_least_one_key() {
        let mut kv = KvStore::new();
        for seq in 1..=20 {
            let put = Command {
                id: RequestId { client: 1, seq },
                op: KvOp::Put {
                    key: format!("k{seq:02}"),
                    value: vec![7; 10_000],
                },
            };
            kv.apply(seq, &put);
        }
        let (mut image, _) = kv.snapshot_begin().unwrap();
        let mut steps = Vec::new();
        while let Some(bytes) = kv.snapshot_next(1024, 25_000).unwrap() {
            steps.push(bytes.len());
            image.extend(bytes);
        }
        // Three values reach the budget: 20 keys in 7 steps, each under budget + one value.
        assert_eq!(steps.len(), 7, "{steps:?}");
        assert!(steps.iter().all(|&n| n < 25_000 + 10_100), "{steps:?}");
        assert_eq!(image, kv.snapshot().unwrap());
        let (mut image, _) = kv.snapshot_begin().unwrap();
        let mut steps = 0;
        while let Some(bytes) = kv.snapshot_next(1024, 1).unwrap() {
            steps += 1;
            image.extend(bytes);
        }
        assert_eq!(steps, 20, "one key a step, however small the budget");
        assert_eq!(image, kv.snapshot().unwrap());
    }
}
