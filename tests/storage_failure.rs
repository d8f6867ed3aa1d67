//! A node whose disk fails (full, I/O error) answers its clients with an error, keeps serving
//! reads of what it has, loses nothing acknowledged, and goes on once the disk works again.
//! The failure is injected with a storage wrapper: this machine offers no small filesystem to
//! fill for real. A node handed a snapshot it cannot decode stops its state machine rather
//! than apply the rest of the log on top of the wrong state.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use actix::{Actor, Addr, AsyncContext, Context};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use synod_core::Snapshot;
use synod_core::{DurableState, MemoryStorage, Storage, StorageError};
use synod_messages::{ActorAddr, KvOp, KvResult, Role};
use synod_network::{Faults, LocalHub, NetworkConfig, Register, Router};
use synod_raft::{Raft, RaftConfig, RaftState};
use synod_runtime::{
    ApplyBatch, ClientError, ClientRequest, Consistency, GetNodeStatus, Service, ServiceConfig,
    Shell,
};

/// Memory storage whose writes fail while `full` is set, as on a full disk.
struct FlakyStorage<S: DurableState> {
    inner: MemoryStorage<S>,
    full: Arc<AtomicBool>,
}

impl<S: DurableState> Storage<S> for FlakyStorage<S> {
    fn load(&mut self) -> Result<S, StorageError> {
        self.inner.load()
    }
    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StorageError::Write(
                "No space left on device (os error 28)".into(),
            ));
        }
        self.inner.persist(ops)
    }
}

async fn request(
    service: &actix::Addr<Service>,
    op: KvOp,
    consistency: Consistency,
) -> Result<KvResult, ClientError> {
    service
        .send(ClientRequest {
            op,
            id: None,
            consistency,
            held: None,
        })
        .await
        .unwrap()
}

async fn wait_role(service: &actix::Addr<Service>, role: &str) {
    let start = Instant::now();
    while service.send(GetNodeStatus).await.unwrap().unwrap().role != role {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never became {role}"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put {
        key: key.into(),
        value: value.into(),
    }
}

/// A one-node Raft cluster whose storage fails while `full` is set; returns its service.
async fn single_node(full: Arc<AtomicBool>, store: MemoryStorage<RaftState>) -> Addr<Service> {
    let router = Router::start(
        NetworkConfig::new(1, "disk"),
        Faults::new(1),
        Some(LocalHub::new()),
    )
    .await
    .unwrap();
    let tick = Duration::from_millis(10);
    let service_ctx = Context::<Service>::new();
    let mut rc = RaftConfig::new(1, vec![1]);
    rc.seed = 3;
    let shell = Shell::recover(
        ActorAddr::new(1, Role::named("raft")),
        Box::new(FlakyStorage {
            inner: store.clone(),
            full: full.clone(),
        }),
        move |state| Raft::new(rc.clone(), state),
        router.clone(),
        tick,
    )
    .unwrap()
    .apply_to(service_ctx.address().recipient())
    .report_roles_to(service_ctx.address().recipient())
    .start();
    let cfg = ServiceConfig {
        node: 1,
        request_timeout: Duration::from_secs(2),
        max_forward_bytes: 1 << 20,
        retry_interval: tick,
        resend_after: Duration::from_millis(500),
        roles: vec![Role::named("raft")],
        snapshot: synod_runtime::SnapshotPolicy {
            every: 0,
            max_log_bytes: 0,
            keys_per_step: 1,
        },
    };
    let service = service_ctx.run(Service::new(
        cfg,
        router.clone(),
        Some(shell.clone().recipient()),
        shell.recipient(),
    ));
    router.do_send(Register {
        role: Role::SERVICE,
        recipient: service.clone().recipient(),
    });
    service
}

#[actix_rt::test]
async fn a_full_disk_fails_writes_keeps_reads_and_recovers() {
    let full = Arc::new(AtomicBool::new(false));
    let store = MemoryStorage::<RaftState>::new();
    let service = single_node(full.clone(), store.clone()).await;

    wait_role(&service, "leader").await;
    assert_eq!(
        request(&service, put("x", "1"), Consistency::Linearizable).await,
        Ok(KvResult::Done)
    );

    // The disk fills up: the write fails with a storage error, not a crash and not a hang.
    full.store(true, Ordering::SeqCst);
    let err = request(&service, put("y", "2"), Consistency::Linearizable).await;
    assert_eq!(err, Err(ClientError::Storage));
    wait_role(&service, "failed").await;
    // What the node has is still served.
    assert_eq!(
        request(&service, KvOp::Get { key: "x".into() }, Consistency::Stale).await,
        Ok(KvResult::Value(Some(b"1".to_vec())))
    );
    // Nothing acknowledged was lost from the disk either.
    assert!(store
        .snapshot()
        .entries
        .iter()
        .any(|e| format!("{e:?}").contains("\"x\"")));

    // Space comes back: the replica rebuilds itself from what is durable and goes on.
    full.store(false, Ordering::SeqCst);
    wait_role(&service, "leader").await;
    assert_eq!(
        request(&service, put("z", "3"), Consistency::Linearizable).await,
        Ok(KvResult::Done)
    );
    assert_eq!(
        request(
            &service,
            KvOp::Get { key: "x".into() },
            Consistency::Linearizable
        )
        .await,
        Ok(KvResult::Value(Some(b"1".to_vec())))
    );
}

#[actix_rt::test]
async fn an_undecodable_snapshot_stops_the_state_machine_instead_of_diverging() {
    let service = single_node(Arc::new(AtomicBool::new(false)), MemoryStorage::new()).await;
    wait_role(&service, "leader").await;
    assert_eq!(
        request(&service, put("x", "1"), Consistency::Linearizable).await,
        Ok(KvResult::Done)
    );
    service
        .send(ApplyBatch {
            snapshot: Some(Snapshot {
                index: 1_000,
                data: bytes::Bytes::from_static(b"not a snapshot"),
            }),
            entries: Vec::new(),
            reads: Vec::new(),
        })
        .await
        .unwrap();
    for consistency in [Consistency::Linearizable, Consistency::Stale] {
        let get = request(&service, KvOp::Get { key: "x".into() }, consistency).await;
        assert!(
            matches!(&get, Err(ClientError::Unavailable(why)) if why.contains("cannot be decoded")),
            "{get:?}"
        );
    }
    assert!(matches!(
        request(&service, put("y", "2"), Consistency::Linearizable).await,
        Err(ClientError::Unavailable(_))
    ));
    let status = service.send(GetNodeStatus).await.unwrap().unwrap();
    assert_eq!(
        status.applied_index, 2,
        "nothing applied past the bad image"
    );
}
