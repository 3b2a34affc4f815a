//! The REST API v4 envelope (seed-001 §7.1): `POST {base}/v4/{service}/{command}` with the
//! admin's identity in the query, and an answer whose `ErrorCode` says how it went
//! (always HTTP 200 unless the network failed).

use crate::errors;
use crate::usersig::UserSigCache;
use parley_engine::model::{CommandError, ErrorKind};
use parley_vendor::http::HttpClient;
use serde_json::Value;

pub struct Rest {
    pub http: HttpClient,
    pub base_url: String,
    pub sdk_app_id: u64,
    pub admin: String,
    pub usersig: UserSigCache,
}

impl Rest {
    /// Calls `api` (`openim/sendmsg`, ...) and returns the answer when `ErrorCode` is 0.
    /// `random` identifies the request; callers pass one derived from the idempotency key.
    pub async fn call(&self, api: &str, body: &Value, random: u32) -> Result<Value, CommandError> {
        let url = format!(
            "{}/v4/{api}?sdkappid={}&identifier={}&usersig={}&random={random}&contenttype=json",
            self.base_url,
            self.sdk_app_id,
            encode(&self.admin),
            self.usersig.get(),
        );
        let bytes = self.http.post_json(&url, body).await?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            // The call reached Tencent; whether it took effect cannot be told.
            CommandError::new(
                ErrorKind::UnknownOutcome,
                format!("Tencent's answer to {api} is not JSON: {e}"),
            )
        })?;
        let code = answer.get("ErrorCode").and_then(Value::as_i64).unwrap_or(0);
        let failed = answer.get("ActionStatus").and_then(Value::as_str) == Some("FAIL");
        if code != 0 || failed {
            let info = answer
                .get("ErrorInfo")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(errors::command_error(code, info));
        }
        Ok(answer)
    }
}

/// Percent-encodes a query value (UserIDs may hold any printable ASCII).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_query_values() {
        assert_eq!(super::encode("admin"), "admin");
        assert_eq!(super::encode("a b&c@d"), "a%20b%26c%40d");
    }
}
