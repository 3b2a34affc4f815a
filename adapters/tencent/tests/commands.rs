//! Every command against the local Tencent server: the REST call it makes, the result it
//! returns, and how failures are classified for the outbox.

mod support;

use parley_engine::adapter::Adapter;
use parley_engine::model::*;
use serde_json::json;
use support::*;

fn g() -> GroupId {
    "g1".into()
}

#[actix_rt::test]
async fn every_supported_command_makes_its_call() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);

    let r = a
        .execute(cmd("k1", send(ConversationId::direct("alice"), "hi")))
        .await;
    let CommandResult::Ok(CommandOutput::Sent { message }) = r else {
        panic!("{r:?}")
    };
    let req = fake.last();
    assert_eq!(req.api, "openim/sendmsg");
    assert_eq!(req.body["From_Account"], "bot");
    assert_eq!(req.body["To_Account"], "alice");
    assert_eq!(
        req.body["MsgBody"],
        json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}])
    );
    assert_eq!(
        message.id,
        format!(
            "{}_{}_1700000000",
            req.body["MsgSeq"], req.body["MsgRandom"]
        )
    );
    assert_eq!(message.client_id.as_deref(), Some("k1"));
    assert_eq!(message.time_ms, Some(1_700_000_000_000));

    let mention = Content::Text(Text {
        text: "hey".into(),
        mentions: vec!["alice".into()],
        mention_all: true,
    });
    let r = a
        .execute(cmd(
            "k2",
            Command::Send {
                to: ConversationId::group("g1"),
                content: mention,
                reply_to: None,
                options: SendOptions {
                    online_only: true,
                    extra: json!({"x": 1}),
                    ..SendOptions::default()
                },
                as_user: Some("alice".into()),
            },
        ))
        .await;
    let CommandResult::Ok(CommandOutput::Sent { message }) = r else {
        panic!("{r:?}")
    };
    assert_eq!((message.seq, message.id.as_str()), (Some(1), "1"));
    let req = fake.last();
    assert_eq!(req.api, "group_open_http_svc/send_group_msg");
    assert_eq!(req.body["From_Account"], "alice");
    assert_eq!(req.body["MsgOnlineOnlyFlag"], 1);
    assert_eq!(req.body["CloudCustomData"], "{\"x\":1}");
    assert_eq!(
        req.body["GroupAtInfo"],
        json!([{"GroupAtAllFlag": 1}, {"GroupAtAllFlag": 0, "GroupAt_Account": "alice"}])
    );

    let r = a
        .execute(cmd(
            "k3",
            Command::BatchSend {
                to: vec![ConversationId::direct("a"), ConversationId::direct("b")],
                content: Content::text("news"),
            },
        ))
        .await;
    assert!(
        matches!(r, CommandResult::Ok(CommandOutput::BatchSent { ref messages }) if messages.len() == 2),
        "{r:?}"
    );
    assert_eq!(fake.last().body["To_Account"], json!(["a", "b"]));

    let r = a
        .execute(cmd(
            "k4",
            Command::CreateGroup {
                kind: GroupKind::Public,
                name: "G".into(),
                members: vec!["a".into()],
            },
        ))
        .await;
    assert_eq!(
        r,
        CommandResult::Ok(CommandOutput::GroupCreated {
            group: "@TGS#2J4SZEAEL".into()
        })
    );

    let done: Vec<(Command, &str, serde_json::Value)> = vec![
        (
            Command::Recall {
                conversation: ConversationId::direct("alice"),
                message: MessageRef::new("1_2_3"),
                scope: RecallScope::Everyone,
            },
            "openim/admin_msgwithdraw",
            json!({"From_Account": "bot", "To_Account": "alice", "MsgKey": "1_2_3"}),
        ),
        (
            Command::Recall {
                conversation: ConversationId::group("g1"),
                message: MessageRef::new("42"),
                scope: RecallScope::Everyone,
            },
            "group_open_http_svc/group_msg_recall",
            json!({"GroupId": "g1", "MsgSeqList": [{"MsgSeq": 42}]}),
        ),
        (
            Command::MarkRead {
                conversation: ConversationId::direct("alice"),
                read: ReadMark::UpTo { time_ms: 0 },
            },
            "openim/admin_set_msg_read",
            json!({"Report_Account": "bot", "Peer_Account": "alice"}),
        ),
        (
            Command::AddFriend {
                user: "alice".into(),
                greeting: Some("hello".into()),
                answer: None,
            },
            "sns/friend_add",
            json!({"From_Account": "bot", "AddType": "Add_Type_Both",
                                  "AddFriendItem": [{"To_Account": "alice", "AddSource": "AddSource_Type_Parley", "AddWording": "hello"}]}),
        ),
        (
            Command::RemoveFriend {
                user: "alice".into(),
            },
            "sns/friend_delete",
            json!({"From_Account": "bot", "To_Account": ["alice"], "DeleteType": "Delete_Type_Both"}),
        ),
        (
            Command::Block {
                user: "alice".into(),
            },
            "sns/black_list_add",
            json!({"From_Account": "bot", "To_Account": ["alice"]}),
        ),
        (
            Command::Unblock {
                user: "alice".into(),
            },
            "sns/black_list_delete",
            json!({"From_Account": "bot", "To_Account": ["alice"]}),
        ),
        (
            Command::Invite {
                group: g(),
                users: vec!["a".into(), "b".into()],
            },
            "group_open_http_svc/add_group_member",
            json!({"GroupId": "g1", "MemberList": [{"Member_Account": "a"}, {"Member_Account": "b"}]}),
        ),
        (
            Command::JoinGroup {
                group: g(),
                message: None,
            },
            "group_open_http_svc/add_group_member",
            json!({"GroupId": "g1", "MemberList": [{"Member_Account": "bot"}]}),
        ),
        (
            Command::Kick {
                group: g(),
                users: vec!["a".into()],
                ban_seconds: None,
            },
            "group_open_http_svc/delete_group_member",
            json!({"GroupId": "g1", "MemberToDel_Account": ["a"]}),
        ),
        (
            Command::LeaveGroup { group: g() },
            "group_open_http_svc/delete_group_member",
            json!({"GroupId": "g1", "MemberToDel_Account": ["bot"]}),
        ),
        (
            Command::Mute {
                group: g(),
                user: "a".into(),
                seconds: 600,
            },
            "group_open_http_svc/forbid_send_msg",
            json!({"GroupId": "g1", "Members_Account": ["a"], "MuteTime": 600}),
        ),
        (
            Command::Unmute {
                group: g(),
                user: "a".into(),
            },
            "group_open_http_svc/forbid_send_msg",
            json!({"GroupId": "g1", "Members_Account": ["a"], "MuteTime": 0}),
        ),
        (
            Command::MuteAll { group: g() },
            "group_open_http_svc/modify_group_base_info",
            json!({"GroupId": "g1", "ShutUpAllMember": "On"}),
        ),
        (
            Command::UnmuteAll { group: g() },
            "group_open_http_svc/modify_group_base_info",
            json!({"GroupId": "g1", "ShutUpAllMember": "Off"}),
        ),
        (
            Command::SetAdmin {
                group: g(),
                user: "a".into(),
                admin: true,
            },
            "group_open_http_svc/modify_group_member_info",
            json!({"GroupId": "g1", "Member_Account": "a", "Role": "Admin"}),
        ),
        (
            Command::SetAdmin {
                group: g(),
                user: "a".into(),
                admin: false,
            },
            "group_open_http_svc/modify_group_member_info",
            json!({"GroupId": "g1", "Member_Account": "a", "Role": "Member"}),
        ),
        (
            Command::TransferOwner {
                group: g(),
                user: "a".into(),
            },
            "group_open_http_svc/change_group_owner",
            json!({"GroupId": "g1", "NewOwner_Account": "a"}),
        ),
        (
            Command::SetGroupInfo {
                group: g(),
                patch: GroupInfoPatch {
                    name: Some("N".into()),
                    description: Some("D".into()),
                    avatar_url: Some("https://x/f.png".into()),
                    ext: Some(json!({"k": "v"})),
                },
            },
            "group_open_http_svc/modify_group_base_info",
            json!({"GroupId": "g1", "Name": "N", "Introduction": "D",
                                                              "FaceUrl": "https://x/f.png", "AppDefinedData": [{"Key": "k", "Value": "v"}]}),
        ),
        (
            Command::SetAnnouncement {
                group: g(),
                text: "rules".into(),
            },
            "group_open_http_svc/modify_group_base_info",
            json!({"GroupId": "g1", "Notification": "rules"}),
        ),
        (
            Command::Dismiss { group: g() },
            "group_open_http_svc/destroy_group",
            json!({"GroupId": "g1"}),
        ),
    ];
    for (i, (command, api, body)) in done.into_iter().enumerate() {
        let name = command.name();
        let r = a.execute(cmd(&format!("d{i}"), command)).await;
        assert_eq!(r, CommandResult::Ok(CommandOutput::Done), "{name}");
        let req = fake.last();
        assert_eq!((req.api.as_str(), &req.body), (api, &body), "{name}");
    }
    fake.stop().await;
}

