//! Broadcast jobs and their recipients.

use super::{now_ms, Store, StoreError};
use crate::model::{ConnectionId, Content, ConversationId};
use serde::Serialize;
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Paused,
    Cancelled,
    Done,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Paused => "paused",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Done => "done",
        }
    }

    fn parse(s: &str) -> JobStatus {
        match s {
            "running" => JobStatus::Running,
            "paused" => JobStatus::Paused,
            "cancelled" => JobStatus::Cancelled,
            _ => JobStatus::Done,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Cancelled | JobStatus::Done)
    }
}

/// A job's figures as stored.
#[derive(Clone, Debug, Serialize)]
pub struct JobInfo {
    pub id: i64,
    pub connection: String,
    pub status: JobStatus,
    pub origin: String,
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    /// Recipients not yet sent nor failed.
    pub left: i64,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

/// One recipient that failed for good.
#[derive(Clone, Debug, Serialize)]
pub struct JobFailure {
    pub target: String,
    pub error: String,
}

/// A recipient still to send.
#[derive(Clone, Debug)]
pub struct PendingRecipient {
    pub idx: i64,
    pub target: ConversationId,
    pub attempts: i64,
}

/// The final outcome of one recipient.
#[derive(Clone, Debug)]
pub struct RecipientOutcome {
    pub idx: i64,
    pub sent: bool,
    pub attempts: i64,
    pub error: Option<String>,
    pub message_id: Option<String>,
}

const JOB_COLUMNS: &str =
    "id, connection, status, origin, total, sent, failed, created_ms, finished_ms";

fn job_from_row(r: &sqlx::sqlite::SqliteRow) -> JobInfo {
    let (total, sent, failed): (i64, i64, i64) = (r.get(4), r.get(5), r.get(6));
    JobInfo {
        id: r.get(0),
        connection: r.get(1),
        status: JobStatus::parse(r.get::<&str, _>(2)),
        origin: r.get(3),
        total,
        sent,
        failed,
        left: total - sent - failed,
        created_ms: r.get(7),
        finished_ms: r.get(8),
    }
}

impl Store {
    pub async fn job(&self, id: i64) -> Result<Option<JobInfo>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(job_from_row))
    }

    /// Every job, newest first.
    pub async fn jobs(&self) -> Result<Vec<JobInfo>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(job_from_row).collect())
    }

    /// The running jobs of a connection with their content, oldest first.
    pub async fn running_jobs(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<(i64, Content)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, content FROM jobs WHERE connection = ? AND status = 'running' ORDER BY id",
        )
        .bind(connection.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.get(0), serde_json::from_str(r.get::<&str, _>(1))?)))
            .collect()
    }

    pub async fn pending_recipients(
        &self,
        job: i64,
        after_idx: i64,
        limit: i64,
    ) -> Result<Vec<PendingRecipient>, StoreError> {
        let rows = sqlx::query(
            "SELECT idx, target, attempts FROM job_recipients WHERE job_id = ? AND status = 'pending' AND idx > ? ORDER BY idx LIMIT ?",
        )
        .bind(job)
        .bind(after_idx)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let target: &str = r.get(1);
                Ok(PendingRecipient {
                    idx: r.get(0),
                    target: target
                        .parse()
                        .map_err(|e: String| StoreError::Db(sqlx::Error::Protocol(e)))?,
                    attempts: r.get(2),
                })
            })
            .collect()
    }

    pub async fn job_failures(&self, job: i64) -> Result<Vec<JobFailure>, StoreError> {
        let rows = sqlx::query("SELECT target, error FROM job_recipients WHERE job_id = ? AND status = 'failed' ORDER BY idx")
            .bind(job)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| JobFailure {
                target: r.get(0),
                error: r.get::<Option<String>, _>(1).unwrap_or_default(),
            })
            .collect())
    }
}

pub(crate) async fn create_job(
    conn: &mut SqliteConnection,
    connection: &str,
    content: &str,
    targets: &[String],
    origin: &str,
    origin_key: Option<&str>,
) -> Result<i64, StoreError> {
    // A repeated origin key (an event replayed after a crash) finds the job it created.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO jobs (connection, content, status, origin, origin_key, total, created_ms) VALUES (?, ?, 'running', ?, ?, ?, ?) \
         ON CONFLICT (origin_key) WHERE origin_key IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(connection)
    .bind(content)
    .bind(origin)
    .bind(origin_key)
    .bind(targets.len() as i64)
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        let existing: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE origin_key = ?")
            .bind(origin_key)
            .fetch_one(&mut *conn)
            .await?;
        return Ok(existing);
    };
    for (idx, target) in targets.iter().enumerate() {
        sqlx::query("INSERT INTO job_recipients (job_id, idx, target) VALUES (?, ?, ?)")
            .bind(id)
            .bind(idx as i64)
            .bind(target)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Records outcomes of recipients still pending (a repeated outcome counts once) and
/// marks the job done when none is left.
pub(crate) async fn record_outcomes(
    conn: &mut SqliteConnection,
    job: i64,
    outcomes: &[RecipientOutcome],
) -> Result<(), StoreError> {
    let (mut sent, mut failed) = (0i64, 0i64);
    for o in outcomes {
        let changed = sqlx::query(
            "UPDATE job_recipients SET status = ?, attempts = ?, error = ?, message_id = ? WHERE job_id = ? AND idx = ? AND status = 'pending'",
        )
        .bind(if o.sent { "sent" } else { "failed" })
        .bind(o.attempts)
        .bind(&o.error)
        .bind(&o.message_id)
        .bind(job)
        .bind(o.idx)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if changed == 1 {
            if o.sent {
                sent += 1;
            } else {
                failed += 1;
            }
        }
    }
    sqlx::query(
        "UPDATE jobs SET sent = sent + ?, failed = failed + ?, \
         status = CASE WHEN status = 'running' AND total = sent + ? + failed + ? THEN 'done' ELSE status END, \
         finished_ms = CASE WHEN status = 'running' AND total = sent + ? + failed + ? THEN ? ELSE finished_ms END \
         WHERE id = ?",
    )
    .bind(sent)
    .bind(failed)
    .bind(sent)
    .bind(failed)
    .bind(sent)
    .bind(failed)
    .bind(now_ms())
    .bind(job)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves a job to `to` if the transition is allowed; returns whether it moved.
pub(crate) async fn set_status(
    conn: &mut SqliteConnection,
    job: i64,
    to: JobStatus,
) -> Result<bool, StoreError> {
    let from: &[&str] = match to {
        JobStatus::Paused => &["running"],
        JobStatus::Running => &["paused"],
        JobStatus::Cancelled => &["running", "paused"],
        JobStatus::Done => &["running"],
    };
    let placeholders = vec!["?"; from.len()].join(", ");
    let sql = format!(
        "UPDATE jobs SET status = ?, finished_ms = CASE WHEN ? THEN ? ELSE finished_ms END WHERE id = ? AND status IN ({placeholders})"
    );
    let mut q = sqlx::query(&sql)
        .bind(to.as_str())
        .bind(to.is_final())
        .bind(now_ms())
        .bind(job);
    for f in from {
        q = q.bind(*f);
    }
    Ok(q.execute(&mut *conn).await?.rows_affected() == 1)
}
