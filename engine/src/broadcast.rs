//! Broadcast jobs: one content to many recipients, persisted before the first send,
//! resumed after a crash, paced by the connection's send limits and yielding to
//! interactive replies.
//!
//! Exactly once: every recipient's send carries the idempotency key `job:<id>:<idx>`, so a
//! send whose confirmation was lost in a crash is recognised by the platform when it is
//! sent again (the hub's client message id, Tencent's `MsgRandom`).

use crate::adapter::Adapter;
use crate::audience::{self, Recipient};
use crate::model::{
    Command, CommandOutput, CommandResult, ConnectionId, Content, ConversationId, OutboundCommand,
    SendOptions,
};
use crate::outbox::{OutboxHandle, RetryPolicy};
use crate::ratelimit::SendGate;
use crate::store::{
    JobFailure, JobInfo, JobStatus, PendingRecipient, RecipientOutcome, Store, StoreError,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// Recipients read from the store at a time.
const PAGE: i64 = 512;
/// Sends in flight at once per connection (they still pass the send limits one by one).
const IN_FLIGHT: usize = 32;
/// Outcomes written to the store together.
const FLUSH_EVERY: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error("unknown connection `{0}`")]
    UnknownConnection(ConnectionId),
    #[error("a broadcast needs at least one recipient")]
    NoRecipients,
    #[error("no broadcast job {0}")]
    NotFound(i64),
    #[error("job {id} is {status:?} and cannot be {action}")]
    BadTransition {
        id: i64,
        status: JobStatus,
        action: &'static str,
    },
    #[error(transparent)]
    Lookup(#[from] audience::LookupError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The connection-side parts a runner needs.
pub(crate) struct RunnerParts {
    pub connection: ConnectionId,
    pub adapter: Arc<dyn Adapter>,
    pub gate: Arc<SendGate>,
    pub outbox: OutboxHandle,
    pub retry: RetryPolicy,
    pub counters: Arc<crate::monitor::Counters>,
}

/// Starts, controls and reports on broadcast jobs. Cheap to clone.
#[derive(Clone)]
pub struct Broadcasts {
    store: Store,
    /// Counts pauses, resumes and cancels, so that runners re-read their job's status
    /// only when one happened.
    transitions: Arc<AtomicU64>,
    wakes: Arc<HashMap<ConnectionId, Arc<Notify>>>,
    adapters: Arc<HashMap<ConnectionId, Arc<dyn Adapter>>>,
}

impl Broadcasts {
    /// The conversations `recipients` stand for on `connection`, looking up `all:friends`
    /// and `all:groups` on the platform; each once.
    pub async fn resolve(
        &self,
        connection: &ConnectionId,
        recipients: Vec<Recipient>,
    ) -> Result<Vec<ConversationId>, BroadcastError> {
        let adapter = self
            .adapters
            .get(connection)
            .ok_or_else(|| BroadcastError::UnknownConnection(connection.clone()))?;
        Ok(audience::resolve(adapter.as_ref(), connection, recipients).await?)
    }

    /// Persists the job and every recipient, then lets the connection's runner start.
    pub async fn start(
        &self,
        connection: &ConnectionId,
        content: Content,
        recipients: Vec<ConversationId>,
        origin: &str,
    ) -> Result<JobInfo, BroadcastError> {
        let wake = self
            .wakes
            .get(connection)
            .ok_or_else(|| BroadcastError::UnknownConnection(connection.clone()))?;
        if recipients.is_empty() {
            return Err(BroadcastError::NoRecipients);
        }
        let id = self
            .store
            .create_job(connection, &content, &recipients, origin)
            .await?;
        wake.notify_one();
        tracing::info!(job = id, connection = %connection, recipients = recipients.len(), origin, "broadcast started");
        self.get(id).await
    }

    pub async fn get(&self, id: i64) -> Result<JobInfo, BroadcastError> {
        self.store
            .job(id)
            .await?
            .ok_or(BroadcastError::NotFound(id))
    }

    pub async fn list(&self) -> Result<Vec<JobInfo>, BroadcastError> {
        Ok(self.store.jobs().await?)
    }

    pub async fn failures(&self, id: i64) -> Result<Vec<JobFailure>, BroadcastError> {
        self.get(id).await?;
        Ok(self.store.job_failures(id).await?)
    }

    pub async fn pause(&self, id: i64) -> Result<JobInfo, BroadcastError> {
        self.transition(id, JobStatus::Paused, "paused").await
    }

    pub async fn resume(&self, id: i64) -> Result<JobInfo, BroadcastError> {
        self.transition(id, JobStatus::Running, "resumed").await
    }

    pub async fn cancel(&self, id: i64) -> Result<JobInfo, BroadcastError> {
        self.transition(id, JobStatus::Cancelled, "cancelled").await
    }

    async fn transition(
        &self,
        id: i64,
        to: JobStatus,
        action: &'static str,
    ) -> Result<JobInfo, BroadcastError> {
        let job = self.get(id).await?;
        if !self.store.set_job_status(id, to).await? {
            return Err(BroadcastError::BadTransition {
                id,
                status: job.status,
                action,
            });
        }
        self.transitions.fetch_add(1, Ordering::SeqCst);
        if let Some(wake) = self.wakes.get(&ConnectionId::from(job.connection.as_str())) {
            wake.notify_one();
        }
        tracing::info!(job = id, action, "broadcast {action}");
        self.get(id).await
    }
}

/// Starts one runner per connection; returns the control handle and the runners' tasks.
pub(crate) fn spawn(
    store: Store,
    parts: Vec<RunnerParts>,
    wakes: Arc<HashMap<ConnectionId, Arc<Notify>>>,
    closing: watch::Receiver<bool>,
) -> (Broadcasts, Vec<tokio::task::JoinHandle<()>>) {
    let mut tasks = Vec::new();
    let transitions = Arc::new(AtomicU64::new(0));
    let parts_adapters: Vec<_> = parts
        .iter()
        .map(|p| (p.connection.clone(), p.adapter.clone()))
        .collect();
    for p in parts {
        let wake = wakes[&p.connection].clone();
        let runner = Runner {
            store: store.clone(),
            parts: Arc::new(p),
            transitions: transitions.clone(),
            closing: closing.clone(),
        };
        tasks.push(tokio::spawn(runner.run(wake)));
    }
    let adapters = Arc::new(
        parts_adapters
            .into_iter()
            .collect::<HashMap<ConnectionId, Arc<dyn Adapter>>>(),
    );
    (
        Broadcasts {
            store,
            transitions,
            wakes,
            adapters,
        },
        tasks,
    )
}

/// One connection's broadcast runner.
struct Runner {
    store: Store,
    parts: Arc<RunnerParts>,
    transitions: Arc<AtomicU64>,
    closing: watch::Receiver<bool>,
}

impl Runner {
    async fn run(mut self, wake: Arc<Notify>) {
        loop {
            if *self.closing.borrow() {
                return;
            }
            let notified = wake.notified();
            let jobs = match self.store.running_jobs(&self.parts.connection).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::error!(connection = %self.parts.connection, error = %e, "cannot read broadcast jobs");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    _ = notified => {}
                    _ = self.closing.wait_for(|c| *c) => return,
                }
                continue;
            }
            for (job, content) in jobs {
                self.run_job(job, Arc::new(content)).await;
                if *self.closing.borrow() {
                    return;
                }
            }
        }
    }

    /// Sends the job's pending recipients until none is left, the job is paused or
    /// cancelled, or the engine is closing.
    async fn run_job(&self, job: i64, content: Arc<Content>) {
        let (store, parts) = (&self.store, &self.parts);
        let mut after = -1;
        let mut seen = self.transitions.load(Ordering::SeqCst);
        loop {
            let page = match store.pending_recipients(job, after, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(job, error = %e, "cannot read recipients");
                    return;
                }
            };
            let Some(last) = page.last() else {
                // Nothing pending: the last outcomes already marked the job done, unless an
                // empty page follows outcomes recorded before a crash.
                let _ = store.set_job_status(job, JobStatus::Done).await;
                return;
            };
            after = last.idx;
            let mut in_flight = JoinSet::new();
            let mut outcomes = Vec::new();
            for recipient in page {
                // A pause or cancel stops new sends at once; the status is read again
                // only when one happened.
                let now = self.transitions.load(Ordering::SeqCst);
                if *self.closing.borrow() || (now != seen && !self.still_running(job).await) {
                    break;
                }
                seen = now;
                if in_flight.len() >= IN_FLIGHT {
                    collect(in_flight.join_next().await, &mut outcomes);
                }
                // Interactive replies first: wait while any is queued, then take a send
                // slot; the send starts at once, so the platform sees the paced rate.
                parts.outbox.wait_empty().await;
                parts.gate.acquire("send").await;
                in_flight.spawn(send_to(parts.clone(), job, content.clone(), recipient));
                if outcomes.len() >= FLUSH_EVERY {
                    flush(store, job, &mut outcomes).await;
                }
            }
            while let Some(done) = in_flight.join_next().await {
                collect(Some(done), &mut outcomes);
            }
            flush(store, job, &mut outcomes).await;
            if !self.still_running(job).await {
                return;
            }
        }
    }

    async fn still_running(&self, job: i64) -> bool {
        if *self.closing.borrow() {
            return false;
        }
        matches!(self.store.job(job).await, Ok(Some(j)) if j.status == JobStatus::Running)
    }
}

