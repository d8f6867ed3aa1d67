//! The HTTP API (actix-web), the same on every node and for every protocol.
//!
//! | method | path | success | errors |
//! |---|---|---|---|
//! | PUT | `/v1/kv/{key}` (body: raw value) | 200 | 400, 408, 413, 503, 504, 507 |
//! | GET | `/v1/kv/{key}[?consistency=stale]` | 200 raw value, 404 | 400, 503, 504 |
//! | DELETE | `/v1/kv/{key}` | 200 | 400, 503, 504, 507 |
//! | POST | `/v1/kv/{key}/cas` (JSON `{"expected","value"}`, or `*_base64`) | 200 / 409 | 400, 408, 413, 503, 504, 507 |
//! | GET | `/v1/status` | 200 JSON | 503 |
//! | GET | `/health` | 200 `{"status":"ok"}` while the node serves | 503 |
//! | GET | `/metrics` | 200 Prometheus text ([`crate::metrics`]) | 503 without a recorder |
//! | GET | `/ready` | 200 when it can serve linearizable requests now ([`crate::health`]) | 503 with a `reason` |
//! | POST | `/v1/admin/faults` (JSON, test-only: [`crate::admin`]) | 200 | 400, 404 unless enabled |
//!
//! Every error body is JSON with an `error` field. A client may send
//! `synod-request-id: <client>:<seq>` (two u64) so a retry of the same request is applied once.
//!
//! A body must arrive within `body_timeout` (else 408 `body_timeout`), and the bodies a node
//! holds at once are bounded by its [`Admission`] budget (past it, 503 `overloaded`); either
//! way the request was not executed.

use crate::admission::{Admission, Overloaded, Reservation};
use crate::msg::{ClientError, ClientRequest, Consistency, GetNodeStatus};
use crate::service::Service;
use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
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
    /// The node's fault filter, when the test-only admin endpoint is enabled.
    pub admin: Option<synod_network::Faults>,
    /// The request bodies the node holds at once.
    pub admission: Arc<Admission>,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// The process's metrics, rendered at `GET /metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The node's router, whose counters `/metrics` reports.
    pub router: Option<actix::Addr<synod_network::Router>>,
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
    .service(web::resource("/health").route(web::get().to(crate::health::health)))
    .service(web::resource("/ready").route(web::get().to(crate::health::ready)))
    .service(web::resource("/metrics").route(web::get().to(crate::metrics::scrape)))
    .service(web::resource("/v1/admin/faults").route(web::post().to(crate::admin::faults)))
    .default_service(web::to(|| async {
        HttpResponse::NotFound().json(json!({"error": "not_found", "detail": "no such route"}))
    }));
}

