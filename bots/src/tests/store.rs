//! ctx.store: shared by a bot's conversations, atomic counters, limits, persistence.

use super::*;

const COUNTER: &str = r#"
fn on_message(ctx, msg) {
    let n = ctx.store.incr("messages");
    ctx.store.push("last", msg.text, 2);
    if msg.text == "fail" { throw "boom"; }
    ctx.reply(`${n} ${ctx.store.get("last")} ${ctx.store.get("nothing", "dflt")} ${ctx.store.keys()}`);
}
"#;

#[tokio::test]
async fn the_store_is_shared_across_conversations_and_survives_a_restart() {
    let dir = scripts(&[("t.rhai", COUNTER)]);
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("bots.db");
    let runtime = load(dir.path());
    runtime.open_store(&db).await.unwrap();
    let say = |runtime: &BotRuntime, who: &str, text: &str| {
        let e = message(ConversationId::direct(who), who, text);
        let runtime = runtime.clone();
        async move {
            sends(&handle(&runtime, e, BotStates::new()).await)
                .into_iter()
                .map(|(_, t)| t)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        say(&runtime, "alice", "a").await,
        [r#"1 ["a"] dflt ["last", "messages"]"#]
    );
    assert_eq!(
        say(&runtime, "bob", "b").await,
        [r#"2 ["a", "b"] dflt ["last", "messages"]"#]
    );
    // A failed handler changes nothing.
    assert!(say(&runtime, "bob", "fail").await.is_empty());
    // Closed cleanly: SQLite folded the WAL into the file and removed it.
    runtime.close_store().await;
    assert!(db.exists());
    assert!(!data.path().join("bots.db-wal").exists());
    drop(runtime);

    let runtime = load(dir.path());
    runtime.open_store(&db).await.unwrap();
    assert_eq!(
        say(&runtime, "carol", "c").await,
        [r#"3 ["b", "c"] dflt ["last", "messages"]"#]
    );
}

#[tokio::test]
async fn concurrent_increments_are_not_lost() {
    let dir = scripts(&[
        (
            "t.rhai",
            r#"fn on_message(ctx, msg) { ctx.store.incr("n"); }"#,
        ),
        (
            "u.rhai",
            r#"fn on_tick(ctx, t) { ctx.reply(`${ctx.store.get("n")}`); }"#,
        ),
    ]);
    let runtime = load(dir.path());
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let runtime = runtime.clone();
            tokio::spawn(async move {
                let e = message(ConversationId::direct(format!("u{i}")), "x", "x");
                handle(&runtime, e, BotStates::new()).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // The same bot, reloaded with a handler that reports the counter; `u` has its own store.
    std::fs::write(
        dir.path().join("t.rhai"),
        r#"fn on_tick(ctx, t) { ctx.reply(`${ctx.store.get("n")}`); }"#,
    )
    .unwrap();
    assert!(runtime.reload().is_empty());
    let tick = envelope(Event::Tick {
        schedule: "s".into(),
        conversation: None,
        payload: json!(null),
        bot: None,
        handler: None,
    });
    let got = handle(&runtime, tick, BotStates::new()).await;
    assert_eq!(
        sends(&got).into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        ["50", ""]
    );
}

#[tokio::test]
async fn store_limits_are_clear_errors() {
    let options = BotOptions {
        max_store_value_bytes: 20,
        max_store_keys: 2,
        max_store_bytes: 30,
        ..BotOptions::default()
    };
    let dir = scripts(&[(
        "t.rhai",
        r#"fn on_message(ctx, msg) {
            if msg.text == "big" { ctx.store.set("k", "0123456789012345678901234"); }
            if msg.text == "keys" { ctx.store.set("a", 1); ctx.store.set("b", 2); ctx.store.set("c", 3); }
            if msg.text == "total" { ctx.store.set("a", "0123456789"); ctx.store.set("b", "0123456789"); }
        }"#,
    )]);
    let runtime = load_with(dir.path(), options);
    let cases = [
        (
            "big",
            "the value of `k` would be 27 bytes as JSON, over the limit of 20 bytes",
        ),
        ("keys", "bot `t` would have 3 keys, over the limit of 2"),
        ("total", "bot `t` would keep 26"),
    ];
    for (text, expected) in cases {
        handle(
            &runtime,
            message(ConversationId::direct("a"), "a", text),
            BotStates::new(),
        )
        .await;
        let error = runtime
            .last_error("t")
            .map(|e| e.to_string())
            .unwrap_or_default();
        if text == "total" {
            assert_eq!(runtime.error_count("t"), 2, "26 bytes fit in 30: {error}");
        } else {
            assert!(error.contains(expected), "{error}");
        }
    }
}
