//! The store's single writer: group commit of whatever writes are queued.

use super::bulk::{Rows, Stored, Wrap};
use super::jobs::{self, JobStatus, RecipientOutcome};
use super::{now_ms, StoreError};
use crate::model::{ConnectionId, Content, ConversationId, OutboundCommand};
use crate::scheduler::{script_key, ScheduleChange};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;
use tokio::sync::{mpsc, oneshot};

/// At most this many queued writes share one transaction.
const MAX_BATCH: usize = 512;
/// Queued writes beyond this make writers wait (backpressure on the actors).
const QUEUE: usize = 4096;

/// The effects of handling one event (or of an enqueue outside any event).
#[derive(Debug)]
pub struct Completion {
    pub connection: ConnectionId,
    /// The conversation whose bot state changes; `None` when `state` is empty.
    pub conversation: Option<ConversationId>,
    /// The inbox row to mark handled, if the effects come from an inbound event.
    pub inbox_seq: Option<i64>,
    /// Changed bot states; `None` deletes the bot's state.
    pub state: Vec<(String, Option<Value>)>,
    pub commands: Vec<Outgoing>,
    /// Broadcasts started by the handler.
    pub jobs: Vec<NewJob>,
    /// Schedules the handler's bots created or cancelled.
    pub schedules: Vec<ScheduleChange>,
}

/// A command for the outbox and the bot that sent it, if one did.
#[derive(Debug)]
pub struct Outgoing {
    pub command: OutboundCommand,
    pub bot: Option<String>,
}

impl From<OutboundCommand> for Outgoing {
    fn from(command: OutboundCommand) -> Self {
        Outgoing { command, bot: None }
    }
}

/// A broadcast job to create with a completion.
#[derive(Debug)]
pub struct NewJob {
    /// Unique per origin (event id and command index), so a replay creates it once.
    pub origin_key: String,
    pub content: Content,
    pub targets: Vec<ConversationId>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Write {
    Accept {
        connection: String,
        items: Vec<(String, String)>,
        cursor: Option<String>,
        received: i64,
        reply: Reply<Vec<Option<i64>>>,
    },
    Complete {
        completion: Completion,
        reply: Reply<()>,
    },
    Finish {
        id: i64,
        status: &'static str,
        result: String,
        reply: Reply<()>,
    },
    Attempt {
        id: i64,
        result: String,
        reply: Reply<()>,
    },
    CreateJob {
        connection: String,
        content: String,
        targets: Vec<String>,
        origin: String,
        reply: Reply<i64>,
    },
    JobOutcomes {
        job: i64,
        outcomes: Vec<RecipientOutcome>,
        reply: Reply<()>,
    },
    JobStatus {
        job: i64,
        to: JobStatus,
        reply: Reply<bool>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// What a write produced inside the transaction, delivered only after the commit.
enum Done {
    Accepted(Vec<Option<i64>>),
    Id(i64),
    Moved(bool),
    Unit,
}

pub(crate) async fn spawn(
    options: SqliteConnectOptions,
) -> Result<mpsc::Sender<Write>, StoreError> {
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let (tx, mut rx) = mpsc::channel::<Write>(QUEUE);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // Waits for one write, then takes whatever else is queued.
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let batch = std::mem::take(&mut batch);
            if !commit_batch(&mut conn, batch).await {
                break;
            }
        }
        let _ = conn.close().await;
    });
    Ok(tx)
}

/// Applies a batch in one transaction and answers each write after the commit. Returns
/// false once a `Close` was seen.
async fn commit_batch(conn: &mut SqliteConnection, batch: Vec<Write>) -> bool {
    let open = !batch.iter().any(|w| matches!(w, Write::Close { .. }));
    // Almost every batch applies cleanly: try it without a savepoint per write (each
    // savepoint is two more round trips to SQLite's thread, most of a write's cost).
    match apply_all(conn, &batch).await {
        Ok(done) => {
            for (w, d) in batch.into_iter().zip(done) {
                reply(w, Ok(d));
            }
            open
        }
        // One write failed and the whole transaction was rolled back: again, each write
        // in its own savepoint, so that the bad one fails alone.
        Err(_) => commit_each(conn, batch).await,
    }
}

