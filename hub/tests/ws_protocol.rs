//! The hub's WebSocket protocol and admin API, over a real server on 127.0.0.1.

mod common;

use common::{TestHub, ADMIN_TOKEN};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[actix_web::test]
async fn login_succeeds_with_a_good_token_and_a_bad_one_is_refused_and_closed() {
    let t = TestHub::start(None).await;

    let mut alice = t.client().await;
    let early = alice.request(json!({"type": "ping", "req": "0"})).await;
    assert_eq!(
        early,
        json!({"type": "error", "req": "0", "code": "not_logged_in", "message": early["message"]})
    );
    let ok = alice
        .request(json!({"type": "login", "req": "1", "token": "tok-alice"}))
        .await;
    assert_eq!(
        ok,
        json!({"type": "login_ok", "req": "1", "user": {"id": "alice", "name": "Alice"}, "device": ok["device"]})
    );
    assert!(ok["device"].as_str().unwrap().starts_with("ws-"), "{ok}");
    let again = alice
        .request(json!({"type": "login", "req": "2", "token": "tok-alice"}))
        .await;
    assert_eq!(again["code"], "already_logged_in");

    let mut intruder = t.client().await;
    let refused = intruder
        .request(json!({"type": "login", "req": "1", "token": "wrong"}))
        .await;
    assert_eq!(
        refused,
        json!({"type": "error", "req": "1", "code": "unauthorized", "message": "unknown or invalid token"})
    );
    match intruder.next_raw().await {
        WsMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    t.stop().await;
}

#[actix_web::test]
async fn a_direct_message_reaches_the_recipient_and_the_senders_other_sessions() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut alice_phone = t.login("alice").await;
    let mut bob = t.login("bob").await;

    let sent = alice.say("direct:bob", "hello bob", "c-1").await;
    assert_eq!(sent["type"], "sent");
    assert_eq!(sent["req"], "c-1");
    assert!(sent.get("duplicate").is_none());
    let message = &sent["message"];
    assert_eq!(
        message["conversation"],
        json!({"kind": "direct", "id": "bob"})
    );
    assert_eq!(message["id"]["client_id"], "c-1");
    assert!(message["id"]["seq"].as_u64().unwrap() > 0);
    assert!(message["id"]["id"].is_string());

    let pushed = bob.recv().await;
    assert_eq!(pushed["type"], "message");
    assert_eq!(
        pushed["message"]["conversation"],
        json!({"kind": "direct", "id": "alice"})
    );
    assert_eq!(pushed["message"]["sender"], "alice");
    assert_eq!(
        pushed["message"]["content"],
        json!({"kind": "text", "text": "hello bob"})
    );
    assert_eq!(pushed["message"]["id"], message["id"]);

    let echoed = alice_phone.recv().await;
    assert_eq!(
        echoed["message"]["conversation"],
        json!({"kind": "direct", "id": "bob"})
    );

    // The sending session got its answer only: its next frame answers its next request.
    assert_eq!(
        alice.request(json!({"type": "ping", "req": "p"})).await["type"],
        "pong"
    );

    let later = bob.say("direct:alice", "hi alice", "c-2").await;
    assert!(
        later["message"]["id"]["seq"].as_u64() > message["id"]["seq"].as_u64(),
        "seq increases"
    );
    assert_eq!(alice.next_text().await, "hi alice");
    t.stop().await;
}

#[actix_web::test]
async fn a_group_message_reaches_every_member() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;
    let mut bot = t.login("bot").await;
    let mut carol = t.login("carol").await;

    let sent = bob.say("group:lobby", "hi all", "g-1").await;
    assert_eq!(sent["type"], "sent", "{sent}");
    for member in [&mut alice, &mut bot] {
        let pushed = member.recv().await;
        assert_eq!(
            pushed["message"]["conversation"],
            json!({"kind": "group", "id": "lobby"})
        );
        assert_eq!(pushed["message"]["sender"], "bob");
        assert_eq!(pushed["message"]["content"]["text"], "hi all");
    }

    let refused = carol.say("group:lobby", "let me in", "x-1").await;
    assert_eq!(refused["code"], "not_permitted", "{refused}");
    // carol, not a member, got nothing: her next frame is the answer to her next request.
    assert_eq!(carol.request(json!({"type": "ping"})).await["type"], "pong");

    let groups = bot.request(json!({"type": "groups", "req": "5"})).await;
    assert_eq!(groups["req"], "5");
    assert_eq!(groups["groups"][0]["id"], "lobby");
    let members: Vec<_> = groups["groups"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(members, vec![json!("alice"), json!("bob"), json!("bot")]);
    t.stop().await;
}

#[actix_web::test]
async fn a_resend_with_the_same_client_id_is_stored_and_delivered_once() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    let mut bob = t.login("bob").await;

    let first = alice.say("direct:bob", "once", "same").await;
    let second = alice.say("direct:bob", "once", "same").await;
    assert_eq!(second["type"], "sent");
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["message"], first["message"]);
    alice.say("direct:bob", "marker", "next").await;

    assert_eq!(bob.next_text().await, "once");
    assert_eq!(
        bob.next_text().await,
        "marker",
        "the duplicate was not delivered again"
    );
    let history = bob
        .request(json!({"type": "history", "conversation": {"kind": "direct", "id": "alice"}}))
        .await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        2,
        "the duplicate was not stored again"
    );
    t.stop().await;
}

