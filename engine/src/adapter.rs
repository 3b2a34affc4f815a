//! What a platform adapter implements, and the intake it delivers events into.

use crate::intercept::Interceptor;
use crate::model::{CommandResult, ConnectionId, Envelope, OutboundCommand, Verdict};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

/// One platform account: turns the platform's events into [`Envelope`]s delivered to an
/// [`Intake`], and carries out [`OutboundCommand`]s.
pub trait Adapter: Send + Sync + 'static {
    /// The connection kind in config (`hub`, `tencent`, ...).
    fn kind(&self) -> &'static str;

    /// Starts delivering events into `intake`. `cursor` is the last cursor the adapter
    /// attached to an event that the store accepted, so the adapter can resume after it
    /// (events delivered twice are deduplicated by id).
    fn start(
        &self,
        intake: Intake,
        cursor: Option<String>,
    ) -> BoxFuture<'static, Result<(), AdapterError>>;

    /// Stops delivering events and drops every clone of the intake it holds.
    fn stop(&self) -> BoxFuture<'static, ()>;

    /// The platform's documented call-frequency limits, applied by the outbox unless the
    /// connection's config sets its own.
    fn default_rate_limits(&self) -> Vec<RateLimit> {
        Vec::new()
    }

    /// Carries out one command. Transient failures (`rate_limited`, `unavailable`,
    /// `unknown_outcome`) are retried by the outbox with the same idempotency key.
    fn execute(&self, command: OutboundCommand) -> BoxFuture<'static, CommandResult>;
}

/// A send limit of one connection: at most `per_second` and `per_minute` calls of the
/// listed command kinds (by [`Command::name`](crate::model::Command::name); empty = every kind).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default)]
    pub commands: Vec<String>,
    #[serde(default)]
    pub per_second: Option<u32>,
    #[serde(default)]
    pub per_minute: Option<u32>,
}

/// Why an adapter could not start; the message names what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdapterError(pub String);

/// Whether the store took an event as new or had seen its id before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    New,
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the engine is shutting down; the event was not accepted")]
    Closed,
    #[error("the store could not record the event: {0}")]
    Store(String),
}

/// Events delivered together: durable together (one store commit) or not at all.
pub(crate) struct IntakeItem {
    pub envelopes: Vec<Envelope>,
    pub cursor: Option<String>,
    pub ack: oneshot::Sender<Result<Vec<Accepted>, IntakeError>>,
}

/// Where an adapter delivers events for one connection. Bounded: `deliver` waits while the
/// engine is behind, which is how a slow bot slows the platform's intake instead of
/// growing memory.
#[derive(Clone)]
pub struct Intake {
    pub(crate) connection: ConnectionId,
    pub(crate) tx: mpsc::Sender<IntakeItem>,
    pub(crate) interceptor: Option<Interceptor>,
}

impl Intake {
    pub fn connection(&self) -> &ConnectionId {
        &self.connection
    }

    /// Asks the bots for a verdict on a message awaiting delivery, answering `default` when
    /// none comes within `deadline` (or when no bot intercepts). The envelope is not stored:
    /// the platform reports the delivered message as a normal event afterwards.
    pub async fn verdict(
        &self,
        mut envelope: Envelope,
        deadline: std::time::Duration,
        default: Verdict,
    ) -> Verdict {
        envelope.connection = self.connection.clone();
        match &self.interceptor {
            Some(i) => i.verdict(envelope, deadline, default).await,
            None => default,
        }
    }

    /// Delivers one event and returns once it is durable in the store's inbox (or known as
    /// a duplicate). Only then may a webhook be acknowledged to the platform.
    pub async fn deliver(
        &self,
        envelope: Envelope,
        cursor: Option<String>,
    ) -> Result<Accepted, IntakeError> {
        let accepted = self.deliver_batch(vec![envelope], cursor).await?;
        Ok(accepted[0])
    }

    /// Delivers events read together (a feed's backlog, frames that arrived at once) in
    /// order, and returns once all of them are durable: one store commit for the batch, so
    /// an adapter that must deliver in order gets the throughput of group commit without
    /// ever having two deliveries in flight. All or none are accepted. `cursor` belongs
    /// to the last event. Keep batches to a few hundred events.
    pub async fn deliver_batch(
        &self,
        envelopes: Vec<Envelope>,
        cursor: Option<String>,
    ) -> Result<Vec<Accepted>, IntakeError> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let (ack, done) = oneshot::channel();
        self.tx
            .send(IntakeItem {
                envelopes,
                cursor,
                ack,
            })
            .await
            .map_err(|_| IntakeError::Closed)?;
        done.await.map_err(|_| IntakeError::Closed)?
    }
}

impl Intake {
    /// An intake that accepts every event as new and hands it to the returned receiver:
    /// for testing an adapter without an engine.
    pub fn collecting(
        connection: ConnectionId,
        capacity: usize,
    ) -> (Intake, mpsc::Receiver<(Envelope, Option<String>)>) {
        let (tx, mut rx) = mpsc::channel::<IntakeItem>(capacity);
        let (out_tx, out_rx) = mpsc::channel(capacity);
        tokio::spawn(async move {
            'items: while let Some(item) = rx.recv().await {
                let n = item.envelopes.len();
                for (i, envelope) in item.envelopes.into_iter().enumerate() {
                    // The cursor goes with the batch's last event.
                    let cursor = if i + 1 == n {
                        item.cursor.clone()
                    } else {
                        None
                    };
                    if out_tx.send((envelope, cursor)).await.is_err() {
                        let _ = item.ack.send(Err(IntakeError::Closed));
                        break 'items;
                    }
                }
                let _ = item.ack.send(Ok(vec![Accepted::New; n]));
            }
        });
        (
            Intake {
                connection,
                tx,
                interceptor: None,
            },
            out_rx,
        )
    }
}

/// An intake that does not keep the connection's intake open: the outbox holds one to
/// report command results, and shutdown must not wait for it.
#[derive(Clone)]
pub(crate) struct WeakIntake {
    connection: ConnectionId,
    tx: mpsc::WeakSender<IntakeItem>,
}

impl Intake {
    pub(crate) fn downgrade(&self) -> WeakIntake {
        WeakIntake {
            connection: self.connection.clone(),
            tx: self.tx.downgrade(),
        }
    }
}

impl WeakIntake {
    /// The intake, unless the connection's intake is already closed.
    pub(crate) fn upgrade(&self) -> Option<Intake> {
        Some(Intake {
            connection: self.connection.clone(),
            tx: self.tx.upgrade()?,
            interceptor: None,
        })
    }
}