/// The whole batch in one transaction; on any error, nothing of it is kept.
async fn apply_all(conn: &mut SqliteConnection, batch: &[Write]) -> Result<Vec<Done>, StoreError> {
    // Nothing in one batch depends on another of its writes (each conversation and each
    // send waits for its previous write to commit before making the next), so the bulk
    // statements may take all of them at once.
    let mut rows = Rows::default();
    for w in batch {
        rows.add(w)?;
    }
    let rest = batch.iter().any(has_rest);
    let wrap = if rest { Wrap::Begin } else { Wrap::BeginCommit };
    let result = async {
        let mut stored = rows.write(&mut *conn, wrap, now_ms()).await?;
        let mut done = Vec::with_capacity(batch.len());
        for w in batch {
            done.push(apply_rest(&mut *conn, w, &mut stored).await?);
        }
        if rest {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
        }
        Ok(done)
    }
    .await;
    if result.is_err() {
        // Fails harmlessly if the error came after the commit or before the begin.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    result
}

/// Applies a batch in one transaction, each write in its own savepoint so that one bad
/// write fails alone. Returns false once a `Close` was seen.
async fn commit_each(conn: &mut SqliteConnection, batch: Vec<Write>) -> bool {
    let mut open = true;
    let mut outcomes: Vec<(Write, Result<Done, StoreError>)> = Vec::with_capacity(batch.len());
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            let msg = e.to_string();
            for w in batch {
                reply(w, Err(StoreError::Db(sqlx::Error::Protocol(msg.clone()))));
            }
            return true;
        }
    };
    for w in batch {
        if matches!(w, Write::Close { .. }) {
            open = false;
            outcomes.push((w, Ok(Done::Unit)));
            continue;
        }
        let result = match tx.begin().await {
            Ok(mut sp) => match apply_one(&mut sp, &w).await {
                Ok(done) => sp.commit().await.map(|_| done).map_err(StoreError::from),
                Err(e) => {
                    let _ = sp.rollback().await;
                    Err(e)
                }
            },
            Err(e) => Err(e.into()),
        };
        outcomes.push((w, result));
    }
    if let Err(e) = tx.commit().await {
        let msg = e.to_string();
        for (w, _) in outcomes {
            reply(
                w,
                Err(StoreError::Db(sqlx::Error::Protocol(format!(
                    "commit failed: {msg}"
                )))),
            );
        }
        return open;
    }
    for (w, result) in outcomes {
        reply(w, result);
    }
    open
}

fn reply(w: Write, result: Result<Done, StoreError>) {
    match w {
        Write::Accept { reply, .. } => {
            let _ = reply.send(result.map(|d| match d {
                Done::Accepted(v) => v,
                _ => Vec::new(),
            }));
        }
        Write::Complete { reply, .. }
        | Write::Finish { reply, .. }
        | Write::Attempt { reply, .. }
        | Write::JobOutcomes { reply, .. } => {
            let _ = reply.send(result.map(|_| ()));
        }
        Write::CreateJob { reply, .. } => {
            let _ = reply.send(result.map(|d| if let Done::Id(id) = d { id } else { 0 }));
        }
        Write::JobStatus { reply, .. } => {
            let _ = reply.send(result.map(|d| matches!(d, Done::Moved(true))));
        }
        Write::Close { reply } => {
            let _ = reply.send(());
        }
    }
}

/// One write alone (inside the caller's savepoint).
async fn apply_one(conn: &mut SqliteConnection, w: &Write) -> Result<Done, StoreError> {
    let mut rows = Rows::default();
    rows.add(w)?;
    let mut stored = rows.write(&mut *conn, Wrap::Bare, now_ms()).await?;
    apply_rest(conn, w, &mut stored).await
}

