//! Who is online: each user's WebSocket sessions and in-process devices, and the fan-out
//! of committed messages and events to them.

use crate::events::StoredEvent;
use crate::message::{StoredMessage, Target};
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
    Socket { tx: mpsc::Sender<Arc<str>> },
    /// An in-process device (a bot's adapter). Never dropped: delivery waits for space,
    /// which slows senders down to the bot's pace (backpressure) instead of losing messages.
    Device { tx: mpsc::Sender<Pushed> },
}

/// Why the hub ends a session on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// The client did not read its frames fast enough (its queue overflowed).
    TooSlow,
    /// Another login replaced this one: `by` is the new session's device; `same_device`
    /// says whether it named the same device (a reconnect) rather than being another
    /// device under the "single" device policy.
    Replaced { by: String, same_device: bool },
}

/// Tells a session that the hub ended it, and why. Set once; waiting after it was set
/// returns at once.
#[derive(Default)]
pub(crate) struct Ending {
    reason: Mutex<Option<EndReason>>,
    notify: Notify,
}

impl Ending {
    fn end(&self, reason: EndReason) {
        let mut current = self.reason.lock().expect("ending lock");
        if current.is_none() {
            *current = Some(reason);
            self.notify.notify_one();
        }
    }

    /// Why the session was ended, if it was.
    pub fn reason(&self) -> Option<EndReason> {
        self.reason.lock().expect("ending lock").clone()
    }

    /// Resolves with the reason once the session is ended.
    pub async fn wait(&self) -> EndReason {
        loop {
            let notified = self.notify.notified();
            if let Some(reason) = self.reason.lock().expect("ending lock").clone() {
                return reason;
            }
            notified.await;
        }
    }
}

/// One connected session of a user: a device.
struct Entry {
    id: SessionId,
    device: String,
    sink: Sink,
    ending: Arc<Ending>,
    /// False once the session was told to end for being slow: nothing more is queued.
    open: bool,
}

/// What a WebSocket session reads: its frames, and the signal that the hub ended it.
pub(crate) struct SocketFeed {
    pub id: SessionId,
    pub device: String,
    pub frames: mpsc::Receiver<Arc<str>>,
    pub ending: Arc<Ending>,
}

/// What an in-process device reads.
pub(crate) struct DeviceFeed {
    pub id: SessionId,
    pub items: mpsc::Receiver<Pushed>,
    pub ending: Arc<Ending>,
}

/// What connecting a session did.
pub(crate) struct Connected<F> {
    pub feed: F,
    /// This is the user's only session now: the user came online.
    pub first: bool,
}

#[derive(Default)]
pub(crate) struct Registry {
    next_id: AtomicU64,
    users: Mutex<HashMap<String, Vec<Entry>>>,
}

