//! HTTP mode: the implementation POSTs events to Parley's `path` (answered 204 once the
//! event is durable; no quick operations), and Parley calls its HTTP API (`POST /{action}`).

use crate::auth;
use crate::events::{self, Parsed};
use crate::session::Shared;
use actix_web::{web, HttpRequest, HttpResponse};
use parley_engine::model::{CommandError, ErrorKind};
use parley_vendor::http::{HttpClient, Timeouts};
use parley_vendor::webhook::{self, WebhookError};
use serde_json::Value;
use std::time::Duration;

pub async fn post_event(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, WebhookError> {
    let s = shared.get_ref();
    let refused = |why: String| {
        WebhookError::unauthorized(format!(
            "connection {}: OneBot event refused: {why}",
            s.connection
        ))
    };
    // The spec signs posts with `secret`; without one, the access token guards the path.
    match &s.settings.secret {
        Some(secret) => {
            let header = req
                .headers()
                .get("x-signature")
                .and_then(|v| v.to_str().ok());
            auth::check_signature(&body, header, secret).map_err(refused)?
        }
        None => auth::check_token(&req, s.settings.access_token.as_deref()).map_err(refused)?,
    }
    auth::check_self_id(&req, s.self_id()).map_err(|why| {
        WebhookError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            format!("connection {}: {why}", s.connection),
        )
    })?;
    let raw: Value = webhook::parse_json(&body)?;
    match events::parse(raw, &s.connection, s.self_id()).map_err(WebhookError::bad_request)? {
        Parsed::Event(envelope) => {
            let intake = s.intake.get()?;
            let wait = Duration::from_millis(s.settings.config.intake_wait_ms);
            webhook::deliver(&intake, *envelope, wait).await?;
        }
        Parsed::Heartbeat { .. } => {}
        Parsed::Ignored(what) => {
            tracing::debug!(connection = %s.connection, what, "OneBot event not mapped")
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The implementation's HTTP API.
pub struct HttpApi {
    client: HttpClient,
    base: String,
    token: Option<String>,
}

impl HttpApi {
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Result<Self, String> {
        let timeouts = Timeouts {
            connect: timeout.min(Duration::from_secs(3)),
            request: timeout,
        };
        Ok(Self {
            client: HttpClient::new("OneBot", &timeouts)?,
            base: base.to_string(),
            token,
        })
    }

    /// Calls `action` and returns the answer's JSON (`status`, `retcode`, `data`).
    pub async fn call(&self, action: &str, params: &Value) -> Result<Value, CommandError> {
        let url = format!("{}/{action}", self.base);
        // The HTTP API takes the token in the query as well as in a header (spec, 鉴权).
        let url = match &self.token {
            Some(t) => reqwest::Url::parse_with_params(&url, [("access_token", t)])
                .map_err(|e| {
                    CommandError::new(ErrorKind::Invalid, format!("bad OneBot URL {url}: {e}"))
                })?
                .to_string(),
            None => url,
        };
        let body = self.client.post_json(&url, params).await.map_err(|mut e| {
            // 404 from the HTTP API means it has no such action.
            if e.platform_code.as_deref() == Some("http:404") {
                e.kind = ErrorKind::Unsupported;
            }
            e
        })?;
        serde_json::from_slice(&body).map_err(|e| {
            CommandError::new(
                ErrorKind::UnknownOutcome,
                format!("the answer to {action} is not JSON ({e}); it may have taken effect"),
            )
        })
    }
}
