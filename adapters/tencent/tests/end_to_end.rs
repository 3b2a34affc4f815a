//! Callbacks into a running engine with a small Rust bot, replies out to the local Tencent
//! server while it fails in every transient way: nothing lost, nothing doubled.

mod support;

use actix_web::{test, App};
use futures_util::future::BoxFuture;
use parley_engine::adapter::Adapter;
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::outbox::RetryPolicy;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// Answers every message from someone else with `echo: <text>`; refuses "spam" and
/// masks "darn" before delivery.
struct Echo;

impl EventHandler for Echo {
    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        let commands = match &envelope.event {
            Event::Message(m) if !envelope.from_self => vec![Command::Send {
                to: m.conversation.clone(),
                content: Content::text(format!("echo: {}", m.content.plain_text())),
                reply_to: None,
                options: SendOptions::default(),
                as_user: None,
            }],
            _ => Vec::new(),
        };
        Box::pin(async move { Handled::new(state, commands) })
    }

    fn verdict(
        &self,
        envelope: Arc<Envelope>,
        _state: BotStates,
    ) -> BoxFuture<'static, Option<Verdict>> {
        let text = match &envelope.event {
            Event::BeforeSend(m) => m.content.plain_text(),
            _ => String::new(),
        };
        Box::pin(async move {
            if text.contains("spam") {
                Some(Verdict::Reject {
                    reason: "no spam".into(),
                })
            } else if text.contains("darn") {
                Some(Verdict::Replace {
                    content: Content::text("****"),
                })
            } else {
                None
            }
        })
    }
}

fn c2c(from: &str, key: &str, text: &str) -> Value {
    json!({"CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": from, "To_Account": "bot",
           "MsgRandom": 7, "MsgTime": 1557481126, "MsgKey": key, "SendMsgResult": 0,
           "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]})
}

#[actix_rt::test]
async fn nothing_lost_nothing_doubled() {
    let fake = FakeTencent::start().await;
    let adapter = adapter(&fake.url);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let config = EngineConfig {
        retry: RetryPolicy {
            max_attempts: 20,
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
        },
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        config,
        store,
        Arc::new(Echo),
        vec![(
            ConnectionId::from("tc"),
            adapter.clone() as Arc<dyn Adapter>,
        )],
    )
    .await
    .unwrap();
    let app = test::init_service(App::new().configure(adapter.routes())).await;
    let post = |body: Value| {
        let command = body["CallbackCommand"].as_str().unwrap().to_string();
        test::TestRequest::post()
            .uri(&format!(
                "/webhooks/tencent?{}",
                callback_query(&command, now())
            ))
            .set_json(body)
            .to_request()
    };

    // Every transient failure Tencent can give, including a send that took effect but
    // whose answer never came (retried with the same MsgRandom, deduplicated by Tencent).
    fake.fail_next(&[
        Failure::Http(503),
        Failure::Code(60018),
        Failure::Hang,
        Failure::Http(429),
        Failure::Code(60007),
    ]);

    let mut expected = Vec::new();
    for peer in ["alice", "bob", "carol", "dave"] {
        for n in 0..5 {
            let text = format!("{peer} {n}");
            let resp =
                test::call_service(&app, post(c2c(peer, &format!("{n}_{peer}_1"), &text))).await;
            assert_eq!(resp.status(), 200);
            expected.push(format!("echo: {text}"));
        }
    }
    // Tencent repeating a callback: handled once.
    for _ in 0..2 {
        let resp = test::call_service(&app, post(c2c("alice", "0_alice_1", "alice 0"))).await;
        assert_eq!(resp.status(), 200);
    }
    let resp = test::call_service(&app, post(json!({
        "CallbackCommand": "Group.CallbackAfterSendMsg", "GroupId": "g1", "Type": "Public", "From_Account": "erin",
        "Random": 9, "MsgSeq": 77, "MsgTime": 1557481126,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "group hello"}}]}))).await;
    assert_eq!(resp.status(), 200);
    expected.push("echo: group hello".into());

    fake.wait_sends(expected.len()).await;
    engine.shutdown().await;
    let mut delivered: Vec<String> = fake.delivered().into_iter().map(|(_, text)| text).collect();
    delivered.sort();
    expected.sort();
    assert_eq!(delivered, expected);
    assert!(
        fake.requests().len() > expected.len(),
        "the failures were retried"
    );
    fake.stop().await;
}

#[actix_rt::test]
async fn before_send_goes_to_the_bots_interceptor() {
    let adapter = adapter("http://127.0.0.1:9");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let engine = Engine::start(
        EngineConfig::default(),
        store,
        Arc::new(Echo),
        vec![(
            ConnectionId::from("tc"),
            adapter.clone() as Arc<dyn Adapter>,
        )],
    )
    .await
    .unwrap();
    let app = test::init_service(App::new().configure(adapter.routes())).await;
    let check = |command: &str, text: &str| {
        let mut body = json!({"CallbackCommand": command, "From_Account": "alice", "To_Account": "bot",
                              "GroupId": "g1", "Random": 3, "MsgSeq": 1, "MsgRandom": 2, "MsgTime": 3, "MsgKey": "1_2_3",
                              "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]});
        if command.starts_with("C2C") {
            body.as_object_mut().unwrap().remove("GroupId");
        }
        test::TestRequest::post()
            .uri(&format!(
                "/webhooks/tencent?{}",
                callback_query(command, now())
            ))
            .set_json(body)
            .to_request()
    };
    for command in ["C2C.CallbackBeforeSendMsg", "Group.CallbackBeforeSendMsg"] {
        let answer: Value = test::call_and_read_body_json(&app, check(command, "hello")).await;
        assert_eq!(
            answer,
            json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}),
            "{command}"
        );
        let answer: Value = test::call_and_read_body_json(&app, check(command, "buy spam")).await;
        assert_eq!(
            answer,
            json!({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "no spam"}),
            "{command}"
        );
        let answer: Value = test::call_and_read_body_json(&app, check(command, "darn it")).await;
        assert_eq!(answer["ErrorCode"], 0);
        assert_eq!(
            answer["MsgBody"],
            json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "****"}}]),
            "{command}"
        );
    }
    engine.shutdown().await;
}
