//! Runtime tests: scripts are written to a temporary directory, loaded, and fed envelopes.

use crate::{BotInfo, BotOptions, BotRuntime, ScriptError};
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::{
    Command, ConnectionId, Content, ConversationId, Envelope, Event, EventId, Message, MessageRef,
    Text, UserId,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn scripts(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, code) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, code).unwrap();
    }
    dir
}

fn load(dir: &Path) -> BotRuntime {
    load_with(dir, BotOptions::default())
}

fn load_with(dir: &Path, options: BotOptions) -> BotRuntime {
    let (runtime, errors) = BotRuntime::load(dir, options);
    assert!(errors.is_empty(), "unexpected load errors: {errors:?}");
    runtime
}

fn envelope(event: Event) -> Envelope {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Envelope {
        id: EventId::new(format!("ev-{n}")),
        connection: ConnectionId::new("hub1"),
        time_ms: 1_700_000_000_000,
        backlog: false,
        from_self: false,
        event,
        raw: serde_json::Value::Null,
    }
}

fn message(conversation: ConversationId, sender: &str, text: &str) -> Envelope {
    message_with(conversation, sender, Content::text(text))
}

fn message_with(conversation: ConversationId, sender: &str, content: Content) -> Envelope {
    envelope(Event::Message(Message {
        id: MessageRef::new("m-1"),
        conversation,
        sender: UserId::new(sender),
        content,
        reply_to: None,
        time_ms: 1_700_000_000_000,
        extra: serde_json::Value::Null,
    }))
}

/// The commands handling produced, without who sent them.
pub(crate) fn commands_of(handled: Handled) -> Vec<Command> {
    handled.commands.into_iter().map(|q| q.command).collect()
}

async fn handle(runtime: &BotRuntime, envelope: Envelope, state: BotStates) -> Handled {
    runtime.handle(Arc::new(envelope), state).await
}

/// The (target, text) of each command, which must all be plain text sends.
fn sends(handled: &Handled) -> Vec<(String, String)> {
    handled
        .commands
        .iter()
        .map(|queued| match &queued.command {
            Command::Send {
                to,
                content: Content::Text(text),
                reply_to,
                options,
                as_user,
            } => {
                assert_eq!(reply_to, &None);
                assert_eq!(options, &Default::default());
                assert_eq!(as_user, &None);
                (to.to_string(), text.text.clone())
            }
            other => panic!("not a text send: {other:?}"),
        })
        .collect()
}

fn send(to: &str, text: &str) -> (String, String) {
    (to.to_string(), text.to_string())
}

const ECHO: &str = r#"
fn on_message(ctx, msg) {
    ctx.state.count = (ctx.state.count ?? 0) + 1;
    ctx.reply(`echo #${ctx.state.count}: ${msg.text}`);
}
"#;

/// A tracing subscriber for the whole test binary that keeps every event as a line of text,
/// so tests can check what was logged (from any thread, including `spawn_blocking` ones).
mod logs {
    use std::fmt::Write;
    use std::sync::{Mutex, OnceLock};
    use tracing::field::{Field, Visit};
    use tracing::{span, Event, Metadata, Subscriber};

    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

