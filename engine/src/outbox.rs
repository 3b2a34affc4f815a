//! The outbox worker of one connection: sends stored commands through the adapter in
//! order, records each answer, and retries transient failures with backoff.
//!
//! Bounded: conversation actors call [`OutboxHandle::reserve`] before adding commands and
//! wait while the connection has `capacity` unsent commands, so a platform that holds the
//! outbox back slows the bots feeding it instead of growing the backlog without end.

use crate::adapter::Adapter;
use crate::adapter::WeakIntake;
use crate::model::{
    Command, CommandResult, ConnectionId, ConversationId, Envelope, Event, EventId,
};
use crate::monitor::Counters;
use crate::ratelimit::SendGate;
use crate::store::{OutboxEntry, Store};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How the outbox retries transient failures.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per command before its last transient failure is recorded as final.
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn backoff(&self, attempt: u32, retry_after_ms: Option<u64>) -> Duration {
        let exp = self.first_backoff.saturating_mul(1 << attempt.min(16));
        let wanted = retry_after_ms
            .map(Duration::from_millis)
            .unwrap_or_default();
        exp.max(wanted).min(self.max_backoff)
    }
}

struct Shared {
    wake: Notify,
    space: Notify,
    pending: AtomicUsize,
    capacity: usize,
    closing: AtomicBool,
}

/// The handle actors and the engine hold to one connection's outbox worker.
#[derive(Clone)]
pub struct OutboxHandle {
    shared: Arc<Shared>,
}

impl OutboxHandle {
    pub(crate) fn new(capacity: usize, pending: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                wake: Notify::new(),
                space: Notify::new(),
                pending: AtomicUsize::new(pending),
                capacity: capacity.max(1),
                closing: AtomicBool::new(false),
            }),
        }
    }

    /// Waits until `n` more commands fit, then counts them as pending. A batch larger than
    /// the capacity is let through once the outbox is empty.
    pub async fn reserve(&self, n: usize) {
        if n == 0 {
            return;
        }
        let s = &self.shared;
        loop {
            let space = s.space.notified();
            let pending = s.pending.load(Ordering::Acquire);
            if (pending + n <= s.capacity || pending == 0)
                && s.pending
                    .compare_exchange(pending, pending + n, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return;
            }
            space.await;
        }
    }

    /// Tells the worker new commands are in the store.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Unsent commands as the worker last counted them.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::Acquire)
    }

    /// Waits until no interactive command is waiting: broadcasts call this before each
    /// send so that a reply is delayed by at most the one broadcast send in flight.
    pub async fn wait_empty(&self) {
        loop {
            let space = self.shared.space.notified();
            if self.pending() == 0 {
                return;
            }
            space.await;
        }
    }

    /// One command got its final answer.
    fn finished_one(&self) {
        let _ = self
            .shared
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            });
        self.shared.space.notify_waiters();
    }

    fn set_pending(&self, n: usize) {
        self.shared.pending.store(n, Ordering::Release);
        self.shared.space.notify_waiters();
    }

    /// Asks the worker to send what is pending and then stop.
    pub(crate) fn close(&self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }

    fn closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }
}

/// Commands read from the store ahead of sending, at most.
const READ_AHEAD: usize = 1024;

/// The state of one connection's sending: which lanes have a send in flight and what
/// waits behind them.
struct Lanes {
    busy: HashSet<String>,
    waiting: HashMap<String, VecDeque<OutboxEntry>>,
    queued: usize,
}

