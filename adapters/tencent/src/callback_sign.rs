//! The callback signature (reference seed-001 §7.4): with the console's auth token on, the
//! callback URL carries `Sign = hex(sha256(Token + RequestTime))` and `RequestTime` (Unix
//! seconds); a request more than a minute from now is refused as a possible replay.

use parley_vendor::{sign, webhook};
use std::time::Duration;

pub const MAX_SKEW: Duration = Duration::from_secs(60);

/// Checks `Sign` and `RequestTime`; the error says why the request is refused.
pub fn verify(
    token: &str,
    sign: Option<&str>,
    request_time: Option<&str>,
    now_secs: i64,
) -> Result<(), String> {
    let (Some(received), Some(time)) = (sign, request_time) else {
        return Err("the callback token is set but the request has no Sign or RequestTime".into());
    };
    let time_secs: i64 = time
        .parse()
        .map_err(|_| format!("RequestTime {time:?} is not a number of seconds"))?;
    webhook::check_fresh(time_secs, now_secs, MAX_SKEW)
        .map_err(|e| format!("stale request: {e}"))?;
    if !sign::hex_eq(
        &sign::sha256_hex(&[token.as_bytes(), time.as_bytes()]),
        received,
    ) {
        return Err(
            "Sign does not match sha256(token + RequestTime); check the callback token".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tencents_worked_example() {
        let s = sign::sha256_hex(&[b"xxxxyyyy", b"1669872112"]);
        assert!(s.starts_with("17773bc3") && s.ends_with("484061"), "{s}");
        assert!(verify("xxxxyyyy", Some(&s), Some("1669872112"), 1669872112 + 30).is_ok());
    }

    #[test]
    fn refusals_say_why() {
        let s = sign::sha256_hex(&[b"tok", b"1000"]);
        assert!(verify("tok", Some(&s), Some("1000"), 1061)
            .unwrap_err()
            .contains("stale"));
        assert!(verify("tok", Some(&s), Some("1001"), 1001)
            .unwrap_err()
            .contains("does not match"));
        assert!(verify("tok", None, Some("1000"), 1000)
            .unwrap_err()
            .contains("no Sign"));
        assert!(verify("tok", Some(&s), Some("x"), 1000)
            .unwrap_err()
            .contains("not a number"));
    }
}
