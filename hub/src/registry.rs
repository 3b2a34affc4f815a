//! Who is online: each user's WebSocket sessions and in-process devices, and the fan-out
//! of committed messages and events to them.

use crate::events::StoredEvent;
use crate::message::StoredMessage;
use crate::protocol;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

pub(crate) type SessionId = u64;

/// Frames a WebSocket session may have waiting before it counts as too slow.
pub(crate) const SOCKET_QUEUE: usize = 256;
/// Items a device may have waiting before senders wait for it.
pub(crate) const DEVICE_QUEUE: usize = 256;

/// What a device (a bot's adapter) is fed.
#[derive(Clone, Debug)]
pub(crate) enum Pushed {
    Message(Arc<StoredMessage>),
    Event(Arc<StoredEvent>),
}

enum Sink {
    /// A WebSocket session, fed frames already rendered for its user. Never waited on:
    /// a full queue means the client does not read, and the session is told to close.
    Socket {
        tx: mpsc::Sender<Arc<str>>,
        kicked: Arc<Notify>,
    },
    /// An in-process device (a bot's adapter). Never dropped: delivery waits for space,
    /// which slows senders down to the bot's pace (backpressure) instead of losing messages.
    Device { tx: mpsc::Sender<Pushed> },
}

/// What a WebSocket session reads: its frames, and a signal that it overflowed.
pub(crate) struct SocketFeed {
    pub id: SessionId,
    pub frames: mpsc::Receiver<Arc<str>>,
    pub kicked: Arc<Notify>,
}

#[derive(Default)]
pub(crate) struct Registry {
    next_id: AtomicU64,
    users: Mutex<HashMap<String, Vec<(SessionId, Sink)>>>,
}

