//! Read marks, unread counts, group readers, delivery receipts, typing, and the
//! conversation list's pin and mute, through the WebSocket protocol.

mod common;

use common::{Client, TestHub};
use serde_json::{json, Value};

async fn send(client: &mut Client, to: &str, text: &str) -> Value {
    let (kind, id) = to.split_once(':').unwrap();
    let sent = client
        .call(json!({"type": "send", "to": {"kind": kind, "id": id},
            "content": {"kind": "text", "text": text}}))
        .await;
    assert_eq!(sent["type"], "sent", "{sent}");
    sent["message"]["id"].clone()
}

async fn ok(client: &mut Client, frame: Value) {
    let answer = client.call(frame.clone()).await;
    assert_eq!(answer["type"], "ok", "{frame} -> {answer}");
}

/// (conversation, unread, pinned) of each entry of the user's conversation list.
async fn listing(client: &mut Client) -> Vec<(String, u64, bool)> {
    let list = client.call(json!({"type": "conversations"})).await;
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!(
                    "{}:{}",
                    c["conversation"]["kind"].as_str().unwrap(),
                    c["conversation"]["id"].as_str().unwrap()
                ),
                c["unread"].as_u64().unwrap(),
                c["pinned"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn read_marks_move_unread_counts_and_tell_the_sender() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob) = (t.login("alice").await, t.login("bob").await);
    send(&mut alice, "direct:bob", "one").await;
    let two = send(&mut alice, "direct:bob", "two").await;
    send(&mut alice, "direct:bob", "three").await;
    assert_eq!(
        listing(&mut bob).await,
        vec![
            ("direct:alice".into(), 3, false),
            ("group:lobby".into(), 0, false)
        ]
    );
    ok(
        &mut bob,
        json!({"type": "mark_read", "conversation": {"kind": "direct", "id": "alice"},
        "up_to_seq": two["seq"]}),
    )
    .await;
    let receipt = alice.event("read_receipt").await;
    assert_eq!(
        receipt["event"],
        json!({"type": "read_receipt", "conversation": {"kind": "direct", "id": "bob"},
            "reader": "bob", "read": {"mode": "up_to", "time_ms": two["time_ms"]}})
    );
    assert!(
        receipt["seq"].is_u64(),
        "read receipts are stored: {receipt}"
    );
    assert_eq!(listing(&mut bob).await[0].1, 1);
    ok(
        &mut bob,
        json!({"type": "mark_read", "conversation": {"kind": "direct", "id": "alice"}}),
    )
    .await;
    assert_eq!(listing(&mut bob).await[0].1, 0);
    alice.event("read_receipt").await;
    assert_eq!(
        listing(&mut alice).await[0].1,
        0,
        "one's own messages are never unread"
    );
    assert_eq!(
        bob.call_err(json!({"type": "mark_read", "conversation": {"kind": "group", "id": "nope"}}))
            .await,
        "not_found"
    );

    // Groups: the sender learns who read; read_by lists readers and the rest.
    let hello = send(&mut alice, "group:lobby", "hello all").await;
    ok(
        &mut bob,
        json!({"type": "mark_read", "conversation": {"kind": "group", "id": "lobby"}}),
    )
    .await;
    let receipt = alice.event("read_receipt").await;
    assert_eq!(
        receipt["event"]["conversation"],
        json!({"kind": "group", "id": "lobby"})
    );
    assert_eq!(receipt["event"]["reader"], "bob");
    let readers = alice
        .call(json!({"type": "read_by", "message": hello["id"]}))
        .await;
    assert_eq!(
        (readers["read"].clone(), readers["unread"].clone()),
        (json!(["bob"]), json!(["bot"])),
        "{readers}"
    );
    let mut carol = t.login("carol").await;
    assert_eq!(
        carol
            .call_err(json!({"type": "read_by", "message": hello["id"]}))
            .await,
        "not_found"
    );
    t.stop().await;
}

#[actix_web::test]
async fn delivery_receipts_typing_pins_and_mutes() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob) = (t.login("alice").await, t.login("bob").await);
    let hi = send(&mut alice, "direct:bob", "hi").await;
    ok(
        &mut bob,
        json!({"type": "delivered", "conversation": {"kind": "direct", "id": "alice"},
        "messages": [hi["id"]]}),
    )
    .await;
    let receipt = alice.event("delivery_receipt").await;
    assert_eq!(receipt["event"]["recipient"], "bob");
    assert_eq!(
        receipt["event"]["conversation"],
        json!({"kind": "direct", "id": "bob"})
    );
    assert_eq!(receipt["event"]["messages"][0]["id"], hi["id"]);
    assert_eq!(
        alice
            .call_err(
                json!({"type": "delivered", "conversation": {"kind": "direct", "id": "bob"},
                "messages": [hi["id"]]})
            )
            .await,
        "not_found",
        "only the recipient confirms delivery"
    );

    ok(
        &mut alice,
        json!({"type": "typing", "to": "bob", "typing": true}),
    )
    .await;
    let typing = bob.event("typing").await;
    assert_eq!(
        typing["event"],
        json!({"type": "typing", "conversation": {"kind": "direct", "id": "alice"},
        "user": "alice", "typing": true})
    );
    assert!(
        typing.get("seq").is_none(),
        "typing is not stored: {typing}"
    );
    let feed = bob.call(json!({"type": "events"})).await;
    assert!(
        feed["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event"]["type"] != "typing"),
        "{feed}"
    );
    bob.call(json!({"type": "block", "user": "alice"})).await;
    assert_eq!(
        alice
            .call_err(json!({"type": "typing", "to": "bob", "typing": true}))
            .await,
        "blocked"
    );

    ok(
        &mut bob,
        json!({"type": "set_conversation", "conversation": {"kind": "group", "id": "lobby"},
        "pinned": true, "muted": true}),
    )
    .await;
    let list = bob.call(json!({"type": "conversations"})).await;
    let first = &list["conversations"][0];
    assert_eq!(first["conversation"]["id"], "lobby", "pinned first: {list}");
    assert_eq!(
        (first["pinned"].clone(), first["muted"].clone()),
        (json!(true), json!(true))
    );
    ok(
        &mut bob,
        json!({"type": "set_conversation", "conversation": {"kind": "group", "id": "lobby"},
        "pinned": false}),
    )
    .await;
    assert_eq!(listing(&mut bob).await[0].0, "direct:alice");
    t.stop().await;
}
