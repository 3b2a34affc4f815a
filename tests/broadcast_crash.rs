//! Kill Parley with SIGKILL in the middle of a 10,000-recipient broadcast on the hub, start
//! it again, and find that the job resumed and every recipient received the message
//! exactly once.

mod common;

use common::*;
use serde_json::{json, Value};
use sqlx::Connection;
use std::path::Path;
use std::time::Duration;

const RECIPIENTS: usize = 10_000;
const TOKEN: &str = "admin-secret";

fn write_big_config(dir: &Path) -> std::path::PathBuf {
    let mut config = format!(
        r#"
[server]
bind = "127.0.0.1:0"
data_dir = "data"

[bots]
dir = "{scripts}"

[[connections]]
id = "hub"
kind = "hub"
user = "bot"
# Paced so that the kill lands in the middle of the job.
rate_limits = [{{ per_second = 2000 }}]

[[hub.users]]
id = "bot"
"#,
        scripts = repo().join("scripts").display()
    );
    for i in 0..RECIPIENTS {
        config.push_str(&format!(
            "[[hub.users]]\nid = \"u{i:05}\"\ntoken = \"t{i:05}\"\n"
        ));
    }
    std::fs::create_dir_all(dir.join("config")).unwrap();
    let path = dir.join("config/parley.toml");
    std::fs::write(&path, config).unwrap();
    path
}

async fn job(http: &reqwest::Client, server: &Server, id: i64) -> Value {
    http.get(format!("http://{}/admin/broadcasts/{id}", server.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Progress has no push channel; poll the admin API until `done` holds.
async fn poll_until(
    http: &reqwest::Client,
    server: &Server,
    id: i64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let j = job(http, server, id).await;
        if done(&j) {
            return j;
        }
        assert!(tokio::time::Instant::now() < deadline, "job stuck: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_broadcast_killed_in_the_middle_resumes_and_reaches_everyone_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_big_config(dir.path());
    let env = [("PARLEY_ADMIN_TOKEN", TOKEN)];
    let http = reqwest::Client::new();

    let server = Server::start(&config, &env);
    let to: Vec<String> = (0..RECIPIENTS).map(|i| format!("u{i:05}")).collect();
    let created: Value = http
        .post(format!("http://{}/admin/broadcasts", server.addr))
        .bearer_auth(TOKEN)
        .json(&json!({"to": to, "text": "flash sale"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    assert_eq!(created["total"], RECIPIENTS);
    let at_kill = poll_until(&http, &server, id, |j| j["sent"].as_i64().unwrap() >= 1000).await;
    server.kill();
    assert_eq!(
        at_kill["status"], "running",
        "killed in the middle: {at_kill}"
    );

    let server = Server::start(&config, &env);
    let done = poll_until(&http, &server, id, |j| j["status"] == "done").await;
    assert_eq!(
        (
            done["sent"].as_i64(),
            done["failed"].as_i64(),
            done["left"].as_i64()
        ),
        (Some(RECIPIENTS as i64), Some(0), Some(0)),
        "{done}"
    );

    // A recipient sees the message once in its history.
    let mut u = server.client("t00007").await;
    let sale: Vec<_> = u
        .history(direct("bot"))
        .await
        .into_iter()
        .filter(|(s, t)| s == "bot" && t == "flash sale")
        .collect();
    assert_eq!(sale.len(), 1);
    drop(u);
    server.stop();

    // And so does every other one: one message per recipient in the hub's store.
    let db = dir.path().join("data/hub.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT recipient, COUNT(*) FROM messages WHERE sender = 'bot' GROUP BY recipient",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rows.len(),
        RECIPIENTS,
        "every recipient received the message"
    );
    let doubled: Vec<_> = rows.iter().filter(|(_, n)| *n != 1).collect();
    assert!(doubled.is_empty(), "received more than once: {doubled:?}");
}
