//! Friend events reach a bot through the engine, and the bot's friend commands work.

mod common;

use common::bot::Bot;
use common::TestHub;
use parley_engine::model::{Command, Content, ConversationId, Event, SendOptions, UserId};
use serde_json::json;

#[actix_web::test]
async fn a_bot_accepts_every_friend_request_and_welcomes_the_new_friend() {
    let t = TestHub::start(None).await;
    let mut bot_settings = t.login("bot").await;
    bot_settings
        .call(json!({"type": "settings", "friend_auth": "approval"}))
        .await;
    let mut bot = Bot::start(&t, "bot", |envelope| match &envelope.event {
        Event::FriendRequest(r) if !envelope.from_self => vec![Command::AnswerFriendRequest {
            request: r.request.clone(),
            accept: true,
            remark: Some("hi, I am the bot".into()),
            add_back: false,
        }],
        Event::FriendAdded { user } => vec![Command::Send {
            to: ConversationId::direct(user.as_str()),
            content: Content::text("welcome, friend"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        }],
        _ => vec![],
    })
    .await;

    let mut alice = t.login("alice").await;
    alice
        .call(json!({"type": "add_friend", "user": "bot", "greeting": "let's be friends"}))
        .await;
    let request = bot
        .handled(|e| matches!(e.event, Event::FriendRequest(_)))
        .await;
    let Event::FriendRequest(r) = &request.event else {
        unreachable!()
    };
    assert_eq!(
        (r.from.as_str(), r.greeting.as_deref()),
        ("alice", Some("let's be friends"))
    );
    assert!(!request.from_self);
    assert!(request.id.0.starts_with("ev:"));

    let answered = alice.event("friend_request_answered").await;
    assert_eq!(answered["event"]["remark"], "hi, I am the bot");
    assert_eq!(alice.event("friend_added").await["event"]["user"], "bot");
    assert_eq!(alice.next_text().await, "welcome, friend");

    // The bot blocks and removes a friend; it sees its own block as from_self.
    let mut bot2 = Bot::start(&t, "carol", |_| vec![]).await;
    let mut carol = t.login("carol").await;
    carol
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    bot2.handled(|e| matches!(&e.event, Event::FriendAdded { user } if user.as_str() == "bob"))
        .await;
    bob_removes_carol(&t).await;
    bot2.handled(|e| matches!(&e.event, Event::FriendRemoved { user } if user.as_str() == "bob"))
        .await;
    bot.stop().await;
    bot2.stop().await;
    t.stop().await;
}

async fn bob_removes_carol(t: &TestHub) {
    let mut bob = t.login("bob").await;
    let ok = bob
        .call(json!({"type": "remove_friend", "user": "carol"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
}

#[actix_web::test]
async fn bot_friend_commands_have_typed_results() {
    use parley_engine::adapter::Adapter;
    use parley_engine::model::{CommandResult, ErrorKind, OutboundCommand};
    let t = TestHub::start(None).await;
    let adapter = parley_hub::HubAdapter::new(t.hub.clone(), "hub".into(), "bot".into());
    let run = |command: Command| {
        adapter.execute(OutboundCommand {
            connection: "hub".into(),
            idempotency_key: "k".into(),
            command,
        })
    };
    let mut alice = t.login("alice").await;
    alice
        .call(json!({"type": "settings", "friend_auth": "nobody"}))
        .await;
    let refused = run(Command::AddFriend {
        user: UserId::new("alice"),
        greeting: None,
        answer: None,
    })
    .await;
    let CommandResult::Failed(e) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        (e.kind, e.platform_code.as_deref()),
        (ErrorKind::NotPermitted, Some("not_permitted"))
    );

    assert!(matches!(
        run(Command::Block {
            user: UserId::new("alice")
        })
        .await,
        CommandResult::Ok(_)
    ));
    let blocked = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bot"},
        "content": {"kind": "text", "text": "hi bot"}}),
        )
        .await;
    assert_eq!(blocked["code"], "blocked");
    assert!(matches!(
        run(Command::Unblock {
            user: UserId::new("alice")
        })
        .await,
        CommandResult::Ok(_)
    ));
    let added = run(Command::AddFriend {
        user: UserId::new("bob"),
        greeting: None,
        answer: None,
    })
    .await;
    assert!(matches!(added, CommandResult::Ok(_)), "{added:?}");
    assert!(matches!(
        run(Command::RemoveFriend {
            user: UserId::new("bob")
        })
        .await,
        CommandResult::Ok(_)
    ));
    let gone = run(Command::RemoveFriend {
        user: UserId::new("bob"),
    })
    .await;
    assert!(
        matches!(gone, CommandResult::Failed(ref e) if e.kind == ErrorKind::NotFound),
        "{gone:?}"
    );
    t.stop().await;
}
