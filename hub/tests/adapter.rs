//! The engine's side: `HubAdapter` delivering into an `Intake` and executing commands.

mod common;

use common::{TestHub, PATIENCE};
use parley_engine::adapter::{Adapter, Intake};
use parley_engine::model::{
    Command, CommandOutput, CommandResult, Content, ConversationId, Envelope, ErrorKind, Event,
    Message, OutboundCommand, SendOptions,
};
use parley_hub::HubAdapter;
use tokio::sync::mpsc::Receiver;

type Delivered = Receiver<(Envelope, Option<String>)>;

async fn start(t: &TestHub, cursor: Option<&str>) -> (HubAdapter, Delivered) {
    let adapter = HubAdapter::new(t.hub.clone(), "hub".into(), "bot".into());
    let (intake, delivered) = Intake::collecting("hub".into(), 4);
    adapter.start(intake, cursor.map(Into::into)).await.unwrap();
    (adapter, delivered)
}

async fn next_envelope(delivered: &mut Delivered) -> (Envelope, Option<String>) {
    tokio::time::timeout(PATIENCE, delivered.recv())
        .await
        .expect("no envelope in time")
        .expect("intake closed")
}

/// The next message, passing over the `connected` mark the adapter sends once caught up,
/// and its cursor: the adapter delivers what is waiting in batches, and only a batch's last
/// event carries one.
async fn next(delivered: &mut Delivered) -> (Envelope, Message, Option<String>) {
    let (mut envelope, mut cursor) = next_envelope(delivered).await;
    if matches!(envelope.event, Event::Connection(_)) {
        assert_eq!(cursor, None, "the connected mark moves no cursor");
        (envelope, cursor) = next_envelope(delivered).await;
    }
    let Event::Message(message) = envelope.event.clone() else {
        panic!("not a message: {envelope:?}")
    };
    (envelope, message, cursor)
}

fn send(to: ConversationId, text: &str, key: &str) -> OutboundCommand {
    OutboundCommand {
        connection: "hub".into(),
        idempotency_key: key.into(),
        command: Command::Send {
            to,
            content: Content::text(text),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        },
    }
}

#[actix_web::test]
async fn messages_to_the_bot_arrive_in_order_with_cursors_and_its_own_sends_are_from_self() {
    let t = TestHub::start(None).await;
    let (adapter, mut delivered) = start(&t, None).await;
    assert_eq!(adapter.kind(), "hub");
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;

    for i in 1..=3 {
        alice
            .say("direct:bot", &format!("a{i}"), &format!("a{i}"))
            .await;
    }
    bob.say("group:lobby", "hello lobby", "b1").await;
    alice.say("direct:bob", "not for the bot", "a4").await;
    // The adapter's own sends are not echoed back to it; the bot user writing from
    // another device is, marked from_self.
    adapter
        .execute(send(
            ConversationId::direct("alice"),
            "sent by the adapter",
            "k1",
        ))
        .await;
    let mut bot_device = t.login("bot").await;
    bot_device.say("direct:alice", "bot reply", "k2").await;

    let mut last_cursor = 0u64;
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..5 {
        let (envelope, message, at) = next(&mut delivered).await;
        cursor = at;
        if let Some(cursor) = &cursor {
            // "<message seq>:<event seq>"
            let cursor: u64 = cursor.split_once(':').unwrap().0.parse().unwrap();
            assert!(cursor > last_cursor, "cursors increase");
            assert_eq!(Some(cursor), message.id.seq);
            last_cursor = cursor;
        }
        assert_eq!(envelope.id.0, format!("msg:{}", message.id.id));
        assert_eq!(
            (
                envelope.connection.as_str(),
                envelope.backlog,
                envelope.time_ms
            ),
            ("hub", false, message.time_ms)
        );
        seen.push((
            message.conversation.to_string(),
            message.sender.0,
            message.content.plain_text(),
            envelope.from_self,
        ));
    }
    let expect =
        |c: &str, s: &str, t: &str, own: bool| (c.to_string(), s.to_string(), t.to_string(), own);
    assert_eq!(
        seen,
        vec![
            expect("direct:alice", "alice", "a1", false),
            expect("direct:alice", "alice", "a2", false),
            expect("direct:alice", "alice", "a3", false),
            expect("group:lobby", "bob", "hello lobby", false),
            expect("direct:alice", "bot", "bot reply", true),
        ]
    );
    assert!(
        cursor.is_some(),
        "the last event delivered carries the cursor"
    );
    adapter.stop().await;
    t.stop().await;
}

