//! Per user and conversation: the read mark, pin and mute; unread counts and readers.

use super::messages::shown_to;
use crate::error::HubError;
use sqlx::{Row, SqliteConnection};

/// One user's state of one conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConversationState {
    pub read_seq: u64,
    pub pinned: bool,
    pub muted: bool,
}

/// A conversation as the `messages` table keys it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConvKey {
    pub kind: &'static str,
    pub key: String,
    /// The viewer sees messages after this seq only (chat rooms: from joining).
    pub from_seq: u64,
}

pub(crate) async fn state(
    conn: &mut SqliteConnection,
    user: &str,
    conv: &ConvKey,
) -> Result<ConversationState, HubError> {
    let row = sqlx::query(
        "SELECT read_seq, pinned, muted FROM conversation_state
         WHERE user_id = ? AND conv_kind = ? AND conv_key = ?",
    )
    .bind(user)
    .bind(conv.kind)
    .bind(&conv.key)
    .fetch_optional(conn)
    .await?;
    Ok(
        row.map_or_else(ConversationState::default, |r| ConversationState {
            read_seq: r.get::<i64, _>("read_seq") as u64,
            pinned: r.get::<i64, _>("pinned") != 0,
            muted: r.get::<i64, _>("muted") != 0,
        }),
    )
}

pub(crate) async fn save(
    conn: &mut SqliteConnection,
    user: &str,
    conv: &ConvKey,
    s: ConversationState,
) -> Result<(), HubError> {
    sqlx::query(
        "INSERT INTO conversation_state (user_id, conv_kind, conv_key, read_seq, pinned, muted)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, conv_kind, conv_key) DO UPDATE SET
             read_seq = excluded.read_seq, pinned = excluded.pinned, muted = excluded.muted",
    )
    .bind(user)
    .bind(conv.kind)
    .bind(&conv.key)
    .bind(s.read_seq as i64)
    .bind(s.pinned as i64)
    .bind(s.muted as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// The last message of the conversation shown to `user` with a seq at most `max_seq`
/// and a time at most `max_time_ms`: its seq and time.
pub(crate) async fn last_shown(
    conn: &mut SqliteConnection,
    user: &str,
    conv: &ConvKey,
    max_seq: u64,
    max_time_ms: i64,
) -> Result<Option<(u64, i64)>, HubError> {
    let row = sqlx::query(&format!(
        "SELECT seq, time_ms FROM messages WHERE conv_kind = ?2 AND conv_key = ?3
         AND seq > ?4 AND seq <= ?5 AND time_ms <= ?6 AND {} ORDER BY seq DESC LIMIT 1",
        shown_to(1)
    ))
    .bind(user)
    .bind(conv.kind)
    .bind(&conv.key)
    .bind(conv.from_seq as i64)
    .bind(max_seq.min(i64::MAX as u64) as i64)
    .bind(max_time_ms)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.get::<i64, _>("seq") as u64, r.get("time_ms"))))
}

/// How many messages of others `user` has not read in the conversation.
pub(crate) async fn unread(
    conn: &mut SqliteConnection,
    user: &str,
    conv: &ConvKey,
    read_seq: u64,
) -> Result<u32, HubError> {
    let count: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM messages WHERE conv_kind = ?2 AND conv_key = ?3 AND seq > ?4
         AND sender <> ?1 AND {}",
        shown_to(1)
    ))
    .bind(user)
    .bind(conv.kind)
    .bind(&conv.key)
    .bind(read_seq.max(conv.from_seq) as i64)
    .fetch_one(conn)
    .await?;
    Ok(count as u32)
}

/// The senders (other than `reader`) of the messages with a seq in `(after, up_to]`.
pub(crate) async fn senders_between(
    conn: &mut SqliteConnection,
    conv: &ConvKey,
    after: u64,
    up_to: u64,
    reader: &str,
) -> Result<Vec<String>, HubError> {
    let rows = sqlx::query(
        "SELECT DISTINCT sender FROM messages WHERE conv_kind = ? AND conv_key = ?
         AND seq > ? AND seq <= ? AND sender <> ? ORDER BY sender",
    )
    .bind(conv.kind)
    .bind(&conv.key)
    .bind(after as i64)
    .bind(up_to as i64)
    .bind(reader)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| r.get("sender")).collect())
}

/// Of `users`, those whose read mark in the conversation is at least `seq`.
pub(crate) async fn have_read(
    conn: &mut SqliteConnection,
    conv: &ConvKey,
    seq: u64,
) -> Result<Vec<String>, HubError> {
    let rows = sqlx::query(
        "SELECT user_id FROM conversation_state WHERE conv_kind = ? AND conv_key = ?
         AND read_seq >= ? ORDER BY user_id",
    )
    .bind(conv.kind)
    .bind(&conv.key)
    .bind(seq as i64)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| r.get("user_id")).collect())
}
