//! The engine's side of the hub: a connection that is one hub user (usually a bot).
//!
//! It subscribes as an in-process device of that user, catches up on what the user
//! missed after the engine's cursor (the last delivered sequence), then follows live
//! messages, delivering each to the intake strictly in sequence order.

use crate::error::HubError;
use crate::events::StoredEvent;
use crate::hub::Hub;
use crate::message::StoredMessage;
use crate::registry::{EndReason, Ending, Pushed, SessionId};
use futures_util::future::BoxFuture;
use parley_engine::adapter::{Adapter, AdapterError, Intake, IntakeError};
use parley_engine::model::{
    CommandError, CommandResult, ConnectionId, ConnectionState, Envelope, ErrorKind, Event,
    EventId, OutboundCommand,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many backlog messages are read from the database at a time.
const BACKLOG_PAGE: u32 = 200;
/// The wait before retrying after the database or the engine's store failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Live items waiting at once are delivered together, up to this many.
const LIVE_BATCH: usize = 256;

/// A Parley connection speaking as one hub user.
pub struct HubAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Hub,
    connection: ConnectionId,
    user: String,
    running: Mutex<Option<Running>>,
    /// Another login replaced this connection's session (the "single" device policy):
    /// commands are refused until the engine starts the connection again.
    kicked: Arc<AtomicBool>,
}

struct Running {
    device: SessionId,
    task: JoinHandle<()>,
}

impl HubAdapter {
    pub fn new(hub: Hub, connection: ConnectionId, user: String) -> Self {
        HubAdapter {
            inner: Arc::new(Inner {
                hub,
                connection,
                user,
                running: Mutex::new(None),
                kicked: Arc::new(AtomicBool::new(false)),
            }),
        }
    }
}

impl Inner {
    /// Ends the delivery task (dropping its intake) and disconnects its device.
    async fn stop(&self) {
        let running = self.running.lock().expect("adapter lock").take();
        if let Some(Running { device, task }) = running {
            task.abort();
            let _ = task.await;
            self.hub.disconnect(&self.user, device).await;
        }
    }

    /// The device name of this connection's session.
    fn device(&self) -> String {
        format!("engine:{}", self.connection)
    }
}

impl Adapter for HubAdapter {
    fn kind(&self) -> &'static str {
        "hub"
    }

    fn start(
        &self,
        intake: Intake,
        cursor: Option<String>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner.stop().await;
            let (hub, user) = (&inner.hub, &inner.user);
            let missing =
                |e: HubError| AdapterError(format!("hub connection {}: {e}", inner.connection));
            if hub.store().user(user).await.map_err(missing)?.is_none() {
                return Err(AdapterError(format!(
                    "hub connection {}: there is no hub user {user:?} (add it under [[hub.users]])",
                    inner.connection
                )));
            }
            // The latest sequence is read before subscribing, so nothing committed in
            // between is missed: it is either in the backlog or arrives live.
            let latest_event = hub.store().latest_event_seq().await.map_err(missing)?;
            let after = match cursor {
                Some(cursor) => Position::parse(&cursor, latest_event).ok_or_else(|| {
                    AdapterError(format!(
                        "hub cursor {cursor:?} is not \"<message seq>:<event seq>\""
                    ))
                })?,
                None => Position {
                    message: hub.store().latest_seq().await.map_err(missing)?,
                    event: latest_event,
                },
            };
            let device = hub.connect_device(user, &inner.device()).await;
            inner.kicked.store(false, Ordering::SeqCst);
            let feed = Feed {
                hub: hub.clone(),
                connection: inner.connection.clone(),
                user: user.clone(),
                intake,
                delivered: after,
                kicked: inner.kicked.clone(),
            };
            let task = tokio::spawn(feed.run(device.items, device.ending));
            *inner.running.lock().expect("adapter lock") = Some(Running {
                device: device.id,
                task,
            });
            tracing::info!(connection = %inner.connection, user, cursor = after.cursor(), "hub adapter started");
            Ok(())
        })
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.stop().await })
    }

    fn execute(&self, command: OutboundCommand) -> BoxFuture<'static, CommandResult> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let OutboundCommand {
                idempotency_key,
                command,
                ..
            } = command;
            if inner.kicked.load(Ordering::SeqCst) {
                let mut error = CommandError::new(
                    ErrorKind::NotPermitted,
                    format!(
                        "hub connection {}: kicked by another device (device_policy \"single\"); \
                         the connection must be started again",
                        inner.connection
                    ),
                );
                error.platform_code = Some("kicked".into());
                return CommandResult::Failed(error);
            }
            let device = inner
                .running
                .lock()
                .expect("adapter lock")
                .as_ref()
                .map(|r| r.device);
            crate::commands::execute(&inner.hub, &inner.user, device, idempotency_key, command)
                .await
                .into()
        })
    }
}

