//! Forgetting what is done: handled inbox rows and finished outbox rows older than the
//! retention. Pending work is never touched. An event id is deduplicated for as long as
//! its row is kept, so the retention must outlast any platform's redelivery (days, where
//! platforms retry for seconds to minutes).

use super::{Store, StoreError};

/// Rows deleted at a time, so the writer never waits long for the database.
const BATCH: i64 = 5_000;

/// What one pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub inbox: u64,
    pub outbox: u64,
}

impl Store {
    /// Deletes handled events and finished commands that finished before `before_ms`.
    pub async fn prune(&self, before_ms: i64) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        loop {
            let inbox = sqlx::query(
                "DELETE FROM inbox WHERE seq IN (SELECT seq FROM inbox \
                 WHERE handled_ms IS NOT NULL AND handled_ms < ? LIMIT ?)",
            )
            .bind(before_ms)
            .bind(BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
            let outbox = sqlx::query(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
                 WHERE status != 'pending' AND finished_ms < ? LIMIT ?)",
            )
            .bind(before_ms)
            .bind(BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
            pruned.inbox += inbox;
            pruned.outbox += outbox;
            if inbox < BATCH as u64 && outbox < BATCH as u64 {
                return Ok(pruned);
            }
        }
    }
}
