//! Groups and chat rooms through the WebSocket protocol: create, roles, invitations,
//! applications, kicks, leaving, dismissing, info, announcement, capacity and mutes.

mod common;

use common::{Client, TestHub};
use serde_json::{json, Value};
use std::time::Duration;

async fn ok(client: &mut Client, frame: Value) {
    let answer = client.call(frame.clone()).await;
    assert_eq!(answer["type"], "ok", "{frame} -> {answer}");
}

/// The next group notice of `kind` the client receives.
async fn notice(client: &mut Client, kind: &str) -> Value {
    loop {
        let frame = client.event("group_notice").await;
        if frame["event"]["kind"] == kind {
            return frame["event"].clone();
        }
    }
}

async fn members(client: &mut Client, group: &str) -> Vec<(String, String)> {
    let info = client
        .call(json!({"type": "group_info", "group": group}))
        .await;
    assert_eq!(info["type"], "group", "{info}");
    info["group"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn text(client: &mut Client, group: &str, text: &str) -> Value {
    client
        .call(json!({"type": "send", "to": {"kind": "group", "id": group},
            "content": {"kind": "text", "text": text}}))
        .await
}

#[actix_web::test]
async fn a_public_group_from_creation_to_dismissal() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob, mut carol) = (
        t.login("alice").await,
        t.login("bob").await,
        t.login("carol").await,
    );

    let created = alice
        .call(
            json!({"type": "create_group", "id": "team", "kind": "public", "name": "Team",
            "members": ["bob"], "description": "the team"}),
        )
        .await;
    assert_eq!(created["type"], "group", "{created}");
    assert_eq!(created["group"]["kind"], "public");
    assert_eq!(created["group"]["join_policy"], "approval");
    assert_eq!(created["group"]["member_count"], 2);
    let n = notice(&mut bob, "created").await;
    assert_eq!(
        (n["group"].clone(), n["operator"].clone()),
        (json!("team"), json!("alice"))
    );
    assert_eq!(n["targets"], json!(["bob"]));
    assert!(n["time_ms"].as_i64().unwrap() > 0);
    assert_eq!(
        alice
            .call_err(json!({"type": "create_group", "id": "team", "name": "Again"}))
            .await,
        "conflict"
    );

    // A member may not manage; the owner appoints an admin who then may.
    assert_eq!(
        bob.call_err(json!({"type": "set_announcement", "group": "team", "text": "hi"}))
            .await,
        "not_permitted"
    );
    ok(
        &mut alice,
        json!({"type": "set_admin", "group": "team", "user": "bob", "admin": true}),
    )
    .await;
    assert_eq!(
        notice(&mut bob, "admin_added").await["targets"],
        json!(["bob"])
    );
    ok(
        &mut bob,
        json!({"type": "set_announcement", "group": "team", "text": "standup at 10"}),
    )
    .await;
    assert_eq!(
        notice(&mut alice, "announcement_changed").await["text"],
        "standup at 10"
    );

    // carol applies; the admins are asked; bob accepts.
    let joined = carol
        .call(json!({"type": "join_group", "group": "team", "message": "let me in"}))
        .await;
    assert_eq!(joined["status"], "pending", "{joined}");
    let request = joined["request"]["id"].as_str().unwrap().to_string();
    let asked = alice.event("group_join_request").await;
    assert_eq!(asked["event"]["reason"], "let me in");
    assert_eq!(
        bob.event("group_join_request").await["event"]["request"],
        request.as_str()
    );
    let listed = bob.call(json!({"type": "group_requests"})).await;
    assert_eq!(listed["requests"][0]["id"], request.as_str(), "{listed}");
    assert_eq!(
        carol
            .call_err(json!({"type": "answer_join_request", "request": request, "accept": true}))
            .await,
        "not_permitted",
        "only the owner and admins answer"
    );
    ok(
        &mut bob,
        json!({"type": "answer_join_request", "request": request, "accept": true}),
    )
    .await;
    let answered = carol.event("group_request_answered").await;
    assert_eq!(
        (
            answered["event"]["by"].clone(),
            answered["event"]["accepted"].clone()
        ),
        (json!("bob"), json!(true))
    );
    let n = notice(&mut alice, "member_joined").await;
    assert_eq!(
        (n["operator"].clone(), n["targets"].clone()),
        (json!("bob"), json!(["carol"]))
    );
    assert_eq!(
        bob.call_err(json!({"type": "answer_join_request", "request": request, "accept": false}))
            .await,
        "conflict"
    );
    assert_eq!(
        members(&mut carol, "team").await,
        pairs(&[("alice", "owner"), ("bob", "admin"), ("carol", "member")])
    );

    // An admin kicks a member (who is told) but not the owner.
    assert_eq!(
        bob.call_err(json!({"type": "kick", "group": "team", "users": ["alice"]}))
            .await,
        "not_permitted"
    );
    ok(
        &mut bob,
        json!({"type": "kick", "group": "team", "users": ["carol"]}),
    )
    .await;
    let n = notice(&mut carol, "member_kicked").await;
    assert_eq!(
        (n["operator"].clone(), n["targets"].clone()),
        (json!("bob"), json!(["carol"]))
    );
    assert_eq!(
        text(&mut carol, "team", "still here?").await["code"],
        "not_permitted"
    );

    // The owner hands over, leaves; the new owner dismisses.
    assert_eq!(
        alice
            .call_err(json!({"type": "leave_group", "group": "team"}))
            .await,
        "not_permitted",
        "the owner transfers or dismisses instead"
    );
    ok(
        &mut alice,
        json!({"type": "transfer_owner", "group": "team", "user": "bob"}),
    )
    .await;
    assert_eq!(
        notice(&mut bob, "owner_transferred").await["targets"],
        json!(["bob"])
    );
    ok(&mut alice, json!({"type": "leave_group", "group": "team"})).await;
    let n = notice(&mut bob, "member_left").await;
    assert_eq!(n["operator"], "alice");
    assert_eq!(members(&mut bob, "team").await, pairs(&[("bob", "owner")]));
    ok(&mut bob, json!({"type": "dismiss", "group": "team"})).await;
    notice(&mut bob, "dismissed").await;
    assert_eq!(text(&mut bob, "team", "anyone?").await["code"], "not_found");
    assert_eq!(
        bob.call_err(json!({"type": "group_info", "group": "team"}))
            .await,
        "not_found"
    );
    t.stop().await;
}

