//! How fast the store takes inbound events and their completions, with and without group
//! commit, and how many events per second the whole engine handles with a trivial bot.
//!
//! Run: `cargo bench --bench store_throughput`. Figures are compared as ratios within one
//! run, since the machines are shared and noisy.

mod common;

use common::Sink;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::store::{Completion, Store};
use parley_engine::{Engine, EngineConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// The allocator `parley` runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn event(id: String, conversation: usize) -> Envelope {
    Envelope {
        id: EventId(id.clone()),
        connection: "bench".into(),
        time_ms: 0,
        backlog: false,
        from_self: false,
        event: Event::Message(Message {
            id: MessageRef::new(id),
            conversation: ConversationId::direct(format!("user{conversation}")),
            sender: format!("user{conversation}").as_str().into(),
            content: Content::text("hello there, I need help with my order"),
            reply_to: None,
            time_ms: 0,
            extra: Value::Null,
        }),
        raw: Value::Null,
    }
}

fn send(key: String, conversation: usize) -> OutboundCommand {
    OutboundCommand {
        connection: "bench".into(),
        idempotency_key: key,
        command: Command::Send {
            to: ConversationId::direct(format!("user{conversation}")),
            content: Content::text("echo"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        },
    }
}

/// One event's store work as a conversation actor does it: accept, then complete with a
/// state change and one command.
async fn one_event(store: &Store, id: String, conversation: usize) {
    let conn = ConnectionId::from("bench");
    let seq = store
        .accept_inbound(&conn, &[event(id.clone(), conversation)], None)
        .await
        .unwrap()[0];
    store
        .complete(Completion {
            connection: conn,
            conversation: Some(ConversationId::direct(format!("user{conversation}"))),
            inbox_seq: seq,
            state: vec![("echo".into(), Some(json!({"count": 1})))],
            commands: vec![send(format!("{id}#0"), conversation).into()],
            jobs: vec![],
            schedules: vec![],
        })
        .await
        .unwrap();
}

async fn sequential(n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("b.db")).await.unwrap();
    let start = Instant::now();
    for i in 0..n {
        one_event(&store, format!("s{i}"), i % 100).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    rate
}

async fn concurrent(conversations: usize, per_conversation: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("b.db")).await.unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..conversations)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_conversation {
                    one_event(&store, format!("c{c}-{i}"), c).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = (conversations * per_conversation) as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    rate
}

/// Concurrent deliveries into the engine's intake.
const PRODUCERS: usize = 64;

struct Echo;
impl EventHandler for Echo {
    /// Like the shipped echo bot, it has no `on_command_result`: the engine then reports no
    /// send's result back to it as an event.
    fn handles(&self, handler: &str) -> bool {
        handler != "on_command_result"
    }

    fn handle(&self, envelope: Arc<Envelope>, mut state: BotStates) -> BoxFuture<'static, Handled> {
        if !matches!(envelope.event, Event::Message(_)) {
            return async move { Handled::new(state, vec![]) }.boxed();
        }
        let n = state.get("echo").and_then(|v| v["n"].as_u64()).unwrap_or(0);
        state.insert("echo".into(), json!({"n": n + 1}));
        let command = Command::Send {
            to: envelope.route(),
            content: Content::text("echo"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        };
        async move { Handled::new(state, vec![command]) }.boxed()
    }
}

async fn whole_engine(conversations: usize, per_conversation: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("b.db")).await.unwrap();
    let (sent_tx, mut sent) = watch::channel(0usize);
    let conn = ConnectionId::from("bench");
    let engine = Engine::start(
        EngineConfig::default(),
        store,
        Arc::new(Echo),
        vec![(conn.clone(), Arc::new(Sink(sent_tx)))],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn).unwrap();
    let total = conversations * per_conversation;
    let start = Instant::now();
    // As many deliveries in flight as a webhook endpoint under load has requests.
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let intake = intake.clone();
            tokio::spawn(async move {
                for i in (p..total).step_by(PRODUCERS) {
                    intake
                        .deliver(event(format!("e{i}"), i % conversations), None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let accepted = total as f64 / start.elapsed().as_secs_f64();
    sent.wait_for(|n| *n >= total).await.unwrap();
    let handled = total as f64 / start.elapsed().as_secs_f64();
    drop(intake);
    engine.shutdown().await;
    (accepted, handled)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 1 } else { 5 };
    actix_rt::System::new().block_on(async move {
        let seq = sequential(1_000 * scale).await;
        let conc = concurrent(100, 10 * scale).await;
        println!("store, one conversation at a time : {seq:>9.0} events/s (accept + complete, 2 commits each)");
        println!("store, 100 conversations at once  : {conc:>9.0} events/s (group commit)");
        println!("group commit speed-up             : {:>9.1}x", conc / seq);
        let (accepted, handled) = whole_engine(1_000, 20 * scale).await;
        println!("engine, 1000 conversations, {PRODUCERS} deliveries in flight: {accepted:>9.0} events/s accepted, {handled:>9.0} events/s handled and replied");
    });
}
