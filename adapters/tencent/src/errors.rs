//! Tencent's REST error codes (every failure is an HTTP 200 with `ActionStatus: FAIL` and an
//! `ErrorCode`) to the model's error kinds, per reference README §7 and seed-001 §7.1.

use parley_engine::model::{CommandError, ErrorKind};
use parley_vendor::errors::vendor_error;

/// How long to wait after a rate-limit code: Tencent names no time, its limits are per second.
const RATE_LIMIT_WAIT_MS: u64 = 1000;
/// 70050: too many failed signature checks, locked for a minute.
const LOCKOUT_WAIT_MS: u64 = 60_000;

pub fn kind_of(code: i64) -> ErrorKind {
    match code {
        60007 | 60011 | 60018 | 60019 | 7008 | 8511 | 10049 | 70050 => ErrorKind::RateLimited,
        // 60008: Tencent's own timeout, the call may have taken effect.
        60008 => ErrorKind::UnknownOutcome,
        // Server errors, and an expired UserSig (renewed on the next call).
        91000 | 70001 | 60013 | 60014 => ErrorKind::Unavailable,
        60010 | 60004 | 60005 | 70009 | 70013 | 70014 | 60016 | 60017 | 60021 | 70051 | 10007
        | 20009 => ErrorKind::NotPermitted,
        // 40003: the profile of an account that does not exist.
        20022 | 70107 | 10010 | 10015 | 40003 => ErrorKind::NotFound,
        10017 => ErrorKind::Muted,
        20007 => ErrorKind::BlockedByRecipient,
        7015 | 80001 => ErrorKind::Censored,
        80002 => ErrorKind::TooLarge,
        7013 | 60020 => ErrorKind::NotInPlan,
        20006 | 10016 => ErrorKind::RejectedByHook,
        _ => ErrorKind::Invalid,
    }
}

/// The typed error of a failed call.
pub fn command_error(code: i64, info: &str) -> CommandError {
    let kind = kind_of(code);
    let mut e = vendor_error(kind, code, format!("Tencent error {code}: {info}"));
    e.retry_after_ms = match code {
        70050 => Some(LOCKOUT_WAIT_MS),
        _ if kind == ErrorKind::RateLimited => Some(RATE_LIMIT_WAIT_MS),
        _ => None,
    };
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes() {
        for code in [60007, 60011, 60018, 60019] {
            let e = command_error(code, "too frequent");
            assert_eq!(e.kind, ErrorKind::RateLimited);
            assert!(e.kind.is_transient() && e.retry_after_ms == Some(1000));
            assert_eq!(e.platform_code.as_deref(), Some(&*code.to_string()));
        }
        assert_eq!(kind_of(60010), ErrorKind::NotPermitted);
        assert_eq!(kind_of(20022), ErrorKind::NotFound);
        assert_eq!(kind_of(70107), ErrorKind::NotFound);
        assert_eq!(kind_of(60003), ErrorKind::Invalid);
        assert_eq!(kind_of(7015), ErrorKind::Censored);
        assert_eq!(kind_of(7013), ErrorKind::NotInPlan);
        assert_eq!(kind_of(20006), ErrorKind::RejectedByHook);
        assert_eq!(kind_of(60008), ErrorKind::UnknownOutcome);
        assert_eq!(command_error(70050, "locked").retry_after_ms, Some(60_000));
    }
}
