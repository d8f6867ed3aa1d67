//! A damaged data file — truncated at any offset, or with flipped bytes — is either read back
//! whole or refused with an error that names the file. It never yields different data.

#![allow(missing_docs, clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use synod_core::{DurableState, Storage};
use synod_messages::raft::{Entry, EntryPayload};
use synod_messages::{Command, KvOp, RequestId};
use synod_raft::{HardState, RaftPersist, RaftState};
use synod_storage::RedbBackend;

fn history() -> Vec<Vec<RaftPersist>> {
    let mut batches = vec![vec![RaftPersist::HardState(HardState {
        term: 3,
        voted_for: Some(2),
    })]];
    for b in 0..40u64 {
        let entries = (1..=25u64)
            .map(|i| {
                let index = b * 25 + i;
                Entry {
                    term: 3,
                    index,
                    payload: EntryPayload::Command(Command {
                        id: RequestId {
                            client: 1,
                            seq: index,
                        },
                        op: KvOp::Put {
                            key: format!("key-{index}"),
                            value: vec![index as u8; 200],
                        },
                    }),
                }
            })
            .collect();
        batches.push(vec![RaftPersist::Append(entries)]);
    }
    batches
}

/// Writes the history to `path`; returns the state every later load must give.
fn write(path: &Path) -> RaftState {
    let backend = RedbBackend::open(path).unwrap();
    let mut store = backend.storage::<RaftState>("raft");
    let mut expected = RaftState::default();
    for batch in history() {
        store.persist(&batch).unwrap();
        for op in &batch {
            expected.apply(op);
        }
    }
    expected
}

/// Opens a damaged copy: Ok(state) or the error text.
fn reopen(path: &Path) -> Result<RaftState, String> {
    let backend = RedbBackend::open(path).map_err(|e| e.to_string())?;
    backend
        .storage::<RaftState>("raft")
        .load()
        .map_err(|e| e.to_string())
}

fn judge(path: &Path, expected: &RaftState, what: &str) -> bool {
    match reopen(path) {
        Ok(state) => {
            assert!(
                state == *expected,
                "{what}: the damaged file loaded different data"
            );
            false
        }
        Err(e) => {
            assert!(
                e.contains(&path.display().to_string()),
                "{what}: the error does not name the file: {e}"
            );
            true
        }
    }
}

#[test]
fn truncated_files_are_read_whole_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.redb");
    let expected = write(&original);
    let bytes = std::fs::read(&original).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut offsets: Vec<usize> = (0..40).map(|_| rng.gen_range(0..bytes.len())).collect();
    offsets.extend([0, 1, 100, 4096, bytes.len() / 2, bytes.len() - 1]);
    let mut refused = 0;
    for (i, &cut) in offsets.iter().enumerate() {
        let path = dir.path().join(format!("cut-{i}.redb"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        if cut == 0 {
            // An empty file is a new database: that is no data, and nothing claims otherwise.
            continue;
        }
        refused += usize::from(judge(&path, &expected, &format!("truncated at {cut}")));
    }
    assert!(refused > 0, "no truncation was noticed at all");
}

#[test]
fn flipped_bytes_are_read_whole_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.redb");
    let expected = write(&original);
    let bytes = std::fs::read(&original).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let mut refused = 0;
    for i in 0..60 {
        let mut damaged = bytes.clone();
        let at = rng.gen_range(0..damaged.len());
        damaged[at] ^= 1 << rng.gen_range(0..8);
        let path = dir.path().join(format!("flip-{i}.redb"));
        std::fs::write(&path, &damaged).unwrap();
        refused += usize::from(judge(&path, &expected, &format!("bit flipped at {at}")));
    }
    assert!(refused > 0, "no flipped byte was noticed at all");
}
