//! The callback endpoint: checks the app id and signature, turns the callback into events,
//! stores them (or asks the bots for a verdict), then answers in Tencent's envelope.

use crate::callback_sign;
use crate::callbacks::{self, Ctx, Parsed};
use crate::config::Settings;
use crate::elements;
use actix_web::{web, HttpResponse};
use parley_engine::model::{ConnectionId, Verdict};
use parley_vendor::webhook::{self, IntakeSlot, WebhookError};
use parley_vendor::Clock;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct Endpoint {
    pub settings: Settings,
    pub connection: ConnectionId,
    pub intake: IntakeSlot,
    pub clock: Clock,
}

/// Mounts the callback path of one connection.
pub fn configure(
    endpoint: Arc<Endpoint>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::resource(endpoint.settings.config.callback_path.as_str())
                .app_data(webhook::body_limit(
                    endpoint.settings.config.max_callback_bytes,
                ))
                .app_data(web::Data::from(endpoint.clone()))
                .route(web::post().to(callback)),
        );
    }
}

fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "" }))
}

async fn callback(
    endpoint: web::Data<Endpoint>,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    let e = endpoint.get_ref();
    let config = &e.settings.config;
    let app = query
        .get("SdkAppid")
        .map(String::as_str)
        .unwrap_or_default();
    if app != config.sdk_app_id.to_string() {
        return Err(WebhookError::unauthorized(format!(
            "SdkAppid {app:?} is not this connection's app {}",
            config.sdk_app_id
        )));
    }
    if let Some(token) = &e.settings.callback_token {
        let sign = query.get("Sign").map(String::as_str);
        let time = query.get("RequestTime").map(String::as_str);
        callback_sign::verify(token, sign, time, e.clock.unix_secs()).map_err(|why| {
            WebhookError::unauthorized(format!(
                "connection {}: callback refused: {why}",
                e.connection
            ))
        })?;
    }
    let command = query.get("CallbackCommand").cloned().unwrap_or_default();
    if command.is_empty() {
        return Err(WebhookError::bad_request(
            "the query has no CallbackCommand",
        ));
    }
    let ctx = Ctx {
        connection: &e.connection,
        bot: &config.bot,
        now_ms: e.clock.unix_ms(),
    };
    let parsed = callbacks::parse(&command, &body, &ctx).map_err(WebhookError::bad_request)?;
    let wait = Duration::from_millis(config.intake_wait_ms);
    match parsed {
        Parsed::Ignored => Ok(ok()),
        Parsed::Events(events) => {
            let intake = e.intake.get()?;
            for envelope in events {
                webhook::deliver(&intake, envelope, wait).await?;
            }
            Ok(ok())
        }
        Parsed::FriendGate { events, targets } => {
            let intake = e.intake.get()?;
            for envelope in events {
                webhook::deliver(&intake, envelope, wait).await?;
            }
            let items: Vec<_> = targets
                .iter()
                .map(|t| json!({ "To_Account": t, "ResultCode": 0, "ResultInfo": "" }))
                .collect();
            Ok(HttpResponse::Ok().json(json!({
                "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ResultItem": items
            })))
        }
        Parsed::BeforeSend(envelope) => {
            let default = config.before_send_default.verdict();
            // Not running: Tencent's own timeout default would apply after 2 s; answer now.
            let verdict = match e.intake.get() {
                Ok(intake) => {
                    intake
                        .verdict(*envelope, e.settings.before_send_deadline(), default)
                        .await
                }
                Err(_) => default,
            };
            Ok(HttpResponse::Ok().json(verdict_answer(&verdict)))
        }
    }
}

/// Tencent's before-send answer: `ErrorCode` 0 delivers (with `MsgBody` replaced when
/// given), 1 refuses the message.
pub fn verdict_answer(verdict: &Verdict) -> serde_json::Value {
    match verdict {
        Verdict::Allow => json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "" }),
        Verdict::Reject { reason } => {
            json!({ "ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": reason })
        }
        Verdict::Replace { content } => json!({
            "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
            "MsgBody": elements::from_content(content),
        }),
    }
}
