//! The actor guarantees of DESIGN.md §1: per-conversation order, backpressure instead of
//! memory growth, idle actors stopped and restored, dedupe, replay after a crash, and a
//! durable outbox.

mod support;

use futures_util::FutureExt;
use parley_engine::actors::ActorConfig;
use parley_engine::adapter::Accepted;
use parley_engine::model::*;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tokio::sync::watch;

fn conn() -> ConnectionId {
    ConnectionId::from("test")
}

fn config(mailbox: usize, idle: Duration) -> EngineConfig {
    EngineConfig {
        actors: ActorConfig {
            mailbox_capacity: mailbox,
            idle_timeout: idle,
        },
        intake_capacity: 8,
        arbiters: 2,
        ..EngineConfig::default()
    }
}

fn seq_of(envelope: &Envelope) -> u64 {
    match &envelope.event {
        Event::Message(m) => m.content.plain_text().parse().unwrap(),
        _ => unreachable!(),
    }
}

#[actix_rt::test]
async fn ten_thousand_events_over_a_hundred_conversations_keep_each_conversations_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let seen: Arc<Mutex<BTreeMap<String, Vec<u64>>>> = Arc::default();
    let threads: Arc<Mutex<HashSet<std::thread::ThreadId>>> = Arc::default();
    let counter = Counter::new();
    let handler = {
        let (seen, threads, counter) = (seen.clone(), threads.clone(), counter.clone());
        FnHandler(Box::new(move |env, mut state| {
            let (seen, threads, counter) = (seen.clone(), threads.clone(), counter.clone());
            async move {
                threads.lock().unwrap().insert(std::thread::current().id());
                // Yield a varying number of times so that events would overtake each
                // other if the actor did not hold later ones back.
                for _ in 0..(seq_of(&env) * 7 % 11) {
                    tokio::task::yield_now().await;
                }
                seen.lock()
                    .unwrap()
                    .entry(env.route().to_string())
                    .or_default()
                    .push(seq_of(&env));
                let n = state.get("t").and_then(|v| v["n"].as_u64()).unwrap_or(0);
                state.insert("t".into(), json!({"n": n + 1}));
                counter.bump();
                parley_engine::handler::Handled::new(state, vec![])
            }
            .boxed()
        }))
    };
    let engine = Engine::start(
        config(16, Duration::from_secs(60)),
        store.clone(),
        Arc::new(handler),
        vec![(conn(), RecordingAdapter::new())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    // Several producers deliver concurrently; each owns 25 conversations and sends their
    // events in order, in bursts of ten per conversation, interleaved across conversations.
    let mut producers = Vec::new();
    for p in 0..4u64 {
        let intake = intake.clone();
        producers.push(tokio::spawn(async move {
            for (c, seq) in (0..10u64).flat_map(|burst| {
                ((p * 25)..(p * 25 + 25))
                    .flat_map(move |c| (burst * 10..burst * 10 + 10).map(move |seq| (c, seq)))
            }) {
                {
                    let env = text_event(
                        &format!("c{c}-{seq}"),
                        ConversationId::direct(format!("user{c}")),
                        &seq.to_string(),
                    );
                    assert_eq!(intake.deliver(env, None).await.unwrap(), Accepted::New);
                }
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    counter.wait_for(10_000).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 100);
    for (conversation, seqs) in &seen {
        assert_eq!(
            seqs,
            &(0..100).collect::<Vec<_>>(),
            "order broken in {conversation}"
        );
    }
    assert!(
        threads.lock().unwrap().len() >= 2,
        "actors are spread over the arbiters"
    );
    drop(intake);
    engine.shutdown().await;
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let state = store
        .load_state(&conn(), &ConversationId::direct("user42"))
        .await
        .unwrap();
    assert_eq!(
        state["t"],
        json!({"n": 100}),
        "state saved after every event"
    );
    assert!(store.unhandled(&conn()).await.unwrap().is_empty());
}

#[actix_rt::test]
async fn a_slow_handler_makes_intake_wait_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let (gate_tx, gate_rx) = watch::channel(false);
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let counter = Counter::new();
    let entered = Counter::new();
    let handler = {
        let (seen, counter, entered) = (seen.clone(), counter.clone(), entered.clone());
        FnHandler(Box::new(move |env, state| {
            let (seen, counter, entered, mut gate) = (
                seen.clone(),
                counter.clone(),
                entered.clone(),
                gate_rx.clone(),
            );
            async move {
                entered.bump();
                gate.wait_for(|open| *open).await.unwrap();
                seen.lock().unwrap().push(seq_of(&env));
                counter.bump();
                parley_engine::handler::Handled::new(state, vec![])
            }
            .boxed()
        }))
    };
    const MAILBOX: usize = 4;
    let cfg = config(MAILBOX, Duration::from_secs(60));
    // Bound on events accepted while the handler is stuck: the one in the handler, a full
    // mailbox, the chunk the connection actor is dispatching, and one more chunk.
    let bound = 1 + MAILBOX + 2 * cfg.intake_capacity;
    let engine = Engine::start(
        cfg,
        store.clone(),
        Arc::new(handler),
        vec![(conn(), RecordingAdapter::new())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    let (accepted_tx, mut accepted_rx) = watch::channel(0usize);
    let producer = tokio::spawn(async move {
        for seq in 0..1000u64 {
            let env = text_event(
                &format!("e{seq}"),
                ConversationId::direct("slow"),
                &seq.to_string(),
            );
            intake.deliver(env, None).await.unwrap();
            accepted_tx.send_modify(|n| *n += 1);
        }
    });
    entered.wait_for(1).await;
    // The producer must stall: waiting longer can only make a wrong result more visible,
    // never make a right one fail.
    let overran = tokio::time::timeout(
        Duration::from_millis(300),
        accepted_rx.wait_for(|n| *n > bound),
    )
    .await
    .is_ok();
    assert!(
        !overran,
        "intake kept accepting past {bound} events while the handler was stuck: {}",
        *accepted_rx.borrow()
    );
    assert!(!producer.is_finished());
    // The stuck conversation's mailbox shows as full on the router's figures.
    let mut stats = engine.router_stats();
    stats
        .wait_for(|s| s.deepest_mailbox == MAILBOX && s.queued_events == MAILBOX)
        .await
        .unwrap();

    gate_tx.send(true).unwrap();
    producer.await.unwrap();
    counter.wait_for(1000).await;
    stats.wait_for(|s| s.queued_events == 0).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        (0..1000).collect::<Vec<_>>(),
        "every event handled once, in order"
    );
    engine.shutdown().await;
}

#[actix_rt::test]
async fn an_idle_actor_stops_and_comes_back_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let observed: Arc<Mutex<Vec<u64>>> = Arc::default();
    let counter = Counter::new();
    let handler = {
        let (observed, counter) = (observed.clone(), counter.clone());
        FnHandler(Box::new(move |_env, mut state| {
            let (observed, counter) = (observed.clone(), counter.clone());
            async move {
                let n = state.get("bot").and_then(|v| v["n"].as_u64()).unwrap_or(0);
                observed.lock().unwrap().push(n);
                state.insert("bot".into(), json!({"n": n + 1}));
                counter.bump();
                parley_engine::handler::Handled::new(state, vec![])
            }
            .boxed()
        }))
    };
    let engine = Engine::start(
        config(4, Duration::from_millis(50)),
        store,
        Arc::new(handler),
        vec![(conn(), RecordingAdapter::new())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    let mut stats = engine.router_stats();

    intake
        .deliver(text_event("e1", ConversationId::group("g"), "1"), None)
        .await
        .unwrap();
    counter.wait_for(1).await;
    stats
        .wait_for(|s| s.stopped_total == 1 && s.live_actors == 0)
        .await
        .unwrap();

    intake
        .deliver(text_event("e2", ConversationId::group("g"), "2"), None)
        .await
        .unwrap();
    counter.wait_for(2).await;
    assert_eq!(
        *observed.lock().unwrap(),
        vec![0, 1],
        "the second actor saw the first one's state"
    );
    assert_eq!(
        stats.borrow().started_total,
        2,
        "the actor was started again"
    );
    drop(intake);
    engine.shutdown().await;
}

/// A handler that answers every message with one send (and ignores the results of its
/// sends, which come back as events).
fn replying_handler(counter: Counter) -> FnHandler {
    FnHandler(Box::new(move |env, state| {
        let counter = counter.clone();
        async move {
            if !matches!(env.event, Event::Message(_)) {
                return parley_engine::handler::Handled::new(state, vec![]);
            }
            counter.bump();
            let command = Command::Send {
                to: env.route(),
                content: Content::text(format!("re: {}", seq_of(&env))),
                reply_to: None,
                options: SendOptions::default(),
                as_user: None,
            };
            parley_engine::handler::Handled::new(state, vec![command])
        }
        .boxed()
    }))
}

#[actix_rt::test]
async fn a_repeated_event_id_is_handled_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let counter = Counter::new();
    let adapter = RecordingAdapter::new();
    let engine = Engine::start(
        config(4, Duration::from_secs(60)),
        store.clone(),
        Arc::new(replying_handler(counter.clone())),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    let env = text_event("same", ConversationId::direct("alice"), "1");
    assert_eq!(
        intake.deliver(env.clone(), None).await.unwrap(),
        Accepted::New
    );
    assert_eq!(
        intake.deliver(env.clone(), None).await.unwrap(),
        Accepted::Duplicate
    );
    intake
        .deliver(
            text_event("other", ConversationId::direct("alice"), "2"),
            None,
        )
        .await
        .unwrap();
    counter.wait_for(2).await;
    adapter.wait_executed(2).await;
    drop(intake);
    engine.shutdown().await;
    assert_eq!(*counter.0.borrow(), 2);
    let executed = adapter.executed.lock().unwrap();
    let keys: Vec<_> = executed
        .iter()
        .map(|c| c.idempotency_key.as_str())
        .collect();
    assert_eq!(keys, vec!["same#0", "other#0"]);
}

#[actix_rt::test]
async fn events_accepted_before_a_crash_are_handled_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    {
        // A crash after the intake made the events durable but before any was handled.
        let store = Store::open(&path).await.unwrap();
        let events: Vec<_> = (0..5)
            .map(|i| {
                text_event(
                    &format!("e{i}"),
                    ConversationId::direct("bob"),
                    &i.to_string(),
                )
            })
            .collect();
        store.accept_inbound(&conn(), &events, None).await.unwrap();
        store.close().await;
    }
    let store = Store::open(&path).await.unwrap();
    let counter = Counter::new();
    let adapter = RecordingAdapter::new();
    let engine = Engine::start(
        config(4, Duration::from_secs(60)),
        store.clone(),
        Arc::new(replying_handler(counter.clone())),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    adapter.wait_executed(5).await;
    let texts: Vec<String> = adapter
        .executed
        .lock()
        .unwrap()
        .iter()
        .map(|c| match &c.command {
            Command::Send { content, .. } => content.plain_text(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        texts,
        (0..5).map(|i| format!("re: {i}")).collect::<Vec<_>>()
    );
    engine.shutdown().await;
    let store = Store::open(&path).await.unwrap();
    assert!(store.unhandled(&conn()).await.unwrap().is_empty());
}

#[actix_rt::test]
async fn the_outbox_retries_transient_failures_records_final_ones_and_resends_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = Store::open(&path).await.unwrap();
    // Commands left unsent by an earlier run are sent at start.
    store
        .enqueue(vec![OutboundCommand {
            connection: conn(),
            idempotency_key: "left-over".into(),
            command: Command::Send {
                to: ConversationId::direct("alice"),
                content: Content::text("from before"),
                reply_to: None,
                options: SendOptions::default(),
                as_user: None,
            },
        }])
        .await
        .unwrap();
    let adapter = RecordingAdapter::new();
    *adapter.scripted.lock().unwrap() = vec![
        CommandResult::Failed(CommandError::new(ErrorKind::Unavailable, "HTTP 500")),
        CommandResult::Failed(CommandError {
            retry_after_ms: Some(10),
            ..CommandError::new(ErrorKind::RateLimited, "429")
        }),
        CommandResult::Ok(CommandOutput::Sent {
            message: MessageRef::new("first"),
        }),
        CommandResult::Failed(CommandError::new(ErrorKind::NotFound, "no such user")),
    ];
    let mut cfg = config(4, Duration::from_secs(60));
    cfg.retry.first_backoff = Duration::from_millis(1);
    let counter = Counter::new();
    let engine = Engine::start(
        cfg,
        store.clone(),
        Arc::new(replying_handler(counter.clone())),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    intake
        .deliver(text_event("e1", ConversationId::direct("alice"), "1"), None)
        .await
        .unwrap();
    intake
        .deliver(text_event("e2", ConversationId::direct("alice"), "2"), None)
        .await
        .unwrap();
    adapter.wait_executed(2).await;
    drop(intake);
    engine.shutdown().await;

    let store = Store::open(&path).await.unwrap();
    let rows = store.outbox(&conn()).await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.command.idempotency_key.as_str(),
                r.status.as_str(),
                r.attempts,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("left-over", "done", 3),
            ("e1#0", "failed", 1),
            ("e2#0", "done", 1)
        ]
    );
    match &rows[1].result {
        Some(CommandResult::Failed(e)) => assert_eq!(e.kind, ErrorKind::NotFound),
        other => panic!("unexpected result {other:?}"),
    }
}

#[actix_rt::test]
async fn command_results_come_back_to_the_conversation_that_sent_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let adapter = RecordingAdapter::new();
    *adapter.scripted.lock().unwrap() = vec![CommandResult::Failed(CommandError::new(
        ErrorKind::NotPermitted,
        "muted in this group",
    ))];
    let results: Arc<Mutex<Vec<(ConversationId, String, CommandResult)>>> = Arc::default();
    let counter = Counter::new();
    let handler = {
        let (results, counter) = (results.clone(), counter.clone());
        FnHandler(Box::new(move |env, state| {
            let (results, counter) = (results.clone(), counter.clone());
            async move {
                let mut commands = vec![];
                match &env.event {
                    Event::Message(m) => commands.push(Command::Send {
                        to: m.conversation.clone(),
                        content: Content::text("hi"),
                        reply_to: None,
                        options: SendOptions::default(),
                        as_user: None,
                    }),
                    Event::CommandResult {
                        conversation,
                        key,
                        result,
                        ..
                    } => {
                        results.lock().unwrap().push((
                            conversation.clone(),
                            key.clone(),
                            result.clone(),
                        ));
                        counter.bump();
                    }
                    _ => {}
                }
                parley_engine::handler::Handled::new(state, commands)
            }
            .boxed()
        }))
    };
    let engine = Engine::start(
        config(4, Duration::from_secs(60)),
        store,
        Arc::new(handler),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    // One after the other: the adapter fails the first command it is given.
    intake
        .deliver(text_event("m1", ConversationId::group("g"), "1"), None)
        .await
        .unwrap();
    counter.wait_for(1).await;
    intake
        .deliver(text_event("m2", ConversationId::direct("bob"), "2"), None)
        .await
        .unwrap();
    counter.wait_for(2).await;
    drop(intake);
    engine.shutdown().await;
    let mut results = results.lock().unwrap().clone();
    results.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(results[0].0, ConversationId::group("g"));
    assert_eq!(results[0].1, "m1#0");
    assert!(matches!(&results[0].2, CommandResult::Failed(e) if e.kind == ErrorKind::NotPermitted));
    assert_eq!(results[1].0, ConversationId::direct("bob"));
    assert!(matches!(
        &results[1].2,
        CommandResult::Ok(CommandOutput::Sent { .. })
    ));
}

#[actix_rt::test]
async fn the_monitor_counts_traffic_and_shows_each_connection() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let counter = Counter::new();
    let adapter = RecordingAdapter::new();
    let engine = Engine::start(
        config(4, Duration::from_secs(60)),
        store,
        Arc::new(replying_handler(counter.clone())),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    let env = text_event("m1", ConversationId::direct("alice"), "1");
    intake.deliver(env.clone(), None).await.unwrap();
    intake.deliver(env, None).await.unwrap();
    adapter.wait_executed(1).await;
    let monitor = engine.monitor();
    // The duplicate is not counted; the reply's own result may already be back as an event.
    assert!(
        (1..=2).contains(&monitor.events_in()),
        "{}",
        monitor.events_in()
    );
    assert_eq!(monitor.events_out(), 1);
    let figures = monitor.connections();
    assert_eq!(
        (figures[0].id.as_str(), figures[0].kind, figures[0].state),
        ("test", "recording", "started"),
        "no state reported yet"
    );
    // The state the adapter reports last is shown (once the intake has taken it in).
    for (id, state) in [
        ("c1", ConnectionState::Connected),
        (
            "c2",
            ConnectionState::Lost {
                reason: "network".into(),
            },
        ),
    ] {
        let mut event = text_event(id, ConversationId::system(), "");
        event.event = Event::Connection(state);
        intake.deliver(event, None).await.unwrap();
    }
    assert_eq!(monitor.connections()[0].state, "lost");
    drop(intake);
    engine.shutdown().await;
}

/// A handler whose bots do not handle command results.
struct NoResultHandlers(FnHandler);

impl parley_engine::handler::EventHandler for NoResultHandlers {
    fn handle(
        &self,
        envelope: Arc<Envelope>,
        state: parley_engine::handler::BotStates,
    ) -> futures_util::future::BoxFuture<'static, parley_engine::handler::Handled> {
        self.0.handle(envelope, state)
    }
    fn handles(&self, handler: &str) -> bool {
        handler != "on_command_result"
    }
}

#[actix_rt::test]
async fn no_result_events_are_made_when_no_bot_handles_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let adapter = RecordingAdapter::new();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let counter = Counter::new();
    let handler = {
        let (seen, counter) = (seen.clone(), counter.clone());
        FnHandler(Box::new(move |env, state| {
            let (seen, counter) = (seen.clone(), counter.clone());
            async move {
                seen.lock().unwrap().push(env.id.0.clone());
                counter.bump();
                let commands = match &env.event {
                    Event::Message(m) => vec![Command::Send {
                        to: m.conversation.clone(),
                        content: Content::text("hi"),
                        reply_to: None,
                        options: SendOptions::default(),
                        as_user: None,
                    }],
                    _ => vec![],
                };
                parley_engine::handler::Handled::new(state, commands)
            }
            .boxed()
        }))
    };
    let engine = Engine::start(
        config(4, Duration::from_secs(60)),
        store.clone(),
        Arc::new(NoResultHandlers(handler)),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    for (i, who) in ["ann", "ben"].iter().enumerate() {
        intake
            .deliver(
                text_event(&format!("m{i}"), ConversationId::direct(*who), "x"),
                None,
            )
            .await
            .unwrap();
    }
    adapter.wait_executed(2).await;
    // Every command is recorded as done; its result would have been reported by now.
    while store
        .outbox(&conn())
        .await
        .unwrap()
        .iter()
        .any(|e| e.status == "pending")
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    intake
        .deliver(text_event("last", ConversationId::direct("ann"), "x"), None)
        .await
        .unwrap();
    counter.wait_for(3).await;
    drop(intake);
    engine.shutdown().await;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|id| !id.starts_with("result:")), "{seen:?}");
}

#[actix_rt::test]
async fn a_batch_is_accepted_in_order_with_one_answer_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let counter = Counter::new();
    let adapter = RecordingAdapter::new();
    let engine = Engine::start(
        config(4, Duration::from_secs(60)),
        store.clone(),
        Arc::new(replying_handler(counter.clone())),
        vec![(conn(), adapter.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    intake
        .deliver(text_event("e0", ConversationId::direct("alice"), "0"), None)
        .await
        .unwrap();
    let batch: Vec<_> = (0..6)
        .map(|i| {
            // Two conversations interleaved, and e0 again (already stored).
            let who = if i % 2 == 0 { "alice" } else { "bob" };
            text_event(
                &format!("e{i}"),
                ConversationId::direct(who),
                &i.to_string(),
            )
        })
        .collect();
    let accepted = intake
        .deliver_batch(batch, Some("cursor-6".into()))
        .await
        .unwrap();
    let mut expected = vec![Accepted::New; 6];
    expected[0] = Accepted::Duplicate;
    assert_eq!(accepted, expected);
    assert_eq!(
        store.cursor(&conn()).await.unwrap().as_deref(),
        Some("cursor-6"),
        "the batch's cursor is saved with it"
    );
    counter.wait_for(6).await;
    adapter.wait_executed(6).await;
    drop(intake);
    engine.shutdown().await;
    let executed = adapter.executed.lock().unwrap();
    let replies_to = |who: &str| -> Vec<String> {
        executed
            .iter()
            .filter(|c| matches!(&c.command, Command::Send { to, .. } if *to == ConversationId::direct(who)))
            .map(|c| c.idempotency_key.clone())
            .collect()
    };
    assert_eq!(replies_to("alice"), ["e0#0", "e2#0", "e4#0"]);
    assert_eq!(replies_to("bob"), ["e1#0", "e3#0", "e5#0"]);
}
