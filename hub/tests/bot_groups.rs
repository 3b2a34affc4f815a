//! Group events reach a bot through the engine, and the bot's group commands work.

mod common;

use common::bot::Bot;
use common::{Client, TestHub};
use parley_engine::adapter::Adapter;
use parley_engine::model::{
    Command, CommandOutput, CommandResult, ErrorKind, Event, GroupId, GroupKind, GroupNoticeKind,
    OutboundCommand, UserId,
};
use serde_json::json;

async fn notice(client: &mut Client, kind: &str) -> serde_json::Value {
    loop {
        let frame = client.event("group_notice").await;
        if frame["event"]["kind"] == kind {
            return frame["event"].clone();
        }
    }
}

#[actix_web::test]
async fn a_moderator_bot_kicks_on_a_keyword_mutes_shouting_and_answers_applications() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    // alice makes the bot owner of a public group with bob in it.
    alice
        .call(
            json!({"type": "create_group", "id": "mod", "kind": "public", "name": "Moderated",
            "members": ["bot", "bob"]}),
        )
        .await;
    let handed = alice
        .call(json!({"type": "transfer_owner", "group": "mod", "user": "bot"}))
        .await;
    assert_eq!(handed["type"], "ok", "{handed}");

    let mut bot = Bot::start(&t, "bot", |envelope| {
        if envelope.from_self {
            return vec![];
        }
        match &envelope.event {
            Event::Message(m) if m.conversation.id == "mod" => {
                let group = GroupId::new("mod");
                let text = m.content.plain_text();
                if text.contains("spam") {
                    vec![Command::Kick {
                        group,
                        users: vec![m.sender.clone()],
                        ban_seconds: None,
                    }]
                } else if text.chars().any(char::is_alphabetic) && text == text.to_uppercase() {
                    vec![Command::Mute {
                        group,
                        user: m.sender.clone(),
                        seconds: 30,
                    }]
                } else {
                    vec![]
                }
            }
            Event::GroupJoinRequest { request, .. } => vec![Command::AnswerJoinRequest {
                request: request.clone(),
                accept: true,
                reason: None,
            }],
            _ => vec![],
        }
    })
    .await;

    let mut bob = t.login("bob").await;
    bob.say("group:mod", "I SAID HELLO", "b1").await;
    let muted = notice(&mut bob, "member_muted").await;
    assert_eq!(
        (muted["operator"].clone(), muted["targets"].clone()),
        (json!("bot"), json!(["bob"]))
    );
    bot.handled(|e| {
        matches!(&e.event, Event::GroupNotice(n)
        if matches!(n.kind, GroupNoticeKind::MemberMuted { .. }) && e.from_self)
    })
    .await;

    alice.say("group:mod", "buy spam now", "a1").await;
    let kicked = notice(&mut alice, "member_kicked").await;
    assert_eq!(kicked["targets"], json!(["alice"]));

    let mut carol = t.login("carol").await;
    let joined = carol
        .call(json!({"type": "join_group", "group": "mod"}))
        .await;
    assert_eq!(joined["status"], "pending", "{joined}");
    let request = bot
        .handled(|e| matches!(&e.event, Event::GroupJoinRequest { user, .. } if user.as_str() == "carol"))
        .await;
    assert!(!request.from_self);
    assert!(request.id.0.starts_with("ev:"));
    let answered = carol.event("group_request_answered").await;
    assert_eq!(answered["event"]["accepted"], true);
    let joined = notice(&mut carol, "member_joined").await;
    assert_eq!(
        (joined["operator"].clone(), joined["targets"].clone()),
        (json!("bot"), json!(["carol"]))
    );
    bot.stop().await;
    t.stop().await;
}

#[actix_web::test]
async fn bot_group_commands_have_typed_results() {
    let t = TestHub::start(None).await;
    let adapter = parley_hub::HubAdapter::new(t.hub.clone(), "hub".into(), "bot".into());
    let run = |command: Command| {
        adapter.execute(OutboundCommand {
            connection: "hub".into(),
            idempotency_key: "k".into(),
            command,
        })
    };
    let failed = |result: CommandResult| match result {
        CommandResult::Failed(e) => (e.kind, e.platform_code.unwrap_or_default()),
        ok => panic!("expected a failure, got {ok:?}"),
    };
    // The bot is a plain member of lobby.
    assert_eq!(
        failed(
            run(Command::Kick {
                group: GroupId::new("lobby"),
                users: vec![UserId::new("bob")],
                ban_seconds: None
            })
            .await
        ),
        (ErrorKind::NotPermitted, "not_permitted".into())
    );
    assert_eq!(
        failed(
            run(Command::Dismiss {
                group: GroupId::new("nope")
            })
            .await
        ),
        (ErrorKind::NotFound, "not_found".into())
    );
    assert_eq!(
        failed(
            run(Command::CreateGroup {
                kind: GroupKind::Discussion,
                name: "x".into(),
                members: vec![]
            })
            .await
        ),
        (ErrorKind::Unsupported, String::new())
    );

    let mut alice = t.login("alice").await;
    let created = run(Command::CreateGroup {
        kind: GroupKind::Private,
        name: "Bot's".into(),
        members: vec![UserId::new("alice")],
    })
    .await;
    let CommandResult::Ok(CommandOutput::GroupCreated { group }) = created else {
        panic!("{created:?}")
    };
    let n = notice(&mut alice, "created").await;
    assert_eq!(
        (n["group"].as_str(), n["operator"].as_str()),
        (Some(group.as_str()), Some("bot"))
    );
    for command in [
        Command::SetAnnouncement {
            group: group.clone(),
            text: "rules".into(),
        },
        Command::MuteAll {
            group: group.clone(),
        },
        Command::UnmuteAll {
            group: group.clone(),
        },
        Command::SetAdmin {
            group: group.clone(),
            user: UserId::new("alice"),
            admin: true,
        },
        Command::Mute {
            group: group.clone(),
            user: UserId::new("alice"),
            seconds: 10,
        },
        Command::Unmute {
            group: group.clone(),
            user: UserId::new("alice"),
        },
        Command::Invite {
            group: group.clone(),
            users: vec![UserId::new("carol")],
        },
        Command::SetGroupInfo {
            group: group.clone(),
            patch: parley_engine::model::GroupInfoPatch {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        },
        Command::TransferOwner {
            group: group.clone(),
            user: UserId::new("alice"),
        },
        Command::LeaveGroup {
            group: group.clone(),
        },
    ] {
        let name = command.name();
        let result = run(command).await;
        assert!(
            matches!(result, CommandResult::Ok(CommandOutput::Done)),
            "{name}: {result:?}"
        );
    }
    for kind in [
        "announcement_changed",
        "all_muted",
        "all_unmuted",
        "admin_added",
        "member_muted",
        "member_unmuted",
        "member_joined",
        "info_changed",
        "owner_transferred",
        "member_left",
    ] {
        notice(&mut alice, kind).await;
    }
    assert_eq!(
        failed(
            run(Command::JoinGroup {
                group: group.clone(),
                message: None
            })
            .await
        ),
        (ErrorKind::NotPermitted, "not_permitted".into()),
        "a private group takes no applications"
    );
    t.stop().await;
}
