//! The saved state of cron schedules.

use super::{Store, StoreError};

impl Store {
    pub async fn schedule_next_run(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT next_run_ms FROM schedules WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    /// Low-frequency writes, so they go straight to the pool rather than through the
    /// group-commit writer.
    pub async fn save_schedule_run(
        &self,
        name: &str,
        last_ms: i64,
        next_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO schedules (name, last_run_ms, next_run_ms) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET last_run_ms = excluded.last_run_ms, next_run_ms = excluded.next_run_ms",
        )
        .bind(name)
        .bind(last_ms)
        .bind(next_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
