//! Profile and presence events reach a bot through the engine.

mod common;

use common::bot::Bot;
use common::TestHub;
use parley_engine::model::Event;
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
