//! The terminal commands against a running Parley: `parley call`, `parley broadcast`,
//! `parley jobs`.

mod common;

use common::*;
use std::process::Command;

fn parley(
    config: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn parley_call_prints_the_answer_and_the_events_that_follow() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[]);
    let (ok, out, err) = parley(
        &config,
        &[
            "call",
            "--server",
            &server.addr,
            "--as",
            "alice",
            r#"{"type":"groups"}"#,
        ],
        &[],
    );
    assert!(ok, "{err}");
    let answer: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(answer["type"], "groups", "{answer}");
    assert!(answer.to_string().contains("lobby"));

    // A send, then the bot's echo arriving within the wait.
    let request = r#"{"type":"send","to":{"kind":"direct","id":"bot"},"content":{"kind":"text","text":"yo"}}"#;
    let (ok, out, err) = parley(
        &config,
        &[
            "call",
            "--server",
            &server.addr,
            "--as",
            "alice",
            request,
            "--wait",
            "3",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.contains("echo #1: yo")), "{out}");

    let (ok, _, err) = parley(
        &config,
        &["call", "--server", &server.addr, "--as", "alice", "{nope"],
        &[],
    );
    assert!(!ok && err.contains("JSON"), "{err}");
    server.stop();
}

#[tokio::test]
async fn parley_broadcast_shows_progress_and_parley_jobs_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let env = [("PARLEY_ADMIN_TOKEN", "tok")];
    let server = Server::start(&config, &env);
    let (ok, out, err) = parley(
        &config,
        &[
            "broadcast",
            "--server",
            &server.addr,
            "--to",
            "alice",
            "--to",
            "bob",
            "--to",
            "ghost",
            "--to",
            "group:lobby",
            "maintenance at 5",
        ],
        &env,
    );
    assert!(ok, "{err}");
    assert!(out.contains("done: 3 sent, 1 failed, 0 left"), "{out}");
    assert!(
        out.contains("failed  direct:ghost"),
        "the failure is listed with its reason: {out}"
    );

    let (ok, out, err) = parley(&config, &["jobs", "--server", &server.addr], &env);
    assert!(ok, "{err}");
    assert!(
        out.lines().nth(1).is_some_and(|l| l.contains("done")),
        "{out}"
    );

    let (ok, _, err) = parley(
        &config,
        &["jobs", "--server", &server.addr, "pause", "1"],
        &env,
    );
    assert!(!ok && err.contains("cannot be paused"), "{err}");
    let (ok, _, err) = parley(
        &config,
        &["jobs", "--server", &server.addr],
        &[("PARLEY_ADMIN_TOKEN", "wrong")],
    );
    assert!(!ok && err.contains("unauthorized"), "{err}");

    let mut alice = server.client("alice-token").await;
    assert_eq!(
        alice.history(direct("bot")).await.last().unwrap().1,
        "maintenance at 5"
    );
    server.stop();
}
