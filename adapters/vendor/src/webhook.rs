//! Webhook intake for actix-web: what every vendor's callback endpoint needs around its
//! own parsing and signature scheme.
//!
//! The rules (DESIGN.md §1): a callback is answered only once its events are durable in the
//! engine's inbox (`Intake::deliver` returned), so an acknowledged event is never lost;
//! while the inbox cannot take more the answer is 429, and while the connection is not
//! running it is 503, so a vendor that retries delivers again later. Repeated deliveries
//! are deduplicated by the engine's inbox (by event id), not here.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use parley_engine::adapter::{Accepted, Intake, IntakeError};
use parley_engine::model::Envelope;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A refused callback: its status and a reason naming what is wrong, sent to the vendor
/// and logged.
#[derive(Debug)]
pub struct WebhookError {
    pub status: StatusCode,
    pub reason: String,
    pub retry_after_secs: Option<u64>,
}

impl WebhookError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            retry_after_secs: None,
        }
    }
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reason)
    }
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            retry_after_secs: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, reason)
        }
    }
    pub fn busy(reason: impl Into<String>) -> Self {
        Self {
            retry_after_secs: Some(1),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, reason)
        }
    }
}

impl std::fmt::Display for WebhookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.reason)
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        tracing::warn!(status = self.status.as_u16(), reason = %self.reason, "webhook request refused");
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        response.json(serde_json::json!({ "error": self.reason }))
    }
}

/// The largest callback body accepted; larger ones get 413 before they are read whole.
pub fn body_limit(bytes: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(bytes)
}

/// Parses a JSON body, or explains what is wrong with it (where, and which field).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "the body is not valid JSON"
        } else {
            "the body does not have the expected fields"
        };
        WebhookError::bad_request(format!("{what}: {e}"))
    })
}

/// Whether a signed request's timestamp is within `window` of now (replay protection).
pub fn check_fresh(request_secs: i64, now_secs: i64, window: Duration) -> Result<(), String> {
    let skew = (now_secs - request_secs).unsigned_abs();
    if skew > window.as_secs() {
        return Err(format!(
            "the request time {request_secs} is {skew} s from now, more than the {} s allowed",
            window.as_secs()
        ));
    }
    Ok(())
}

/// The engine's intake of a webhook connection: filled while the engine runs the adapter,
/// empty before `start` and after `stop` (requests then get 503).
#[derive(Clone, Default)]
pub struct IntakeSlot(Arc<RwLock<Option<Intake>>>);

impl IntakeSlot {
    pub fn set(&self, intake: Intake) {
        *self.0.write().expect("intake slot lock") = Some(intake);
    }

    pub fn clear(&self) {
        self.0.write().expect("intake slot lock").take();
    }

    pub fn get(&self) -> Result<Intake, WebhookError> {
        self.0
            .read()
            .expect("intake slot lock")
            .clone()
            .ok_or_else(|| WebhookError::unavailable("the connection is not running"))
    }
}

/// Delivers one event and waits until it is durable (or known as a duplicate). Waits at most
/// `wait` for room in the inbox, then answers 429 so the vendor retries later.
pub async fn deliver(
    intake: &Intake,
    envelope: Envelope,
    wait: Duration,
) -> Result<Accepted, WebhookError> {
    let id = envelope.id.clone();
    match tokio::time::timeout(wait, intake.deliver(envelope, None)).await {
        Ok(Ok(accepted)) => Ok(accepted),
        Ok(Err(IntakeError::Closed)) => Err(WebhookError::unavailable(
            "the engine is shutting down; the event was not accepted",
        )),
        Ok(Err(IntakeError::Store(e))) => Err(WebhookError::unavailable(format!(
            "the event {id} could not be stored: {e}"
        ))),
        Err(_) => Err(WebhookError::busy(format!(
            "the inbox did not take event {id} within {} ms; retry later",
            wait.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness() {
        let w = Duration::from_secs(60);
        assert!(check_fresh(1000, 1060, w).is_ok());
        assert!(check_fresh(1060, 1000, w).is_ok());
        let e = check_fresh(1000, 1061, w).unwrap_err();
        assert!(e.contains("61 s"), "{e}");
    }

    #[test]
    fn parse_errors_name_the_problem() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct B {
            a: u32,
        }
        let e = parse_json::<B>(b"{").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.reason.starts_with("the body is not valid JSON"),
            "{}",
            e.reason
        );
        let e = parse_json::<B>(b"{}").unwrap_err();
        assert!(e.reason.contains("missing field `a`"), "{}", e.reason);
    }

    fn envelope(id: &str) -> Envelope {
        Envelope {
            id: id.into(),
            connection: "c".into(),
            time_ms: 0,
            backlog: false,
            from_self: false,
            event: parley_engine::model::Event::FriendAdded { user: "u".into() },
            raw: serde_json::Value::Null,
        }
    }

    #[tokio::test]
    async fn deliver_answers_busy_or_unavailable() {
        let slot = IntakeSlot::default();
        assert!(matches!(slot.get(), Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE));
        let (intake, mut rx) = Intake::collecting("c".into(), 1);
        slot.set(intake);
        let intake = slot.get().unwrap();
        let wait = Duration::from_millis(50);
        assert_eq!(
            deliver(&intake, envelope("1"), wait).await.unwrap(),
            Accepted::New
        );
        // The engine is not taking events: the callback is answered 429, retry later.
        let e = deliver(&intake, envelope("2"), wait).await.unwrap_err();
        assert_eq!(
            (e.status, e.retry_after_secs),
            (StatusCode::TOO_MANY_REQUESTS, Some(1))
        );
        assert_eq!(rx.recv().await.unwrap().0.id.as_str(), "1");
        drop(rx);
        let e = deliver(&intake, envelope("3"), wait).await.unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        slot.clear();
        assert!(slot.get().is_err());
    }
}
