//! Recall within the window, owners and admins recalling members' messages, and delete
//! for oneself, through the WebSocket protocol.

mod common;

use common::{Client, TestHub};
use serde_json::{json, Value};
use std::time::Duration;

async fn send(client: &mut Client, to: &str, text: &str) -> String {
    let (kind, id) = to.split_once(':').unwrap();
    let sent = client
        .call(json!({"type": "send", "to": {"kind": kind, "id": id},
            "content": {"kind": "text", "text": text}}))
        .await;
    assert_eq!(sent["type"], "sent", "{sent}");
    sent["message"]["id"]["id"].as_str().unwrap().to_string()
}

async fn texts(client: &mut Client, conversation: Value) -> Vec<String> {
    let page = client
        .call(json!({"type": "history", "conversation": conversation}))
        .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn the_sender_recalls_within_the_window_and_everyone_is_told() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob) = (t.login("alice").await, t.login("bob").await);
    let id = send(&mut alice, "direct:bob", "wrong chat").await;
    assert_eq!(bob.next_text().await, "wrong chat");
    assert_eq!(
        bob.call_err(json!({"type": "recall", "message": id})).await,
        "not_permitted",
        "only the sender recalls a direct message"
    );
    let ok = alice.call(json!({"type": "recall", "message": id})).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let told = bob.event("recalled").await["event"].clone();
    assert_eq!(
        told["conversation"],
        json!({"kind": "direct", "id": "alice"})
    );
    assert_eq!(
        (told["by"].clone(), told["scope"].clone()),
        (json!("alice"), json!("everyone"))
    );
    assert_eq!(told["message"]["id"], id.as_str());
    assert_eq!(
        alice.event("recalled").await["event"]["conversation"]["id"],
        "bob"
    );
    assert!(texts(&mut bob, json!({"kind": "direct", "id": "alice"}))
        .await
        .is_empty());
    assert_eq!(
        alice
            .call_err(json!({"type": "recall", "message": id}))
            .await,
        "conflict"
    );

    let late = send(&mut alice, "direct:bob", "too late to take back").await;
    t.hub.clock().advance(Duration::from_secs(121));
    let refused = alice.call(json!({"type": "recall", "message": late})).await;
    assert_eq!(refused["code"], "recall_window_exceeded", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("120 seconds"),
        "{refused}"
    );
    assert_eq!(
        texts(&mut bob, json!({"kind": "direct", "id": "alice"})).await,
        vec!["too late to take back"]
    );
    let mut carol = t.login("carol").await;
    assert_eq!(
        carol
            .call_err(json!({"type": "recall", "message": late}))
            .await,
        "not_found",
        "a message one cannot see does not exist for them"
    );
    assert_eq!(
        alice
            .call_err(json!({"type": "recall", "message": "m-nope"}))
            .await,
        "not_found"
    );
    t.stop().await;
}

#[actix_web::test]
async fn owners_and_admins_recall_members_group_messages_at_any_time() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob) = (t.login("alice").await, t.login("bob").await);
    let bobs = send(&mut bob, "group:lobby", "an old rant").await;
    let alices = send(&mut alice, "group:lobby", "owner's word").await;
    t.hub.clock().advance(Duration::from_secs(3600));
    assert_eq!(
        bob.call_err(json!({"type": "recall", "message": alices}))
            .await,
        "not_permitted"
    );
    assert_eq!(
        bob.call_err(json!({"type": "recall", "message": bobs}))
            .await,
        "recall_window_exceeded"
    );
    let ok = alice.call(json!({"type": "recall", "message": bobs})).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let told = bob.event("recalled").await["event"].clone();
    assert_eq!(
        (told["by"].clone(), told["conversation"]["id"].clone()),
        (json!("alice"), json!("lobby"))
    );
    assert_eq!(
        texts(&mut bob, json!({"kind": "group", "id": "lobby"})).await,
        vec!["owner's word"]
    );
    t.stop().await;
}

#[actix_web::test]
async fn delete_for_oneself_hides_a_message_from_that_user_only() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob) = (t.login("alice").await, t.login("bob").await);
    let id = send(&mut alice, "direct:bob", "keep or delete").await;
    send(&mut alice, "direct:bob", "second").await;
    let ok = bob
        .call(json!({"type": "delete_message", "message": id}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let told = bob.event("recalled").await["event"].clone();
    assert_eq!(
        (told["by"].clone(), told["scope"].clone()),
        (json!("bob"), json!("self_only"))
    );
    assert_eq!(
        texts(&mut bob, json!({"kind": "direct", "id": "alice"})).await,
        vec!["second"]
    );
    assert_eq!(
        texts(&mut alice, json!({"kind": "direct", "id": "bob"})).await,
        vec!["keep or delete", "second"]
    );
    let again = bob
        .call(json!({"type": "delete_message", "message": id}))
        .await;
    assert_eq!(again["type"], "ok", "deleting twice changes nothing");
    t.stop().await;
}