    struct Capture;

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }
        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut line = format!("{} ", event.metadata().level());
            event.record(&mut Line(&mut line));
            LINES.get().unwrap().lock().unwrap().push(line);
        }
        fn enter(&self, _: &span::Id) {}
        fn exit(&self, _: &span::Id) {}
    }

    struct Line<'a>(&'a mut String);

    impl Visit for Line<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.0, "{value:?} ");
            } else {
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
    }

    /// Starts capturing (once per test binary).
    pub fn capture() {
        LINES.get_or_init(|| {
            tracing::subscriber::set_global_default(Capture).expect("no other global subscriber");
            Mutex::new(Vec::new())
        });
    }

    /// The captured lines that contain every one of `parts`.
    pub fn find(parts: &[&str]) -> Vec<String> {
        let lines = LINES.get().expect("logs::capture() first").lock().unwrap();
        lines
            .iter()
            .filter(|line| parts.iter().all(|p| line.contains(p)))
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn echo_replies_in_direct_and_group_conversations_and_counts_per_conversation() {
    let dir = scripts(&[("echo.rhai", ECHO)]);
    let runtime = load(dir.path());

    let alice = ConversationId::direct("alice");
    let first = handle(
        &runtime,
        message(alice.clone(), "alice", "hello"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&first), vec![send("direct:alice", "echo #1: hello")]);
    assert_eq!(first.state.get("echo"), Some(&json!({ "count": 1 })));

    let second = handle(&runtime, message(alice, "alice", "again"), first.state).await;
    assert_eq!(sends(&second), vec![send("direct:alice", "echo #2: again")]);
    assert_eq!(second.state.get("echo"), Some(&json!({ "count": 2 })));

    // A group keeps its own state (the actor passes the group's, here empty).
    let lobby = ConversationId::group("lobby");
    let group = handle(
        &runtime,
        message(lobby.clone(), "bob", "hi all"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&group), vec![send("group:lobby", "echo #1: hi all")]);
    let group = handle(&runtime, message(lobby, "carol", "me too"), group.state).await;
    assert_eq!(sends(&group), vec![send("group:lobby", "echo #2: me too")]);
    assert_eq!(runtime.error_count("echo"), 0);
}

#[tokio::test]
async fn own_echoes_and_backlog_are_not_handled() {
    let dir = scripts(&[("echo.rhai", ECHO)]);
    let runtime = load(dir.path());
    let state = BotStates::from([("echo".to_string(), json!({ "count": 5 }))]);

    let mut own = message(ConversationId::direct("alice"), "me", "sent by the bot");
    own.from_self = true;
    let handled = handle(&runtime, own, state.clone()).await;
    assert!(handled.commands.is_empty());
    assert_eq!(handled.state, state);

    let mut old = message(ConversationId::direct("alice"), "alice", "from the sync");
    old.backlog = true;
    let handled = handle(&runtime, old, state.clone()).await;
    assert!(handled.commands.is_empty());
    assert_eq!(handled.state, state);

    // The same message live is answered, so the skips above are the flags' doing.
    let live = message(ConversationId::direct("alice"), "alice", "live");
    let handled = handle(&runtime, live, state).await;
    assert_eq!(sends(&handled), vec![send("direct:alice", "echo #6: live")]);
}

#[tokio::test]
async fn group_notices_of_the_bots_own_doing_are_handled() {
    let dir = scripts(&[(
        "m.rhai",
        r#"fn on_group_notice(ctx, n) { ctx.reply(`${n.kind} ${n.user} by ${n.operator}`); }"#,
    )]);
    let runtime = load(dir.path());
    let mut joined = envelope(Event::GroupNotice(parley_engine::model::GroupNotice {
        group: parley_engine::model::GroupId::new("club"),
        kind: parley_engine::model::GroupNoticeKind::MemberJoined,
        operator: Some(UserId::new("bot")),
        targets: vec![UserId::new("dave")],
        time_ms: 1,
    }));
    joined.from_self = true;
    let handled = handle(&runtime, joined, BotStates::new()).await;
    assert_eq!(
        sends(&handled),
        vec![send("group:club", "member_joined dave by bot")]
    );
}

#[tokio::test]
async fn a_script_that_does_not_compile_is_reported_with_its_position_and_skipped() {
    let bad = "fn on_message(ctx, msg) {\n    let x = 1;\n    let y = x +* 2;\n}\n";
    let dir = scripts(&[("a_bad.rhai", bad), ("b_echo.rhai", ECHO)]);
    let (runtime, errors) = BotRuntime::load(dir.path(), BotOptions::default());

    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    let file = dir.path().join("a_bad.rhai");
    assert_eq!(error.file, file);
    assert_eq!((error.line, error.column), (Some(3), Some(16)), "{error}");
    assert!(!error.message.is_empty());
    assert_eq!(
        error.to_string(),
        format!("{}:3:16: {}", file.display(), error.message)
    );

    let names: Vec<String> = runtime.bots().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["b_echo"]);
    let handled = handle(
        &runtime,
        message(ConversationId::direct("al"), "al", "x"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&handled), vec![send("direct:al", "echo #1: x")]);
}

#[test]
fn script_error_display_leaves_out_what_is_unknown() {
    let mut error = ScriptError {
        file: PathBuf::from("scripts/bad.rhai"),
        line: Some(3),
        column: Some(7),
        message: "boom".into(),
    };
    assert_eq!(error.to_string(), "scripts/bad.rhai:3:7: boom");
    error.column = None;
    assert_eq!(error.to_string(), "scripts/bad.rhai:3: boom");
    error.line = None;
    assert_eq!(error.to_string(), "scripts/bad.rhai: boom");
}