#[actix_rt::test]
async fn commands_without_an_api_are_unsupported() {
    let a = adapter("http://127.0.0.1:9");
    let unsupported = [
        Command::Typing {
            to: "a".into(),
            typing: true,
        },
        Command::Forward {
            to: ConversationId::direct("a"),
            messages: vec![],
            from: ConversationId::direct("b"),
        },
        Command::Upload {
            source_url: "https://x".into(),
            name: "f".into(),
            mime: None,
        },
        Command::AnswerFriendRequest {
            request: "r".into(),
            accept: true,
            remark: None,
            add_back: false,
        },
        Command::AnswerJoinRequest {
            request: "r".into(),
            accept: true,
            reason: None,
        },
        Command::AnswerInvitation {
            request: "r".into(),
            accept: true,
        },
        Command::MarkRead {
            conversation: ConversationId::group("g1"),
            read: ReadMark::UpTo { time_ms: 0 },
        },
        Command::Recall {
            conversation: ConversationId::direct("a"),
            message: MessageRef::new("k"),
            scope: RecallScope::SelfOnly,
        },
        Command::Kick {
            group: g(),
            users: vec!["a".into()],
            ban_seconds: Some(60),
        },
    ];
    for c in unsupported {
        let name = c.name();
        let CommandResult::Failed(e) = a.execute(cmd("u", c)).await else {
            panic!("{name}")
        };
        assert_eq!(e.kind, ErrorKind::Unsupported, "{name}");
    }
    let CommandResult::Failed(e) = a
        .execute(cmd(
            "u",
            Command::BatchSend {
                to: vec![ConversationId::group("g")],
                content: Content::text("x"),
            },
        ))
        .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Invalid);
}