#[actix_web::test]
async fn history_pages_backwards_oldest_first() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    for i in 1..=5 {
        alice
            .say("direct:bob", &format!("m{i}"), &format!("c{i}"))
            .await;
    }
    let mut bob = t.login("bob").await;
    let texts = |frame: &serde_json::Value| -> Vec<String> {
        frame["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"]["text"].as_str().unwrap().to_string())
            .collect()
    };
    let conversation = json!({"kind": "direct", "id": "alice"});

    let page = bob
        .request(json!({"type": "history", "req": "3", "conversation": conversation, "limit": 2}))
        .await;
    assert_eq!(
        (page["type"].clone(), page["req"].clone()),
        (json!("history"), json!("3"))
    );
    assert_eq!(
        (texts(&page), page["has_more"].clone()),
        (vec!["m4".into(), "m5".into()], json!(true))
    );
    assert_eq!(page["messages"][0]["conversation"], conversation);

    let before = page["messages"][0]["id"]["seq"].clone();
    let page = bob.request(json!({"type": "history", "conversation": conversation, "limit": 2, "before_seq": before})).await;
    assert_eq!(
        (texts(&page), page["has_more"].clone()),
        (vec!["m2".into(), "m3".into()], json!(true))
    );

    let before = page["messages"][0]["id"]["seq"].clone();
    let page = bob.request(json!({"type": "history", "conversation": conversation, "limit": 2, "before_seq": before})).await;
    assert_eq!(
        (texts(&page), page["has_more"].clone()),
        (vec!["m1".into()], json!(false))
    );

    let all = bob
        .request(json!({"type": "history", "conversation": conversation}))
        .await;
    assert_eq!(texts(&all).len(), 5);

    let list = bob
        .request(json!({"type": "conversations", "req": "4"}))
        .await;
    assert_eq!(list["conversations"][0]["conversation"], conversation);
    assert_eq!(list["conversations"][0]["name"], "Alice");
    assert_eq!(
        list["conversations"][0]["last_message"]["content"]["text"],
        "m5"
    );
    assert_eq!(
        list["conversations"][1]["conversation"],
        json!({"kind": "group", "id": "lobby"})
    );
    t.stop().await;
}

#[actix_web::test]
async fn malformed_frames_get_precise_errors_and_the_connection_stays_up() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;

    let e = alice.request_raw("{\"type\": \"ping\",").await;
    assert_eq!(e["code"], "invalid_json");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("frame is not valid JSON: "),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("line 1 column"),
        "{e}"
    );

    let e = alice.request(json!({"type": "dance", "req": "u"})).await;
    assert_eq!(
        (e["code"].clone(), e["req"].clone()),
        (json!("unknown_type"), json!("u"))
    );
    assert!(e["message"].as_str().unwrap().contains("\"dance\""), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("login, send, history, conversations, groups, ping"),
        "{e}"
    );

    let e = alice
        .request(json!({"type": "send", "req": "m", "content": {"kind": "text", "text": "x"}}))
        .await;
    assert_eq!(
        (e["code"].clone(), e["req"].clone()),
        (json!("invalid_request"), json!("m"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("missing field `to`"),
        "{e}"
    );

    alice.send_raw(WsMessage::Binary(vec![1, 2, 3])).await;
    assert_eq!(alice.recv().await["code"], "binary_not_supported");

    let e = alice.say("direct:nobody", "hi", "n-1").await;
    assert_eq!(e["code"], "not_found", "{e}");
    let e = alice.say("direct:bob", "   ", "n-2").await;
    assert_eq!(e["code"], "invalid", "{e}");

    let pong = alice.request(json!({"type": "ping", "req": "6"})).await;
    assert_eq!(pong, json!({"type": "pong", "req": "6"}));
    t.stop().await;
}

#[actix_web::test]
async fn the_admin_api_creates_users_who_can_then_log_in() {
    let t = TestHub::start(Some(ADMIN_TOKEN)).await;
    let body = r#"{"id":"dave","name":"Dave"}"#;

    let (status, error) = t.http("POST", "/hub/admin/users", None, body).await;
    assert_eq!(
        (status, error["code"].clone()),
        (401, json!("unauthorized"))
    );
    let (status, _) = t
        .http("POST", "/hub/admin/users", Some("wrong"), body)
        .await;
    assert_eq!(status, 401);

    let (status, dave) = t
        .http("POST", "/hub/admin/users", Some(ADMIN_TOKEN), body)
        .await;
    assert_eq!(status, 201, "{dave}");
    assert_eq!(
        (dave["id"].clone(), dave["name"].clone()),
        (json!("dave"), json!("Dave"))
    );
    let token = dave["token"].as_str().unwrap();

    let mut client = t.client().await;
    let ok = client
        .request(json!({"type": "login", "token": token}))
        .await;
    assert_eq!(ok["user"], json!({"id": "dave", "name": "Dave"}));

    let (status, error) = t
        .http("POST", "/hub/admin/users", Some(ADMIN_TOKEN), body)
        .await;
    assert_eq!((status, error["code"].clone()), (409, json!("conflict")));
    let (status, error) = t
        .http(
            "POST",
            "/hub/admin/users",
            Some(ADMIN_TOKEN),
            r#"{"id":"no/way"}"#,
        )
        .await;
    assert_eq!((status, error["code"].clone()), (400, json!("invalid")));
    let (status, _) = t
        .http("POST", "/hub/admin/users", Some(ADMIN_TOKEN), "not json")
        .await;
    assert_eq!(status, 400);
    t.stop().await;
}

#[actix_web::test]
async fn without_an_admin_token_the_admin_api_is_refused() {
    let t = TestHub::start(None).await;
    let (status, error) = t
        .http(
            "POST",
            "/hub/admin/users",
            Some("anything"),
            r#"{"id":"dave"}"#,
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no admin token is configured"),
        "{error}"
    );
    t.stop().await;
}
