//! Friends through the WebSocket protocol: the friend gate, requests, answers, expiry,
//! removal, aliases and blocks, and who may message whom.

mod common;

use common::TestHub;
use serde_json::json;
use std::time::Duration;

async fn set_gate(client: &mut common::Client, settings: serde_json::Value) {
    let mut frame = settings;
    frame["type"] = json!("settings");
    let answer = client.call(frame).await;
    assert_eq!(answer["type"], "settings", "{answer}");
}

#[actix_web::test]
async fn approval_gate_request_accept_alias_and_messages() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    set_gate(&mut bob, json!({"friend_auth": "approval"})).await;

    // A stranger may not message someone whose gate is not `anyone`.
    let refused = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bob"},
        "content": {"kind": "text", "text": "hi"}}),
        )
        .await;
    assert_eq!(refused["code"], "not_permitted", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("friends only"),
        "{refused}"
    );

    let sent = alice
        .call(json!({"type": "add_friend", "user": "bob", "greeting": "hello, it's alice"}))
        .await;
    assert_eq!(sent["type"], "friend_request", "{sent}");
    assert_eq!(sent["request"]["status"], "pending");
    let id = sent["request"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        alice
            .call_err(json!({"type": "add_friend", "user": "bob"}))
            .await,
        "conflict",
        "one pending request at a time"
    );

    let pushed = bob.event("friend_request").await;
    assert_eq!(pushed["event"]["request"], id.as_str());
    assert_eq!(pushed["event"]["from"], "alice");
    assert_eq!(pushed["event"]["greeting"], "hello, it's alice");
    let listed = bob.call(json!({"type": "friend_requests"})).await;
    assert_eq!(listed["requests"][0]["id"], id.as_str());

    assert_eq!(
        alice
            .call_err(json!({"type": "answer_friend_request", "request": id, "accept": true}))
            .await,
        "not_permitted",
        "only the target answers"
    );
    let answered = bob
        .call(json!({"type": "answer_friend_request", "request": id, "accept": true, "remark": "welcome"}))
        .await;
    assert_eq!(answered["request"]["status"], "accepted", "{answered}");
    let told = alice.event("friend_request_answered").await;
    assert_eq!(told["event"]["accepted"], true);
    assert_eq!(told["event"]["remark"], "welcome");
    assert_eq!(alice.event("friend_added").await["event"]["user"], "bob");
    assert_eq!(bob.event("friend_added").await["event"]["user"], "alice");

    let sent = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bob"},
        "content": {"kind": "text", "text": "now we are friends"}}),
        )
        .await;
    assert_eq!(sent["type"], "sent", "{sent}");

    let ok = alice
        .call(json!({"type": "set_friend_alias", "user": "bob", "alias": "Bobby"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let friends = alice.call(json!({"type": "friends"})).await;
    assert_eq!(
        friends["friends"],
        json!([{"id": "bob", "name": "Bob", "alias": "Bobby"}])
    );
    let friends = bob.call(json!({"type": "friends"})).await;
    assert_eq!(
        friends["friends"],
        json!([{"id": "alice", "name": "Alice", "alias": null}])
    );
    t.stop().await;
}

#[actix_web::test]
async fn question_and_nobody_gates() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    let mut carol = t.login("carol").await;
    set_gate(&mut bob, json!({"friend_auth": "question", "friend_question": "Favourite colour?", "friend_answer": "Blue"})).await;
    assert_eq!(
        alice
            .call_err(json!({"type": "add_friend", "user": "bob"}))
            .await,
        "invalid",
        "the question needs an answer"
    );
    assert_eq!(
        alice
            .call_err(json!({"type": "add_friend", "user": "bob", "answer": "red"}))
            .await,
        "not_permitted"
    );
    let ok = alice
        .call(json!({"type": "add_friend", "user": "bob", "answer": " blue "}))
        .await;
    assert_eq!(ok["request"]["status"], "accepted", "{ok}");
    assert_eq!(bob.event("friend_added").await["event"]["user"], "alice");

    // A question without an expected answer: the target reads the answer and decides.
    set_gate(
        &mut carol,
        json!({"friend_auth": "question", "friend_question": "Why?"}),
    )
    .await;
    let pending = alice
        .call(json!({"type": "add_friend", "user": "carol", "answer": "because"}))
        .await;
    assert_eq!(pending["request"]["status"], "pending");
    let asked = carol.event("friend_request").await;
    assert_eq!(
        (
            asked["event"]["question"].as_str(),
            asked["event"]["answer"].as_str()
        ),
        (Some("Why?"), Some("because"))
    );

    set_gate(&mut carol, json!({"friend_auth": "nobody"})).await;
    assert_eq!(
        bob.call_err(json!({"type": "add_friend", "user": "carol"}))
            .await,
        "not_permitted"
    );
    assert_eq!(
        bob.call_err(json!({"type": "add_friend", "user": "nobody"}))
            .await,
        "not_found"
    );
    assert_eq!(
        bob.call_err(json!({"type": "add_friend", "user": "bob"}))
            .await,
        "invalid"
    );
    assert_eq!(
        carol
            .call_err(json!({"type": "settings", "friend_auth": "sometimes"}))
            .await,
        "invalid_request"
    );
    t.stop().await;
}

#[actix_web::test]
async fn decline_expiry_and_the_event_feed() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    set_gate(&mut bob, json!({"friend_auth": "approval"})).await;
    let first = alice
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    let id = first["request"]["id"].as_str().unwrap().to_string();
    let declined = bob
        .call(json!({"type": "answer_friend_request", "request": id, "accept": false, "remark": "sorry"}))
        .await;
    assert_eq!(declined["request"]["status"], "declined");
    let told = alice.event("friend_request_answered").await;
    assert_eq!(
        (
            told["event"]["accepted"].as_bool(),
            told["event"]["remark"].as_str()
        ),
        (Some(false), Some("sorry"))
    );
    assert_eq!(
        bob.call_err(json!({"type": "answer_friend_request", "request": id, "accept": true}))
            .await,
        "conflict"
    );

    let second = alice
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    let id = second["request"]["id"].as_str().unwrap().to_string();
    t.hub.clock().advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(
        bob.call_err(json!({"type": "answer_friend_request", "request": id, "accept": true}))
            .await,
        "expired"
    );
    assert_eq!(
        bob.call(json!({"type": "friend_requests"})).await["requests"],
        json!([])
    );

    // Everything bob was told is in his feed, in order, for a client that was offline.
    let feed = bob.call(json!({"type": "events", "after_seq": 0})).await;
    let kinds: Vec<_> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "friend_request",
            "friend_request_answered",
            "friend_request"
        ]
    );
    let last_seq = feed["events"][1]["seq"].as_u64().unwrap();
    let page = bob
        .call(json!({"type": "events", "after_seq": last_seq, "limit": 5}))
        .await;
    assert_eq!(
        (
            page["events"].as_array().unwrap().len(),
            page["has_more"].as_bool()
        ),
        (1, Some(false))
    );
    t.stop().await;
}

