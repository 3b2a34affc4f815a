//! The durable store: the inbox (dedupe + not-yet-handled events), the outbox, bot state
//! and adapter cursors, in SQLite through sqlx.
//!
//! Reads go through a small connection pool; every write goes through one writer task that
//! commits whatever writes are waiting in a single transaction (group commit), so many
//! conversations finishing events at once cost one fsync, not one each.

mod bulk;
pub mod checkpoint;
mod jobs;
mod prune;
mod schedules;
mod writer;

use crate::handler::BotStates;
use crate::model::{CommandResult, ConnectionId, ConversationId, Envelope, OutboundCommand};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use writer::Write;

pub use jobs::{JobFailure, JobInfo, JobStatus, PendingRecipient, RecipientOutcome};
pub use prune::Pruned;
pub use writer::{Completion, NewJob, Outgoing};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("could not apply the store's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON does not parse: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store is closed")]
    Closed,
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    writes: mpsc::Sender<Write>,
}

/// One command waiting in (or finished in) the outbox.
#[derive(Clone, Debug)]
pub struct OutboxEntry {
    pub id: i64,
    pub command: OutboundCommand,
    pub status: String,
    pub attempts: i64,
    pub result: Option<CommandResult>,
    /// The conversation whose bots sent it, if a bot did.
    pub origin: Option<ConversationId>,
    /// The bot that sent it, if one did.
    pub origin_bot: Option<String>,
}

/// An accepted event that has not been handled yet.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    pub seq: i64,
    pub envelope: Envelope,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL survives a process crash; only an OS crash can lose the
            // last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let options = checkpoint::off_the_commit_path(options);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writes = writer::spawn(options).await?;
        tokio::spawn(checkpoint::in_background(pool.clone()));
        Ok(Store { pool, writes })
    }

    async fn write<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Write,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writes
            .send(make(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Records inbound events; returns, for each, its inbox sequence if it is new or `None`
    /// if its id was seen before. `cursor` is saved for the connection in the same commit.
    pub async fn accept_inbound(
        &self,
        connection: &ConnectionId,
        events: &[Envelope],
        cursor: Option<String>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let received = now_ms();
        let items = events
            .iter()
            .map(|e| Ok((e.id.0.clone(), serde_json::to_string(e)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let connection = connection.0.clone();
        self.write(|reply| Write::Accept {
            connection,
            items,
            cursor,
            received,
            reply,
        })
        .await
    }

    /// Marks an event handled and records its effects, atomically.
    pub async fn complete(&self, completion: Completion) -> Result<(), StoreError> {
        self.write(|reply| Write::Complete { completion, reply })
            .await
    }

    /// Adds commands to the outbox outside of any event (scheduler, admin API).
    pub async fn enqueue(&self, commands: Vec<OutboundCommand>) -> Result<(), StoreError> {
        let Some(first) = commands.first() else {
            return Ok(());
        };
        let completion = Completion {
            connection: first.connection.clone(),
            conversation: None,
            inbox_seq: None,
            state: Vec::new(),
            commands: commands.into_iter().map(Outgoing::from).collect(),
            jobs: Vec::new(),
            schedules: Vec::new(),
        };
        self.complete(completion).await
    }

    /// Records the platform's answer to an outbox command.
    pub async fn finish_command(&self, id: i64, result: &CommandResult) -> Result<(), StoreError> {
        let status = match result {
            CommandResult::Ok(_) => "done",
            CommandResult::Failed(_) => "failed",
        };
        let result = serde_json::to_string(result)?;
        self.write(|reply| Write::Finish {
            id,
            status,
            result,
            reply,
        })
        .await
    }

    /// Counts a failed attempt of a command that stays pending for a retry.
    pub async fn count_attempt(&self, id: i64, result: &CommandResult) -> Result<(), StoreError> {
        let result = serde_json::to_string(result)?;
        self.write(|reply| Write::Attempt { id, result, reply })
            .await
    }

    /// Writes a broadcast job and all its recipients (as `kind:id` strings) in one commit.
    pub async fn create_job(
        &self,
        connection: &ConnectionId,
        content: &crate::model::Content,
        targets: &[ConversationId],
        origin: &str,
    ) -> Result<i64, StoreError> {
        let content = serde_json::to_string(content)?;
        let targets = targets.iter().map(ToString::to_string).collect();
        let (connection, origin) = (connection.0.clone(), origin.to_string());
        self.write(|reply| Write::CreateJob {
            connection,
            content,
            targets,
            origin,
            reply,
        })
        .await
    }

    pub async fn record_outcomes(
        &self,
        job: i64,
        outcomes: Vec<RecipientOutcome>,
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.write(|reply| Write::JobOutcomes {
            job,
            outcomes,
            reply,
        })
        .await
    }

    /// Moves a job to `to` where allowed (running <-> paused, either -> cancelled,
    /// running -> done); returns whether it moved.
    pub async fn set_job_status(&self, job: i64, to: JobStatus) -> Result<bool, StoreError> {
        self.write(|reply| Write::JobStatus { job, to, reply })
            .await
    }

    /// Events accepted but not handled yet (after a crash), oldest first.
    pub async fn unhandled(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, envelope FROM inbox WHERE connection = ? AND handled_ms IS NULL ORDER BY seq",
        )
        .bind(connection.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingEvent {
                    seq: r.get(0),
                    envelope: serde_json::from_str(r.get::<&str, _>(1))?,
                })
            })
            .collect()
    }

    pub async fn load_state(
        &self,
        connection: &ConnectionId,
        conversation: &ConversationId,
    ) -> Result<BotStates, StoreError> {
        let rows = sqlx::query(
            "SELECT bot, value FROM bot_state WHERE connection = ? AND conversation = ?",
        )
        .bind(connection.as_str())
        .bind(conversation.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get::<String, _>(0),
                    serde_json::from_str(r.get::<&str, _>(1))?,
                ))
            })
            .collect()
    }

    /// Pending outbox commands of a connection with an id above `after`, oldest first.
    pub async fn pending_commands(
        &self,
        connection: &ConnectionId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, command, status, attempts, result, origin, origin_bot FROM outbox \
             WHERE connection = ? AND status = 'pending' AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(connection.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_entry).collect()
    }

    /// Every outbox row of a connection, oldest first (for `parley` tooling and tests).
    pub async fn outbox(&self, connection: &ConnectionId) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, command, status, attempts, result, origin, origin_bot FROM outbox WHERE connection = ? ORDER BY id",
        )
        .bind(connection.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_entry).collect()
    }

    pub async fn pending_count(&self, connection: &ConnectionId) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE connection = ? AND status = 'pending'",
        )
        .bind(connection.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(n as usize)
    }

    pub async fn cursor(&self, connection: &ConnectionId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT cursor FROM cursors WHERE connection = ?")
                .bind(connection.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Finishes the writes already queued and closes the database.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.writes.send(Write::Close { reply: tx }).await.is_ok() {
            let _ = rx.await;
        }
        self.pool.close().await;
    }
}

fn outbox_entry(r: &sqlx::sqlite::SqliteRow) -> Result<OutboxEntry, StoreError> {
    let result: Option<String> = r.get(4);
    Ok(OutboxEntry {
        id: r.get(0),
        command: serde_json::from_str(r.get::<&str, _>(1))?,
        status: r.get(2),
        attempts: r.get(3),
        result: result.map(|s| serde_json::from_str(&s)).transpose()?,
        origin: r.get::<Option<String>, _>(5).and_then(|o| o.parse().ok()),
        origin_bot: r.get(6),
    })
}

#[cfg(test)]
mod tests;
