//! Matching helpers, cooldowns, ctx.stop, configured order and bindings.

use super::*;
use crate::Binding;

fn texts(handled: &Handled) -> Vec<String> {
    sends(handled).into_iter().map(|(_, t)| t).collect()
}

#[tokio::test]
async fn commands_keywords_regexes_and_mentions() {
    let script = r#"
fn on_message(ctx, msg) {
    if msg.is_command("ticket") { return ctx.reply(`ticket #${msg.args[0]}`); }
    if msg.has_keyword(["Refund", "return"]) { return ctx.reply("refunds: 14 days"); }
    let order = msg.captures(`order\s+(\d+)`);
    if order != () { return ctx.reply(`order ${order[1]}`); }
    if msg.mentions_me { return ctx.reply("you called?"); }
    if msg.text.matches(`^\d+$`) { return ctx.reply("a number"); }
}
"#;
    let dir = scripts(&[("t.rhai", script)]);
    let runtime = load(dir.path());
    runtime.set_self_user("hub1", "bot");
    let lobby = ConversationId::group("lobby");
    let mut got = Vec::new();
    for text in [
        "/ticket 123",
        "I want a REFUND",
        "where is order 77?",
        "42",
        "nothing",
    ] {
        got.extend(texts(
            &handle(
                &runtime,
                message(lobby.clone(), "bob", text),
                BotStates::new(),
            )
            .await,
        ));
    }
    let mention = message_with(
        lobby.clone(),
        "bob",
        Content::Text(Text {
            text: "hey".into(),
            mentions: vec![UserId::new("bot")],
            mention_all: false,
        }),
    );
    got.extend(texts(&handle(&runtime, mention, BotStates::new()).await));
    assert_eq!(
        got,
        [
            "ticket #123",
            "refunds: 14 days",
            "order 77",
            "a number",
            "you called?"
        ]
    );

    let dir = scripts(&[(
        "t.rhai",
        r#"fn on_message(ctx, msg) { msg.matches("(unclosed"); }"#,
    )]);
    let runtime = load(dir.path());
    handle(&runtime, message(lobby, "bob", "x"), BotStates::new()).await;
    assert!(runtime
        .last_error("t")
        .unwrap()
        .message
        .contains("bad regex `(unclosed`"));
}

#[tokio::test]
async fn cooldown_is_per_key_and_uses_event_time() {
    let script = r#"fn on_message(ctx, msg) { if ctx.cooldown(msg.sender, 30) { ctx.reply(`hi ${msg.sender}`); } }"#;
    let dir = scripts(&[("t.rhai", script)]);
    let runtime = load(dir.path());
    let at = |sender: &str, seconds: i64| {
        let mut e = message(ConversationId::group("lobby"), sender, "x");
        e.time_ms += seconds * 1000;
        e
    };
    let mut got = Vec::new();
    for (sender, s) in [("bob", 0), ("bob", 10), ("carol", 11), ("bob", 31)] {
        got.extend(texts(
            &handle(&runtime, at(sender, s), BotStates::new()).await,
        ));
    }
    assert_eq!(got, ["hi bob", "hi carol", "hi bob"]);
}

#[tokio::test]
async fn configured_order_stop_and_bindings() {
    let bot = |name: &'static str, stop: bool| -> (String, String) {
        let stop = if stop {
            "if msg.text == \"stop\" { ctx.stop(); }"
        } else {
            ""
        };
        (
            format!("{name}.rhai"),
            format!("fn on_message(ctx, msg) {{ ctx.reply(\"{name}\"); {stop} }}"),
        )
    };
    let files = [bot("a", false), bot("b", true), bot("c", false)];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, c)| (f.as_str(), c.as_str()))
        .collect();
    let dir = scripts(&files);
    let options = BotOptions {
        order: vec!["c".into(), "b".into()],
        bind: vec![Binding {
            bot: "a".into(),
            groups: vec!["lobby".into()],
            ..Default::default()
        }],
        ..BotOptions::default()
    };
    let runtime = load_with(dir.path(), options);
    let names: Vec<String> = runtime.bots().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["c", "b", "a"]);

    let run = |conversation: ConversationId, text: &'static str| {
        let runtime = runtime.clone();
        async move {
            texts(
                &handle(
                    &runtime,
                    message(conversation, "bob", text),
                    BotStates::new(),
                )
                .await,
            )
        }
    };
    assert_eq!(
        run(ConversationId::group("lobby"), "x").await,
        ["c", "b", "a"]
    );
    assert_eq!(
        run(ConversationId::group("lobby"), "stop").await,
        ["c", "b"]
    );
    assert_eq!(run(ConversationId::group("other"), "x").await, ["c", "b"]);
    assert_eq!(run(ConversationId::direct("bob"), "x").await, ["c", "b"]);
}

#[test]
fn the_bots_section_deserializes_with_defaults() {
    let config: crate::BotsConfig = toml::from_str(
        r#"
dir = "bots"
max_operations = 5
order = ["moderation"]
[[bind]]
bot = "moderation"
groups = ["lobby"]
connections = ["hub"]
[before_message]
timeout_ms = 50
default = "reject"
"#,
    )
    .unwrap();
    assert_eq!(config.dir, Path::new("bots"));
    assert!(config.hot_reload);
    assert_eq!(config.options.max_operations, 5);
    assert_eq!(
        config.options.max_state_bytes,
        BotOptions::default().max_state_bytes
    );
    assert_eq!(config.options.bind[0].groups, ["lobby"]);
    assert_eq!(
        config.options.before_message.default,
        crate::DefaultVerdict::Reject
    );
    let e = toml::from_str::<crate::BotsConfig>("max_operatoins = 5").unwrap_err();
    assert!(e.to_string().contains("max_operatoins"), "{e}");
}