#[test]
fn a_missing_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let (runtime, errors) = BotRuntime::load(&missing, BotOptions::default());
    assert!(runtime.bots().is_empty());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, missing);
    assert!(
        errors[0]
            .message
            .contains("cannot read the scripts directory"),
        "{}",
        errors[0]
    );
}

#[test]
fn bots_are_listed_in_file_name_order_with_their_handlers() {
    let dir = scripts(&[
        (
            "b.rhai",
            "fn on_message(ctx, msg) {}\nfn on_friend_added(ctx, e) {}\nfn helper(x) {}",
        ),
        ("a.rhai", "fn on_tick(ctx, tick) {}\nfn on_message(msg) {}"),
        ("notes.txt", "not a script"),
        ("lib/util.rhai", "fn on_message(ctx, msg) {}"),
    ]);
    let runtime = load(dir.path());
    assert_eq!(
        runtime.bots(),
        vec![
            BotInfo {
                name: "a".into(),
                file: dir.path().join("a.rhai"),
                // `on_message(msg)` takes one parameter: it is not a handler.
                handlers: vec!["on_tick".into()],
            },
            BotInfo {
                name: "b".into(),
                file: dir.path().join("b.rhai"),
                handlers: vec!["on_friend_added".into(), "on_message".into()],
            },
        ]
    );
}

#[tokio::test]
async fn a_runtime_error_is_counted_and_logged_and_the_other_bots_still_answer() {
    logs::capture();
    let failing = r#"
fn on_message(ctx, msg) {
    ctx.state.seen = true;
    ctx.reply("from a, discarded");
    no_such_function(msg.text);
}
"#;
    let dir = scripts(&[("a_fails.rhai", failing), ("b_echo.rhai", ECHO)]);
    let runtime = load(dir.path());
    let state = BotStates::from([("a_fails".to_string(), json!({ "seen": false }))]);

    let handled = handle(
        &runtime,
        message(ConversationId::group("g1"), "u", "hey"),
        state.clone(),
    )
    .await;
    assert_eq!(sends(&handled), vec![send("group:g1", "echo #1: hey")]);
    assert_eq!(
        handled.state.get("a_fails"),
        Some(&json!({ "seen": false }))
    );
    assert_eq!(handled.state.get("b_echo"), Some(&json!({ "count": 1 })));

    assert_eq!(runtime.error_count("a_fails"), 1);
    assert_eq!(runtime.error_count("b_echo"), 0);
    let error = runtime.last_error("a_fails").expect("a last error");
    assert_eq!(error.file, dir.path().join("a_fails.rhai"));
    assert_eq!((error.line, error.column), (Some(5), Some(5)), "{error}");
    assert!(error.message.contains("no_such_function"), "{error}");
    assert_eq!(runtime.last_error("b_echo"), None);

    let logged = logs::find(&["ERROR", "bot=a_fails", &error.to_string()]);
    assert_eq!(logged.len(), 1, "{logged:?}");

    // Counted again on the next failure.
    handle(
        &runtime,
        message(ConversationId::group("g1"), "u", "hey"),
        state,
    )
    .await;
    assert_eq!(runtime.error_count("a_fails"), 2);
}

