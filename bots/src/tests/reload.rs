//! Hot reload: edits, additions and removals take effect; a broken edit keeps the last
//! good version; state (kept by bot name) is untouched.

use super::*;

async fn say(runtime: &BotRuntime, state: BotStates) -> (Vec<String>, BotStates) {
    let handled = handle(
        runtime,
        message(ConversationId::direct("a"), "a", "x"),
        state,
    )
    .await;
    let texts = sends(&handled).into_iter().map(|(_, t)| t).collect();
    (texts, handled.state)
}

#[tokio::test]
async fn file_changes_reload_the_bots_and_keep_state() {
    let dir = scripts(&[("echo.rhai", ECHO)]);
    let runtime = load(dir.path());
    let _watcher = runtime.watch().unwrap();
    let (texts, state) = say(&runtime, BotStates::new()).await;
    assert_eq!(texts, ["echo #1: x"]);

    let file = dir.path().join("echo.rhai");
    std::fs::write(&file, ECHO.replace("echo #", "v2 #")).unwrap();
    wait_for(
        &runtime,
        |bots| bots.len() == 1,
        || async { say(&runtime, state.clone()).await.0 == ["v2 #2: x"] },
    )
    .await;

    // A broken edit keeps v2 running and reports the error.
    std::fs::write(&file, "fn on_message(ctx, msg) { let = ; }").unwrap();
    std::fs::write(
        dir.path().join("new.rhai"),
        r#"fn on_message(ctx, msg) { ctx.reply("new"); }"#,
    )
    .unwrap();
    wait_for(&runtime, |bots| bots.len() == 2, || async { true }).await;
    let (texts, state) = say(&runtime, state).await;
    assert_eq!(texts, ["v2 #2: x", "new"]);
    assert_eq!(runtime.reload()[0].line, Some(1));

    std::fs::remove_file(dir.path().join("new.rhai")).unwrap();
    wait_for(&runtime, |bots| bots.len() == 1, || async { true }).await;
    assert_eq!(say(&runtime, state).await.0, ["v2 #3: x"]);
}

/// Waits (up to a second per the hot-reload promise, with slack for a loaded machine)
/// until the bot list and `check` agree.
async fn wait_for<F: std::future::Future<Output = bool>>(
    runtime: &BotRuntime,
    bots: impl Fn(&[BotInfo]) -> bool,
    check: impl Fn() -> F,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if bots(&runtime.bots()) && check().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change was not picked up: {:?}",
            runtime.bots()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
