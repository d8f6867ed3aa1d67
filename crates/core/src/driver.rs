//! The one driver: carries out a core's [`Ready`] in the safe order. The actor shell, the
//! simulator and every test harness call it, so persist-before-send lives here and nowhere else.
//!
//! ```text
//!   core.take_ready() ──► eager messages ──► fx.send        (before the sync: they need none)
//!         ▲                  [begin]  ...the caller may pause here, e.g. to put them on the wire
//!         │               persist ──────────► fx.persist    (one sync for the step; on error stop)
//!         │                  └► core.persisted(), core.snapshot_stored(..)
//!         │               messages ─────────► fx.send       (only once the persist is durable)
//!         │               snapshot, applied,
//!         │               reads ────────────► fx.deliver    (the state machine)
//!         └──────────────── [finish] ── again until the core has nothing left
//! ```

use crate::{Applied, Core, Ready, Snapshot, StorageError, SNAPSHOT_BLOB};
use synod_messages::ActorAddr;

/// What a driver needs of its surroundings to carry out one core's outputs.
pub trait Effects<M, P> {
    /// Sends one message (the driver decides when: eager ones before the persist, the others
    /// after it).
    fn send(&mut self, to: ActorAddr, msg: M);
    /// Makes `ops` durable, in order, with one sync. Only called with at least one op.
    fn persist(&mut self, ops: &[P]) -> Result<(), StorageError>;
    /// After a successful persist: the bytes of the snapshot blob ([`SNAPSHOT_BLOB`]) the
    /// persist just stored, read-only from the storage, if it stored one.
    fn take_stored_snapshot(&mut self, key: &str) -> Option<bytes::Bytes> {
        let _ = key;
        None
    }
    /// Hands the state machine what the step produced: replace it by `snapshot` (if any),
    /// then apply `applied` in order, then serve `reads`. Only called when one is non-empty.
    fn deliver(
        &mut self,
        snapshot: Option<Snapshot>,
        applied: Vec<Applied>,
        reads: Vec<(u64, Option<u64>)>,
    );
}

/// One step of a core whose eager messages have been sent; its persist comes next
/// ([`finish`]). Dropping it instead is a crash before the persist: nothing else leaves.
#[must_use = "a step must be finished (or dropped as a crash)"]
pub struct Step<M, P> {
    ready: Ready<M, P>,
    sent_eager: bool,
}

impl<M, P> Step<M, P> {
    /// True when eager messages were sent and a persist follows: a caller that wants them on
    /// the wire before it blocks in the sync pauses here.
    pub fn sent_eager_before_persist(&self) -> bool {
        self.sent_eager && self.persists()
    }

    /// True when the step has something to persist.
    pub fn persists(&self) -> bool {
        !self.ready.persist.is_empty()
    }
}

/// Takes the core's next outputs and sends their eager messages. `None` when the core has
/// nothing to do.
pub fn begin<C: Core, E: Effects<C::Message, C::Persist>>(
    core: &mut C,
    fx: &mut E,
) -> Option<Step<C::Message, C::Persist>> {
    let mut ready = core.take_ready();
    if ready.is_empty() {
        return None;
    }
    let eager = std::mem::take(&mut ready.eager);
    let sent_eager = !eager.is_empty();
    for (to, msg) in eager {
        fx.send(to, msg);
    }
    Some(Step { ready, sent_eager })
}

/// Persists a step (one sync), tells the core, then sends its messages and delivers what it
/// applied. On a persist error nothing more of the step happens: a core whose memory is ahead
/// of its disk must not vote or acknowledge.
pub fn finish<C: Core, E: Effects<C::Message, C::Persist>>(
    core: &mut C,
    fx: &mut E,
    step: Step<C::Message, C::Persist>,
) -> Result<(), StorageError> {
    // Every field by name: one added to `Ready` must be carried out here too.
    let Ready {
        eager: _sent_in_begin,
        persist,
        messages,
        mut snapshot,
        applied,
        reads,
    } = step.ready;
    if !persist.is_empty() {
        fx.persist(&persist)?;
        core.persisted();
        // A snapshot received from another node was stored from memory: from now on the core
        // and the state machine read it from its file, and the copy in memory goes.
        if let (Some(image), Some(data)) = (&mut snapshot, fx.take_stored_snapshot(SNAPSHOT_BLOB)) {
            if data.len() == image.data.len() {
                core.snapshot_stored(image.index, data.clone());
                image.data = data;
            }
        }
    }
    for (to, msg) in messages {
        fx.send(to, msg);
    }
    if snapshot.is_some() || !applied.is_empty() || !reads.is_empty() {
        fx.deliver(snapshot, applied, reads);
    }
    Ok(())
}

