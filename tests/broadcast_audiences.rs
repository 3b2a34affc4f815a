//! `all:friends` and `all:groups` through the admin API of the real binary: the hub is
//! asked for the bot account's friends and groups when the job starts.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "audience-admin";

#[tokio::test]
async fn a_broadcast_to_all_friends_and_groups_reaches_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = tempfile::tempdir().unwrap(); // no bots: nothing answers the broadcast
    let config = write_config(dir.path(), scripts.path());
    let server = Server::start(&config, &[("PARLEY_ADMIN_TOKEN", TOKEN)]);
    let mut carol = server.client("carol-token").await;
    let mut alice = server.client("alice-token").await;
    let answer = carol
        .request(json!({"type": "add_friend", "user": "bot", "greeting": "hi"}))
        .await;
    assert_eq!(answer["request"]["status"], "accepted", "{answer}");

    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("http://{}/admin/broadcasts", server.addr))
        .bearer_auth(TOKEN)
        .json(&json!({"to": ["all:friends", "all:groups", "group:lobby"], "text": "news"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["total"], 2,
        "carol and the lobby, the lobby once: {created}"
    );
    assert_eq!(carol.message_from("bot", direct("bot")).await, "news");
    assert_eq!(alice.message_from("bot", group("lobby")).await, "news");

    let refused = http
        .post(format!("http://{}/admin/broadcasts", server.addr))
        .bearer_auth(TOKEN)
        .json(&json!({"to": ["all:members"], "text": "news"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("all:friends"),
        "{body}"
    );
    drop((carol, alice));
    server.stop();
}
