//! Test doubles for the engine tests: a handler driven by a closure and an adapter that
//! records what it is asked to do.

#![allow(dead_code)]

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::adapter::{Adapter, AdapterError, Intake};
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub type HandleFn = dyn Fn(Arc<Envelope>, BotStates) -> BoxFuture<'static, Handled> + Send + Sync;

pub struct FnHandler(pub Box<HandleFn>);

impl EventHandler for FnHandler {
    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        (self.0)(envelope, state)
    }
}

/// An adapter whose inbound side is the engine's intake (tests deliver directly) and whose
/// outbound side records commands and answers with scripted results.
pub struct RecordingAdapter {
    pub executed: Mutex<Vec<OutboundCommand>>,
    /// Results to return first, in order; afterwards every command succeeds.
    pub scripted: Mutex<Vec<CommandResult>>,
    pub count: watch::Sender<usize>,
}

impl RecordingAdapter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            executed: Mutex::new(Vec::new()),
            scripted: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        })
    }

    pub async fn wait_executed(&self, n: usize) {
        self.count.subscribe().wait_for(|c| *c >= n).await.unwrap();
    }
}

impl Adapter for RecordingAdapter {
    fn kind(&self) -> &'static str {
        "recording"
    }
    fn start(
        &self,
        _intake: Intake,
        _cursor: Option<String>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        async { Ok(()) }.boxed()
    }
    fn stop(&self) -> BoxFuture<'static, ()> {
        async {}.boxed()
    }
    fn execute(&self, command: OutboundCommand) -> BoxFuture<'static, CommandResult> {
        let result = {
            let mut scripted = self.scripted.lock().unwrap();
            if scripted.is_empty() {
                CommandResult::Ok(CommandOutput::Sent {
                    message: MessageRef::new(format!("srv-{}", command.idempotency_key)),
                })
            } else {
                scripted.remove(0)
            }
        };
        if matches!(result, CommandResult::Ok(_)) {
            self.executed.lock().unwrap().push(command);
            self.count.send_modify(|c| *c += 1);
        }
        async move { result }.boxed()
    }
}

pub fn text_event(id: &str, conversation: ConversationId, text: &str) -> Envelope {
    Envelope {
        id: EventId::from(id),
        connection: "test".into(),
        time_ms: 0,
        backlog: false,
        from_self: false,
        event: Event::Message(Message {
            id: MessageRef::new(id),
            conversation,
            sender: "alice".into(),
            content: Content::text(text),
            reply_to: None,
            time_ms: 0,
            extra: Value::Null,
        }),
        raw: Value::Null,
    }
}

/// Counts handled events and lets a test await a total.
#[derive(Clone)]
pub struct Counter(pub Arc<watch::Sender<usize>>);

impl Default for Counter {
    fn default() -> Self {
        Counter(Arc::new(watch::channel(0).0))
    }
}

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bump(&self) {
        self.0.send_modify(|c| *c += 1);
    }
    pub async fn wait_for(&self, n: usize) {
        self.0.subscribe().wait_for(|c| *c >= n).await.unwrap();
    }
}