#[tokio::test]
async fn a_thrown_error_in_a_helper_is_reported_where_it_was_thrown() {
    let script = r#"
fn check(text) {
    if text == "bad" {
        throw "refusing " + text;
    }
}

fn on_message(ctx, msg) {
    check(msg.text);
    ctx.reply("ok");
}
"#;
    let dir = scripts(&[("thrower.rhai", script)]);
    let runtime = load(dir.path());
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "good"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&handled), vec![send("direct:u", "ok")]);

    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "bad"),
        BotStates::new(),
    )
    .await;
    assert!(handled.commands.is_empty());
    let error = runtime.last_error("thrower").unwrap();
    assert_eq!((error.line, error.column), (Some(4), Some(9)), "{error}");
    assert!(error.message.contains("refusing bad"), "{error}");
    assert!(error.message.contains("'check'"), "{error}");
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_operation_limit() {
    logs::capture();
    let spinner = r#"
fn on_message(ctx, msg) {
    ctx.reply("before");
    let n = 0;
    loop { n += 1; }
}
"#;
    let dir = scripts(&[("a_spin.rhai", spinner), ("b_echo.rhai", ECHO)]);
    let options = BotOptions {
        max_operations: 10_000,
        ..BotOptions::default()
    };
    let runtime = load_with(dir.path(), options);

    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "go"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&handled), vec![send("direct:u", "echo #1: go")]);
    assert_eq!(runtime.error_count("a_spin"), 1);
    let error = runtime.last_error("a_spin").unwrap();
    assert!(error.message.contains("too many operations"), "{error}");
    assert!(error.message.contains("10000"), "{error}");
    // Rhai does not say where the limit struck: the handler is pointed at.
    assert_eq!((error.line, error.column), (Some(2), Some(1)), "{error}");
    assert!(error.message.contains("`on_message`"), "{error}");
    assert_eq!(
        logs::find(&["ERROR", "bot=a_spin", "too many operations"]).len(),
        1
    );
}

#[tokio::test]
async fn runaway_recursion_is_stopped_by_the_call_depth_limit() {
    let script =
        "fn deeper(n) { deeper(n + 1) }\n  private fn on_message(ctx, msg) { deeper(0); }\n";
    let dir = scripts(&[("recurse.rhai", script)]);
    let runtime = load(dir.path());
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "go"),
        BotStates::new(),
    )
    .await;
    assert!(handled.commands.is_empty());
    let error = runtime.last_error("recurse").unwrap();
    assert!(error.message.contains("stack overflow"), "{error}");
    assert!(error.message.contains("64"), "{error}");
    assert_eq!((error.line, error.column), (Some(2), Some(3)), "{error}");
}

#[tokio::test]
async fn strings_over_the_size_limit_fail() {
    let script = r#"fn on_message(ctx, msg) { let s = "x"; s.pad(100, "y"); ctx.reply(s); }"#;
    let dir = scripts(&[("big.rhai", script)]);
    let options = BotOptions {
        max_string_size: 50,
        ..BotOptions::default()
    };
    let runtime = load_with(dir.path(), options);
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "go"),
        BotStates::new(),
    )
    .await;
    assert!(handled.commands.is_empty());
    let error = runtime.last_error("big").unwrap();
    assert!(error.message.contains("too large"), "{error}");
}

#[tokio::test]
async fn state_over_the_size_limit_is_an_error_and_the_state_is_kept() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.reply("discarded");
    ctx.state.text = msg.text;
}
"#;
    let dir = scripts(&[("keeper.rhai", script)]);
    let options = BotOptions {
        max_state_bytes: 40,
        ..BotOptions::default()
    };
    let runtime = load_with(dir.path(), options);

    // {"text":"short"} is 16 bytes: fine.
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "short"),
        BotStates::new(),
    )
    .await;
    assert_eq!(
        handled.state.get("keeper"),
        Some(&json!({ "text": "short" }))
    );
    assert_eq!(handled.commands.len(), 1);

    let long = "x".repeat(50);
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", &long),
        handled.state,
    )
    .await;
    assert!(handled.commands.is_empty());
    assert_eq!(
        handled.state.get("keeper"),
        Some(&json!({ "text": "short" }))
    );
    let error = runtime.last_error("keeper").unwrap();
    assert_eq!(error.file, dir.path().join("keeper.rhai"));
    // {"text":"xxx...x"} = 11 + 50 bytes.
    assert!(error.message.contains("61 bytes"), "{error}");
    assert!(error.message.contains("limit of 40 bytes"), "{error}");
}

#[tokio::test]
async fn ctx_send_targets_any_conversation_and_rejects_bad_targets() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.send("group:lobby", "to the lobby");
    ctx.send("bob", "to bob");
    if msg.text == "bad" {
        ctx.send("planet:mars", "nowhere");
    }
}
"#;
    let dir = scripts(&[("sender.rhai", script)]);
    let runtime = load(dir.path());

    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "ok"),
        BotStates::new(),
    )
    .await;
    assert_eq!(
        sends(&handled),
        vec![
            send("group:lobby", "to the lobby"),
            send("direct:bob", "to bob")
        ]
    );
    match &handled.commands[0].command {
        Command::Send { to, .. } => assert_eq!(to, &ConversationId::group("lobby")),
        other => panic!("{other:?}"),
    }

    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "bad"),
        BotStates::new(),
    )
    .await;
    assert!(handled.commands.is_empty());
    let error = runtime.last_error("sender").unwrap();
    assert!(
        error.message.contains("bad target `planet:mars`"),
        "{error}"
    );
    assert!(
        error.message.contains("unknown conversation kind"),
        "{error}"
    );
    assert_eq!((error.line, error.column), (Some(6), Some(13)), "{error}");
}