#[actix_web::test]
async fn block_refuses_messages_and_requests_and_remove_ends_the_friendship() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    alice
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    bob.event("friend_added").await;

    let ok = bob.call(json!({"type": "block", "user": "alice"})).await;
    assert_eq!(ok["type"], "ok");
    let changed = bob.event("block_changed").await;
    assert_eq!(
        changed["event"],
        json!({"type": "block_changed", "by": "bob", "user": "alice", "blocked": true})
    );
    let refused = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bob"},
        "content": {"kind": "text", "text": "hello?"}}),
        )
        .await;
    assert_eq!(refused["code"], "blocked", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("has blocked"),
        "{refused}"
    );
    assert_eq!(
        bob.call(json!({"type": "friends"})).await["blocked"],
        json!(["alice"])
    );

    bob.call(json!({"type": "unblock", "user": "alice"})).await;
    assert_eq!(bob.event("block_changed").await["event"]["blocked"], false);
    let sent = alice
        .call(
            json!({"type": "send", "to": {"kind": "direct", "id": "bob"},
        "content": {"kind": "text", "text": "hello again"}}),
        )
        .await;
    assert_eq!(sent["type"], "sent", "{sent}");

    let ok = alice
        .call(json!({"type": "remove_friend", "user": "bob"}))
        .await;
    assert_eq!(ok["type"], "ok");
    assert_eq!(alice.event("friend_removed").await["event"]["user"], "bob");
    assert_eq!(bob.event("friend_removed").await["event"]["user"], "alice");
    assert_eq!(
        alice
            .call_err(json!({"type": "remove_friend", "user": "bob"}))
            .await,
        "not_found"
    );
    assert_eq!(
        alice.call(json!({"type": "friends"})).await["friends"],
        json!([])
    );
    t.stop().await;
}

#[actix_web::test]
async fn malformed_friend_requests_name_the_field() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let answer = alice
        .call(json!({"type": "add_friend", "user": "bob", "greting": "hi"}))
        .await;
    assert_eq!(answer["code"], "invalid_request");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `greting`"),
        "{answer}"
    );
    let answer = alice.call(json!({"type": "block", "user": 7})).await;
    assert!(
        answer["message"].as_str().unwrap().contains("field `user`"),
        "{answer}"
    );
    t.stop().await;
}

#[actix_web::test]
async fn friend_requests_expire_after_the_configured_time() {
    let mut config = common::config();
    config.friend_request_ttl_secs = Some(60);
    let t = TestHub::start_with(None, config).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    set_gate(&mut bob, json!({"friend_auth": "approval"})).await;
    let sent = alice
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    let request = &sent["request"];
    assert_eq!(
        request["expires_ms"].as_i64().unwrap() - request["created_ms"].as_i64().unwrap(),
        60_000,
        "{sent}"
    );
    let id = request["id"].as_str().unwrap().to_string();

    // Still open just before the deadline (checked without answering it)...
    t.hub.clock().advance(Duration::from_secs(59));
    let listed = bob.call(json!({"type": "friend_requests"})).await;
    assert_eq!(listed["requests"][0]["id"], id.as_str(), "{listed}");
    // ...expired after it: answering it is refused and changes nothing.
    t.hub.clock().advance(Duration::from_secs(2));
    let refused = bob
        .call(json!({"type": "answer_friend_request", "request": id, "accept": true}))
        .await;
    assert_eq!(refused["code"], "expired", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("has expired"),
        "{refused}"
    );
    let friends = bob.call(json!({"type": "friends"})).await;
    assert_eq!(friends["friends"], json!([]));
    assert_eq!(
        bob.call(json!({"type": "friend_requests"})).await["requests"],
        json!([])
    );
    // The expired request no longer blocks a new one.
    let again = alice
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    assert_eq!(again["request"]["status"], "pending", "{again}");
    t.stop().await;
}
