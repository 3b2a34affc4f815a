//! The admin API for groups and memberships: a deployment seeded over HTTP, then used
//! over the WebSocket.

mod common;

use common::{TestHub, ADMIN_TOKEN};
use serde_json::json;

#[actix_web::test]
async fn the_admin_api_creates_groups_and_adds_members() {
    let t = TestHub::start(Some(ADMIN_TOKEN)).await;
    let mut bob = t.login("bob").await;
    let mut carol = t.login("carol").await;
    // carol confirms invitations; the admin API adds her all the same.
    carol
        .call(json!({"type": "settings", "invite_confirm": true}))
        .await;

    let body = r#"{"owner": "alice", "id": "team", "name": "Team", "kind": "public",
        "members": ["bob", "carol"], "capacity": 4, "description": "seeded"}"#;
    let (status, group) = t
        .http("POST", "/hub/admin/groups", Some(ADMIN_TOKEN), body)
        .await;
    assert_eq!(status, 201, "{group}");
    assert_eq!(
        (
            &group["id"],
            &group["owner"],
            &group["kind"],
            &group["member_count"]
        ),
        (&json!("team"), &json!("alice"), &json!("public"), &json!(3)),
        "{group}"
    );
    let created = bob.event("group_notice").await;
    assert_eq!(created["event"]["kind"], "created");
    assert!(created["event"].get("operator").is_none(), "{created}");
    assert_eq!(created["event"]["targets"], json!(["bob", "carol"]));
    let sent = carol
        .call(
            json!({"type": "send", "to": {"kind": "group", "id": "team"},
            "content": {"kind": "text", "text": "I am in"}}),
        )
        .await;
    assert_eq!(sent["type"], "sent", "{sent}");

    // A new user (a bot account), added as an admin.
    let (status, _) = t
        .http(
            "POST",
            "/hub/admin/users",
            Some(ADMIN_TOKEN),
            r#"{"id": "helper"}"#,
        )
        .await;
    assert_eq!(status, 201);
    let (status, added) = t
        .http(
            "POST",
            "/hub/admin/groups/team/members",
            Some(ADMIN_TOKEN),
            r#"{"users": ["helper"], "role": "admin"}"#,
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["added"], json!(["helper"]));
    let helper = added["group"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "helper")
        .cloned()
        .unwrap();
    assert_eq!(helper["role"], "admin");
    let joined = bob.event("group_notice").await;
    assert_eq!(
        (&joined["event"]["kind"], &joined["event"]["targets"]),
        (&json!("member_joined"), &json!(["helper"]))
    );
    assert_eq!(
        bob.event("group_notice").await["event"]["kind"],
        "admin_added"
    );
    t.stop().await;
}

#[actix_web::test]
async fn admin_group_calls_refuse_what_is_wrong_and_apply_nothing() {
    let t = TestHub::start(Some(ADMIN_TOKEN)).await;
    let admin = Some(ADMIN_TOKEN);
    let cases = [
        (
            "/hub/admin/groups",
            None,
            r#"{"owner": "alice", "name": "x"}"#,
            401,
            "unauthorized",
            "Authorization",
        ),
        (
            "/hub/admin/groups",
            Some("wrong"),
            r#"{"owner": "alice", "name": "x"}"#,
            401,
            "unauthorized",
            "not the admin token",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"owner": "alice", "name": "x", "colour": 1}"#,
            400,
            "invalid_request",
            "unknown field `colour`",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"owner": "alice", "name": "x", "capacity": "big"}"#,
            400,
            "invalid_request",
            "invalid type",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"name": "x"}"#,
            400,
            "invalid_request",
            "missing field `owner`",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"owner": "nobody", "name": "x"}"#,
            404,
            "not_found",
            "\"nobody\"",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"owner": "alice", "id": "lobby", "name": "x"}"#,
            409,
            "conflict",
            "already exists",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"owner": "alice", "id": "g2", "name": "x", "members": ["bob", "ghost"]}"#,
            404,
            "not_found",
            "\"ghost\"",
        ),
        (
            "/hub/admin/groups",
            admin,
            r#"{"owner": "alice", "id": "g/3", "name": "x"}"#,
            400,
            "invalid",
            "not allowed",
        ),
        (
            "/hub/admin/groups/nogroup/members",
            admin,
            r#"{"users": ["bob"]}"#,
            404,
            "not_found",
            "no hub group",
        ),
        (
            "/hub/admin/groups/lobby/members",
            admin,
            r#"{"users": ["carol", "bob"]}"#,
            409,
            "conflict",
            "already a member",
        ),
        (
            "/hub/admin/groups/lobby/members",
            admin,
            r#"{"users": ["carol", "ghost"]}"#,
            404,
            "not_found",
            "\"ghost\"",
        ),
        (
            "/hub/admin/groups/lobby/members",
            admin,
            r#"{"users": ["carol"], "role": "owner"}"#,
            400,
            "invalid",
            "transfer",
        ),
        (
            "/hub/admin/groups/lobby/members",
            admin,
            r#"{"users": []}"#,
            400,
            "invalid",
            "at least one",
        ),
        (
            "/hub/admin/groups/lobby/members",
            admin,
            r#"{"user": "carol"}"#,
            400,
            "invalid_request",
            "unknown field `user`",
        ),
        (
            "/hub/admin/users",
            admin,
            r#"{"id": "dave", "nick": "D"}"#,
            400,
            "invalid_request",
            "unknown field `nick`",
        ),
    ];
    for (path, bearer, body, status, code, words) in cases {
        let (got, answer) = t.http("POST", path, bearer, body).await;
        assert_eq!(
            (got, answer["code"].as_str().unwrap()),
            (status, code),
            "{path} {body}: {answer}"
        );
        assert!(
            answer["message"].as_str().unwrap().contains(words),
            "{path} {body}: {answer}"
        );
    }
    // Nothing of the refused calls was applied.
    let mut alice = t.login("alice").await;
    assert_eq!(
        alice
            .call_err(json!({"type": "group_info", "group": "g2"}))
            .await,
        "not_found"
    );
    let lobby = alice
        .call(json!({"type": "group_info", "group": "lobby"}))
        .await;
    assert_eq!(lobby["group"]["member_count"], 3, "{lobby}");
    assert_eq!(t.hub.user_token("dave").await.unwrap(), None);

    // A full group refuses more members.
    let (status, _) = t
        .http("POST", "/hub/admin/groups", admin, r#"{"owner": "alice", "id": "tiny", "name": "Tiny", "capacity": 2, "members": ["bob"]}"#)
        .await;
    assert_eq!(status, 201);
    let (status, full) = t
        .http(
            "POST",
            "/hub/admin/groups/tiny/members",
            admin,
            r#"{"users": ["carol"]}"#,
        )
        .await;
    assert_eq!(
        (status, full["code"].as_str().unwrap()),
        (409, "group_full"),
        "{full}"
    );
    t.stop().await;
}

#[actix_web::test]
async fn without_an_admin_token_the_group_calls_are_refused() {
    let t = TestHub::start(None).await;
    let (status, answer) = t
        .http(
            "POST",
            "/hub/admin/groups/lobby/members",
            Some("x"),
            r#"{"users": ["carol"]}"#,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str().unwrap()),
        (403, "admin_disabled")
    );
    t.stop().await;
}
