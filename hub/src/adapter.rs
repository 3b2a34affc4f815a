//! The engine's side of the hub: a connection that is one hub user (usually a bot).
//!
//! It subscribes as an in-process device of that user, catches up on what the user
//! missed after the engine's cursor (the last delivered sequence), then follows live
//! messages, delivering each to the intake strictly in sequence order.

use crate::error::HubError;
use crate::hub::{Hub, SendRequest};
use crate::message::StoredMessage;
use crate::registry::SessionId;
use futures_util::future::BoxFuture;
use parley_engine::adapter::{Adapter, AdapterError, Intake, IntakeError};
use parley_engine::model::{
    Command, CommandError, CommandOutput, CommandResult, ConnectionId, Envelope, ErrorKind, Event,
    EventId, OutboundCommand,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many backlog messages are read from the database at a time.
const BACKLOG_PAGE: u32 = 200;
/// The wait before retrying after the database or the engine's store failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A Parley connection speaking as one hub user.
pub struct HubAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Hub,
    connection: ConnectionId,
    user: String,
    running: Mutex<Option<Running>>,
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
            }),
        }
    }
}

impl Inner {
    /// Ends the delivery task (dropping its intake) and unsubscribes its device.
    async fn stop(&self) {
        let running = self.running.lock().expect("adapter lock").take();
        if let Some(Running { device, task }) = running {
            task.abort();
            let _ = task.await;
            self.hub.registry().unsubscribe(&self.user, device);
        }
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
            let after = match cursor {
                Some(cursor) => cursor.parse::<u64>().map_err(|_| {
                    AdapterError(format!(
                        "hub cursor {cursor:?} is not a message sequence number"
                    ))
                })?,
                None => hub.store().latest_seq().await.map_err(missing)?,
            };
            let (device, live) = hub.registry().subscribe_device(user);
            let feed = Feed {
                hub: hub.clone(),
                connection: inner.connection.clone(),
                user: user.clone(),
                intake,
                delivered: after,
            };
            let task = tokio::spawn(feed.run(live));
            *inner.running.lock().expect("adapter lock") = Some(Running { device, task });
            tracing::info!(connection = %inner.connection, user, after, "hub adapter started");
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
            let (to, content, reply_to, options, as_user) = match command {
                Command::Send {
                    to,
                    content,
                    reply_to,
                    options,
                    as_user,
                } => (to, content, reply_to, options, as_user),
                other => {
                    let message = format!("the hub does not support {} yet", other.name());
                    return CommandResult::Failed(CommandError::new(
                        ErrorKind::Unsupported,
                        message,
                    ));
                }
            };
            if let Some(as_user) = as_user.filter(|u| u.as_str() != inner.user) {
                let message = format!(
                    "a hub connection sends as its own user {:?}, not as {as_user}",
                    inner.user
                );
                return CommandResult::Failed(CommandError::new(ErrorKind::Unsupported, message));
            }
            let request = SendRequest {
                to,
                content,
                client_id: Some(idempotency_key),
                reply_to,
                extra: options.extra,
            };
            match inner.hub.send(&inner.user, request, None).await {
                Ok(sent) => CommandResult::Ok(CommandOutput::Sent {
                    message: sent.message.message_ref(),
                }),
                Err(e) => CommandResult::Failed(command_error(e)),
            }
        })
    }
}

fn command_error(e: HubError) -> CommandError {
    let kind = match &e {
        HubError::NotFound(_) => ErrorKind::NotFound,
        HubError::NotPermitted(_) => ErrorKind::NotPermitted,
        HubError::Invalid(_) | HubError::Conflict(_) => ErrorKind::Invalid,
        HubError::Config(_) | HubError::Io { .. } | HubError::Store(_) | HubError::Migrate(_) => {
            ErrorKind::Unavailable
        }
    };
    CommandError {
        kind,
        message: e.to_string(),
        platform_code: Some(e.code().into()),
        retry_after_ms: None,
    }
}

/// The delivery task: backlog first, then live messages, each exactly once and in order.
struct Feed {
    hub: Hub,
    connection: ConnectionId,
    user: String,
    intake: Intake,
    /// The highest sequence delivered so far.
    delivered: u64,
}

impl Feed {
    async fn run(mut self, mut live: mpsc::Receiver<Arc<StoredMessage>>) {
        if self.catch_up().await.is_err() {
            return;
        }
        while let Some(message) = live.recv().await {
            // Live messages committed before the backlog query ended were delivered from it.
            if message.seq <= self.delivered {
                continue;
            }
            if self.deliver(&message).await.is_err() {
                return;
            }
        }
        tracing::info!(connection = %self.connection, "hub closed; the adapter's feed ends");
    }

    async fn catch_up(&mut self) -> Result<(), IntakeError> {
        loop {
            let page = match self
                .hub
                .store()
                .visible_after(&self.user, self.delivered, BACKLOG_PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(connection = %self.connection, error = %e, "hub backlog read failed; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            if page.is_empty() {
                return Ok(());
            }
            for message in &page {
                self.deliver(message).await?;
            }
        }
    }

    /// Delivers one message; retries while the engine's store fails, gives up when the
    /// engine is shutting down.
    async fn deliver(&mut self, message: &StoredMessage) -> Result<(), IntakeError> {
        loop {
            let envelope = Envelope {
                id: EventId(format!("msg:{}", message.id)),
                connection: self.connection.clone(),
                time_ms: message.time_ms,
                backlog: false,
                from_self: message.sender == self.user,
                event: Event::Message(message.view_for(&self.user)),
                raw: serde_json::Value::Null,
            };
            match self
                .intake
                .deliver(envelope, Some(message.seq.to_string()))
                .await
            {
                Ok(_) => {
                    self.delivered = message.seq;
                    return Ok(());
                }
                Err(IntakeError::Closed) => return Err(IntakeError::Closed),
                Err(IntakeError::Store(e)) => {
                    tracing::error!(connection = %self.connection, error = %e, "engine store refused a hub message; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }
}
