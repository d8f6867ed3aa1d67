//! The HTTP API (actix-web), the same on every node and for every protocol.
//!
//! | method | path | success | errors |
//! |---|---|---|---|
//! | PUT | `/v1/kv/{key}` (body: raw value) | 200 | 400, 413, 503, 504 |
//! | GET | `/v1/kv/{key}[?consistency=stale]` | 200 raw value, 404 | 400, 503, 504 |
//! | DELETE | `/v1/kv/{key}` | 200 | 400, 503, 504 |
//! | POST | `/v1/kv/{key}/cas` (JSON `{"expected","value"}`) | 200 / 409 | 400, 413, 503, 504 |
//! | GET | `/v1/status` | 200 JSON | 503 |
//!
//! Every error body is JSON with an `error` field. A client may send
//! `synod-request-id: <client>:<seq>` (two u64) so a retry of the same request is applied once.

use crate::msg::{ClientError, ClientRequest, Consistency, GetNodeStatus};
use crate::service::Service;
use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use synod_messages::{KvOp, KvResult, RequestId};

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The node's service.
    pub service: Addr<Service>,
    /// Largest value accepted, in bytes.
    pub max_value_bytes: usize,
    /// Largest key accepted, in bytes.
    pub max_key_bytes: usize,
}

/// Registers the API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/kv/{key}")
            .route(web::put().to(put))
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/v1/kv/{key}/cas").route(web::post().to(cas)))
    .service(web::resource("/v1/status").route(web::get().to(status)))
    .default_service(web::to(|| async {
        error(StatusCode::NOT_FOUND, "not_found", "no such route")
    }));
}

fn error(code: StatusCode, kind: &str, detail: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::build(code).json(json!({"error": kind, "detail": detail.to_string()}))
}

fn client_error(e: ClientError) -> HttpResponse {
    match e {
        ClientError::NoLeader { leader } => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(json!({"error": "no_leader", "leader": leader, "detail": "no leader or no quorum is reachable; the request was not executed"})),
        ClientError::Timeout => HttpResponse::GatewayTimeout()
            .json(json!({"error": "timeout", "outcome": "unknown"})),
        ClientError::Unavailable(detail) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(json!({"error": "unavailable", "detail": detail})),
    }
}

fn check_key(state: &ApiState, key: &str) -> Result<(), HttpResponse> {
    if key.is_empty() || key.len() > state.max_key_bytes {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_key",
            format!("a key is 1 to {} bytes", state.max_key_bytes),
        ));
    }
    Ok(())
}

fn request_id(req: &HttpRequest) -> Result<Option<RequestId>, HttpResponse> {
    let Some(header) = req.headers().get("synod-request-id") else {
        return Ok(None);
    };
    let parsed = header.to_str().ok().and_then(|s| {
        let (client, seq) = s.split_once(':')?;
        Some(RequestId {
            client: client.trim().parse().ok()?,
            seq: seq.trim().parse().ok()?,
        })
    });
    match parsed {
        Some(id) => Ok(Some(id)),
        None => Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request_id",
            "synod-request-id must be <client>:<seq>, two unsigned integers",
        )),
    }
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, HttpResponse> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| error(StatusCode::BAD_REQUEST, "bad_body", e))?;
        if body.len() + chunk.len() > limit {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the limit is {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn run(state: &ApiState, req: ClientRequest) -> Result<KvResult, HttpResponse> {
    match state.service.send(req).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => Err(client_error(e)),
        Err(e) => Err(client_error(ClientError::Unavailable(e.to_string()))),
    }
}

fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return response,
        }
    };
}

async fn put(
    state: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let key = key.into_inner();
    tri!(check_key(&state, &key));
    let id = tri!(request_id(&req));
    let value = tri!(read_body(payload, state.max_value_bytes).await);
    let op = KvOp::Put { key, value };
    tri!(
        run(
            &state,
            ClientRequest {
                op,
                id,
                consistency: Consistency::Linearizable
            }
        )
        .await
    );
    ok()
}

#[derive(Deserialize)]
struct ReadQuery {
    consistency: Option<String>,
}

async fn get(
    state: web::Data<ApiState>,
    key: web::Path<String>,
    query: web::Query<ReadQuery>,
) -> HttpResponse {
    let key = key.into_inner();
    tri!(check_key(&state, &key));
    let consistency = match query.consistency.as_deref() {
        None | Some("linearizable") => Consistency::Linearizable,
        Some("stale") => Consistency::Stale,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_consistency",
                format!("consistency must be linearizable or stale, not {other:?}"),
            )
        }
    };
    let op = KvOp::Get { key };
    match tri!(
        run(
            &state,
            ClientRequest {
                op,
                id: None,
                consistency
            }
        )
        .await
    ) {
        KvResult::Value(Some(v)) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(v),
        KvResult::Value(None) => error(StatusCode::NOT_FOUND, "not_found", "no such key"),
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{other:?}"),
        ),
    }
}

async fn delete(
    state: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> HttpResponse {
    let key = key.into_inner();
    tri!(check_key(&state, &key));
    let id = tri!(request_id(&req));
    let op = KvOp::Delete { key };
    tri!(
        run(
            &state,
            ClientRequest {
                op,
                id,
                consistency: Consistency::Linearizable
            }
        )
        .await
    );
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasBody {
    expected: Option<String>,
    value: Option<String>,
}

async fn cas(
    state: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let key = key.into_inner();
    tri!(check_key(&state, &key));
    let id = tri!(request_id(&req));
    // The JSON wraps two values, so allow room for both plus the syntax.
    let body = tri!(read_body(payload, 2 * state.max_value_bytes + 1024).await);
    let body: CasBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_json", e),
    };
    if body
        .value
        .as_ref()
        .is_some_and(|v| v.len() > state.max_value_bytes)
    {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the limit is {} bytes", state.max_value_bytes),
        );
    }
    let op = KvOp::Cas {
        key,
        expected: body.expected.map(String::into_bytes),
        value: body.value.map(String::into_bytes),
    };
    match tri!(
        run(
            &state,
            ClientRequest {
                op,
                id,
                consistency: Consistency::Linearizable
            }
        )
        .await
    ) {
        KvResult::Cas {
            succeeded: true, ..
        } => HttpResponse::Ok().json(json!({"succeeded": true})),
        KvResult::Cas {
            succeeded: false,
            current,
        } => HttpResponse::Conflict().json(json!({
            "succeeded": false,
            "current": current.map(|c| String::from_utf8_lossy(&c).into_owned()),
        })),
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{other:?}"),
        ),
    }
}

async fn status(state: web::Data<ApiState>) -> HttpResponse {
    match state.service.send(GetNodeStatus).await {
        Ok(Some(status)) => HttpResponse::Ok().json(status),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the protocol actor is not answering",
        ),
    }
}