/// Where the adapter is in the user's two feeds: the message sequence and the event
/// sequence, saved as the engine cursor `"<message seq>:<event seq>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    message: u64,
    event: u64,
}

impl Position {
    /// Reads a cursor; a plain number (from before events existed) is a message sequence,
    /// and events then start at `latest_event`.
    fn parse(cursor: &str, latest_event: u64) -> Option<Position> {
        match cursor.split_once(':') {
            Some((m, e)) => Some(Position {
                message: m.parse().ok()?,
                event: e.parse().ok()?,
            }),
            None => Some(Position {
                message: cursor.parse().ok()?,
                event: latest_event,
            }),
        }
    }

    fn cursor(self) -> String {
        format!("{}:{}", self.message, self.event)
    }
}

/// The delivery task: backlog first, then live messages and events, each exactly once and
/// in order.
struct Feed {
    hub: Hub,
    connection: ConnectionId,
    user: String,
    intake: Intake,
    /// How far delivery has got.
    delivered: Position,
    /// Set when another login replaces this session.
    kicked: Arc<AtomicBool>,
}

impl Feed {
    async fn run(mut self, mut live: mpsc::Receiver<Pushed>, ending: Arc<Ending>) {
        if self.catch_up().await.is_err() {
            return;
        }
        // Caught up and following live: the bots' on_start / on_connection run now.
        let now = self.hub.clock().now_ms();
        let connected = Envelope {
            id: EventId(format!("connected:{now}")),
            connection: self.connection.clone(),
            time_ms: now,
            backlog: false,
            from_self: false,
            event: Event::Connection(ConnectionState::Connected),
            raw: serde_json::Value::Null,
        };
        if self.deliver(connected).await.is_err() {
            return;
        }
        loop {
            // Whatever is waiting goes in one delivery: one store commit.
            let mut waiting = Vec::with_capacity(LIVE_BATCH);
            tokio::select! {
                biased;
                reason = ending.wait() => {
                    self.ended(reason).await;
                    return;
                }
                received = live.recv_many(&mut waiting, LIVE_BATCH) => if received == 0 {
                    break;
                },
            }
            let mut batch = Batch::new(self.delivered);
            for pushed in &waiting {
                // Live items committed before the backlog query ended were delivered from it.
                match pushed {
                    Pushed::Message(m) if m.seq <= batch.at.message => {}
                    Pushed::Message(m) => batch.message(self.message_envelope(m), m.seq),
                    Pushed::Event(e) if e.seq.is_some_and(|s| s <= batch.at.event) => {}
                    Pushed::Event(e) => batch.event(self.event_envelope(e), e.seq),
                }
            }
            if self.deliver_batch(batch).await.is_err() {
                return;
            }
        }
        tracing::info!(connection = %self.connection, "hub closed; the adapter's feed ends");
    }

    /// Another login replaced this session: the engine hears `Connection(Kicked)` and the
    /// feed ends.
    async fn ended(&mut self, reason: EndReason) {
        tracing::warn!(connection = %self.connection, user = self.user, ?reason, "hub session kicked by another login");
        self.kicked.store(true, Ordering::SeqCst);
        let now = self.hub.clock().now_ms();
        let kicked = Envelope {
            id: EventId(format!("kicked:{now}")),
            connection: self.connection.clone(),
            time_ms: now,
            backlog: false,
            from_self: false,
            event: Event::Connection(ConnectionState::Kicked),
            raw: serde_json::Value::Null,
        };
        let _ = self.deliver(kicked).await;
    }