#[tokio::test]
async fn ctx_and_msg_expose_the_event() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.reply(`${ctx.bot}|${ctx.connection}|${ctx.conversation}`);
    ctx.reply(`${msg.id}|${msg.sender}|${msg.conversation}|${msg.kind}|${msg.text}|${msg.is_group}`);
    ctx.reply(`${msg.mentions}|${msg.mentions.len()}`);
}
"#;
    let dir = scripts(&[("fields.rhai", script)]);
    let runtime = load(dir.path());
    let content = Content::Text(Text {
        text: "@bot @carol hi".into(),
        mentions: vec![UserId::new("bot"), UserId::new("carol")],
        mention_all: false,
    });
    let handled = handle(
        &runtime,
        message_with(ConversationId::group("team"), "dave", content),
        BotStates::new(),
    )
    .await;
    assert_eq!(
        sends(&handled),
        vec![
            send("group:team", "fields|hub1|group:team"),
            send("group:team", "m-1|dave|group:team|text|@bot @carol hi|true"),
            send("group:team", r#"["bot", "carol"]|2"#),
        ]
    );

    let handled = handle(
        &runtime,
        message(ConversationId::direct("eve"), "eve", "yo"),
        BotStates::new(),
    )
    .await;
    assert_eq!(
        sends(&handled)[1],
        send("direct:eve", "m-1|eve|direct:eve|text|yo|false")
    );
}

#[tokio::test]
async fn state_is_writable_in_place_in_all_the_usual_ways() {
    let script = r#"
fn remember(ctx, text) {
    ctx.state.seen.push(text);
}

fn on_message(ctx, msg) {
    if ctx.state.seen == () { ctx.state.seen = []; }
    remember(ctx, msg.text);
    ctx.state["last"] = msg.text;
    ctx.state.total += 1;
    let copy = ctx.state;
    copy.ignored = true;
}
"#;
    let dir = scripts(&[("mem.rhai", script)]);
    let runtime = load(dir.path());
    let state = BotStates::from([("mem".to_string(), json!({ "total": 10 }))]);
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "a"),
        state,
    )
    .await;
    assert_eq!(runtime.last_error("mem"), None);
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "b"),
        handled.state,
    )
    .await;
    assert_eq!(runtime.last_error("mem"), None);
    assert_eq!(
        handled.state.get("mem"),
        Some(&json!({ "seen": ["a", "b"], "last": "b", "total": 12 }))
    );
}

#[tokio::test]
async fn a_bot_that_does_not_write_its_state_leaves_it_alone() {
    let dir = scripts(&[(
        "quiet.rhai",
        "fn on_message(ctx, msg) { let n = ctx.state.n ?? 0; }",
    )]);
    let runtime = load(dir.path());
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "a"),
        BotStates::new(),
    )
    .await;
    assert!(handled.state.is_empty());
    assert!(handled.commands.is_empty());
}

#[tokio::test]
async fn a_state_that_is_not_an_object_is_an_error_and_left_untouched() {
    let dir = scripts(&[("echo.rhai", ECHO)]);
    let runtime = load(dir.path());
    let state = BotStates::from([("echo".to_string(), json!([1, 2]))]);
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "a"),
        state.clone(),
    )
    .await;
    assert_eq!(handled.state, state);
    assert!(handled.commands.is_empty());
    let error = runtime.last_error("echo").unwrap();
    assert!(error.message.contains("not an object"), "{error}");
}

