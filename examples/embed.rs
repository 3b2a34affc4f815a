//! Embedding the engine from Rust, with a handler written in Rust instead of Rhai and a
//! tiny adapter of your own: the shape every platform adapter has.
//!
//! Run: `cargo run --example embed`

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::adapter::{Adapter, AdapterError, Intake};
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Counts the messages of each conversation and answers with the count.
struct Counter;

impl EventHandler for Counter {
    fn handle(&self, envelope: Arc<Envelope>, mut state: BotStates) -> BoxFuture<'static, Handled> {
        let mut commands = Vec::new();
        if let Event::Message(m) = &envelope.event {
            let n = state
                .get("counter")
                .and_then(|v| v["n"].as_u64())
                .unwrap_or(0)
                + 1;
            state.insert("counter".into(), json!({ "n": n }));
            commands.push(Command::Send {
                to: m.conversation.clone(),
                content: Content::text(format!("message #{n} here: {}", m.content.plain_text())),
                reply_to: None,
                options: SendOptions::default(),
                as_user: None,
            });
        }
        async move { Handled::new(state, commands) }.boxed()
    }
}

/// A platform that prints what it is asked to send.
struct Terminal(mpsc::UnboundedSender<String>);

impl Adapter for Terminal {
    fn kind(&self) -> &'static str {
        "terminal"
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
        if let Command::Send { to, content, .. } = &command.command {
            let _ = self.0.send(format!("-> {to}: {}", content.plain_text()));
        }
        let id = MessageRef::new(command.idempotency_key);
        async move { CommandResult::Ok(CommandOutput::Sent { message: id }) }.boxed()
    }
}

fn message(id: &str, from: &str, text: &str) -> Envelope {
    Envelope {
        id: EventId::from(id),
        connection: "terminal".into(),
        time_ms: 0,
        backlog: false,
        from_self: false,
        event: Event::Message(Message {
            id: MessageRef::new(id),
            conversation: ConversationId::direct(from),
            sender: from.into(),
            content: Content::text(text),
            reply_to: None,
            time_ms: 0,
            extra: Value::Null,
        }),
        raw: Value::Null,
    }
}

fn main() {
    actix_rt::System::new().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("parley.db")).await.unwrap();
        let (out_tx, mut out) = mpsc::unbounded_channel();
        let conn = ConnectionId::from("terminal");
        let engine = Engine::start(
            EngineConfig::default(),
            store,
            Arc::new(Counter),
            vec![(conn.clone(), Arc::new(Terminal(out_tx)))],
        )
        .await
        .unwrap();
        let intake = engine.intake(&conn).unwrap();
        for (i, (from, text)) in [("alice", "hi"), ("bob", "hello"), ("alice", "anyone?")]
            .into_iter()
            .enumerate()
        {
            println!("<- {from}: {text}");
            intake
                .deliver(message(&format!("m{i}"), from, text), None)
                .await
                .unwrap();
        }
        for _ in 0..3 {
            println!("{}", out.recv().await.unwrap());
        }
        drop(intake);
        engine.shutdown().await;
    });
}
