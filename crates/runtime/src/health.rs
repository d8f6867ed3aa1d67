//! `GET /health` and `GET /ready`, for load balancers and orchestrators.
//!
//! ```text
//!   /health ──► the service answers its status ──► 200 {"status":"ok"}      else 503
//!   /ready  ──► storage fine, a leader known, a linearizable read served
//!               within READY_WITHIN ───────────► 200 {"ready":true,...}     else 503 + reason
//! ```
//!
//! `/health` says the process serves (restart it if not); `/ready` says this node can serve
//! linearizable requests now (send it traffic only if so). Neither changes anything.

use crate::http::ApiState;
use crate::msg::{ClientRequest, Consistency, GetNodeStatus};
use actix_web::{web, HttpResponse};
use serde_json::json;
use std::time::Duration;
use synod_messages::KvOp;

/// How long the read `/ready` makes may take before the node counts as not ready.
pub const READY_WITHIN: Duration = Duration::from_secs(1);

/// The key `/ready` reads (reading changes nothing; any key would do).
const PROBE_KEY: &str = "synod-ready-probe";

/// `GET /health`: 200 while the node's service answers.
pub async fn health(state: web::Data<ApiState>) -> HttpResponse {
    match state.service.send(GetNodeStatus).await {
        Ok(Some(status)) => HttpResponse::Ok().json(json!({
            "status": "ok",
            "node_id": status.node_id,
        })),
        _ => not_ready("the node's protocol or service is not answering"),
    }
}

/// `GET /ready`: 200 when this node can serve a linearizable request now.
pub async fn ready(state: web::Data<ApiState>) -> HttpResponse {
    let Ok(Some(status)) = state.service.send(GetNodeStatus).await else {
        return not_ready("the node's protocol or service is not answering");
    };
    if status.role == "failed" {
        return not_ready("this node's storage failed; it is recovering from its durable state");
    }
    let Some(leader) = status.leader_id else {
        return not_ready(
            "no leader known (an election may be under way, or no majority is reachable)",
        );
    };
    let read = ClientRequest {
        op: KvOp::Get {
            key: PROBE_KEY.into(),
        },
        id: None,
        consistency: Consistency::Linearizable,
        held: None,
    };
    match actix_rt::time::timeout(READY_WITHIN, state.service.send(read)).await {
        Ok(Ok(Ok(_))) => HttpResponse::Ok().json(json!({
            "ready": true,
            "node_id": status.node_id,
            "leader_id": leader,
            "applied_index": status.applied_index,
        })),
        Ok(Ok(Err(e))) => not_ready(&format!("a linearizable read failed here: {e}")),
        Ok(Err(e)) => not_ready(&format!("the node's service is gone: {e}")),
        Err(_) => not_ready(&format!(
            "a linearizable read took longer than {} ms (leader {leader} not confirmed)",
            READY_WITHIN.as_millis()
        )),
    }
}

fn not_ready(reason: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(json!({"ready": false, "reason": reason}))
}