#[actix_rt::test]
async fn the_same_idempotency_key_is_the_same_message() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    for _ in 0..3 {
        a.execute(cmd("same", send(ConversationId::direct("alice"), "once")))
            .await;
        a.execute(cmd(
            "same-g",
            send(ConversationId::group("g1"), "once in group"),
        ))
        .await;
    }
    a.execute(cmd("other", send(ConversationId::direct("alice"), "twice")))
        .await;
    assert_eq!(fake.requests().len(), 7);
    assert_eq!(fake.delivered().len(), 3, "{:?}", fake.delivered());
    fake.stop().await;
}

#[actix_rt::test]
async fn failures_are_classified_for_the_outbox() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    let fail = |r: CommandResult| match r {
        CommandResult::Failed(e) => e,
        ok => panic!("{ok:?}"),
    };
    fake.fail_next(&[
        Failure::Http(502),
        Failure::Http(429),
        Failure::Code(60007),
        Failure::Code(60010),
        Failure::Code(20022),
        Failure::Hang,
    ]);
    let e = fail(
        a.execute(cmd("f", send(ConversationId::direct("a"), "x")))
            .await,
    );
    assert_eq!(
        (e.kind, e.platform_code.as_deref()),
        (ErrorKind::Unavailable, Some("http:502"))
    );
    let e = fail(
        a.execute(cmd("f", send(ConversationId::direct("a"), "x")))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::RateLimited);
    let e = fail(
        a.execute(cmd("f", send(ConversationId::direct("a"), "x")))
            .await,
    );
    assert_eq!(
        (e.kind, e.retry_after_ms, e.platform_code.as_deref()),
        (ErrorKind::RateLimited, Some(1000), Some("60007"))
    );
    let e = fail(
        a.execute(cmd("f", send(ConversationId::direct("a"), "x")))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::NotPermitted);
    let e = fail(
        a.execute(cmd(
            "f",
            Command::Recall {
                conversation: ConversationId::direct("a"),
                message: MessageRef::new("k"),
                scope: RecallScope::Everyone,
            },
        ))
        .await,
    );
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = fail(
        a.execute(cmd("f", send(ConversationId::direct("a"), "x")))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::UnknownOutcome, "{e:?}");

    // A recall retried after its first attempt took effect is done.
    fake.fail_next(&[Failure::Code(20023)]);
    let r = a
        .execute(cmd(
            "r",
            Command::Recall {
                conversation: ConversationId::direct("a"),
                message: MessageRef::new("k"),
                scope: RecallScope::Everyone,
            },
        ))
        .await;
    assert_eq!(r, CommandResult::Ok(CommandOutput::Done));
    fake.stop().await;

    // Nothing listening: the call never left.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = fail(
        adapter(&url)
            .execute(cmd("f", send(ConversationId::direct("a"), "x")))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
}

