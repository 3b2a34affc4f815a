//! A bot's own schedules through the real binary: a reminder set by a message arrives on
//! time, also when Parley was restarted in between, and exactly once.

mod common;

use common::*;

fn scripts_with(example: &str) -> tempfile::TempDir {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("examples/bots").join(example),
        scripts.path().join(example),
    )
    .unwrap();
    scripts
}

#[tokio::test]
async fn a_reminder_arrives_once_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = scripts_with("schedule.rhai");
    let config = write_config(dir.path(), scripts.path());

    let server = Server::start(&config, &[]);
    let mut alice = server.client("alice-token").await;
    alice.send_text(direct("bot"), "/remind 1 tea").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "OK, in 1 s."
    );
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "Reminder: tea"
    );

    // Set a reminder, stop before it is due, start again: it still comes, once.
    alice.send_text(direct("bot"), "/remind 2 cake").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "OK, in 2 s."
    );
    drop(alice);
    server.stop();
    let server = Server::start(&config, &[]);
    let mut alice = server.client("alice-token").await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "Reminder: cake"
    );
    alice.send_text(direct("bot"), "/forget").await;
    assert_eq!(alice.message_from("bot", direct("bot")).await, "Forgotten.");
    let reminders: Vec<_> = alice
        .history(direct("bot"))
        .await
        .into_iter()
        .filter(|(_, text)| text.starts_with("Reminder:"))
        .collect();
    assert_eq!(reminders.len(), 2, "each reminder once: {reminders:?}");
    drop(alice);
    server.stop();
}

#[tokio::test]
async fn a_daily_schedule_is_listed_on_the_dashboard_and_cancelled_by_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = scripts_with("schedule.rhai");
    let config = write_config(dir.path(), scripts.path());
    let server = Server::start(&config, &[("PARLEY_ADMIN_TOKEN", "secret")]);
    let mut alice = server.client("alice-token").await;
    alice
        .send_text(direct("bot"), "/daily 08:30 stand-up")
        .await;
    assert_eq!(
        alice.message_from("bot", direct("bot")).await,
        "OK, every day at 08:30."
    );
    // The scheduler reloads its list once the handler's changes are stored, which may be
    // just after the reply went out: wait for the dashboard to show it.
    let deadline = std::time::Instant::now() + PATIENCE;
    let schedules = loop {
        let figures: serde_json::Value = reqwest::Client::new()
            .get(format!("http://{}/admin/dashboard", server.addr))
            .bearer_auth("secret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let schedules = figures["schedules"].as_array().unwrap().clone();
        if schedules.iter().any(|s| s["origin"] == "script") {
            break schedules;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no script schedule on the dashboard: {schedules:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let daily: Vec<_> = schedules
        .iter()
        .filter(|s| s["origin"] == "script")
        .collect();
    assert_eq!(daily.len(), 1, "{schedules:?}");
    assert_eq!(daily[0]["when"], "30 08 * * * (UTC)");
    assert_eq!(daily[0]["handler"], "remind");
    assert_eq!(daily[0]["conversation"], "direct:alice");
    assert!(daily[0]["next_run_ms"].as_i64().unwrap() > 0);

    alice.send_text(direct("bot"), "/forget").await;
    assert_eq!(alice.message_from("bot", direct("bot")).await, "Forgotten.");
    drop(alice);
    server.stop();
}
