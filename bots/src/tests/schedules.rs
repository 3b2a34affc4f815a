//! A bot's own schedules, the ticks that call them, command results going back to the bot
//! that sent the command, and the lookup commands.

use super::*;
use parley_engine::handler::Queued;
use parley_engine::model::{
    CommandError, CommandOutput, CommandResult, ErrorKind, GroupId, ScheduleId,
};
use parley_engine::scheduler::{ScheduleChange, ScriptSchedule, When};

fn tick(bot: &str, handler: &str) -> Envelope {
    envelope(Event::Tick {
        schedule: ScheduleId::new("s1"),
        conversation: Some(ConversationId::direct("alice")),
        payload: json!({"what": "tea"}),
        bot: Some(bot.into()),
        handler: Some(handler.into()),
    })
}

fn set(handled: &Handled, i: usize) -> &ScriptSchedule {
    match &handled.schedules[i] {
        ScheduleChange::Set(s) => s,
        other => panic!("not a new schedule: {other:?}"),
    }
}

#[tokio::test]
async fn a_script_schedules_a_one_off_and_a_cron_and_gets_their_ids() {
    let dir = scripts(&[(
        "t.rhai",
        r#"
        fn on_message(ctx, msg) {
            let a = schedule_once(ctx.now() + 60000, "remind", #{ what: msg.text });
            let b = ctx.schedule("0 9 * * MON-FRI", "digest");
            let c = schedule("30 8 * * *", "digest", (), "Europe/Berlin");
            let d = schedule_once("2026-11-24T09:00:00+08:00", "remind");
            ctx.reply(`${a} ${b} ${c} ${d}`);
        }
        fn remind(ctx, t) {}
        fn digest(ctx, t) {}
        "#,
    )]);
    let options = BotOptions {
        timezone: "Asia/Shanghai".into(),
        ..BotOptions::default()
    };
    let runtime = load_with(dir.path(), options);
    let event = message(ConversationId::direct("alice"), "alice", "tea");
    let id = event.id.clone();
    let handled = handle(&runtime, event, BotStates::new()).await;
    assert_eq!(runtime.last_error("t"), None);
    let ids: Vec<String> = (0..4)
        .map(|n| ScriptSchedule::id_for("t", &id, n))
        .collect();
    assert_eq!(sends(&handled), [send("direct:alice", &ids.join(" "))]);

    assert_eq!(handled.schedules.len(), 4);
    let once = set(&handled, 0);
    assert_eq!(
        (once.id.as_str(), once.bot.as_str(), once.handler.as_str()),
        (ids[0].as_str(), "t", "remind")
    );
    assert_eq!(
        once.when,
        When::Once {
            at_ms: 1_700_000_000_000 + 60_000
        }
    );
    assert_eq!(once.payload, json!({"what": "tea"}));
    assert_eq!(
        set(&handled, 1).when,
        When::Cron {
            expression: "0 9 * * MON-FRI".into(),
            timezone: "Asia/Shanghai".into()
        },
        "the configured default time zone"
    );
    assert_eq!(set(&handled, 1).payload, serde_json::Value::Null);
    assert_eq!(
        set(&handled, 2).when,
        When::Cron {
            expression: "30 8 * * *".into(),
            timezone: "Europe/Berlin".into()
        }
    );
    assert_eq!(
        set(&handled, 3).when,
        When::Once {
            at_ms: 1_795_482_000_000
        }
    );
    // The commands say which bot sent them.
    assert_eq!(handled.commands[0].bot.as_deref(), Some("t"));
}

#[tokio::test]
async fn bad_schedules_are_refused_with_what_is_wrong_and_where() {
    for (call, expected) in [
        (
            r#"schedule("61 * * * *", "remind")"#,
            "schedule: invalid cron expression `61 * * * *`",
        ),
        (
            r#"schedule("0 9 * * *", "remind", (), "Mars/Base")"#,
            "unknown time zone `Mars/Base`",
        ),
        (
            r#"schedule("0 9 * * *", "nothing")"#,
            "this bot has no handler `nothing(ctx, tick)`",
        ),
        (
            r#"schedule_once("tomorrow", "remind")"#,
            "`tomorrow` is not an RFC 3339 time",
        ),
        (
            r#"schedule_once(1.5, "remind")"#,
            "milliseconds since the epoch",
        ),
    ] {
        let code = format!("fn on_message(ctx, msg) {{\n    {call};\n}}\nfn remind(ctx, t) {{}}\n");
        let dir = scripts(&[("t.rhai", &code)]);
        let runtime = load(dir.path());
        let handled = handle(
            &runtime,
            message(ConversationId::direct("alice"), "alice", "x"),
            BotStates::new(),
        )
        .await;
        assert!(
            handled.schedules.is_empty(),
            "{call}: nothing is kept from a failed call"
        );
        let error = runtime.last_error("t").expect(call);
        assert!(
            error.message.contains(expected),
            "{call}: {}",
            error.message
        );
        assert_eq!(error.line, Some(2), "{call}: {error:?}");
    }
}

#[tokio::test]
async fn cancel_names_the_bot_and_the_id() {
    let dir = scripts(&[(
        "t.rhai",
        r#"fn on_message(ctx, msg) { cancel(msg.text); ctx.cancel("x"); }"#,
    )]);
    let runtime = load(dir.path());
    let handled = handle(
        &runtime,
        message(ConversationId::direct("alice"), "alice", "t-1"),
        BotStates::new(),
    )
    .await;
    assert_eq!(runtime.last_error("t"), None);
    assert_eq!(
        handled.schedules,
        [
            ScheduleChange::Cancel {
                bot: "t".into(),
                id: "t-1".into()
            },
            ScheduleChange::Cancel {
                bot: "t".into(),
                id: "x".into()
            },
        ]
    );
}

#[tokio::test]
async fn a_tick_calls_the_named_function_of_the_named_bot_only() {
    let remind = r#"
        fn remind(ctx, t) { ctx.reply(`${ctx.bot}: ${t.payload.what} (${t.schedule})`); }
        fn on_tick(ctx, t) { ctx.reply("on_tick"); }
    "#;
    let dir = scripts(&[("a.rhai", remind), ("b.rhai", remind)]);
    let runtime = load(dir.path());
    let handled = handle(&runtime, tick("b", "remind"), BotStates::new()).await;
    assert_eq!(sends(&handled), [send("direct:alice", "b: tea (s1)")]);

    // A function the bot no longer has is reported against the bot.
    let handled = handle(&runtime, tick("a", "gone"), BotStates::new()).await;
    assert!(handled.commands.is_empty());
    let error = runtime.last_error("a").unwrap();
    assert!(
        error.message.contains("a schedule calls `gone(ctx, tick)`"),
        "{error}"
    );
}

#[tokio::test]
async fn a_command_result_goes_back_to_the_bot_that_sent_the_command() {
    let script = r#"
        fn on_command_result(ctx, r) {
            ctx.reply(`${ctx.bot} ${r.command} ok=${r.ok} id=${r.message_id} error=${r.error} reason=${r.reason}`);
        }
    "#;
    let dir = scripts(&[("a.rhai", script), ("b.rhai", script)]);
    let runtime = load(dir.path());
    let result = |bot: Option<&str>, result: CommandResult| {
        envelope(Event::CommandResult {
            conversation: ConversationId::direct("alice"),
            key: "e1#0".into(),
            command: "send".into(),
            result,
            bot: bot.map(Into::into),
        })
    };
    let sent = CommandResult::Ok(CommandOutput::Sent {
        message: MessageRef::new("m9"),
    });
    let handled = handle(&runtime, result(Some("b"), sent.clone()), BotStates::new()).await;
    assert_eq!(
        sends(&handled),
        [send("direct:alice", "b send ok=true id=m9 error= reason=")]
    );

    let refused = CommandResult::Failed(CommandError::new(ErrorKind::NotPermitted, "not an admin"));
    let handled = handle(&runtime, result(Some("a"), refused), BotStates::new()).await;
    assert_eq!(
        sends(&handled),
        [send(
            "direct:alice",
            "a send ok=false id= error=not_permitted reason=not an admin"
        )]
    );

    // A result of a command no bot sent (the admin API's) reaches every bot that asks.
    let handled = handle(&runtime, result(None, sent), BotStates::new()).await;
    assert_eq!(handled.commands.len(), 2);
}

#[tokio::test]
async fn lookups_are_commands_whose_answers_come_back_as_results() {
    let dir = scripts(&[(
        "t.rhai",
        r#"
        fn on_message(ctx, msg) {
            ctx.list_friends();
            ctx.list_groups();
            ctx.group_info();
            ctx.list_members("group:ops");
            ctx.profile("alice");
        }
        fn on_command_result(ctx, r) {
            if r.command == "list_members" {
                ctx.reply(`${r.output.members.len()} members, first ${r.output.members[0].user} (${r.output.members[0].role})`);
            }
        }
        "#,
    )]);
    let runtime = load(dir.path());
    let handled = handle(
        &runtime,
        message(ConversationId::group("lobby"), "alice", "x"),
        BotStates::new(),
    )
    .await;
    assert_eq!(runtime.last_error("t"), None);
    let commands: Vec<Command> = handled
        .commands
        .into_iter()
        .map(|Queued { command, .. }| command)
        .collect();
    assert_eq!(
        commands,
        [
            Command::ListFriends,
            Command::ListGroups,
            Command::GetGroupInfo {
                group: GroupId::new("lobby")
            },
            Command::ListMembers {
                group: GroupId::new("ops")
            },
            Command::GetProfile {
                user: UserId::new("alice")
            },
        ]
    );
    let members = CommandResult::Ok(CommandOutput::Members {
        members: vec![parley_engine::model::MemberInfo {
            user: "olga".into(),
            role: parley_engine::model::MemberRole::Owner,
            nickname: None,
            muted_until_ms: None,
            joined_at_ms: None,
        }],
    });
    let answer = envelope(Event::CommandResult {
        conversation: ConversationId::group("lobby"),
        key: "e#3".into(),
        command: "list_members".into(),
        result: members,
        bot: Some("t".into()),
    });
    let handled = handle(&runtime, answer, BotStates::new()).await;
    assert_eq!(
        sends(&handled),
        [send("group:lobby", "1 members, first olga (owner)")]
    );
}

#[tokio::test]
async fn the_engine_is_told_whether_any_bot_wants_command_results() {
    use parley_engine::handler::EventHandler;
    let dir = scripts(&[("a.rhai", "fn on_message(ctx, msg) { ctx.reply(\"hi\"); }")]);
    let runtime = load(dir.path());
    assert!(!runtime.handles("on_command_result"));
    assert!(runtime.handles("on_message"));
    std::fs::write(dir.path().join("b.rhai"), "fn on_command_result(ctx, r) {}").unwrap();
    assert!(runtime.reload().is_empty());
    assert!(
        runtime.handles("on_command_result"),
        "asked again after a reload"
    );
}
