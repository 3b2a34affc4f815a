//! Reverse WebSocket against the local implementation: every event kind, every answer
//! kind, malformed frames, wrong tokens and accounts, split API/Event roles.

mod support;

use parley_engine::adapter::{Adapter, Intake};
use parley_engine::model::*;
use serde_json::{json, Value};
use support::*;
use tokio::sync::mpsc;

fn ev(extra: Value) -> Value {
    let mut v = json!({"time": 1700000000, "self_id": SELF_ID});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

async fn started(
    extra: Value,
) -> (
    std::sync::Arc<parley_onebot::OneBotAdapter>,
    Server,
    mpsc::Receiver<(Envelope, Option<String>)>,
    String,
) {
    let adapter = adapter(extra);
    let (intake, rx) = Intake::collecting("qq".into(), 64);
    adapter.start(intake, None).await.unwrap();
    let server = Server::start(&adapter).await;
    let url = format!("ws://{}/onebot/qq", server.addr);
    (adapter, server, rx, url)
}

#[actix_rt::test]
async fn every_event_kind_is_mapped_and_bad_frames_are_skipped() {
    let (adapter, server, mut rx, url) = started(json!({})).await;
    let mut qq = Qq::dial(&url, "Universal", SELF_ID, Some(TOKEN))
        .await
        .unwrap();
    let notice = |t: &str, extra: Value| {
        let mut v = ev(json!({"post_type": "notice", "notice_type": t}));
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let events = vec![
        lifecycle_connect(),
        ev(
            json!({"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 5000, "status": {"online": true}}),
        ),
        ev(
            json!({"post_type": "message", "message_type": "private", "sub_type": "friend", "message_id": -7,
                  "user_id": 42, "message": "hi &#91;1&#93; [CQ:face,id=5]", "raw_message": "", "font": 0, "sender": {}}),
        ),
        group_message(
            8,
            500,
            42,
            json!([{"type": "at", "data": {"qq": "10001"}}, {"type": "text", "data": {"text": " ping"}}]),
        ),
        ev(
            json!({"post_type": "message_sent", "message_type": "private", "message_id": 9, "user_id": SELF_ID,
                  "target_id": 42, "message": "mine", "raw_message": "mine", "font": 0, "sender": {}}),
        ),
        notice(
            "group_upload",
            json!({"group_id": 500, "user_id": 42, "file": {"id": "f1", "name": "a.txt", "size": 3, "busid": 102}}),
        ),
        notice(
            "group_admin",
            json!({"sub_type": "set", "group_id": 500, "user_id": 42}),
        ),
        notice(
            "group_admin",
            json!({"sub_type": "unset", "group_id": 500, "user_id": 42}),
        ),
        notice(
            "group_decrease",
            json!({"sub_type": "leave", "group_id": 500, "user_id": 42, "operator_id": 42}),
        ),
        notice(
            "group_decrease",
            json!({"sub_type": "kick", "group_id": 500, "user_id": 42, "operator_id": 1}),
        ),
        notice(
            "group_decrease",
            json!({"sub_type": "kick_me", "group_id": 500, "user_id": SELF_ID, "operator_id": 1}),
        ),
        notice(
            "group_increase",
            json!({"sub_type": "approve", "group_id": 500, "user_id": 43, "operator_id": 1}),
        ),
        notice(
            "group_increase",
            json!({"sub_type": "invite", "group_id": 500, "user_id": 44, "operator_id": 1}),
        ),
        notice(
            "group_ban",
            json!({"sub_type": "ban", "group_id": 500, "user_id": 42, "operator_id": 1, "duration": 60}),
        ),
        notice(
            "group_ban",
            json!({"sub_type": "lift_ban", "group_id": 500, "user_id": 42, "operator_id": 1, "duration": 0}),
        ),
        notice(
            "group_ban",
            json!({"sub_type": "ban", "group_id": 500, "user_id": 0, "operator_id": 1, "duration": -1}),
        ),
        notice(
            "group_ban",
            json!({"sub_type": "lift_ban", "group_id": 500, "user_id": 0, "operator_id": 1, "duration": 0}),
        ),
        notice("friend_add", json!({"user_id": 45})),
        notice(
            "group_recall",
            json!({"group_id": 500, "user_id": 42, "operator_id": 1, "message_id": 8}),
        ),
        notice("friend_recall", json!({"user_id": 42, "message_id": -7})),
        notice(
            "notify",
            json!({"sub_type": "poke", "group_id": 500, "user_id": 42, "target_id": SELF_ID}),
        ),
        notice(
            "notify",
            json!({"sub_type": "lucky_king", "group_id": 500, "user_id": 42, "target_id": 43}),
        ),
        notice(
            "notify",
            json!({"sub_type": "honor", "group_id": 500, "user_id": 42, "honor_type": "talkative"}),
        ),
        ev(
            json!({"post_type": "request", "request_type": "friend", "user_id": 46, "comment": "hello", "flag": "fr1"}),
        ),
        ev(
            json!({"post_type": "request", "request_type": "group", "sub_type": "add", "group_id": 500, "user_id": 47, "comment": "let me in", "flag": "ga1"}),
        ),
        ev(
            json!({"post_type": "request", "request_type": "group", "sub_type": "invite", "group_id": 600, "user_id": 48, "comment": "", "flag": "gi1"}),
        ),
    ];
    // Malformed frames between the events: logged, skipped, the connection stays up.
    qq.push_raw("{not json").await;
    qq.push(json!({"hello": 1})).await;
    qq.push(json!({"time": 1, "self_id": 999, "post_type": "notice", "notice_type": "friend_add", "user_id": 1})).await;
    qq.push(ev(
        json!({"post_type": "message", "message_type": "private"}),
    ))
    .await;
    qq.push(ev(
        json!({"post_type": "notice", "notice_type": "essence", "sub_type": "add"}),
    ))
    .await;
    for e in &events {
        qq.push(e.clone()).await;
    }
    // One event of each kind, the heartbeat excepted.
    let mut got = Vec::new();
    for _ in 0..events.len() - 1 {
        got.push(rx.recv().await.unwrap().0);
    }
    let names: Vec<String> = got
        .iter()
        .map(|e| match &e.event {
            Event::GroupNotice(n) => format!("notice:{}", n.kind.name()),
            Event::Message(m) => format!("message:{}", m.content.kind_name()),
            other => other.handler_name().to_string(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "on_connection",
            "message:mixed",
            "message:text",
            "message:text",
            "message:file",
            "notice:admin_added",
            "notice:admin_removed",
            "notice:member_left",
            "notice:member_kicked",
            "notice:member_kicked",
            "notice:member_joined",
            "notice:member_joined",
            "notice:member_muted",
            "notice:member_unmuted",
            "notice:all_muted",
            "notice:all_unmuted",
            "on_friend_added",
            "on_recall",
            "on_recall",
            "message:custom",
            "message:custom",
            "notice:member_info_changed",
            "on_friend_request",
            "on_group_join_request",
            "on_group_invitation",
        ]
    );
    assert_eq!(got[0].event, Event::Connection(ConnectionState::Connected));
    let Event::Message(private) = &got[1].event else {
        panic!()
    };
    assert_eq!(private.conversation, ConversationId::direct("42"));
    assert_eq!(private.content.plain_text(), "hi [1] ");
    assert_eq!(got[1].id.as_str(), "msg:-7:1700000000");
    let Event::Message(group) = &got[2].event else {
        panic!()
    };
    assert_eq!(
        (group.conversation.clone(), group.content.mentions()),
        (ConversationId::group("500"), vec![UserId::new("10001")])
    );
    assert!(!got[2].from_self);
    let Event::Message(mine) = &got[3].event else {
        panic!()
    };
    assert!(got[3].from_self);
    assert_eq!(mine.conversation, ConversationId::direct("42"));
    let Event::GroupNotice(muted) = &got[12].event else {
        panic!()
    };
    assert_eq!(
        muted.kind,
        GroupNoticeKind::MemberMuted {
            until_ms: 1700000060000
        }
    );
    assert_eq!(muted.operator, Some(UserId::new("1")));
    let Event::GroupNotice(all) = &got[14].event else {
        panic!()
    };
    assert!(all.targets.is_empty());
    let Event::Message(poke) = &got[19].event else {
        panic!()
    };
    assert_eq!(poke.content.kind_name(), "custom");
    assert!(
        matches!(&got[22].event, Event::FriendRequest(r) if r.request.as_str() == "fr1" && r.greeting.as_deref() == Some("hello"))
    );
    assert!(
        matches!(&got[24].event, Event::GroupInvitation { request, inviter, .. } if request.as_str() == "gi1" && inviter.as_str() == "48")
    );
    // A notice delivered twice gets the same id (the inbox handles it once).
    qq.push(events[17].clone()).await;
    let again = rx.recv().await.unwrap().0;
    assert_eq!(again.id, got[16].id);

    adapter.stop().await;
    server.stop().await;
}

#[actix_rt::test]
async fn actions_are_matched_by_echo_and_answers_typed() {
    let (adapter, server, mut rx, url) = started(json!({"action_timeout_ms": 300})).await;
    let mut qq = Qq::dial(&url, "Universal", SELF_ID, Some(TOKEN))
        .await
        .unwrap();
    qq.push(lifecycle_connect()).await;
    rx.recv().await.unwrap();
    let exec = |c: Command| {
        adapter.execute(OutboundCommand {
            connection: "qq".into(),
            idempotency_key: "k".into(),
            command: c,
        })
    };
    let send = |to: ConversationId, text: &str| Command::Send {
        to,
        content: Content::text(text),
        reply_to: None,
        options: SendOptions::default(),
        as_user: None,
    };
    // Two calls in flight, answered in the opposite order.
    let a = tokio::spawn(exec(send(ConversationId::group("500"), "one")));
    let b = tokio::spawn(exec(send(ConversationId::direct("42"), "two")));
    let (x, y) = (qq.action().await, qq.action().await);
    qq.answer(&y, ok(json!({"message_id": 2}))).await;
    qq.answer(&x, ok(json!({"message_id": 1}))).await;
    let by_action = |x: &Value, want: &str| x["action"] == want;
    let (group_id, private_id) = if by_action(&x, "send_group_msg") {
        ("1", "2")
    } else {
        ("2", "1")
    };
    assert_eq!(
        a.await.unwrap(),
        CommandResult::Ok(CommandOutput::Sent {
            message: MessageRef::new(group_id)
        })
    );
    assert_eq!(
        b.await.unwrap(),
        CommandResult::Ok(CommandOutput::Sent {
            message: MessageRef::new(private_id)
        })
    );

    // Every command with an action, answered ok, and a failure of each kind.
    let commands = [
        (
            Command::Recall {
                conversation: ConversationId::group("500"),
                message: MessageRef::new("8"),
                scope: RecallScope::Everyone,
            },
            "delete_msg",
        ),
        (
            Command::Kick {
                group: "500".into(),
                users: vec!["42".into()],
                ban_seconds: None,
            },
            "set_group_kick",
        ),
        (
            Command::Mute {
                group: "500".into(),
                user: "42".into(),
                seconds: 60,
            },
            "set_group_ban",
        ),
        (
            Command::MuteAll {
                group: "500".into(),
            },
            "set_group_whole_ban",
        ),
        (
            Command::SetAdmin {
                group: "500".into(),
                user: "42".into(),
                admin: true,
            },
            "set_group_admin",
        ),
        (
            Command::SetGroupInfo {
                group: "500".into(),
                patch: GroupInfoPatch {
                    name: Some("n".into()),
                    ..Default::default()
                },
            },
            "set_group_name",
        ),
        (
            Command::SetAnnouncement {
                group: "500".into(),
                text: "t".into(),
            },
            "_send_group_notice",
        ),
        (
            Command::LeaveGroup {
                group: "500".into(),
            },
            "set_group_leave",
        ),
        (
            Command::AnswerFriendRequest {
                request: "fr1".into(),
                accept: true,
                remark: None,
                add_back: false,
            },
            "set_friend_add_request",
        ),
        (
            Command::AnswerJoinRequest {
                request: "ga1".into(),
                accept: false,
                reason: Some("no".into()),
            },
            "set_group_add_request",
        ),
        (Command::RemoveFriend { user: "42".into() }, "delete_friend"),
    ];
    for (command, action) in commands {
        let call = tokio::spawn(exec(command));
        let got = qq.action().await;
        assert_eq!(got["action"], action);
        qq.answer(&got, json!({"status": "ok", "retcode": 0, "data": null}))
            .await;
        assert_eq!(
            call.await.unwrap(),
            CommandResult::Ok(CommandOutput::Done),
            "{action}"
        );
    }
    let failures = [
        (
            json!({"status": "failed", "retcode": 1404, "data": null}),
            ErrorKind::Unsupported,
        ),
        (
            json!({"status": "failed", "retcode": 100, "msg": "GROUP_NOT_FOUND", "wording": "群聊不存在"}),
            ErrorKind::NotFound,
        ),
        (
            json!({"status": "failed", "retcode": 200, "wording": "internal"}),
            ErrorKind::Unavailable,
        ),
    ];
    for (answer, kind) in failures {
        let call = tokio::spawn(exec(Command::MuteAll {
            group: "500".into(),
        }));
        let got = qq.action().await;
        qq.answer(&got, answer).await;
        let CommandResult::Failed(e) = call.await.unwrap() else {
            panic!()
        };
        assert_eq!(e.kind, kind, "{e:?}");
    }
    // No answer in time: the outcome is unknown; a late answer is ignored.
    let call = tokio::spawn(exec(Command::MuteAll {
        group: "500".into(),
    }));
    let late = qq.action().await;
    let CommandResult::Failed(e) = call.await.unwrap() else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::UnknownOutcome);
    qq.answer(&late, ok(Value::Null)).await;
    // Commands without an action.
    let CommandResult::Failed(e) = exec(Command::Typing {
        to: "42".into(),
        typing: true,
    })
    .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unsupported);
    // The connection gone: not sent, worth retrying.
    drop(qq);
    rx.recv().await.unwrap(); // lost
    let CommandResult::Failed(e) = exec(send(ConversationId::group("500"), "x")).await else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    adapter.stop().await;
    server.stop().await;
}

#[actix_rt::test]
async fn wrong_token_or_account_is_refused() {
    let (adapter, server, _rx, url) = started(json!({})).await;
    assert_eq!(
        Qq::dial(&url, "Universal", SELF_ID, Some("nope"))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        Qq::dial(&url, "Universal", SELF_ID, None).await.err(),
        Some(401)
    );
    assert_eq!(
        Qq::dial(&url, "Universal", 999, Some(TOKEN)).await.err(),
        Some(403)
    );
    assert_eq!(
        Qq::dial(&url, "Robot", SELF_ID, Some(TOKEN)).await.err(),
        Some(400)
    );
    let with_query = format!("{url}?access_token={TOKEN}");
    assert!(Qq::dial(&with_query, "Universal", SELF_ID, None)
        .await
        .is_ok());
    adapter.stop().await;
    server.stop().await;
}

#[actix_rt::test]
async fn split_api_and_event_roles() {
    let (adapter, server, mut rx, url) = started(json!({})).await;
    let mut events = Qq::dial(&url, "Event", SELF_ID, Some(TOKEN)).await.unwrap();
    let mut api = Qq::dial(&url, "API", SELF_ID, Some(TOKEN)).await.unwrap();
    events.push(group_message(1, 500, 42, json!("hello"))).await;
    assert_eq!(rx.recv().await.unwrap().0.id.as_str(), "msg:1:1700000000");
    let call = tokio::spawn(adapter.execute(OutboundCommand {
        connection: "qq".into(),
        idempotency_key: "k".into(),
        command: Command::UnmuteAll {
            group: "500".into(),
        },
    }));
    let got = api.action().await;
    assert_eq!(got["params"], json!({"group_id": 500, "enable": false}));
    api.answer(&got, ok(Value::Null)).await;
    assert_eq!(call.await.unwrap(), CommandResult::Ok(CommandOutput::Done));
    adapter.stop().await;
    server.stop().await;
}

#[actix_rt::test]
async fn queries_are_answered_from_the_implementation() {
    let (adapter, server, mut rx, url) = started(json!({})).await;
    let mut qq = Qq::dial(&url, "Universal", SELF_ID, Some(TOKEN))
        .await
        .unwrap();
    qq.push(lifecycle_connect()).await;
    rx.recv().await.unwrap();
    // The implementation answers every query from its directory, recording the calls.
    let implementation = tokio::spawn(async move {
        let mut calls = Vec::new();
        while let Some(Ok(frame)) = futures_util::StreamExt::next(&mut qq.ws).await {
            let tokio_tungstenite::tungstenite::Message::Text(t) = frame else {
                continue;
            };
            let action: Value = serde_json::from_str(&t).unwrap();
            let name = action["action"].as_str().unwrap().to_string();
            let answer = directory_answer(&name, &action["params"]).expect("a query");
            calls.push((name, action["params"].clone()));
            qq.answer(&action, answer).await;
        }
        calls
    });
    let exec = |c: Command| {
        adapter.execute(OutboundCommand {
            connection: "qq".into(),
            idempotency_key: "k".into(),
            command: c,
        })
    };
    let ok_output = |r: CommandResult| match r {
        CommandResult::Ok(o) => o,
        other => panic!("{other:?}"),
    };

    let CommandOutput::Friends { friends } = ok_output(exec(Command::ListFriends).await) else {
        panic!()
    };
    assert_eq!(
        friends,
        vec![
            FriendInfo {
                user: "42".into(),
                nickname: Some("alice".into()),
                alias: Some("Alice from support".into()),
            },
            FriendInfo {
                user: "43".into(),
                nickname: Some("bob".into()),
                alias: None,
            },
        ]
    );

    let CommandOutput::Groups { groups } = ok_output(exec(Command::ListGroups).await) else {
        panic!()
    };
    let summary: Vec<_> = groups
        .iter()
        .map(|g| {
            (
                g.group.as_str(),
                g.name.as_str(),
                g.member_count,
                g.capacity,
                g.all_muted,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("500", "Lobby", Some(3), Some(200), false),
            ("600", "Ops", Some(2), Some(500), true)
        ]
    );

    let CommandOutput::Group { group } = ok_output(
        exec(Command::GetGroupInfo {
            group: "500".into(),
        })
        .await,
    ) else {
        panic!()
    };
    assert_eq!(group, groups[0]);

    let CommandOutput::Members { members } = ok_output(
        exec(Command::ListMembers {
            group: "500".into(),
        })
        .await,
    ) else {
        panic!()
    };
    assert_eq!(
        members,
        vec![
            MemberInfo {
                user: "1".into(),
                role: MemberRole::Owner,
                nickname: Some("boss".into()),
                muted_until_ms: None,
                joined_at_ms: Some(1_600_000_000_000),
            },
            MemberInfo {
                user: "42".into(),
                role: MemberRole::Admin,
                nickname: Some("Alice (ops)".into()),
                muted_until_ms: None,
                joined_at_ms: Some(1_650_000_000_000),
            },
            MemberInfo {
                user: SELF_ID.to_string().as_str().into(),
                role: MemberRole::Member,
                nickname: Some("parley".into()),
                muted_until_ms: Some(MUTED_UNTIL * 1000),
                joined_at_ms: Some(1_690_000_000_000),
            },
        ]
    );

    let CommandOutput::Profile { profile } =
        ok_output(exec(Command::GetProfile { user: "42".into() }).await)
    else {
        panic!()
    };
    assert_eq!(profile.user.as_str(), "42");
    assert_eq!(profile.nickname.as_deref(), Some("alice"));
    assert_eq!(profile.signature.as_deref(), Some("here to help"));
    assert_eq!(profile.ext["sex"], "female");
    assert_eq!(profile.ext["level"], 12);

    // A group the account is not in: the implementation's failure, typed.
    let CommandResult::Failed(e) = exec(Command::GetGroupInfo {
        group: "999".into(),
    })
    .await
    else {
        panic!()
    };
    assert_eq!(
        (e.kind, e.platform_code.as_deref()),
        (ErrorKind::NotFound, Some("100"))
    );
    assert!(e.message.contains("GROUP_NOT_FOUND"), "{}", e.message);
    // Data Parley cannot read: a clear error, not a panic or an empty list.
    let CommandResult::Failed(e) = exec(Command::ListMembers {
        group: "700".into(),
    })
    .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("expected a list"), "{}", e.message);

    adapter.stop().await;
    server.stop().await;
    let calls = implementation.await.unwrap();
    let names: Vec<_> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "get_friend_list",
            "get_group_list",
            "get_group_info",
            "get_group_member_list",
            "get_stranger_info",
            "get_group_info",
            "get_group_member_list"
        ]
    );
    assert_eq!(calls[4].1, json!({"user_id": 42}));
    // The transcript runner reads each action back as the command that made it.
    let back: Vec<_> = calls
        .iter()
        .map(|(name, params)| command_of(name, params, |_| None).unwrap())
        .collect();
    assert_eq!(
        back[3],
        Command::ListMembers {
            group: "500".into()
        }
    );
    assert_eq!(back[4], Command::GetProfile { user: "42".into() });
    assert_eq!(
        back.iter().map(|c| c.name()).collect::<Vec<_>>()[..3],
        ["list_friends", "list_groups", "get_group_info"]
    );
}
