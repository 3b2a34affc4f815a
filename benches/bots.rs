//! A keyword-reply bot in Rhai: the cost of one handler call against a Rust closure doing
//! the same, and events per second through the whole engine (intake to confirmed reply)
//! with 1,000 conversations.
//!
//! Run: `cargo bench --bench bots` (add `-- --quick` for fewer events).

mod common;

use common::Sink;
use parley_bots::{BotOptions, BotRuntime};
use parley_engine::handler::{BotStates, EventHandler};
use parley_engine::model::*;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// The allocator `parley` runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SCRIPT: &str = r#"
fn on_message(ctx, msg) {
    if msg.text.contains("refund") {
        ctx.reply("Refunds take 3 to 5 days.");
    }
}
"#;

fn message(i: usize, conversations: usize) -> Envelope {
    let peer = format!("user{}", i % conversations);
    Envelope {
        id: EventId(format!("e{i}")),
        connection: "bench".into(),
        time_ms: 0,
        backlog: false,
        from_self: false,
        event: Event::Message(Message {
            id: MessageRef::new(format!("m{i}")),
            conversation: ConversationId::direct(peer.clone()),
            sender: peer.as_str().into(),
            content: Content::text("hello, I would like a refund please"),
            reply_to: None,
            time_ms: 0,
            extra: Value::Null,
        }),
        raw: Value::Null,
    }
}

/// The same bot in Rust.
fn rust_keyword_reply(envelope: &Envelope) -> Vec<Command> {
    match &envelope.event {
        Event::Message(m) if m.content.plain_text().contains("refund") => vec![Command::Send {
            to: m.conversation.clone(),
            content: Content::text("Refunds take 3 to 5 days."),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        }],
        _ => vec![],
    }
}

/// Concurrent deliveries into the engine's intake.
const PRODUCERS: usize = 64;

async fn through_engine(runtime: BotRuntime, events: usize, conversations: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("b.db")).await.unwrap();
    let (sent_tx, mut sent) = watch::channel(0usize);
    let conn = ConnectionId::from("bench");
    let engine = Engine::start(
        EngineConfig::default(),
        store,
        Arc::new(runtime) as Arc<dyn EventHandler>,
        vec![(conn.clone(), Arc::new(Sink(sent_tx)))],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn).unwrap();
    let start = Instant::now();
    // As many deliveries in flight as a webhook endpoint under load has requests.
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let intake = intake.clone();
            tokio::spawn(async move {
                for i in (p..events).step_by(PRODUCERS) {
                    intake
                        .deliver(message(i, conversations), None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    sent.wait_for(|n| *n >= events).await.unwrap();
    let rate = events as f64 / start.elapsed().as_secs_f64();
    drop(intake);
    engine.shutdown().await;
    rate
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let calls = if quick { 2_000 } else { 20_000 };
    actix_rt::System::new().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("faq.rhai"), SCRIPT).unwrap();
        let (runtime, errors) = BotRuntime::load(dir.path(), BotOptions::default());
        assert!(errors.is_empty(), "{errors:?}");

        let envelopes: Vec<Arc<Envelope>> = (0..calls).map(|i| Arc::new(message(i, 1000))).collect();
        let start = Instant::now();
        for e in &envelopes {
            let handled = runtime.handle(e.clone(), BotStates::new()).await;
            assert_eq!(handled.commands.len(), 1);
        }
        let rhai_per_call = start.elapsed().as_secs_f64() / calls as f64;
        let start = Instant::now();
        for e in &envelopes {
            assert_eq!(std::hint::black_box(rust_keyword_reply(e)).len(), 1);
        }
        let rust_per_call = start.elapsed().as_secs_f64() / calls as f64;
        println!("one handler call, Rhai (through the runtime) : {:>8.1} µs  ({:.0} calls/s on one core)", rhai_per_call * 1e6, 1.0 / rhai_per_call);
        println!("the same bot as a Rust closure             : {:>8.2} µs", rust_per_call * 1e6);
        println!("Rhai / Rust                                : {:>8.0}x", rhai_per_call / rust_per_call);

        let events = if quick { 5_000 } else { 20_000 };
        let rate = through_engine(runtime, events, 1000).await;
        println!("keyword-reply bot, 1,000 conversations     : {rate:>8.0} events/s from intake to confirmed reply");
    });
}