impl Registry {
    fn add(&self, user: &str, sink: Sink) -> SessionId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.users
            .lock()
            .expect("registry lock")
            .entry(user.to_string())
            .or_default()
            .push((id, sink));
        id
    }

    pub fn subscribe_socket(&self, user: &str) -> SocketFeed {
        let (tx, frames) = mpsc::channel(SOCKET_QUEUE);
        let kicked = Arc::new(Notify::new());
        let id = self.add(
            user,
            Sink::Socket {
                tx,
                kicked: kicked.clone(),
            },
        );
        SocketFeed { id, frames, kicked }
    }

    pub fn subscribe_device(&self, user: &str) -> (SessionId, mpsc::Receiver<Pushed>) {
        let (tx, rx) = mpsc::channel(DEVICE_QUEUE);
        (self.add(user, Sink::Device { tx }), rx)
    }

    pub fn unsubscribe(&self, user: &str, id: SessionId) {
        let mut users = self.users.lock().expect("registry lock");
        if let Some(sinks) = users.get_mut(user) {
            sinks.retain(|(sid, _)| *sid != id);
            if sinks.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Drops every session's feed: sockets and devices see their channel end.
    pub fn clear(&self) {
        self.users.lock().expect("registry lock").clear();
    }

    /// Delivers a committed message to every session of `audience` except `origin` (the
    /// session that sent it, which gets its own answer). Calls must not overlap (the hub's
    /// order lock) so that every session receives messages in sequence order.
    pub async fn deliver(
        &self,
        message: &Arc<StoredMessage>,
        audience: &[String],
        origin: Option<SessionId>,
    ) {
        let mut devices = Vec::new();
        for user in audience {
            devices.extend(self.fan_out(
                user,
                origin,
                || protocol::message_frame(message.view_for(user)),
                &Pushed::Message(message.clone()),
            ));
        }
        self.feed_devices(devices).await;
    }

    /// Delivers a committed event to every session and device of its recipient.
    pub async fn deliver_event(&self, event: Arc<StoredEvent>) {
        let devices = self.fan_out(
            &event.user,
            None,
            || protocol::event_frame(&event),
            &Pushed::Event(event.clone()),
        );
        self.feed_devices(devices).await;
    }

    /// Queues a frame on each socket of `user` (but `origin`) and returns its devices.
    fn fan_out(
        &self,
        user: &str,
        origin: Option<SessionId>,
        render: impl FnOnce() -> Arc<str>,
        pushed: &Pushed,
    ) -> Vec<(String, SessionId, mpsc::Sender<Pushed>, Pushed)> {
        let mut devices = Vec::new();
        let mut users = self.users.lock().expect("registry lock");
        let Some(sinks) = users.get_mut(user) else {
            return devices;
        };
        let mut render = Some(render);
        let mut frame: Option<Arc<str>> = None;
        sinks.retain(|(id, sink)| {
            if Some(*id) == origin {
                return true;
            }
            match sink {
                Sink::Socket { tx, kicked } => {
                    let frame = frame
                        .get_or_insert_with(|| (render.take().expect("rendered once"))())
                        .clone();
                    match tx.try_send(frame) {
                        Ok(()) => true,
                        Err(TrySendError::Full(_)) => {
                            tracing::warn!(
                                user,
                                session = id,
                                "hub session too slow: its queue is full; closing it"
                            );
                            kicked.notify_one();
                            false
                        }
                        Err(TrySendError::Closed(_)) => false,
                    }
                }
                Sink::Device { tx } => {
                    devices.push((user.to_string(), *id, tx.clone(), pushed.clone()));
                    true
                }
            }
        });
        if sinks.is_empty() {
            users.remove(user);
        }
        devices
    }

    async fn feed_devices(&self, devices: Vec<(String, SessionId, mpsc::Sender<Pushed>, Pushed)>) {
        for (user, id, tx, pushed) in devices {
            if tx.send(pushed).await.is_err() {
                self.unsubscribe(&user, id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Target;
    use parley_engine::model::Content;

    fn message(seq: u64) -> Arc<StoredMessage> {
        Arc::new(StoredMessage {
            seq,
            id: format!("m{seq}"),
            target: Target::Direct {
                recipient: "bob".into(),
            },
            sender: "alice".into(),
            client_id: format!("c{seq}"),
            content: Content::text("hi"),
            reply_to: None,
            extra: serde_json::Value::Null,
            time_ms: 1,
        })
    }

    fn seq_of(pushed: Pushed) -> u64 {
        match pushed {
            Pushed::Message(m) => m.seq,
            Pushed::Event(e) => e.seq.unwrap_or(0),
        }
    }

    #[tokio::test]
    async fn delivers_to_every_session_but_the_origin_and_kicks_a_full_socket() {
        let registry = Registry::default();
        let audience = vec!["alice".to_string(), "bob".to_string()];
        let mut origin = registry.subscribe_socket("alice");
        let mut other = registry.subscribe_socket("alice");
        let slow = registry.subscribe_socket("bob");
        let (_, mut device) = registry.subscribe_device("bob");

        registry
            .deliver(&message(1), &audience, Some(origin.id))
            .await;
        assert!(origin.frames.try_recv().is_err());
        let frame: serde_json::Value =
            serde_json::from_str(&other.frames.try_recv().unwrap()).unwrap();
        assert_eq!(frame["message"]["conversation"]["id"], "bob");
        assert_eq!(seq_of(device.try_recv().unwrap()), 1);

        // Fill bob's socket; the device keeps being drained and is never dropped.
        for seq in 2..=SOCKET_QUEUE as u64 + 1 {
            registry.deliver(&message(seq), &audience, None).await;
            assert_eq!(seq_of(device.recv().await.unwrap()), seq);
        }
        registry.deliver(&message(999), &audience, None).await;
        slow.kicked.notified().await;
        assert_eq!(seq_of(device.recv().await.unwrap()), 999);
        let left = registry.users.lock().unwrap()["bob"].len();
        assert_eq!(left, 1, "only the device stays registered");
    }

    #[tokio::test]
    async fn a_full_device_makes_the_sender_wait() {
        let registry = Arc::new(Registry::default());
        let (_, mut device) = registry.subscribe_device("bob");
        let audience = vec!["bob".to_string()];
        for seq in 1..=DEVICE_QUEUE as u64 {
            registry.deliver(&message(seq), &audience, None).await;
        }
        let waiting = {
            let registry = registry.clone();
            let audience = audience.clone();
            tokio::spawn(async move { registry.deliver(&message(1000), &audience, None).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "delivery waits for the device");
        assert_eq!(seq_of(device.recv().await.unwrap()), 1);
        waiting.await.unwrap();
        let mut last = 0;
        while let Ok(m) = device.try_recv() {
            last = seq_of(m);
        }
        assert_eq!(last, 1000, "nothing was dropped");
    }
}