/// Whether a write has parts the bulk statements do not cover.
fn has_rest(w: &Write) -> bool {
    match w {
        Write::Accept { .. } | Write::Finish { .. } | Write::Close { .. } => false,
        Write::Complete { completion: c, .. } => !c.schedules.is_empty() || !c.jobs.is_empty(),
        Write::Attempt { .. }
        | Write::CreateJob { .. }
        | Write::JobOutcomes { .. }
        | Write::JobStatus { .. } => true,
    }
}

/// Applies what the bulk statements left of a write, after them in the same transaction,
/// and says what the write produced. `stored` holds the inbox rows the bulk insert made.
async fn apply_rest(
    conn: &mut SqliteConnection,
    w: &Write,
    stored: &mut Stored,
) -> Result<Done, StoreError> {
    match w {
        // A duplicate id (stored before, or earlier in this batch) gets no seq.
        Write::Accept {
            connection, items, ..
        } => Ok(Done::Accepted(
            items
                .iter()
                .map(|(id, _)| stored.remove(&(connection.clone(), id.clone())))
                .collect(),
        )),
        Write::Complete { completion: c, .. } => {
            let now = now_ms();
            if let Some(conversation) = &c.conversation {
                for change in &c.schedules {
                    save_schedule_change(conn, c.connection.as_str(), conversation, change, now)
                        .await?;
                }
            }
            for job in &c.jobs {
                let content = serde_json::to_string(&job.content)?;
                let targets: Vec<String> = job.targets.iter().map(ToString::to_string).collect();
                jobs::create_job(
                    conn,
                    c.connection.as_str(),
                    &content,
                    &targets,
                    "bot",
                    Some(&job.origin_key),
                )
                .await?;
            }
            Ok(Done::Unit)
        }
        Write::Finish { .. } | Write::Close { .. } => Ok(Done::Unit),
        Write::Attempt { id, result, .. } => {
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, result = ? WHERE id = ?")
                .bind(result)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(Done::Unit)
        }
        Write::CreateJob {
            connection,
            content,
            targets,
            origin,
            ..
        } => jobs::create_job(conn, connection, content, targets, origin, None)
            .await
            .map(Done::Id),
        Write::JobOutcomes { job, outcomes, .. } => jobs::record_outcomes(conn, *job, outcomes)
            .await
            .map(|_| Done::Unit),
        Write::JobStatus { job, to, .. } => {
            jobs::set_status(conn, *job, *to).await.map(Done::Moved)
        }
    }
}

/// Writes a bot's new schedule (replacing one with the same id) or removes a cancelled one.
async fn save_schedule_change(
    conn: &mut SqliteConnection,
    connection: &str,
    conversation: &ConversationId,
    change: &ScheduleChange,
    now: i64,
) -> Result<(), StoreError> {
    match change {
        ScheduleChange::Set(s) => {
            sqlx::query(
                "INSERT INTO script_schedules (id, connection, conversation, bot, handler, timing, payload, created_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET handler = excluded.handler, timing = excluded.timing, payload = excluded.payload",
            )
            .bind(&s.id)
            .bind(connection)
            .bind(conversation.to_string())
            .bind(&s.bot)
            .bind(&s.handler)
            .bind(serde_json::to_string(&s.when)?)
            .bind(serde_json::to_string(&s.payload)?)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        ScheduleChange::Cancel { bot, id } => {
            let removed = sqlx::query("DELETE FROM script_schedules WHERE id = ? AND bot = ?")
                .bind(id)
                .bind(bot)
                .execute(&mut *conn)
                .await?;
            if removed.rows_affected() > 0 {
                sqlx::query("DELETE FROM schedules WHERE name = ?")
                    .bind(script_key(id))
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}