impl Registry {
    /// Adds a session of `user` on `device`. A session on the same device is replaced;
    /// with `single`, every other session of the user is.
    fn add(
        &self,
        user: &str,
        device: Option<&str>,
        sink: Sink,
        single: bool,
    ) -> Connected<(SessionId, String, Arc<Ending>)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let device = device
            .map(str::to_string)
            .unwrap_or_else(|| format!("ws-{id}"));
        let ending = Arc::new(Ending::default());
        let mut users = self.users.lock().expect("registry lock");
        let entries = users.entry(user.to_string()).or_default();
        let first = entries.is_empty();
        entries.retain(|e| {
            let same_device = e.device == device;
            if !(same_device || single) {
                return true;
            }
            tracing::info!(
                user,
                device = e.device,
                by = device,
                "hub session replaced by a new login"
            );
            e.ending.end(EndReason::Replaced {
                by: device.clone(),
                same_device,
            });
            false
        });
        entries.push(Entry {
            id,
            device: device.clone(),
            sink,
            ending: ending.clone(),
            open: true,
        });
        Connected {
            feed: (id, device, ending),
            first,
        }
    }

    /// Connects a WebSocket session of `user`, named `device` (generated when None); see
    /// [`Registry::add`] for the sessions it replaces.
    pub fn connect_socket(
        &self,
        user: &str,
        device: Option<&str>,
        single: bool,
    ) -> Connected<SocketFeed> {
        let (tx, frames) = mpsc::channel(SOCKET_QUEUE);
        let c = self.add(user, device, Sink::Socket { tx }, single);
        let (id, device, ending) = c.feed;
        Connected {
            feed: SocketFeed {
                id,
                device,
                frames,
                ending,
            },
            first: c.first,
        }
    }

    /// Connects an in-process device of `user` (see [`Registry::add`]).
    pub fn connect_device(&self, user: &str, device: &str, single: bool) -> Connected<DeviceFeed> {
        let (tx, items) = mpsc::channel(DEVICE_QUEUE);
        let c = self.add(user, Some(device), Sink::Device { tx }, single);
        let (id, _, ending) = c.feed;
        Connected {
            feed: DeviceFeed { id, items, ending },
            first: c.first,
        }
    }

    #[cfg(test)]
    pub fn subscribe_socket(&self, user: &str) -> SocketFeed {
        self.connect_socket(user, None, false).feed
    }

    /// Removes a session. Returns its device and whether it was the user's last session
    /// (the user went offline); None when it was no longer connected (replaced, cleared).
    pub fn disconnect(&self, user: &str, id: SessionId) -> Option<(String, bool)> {
        let mut users = self.users.lock().expect("registry lock");
        let entries = users.get_mut(user)?;
        let at = entries.iter().position(|e| e.id == id)?;
        let entry = entries.remove(at);
        let last = entries.is_empty();
        if last {
            users.remove(user);
        }
        Some((entry.device, last))
    }

    /// The devices `user` is connected on (none: offline).
    pub fn devices(&self, user: &str) -> Vec<String> {
        self.users
            .lock()
            .expect("registry lock")
            .get(user)
            .map(|entries| entries.iter().map(|e| e.device.clone()).collect())
            .unwrap_or_default()
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
        // Every member sees a group message alike: render its frame once, not per member.
        let shared = match message.target {
            Target::Group { .. } => Some(protocol::message_frame(message.view_for(""))),
            Target::Direct { .. } => None,
        };
        for user in audience {
            devices.extend(self.fan_out(
                user,
                origin,
                || match &shared {
                    Some(frame) => frame.clone(),
                    None => protocol::message_frame(message.view_for(user)),
                },
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
    ) -> Vec<(mpsc::Sender<Pushed>, Pushed)> {
        let mut devices = Vec::new();
        let mut users = self.users.lock().expect("registry lock");
        let Some(entries) = users.get_mut(user) else {
            return devices;
        };
        let mut render = Some(render);
        let mut frame: Option<Arc<str>> = None;
        for entry in entries.iter_mut() {
            if Some(entry.id) == origin || !entry.open {
                continue;
            }
            match &entry.sink {
                Sink::Socket { tx } => {
                    let frame = frame
                        .get_or_insert_with(|| (render.take().expect("rendered once"))())
                        .clone();
                    match tx.try_send(frame) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            tracing::warn!(
                                user,
                                session = entry.id,
                                "hub session too slow: its queue is full; closing it"
                            );
                            entry.open = false;
                            entry.ending.end(EndReason::TooSlow);
                        }
                        // The session is ending; it disconnects itself.
                        Err(TrySendError::Closed(_)) => entry.open = false,
                    }
                }
                Sink::Device { tx } => devices.push((tx.clone(), pushed.clone())),
            }
        }
        devices
    }

    async fn feed_devices(&self, devices: Vec<(mpsc::Sender<Pushed>, Pushed)>) {
        for (tx, pushed) in devices {
            // A device whose feed ended is disconnected by its adapter.
            let _ = tx.send(pushed).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let mut device = registry.connect_device("bob", "bot", false).feed.items;

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
        assert_eq!(slow.ending.wait().await, EndReason::TooSlow);
        assert_eq!(seq_of(device.recv().await.unwrap()), 999);
        let open = registry.users.lock().unwrap()["bob"]
            .iter()
            .filter(|e| e.open)
            .count();
        assert_eq!(open, 1, "only the device is still fed");
        assert!(registry
            .disconnect("bob", slow.id)
            .is_some_and(|(_, last)| !last));
    }

    #[tokio::test]
    async fn a_full_device_makes_the_sender_wait() {
        let registry = Arc::new(Registry::default());
        let mut device = registry.connect_device("bob", "bot", false).feed.items;
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

    #[test]
    fn presence_and_the_device_policy() {
        let registry = Registry::default();
        let phone = registry.connect_socket("alice", Some("phone"), false);
        assert!(phone.first);
        let web = registry.connect_socket("alice", None, false);
        assert!(!web.first);
        assert!(web.feed.device.starts_with("ws-"));
        // The same device logging in again replaces its old session.
        let phone2 = registry.connect_socket("alice", Some("phone"), false);
        assert!(!phone2.first);
        assert_eq!(
            phone.feed.ending.reason.lock().unwrap().clone(),
            Some(EndReason::Replaced {
                by: "phone".into(),
                same_device: true
            })
        );
        assert_eq!(registry.disconnect("alice", phone.feed.id), None);
        assert_eq!(registry.devices("alice").len(), 2);
        // Under "single", a login replaces every other session.
        let bot = registry.connect_device("alice", "engine:hub", true);
        assert!(!bot.first);
        for ended in [&web.feed.ending, &phone2.feed.ending] {
            assert_eq!(
                ended.reason.lock().unwrap().clone(),
                Some(EndReason::Replaced {
                    by: "engine:hub".into(),
                    same_device: false
                })
            );
        }
        assert_eq!(registry.devices("alice"), vec!["engine:hub".to_string()]);
        assert_eq!(
            registry.disconnect("alice", bot.feed.id),
            Some(("engine:hub".into(), true))
        );
        assert!(registry.devices("alice").is_empty());
    }
}
