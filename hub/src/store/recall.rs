//! Recalled messages and messages deleted for oneself.

use super::messages::message_from_row;
use crate::error::HubError;
use crate::message::StoredMessage;
use sqlx::SqliteConnection;

/// A stored message by server id, and when it was recalled (if it was).
pub(crate) async fn message(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<(StoredMessage, Option<i64>)>, HubError> {
    let row = sqlx::query(&format!(
        "SELECT {}, recalled_ms FROM messages WHERE id = ?",
        super::messages::COLUMNS
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        use sqlx::Row;
        Ok((message_from_row(&r)?, r.get("recalled_ms")))
    })
    .transpose()
}

pub(crate) async fn mark_recalled(
    conn: &mut SqliteConnection,
    seq: u64,
    by: &str,
    now: i64,
) -> Result<(), HubError> {
    sqlx::query("UPDATE messages SET recalled_ms = ?, recalled_by = ? WHERE seq = ?")
        .bind(now)
        .bind(by)
        .bind(seq as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Hides a message from `user`; false if it was hidden already.
pub(crate) async fn hide(
    conn: &mut SqliteConnection,
    user: &str,
    seq: u64,
) -> Result<bool, HubError> {
    let done =
        sqlx::query("INSERT OR IGNORE INTO message_hidden (user_id, message_seq) VALUES (?, ?)")
            .bind(user)
            .bind(seq as i64)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}
