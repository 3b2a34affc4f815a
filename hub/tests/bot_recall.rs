//! Recall events reach a bot through the engine, and the bot's recalls work.

mod common;

use common::bot::Bot;
use common::TestHub;
use parley_engine::adapter::Adapter;
use parley_engine::model::{
    Command, CommandResult, ConversationId, ErrorKind, Event, MessageRef, OutboundCommand,
    RecallScope,
};
use serde_json::json;
use std::time::Duration;

#[actix_web::test]
async fn an_admin_bot_recalls_banned_words_and_sees_recalls() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let ok = alice
        .call(json!({"type": "set_admin", "group": "lobby", "user": "bot", "admin": true}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let mut bot = Bot::start(&t, "bot", |envelope| match &envelope.event {
        Event::Message(m) if !envelope.from_self && m.content.plain_text().contains("darn") => {
            vec![Command::Recall {
                conversation: m.conversation.clone(),
                message: m.id.clone(),
                scope: RecallScope::Everyone,
            }]
        }
        _ => vec![],
    })
    .await;

    let mut bob = t.login("bob").await;
    bob.say("group:lobby", "darn it", "b1").await;
    let told = bob.event("recalled").await["event"].clone();
    assert_eq!(told["by"], "bot", "{told}");
    bot.handled(|e| {
        matches!(&e.event, Event::Recalled { by, .. } if by.as_str() == "bot") && e.from_self
    })
    .await;

    // alice takes back a direct message to the bot: the bot is told.
    let sent = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bot"},
            "content": {"kind": "text", "text": "oops"}}),
        )
        .await;
    let id = sent["message"]["id"]["id"].as_str().unwrap().to_string();
    alice.call(json!({"type": "recall", "message": id})).await;
    let recalled = bot
        .handled(|e| matches!(&e.event, Event::Recalled { by, .. } if by.as_str() == "alice"))
        .await;
    let Event::Recalled {
        conversation,
        message,
        scope,
        ..
    } = &recalled.event
    else {
        unreachable!()
    };
    assert_eq!(
        (conversation, message.id.as_str(), *scope),
        (
            &ConversationId::direct("alice"),
            id.as_str(),
            RecallScope::Everyone
        )
    );
    assert!(!recalled.from_self);
    bot.stop().await;
    t.stop().await;
}

#[actix_web::test]
async fn bot_recalls_have_typed_results() {
    let t = TestHub::start(None).await;
    let adapter = parley_hub::HubAdapter::new(t.hub.clone(), "hub".into(), "bot".into());
    let recall = |message: &str| {
        adapter.execute(OutboundCommand {
            connection: "hub".into(),
            idempotency_key: "k".into(),
            command: Command::Recall {
                conversation: ConversationId::direct("alice"),
                message: MessageRef::new(message),
                scope: RecallScope::Everyone,
            },
        })
    };
    let mut alice = t.login("alice").await;
    let sent = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bot"},
            "content": {"kind": "text", "text": "hi"}}),
        )
        .await;
    let id = sent["message"]["id"]["id"].as_str().unwrap().to_string();
    let kind = |r: CommandResult| match r {
        CommandResult::Failed(e) => e.kind,
        ok => panic!("{ok:?}"),
    };
    assert_eq!(kind(recall(&id).await), ErrorKind::NotPermitted);
    assert_eq!(kind(recall("m-none").await), ErrorKind::NotFound);

    let mine = adapter
        .execute(OutboundCommand {
            connection: "hub".into(),
            idempotency_key: "send-1".into(),
            command: Command::Send {
                to: ConversationId::direct("alice"),
                content: parley_engine::model::Content::text("regret"),
                reply_to: None,
                options: Default::default(),
                as_user: None,
            },
        })
        .await;
    let CommandResult::Ok(parley_engine::model::CommandOutput::Sent { message }) = mine else {
        panic!("{mine:?}")
    };
    t.hub.clock().advance(Duration::from_secs(121));
    assert_eq!(
        kind(recall(&message.id).await),
        ErrorKind::RecallWindowExceeded
    );
    t.stop().await;
}