/// Carries out the core's outputs until it has nothing left (a persist may let it commit
/// more, e.g. a leader counting itself).
pub fn drive<C: Core, E: Effects<C::Message, C::Persist>>(
    core: &mut C,
    fx: &mut E,
) -> Result<(), StorageError> {
    while let Some(step) = begin(core, fx) {
        finish(core, fx, step)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use synod_messages::Role;

    /// A core that emits one scripted Ready per take, and records the callbacks.
    struct Scripted {
        readies: Vec<Ready<u32, u32>>,
        log: Vec<String>,
    }

    impl Core for Scripted {
        type Message = u32;
        type Persist = u32;
        fn on_message(&mut self, _: ActorAddr, _: u32) {}
        fn on_tick(&mut self) {}
        fn take_ready(&mut self) -> Ready<u32, u32> {
            if self.readies.is_empty() {
                Ready::default()
            } else {
                self.readies.remove(0)
            }
        }
        fn persisted(&mut self) {
            self.log.push("persisted".into());
        }
        fn status(&self) -> Status {
            Status {
                protocol: "scripted",
                standing: crate::Standing::Follower,
                epoch: 0,
                leader: None,
                commit_index: 0,
                last_index: 0,
                ballot: None,
                writes_to: Vec::new(),
                storage_failed: false,
            }
        }
    }

    #[derive(Default)]
    struct Recorder {
        log: Vec<String>,
        fail_persist: bool,
    }

    impl Effects<u32, u32> for Recorder {
        fn send(&mut self, to: ActorAddr, msg: u32) {
            self.log.push(format!("send {msg} to {}", to.node));
        }
        fn persist(&mut self, ops: &[u32]) -> Result<(), StorageError> {
            if self.fail_persist {
                return Err(StorageError::Write("disk full".into()));
            }
            self.log.push(format!("persist {ops:?}"));
            Ok(())
        }
        fn deliver(
            &mut self,
            _: Option<Snapshot>,
            applied: Vec<Applied>,
            reads: Vec<(u64, Option<u64>)>,
        ) {
            self.log.push(format!(
                "deliver {} applied, {} reads",
                applied.len(),
                reads.len()
            ));
        }
    }

    fn to(node: u64) -> ActorAddr {
        ActorAddr::new(node, Role::named("raft"))
    }

    fn step(eager: u32, persist: u32, message: u32) -> Ready<u32, u32> {
        Ready {
            eager: vec![(to(2), eager)],
            persist: vec![persist],
            messages: vec![(to(3), message)],
            applied: vec![Applied {
                index: 1,
                command: None,
            }],
            ..Ready::default()
        }
    }

    #[test]
    fn eager_then_persist_then_messages_then_deliver_until_quiet() {
        let mut core = Scripted {
            readies: vec![step(1, 10, 2), step(3, 11, 4)],
            log: Vec::new(),
        };
        let mut fx = Recorder::default();
        drive(&mut core, &mut fx).unwrap();
        assert_eq!(
            fx.log,
            [
                "send 1 to 2",
                "persist [10]",
                "send 2 to 3",
                "deliver 1 applied, 0 reads",
                "send 3 to 2",
                "persist [11]",
                "send 4 to 3",
                "deliver 1 applied, 0 reads",
            ]
        );
        assert_eq!(core.log, ["persisted", "persisted"]);
    }

    #[test]
    fn a_failed_persist_sends_and_delivers_nothing_that_depends_on_it() {
        let mut core = Scripted {
            readies: vec![step(1, 10, 2), step(3, 11, 4)],
            log: Vec::new(),
        };
        let mut fx = Recorder {
            fail_persist: true,
            ..Recorder::default()
        };
        assert!(drive(&mut core, &mut fx).is_err());
        assert_eq!(fx.log, ["send 1 to 2"], "only the eager message left");
        assert!(core.log.is_empty(), "persisted() is not called");
    }

    #[test]
    fn a_step_without_persist_does_not_call_persisted() {
        let mut core = Scripted {
            readies: vec![Ready {
                messages: vec![(to(2), 5)],
                ..Ready::default()
            }],
            log: Vec::new(),
        };
        let mut fx = Recorder::default();
        let step = begin(&mut core, &mut fx).unwrap();
        assert!(!step.sent_eager_before_persist());
        finish(&mut core, &mut fx, step).unwrap();
        assert_eq!(fx.log, ["send 5 to 2"]);
        assert!(core.log.is_empty());
        assert!(begin(&mut core, &mut fx).is_none());
    }
}
