//! Profiles through the WebSocket protocol: reading one's own and others', changing one's
//! own, and the `profile_changed` event to friends.

mod common;

use common::TestHub;
use serde_json::json;

#[actix_web::test]
async fn a_profile_change_reaches_friends_and_everyone_can_read_it() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    let mut carol = t.login("carol").await;
    let added = alice
        .call(json!({"type": "add_friend", "user": "bob"}))
        .await;
    assert_eq!(added["request"]["status"], "accepted", "{added}");
    bob.event("friend_added").await;

    let mine = alice.call(json!({"type": "profile"})).await;
    assert_eq!(mine["type"], "profile", "{mine}");
    assert_eq!(
        mine["profile"],
        json!({"user": "alice", "nickname": "Alice"})
    );

    let set = alice
        .call(json!({"type": "set_profile", "nickname": " Ally ", "avatar_url": "https://example.com/a.png",
            "signature": "hello there", "ext": {"city": "Lyon"}}))
        .await;
    assert_eq!(
        set["profile"],
        json!({"user": "alice", "nickname": "Ally", "avatar_url": "https://example.com/a.png",
            "signature": "hello there", "ext": {"city": "Lyon"}}),
        "{set}"
    );
    let changed = bob.event("profile_changed").await;
    assert_eq!(
        changed["event"],
        json!({"type": "profile_changed", "user": "alice"})
    );
    assert!(changed["seq"].is_u64(), "stored in the feed: {changed}");
    alice.event("profile_changed").await;

    // Anyone reads anyone's profile; the nickname is the name others see.
    let read = carol
        .call(json!({"type": "profile", "user": "alice"}))
        .await;
    assert_eq!(read["profile"]["nickname"], "Ally");
    assert_eq!(read["profile"]["ext"]["city"], "Lyon");
    let friends = bob.call(json!({"type": "friends"})).await;
    assert_eq!(friends["friends"][0]["name"], "Ally", "{friends}");

    // Clearing fields; setting the same values again changes nothing and sends nothing.
    let cleared = alice
        .call(json!({"type": "set_profile", "avatar_url": "", "ext": {}}))
        .await;
    assert_eq!(
        cleared["profile"],
        json!({"user": "alice", "nickname": "Ally", "signature": "hello there"})
    );
    bob.event("profile_changed").await;
    alice
        .call(json!({"type": "set_profile", "signature": "hello there"}))
        .await;
    let events = bob.call(json!({"type": "events"})).await;
    let profile_events = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "profile_changed")
        .count();
    assert_eq!(profile_events, 2, "{events}");
    // carol is not alice's friend: nothing for her.
    let events = carol.call(json!({"type": "events"})).await;
    assert_eq!(events["events"], json!([]), "{events}");
    t.stop().await;
}

#[actix_web::test]
async fn profile_requests_refuse_what_is_wrong_and_change_nothing() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    assert_eq!(
        alice
            .call_err(json!({"type": "profile", "user": "nobody"}))
            .await,
        "not_found"
    );
    for (frame, code, words) in [
        (json!({"type": "set_profile"}), "invalid", "at least one"),
        (
            json!({"type": "set_profile", "nickname": "  "}),
            "invalid",
            "blank",
        ),
        (
            json!({"type": "set_profile", "ext": [1]}),
            "invalid",
            "JSON object",
        ),
        (
            json!({"type": "set_profile", "signature": "x".repeat(513)}),
            "invalid",
            "at most 512",
        ),
        (
            json!({"type": "set_profile", "nickname": "A", "bio": "x"}),
            "invalid_request",
            "unknown field `bio`",
        ),
        (
            json!({"type": "set_profile", "nickname": 7}),
            "invalid_request",
            "field `nickname`",
        ),
        (
            json!({"type": "profile", "id": "bob"}),
            "invalid_request",
            "unknown field `id`",
        ),
    ] {
        let answer = alice.call(frame.clone()).await;
        assert_eq!(answer["code"], code, "{frame} -> {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(words),
            "{frame} -> {answer}"
        );
    }
    // A refused request with a valid field beside a bad one applied nothing.
    let refused = alice
        .call(json!({"type": "set_profile", "nickname": "Changed", "ext": "nope"}))
        .await;
    assert_eq!(refused["code"], "invalid");
    let mine = alice.call(json!({"type": "profile"})).await;
    assert_eq!(mine["profile"]["nickname"], "Alice");
    t.stop().await;
}
