//! AppendEntries batches are bounded by count and by bytes, so no message outgrows a frame.

#![allow(missing_docs, clippy::unwrap_used)]

mod harness;

use harness::{config, Net};
use synod_messages::raft::RaftMessage;
use synod_messages::{Command, KvOp, RequestId};
use synod_raft::RaftState;

fn big(seq: u64) -> Command {
    Command {
        id: RequestId { client: 1, seq },
        op: KvOp::Put {
            key: format!("k{seq}"),
            value: vec![1; 1000],
        },
    }
}

/// Found with 1 MB values and 64 clients: an AppendEntries of hundreds of entries outgrew the
/// frame limit, was dropped by the network, sent again and dropped again: nothing committed.
#[test]
fn an_append_entries_carries_no_more_bytes_than_the_budget_but_always_one_entry() {
    let mut net = Net::with_states(
        (1..=3)
            .map(|id| {
                let mut cfg = config(id, 3);
                cfg.max_batch_bytes = 2500;
                (cfg, RaftState::default())
            })
            .collect(),
    );
    net.elect(1);
    net.deliver_all();
    net.isolate(2);
    net.isolate(3);
    net.propose(1, (1..=7).map(big).collect());
    net.heal();
    let mut sizes = Vec::new();
    for _ in 0..10 {
        net.tick(1);
        while let Some((from, to, msg)) = net.queue.pop_front() {
            if let RaftMessage::AppendEntries { entries, .. } = &msg {
                if !entries.is_empty() {
                    sizes.push(entries.len());
                }
            }
            net.queue.push_front((from, to, msg));
            net.deliver_one();
        }
    }
    assert!(!sizes.is_empty());
    assert!(sizes.iter().all(|&n| n <= 2), "{sizes:?}");
    assert_eq!(
        net.node(1).commit_index(),
        8,
        "every entry committed (and the no-op)"
    );
}
