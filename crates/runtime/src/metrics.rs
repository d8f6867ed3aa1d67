//! Prometheus metrics at `GET /metrics`, through the `metrics` facade and its Prometheus
//! exporter (which only renders text here: actix-web serves it).
//!
//! ```text
//!   hot paths ── counter/histogram handles, made once ──► recorder (one per process)
//!     HTTP requests (route, status, latency) · persists (latency, ops) · proposals · applies
//!     leader changes · snapshots (count, duration)
//!   GET /metrics ──► service status (a leader: each peer's replication lag) + router
//!                    counters copied into gauges ──► render text
//! ```
//!
//! State that is cheaper to read than to track (term, leader, commit/applied indexes, keys,
//! pending requests and bytes, the router's counters) is read when scraped, so it costs
//! nothing between scrapes. The recorder is per process: nodes of one process (tests) share
//! it; a `synod node` process labels everything with its `node`.

use crate::http::ApiState;
use crate::msg::GetNodeStatus;
use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use synod_network::GetStats;

/// HTTP requests, by `route` (its pattern, e.g. `/v1/kv/:key`), `method` and `status`.
pub const HTTP_REQUESTS: &str = "synod_http_requests_total";
/// HTTP request latency, by `route`.
pub const HTTP_SECONDS: &str = "synod_http_request_duration_seconds";
/// Persists (one sync each), by `role`.
pub const PERSIST_SECONDS: &str = "synod_persist_duration_seconds";
/// Ops written per persist (the batch size), by `role`.
pub const PERSIST_OPS: &str = "synod_persist_ops";
/// Client commands handed to the local protocol.
pub const PROPOSALS: &str = "synod_proposals_total";
/// Log positions applied to the store.
pub const APPLIED: &str = "synod_applied_total";
/// Times this node saw the leader change.
pub const LEADER_CHANGES: &str = "synod_leader_changes_total";
/// Snapshots written.
pub const SNAPSHOTS: &str = "synod_snapshots_total";
/// How long writing a snapshot took.
pub const SNAPSHOT_SECONDS: &str = "synod_snapshot_duration_seconds";

/// Latency buckets, in seconds: 100 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Ops-per-persist buckets.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle), labelling every
/// series with `labels` (a `synod node` process: its node id). `None` if another recorder
/// was installed first.
pub fn install(labels: &[(&str, String)]) -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PERSIST_OPS.into()), BATCH_BUCKETS))
                .ok()?;
            for (key, value) in labels {
                builder = builder.add_global_label(*key, value.clone());
            }
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .clone()
}

/// Records one HTTP request of route pattern `route` (`/v1/kv/{key}` is labelled
/// `/v1/kv/:key`: some text-format parsers stop a label value at the first `}`).
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let route = route.replace('{', ":").replace('}', "");
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.to_string(), "status" => status.to_string()).increment(1);
    metrics::histogram!(HTTP_SECONDS, "route" => route).record(took.as_secs_f64());
}

/// `GET /metrics`: the Prometheus text format.
pub async fn scrape(state: web::Data<ApiState>) -> HttpResponse {
    let Some(handle) = &state.metrics else {
        return HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"error": "unavailable", "detail": "no metrics recorder in this process"}));
    };
    if let Ok(Some(s)) = state.service.send(GetNodeStatus).await {
        let is_leader = s.leader_id == Some(s.node_id);
        metrics::gauge!("synod_term").set(s.term as f64);
        metrics::gauge!("synod_is_leader").set(if is_leader { 1.0 } else { 0.0 });
        metrics::gauge!("synod_leader_id").set(s.leader_id.map_or(0.0, |l| l as f64));
        metrics::gauge!("synod_commit_index").set(s.commit_index as f64);
        metrics::gauge!("synod_applied_index").set(s.applied_index as f64);
        metrics::gauge!("synod_snapshot_index").set(s.snapshot_index as f64);
        metrics::gauge!("synod_keys").set(s.keys as f64);
        metrics::gauge!("synod_storage_failed").set(if s.role == "failed" { 1.0 } else { 0.0 });
        // A leader: how far each node it writes to is behind its log.
        for (peer, held) in &s.replicated {
            metrics::gauge!("synod_replication_lag", "peer" => peer.to_string())
                .set(s.last_log_index.saturating_sub(*held) as f64);
        }
    }
    metrics::gauge!("synod_pending_bytes").set(state.admission.held() as f64);
    if let Some(router) = &state.router {
        if let Ok(stats) = router.send(GetStats).await {
            let counters = [
                ("delivered_local", stats.delivered_local),
                ("sent_in_process", stats.sent_hub),
                ("queued_tcp", stats.queued_tcp),
                ("received", stats.received),
            ];
            for (path, n) in counters {
                metrics::counter!("synod_messages_total", "path" => path).absolute(n);
            }
            let dropped = [
                ("faults", stats.dropped_by_faults),
                ("unknown_role", stats.dropped_unknown_role),
                ("unknown_node", stats.dropped_unknown_node),
                ("queue_full", stats.dropped_queue_full),
                ("unframed", stats.dropped_unframed),
            ];
            for (reason, n) in dropped {
                metrics::counter!("synod_messages_dropped_total", "reason" => reason).absolute(n);
            }
        }
        if let Ok(queued) = router.send(synod_network::GetQueued).await {
            for (peer, bytes) in queued {
                metrics::gauge!("synod_peer_queue_bytes", "peer" => peer.to_string())
                    .set(bytes as f64);
            }
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