#[test]
fn declares_tencents_rate_limits() {
    let a = adapter("http://127.0.0.1:9");
    let limits = a.default_rate_limits();
    assert!(limits.iter().all(|l| l.per_second == Some(200)));
    let send = limits.iter().find(|l| l.commands == ["send"]).unwrap();
    assert_eq!(send.per_minute, None);
    assert!(limits.iter().any(|l| l.commands == ["mute", "unmute"]));
}

#[actix_rt::test]
async fn queries_read_the_directory() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    let ok = |r: CommandResult| match r {
        CommandResult::Ok(o) => o,
        other => panic!("{other:?}"),
    };

    // The friend list takes two pages in the fake; the second starts where the first ended.
    let CommandOutput::Friends { friends } = ok(a.execute(cmd("q1", Command::ListFriends)).await)
    else {
        panic!()
    };
    assert_eq!(
        friends,
        vec![
            FriendInfo {
                user: "alice".into(),
                nickname: None,
                alias: Some("Alice from sales".into()),
            },
            FriendInfo {
                user: "bob".into(),
                nickname: None,
                alias: None,
            },
            FriendInfo {
                user: "carol".into(),
                nickname: None,
                alias: None,
            },
        ]
    );
    let pages: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| (r.api.clone(), r.body.clone()))
        .collect();
    assert_eq!(
        pages,
        [
            (
                "sns/friend_get".to_string(),
                json!({"From_Account": "bot", "StartIndex": 0})
            ),
            (
                "sns/friend_get".to_string(),
                json!({"From_Account": "bot", "StartIndex": 2})
            ),
        ]
    );

    let CommandOutput::Groups { groups } = ok(a.execute(cmd("q2", Command::ListGroups)).await)
    else {
        panic!()
    };
    let req = fake.last();
    assert_eq!(req.api, "group_open_http_svc/get_joined_group_list");
    assert_eq!(req.body["Member_Account"], "bot");
    let filter = req.body["ResponseFilter"]["GroupBaseInfoFilter"]
        .as_array()
        .unwrap();
    assert!(filter.contains(&json!("Name")) && filter.contains(&json!("MemberNum")));
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.group.as_str(), g.name.as_str(), g.kind.clone()))
            .collect::<Vec<_>>(),
        [
            ("g1", "Lobby", Some(GroupKind::Public)),
            ("@TGS#ops", "Ops", Some(GroupKind::Private))
        ]
    );

    let CommandOutput::Group { group } = ok(a
        .execute(cmd("q3", Command::GetGroupInfo { group: g() }))
        .await)
    else {
        panic!()
    };
    assert_eq!(fake.last().body["GroupIdList"], json!(["g1"]));
    assert_eq!(
        group,
        GroupInfo {
            group: g(),
            name: "Lobby".into(),
            kind: Some(GroupKind::Public),
            owner: Some("alice".into()),
            member_count: Some(3),
            capacity: Some(2000),
            description: Some("all of us".into()),
            announcement: Some("be kind".into()),
            avatar_url: Some("https://example.com/g1.png".into()),
            all_muted: false,
            ext: json!({"CreateTime": 1_600_000_000, "ApplyJoinOption": "FreeAccess"}),
        }
    );
    assert_eq!(groups[0], group);

    let CommandOutput::Members { members } = ok(a
        .execute(cmd("q4", Command::ListMembers { group: g() }))
        .await)
    else {
        panic!()
    };
    let req = fake.last();
    assert_eq!(
        (req.api.as_str(), &req.body["GroupId"]),
        ("group_open_http_svc/get_group_member_info", &json!("g1"))
    );
    assert_eq!(
        req.body["MemberInfoFilter"],
        json!(["Role", "JoinTime", "ShutUpUntil", "NameCard"])
    );
    assert_eq!(
        members,
        vec![
            MemberInfo {
                user: "alice".into(),
                role: MemberRole::Owner,
                nickname: None,
                muted_until_ms: None,
                joined_at_ms: Some(1_600_000_000_000),
            },
            MemberInfo {
                user: "bot".into(),
                role: MemberRole::Admin,
                nickname: Some("Support bot".into()),
                muted_until_ms: None,
                joined_at_ms: Some(1_650_000_000_000),
            },
            MemberInfo {
                user: "bob".into(),
                role: MemberRole::Member,
                nickname: Some("Bob (QA)".into()),
                muted_until_ms: Some(BOB_MUTED_UNTIL * 1000),
                joined_at_ms: Some(1_690_000_000_000),
            },
        ]
    );

    let CommandOutput::Profile { profile } = ok(a
        .execute(cmd("q5", Command::GetProfile { user: "bob".into() }))
        .await)
    else {
        panic!()
    };
    let req = fake.last();
    assert_eq!(
        (req.api.as_str(), &req.body["To_Account"]),
        ("profile/portrait_get", &json!(["bob"]))
    );
    assert!(req.body["TagList"]
        .as_array()
        .unwrap()
        .contains(&json!("Tag_Profile_IM_SelfSignature")));
    assert_eq!(
        profile,
        Profile {
            user: "bob".into(),
            nickname: Some("bob nick".into()),
            avatar_url: Some("https://example.com/bob.png".into()),
            signature: Some("hello there".into()),
            ext: json!({"IM_Gender": "Gender_Type_Female", "IM_Level": 7}),
        }
    );

    // Failures: a group that does not exist (per item, and for the whole call), an account
    // with no profile, and a rate limit while reading (retried by the outbox).
    let failed = |r: CommandResult| match r {
        CommandResult::Failed(e) => (e.kind, e.platform_code),
        other => panic!("{other:?}"),
    };
    let gone: GroupId = "@TGS#gone".into();
    assert_eq!(
        failed(
            a.execute(cmd(
                "f1",
                Command::GetGroupInfo {
                    group: gone.clone()
                }
            ))
            .await
        ),
        (ErrorKind::NotFound, Some("10010".into()))
    );
    assert_eq!(
        failed(
            a.execute(cmd("f2", Command::ListMembers { group: gone }))
                .await
        ),
        (ErrorKind::NotFound, Some("10010".into()))
    );
    assert_eq!(
        failed(
            a.execute(cmd("f3", Command::GetProfile { user: GHOST.into() }))
                .await
        ),
        (ErrorKind::NotFound, Some("40003".into()))
    );
    fake.fail_next(&[Failure::Code(60010)]);
    assert_eq!(
        failed(a.execute(cmd("f4", Command::ListGroups)).await),
        (ErrorKind::NotPermitted, Some("60010".into()))
    );
    fake.fail_next(&[Failure::Code(60007)]);
    let CommandResult::Failed(e) = a.execute(cmd("f5", Command::ListFriends)).await else {
        panic!()
    };
    assert!(e.kind.is_transient() && e.retry_after_ms.is_some(), "{e:?}");
    // The transcript runner reads each call back as the command that made it (a friend
    // list's later pages are not commands of their own).
    let back: Vec<_> = fake
        .requests()
        .iter()
        .filter_map(|r| command_of(&r.api, &r.body, "bot"))
        .map(|c| c.name())
        .collect();
    assert_eq!(
        back[..5],
        [
            "list_friends",
            "list_groups",
            "get_group_info",
            "list_members",
            "get_profile"
        ]
    );
    fake.stop().await;
}