#[actix_web::test]
async fn a_mute_ends_by_the_hub_clock_and_mute_all_leaves_managers_speaking() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob) = (t.login("alice").await, t.login("bob").await);

    ok(
        &mut alice,
        json!({"type": "mute", "group": "lobby", "user": "bob", "seconds": 60}),
    )
    .await;
    let n = notice(&mut bob, "member_muted").await;
    assert!(
        n["until_ms"].as_i64().unwrap() > n["time_ms"].as_i64().unwrap() + 59_000,
        "{n}"
    );
    let refused = text(&mut bob, "lobby", "let me talk").await;
    assert_eq!(refused["code"], "muted", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("60 more seconds"),
        "{refused}"
    );
    assert_eq!(
        bob.call_err(json!({"type": "mute", "group": "lobby", "user": "alice", "seconds": 60}))
            .await,
        "not_permitted"
    );
    t.hub.clock().advance(Duration::from_secs(61));
    assert_eq!(text(&mut bob, "lobby", "free again").await["type"], "sent");

    ok(
        &mut alice,
        json!({"type": "mute_all", "group": "lobby", "muted": true}),
    )
    .await;
    notice(&mut bob, "all_muted").await;
    assert_eq!(text(&mut bob, "lobby", "hello?").await["code"], "muted");
    assert_eq!(
        text(&mut alice, "lobby", "the owner speaks").await["type"],
        "sent"
    );
    ok(
        &mut alice,
        json!({"type": "set_admin", "group": "lobby", "user": "bob", "admin": true}),
    )
    .await;
    assert_eq!(text(&mut bob, "lobby", "as admin").await["type"], "sent");
    ok(
        &mut alice,
        json!({"type": "set_admin", "group": "lobby", "user": "bob", "admin": false}),
    )
    .await;
    ok(
        &mut alice,
        json!({"type": "mute_all", "group": "lobby", "muted": false}),
    )
    .await;
    notice(&mut bob, "all_unmuted").await;
    assert_eq!(text(&mut bob, "lobby", "back").await["type"], "sent");

    ok(
        &mut alice,
        json!({"type": "mute", "group": "lobby", "user": "bob", "seconds": 600}),
    )
    .await;
    ok(
        &mut alice,
        json!({"type": "unmute", "group": "lobby", "user": "bob"}),
    )
    .await;
    notice(&mut bob, "member_unmuted").await;
    assert_eq!(text(&mut bob, "lobby", "unmuted").await["type"], "sent");
    t.stop().await;
}

