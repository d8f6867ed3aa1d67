//! Unit tests of the service's bookkeeping.

use super::*;

fn pending(sent: Option<NodeId>) -> Pending {
    Pending {
        command: Command {
            id: RequestId { client: 1, seq: 1 },
            op: KvOp::Delete { key: "k".into() },
        },
        _held: None,
        waiters: Vec::new(),
        deadline: Instant::now(),
        maybe_executed: false,
        sent: sent.map(|n| (n, Instant::now())),
        sent_term: 0,
        taken: None,
    }
}

#[test]
fn a_command_in_the_local_protocols_hands_may_be_executed() {
    // Expiring before the local protocol answered must not say "not executed".
    assert!(pending(Some(1)).maybe_executed(1));
    // Never handed over, or refused (sent again cleared): definitely not executed here.
    assert!(!pending(None).maybe_executed(1));
}
