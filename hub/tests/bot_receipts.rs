//! Receipts and typing reach a bot through the engine, and the bot marks read and types.

mod common;

use common::bot::Bot;
use common::TestHub;
use parley_engine::model::{
    Command, Content, ConversationId, Event, ReadMark, SendOptions, UserId,
};
use serde_json::json;

#[actix_web::test]
async fn a_bot_reads_types_replies_and_sees_its_reply_read() {
    let t = TestHub::start(None).await;
    let mut bot = Bot::start(&t, "bot", |envelope| match &envelope.event {
        Event::Message(m) if !envelope.from_self => vec![
            Command::MarkRead {
                conversation: m.conversation.clone(),
                read: ReadMark::Messages {
                    messages: vec![m.id.clone()],
                },
            },
            Command::Typing {
                to: m.sender.clone(),
                typing: true,
            },
            Command::Send {
                to: m.conversation.clone(),
                content: Content::text("got it"),
                reply_to: None,
                options: SendOptions::default(),
                as_user: None,
            },
        ],
        _ => vec![],
    })
    .await;

    let mut alice = t.login("alice").await;
    alice.say("direct:bot", "are you there?", "a1").await;
    let read = alice.event("read_receipt").await;
    assert_eq!(read["event"]["reader"], "bot");
    assert_eq!(
        read["event"]["conversation"],
        json!({"kind": "direct", "id": "bot"})
    );
    assert_eq!(alice.event("typing").await["event"]["user"], "bot");
    assert_eq!(alice.next_text().await, "got it");

    let ok = alice
        .call(json!({"type": "mark_read", "conversation": {"kind": "direct", "id": "bot"}}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let receipt = bot
        .handled(
            |e| matches!(&e.event, Event::ReadReceipt { reader, .. } if reader.as_str() == "alice"),
        )
        .await;
    let Event::ReadReceipt {
        conversation, read, ..
    } = &receipt.event
    else {
        unreachable!()
    };
    assert_eq!(conversation, &ConversationId::direct("alice"));
    assert!(matches!(read, ReadMark::UpTo { .. }));
    assert!(!receipt.from_self);

    alice
        .call(json!({"type": "typing", "to": "bot", "typing": true}))
        .await;
    bot.handled(|e| matches!(&e.event, Event::Typing { user, typing: true, .. } if *user == UserId::new("alice")))
        .await;
    bot.stop().await;
    t.stop().await;
}