#[actix_web::test]
async fn invitations_wait_for_invitees_who_ask_and_nothing_is_half_applied() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob, mut carol) = (
        t.login("alice").await,
        t.login("bob").await,
        t.login("carol").await,
    );
    let set = carol
        .call(json!({"type": "settings", "invite_confirm": true}))
        .await;
    assert_eq!(set["settings"]["invite_confirm"], true);

    // One unknown user refuses the whole invitation.
    assert_eq!(
        bob.call_err(json!({"type": "invite", "group": "lobby", "users": ["carol", "nobody"]}))
            .await,
        "not_found"
    );
    let pending = carol.call(json!({"type": "group_requests"})).await;
    assert_eq!(pending["requests"], json!([]), "nothing was applied");

    // Members of a private group may invite.
    let invited = bob
        .call(json!({"type": "invite", "group": "lobby", "users": ["carol"]}))
        .await;
    assert_eq!(invited["added"], json!([]), "{invited}");
    let request = invited["invited"][0]["id"].as_str().unwrap().to_string();
    let event = carol.event("group_invitation").await;
    assert_eq!(
        (
            event["event"]["inviter"].clone(),
            event["event"]["invitee"].clone()
        ),
        (json!("bob"), json!("carol"))
    );
    assert_eq!(
        bob.call_err(json!({"type": "answer_invitation", "request": request, "accept": true}))
            .await,
        "not_permitted",
        "only the invitee answers"
    );
    assert_eq!(
        alice
            .call_err(json!({"type": "answer_invitation", "request": request, "accept": true}))
            .await,
        "not_found"
    );
    ok(
        &mut carol,
        json!({"type": "answer_invitation", "request": request, "accept": true}),
    )
    .await;
    let n = notice(&mut alice, "member_joined").await;
    assert_eq!(
        (n["operator"].clone(), n["targets"].clone()),
        (json!("bob"), json!(["carol"]))
    );
    assert_eq!(
        bob.event("group_request_answered").await["event"]["accepted"],
        true
    );
    assert_eq!(text(&mut carol, "lobby", "thanks").await["type"], "sent");

    // Private groups take no applications; unknown groups are not found.
    let dave = t.hub.create_user("dave", None).await.unwrap();
    let mut dave_client = t.client().await;
    dave_client
        .call(json!({"type": "login", "token": dave.token}))
        .await;
    assert_eq!(
        dave_client
            .call_err(json!({"type": "join_group", "group": "lobby"}))
            .await,
        "not_permitted"
    );
    assert_eq!(
        dave_client
            .call_err(json!({"type": "join_group", "group": "nope"}))
            .await,
        "not_found"
    );
    assert_eq!(
        dave_client
            .call_err(json!({"type": "group_info", "group": "lobby"}))
            .await,
        "not_permitted",
        "a private group is visible to its members only"
    );
    t.stop().await;
}

#[actix_web::test]
async fn capacity_info_policy_and_chat_rooms() {
    let t = TestHub::start(None).await;
    let (mut alice, mut bob, mut carol) = (
        t.login("alice").await,
        t.login("bob").await,
        t.login("carol").await,
    );

    let small = alice
        .call(json!({"type": "create_group", "name": "Pair", "members": ["bob"], "capacity": 2}))
        .await;
    let pair = small["group"]["id"].as_str().unwrap().to_string();
    assert!(pair.starts_with('g'), "{small}");
    assert_eq!(
        alice
            .call_err(json!({"type": "invite", "group": pair, "users": ["carol"]}))
            .await,
        "group_full"
    );
    assert_eq!(members(&mut alice, &pair).await.len(), 2);

    // Info: admins only by default; the owner lets members change it.
    assert_eq!(
        bob.call_err(json!({"type": "set_group_info", "group": pair, "name": "Ours"}))
            .await,
        "not_permitted"
    );
    let settings = alice
        .call(json!({"type": "set_group_settings", "group": pair, "info_policy": "members"}))
        .await;
    assert_eq!(settings["group"]["info_policy"], "members", "{settings}");
    assert_eq!(
        bob.call_err(json!({"type": "set_group_settings", "group": pair, "capacity": 10}))
            .await,
        "not_permitted"
    );
    ok(
        &mut bob,
        json!({"type": "set_group_info", "group": pair, "name": "Ours", "ext": {"color": "blue"}}),
    )
    .await;
    let n = notice(&mut alice, "info_changed").await;
    assert_eq!(
        n["changes"],
        json!({"name": "Ours", "ext": {"color": "blue"}})
    );
    let info = bob.call(json!({"type": "group_info", "group": pair})).await;
    assert_eq!(
        (
            info["group"]["name"].clone(),
            info["group"]["ext"]["color"].clone()
        ),
        (json!("Ours"), json!("blue"))
    );

    // A chat room: anyone joins, members are not listed, no history from before joining.
    let room = alice
        .call(json!({"type": "create_group", "id": "room", "kind": "chat_room", "name": "Room"}))
        .await;
    assert_eq!(room["group"]["join_policy"], "anyone", "{room}");
    assert!(room["group"].get("members").is_none(), "{room}");
    assert_eq!(
        text(&mut alice, "room", "before you came").await["type"],
        "sent"
    );
    let joined = bob
        .call(json!({"type": "join_group", "group": "room"}))
        .await;
    assert_eq!(joined["status"], "joined", "{joined}");
    assert_eq!(
        notice(&mut alice, "member_joined").await["targets"],
        json!(["bob"])
    );
    assert_eq!(text(&mut alice, "room", "welcome").await["type"], "sent");
    let history = bob
        .call(json!({"type": "history", "conversation": {"kind": "group", "id": "room"}}))
        .await;
    let texts: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["welcome"]);
    let info = carol
        .call(json!({"type": "group_info", "group": "room"}))
        .await;
    assert_eq!(info["group"]["member_count"], 2, "{info}");
    assert!(info["group"].get("members").is_none());
    t.stop().await;
}
