//! Id rules, generated ids and tokens, and the clock.

use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) const MAX_ID_LEN: usize = 64;
pub(crate) const MAX_TOKEN_LEN: usize = 256;
pub(crate) const MAX_CLIENT_ID_LEN: usize = 128;

/// User and group ids: 1-64 characters of `[A-Za-z0-9_.-]`. The narrow alphabet keeps ids
/// safe in URLs, logs and the direct-conversation key (`alice|bot`).
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!("must be 1 to {MAX_ID_LEN} characters long"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "character {c:?} is not allowed (use A-Z, a-z, 0-9, '_', '.', '-')"
        ));
    }
    Ok(())
}

/// The key of the direct conversation between two users: both ids sorted, joined by `|`.
pub(crate) fn direct_key(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}|{b}")
    } else {
        format!("{b}|{a}")
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A login token: 256 random bits.
pub(crate) fn new_token() -> String {
    random_hex(32)
}

/// A message's server id: `m`, the milliseconds since the epoch (12 hex digits), then 48
/// random bits. Ids made later sort after earlier ones (to the millisecond), so that each
/// new id lands at the end of the messages' unique index instead of at a random page of it
/// (a random page is one more page for every commit to write).
pub(crate) fn new_message_id() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    message_id_at(ms)
}

fn message_id_at(ms: u64) -> String {
    format!("m{ms:012x}{}", random_hex(6))
}

/// A generated id with a prefix: `e…` events, `fr…` friend requests, `g…` groups.
pub(crate) fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(12))
}

/// A client id for a send that came without one.
pub(crate) fn new_client_id() -> String {
    format!("hub-{}", random_hex(12))
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_documented_alphabet() {
        assert!(check_id("alice.b_c-9").is_ok());
        assert!(check_id(&"a".repeat(64)).is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"a".repeat(65)).is_err());
        assert!(check_id("a|b").unwrap_err().contains("'|'"));
        assert!(check_id("café").is_err());
    }

    #[test]
    fn direct_keys_do_not_depend_on_who_sends() {
        assert_eq!(direct_key("bot", "alice"), "alice|bot");
        assert_eq!(direct_key("alice", "bot"), "alice|bot");
    }

    #[test]
    fn message_ids_sort_by_time_and_differ_within_a_millisecond() {
        let now = 1_795_000_000_000;
        let (a, b, later) = (
            message_id_at(now),
            message_id_at(now),
            message_id_at(now + 1),
        );
        assert_ne!(a, b);
        assert!(a < later && b < later);
        assert_eq!(a.len(), 25);
        assert!(new_message_id() > message_id_at(now));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
