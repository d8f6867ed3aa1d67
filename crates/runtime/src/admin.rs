//! The test-only admin endpoint: switches this node's network fault filter at run time, so an
//! end-to-end test can cut links between real processes. Off unless the config enables it.
//!
//! `POST /v1/admin/faults` with a JSON object; every field is optional and they apply in
//! this order: `heal` (clear every fault), `partition` (groups of node ids that cannot reach
//! each other), `isolate` (a node id), `block` (`[from, to]`, one way), `drop` (loss
//! probability on every link), `duplicate` (probability), `delay_ms` (`[min, max]` on every
//! link). The filter is on the sending side: to cut links both ways, post to every node.

use crate::http::ApiState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use synod_messages::NodeId;

/// A change to the fault filter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    heal: Option<bool>,
    partition: Option<Vec<Vec<NodeId>>>,
    isolate: Option<NodeId>,
    block: Option<(NodeId, NodeId)>,
    drop: Option<f64>,
    duplicate: Option<f64>,
    delay_ms: Option<(u64, u64)>,
}

/// `POST /v1/admin/faults`.
pub async fn faults(state: web::Data<ApiState>, body: web::Bytes) -> HttpResponse {
    let Some(faults) = &state.admin else {
        return HttpResponse::NotFound()
            .json(json!({"error": "not_found", "detail": "the admin endpoint is disabled (admin.enabled = false)"}));
    };
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return HttpResponse::BadRequest()
                .json(json!({"error": "bad_json", "detail": e.to_string()}))
        }
    };
    let probability_ok = |p: Option<f64>| p.is_none_or(|p| (0.0..=1.0).contains(&p));
    if !probability_ok(request.drop) || !probability_ok(request.duplicate) {
        return HttpResponse::BadRequest().json(
            json!({"error": "bad_probability", "detail": "drop and duplicate are between 0 and 1"}),
        );
    }
    if request.heal == Some(true) {
        faults.heal();
    }
    if let Some(groups) = request.partition {
        faults.partition(groups);
    }
    if let Some(node) = request.isolate {
        faults.isolate(node);
    }
    if let Some((from, to)) = request.block {
        faults.block(from, to);
    }
    if let Some(p) = request.drop {
        faults.set_drop_all(p);
    }
    if let Some(p) = request.duplicate {
        faults.set_duplicate_all(p);
    }
    if let Some((min, max)) = request.delay_ms {
        faults.set_delay_all(
            Duration::from_millis(min),
            Duration::from_millis(max.max(min)),
        );
    }
    tracing::warn!("admin: network faults changed");
    HttpResponse::Ok().json(json!({"ok": true}))
}