fn collect(
    done: Option<Result<RecipientOutcome, tokio::task::JoinError>>,
    outcomes: &mut Vec<RecipientOutcome>,
) {
    match done {
        Some(Ok(o)) => outcomes.push(o),
        // A send that panicked leaves its recipient pending for the next start.
        Some(Err(e)) => tracing::error!(error = %e, "a broadcast send failed unexpectedly"),
        None => {}
    }
}

async fn flush(store: &Store, job: i64, outcomes: &mut Vec<RecipientOutcome>) {
    if let Err(e) = store.record_outcomes(job, std::mem::take(outcomes)).await {
        // The recipients stay pending and are sent again at the next start, with the same
        // idempotency keys, so the platform delivers them once.
        tracing::error!(job, error = %e, "cannot record broadcast progress");
    }
}

/// One recipient: retried with backoff while the failure is transient.
async fn send_to(
    parts: Arc<RunnerParts>,
    job: i64,
    content: Arc<Content>,
    recipient: PendingRecipient,
) -> RecipientOutcome {
    let command = OutboundCommand {
        connection: parts.connection.clone(),
        idempotency_key: format!("job:{job}:{}", recipient.idx),
        command: Command::Send {
            to: recipient.target.clone(),
            content: (*content).clone(),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        },
    };
    let mut attempts = recipient.attempts.max(0) as u32;
    loop {
        attempts += 1;
        let result = parts.adapter.execute(command.clone()).await;
        match result {
            CommandResult::Ok(output) => {
                parts.counters.event_out();
                let message_id = match output {
                    CommandOutput::Sent { message } => Some(message.id),
                    _ => None,
                };
                return RecipientOutcome {
                    idx: recipient.idx,
                    sent: true,
                    attempts: attempts as i64,
                    error: None,
                    message_id,
                };
            }
            CommandResult::Failed(e)
                if e.kind.is_transient() && attempts < parts.retry.max_attempts =>
            {
                let wait = parts.retry.backoff(attempts - 1, e.retry_after_ms);
                tracing::debug!(job, target = %recipient.target, error = %e, wait_ms = wait.as_millis() as u64, "transient failure; retrying");
                tokio::time::sleep(wait).await;
                parts.gate.acquire("send").await;
            }
            CommandResult::Failed(e) => {
                let error = if e.kind.is_transient() {
                    format!("gave up after {attempts} attempts: {e}")
                } else {
                    e.to_string()
                };
                return RecipientOutcome {
                    idx: recipient.idx,
                    sent: false,
                    attempts: attempts as i64,
                    error: Some(error),
                    message_id: None,
                };
            }
        }
    }
}
