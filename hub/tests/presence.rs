//! Presence and devices through the WebSocket protocol: online when a user's first device
//! connects, offline when the last one goes, pushed to friends; several devices per user,
//! and the "single" device policy that kicks older sessions.

mod common;

use common::{config, TestHub};
use parley_hub::DevicePolicy;
use serde_json::json;
use std::time::Duration;

async fn befriend(t: &TestHub, a: &str, b: &str) {
    let mut client = t.login(a).await;
    let added = client.call(json!({"type": "add_friend", "user": b})).await;
    assert_eq!(added["request"]["status"], "accepted", "{added}");
    client.close().await;
}

#[actix_web::test]
async fn friends_see_a_user_come_online_with_the_first_device_and_go_with_the_last() {
    let t = TestHub::start(None).await;
    befriend(&t, "alice", "bob").await;
    let mut alice = t.login("alice").await;
    let mut carol = t.login("carol").await;

    let phone = t.login_on("bob", "phone").await;
    let online = alice.event("presence").await;
    assert_eq!(
        online["event"],
        json!({"type": "presence", "user": "bob", "online": true})
    );
    assert!(
        online.get("seq").is_none(),
        "presence is live only: {online}"
    );
    let web = t.login_on("bob", "web").await;
    let answer = alice
        .call(json!({"type": "presence", "users": ["bob", "carol", "dave.x"]}))
        .await;
    assert_eq!(answer["code"], "not_found", "{answer}");
    let answer = alice
        .call(json!({"type": "presence", "users": ["bob", "carol"]}))
        .await;
    assert_eq!(
        answer["presence"],
        json!([{"user": "bob", "online": true}, {"user": "carol", "online": true}])
    );

    // The first device going changes nothing for friends; the last one does.
    phone.close().await;
    t.hub.clock().advance(Duration::from_secs(60));
    let before = t.hub.clock().now_ms();
    web.close().await;
    let offline = alice.event("presence").await;
    assert_eq!(offline["event"]["online"], false, "{offline}");
    let answer = alice
        .call(json!({"type": "presence", "users": ["bob"]}))
        .await;
    assert_eq!(answer["presence"][0]["online"], false);
    assert!(answer["presence"][0]["last_seen_ms"].as_i64().unwrap() >= before);
    // No other presence event reached alice in between (one online, one offline).
    let stray = alice.call(json!({"type": "ping"})).await;
    assert_eq!(stray["type"], "pong");
    // carol is not bob's friend: she heard nothing.
    let events = carol.call(json!({"type": "events"})).await;
    assert_eq!(events["events"], json!([]));
    assert_eq!(
        carol
            .call_err(json!({"type": "presence", "users": []}))
            .await,
        "invalid"
    );
    let wrong = carol.call(json!({"type": "presence", "user": "bob"})).await;
    assert!(
        wrong["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `user`"),
        "{wrong}"
    );
    t.stop().await;
}

#[actix_web::test]
async fn several_devices_each_get_the_messages_and_a_device_logging_in_again_replaces_itself() {
    let t = TestHub::start(None).await;
    let mut phone = t.login_on("bob", "phone").await;
    let mut web = t.login_on("bob", "web").await;
    let mut alice = t.login("alice").await;
    alice.say("direct:bob", "to every device", "c1").await;
    assert_eq!(phone.next_text().await, "to every device");
    assert_eq!(web.next_text().await, "to every device");

    let devices = web.call(json!({"type": "devices"})).await;
    let names: Vec<_> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["device"].as_str().unwrap().to_string(),
                d["online"].clone(),
            )
        })
        .collect();
    assert_eq!(names.len(), 2, "{devices}");
    assert!(names.iter().all(|(_, online)| online == true), "{devices}");

    // The phone reconnects: its old session is replaced, the web session stays.
    let mut phone2 = t.login_on("bob", "phone").await;
    let kicked = phone.recv().await;
    assert_eq!(kicked["type"], "kicked", "{kicked}");
    assert_eq!(kicked["reason"], "kicked: this device logged in again");
    assert_eq!(phone.closed().await.0, 4009);
    alice.say("direct:bob", "again", "c2").await;
    assert_eq!(phone2.next_text().await, "again");
    assert_eq!(web.next_text().await, "again");

    // A bad device name is refused and the socket may still log in.
    let mut client = t.client().await;
    let refused = client
        .request(json!({"type": "login", "token": "tok-carol", "device": "   "}))
        .await;
    assert_eq!(refused["code"], "invalid", "{refused}");
    let ok = client
        .request(json!({"type": "login", "token": "tok-carol"}))
        .await;
    assert_eq!(ok["type"], "login_ok", "{ok}");
    assert!(ok["device"].as_str().unwrap().starts_with("ws-"), "{ok}");
    t.stop().await;
}

#[actix_web::test]
async fn under_the_single_device_policy_a_new_login_kicks_the_older_session() {
    let mut config = config();
    config.device_policy = DevicePolicy::Single;
    let t = TestHub::start_with(None, config).await;
    befriend(&t, "alice", "bob").await;
    let mut alice = t.login("alice").await;

    let mut phone = t.login_on("bob", "phone").await;
    assert_eq!(alice.event("presence").await["event"]["online"], true);
    let mut web = t.login_on("bob", "web").await;
    let kicked = phone.recv().await;
    assert_eq!(
        kicked,
        json!({"type": "kicked", "reason": "kicked by another device", "by": "web"})
    );
    let (code, reason) = phone.closed().await;
    assert_eq!((code, reason.as_str()), (4009, "kicked by another device"));

    // Only the new session gets bob's messages; bob never looked offline to alice.
    alice.say("direct:bob", "hello web", "c1").await;
    assert_eq!(web.next_text().await, "hello web");
    let answer = alice
        .call(json!({"type": "presence", "users": ["bob"]}))
        .await;
    assert_eq!(answer["presence"][0]["online"], true);
    let devices = web.call(json!({"type": "devices"})).await;
    let online: Vec<_> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["online"] == true)
        .map(|d| d["device"].clone())
        .collect();
    assert_eq!(online, vec![json!("web")], "{devices}");
    web.close().await;
    assert_eq!(alice.event("presence").await["event"]["online"], false);
    t.stop().await;
}