    /// Delivers what was stored after the cursor: messages and events merged by time.
    async fn catch_up(&mut self) -> Result<(), IntakeError> {
        loop {
            let store = self.hub.store();
            let pages = async {
                let messages = store
                    .visible_after(&self.user, self.delivered.message, BACKLOG_PAGE)
                    .await?;
                let events = store
                    .events_after(&self.user, self.delivered.event, BACKLOG_PAGE)
                    .await?;
                Ok::<_, HubError>((messages, events))
            };
            let (messages, events) = match pages.await {
                Ok(pages) => pages,
                Err(e) => {
                    tracing::error!(connection = %self.connection, error = %e, "hub backlog read failed; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            if messages.is_empty() && events.is_empty() {
                return Ok(());
            }
            let (mut messages, mut events) = (messages.iter().peekable(), events.iter().peekable());
            let mut batch = Batch::new(self.delivered);
            loop {
                let message_first = match (messages.peek(), events.peek()) {
                    (Some(m), Some(e)) => m.time_ms <= e.time_ms,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                if message_first {
                    let m = messages.next().expect("peeked");
                    if m.sender == self.user {
                        // The bot's own messages sent while Parley was down are history;
                        // skipped (the position still moves on, or the page repeats).
                        batch.skip_message(m.seq);
                        continue;
                    }
                    batch.message(self.message_envelope(m), m.seq);
                } else {
                    let e = events.next().expect("peeked");
                    batch.event(self.event_envelope(e), e.seq);
                }
            }
            self.deliver_batch(batch).await?;
        }
    }

    fn message_envelope(&self, message: &StoredMessage) -> Envelope {
        Envelope {
            id: EventId(format!("msg:{}", message.id)),
            connection: self.connection.clone(),
            time_ms: message.time_ms,
            backlog: false,
            from_self: message.sender == self.user,
            event: Event::Message(message.view_for(&self.user)),
            raw: serde_json::Value::Null,
        }
    }

    fn event_envelope(&self, event: &StoredEvent) -> Envelope {
        Envelope {
            id: EventId(format!("ev:{}", event.id)),
            connection: self.connection.clone(),
            time_ms: event.time_ms,
            backlog: false,
            from_self: event.is_from_self(),
            event: event.event.clone(),
            raw: serde_json::Value::Null,
        }
    }

    /// Delivers a batch in one store commit and moves the position past it; retries while
    /// the engine's store fails (the events are deduplicated by id), gives up when the
    /// engine is shutting down.
    async fn deliver_batch(&mut self, batch: Batch) -> Result<(), IntakeError> {
        if batch.envelopes.is_empty() {
            self.delivered = batch.at;
            return Ok(());
        }
        let cursor = batch.moved.then(|| batch.at.cursor());
        loop {
            match self
                .intake
                .deliver_batch(batch.envelopes.clone(), cursor.clone())
                .await
            {
                Ok(_) => {
                    self.delivered = batch.at;
                    return Ok(());
                }
                Err(IntakeError::Closed) => return Err(IntakeError::Closed),
                Err(IntakeError::Store(e)) => {
                    tracing::error!(connection = %self.connection, error = %e, "engine store refused hub events; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }

    /// Delivers one envelope that moves no position (connection state changes).
    async fn deliver(&mut self, envelope: Envelope) -> Result<(), IntakeError> {
        let mut batch = Batch::new(self.delivered);
        batch.envelopes.push(envelope);
        self.deliver_batch(batch).await
    }
}

/// Envelopes to deliver together and the position the feed reaches once they are durable.
struct Batch {
    envelopes: Vec<Envelope>,
    at: Position,
    /// Whether `at` moved: live-only events (typing, presence) move no cursor.
    moved: bool,
}

impl Batch {
    fn new(at: Position) -> Self {
        Batch {
            envelopes: Vec::new(),
            at,
            moved: false,
        }
    }

    fn message(&mut self, envelope: Envelope, seq: u64) {
        self.envelopes.push(envelope);
        self.skip_message(seq);
    }

    fn skip_message(&mut self, seq: u64) {
        self.at.message = seq;
        self.moved = true;
    }

    fn event(&mut self, envelope: Envelope, seq: Option<u64>) {
        self.envelopes.push(envelope);
        if let Some(seq) = seq {
            self.at.event = seq;
            self.moved = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn cursors_carry_both_positions_and_old_ones_still_read() {
        let p = Position {
            message: 42,
            event: 7,
        };
        assert_eq!(Position::parse(&p.cursor(), 0), Some(p));
        assert_eq!(
            Position::parse("42", 9),
            Some(Position {
                message: 42,
                event: 9
            })
        );
        assert_eq!(Position::parse("x:1", 0), None);
    }
}
