//! The admin HTTP API for broadcast jobs (`/admin/broadcasts`), behind the admin token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use parley_engine::audience::Recipient;
use parley_engine::broadcast::{BroadcastError, Broadcasts};
use parley_engine::model::{ConnectionId, Content};
use serde::Deserialize;
use serde_json::json;

/// What the admin routes need.
#[derive(Clone)]
pub struct AdminState {
    pub token: Option<String>,
    pub broadcasts: Broadcasts,
    /// Used when a request names no connection.
    pub default_connection: ConnectionId,
}

pub fn routes(state: AdminState) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state.clone())).service(
            web::scope("/admin/broadcasts")
                .route("", web::post().to(start))
                .route("", web::get().to(list))
                .route("/{id}", web::get().to(show))
                .route("/{id}/{action}", web::post().to(control)),
        );
    }
}

/// A JSON error answer: `{"code": ..., "message": ...}`.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({"code": code, "message": message.into()}))
}

/// The refusal to send, if the request does not carry the admin token (all admin routes,
/// the dashboard's included, use these rules).
pub(crate) fn refusal(req: &HttpRequest, token: Option<&str>) -> Option<HttpResponse> {
    let Some(token) = token else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "no admin token is configured (set the variable named by server.admin_token_env)",
        ));
    };
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared in full, not byte by byte with an early exit.
    let ok = given.is_some_and(|g| {
        g.len() == token.len()
            && g.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if ok {
        None
    } else {
        Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token",
        ))
    }
}

fn broadcast_error(e: BroadcastError) -> HttpResponse {
    match e {
        BroadcastError::NotFound(_) => error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        BroadcastError::BadTransition { .. } => {
            error(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        BroadcastError::UnknownConnection(_) | BroadcastError::NoRecipients => {
            error(StatusCode::BAD_REQUEST, "invalid", e.to_string())
        }
        BroadcastError::Lookup(ref lookup) => {
            let status = match lookup.error.kind.is_transient() {
                true => StatusCode::BAD_GATEWAY,
                false => StatusCode::UNPROCESSABLE_ENTITY,
            };
            error(status, "lookup_failed", e.to_string())
        }
        BroadcastError::Store(_) => {
            tracing::error!(error = %e, "admin API: store failure");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the store failed; see the server log",
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    #[serde(default)]
    connection: Option<String>,
    /// Recipients: user ids, `group:ID`, `all:friends`, `all:groups`.
    to: Vec<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    content: Option<Content>,
}

async fn start(req: HttpRequest, state: web::Data<AdminState>, body: web::Bytes) -> HttpResponse {
    if let Some(denied) = refusal(&req, state.token.as_deref()) {
        return denied;
    }
    let request: StartRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("invalid broadcast request: {e}"),
            )
        }
    };
    let content = match (request.text, request.content) {
        (Some(text), None) => Content::text(text),
        (None, Some(content)) => content,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give exactly one of `text` or `content`",
            )
        }
    };
    let mut recipients = Vec::with_capacity(request.to.len());
    for t in &request.to {
        match t.parse::<Recipient>() {
            Ok(c) => recipients.push(c),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("recipient `{t}`: {e}"),
                )
            }
        }
    }
    let connection = request
        .connection
        .map(ConnectionId)
        .unwrap_or_else(|| state.default_connection.clone());
    let recipients = match state.broadcasts.resolve(&connection, recipients).await {
        Ok(recipients) => recipients,
        Err(e) => return broadcast_error(e),
    };
    match state
        .broadcasts
        .start(&connection, content, recipients, "admin")
        .await
    {
        Ok(job) => HttpResponse::Created().json(job),
        Err(e) => broadcast_error(e),
    }
}

async fn list(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(denied) = refusal(&req, state.token.as_deref()) {
        return denied;
    }
    match state.broadcasts.list().await {
        Ok(jobs) => HttpResponse::Ok().json(jobs),
        Err(e) => broadcast_error(e),
    }
}

async fn show(req: HttpRequest, state: web::Data<AdminState>, id: web::Path<i64>) -> HttpResponse {
    if let Some(denied) = refusal(&req, state.token.as_deref()) {
        return denied;
    }
    let id = id.into_inner();
    let job = match state.broadcasts.get(id).await {
        Ok(job) => job,
        Err(e) => return broadcast_error(e),
    };
    match state.broadcasts.failures(id).await {
        Ok(failures) => {
            let mut body = serde_json::to_value(job).unwrap_or_default();
            body["failures"] = serde_json::to_value(failures).unwrap_or_default();
            HttpResponse::Ok().json(body)
        }
        Err(e) => broadcast_error(e),
    }
}

async fn control(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<(i64, String)>,
) -> HttpResponse {
    if let Some(denied) = refusal(&req, state.token.as_deref()) {
        return denied;
    }
    let (id, action) = path.into_inner();
    let result = match action.as_str() {
        "pause" => state.broadcasts.pause(id).await,
        "resume" => state.broadcasts.resume(id).await,
        "cancel" => state.broadcasts.cancel(id).await,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no action `{other}`: use pause, resume or cancel"),
            )
        }
    };
    match result {
        Ok(job) => HttpResponse::Ok().json(job),
        Err(e) => broadcast_error(e),
    }
}
