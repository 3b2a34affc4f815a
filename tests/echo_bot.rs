//! A newcomer's first minutes, end to end against the real binary: say hello to the echo
//! bot in 1:1 and in a group, restart, and find state and history kept with nothing sent twice.

mod common;

use common::*;

#[tokio::test]
async fn the_echo_bot_answers_in_direct_and_group_and_keeps_state_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));

    let server = Server::start(&config, &[]);
    let mut alice = server.client("alice-token").await;
    let mut bob = server.client("bob-token").await;

    alice.send_text(direct("bot"), "hello").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "echo #1: hello"
    );

    alice.send_text(group("lobby"), "hello").await;
    assert_eq!(
        alice.message_from("bot", group("lobby")).await,
        "echo #1: hello"
    );
    assert_eq!(
        bob.message_from("bot", group("lobby")).await,
        "echo #1: hello",
        "group members see the bot's reply"
    );
    drop((alice, bob));
    server.stop();
    // A clean stop closes every database: SQLite folded each WAL into its file.
    let wals: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with("-wal"))
        .collect();
    assert!(wals.is_empty(), "left after a clean stop: {wals:?}");

    let server = Server::start(&config, &[]);
    let mut alice = server.client("alice-token").await;
    assert_eq!(
        alice.history(direct("bot")).await,
        vec![
            ("alice".to_string(), "hello".to_string()),
            ("bot".to_string(), "echo #1: hello".to_string())
        ],
        "history kept, nothing sent twice"
    );
    alice.send_text(direct("bot"), "hello").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "echo #2: hello",
        "the bot's state survived the restart"
    );
    alice.send_text(group("lobby"), "again").await;
    assert_eq!(
        alice.message_from("bot", group("lobby")).await,
        "echo #2: again"
    );
    let history = alice.history(group("lobby")).await;
    let bot_lines: Vec<_> = history
        .iter()
        .filter(|(s, _)| s == "bot")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(bot_lines, vec!["echo #1: hello", "echo #2: again"]);
    server.stop();
}

#[tokio::test]
async fn parley_send_prints_each_reply_as_a_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[]);
    // No --token: the CLI finds alice's token in the hub's database.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "send",
            "--server",
            &server.addr,
            "--as",
            "alice",
            "--to",
            "bot",
            "hi there",
            "--wait",
            "30",
            "--replies",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["sender"], "bot");
    assert_eq!(lines[0]["content"]["text"], "echo #1: hi there");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "send",
            "--server",
            &server.addr,
            "--as",
            "mallory",
            "--to",
            "bot",
            "hi",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no hub user `mallory`"));
    server.stop();
}

#[tokio::test]
async fn healthz_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[]);
    let body: serde_json::Value = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    server.stop();
}
