//! Every handler gets its event as a documented object, and requests can be answered.

use super::*;
use parley_engine::model::{
    ConnectionState, FriendRequest, GroupId, GroupNotice, GroupNoticeKind, ReadMark, RecallScope,
    RequestId, ScheduleId,
};

/// Runs `script` (a bot named `t`) on `event` and returns its commands.
async fn run(script: &str, event: Envelope) -> Vec<Command> {
    let dir = scripts(&[("t.rhai", script)]);
    let runtime = load(dir.path());
    runtime.set_self_user("hub1", "bot");
    let handled = handle(&runtime, event, BotStates::new()).await;
    assert_eq!(runtime.last_error("t"), None);
    crate::tests::commands_of(handled)
}

/// The texts the script sent.
async fn replies(script: &str, event: Envelope) -> Vec<String> {
    run(script, event)
        .await
        .into_iter()
        .map(|c| match c {
            Command::Send { content, .. } => content.plain_text(),
            other => panic!("not a send: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn messages_expose_content_mentions_command_and_raw() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.reply(`${msg.type} ${msg.kind} ${msg.sender} ${msg.conversation} ${msg.mentions} ${msg.mentions_me} ${msg.mention_all}`);
    ctx.reply(`${msg.command} ${msg.args} [${msg.arg_text}] ${msg.raw.vendor} ${msg.content.kind} ${ctx.me}`);
}
"#;
    let mut event = message_with(
        ConversationId::group("lobby"),
        "alice",
        Content::Text(Text {
            text: "/ticket 123 urgent".into(),
            mentions: vec![UserId::new("bot")],
            mention_all: false,
        }),
    );
    event.raw = json!({"vendor": "hub"});
    assert_eq!(
        replies(script, event).await,
        [
            "message text alice group:lobby [\"bot\"] true false",
            "ticket [\"123\", \"urgent\"] [123 urgent] hub text bot"
        ]
    );

    let image = message_with(
        ConversationId::direct("alice"),
        "alice",
        Content::Image(parley_engine::model::Media {
            url: "https://x/y.png".into(),
            width: Some(10),
            ..Default::default()
        }),
    );
    let script = r#"fn on_message(ctx, msg) { ctx.reply(`${msg.kind} ${msg.content.url} ${msg.content.width} ${msg.command} ${msg.mentions_me}`); }"#;
    assert_eq!(
        replies(script, image).await,
        ["image https://x/y.png 10  false"]
    );
}

#[tokio::test]
async fn recall_read_receipt_and_typing() {
    let recalled = envelope(Event::Recalled {
        conversation: ConversationId::group("lobby"),
        message: MessageRef::new("m-9"),
        by: UserId::new("bob"),
        scope: RecallScope::Everyone,
    });
    let script = r#"fn on_recall(ctx, r) { ctx.reply(`${r.by} recalled ${r.message.id} in ${r.conversation} (${r.scope})`); }"#;
    assert_eq!(
        replies(script, recalled).await,
        ["bob recalled m-9 in group:lobby (everyone)"]
    );

    let read = envelope(Event::ReadReceipt {
        conversation: ConversationId::direct("bob"),
        reader: UserId::new("bob"),
        read: ReadMark::UpTo { time_ms: 42 },
    });
    let script = r#"fn on_read_receipt(ctx, r) { ctx.reply(`${r.reader} read up to ${r.read.time_ms} (${r.read.mode})`); }"#;
    assert_eq!(replies(script, read).await, ["bob read up to 42 (up_to)"]);

    let typing = envelope(Event::Typing {
        conversation: ConversationId::direct("bob"),
        user: UserId::new("bob"),
        typing: true,
    });
    let script = r#"fn on_typing(ctx, t) { if t.typing { ctx.typing(true); } }"#;
    assert_eq!(
        run(script, typing).await,
        [Command::Typing {
            to: UserId::new("bob"),
            typing: true
        }]
    );
}

#[tokio::test]
async fn friend_requests_are_answered_with_accept_and_decline() {
    let request = |greeting: &str| {
        envelope(Event::FriendRequest(FriendRequest {
            request: RequestId::new("fr-1"),
            from: UserId::new("zoe"),
            to: UserId::new("bot"),
            greeting: Some(greeting.into()),
            question: None,
            answer: None,
        }))
    };
    let script = r#"
fn on_friend_request(ctx, req) {
    if req.greeting.contains("spam") { req.decline("no thanks"); } else { req.accept(`friend ${req.from}`); }
}
"#;
    assert_eq!(
        run(script, request("hi")).await,
        [Command::AnswerFriendRequest {
            request: RequestId::new("fr-1"),
            accept: true,
            remark: Some("friend zoe".into()),
            add_back: true
        }]
    );
    assert_eq!(
        run(script, request("buy spam")).await,
        [Command::AnswerFriendRequest {
            request: RequestId::new("fr-1"),
            accept: false,
            remark: Some("no thanks".into()),
            add_back: false
        }]
    );
}

#[tokio::test]
async fn join_requests_and_invitations_are_answered() {
    let join = envelope(Event::GroupJoinRequest {
        request: RequestId::new("j-1"),
        group: GroupId::new("lobby"),
        user: UserId::new("zoe"),
        reason: Some("42".into()),
    });
    let script = r#"fn on_group_join_request(ctx, req) { if req.reason == "42" { req.accept() } else { req.decline("wrong answer") } }"#;
    assert_eq!(
        run(script, join).await,
        [Command::AnswerJoinRequest {
            request: RequestId::new("j-1"),
            accept: true,
            reason: None
        }]
    );

    let invitation = envelope(Event::GroupInvitation {
        request: RequestId::new("i-1"),
        group: GroupId::new("club"),
        inviter: UserId::new("zoe"),
        invitee: UserId::new("bot"),
    });
    let script = r#"fn on_group_invitation(ctx, inv) { if inv.inviter == "zoe" && inv["group"] == "club" { inv.decline() } }"#;
    assert_eq!(
        run(script, invitation).await,
        [Command::AnswerInvitation {
            request: RequestId::new("i-1"),
            accept: false
        }]
    );
}

#[tokio::test]
async fn group_notices_name_their_kind() {
    let notice = |kind: GroupNoticeKind| {
        envelope(Event::GroupNotice(GroupNotice {
            group: GroupId::new("lobby"),
            kind,
            operator: Some(UserId::new("alice")),
            targets: vec![UserId::new("zoe")],
            time_ms: 5,
        }))
    };
    let script = r#"fn on_group_notice(ctx, n) { ctx.reply(`${n.kind} ${n.group} ${n.user} ${n.operator} ${n.until_ms} ${n.text}`); }"#;
    let cases = [
        (
            GroupNoticeKind::MemberJoined,
            "member_joined lobby zoe alice  ",
        ),
        (GroupNoticeKind::MemberLeft, "member_left lobby zoe alice  "),
        (
            GroupNoticeKind::MemberKicked,
            "member_kicked lobby zoe alice  ",
        ),
        (
            GroupNoticeKind::MemberMuted { until_ms: 99 },
            "member_muted lobby zoe alice 99 ",
        ),
        (
            GroupNoticeKind::MemberUnmuted,
            "member_unmuted lobby zoe alice  ",
        ),
        (GroupNoticeKind::AllMuted, "all_muted lobby zoe alice  "),
        (GroupNoticeKind::AllUnmuted, "all_unmuted lobby zoe alice  "),
        (GroupNoticeKind::AdminAdded, "admin_added lobby zoe alice  "),
        (
            GroupNoticeKind::AdminRemoved,
            "admin_removed lobby zoe alice  ",
        ),
        (
            GroupNoticeKind::OwnerTransferred,
            "owner_transferred lobby zoe alice  ",
        ),
        (
            GroupNoticeKind::InfoChanged {
                changes: Default::default(),
            },
            "info_changed lobby zoe alice  ",
        ),
        (
            GroupNoticeKind::AnnouncementChanged {
                text: "be nice".into(),
            },
            "announcement_changed lobby zoe alice  be nice",
        ),
        (GroupNoticeKind::Created, "created lobby zoe alice  "),
        (GroupNoticeKind::Dismissed, "dismissed lobby zoe alice  "),
    ];
    for (kind, expected) in cases {
        assert_eq!(replies(script, notice(kind)).await, [expected]);
    }
}

#[tokio::test]
async fn friends_connection_start_and_tick() {
    let script = r#"
fn on_friend_added(ctx, e) { ctx.reply(`hello ${e.user}`); }
fn on_friend_removed(ctx, e) { ctx.send("direct:admin", `${e.user} left`); }
fn on_tick(ctx, t) { ctx.send("group:lobby", `${t.schedule} ${t.payload.n}`); }
fn on_connection(ctx, c) { ctx.send("direct:admin", `${c.state} ${c.reason}`); }
fn on_start(ctx, s) { ctx.send("direct:admin", `started on ${s.connection} as ${s.me}`); }
"#;
    let dir = scripts(&[("t.rhai", script)]);
    let runtime = load(dir.path());
    runtime.set_self_user("hub1", "bot");
    let texts = |h: Handled| -> Vec<String> { sends(&h).into_iter().map(|(_, t)| t).collect() };
    let added = envelope(Event::FriendAdded {
        user: UserId::new("zoe"),
    });
    assert_eq!(
        texts(handle(&runtime, added, BotStates::new()).await),
        ["hello zoe"]
    );
    let removed = envelope(Event::FriendRemoved {
        user: UserId::new("zoe"),
    });
    assert_eq!(
        texts(handle(&runtime, removed, BotStates::new()).await),
        ["zoe left"]
    );
    let tick = envelope(Event::Tick {
        schedule: ScheduleId::new("digest"),
        conversation: None,
        payload: json!({"n": 3}),
        bot: None,
        handler: None,
    });
    assert_eq!(
        texts(handle(&runtime, tick, BotStates::new()).await),
        ["digest 3"]
    );

    // on_start runs once per connection, at the first `connected`, before on_connection.
    let connected = || envelope(Event::Connection(ConnectionState::Connected));
    assert_eq!(
        texts(handle(&runtime, connected(), BotStates::new()).await),
        ["started on hub1 as bot", "connected "]
    );
    assert_eq!(
        texts(handle(&runtime, connected(), BotStates::new()).await),
        ["connected "]
    );
    let lost = envelope(Event::Connection(ConnectionState::Lost {
        reason: "eof".into(),
    }));
    assert_eq!(
        texts(handle(&runtime, lost, BotStates::new()).await),
        ["lost eof"]
    );
    let kicked = envelope(Event::Connection(ConnectionState::Kicked));
    assert_eq!(
        texts(handle(&runtime, kicked, BotStates::new()).await),
        ["kicked "]
    );
    let expired = envelope(Event::Connection(ConnectionState::TokenExpired));
    assert_eq!(
        texts(handle(&runtime, expired, BotStates::new()).await),
        ["token_expired "]
    );
}