#[tokio::test]
async fn commands_of_several_bots_come_in_bot_order() {
    let dir = scripts(&[
        ("c.rhai", r#"fn on_message(ctx, msg) { ctx.reply("c"); }"#),
        (
            "a.rhai",
            r#"fn on_message(ctx, msg) { ctx.reply("a1"); ctx.reply("a2"); }"#,
        ),
        ("b.rhai", r#"fn on_tick(ctx, tick) { ctx.reply("b"); }"#),
    ]);
    let runtime = load(dir.path());
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "x"),
        BotStates::new(),
    )
    .await;
    let texts: Vec<String> = sends(&handled).into_iter().map(|(_, text)| text).collect();
    assert_eq!(texts, ["a1", "a2", "c"]);
}

#[tokio::test]
async fn other_events_are_dispatched_by_handler_name() {
    let script = r#"
fn on_friend_added(ctx, event) {
    ctx.reply(`welcome ${event.user} (${event.type}, ${event.conversation})`);
}
"#;
    let dir = scripts(&[("greeter.rhai", script)]);
    let runtime = load(dir.path());
    let event = envelope(Event::FriendAdded {
        user: UserId::new("zoe"),
    });
    let handled = handle(&runtime, event, BotStates::new()).await;
    assert_eq!(
        sends(&handled),
        vec![send("direct:zoe", "welcome zoe (friend_added, direct:zoe)")]
    );

    // A message does not call it.
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "x"),
        BotStates::new(),
    )
    .await;
    assert!(handled.commands.is_empty());
    assert_eq!(runtime.error_count("greeter"), 0);
}

#[tokio::test]
async fn print_debug_and_log_go_to_tracing_with_the_bot_name() {
    logs::capture();
    let script = r#"
fn on_message(ctx, msg) {
    print("printed-7f3a");
    debug("debugged-7f3a");
    ctx.log("logged-7f3a");
}
"#;
    let dir = scripts(&[("talker.rhai", script)]);
    let runtime = load(dir.path());
    handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "x"),
        BotStates::new(),
    )
    .await;
    assert_eq!(runtime.error_count("talker"), 0);
    assert_eq!(logs::find(&["INFO", "bot=talker", "printed-7f3a"]).len(), 1);
    assert_eq!(
        logs::find(&["DEBUG", "bot=talker", "debugged-7f3a"]).len(),
        1
    );
    assert_eq!(logs::find(&["INFO", "bot=talker", "logged-7f3a"]).len(), 1);
}

#[tokio::test]
async fn imports_resolve_inside_the_scripts_directory_only() {
    let root = scripts(&[
        ("outside.rhai", "fn hello(name) { 42 }"),
        (
            "scripts/lib/greet.rhai",
            r#"fn hello(name) { `hello ${name}` }"#,
        ),
        (
            "scripts/a_uses_lib.rhai",
            r#"
import "lib/greet" as greet;
fn on_message(ctx, msg) { ctx.reply(greet::hello(msg.sender)); }
"#,
        ),
        (
            "scripts/b_escapes.rhai",
            r#"fn on_message(ctx, msg) { import "../outside" as o; ctx.reply("escaped"); }"#,
        ),
    ]);
    let runtime = load(&root.path().join("scripts"));
    let handled = handle(
        &runtime,
        message(ConversationId::direct("u"), "u", "x"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&handled), vec![send("direct:u", "hello u")]);
    assert_eq!(runtime.error_count("a_uses_lib"), 0);
    let error = runtime.last_error("b_escapes").unwrap();
    assert!(
        error.message.contains("cannot import `../outside`"),
        "{error}"
    );
}

#[tokio::test]
async fn the_shipped_echo_script_loads_and_answers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let (runtime, errors) = BotRuntime::load(&dir, BotOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let echo = runtime
        .bots()
        .into_iter()
        .find(|b| b.name == "echo")
        .expect("echo is shipped");
    assert_eq!(echo.handlers, ["on_message"]);

    let first = handle(
        &runtime,
        message(ConversationId::direct("alice"), "alice", "hello"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&first), vec![send("direct:alice", "echo #1: hello")]);
    let second = handle(
        &runtime,
        message(ConversationId::direct("alice"), "alice", "bye"),
        first.state,
    )
    .await;
    assert_eq!(sends(&second), vec![send("direct:alice", "echo #2: bye")]);

    let group = handle(
        &runtime,
        message(ConversationId::group("lobby"), "bob", "hi"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&group), vec![send("group:lobby", "echo #1: hi")]);
}

mod commands;
mod events;
mod http;
mod matching;
mod reload;
mod schedules;
mod shipped;
mod store;
mod verdicts;