/// Everything a handler can fail with; each maps to a status and a JSON body.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("{detail}")]
    BadRequest { kind: &'static str, detail: String },
    #[error("the limit is {0} bytes")]
    TooLarge(usize),
    #[error("the body did not arrive within {0:?}")]
    BodyTimeout(Duration),
    #[error(transparent)]
    Overloaded(#[from] Overloaded),
    #[error("no such key")]
    NotFound,
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Internal(String),
}

fn bad(kind: &'static str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest {
        kind,
        detail: detail.to_string(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Client(ClientError::Timeout | ClientError::Interrupted(_)) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ApiError::Client(ClientError::Storage) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Client(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let detail = self.to_string();
        let body = match self {
            ApiError::BadRequest { kind, .. } => json!({"error": kind, "detail": detail}),
            ApiError::TooLarge(_) => json!({"error": "too_large", "detail": detail}),
            ApiError::BodyTimeout(_) => json!({"error": "body_timeout", "detail": detail}),
            ApiError::Overloaded(_) => json!({"error": "overloaded", "detail": detail}),
            ApiError::NotFound => json!({"error": "not_found", "detail": detail}),
            ApiError::Client(ClientError::NoLeader { leader }) => json!({
                "error": "no_leader",
                "leader": leader,
                "detail": "no leader or no quorum is reachable; the request was not executed",
            }),
            ApiError::Client(ClientError::Timeout) => {
                json!({"error": "timeout", "outcome": "unknown"})
            }
            ApiError::Client(ClientError::Storage) => {
                json!({"error": "insufficient_storage", "outcome": "unknown", "detail": detail})
            }
            ApiError::Client(ClientError::Unavailable(_)) => {
                json!({"error": "unavailable", "detail": detail})
            }
            ApiError::Client(ClientError::Interrupted(_)) => {
                json!({"error": "interrupted", "outcome": "unknown", "detail": detail})
            }
            ApiError::Internal(_) => json!({"error": "internal", "detail": detail}),
        };
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(body)
    }
}

type ApiResult = Result<HttpResponse, ApiError>;

fn check_key(state: &ApiState, key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > state.max_key_bytes {
        return Err(bad(
            "bad_key",
            format!("a key is 1 to {} bytes", state.max_key_bytes),
        ));
    }
    // The router decodes a path lossily: `%FF` and `%FE` would both become U+FFFD, one key
    // silently overwriting the other.
    if key.contains(char::REPLACEMENT_CHARACTER) {
        return Err(bad(
            "bad_key",
            "a key is UTF-8 once percent-decoded (and holds no U+FFFD)",
        ));
    }
    Ok(())
}

fn request_id(req: &HttpRequest) -> Result<Option<RequestId>, ApiError> {
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
    parsed.map(Some).ok_or_else(|| {
        bad(
            "bad_request_id",
            "synod-request-id must be <client>:<seq>, two unsigned integers",
        )
    })
}

/// Reads a body of at most `limit` bytes, within the deadline and the node's budget. The
/// reservation holds its bytes until dropped: it goes with the request to the service, which
/// keeps it until the command is answered or expires (a client that goes away frees nothing).
async fn read_body(
    state: &ApiState,
    payload: web::Payload,
    limit: usize,
) -> Result<(Vec<u8>, Reservation), ApiError> {
    let mut reservation = state.admission.reserve();
    let read = read_within(payload, limit, &mut reservation);
    match tokio::time::timeout(state.body_timeout, read).await {
        Ok(body) => Ok((body?, reservation)),
        Err(_) => Err(ApiError::BodyTimeout(state.body_timeout)),
    }
}

async fn read_within(
    mut payload: web::Payload,
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| bad("bad_body", e))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        reservation.grow(chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn run(
    state: &ApiState,
    op: KvOp,
    id: Option<RequestId>,
    consistency: Consistency,
    held: Option<Reservation>,
) -> Result<KvResult, ApiError> {
    let req = ClientRequest {
        op,
        id,
        consistency,
        held,
    };
    match state.service.send(req).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(ClientError::Unavailable(e.to_string()).into()),
    }
}

fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

async fn put(
    state: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> ApiResult {
    let key = key.into_inner();
    check_key(&state, &key)?;
    let id = request_id(&req)?;
    let (value, held) = read_body(&state, payload, state.max_value_bytes).await?;
    run(
        &state,
        KvOp::Put { key, value },
        id,
        Consistency::Linearizable,
        Some(held),
    )
    .await?;
    Ok(ok())
}

#[derive(Deserialize)]
struct ReadQuery {
    consistency: Option<String>,
}

async fn get(
    state: web::Data<ApiState>,
    key: web::Path<String>,
    query: web::Query<ReadQuery>,
) -> ApiResult {
    let key = key.into_inner();
    check_key(&state, &key)?;
    let consistency = match query.consistency.as_deref() {
        None | Some("linearizable") => Consistency::Linearizable,
        Some("stale") => Consistency::Stale,
        Some(other) => {
            return Err(bad(
                "bad_consistency",
                format!("consistency must be linearizable or stale, not {other:?}"),
            ))
        }
    };
    match run(&state, KvOp::Get { key }, None, consistency, None).await? {
        KvResult::Value(Some(v)) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(v)),
        KvResult::Value(None) => Err(ApiError::NotFound),
        other => Err(ApiError::Internal(format!("a read returned {other:?}"))),
    }
}

async fn delete(state: web::Data<ApiState>, req: HttpRequest, key: web::Path<String>) -> ApiResult {
    let key = key.into_inner();
    check_key(&state, &key)?;
    let id = request_id(&req)?;
    run(
        &state,
        KvOp::Delete { key },
        id,
        Consistency::Linearizable,
        None,
    )
    .await?;
    Ok(ok())
}

/// The largest cas body taken when values are at most `max_value_bytes`: the JSON wraps two
/// values, each in base64 at most (4 bytes per 3), plus the syntax. (A string of many
/// characters JSON escapes can be longer: such values go as base64.)
pub fn max_cas_body(max_value_bytes: usize) -> usize {
    max_value_bytes
        .div_ceil(3)
        .saturating_mul(4)
        .saturating_mul(2)
        .saturating_add(1024)
}

/// A cas: each value as a string, or as base64 for values that are not UTF-8; absent (or
/// null) means "no such key" for `expected` and "delete" for `value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasBody {
    expected: Option<String>,
    expected_base64: Option<String>,
    value: Option<String>,
    value_base64: Option<String>,
}

/// One value of a cas body, from its string or its base64 form (not both).
fn cas_value(
    name: &str,
    text: Option<String>,
    base64: Option<String>,
) -> Result<Option<Vec<u8>>, ApiError> {
    use base64::Engine;
    match (text, base64) {
        (Some(_), Some(_)) => Err(bad(
            "bad_json",
            format!("give `{name}` or `{name}_base64`, not both"),
        )),
        (Some(text), None) => Ok(Some(text.into_bytes())),
        (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map(Some)
            .map_err(|e| bad("bad_json", format!("`{name}_base64`: {e}"))),
        (None, None) => Ok(None),
    }
}

/// The body of a failed cas: the current value as a string if it is UTF-8, else as base64.
fn cas_conflict(current: Option<Vec<u8>>) -> serde_json::Value {
    use base64::Engine;
    match current.map(String::from_utf8) {
        None => json!({"succeeded": false, "current": null}),
        Some(Ok(text)) => json!({"succeeded": false, "current": text}),
        Some(Err(e)) => json!({
            "succeeded": false,
            "current_base64": base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
        }),
    }
}

async fn cas(
    state: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> ApiResult {
    let key = key.into_inner();
    check_key(&state, &key)?;
    let id = request_id(&req)?;
    let (body, held) = read_body(&state, payload, max_cas_body(state.max_value_bytes)).await?;
    let body: CasBody = serde_json::from_slice(&body).map_err(|e| bad("bad_json", e))?;
    let expected = cas_value("expected", body.expected, body.expected_base64)?;
    let value = cas_value("value", body.value, body.value_base64)?;
    if value
        .as_ref()
        .is_some_and(|v| v.len() > state.max_value_bytes)
    {
        return Err(ApiError::TooLarge(state.max_value_bytes));
    }
    let op = KvOp::Cas {
        key,
        expected,
        value,
    };
    match run(&state, op, id, Consistency::Linearizable, Some(held)).await? {
        KvResult::Cas {
            succeeded: true, ..
        } => Ok(HttpResponse::Ok().json(json!({"succeeded": true}))),
        KvResult::Cas {
            succeeded: false,
            current,
        } => Ok(HttpResponse::Conflict().json(cas_conflict(current))),
        other => Err(ApiError::Internal(format!(
            "a compare-and-swap returned {other:?}"
        ))),
    }
}

async fn status(state: web::Data<ApiState>) -> ApiResult {
    match state.service.send(GetNodeStatus).await {
        Ok(Some(status)) => Ok(HttpResponse::Ok().json(status)),
        _ => Err(ClientError::Unavailable("the protocol actor is not answering".into()).into()),
    }
}
