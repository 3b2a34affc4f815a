//! What every OneBot WebSocket connection does with the frames it reads, whichever side
//! dialled: answers go to the waiting calls, events are delivered in order, heartbeats keep
//! the connection alive, and a malformed frame is logged and skipped.

use crate::config::Settings;
use crate::events::{self, Parsed};
use crate::rpc::Rpc;
use parley_engine::adapter::Intake;
use parley_engine::model::{ConnectionId, ConnectionState, Envelope, Event, EventId};
use parley_vendor::webhook::IntakeSlot;
use parley_vendor::Clock;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Events read but not yet durable, per connection. Answers are read on while these wait,
/// so a slow inbox does not time out the actions of a Universal connection.
const EVENT_QUEUE: usize = 256;

/// What the connections of one account share.
pub struct Shared {
    pub settings: Settings,
    pub connection: ConnectionId,
    pub intake: IntakeSlot,
    pub rpc: Rpc,
    /// True once the adapter is stopped: connections close and are not made again.
    pub stopped: watch::Sender<bool>,
    pub clock: Clock,
    sessions: AtomicU64,
}

impl Shared {
    pub fn new(settings: Settings, clock: Clock) -> Self {
        Self {
            connection: ConnectionId::new(settings.config.id.as_str()),
            settings,
            intake: IntakeSlot::default(),
            rpc: Rpc::default(),
            stopped: watch::channel(true).0,
            clock,
            sessions: AtomicU64::new(0),
        }
    }

    pub fn self_id(&self) -> u64 {
        self.settings.config.self_id
    }
}

pub struct Session {
    shared: Arc<Shared>,
    id: u64,
    role: &'static str,
    events: mpsc::Sender<Envelope>,
    delivery: JoinHandle<()>,
    /// How long the connection may stay silent: two heartbeat intervals, once one is known.
    silence: Option<Duration>,
    last_heard: Instant,
}

impl Session {
    pub fn open(shared: Arc<Shared>, intake: Intake, role: &'static str) -> Session {
        let id = shared.sessions.fetch_add(1, Ordering::Relaxed);
        let (events, mut rx) = mpsc::channel::<Envelope>(EVENT_QUEUE);
        let connection = shared.connection.clone();
        let delivery = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(EVENT_QUEUE);
            // Frames read while the last batch was being stored go in one commit.
            while rx.recv_many(&mut batch, EVENT_QUEUE).await > 0 {
                let batch = std::mem::take(&mut batch);
                let (first, events) = (batch[0].id.clone(), batch.len());
                if let Err(e) = intake.deliver_batch(batch, None).await {
                    tracing::error!(%connection, %first, events, error = %e, "OneBot events not accepted");
                }
            }
        });
        tracing::info!(connection = %shared.connection, self_id = shared.self_id(), role, "OneBot connection up");
        Session {
            shared,
            id,
            role,
            events,
            delivery,
            silence: None,
            last_heard: Instant::now(),
        }
    }

    /// Any frame (pings included) shows the connection is alive.
    pub fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// When the connection counts as dead if nothing more is heard.
    pub fn dead_at(&self) -> Option<Instant> {
        self.silence.map(|s| self.last_heard + s)
    }

    pub async fn on_text(&mut self, text: &str) {
        self.heard();
        let frame: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return self.malformed(format!("not JSON: {e}")),
        };
        if frame.get("post_type").is_none() {
            if frame.get("echo").is_some() || frame.get("retcode").is_some() {
                if !self.shared.rpc.answer(&frame) {
                    tracing::debug!(connection = %self.shared.connection, echo = %frame["echo"], "answer to no waiting call (timed out?)");
                }
                return;
            }
            return self.malformed("neither an event (`post_type`) nor an answer (`echo`)".into());
        }
        match events::parse(frame, &self.shared.connection, self.shared.self_id()) {
            Ok(Parsed::Event(envelope)) => {
                // Fails only once delivery stopped, when the connection is closing anyway.
                let _ = self.events.send(*envelope).await;
            }
            Ok(Parsed::Heartbeat { interval_ms }) => {
                self.silence = (interval_ms > 0).then(|| Duration::from_millis(interval_ms * 2));
            }
            Ok(Parsed::Ignored(what)) => {
                tracing::debug!(connection = %self.shared.connection, what, "OneBot event not mapped")
            }
            Err(reason) => self.malformed(format!("bad event: {reason}")),
        }
    }

    pub fn malformed(&self, reason: String) {
        tracing::warn!(connection = %self.shared.connection, role = self.role, reason, "malformed OneBot frame skipped");
    }

    /// Delivers what was read, then a `lost` connection event unless Parley is stopping.
    pub async fn close(self, reason: &str) {
        tracing::info!(connection = %self.shared.connection, role = self.role, reason, "OneBot connection down");
        if !*self.shared.stopped.borrow() {
            let now = self.shared.clock.unix_ms();
            let lost = Envelope {
                id: EventId::new(format!("lost:{now}:{}", self.id)),
                connection: self.shared.connection.clone(),
                time_ms: now,
                backlog: false,
                from_self: false,
                event: Event::Connection(ConnectionState::Lost {
                    reason: reason.to_string(),
                }),
                raw: Value::Null,
            };
            let _ = self.events.send(lost).await;
        }
        drop(self.events);
        let _ = self.delivery.await;
    }
}

/// Resolves at `at`, or never.
pub async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves once the adapter is stopped.
pub async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
