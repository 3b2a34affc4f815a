//! The engine with a small keyword bot over reverse WebSocket: a keyword in a group goes
//! out as send_group_msg; the connection drops in the middle of the traffic and comes back,
//! and every reply goes out exactly once.

mod support;

use futures_util::future::BoxFuture;
use parley_engine::adapter::Adapter;
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::outbox::RetryPolicy;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// Answers "ping N" with "pong N"; ignores its own messages.
struct Keyword;

impl EventHandler for Keyword {
    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        let commands = match &envelope.event {
            Event::Message(m)
                if !envelope.from_self && m.content.plain_text().starts_with("ping") =>
            {
                vec![Command::Send {
                    to: m.conversation.clone(),
                    content: Content::text(m.content.plain_text().replace("ping", "pong")),
                    reply_to: None,
                    options: SendOptions::default(),
                    as_user: None,
                }]
            }
            _ => Vec::new(),
        };
        Box::pin(async move { Handled::new(state, commands) })
    }
}

/// Plays QQ on one connection: pushes `texts` as group messages while answering every
/// action; returns once `answered` actions were answered in total.
async fn play(qq: &mut Qq, recorder: &Recorder, first_id: i64, texts: &[String], answered: usize) {
    let mut pending = texts.iter().enumerate();
    loop {
        if let Some((i, text)) = pending.next() {
            qq.push(group_message(first_id + i as i64, 500, 42, json!(text)))
                .await;
            continue;
        }
        if *recorder.count.borrow() >= answered {
            return;
        }
        let action = qq.action().await;
        let answer = recorder.record(&action);
        qq.answer(&action, answer).await;
    }
}

#[actix_rt::test]
async fn keyword_reply_survives_a_dropped_connection() {
    let adapter = adapter(json!({}));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let config = EngineConfig {
        retry: RetryPolicy {
            max_attempts: 50,
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
        },
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        config,
        store,
        Arc::new(Keyword),
        vec![(
            ConnectionId::from("qq"),
            adapter.clone() as Arc<dyn Adapter>,
        )],
    )
    .await
    .unwrap();
    let server = Server::start(&adapter).await;
    let url = format!("ws://{}/onebot/qq", server.addr);
    let recorder = Recorder::new();

    let texts =
        |range: std::ops::Range<usize>| range.map(|n| format!("ping {n}")).collect::<Vec<_>>();
    let mut qq = Qq::dial(&url, "Universal", SELF_ID, Some(TOKEN))
        .await
        .unwrap();
    qq.push(lifecycle_connect()).await;
    play(&mut qq, &recorder, 0, &texts(0..20), 10).await;
    // Closed in the middle: replies still owed are sent after the reconnect.
    qq.hang_up().await;
    let mut qq = Qq::dial(&url, "Universal", SELF_ID, Some(TOKEN))
        .await
        .unwrap();
    // The implementation pushes one event again after reconnecting: handled once.
    play(&mut qq, &recorder, 19, &texts(19..40), 40).await;

    engine.shutdown().await;
    let mut sent = recorder.texts();
    sent.sort();
    let mut expected: Vec<String> = (0..40).map(|n| format!("pong {n}")).collect();
    expected.sort();
    assert_eq!(sent, expected, "every reply exactly once");
    let first = recorder.actions.lock().unwrap()[0].clone();
    assert_eq!(first["action"], "send_group_msg");
    assert_eq!(first["params"]["group_id"], 500);
    server.stop().await;
}