/// Runs until closed and empty. Commands for different conversations go out concurrently;
/// within one conversation (or group) they keep their order: a platform slow to answer
/// for one conversation does not hold back the others.
pub(crate) async fn run(sender: Sender) {
    let (connection, store, handle) = (
        sender.connection.clone(),
        sender.store.clone(),
        sender.handle.clone(),
    );
    let sender = Arc::new(sender);
    let mut lanes = Lanes {
        busy: HashSet::new(),
        waiting: HashMap::new(),
        queued: 0,
    };
    let mut in_flight: JoinSet<(String, bool)> = JoinSet::new();
    // Commands up to this id have been taken from the store.
    let mut after = 0i64;
    // The store may hold commands not read yet: at start, after a wake, and after a read
    // that filled the read-ahead. Reading only then spares a query per finished send.
    let mut unread = true;
    let mut stopping = false;
    loop {
        if !stopping && unread && lanes.queued < READ_AHEAD {
            let limit = READ_AHEAD - lanes.queued;
            match store
                .pending_commands(&connection, after, limit as i64)
                .await
            {
                Ok(batch) => {
                    unread = batch.len() == limit;
                    for entry in batch {
                        after = after.max(entry.id);
                        lanes
                            .waiting
                            .entry(order_key(&entry.command.command))
                            .or_default()
                            .push_back(entry);
                        lanes.queued += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(connection = %connection, error = %e, "cannot read the outbox")
                }
            }
        }
        // Start the head of every idle lane.
        let ready: Vec<String> = lanes
            .waiting
            .keys()
            .filter(|k| !lanes.busy.contains(*k))
            .cloned()
            .collect();
        for key in ready {
            let Some(entry) = lanes.waiting.get_mut(&key).and_then(VecDeque::pop_front) else {
                continue;
            };
            if lanes.waiting.get(&key).is_some_and(VecDeque::is_empty) {
                lanes.waiting.remove(&key);
            }
            lanes.busy.insert(key.clone());
            let sender = sender.clone();
            in_flight.spawn(async move { (key, sender.send_one(&entry).await) });
        }
        if in_flight.is_empty() {
            if let Ok(n) = store.pending_count(&connection).await {
                handle.set_pending(n);
            }
            if handle.closing() || stopping {
                return;
            }
        }
        let wake = handle.shared.wake.notified();
        tokio::select! {
            done = in_flight.join_next(), if !in_flight.is_empty() => {
                match done {
                    Some(Ok((key, sent))) => {
                        lanes.busy.remove(&key);
                        lanes.queued -= 1;
                        handle.finished_one();
                        // Shutting down in the middle of retries: the command stays pending.
                        stopping |= !sent;
                    }
                    Some(Err(e)) => {
                        // Only a panic in the adapter gets here; its command stays pending
                        // and is sent again at the next start.
                        tracing::error!(connection = %connection, error = %e, "an outbox send failed unexpectedly");
                        stopping = true;
                    }
                    None => {}
                }
            }
            _ = wake, if in_flight.is_empty() || lanes.queued < READ_AHEAD => unread = true,
        }
    }
}

/// Hands a bot's command result back to the conversation it came from, as an event
/// (`on_command_result`), without holding up the outbox: the intake may be waiting for
/// that very conversation, which may be waiting for room in this outbox.
fn report(results: &WeakIntake, entry: &OutboxEntry, result: CommandResult) {
    let (Some(conversation), Some(intake)) = (entry.origin.clone(), results.upgrade()) else {
        return;
    };
    let key = entry.command.idempotency_key.clone();
    let envelope = Envelope {
        id: EventId(format!("result:{key}")),
        connection: entry.command.connection.clone(),
        time_ms: crate::store::now_ms(),
        backlog: false,
        from_self: false,
        event: Event::CommandResult {
            conversation,
            key,
            command: entry.command.command.name().to_string(),
            result,
            bot: entry.origin_bot.clone(),
        },
        raw: serde_json::Value::Null,
    };
    tokio::spawn(async move {
        if let Err(e) = intake.deliver(envelope, None).await {
            tracing::debug!(error = %e, "a command result was not reported (shutting down)");
        }
    });
}

/// Commands with the same key are sent in order; different keys may overtake each other.
pub fn order_key(command: &Command) -> String {
    match command {
        Command::Send { to, .. } | Command::Forward { to, .. } => to.to_string(),
        Command::Edit { conversation, .. }
        | Command::Recall { conversation, .. }
        | Command::MarkRead { conversation, .. }
        | Command::FetchHistory { conversation, .. } => conversation.to_string(),
        Command::Typing { to, .. } => ConversationId::direct(to.as_str()).to_string(),
        Command::Invite { group, .. }
        | Command::Kick { group, .. }
        | Command::Mute { group, .. }
        | Command::Unmute { group, .. }
        | Command::MuteAll { group }
        | Command::UnmuteAll { group }
        | Command::SetAdmin { group, .. }
        | Command::TransferOwner { group, .. }
        | Command::SetGroupInfo { group, .. }
        | Command::SetAnnouncement { group, .. }
        | Command::JoinGroup { group, .. }
        | Command::LeaveGroup { group }
        | Command::Dismiss { group } => ConversationId::group(group.as_str()).to_string(),
        // Friend, request and account-wide commands share one lane.
        _ => String::new(),
    }
}

/// What sending one command needs; shared by the lanes of one connection.
pub(crate) struct Sender {
    pub connection: ConnectionId,
    pub store: Store,
    pub adapter: Arc<dyn Adapter>,
    pub retry: RetryPolicy,
    pub handle: OutboxHandle,
    pub gate: Arc<SendGate>,
    /// Where command results go back to the bots.
    pub results: WeakIntake,
    /// Asked whether any bot handles command results before one is reported: each report
    /// is an event to store and handle.
    pub handler: Arc<dyn crate::handler::EventHandler>,
    pub counters: Arc<Counters>,
}

impl Sender {
    /// Sends one command until it gets a final answer. Returns false if the outbox is
    /// closing while the command still fails transiently.
    async fn send_one(&self, entry: &OutboxEntry) -> bool {
        let connection = &self.connection;
        let mut attempt = entry.attempts.max(0) as u32;
        loop {
            self.gate.acquire(entry.command.command.name()).await;
            let result = self.adapter.execute(entry.command.clone()).await;
            attempt += 1;
            let transient = match &result {
                CommandResult::Failed(e)
                    if e.kind.is_transient() && attempt < self.retry.max_attempts =>
                {
                    Some(e.retry_after_ms)
                }
                _ => None,
            };
            let Some(retry_after) = transient else {
                if matches!(result, CommandResult::Ok(_)) {
                    self.counters.event_out();
                }
                if let CommandResult::Failed(e) = &result {
                    tracing::warn!(connection = %connection, command = entry.command.command.name(), key = %entry.command.idempotency_key, error = %e, "command failed");
                }
                if let Err(e) = self.store.finish_command(entry.id, &result).await {
                    tracing::error!(connection = %connection, error = %e, "cannot record a command's result; it may be sent again (same idempotency key)");
                }
                if self.handler.handles("on_command_result") {
                    report(&self.results, entry, result);
                }
                return true;
            };
            if let Err(e) = self.store.count_attempt(entry.id, &result).await {
                tracing::error!(connection = %connection, error = %e, "cannot count a failed attempt");
            }
            if self.handle.closing() {
                return false;
            }
            let wait = self.retry.backoff(attempt - 1, retry_after);
            tracing::info!(connection = %connection, command = entry.command.command.name(), attempt, wait_ms = wait.as_millis() as u64, "transient failure; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_of_one_conversation_share_a_lane() {
        use crate::model::{Content, SendOptions};
        let send = |to: &str| Command::Send {
            to: to.parse().unwrap(),
            content: Content::text("x"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        };
        assert_eq!(
            order_key(&send("alice")),
            order_key(&Command::Typing {
                to: "alice".into(),
                typing: true
            })
        );
        assert_eq!(
            order_key(&send("group:g")),
            order_key(&Command::MuteAll { group: "g".into() })
        );
        assert_ne!(order_key(&send("alice")), order_key(&send("bob")));
    }

    #[test]
    fn backoff_grows_and_respects_retry_after_and_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        };
        assert_eq!(p.backoff(0, None), Duration::from_millis(100));
        assert_eq!(p.backoff(2, None), Duration::from_millis(400));
        assert_eq!(p.backoff(0, Some(1500)), Duration::from_millis(1500));
        assert_eq!(p.backoff(10, None), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn reserve_waits_for_space() {
        let h = OutboxHandle::new(2, 0);
        h.reserve(2).await;
        let waiter = {
            let h = h.clone();
            tokio::spawn(async move { h.reserve(1).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        h.set_pending(1);
        waiter.await.unwrap();
        assert_eq!(h.pending(), 2);
    }
}
