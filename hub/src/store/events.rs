//! The per-user event feed: every event but messages, one row per recipient, written in
//! the transaction of the change it reports.

use super::Store;
use crate::error::HubError;
use crate::events::StoredEvent;
use parley_engine::model::Event;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

fn event_from_row(row: &SqliteRow) -> Result<StoredEvent, HubError> {
    let event: Event = serde_json::from_str(row.get::<&str, _>("event")).map_err(|e| {
        sqlx::Error::ColumnDecode {
            index: "event".into(),
            source: Box::new(e),
        }
    })?;
    Ok(StoredEvent {
        seq: Some(row.get::<i64, _>("seq") as u64),
        user: row.get("user_id"),
        id: row.get("id"),
        event,
        time_ms: row.get("time_ms"),
    })
}

/// Stores one row per event and returns them with their sequences.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    events: Vec<StoredEvent>,
) -> Result<Vec<StoredEvent>, HubError> {
    let mut stored = Vec::with_capacity(events.len());
    for event in events {
        let json = serde_json::to_string(&event.event).expect("events serialize");
        let done =
            sqlx::query("INSERT INTO events (user_id, id, event, time_ms) VALUES (?, ?, ?, ?)")
                .bind(&event.user)
                .bind(&event.id)
                .bind(json)
                .bind(event.time_ms)
                .execute(&mut *conn)
                .await?;
        stored.push(StoredEvent {
            seq: Some(done.last_insert_rowid() as u64),
            ..event
        });
    }
    Ok(stored)
}

impl Store {
    /// Up to `limit` of `user`'s events after `after`, oldest first.
    pub async fn events_after(
        &self,
        user: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, HubError> {
        let rows = sqlx::query(
            "SELECT seq, user_id, id, event, time_ms FROM events
             WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(user)
        .bind(after.min(i64::MAX as u64) as i64)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The highest event sequence so far (0 when there is none).
    pub async fn latest_event_seq(&self) -> Result<u64, HubError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0) as u64)
    }
}
