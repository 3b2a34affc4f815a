//! The saved state of schedules: when each last ran and runs next, and the scripts' own
//! schedules.

use super::{Store, StoreError};
use crate::model::ConversationId;
use crate::scheduler::{script_key, ScriptSchedule, StoredSchedule};
use sqlx::Row;

impl Store {
    /// When the schedule last ran and runs next, as saved.
    pub async fn schedule_run(&self, key: &str) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let row: Option<(Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT last_run_ms, next_run_ms FROM schedules WHERE name = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.unwrap_or((None, None)))
    }

    pub async fn schedule_next_run(&self, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.schedule_run(key).await?.1)
    }

    /// Low-frequency writes, so they go straight to the pool rather than through the
    /// group-commit writer.
    pub async fn save_schedule_run(
        &self,
        key: &str,
        last_ms: i64,
        next_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO schedules (name, last_run_ms, next_run_ms) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET last_run_ms = excluded.last_run_ms, next_run_ms = excluded.next_run_ms",
        )
        .bind(key)
        .bind(last_ms)
        .bind(next_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every schedule the scripts have created and not cancelled, oldest first.
    pub async fn script_schedules(&self) -> Result<Vec<StoredSchedule>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, connection, conversation, bot, handler, timing, payload, created_ms \
             FROM script_schedules ORDER BY created_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for r in rows {
            let conversation: String = r.get(2);
            let conversation: ConversationId = conversation
                .parse()
                .map_err(|e: String| StoreError::Corrupt(format!("script schedule: {e}")))?;
            stored.push(StoredSchedule {
                connection: r.get::<String, _>(1).as_str().into(),
                conversation,
                schedule: ScriptSchedule {
                    id: r.get(0),
                    bot: r.get(3),
                    handler: r.get(4),
                    when: serde_json::from_str(r.get(5))?,
                    payload: serde_json::from_str(r.get(6))?,
                },
                created_ms: r.get(7),
            });
        }
        Ok(stored)
    }

    /// Forgets a one-off schedule once its tick is in the inbox.
    pub async fn remove_script_schedule_after_run(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM script_schedules WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM schedules WHERE name = ?")
            .bind(script_key(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