#[actix_web::test]
async fn after_a_restart_the_backlog_after_the_cursor_comes_first_then_live_messages() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    alice
        .say("direct:bot", "before the first start", "h0")
        .await;

    let (adapter, mut delivered) = start(&t, None).await;
    alice.say("direct:bot", "m1", "m1").await;
    let (_, message, cursor) = next(&mut delivered).await;
    let cursor = cursor.expect("a message delivered alone carries its cursor");
    assert_eq!(
        message.content.plain_text(),
        "m1",
        "a first start does not replay history"
    );

    adapter.stop().await;
    // The `connected` mark may still be queued: it can come after m1 when m1 arrives
    // while the adapter catches up.
    while let Some((envelope, _)) = delivered.recv().await {
        assert!(
            matches!(envelope.event, Event::Connection(_)),
            "only the connected mark may be left after m1: {envelope:?}"
        );
    }
    alice.say("direct:bot", "m2", "m2").await;
    alice.say("direct:bot", "m3", "m3").await;

    let (adapter, mut delivered) = start(&t, Some(&cursor)).await;
    alice.say("direct:bot", "m4", "m4").await;
    let mut texts = Vec::new();
    for _ in 0..3 {
        texts.push(next(&mut delivered).await.1.content.plain_text());
    }
    assert_eq!(texts, vec!["m2", "m3", "m4"]);
    adapter.stop().await;

    let adapter = HubAdapter::new(t.hub.clone(), "hub".into(), "bot".into());
    let (intake, _delivered) = Intake::collecting("hub".into(), 4);
    let err = adapter
        .start(intake, Some("yesterday".into()))
        .await
        .unwrap_err();
    assert!(err.0.contains("\"yesterday\""), "{err}");
    let ghost = HubAdapter::new(t.hub.clone(), "hub".into(), "ghost".into());
    let (intake, _delivered) = Intake::collecting("hub".into(), 4);
    assert!(ghost
        .start(intake, None)
        .await
        .unwrap_err()
        .0
        .contains("no hub user \"ghost\""));
    t.stop().await;
}

#[actix_web::test]
async fn execute_send_reaches_a_websocket_client_once_per_idempotency_key() {
    let t = TestHub::start(None).await;
    let adapter = HubAdapter::new(t.hub.clone(), "hub".into(), "bot".into());
    let mut alice = t.login("alice").await;

    let first = adapter
        .execute(send(
            ConversationId::direct("alice"),
            "hello from bot",
            "k1",
        ))
        .await;
    let CommandResult::Ok(CommandOutput::Sent { message: first }) = first else {
        panic!("{first:?}")
    };
    assert_eq!(first.client_id.as_deref(), Some("k1"));
    assert!(first.seq.is_some() && first.time_ms.is_some());

    let again = adapter
        .execute(send(
            ConversationId::direct("alice"),
            "hello from bot",
            "k1",
        ))
        .await;
    assert_eq!(
        again,
        CommandResult::Ok(CommandOutput::Sent {
            message: first.clone()
        }),
        "the original's ref"
    );
    adapter
        .execute(send(ConversationId::group("lobby"), "marker", "k2"))
        .await;

    let pushed = alice.recv().await;
    assert_eq!(pushed["message"]["id"]["id"], first.id.as_str());
    assert_eq!(
        pushed["message"]["conversation"],
        serde_json::json!({"kind": "direct", "id": "bot"})
    );
    assert_eq!(
        alice.next_text().await,
        "marker",
        "the repeated key was delivered once"
    );

    let missing = adapter
        .execute(send(ConversationId::direct("nobody"), "x", "k3"))
        .await;
    assert!(
        matches!(missing, CommandResult::Failed(ref e) if e.kind == ErrorKind::NotFound),
        "{missing:?}"
    );
    let empty = adapter
        .execute(send(ConversationId::direct("alice"), "", "k4"))
        .await;
    assert!(
        matches!(empty, CommandResult::Failed(ref e) if e.kind == ErrorKind::Invalid),
        "{empty:?}"
    );
    let carol = HubAdapter::new(t.hub.clone(), "hub".into(), "carol".into());
    let outsider = carol
        .execute(send(ConversationId::group("lobby"), "x", "k5"))
        .await;
    assert!(
        matches!(outsider, CommandResult::Failed(ref e) if e.kind == ErrorKind::NotPermitted),
        "{outsider:?}"
    );

    let recall = OutboundCommand {
        connection: "hub".into(),
        idempotency_key: "r1".into(),
        command: Command::Edit {
            conversation: ConversationId::direct("alice"),
            message: parley_engine::model::MessageRef::new("m1"),
            content: parley_engine::model::Content::text("edited"),
        },
    };
    match adapter.execute(recall).await {
        CommandResult::Failed(e) => {
            assert_eq!(e.kind, ErrorKind::Unsupported);
            assert_eq!(e.message, "the hub does not support edit yet");
        }
        other => panic!("{other:?}"),
    }
    t.stop().await;
}

#[actix_web::test]
async fn the_adapter_reports_connected_once_caught_up() {
    let t = TestHub::start(None).await;
    let (adapter, mut delivered) = start(&t, None).await;
    let (envelope, cursor) = next_envelope(&mut delivered).await;
    assert_eq!(
        envelope.event,
        Event::Connection(parley_engine::model::ConnectionState::Connected)
    );
    assert!(envelope.id.as_str().starts_with("connected:"));
    assert_eq!(cursor, None);
    adapter.stop().await;
}
