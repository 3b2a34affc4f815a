//! Profile and presence events reach a bot through the engine.

mod common;

use common::bot::Bot;
use common::TestHub;
use parley_engine::model::{
    Command, CommandResult, ConnectionState, Content, ConversationId, ErrorKind, Event, SendOptions,
};
use parley_hub::DevicePolicy;
use serde_json::json;

#[actix_web::test]
async fn a_bot_hears_that_a_friend_changed_their_profile() {
    let t = TestHub::start(None).await;
    let mut bot = Bot::start(&t, "bot", |_| vec![]).await;
    let mut alice = t.login("alice").await;
    alice
        .call(json!({"type": "add_friend", "user": "bot"}))
        .await;
    bot.handled(|e| matches!(&e.event, Event::FriendAdded { user } if user.as_str() == "alice"))
        .await;
    alice
        .call(json!({"type": "set_profile", "signature": "on holiday"}))
        .await;
    let changed = bot
        .handled(|e| matches!(&e.event, Event::ProfileChanged { user } if user.as_str() == "alice"))
        .await;
    assert!(!changed.from_self);
    assert!(changed.id.0.starts_with("ev:"));
    bot.stop().await;
    t.stop().await;
}

#[actix_web::test]
async fn a_bot_sees_its_friends_come_online_and_go_offline() {
    let t = TestHub::start(None).await;
    let mut bot = Bot::start(&t, "bot", |_| vec![]).await;
    let alice = t.login("alice").await;
    let added = {
        let mut alice = alice;
        let added = alice
            .call(json!({"type": "add_friend", "user": "bot"}))
            .await;
        alice.close().await;
        added
    };
    assert_eq!(added["request"]["status"], "accepted", "{added}");
    bot.handled(
        |e| matches!(&e.event, Event::Presence { user, online: false } if user.as_str() == "alice"),
    )
    .await;
    let _alice = t.login_on("alice", "phone").await;
    let online = bot
        .handled(|e| matches!(&e.event, Event::Presence { user, online: true } if user.as_str() == "alice"))
        .await;
    assert!(!online.from_self);
    bot.stop().await;
    t.stop().await;
}

#[actix_web::test]
async fn under_the_single_device_policy_a_login_kicks_the_bots_session() {
    let mut config = common::config();
    config.device_policy = DevicePolicy::Single;
    let t = TestHub::start_with(None, config).await;
    let mut bot = Bot::start(&t, "bot", |e| match &e.event {
        // Kicked: the bot tries to say so, which the hub refuses.
        Event::Connection(ConnectionState::Kicked) => vec![Command::Send {
            to: ConversationId::direct("alice"),
            content: Content::text("I was kicked"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        }],
        _ => vec![],
    })
    .await;
    bot.handled(|e| matches!(e.event, Event::Connection(ConnectionState::Connected)))
        .await;
    let mut alice = t.login("alice").await;
    let mut human = t.login_on("bot", "laptop").await;
    bot.handled(|e| matches!(e.event, Event::Connection(ConnectionState::Kicked)))
        .await;
    let result = bot
        .handled(|e| matches!(e.event, Event::CommandResult { .. }))
        .await;
    let Event::CommandResult { result, .. } = &result.event else {
        unreachable!()
    };
    let CommandResult::Failed(error) = result else {
        panic!("the kicked session's send went through: {result:?}")
    };
    assert_eq!(error.kind, ErrorKind::NotPermitted);
    assert_eq!(error.platform_code.as_deref(), Some("kicked"));
    assert!(
        error.message.contains("kicked by another device"),
        "{error:?}"
    );
    // The new session is the bot user's only one: it gets alice's message.
    alice.say("direct:bot", "who is there?", "c1").await;
    assert_eq!(human.next_text().await, "who is there?");
    bot.stop().await;
    t.stop().await;
}
