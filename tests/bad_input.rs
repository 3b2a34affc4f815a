//! Bad input gets a clear error and loses nothing: malformed frames, bad tokens, unknown
//! recipients, scripts that do not compile.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_connection_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[]);
    let mut alice = server.client("alice-token").await;

    alice.send_raw("{not json").await;
    let e = alice.next().await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("invalid_json")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("line 1"),
        "the error says where: {e}"
    );

    alice.send_raw(r#"{"type":"teleport","req":"x"}"#).await;
    let e = alice.next().await.unwrap();
    assert_eq!(e["code"], "unknown_type", "{e}");
    assert!(e["message"].as_str().unwrap().contains("teleport"), "{e}");

    let e = alice
        .request(json!({"type": "send", "to": direct("bot")}))
        .await;
    assert_eq!(e["code"], "invalid_request", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("content"),
        "names the missing field: {e}"
    );

    let e = alice.request(json!({"type": "send", "to": direct("nobody"), "content": {"kind": "text", "text": "hi"}})).await;
    assert_eq!(e["code"], "not_found", "{e}");

    // Still up, and nothing was lost: the bot answers.
    assert_eq!(alice.request(json!({"type": "ping"})).await["type"], "pong");
    alice.send_text(direct("bot"), "still here?").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "echo #1: still here?"
    );
    server.stop();
}

#[tokio::test]
async fn a_bad_token_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[]);
    let mut c = Client::connect(&server.addr).await;
    let answer = c.request(json!({"type": "login", "token": "forged"})).await;
    assert_eq!(answer["code"], "unauthorized", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("token"),
        "{answer}"
    );
    assert!(
        c.next().await.is_none(),
        "the socket is closed after a refused login"
    );

    let mut c = Client::connect(&server.addr).await;
    let answer = c
        .request(
            json!({"type": "send", "to": direct("bot"), "content": {"kind": "text", "text": "hi"}}),
        )
        .await;
    assert_eq!(answer["code"], "not_logged_in", "{answer}");
    server.stop();
}

#[tokio::test]
async fn a_script_that_does_not_compile_is_reported_and_the_other_bots_run() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::copy(repo().join("scripts/echo.rhai"), scripts.join("echo.rhai")).unwrap();
    std::fs::write(
        scripts.join("broken.rhai"),
        "fn on_message(ctx, msg) {\n    let x = ;\n}\n",
    )
    .unwrap();
    let config = write_config(dir.path(), &scripts);

    let server = Server::start(&config, &[]);
    let mut alice = server.client("alice-token").await;
    alice.send_text(direct("bot"), "hello").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "echo #1: hello"
    );
    let log = server.stop();
    assert!(
        log.contains("broken.rhai:2:13"),
        "the error names file:line:col; stderr:\n{log}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["--config", config.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "parley check fails on a broken script"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.rhai:2:13") && stdout.contains("echo.rhai"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_admin_api_creates_users_only_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[("PARLEY_ADMIN_TOKEN", "s3cret")]);
    let http = reqwest::Client::new();
    let url = format!("http://{}/hub/admin/users", server.addr);
    let refused = http
        .post(&url)
        .json(&json!({"id": "dave"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let created = http
        .post(&url)
        .bearer_auth("s3cret")
        .json(&json!({"id": "dave", "name": "Dave"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let user: serde_json::Value = created.json().await.unwrap();
    let mut dave = server.client(user["token"].as_str().unwrap()).await;
    dave.send_text(direct("bot"), "hi").await;
    assert_eq!(dave.message_from("bot", direct("bot")).await, "echo #1: hi");
    server.stop();
}
