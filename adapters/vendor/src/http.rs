//! An HTTP client for vendor REST APIs that classifies every failure into the model's
//! error kinds, so the outbox knows what it may retry:
//!
//! - could not connect (nothing was sent), or a 5xx answer: `unavailable`;
//! - a timeout or a broken connection after the request may have been sent: `unknown_outcome`
//!   (retried with the same idempotency key, which the vendor deduplicates);
//! - 429: `rate_limited`, with the `Retry-After` the vendor asked for.
//!
//! Vendors that report errors inside a 200 answer (most of them) map those themselves.

use parley_engine::model::{CommandError, ErrorKind};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::{Duration, SystemTime};

/// Timeouts of one vendor's client.
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// Establishing the connection (DNS, TCP, TLS).
    pub connect: Duration,
    /// The whole call, answer included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            request: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    vendor: &'static str,
}

impl HttpClient {
    pub fn new(vendor: &'static str, timeouts: &Timeouts) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the {vendor} HTTP client: {e}"))?;
        Ok(Self { client, vendor })
    }

    /// POSTs `body` as JSON and returns the answer's body when the status is 2xx.
    pub async fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<Vec<u8>, CommandError> {
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_error(status, response.headers()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        Ok(bytes.to_vec())
    }

    fn transport_error(&self, e: reqwest::Error) -> CommandError {
        let vendor = self.vendor;
        // A connect error (timeout included) means the request never left.
        if e.is_connect() {
            return CommandError::new(
                ErrorKind::Unavailable,
                format!("cannot reach {vendor}: {e}"),
            );
        }
        if e.is_builder() {
            return CommandError::new(ErrorKind::Invalid, format!("bad {vendor} request: {e}"));
        }
        let what = if e.is_timeout() {
            "timed out"
        } else {
            "failed"
        };
        CommandError::new(
            ErrorKind::UnknownOutcome,
            format!("the {vendor} call {what} after it was sent; it may have taken effect: {e}"),
        )
    }

    fn status_error(&self, status: StatusCode, headers: &HeaderMap) -> CommandError {
        let vendor = self.vendor;
        let (kind, retry_after) = match status {
            StatusCode::TOO_MANY_REQUESTS => (ErrorKind::RateLimited, retry_after_ms(headers)),
            s if s.is_server_error() => (ErrorKind::Unavailable, retry_after_ms(headers)),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => (ErrorKind::NotPermitted, None),
            StatusCode::NOT_FOUND => (ErrorKind::NotFound, None),
            StatusCode::PAYLOAD_TOO_LARGE => (ErrorKind::TooLarge, None),
            _ => (ErrorKind::Invalid, None),
        };
        CommandError {
            kind,
            message: format!("{vendor} answered HTTP {status}"),
            platform_code: Some(format!("http:{}", status.as_u16())),
            retry_after_ms: retry_after,
        }
    }
}

/// `Retry-After` in milliseconds: delay-seconds or an HTTP date.
pub fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_millis() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after_ms(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after_ms(&h), Some(2000));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(retry_after_ms(&h), Some(0));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after_ms(&h), None);
    }
}
