//! Serde round trips for every event, content, command and result kind.

use super::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt::Debug;

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let text = serde_json::to_string(value).unwrap();
    let back: T =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} does not parse back: {e}"));
    assert_eq!(&back, value, "round trip changed {text}");
}

use serde::Serialize;

fn media() -> Media {
    Media {
        url: "https://example.com/a.png".into(),
        name: Some("a.png".into()),
        mime: Some("image/png".into()),
        size: Some(1234),
        width: Some(10),
        height: Some(20),
        duration_ms: Some(1500),
        thumbnail_url: Some("https://example.com/t.png".into()),
    }
}

fn all_contents() -> Vec<Content> {
    let text = Content::Text(Text {
        text: "hi @bob".into(),
        mentions: vec![UserId::from("bob")],
        mention_all: true,
    });
    vec![
        text.clone(),
        Content::Image(media()),
        Content::Audio(media()),
        Content::Video(media()),
        Content::File(media()),
        Content::Location(Location {
            latitude: 31.2,
            longitude: 121.5,
            title: Some("Bund".into()),
            address: Some("Shanghai".into()),
        }),
        Content::Face {
            index: 3,
            data: Some("smile".into()),
        },
        Content::Custom {
            custom_type: "order".into(),
            data: json!({"id": 7, "items": [1, 2]}),
            description: Some("an order".into()),
        },
        Content::Command {
            name: "refresh".into(),
            data: json!({"x": 1}),
        },
        Content::Card(Card {
            title: "Title".into(),
            text: Some("Body".into()),
            image_url: Some("https://example.com/c.png".into()),
            link: Some("https://example.com".into()),
        }),
        Content::Forward(Forward {
            title: Some("Chat history".into()),
            messages: vec![ForwardedMessage {
                sender: "alice".into(),
                original: Some(MessageRef::new("m1")),
                time_ms: 5,
                content: Content::text("old"),
            }],
        }),
        Content::Mixed {
            segments: vec![text, Content::Image(media())],
        },
    ]
}

fn message() -> Message {
    Message {
        id: MessageRef {
            id: "srv-1".into(),
            client_id: Some("cli-1".into()),
            seq: Some(42),
            time_ms: Some(1_700_000_000_000),
        },
        conversation: ConversationId::group("lobby"),
        sender: "alice".into(),
        content: Content::text("hello"),
        reply_to: Some(MessageRef::new("srv-0")),
        time_ms: 1_700_000_000_000,
        extra: json!({"k": "v"}),
    }
}

fn notice(kind: GroupNoticeKind) -> Event {
    Event::GroupNotice(GroupNotice {
        group: "lobby".into(),
        kind,
        operator: Some("alice".into()),
        targets: vec!["bob".into()],
        time_ms: 9,
    })
}

fn all_events() -> Vec<Event> {
    let conv = ConversationId::direct("alice");
    let mut events = vec![
        Event::Message(message()),
        Event::MessageEdited(message()),
        Event::Recalled {
            conversation: conv.clone(),
            message: MessageRef::new("m1"),
            by: "alice".into(),
            scope: RecallScope::Everyone,
        },
        Event::Recalled {
            conversation: conv.clone(),
            message: MessageRef::new("m1"),
            by: "alice".into(),
            scope: RecallScope::SelfOnly,
        },
        Event::ReadReceipt {
            conversation: conv.clone(),
            reader: "alice".into(),
            read: ReadMark::UpTo { time_ms: 77 },
        },
        Event::ReadReceipt {
            conversation: ConversationId::group("g"),
            reader: "alice".into(),
            read: ReadMark::Messages {
                messages: vec![MessageRef::new("m1")],
            },
        },
        Event::DeliveryReceipt {
            conversation: conv.clone(),
            recipient: "alice".into(),
            messages: vec![MessageRef::new("m2")],
        },
        Event::Typing {
            conversation: conv.clone(),
            user: "alice".into(),
            typing: true,
        },
        Event::FriendRequest(FriendRequest {
            request: "r1".into(),
            from: "alice".into(),
            to: "bot".into(),
            greeting: Some("hi".into()),
            question: Some("color?".into()),
            answer: Some("blue".into()),
        }),
        Event::FriendRequestAnswered {
            request: "r1".into(),
            user: "alice".into(),
            accepted: true,
            remark: Some("welcome".into()),
        },
        Event::FriendAdded {
            user: "alice".into(),
        },
        Event::FriendRemoved {
            user: "alice".into(),
        },
        Event::BlockChanged {
            by: "alice".into(),
            user: "bot".into(),
            blocked: true,
        },
        Event::GroupJoinRequest {
            request: "r2".into(),
            group: "lobby".into(),
            user: "carol".into(),
            reason: Some("let me in".into()),
        },
        Event::GroupInvitation {
            request: "r3".into(),
            group: "lobby".into(),
            inviter: "alice".into(),
            invitee: "bot".into(),
        },
        Event::GroupRequestAnswered {
            request: "r2".into(),
            group: "lobby".into(),
            by: "alice".into(),
            accepted: false,
        },
        Event::BeforeSend(message()),
        Event::Presence {
            user: "alice".into(),
            online: true,
        },
        Event::CommandResult {
            conversation: ConversationId::direct("alice"),
            key: "e1#0".into(),
            command: "send".into(),
            result: CommandResult::Ok(CommandOutput::Sent {
                message: MessageRef::new("m1"),
            }),
            bot: Some("echo".into()),
        },
        Event::ProfileChanged {
            user: "alice".into(),
        },
        Event::Tick {
            schedule: "digest".into(),
            conversation: Some(ConversationId::group("lobby")),
            payload: json!({"n": 1}),
            bot: Some("digest".into()),
            handler: Some("send_digest".into()),
        },
    ];
    for kind in [
        GroupNoticeKind::Created,
        GroupNoticeKind::Dismissed,
        GroupNoticeKind::MemberJoined,
        GroupNoticeKind::MemberLeft,
        GroupNoticeKind::MemberKicked,
        GroupNoticeKind::MemberMuted { until_ms: 100 },
        GroupNoticeKind::MemberUnmuted,
        GroupNoticeKind::AllMuted,
        GroupNoticeKind::AllUnmuted,
        GroupNoticeKind::AdminAdded,
        GroupNoticeKind::AdminRemoved,
        GroupNoticeKind::OwnerTransferred,
        GroupNoticeKind::InfoChanged {
            changes: GroupInfoPatch {
                name: Some("New".into()),
                avatar_url: Some("https://example.com/g.png".into()),
                description: Some("d".into()),
                ext: Some(json!({"a": 1})),
            },
        },
        GroupNoticeKind::AnnouncementChanged {
            text: "rules".into(),
        },
        GroupNoticeKind::MemberInfoChanged,
    ] {
        events.push(notice(kind));
    }
    for state in [
        ConnectionState::Connected,
        ConnectionState::Lost {
            reason: "eof".into(),
        },
        ConnectionState::Kicked,
        ConnectionState::TokenExpired,
        ConnectionState::Disabled {
            reason: "frozen".into(),
        },
        ConnectionState::SyncStarted,
        ConnectionState::SyncFinished,
    ] {
        events.push(Event::Connection(state));
    }
    events
}

fn all_commands() -> Vec<Command> {
    let conv = ConversationId::direct("alice");
    let g = GroupId::from("lobby");
    let u = UserId::from("bob");
    vec![
        Command::Send {
            to: conv.clone(),
            content: Content::text("hi"),
            reply_to: Some(MessageRef::new("m1")),
            options: SendOptions {
                online_only: true,
                no_unread: true,
                push_title: Some("t".into()),
                push_text: Some("p".into()),
                high_priority: true,
                receipt_requested: true,
                only_to: vec![u.clone()],
                extra: json!({"e": 1}),
            },
            as_user: Some("agent7".into()),
        },
        Command::Send {
            to: conv.clone(),
            content: Content::text("plain"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        },
        Command::BatchSend {
            to: vec![conv.clone(), ConversationId::group("g")],
            content: Content::text("b"),
        },
        Command::Edit {
            conversation: conv.clone(),
            message: MessageRef::new("m1"),
            content: Content::text("e"),
        },
        Command::Recall {
            conversation: conv.clone(),
            message: MessageRef::new("m1"),
            scope: RecallScope::Everyone,
        },
        Command::Forward {
            to: conv.clone(),
            messages: vec![MessageRef::new("m1")],
            from: ConversationId::group("g"),
        },
        Command::MarkRead {
            conversation: conv.clone(),
            read: ReadMark::UpTo { time_ms: 3 },
        },
        Command::Typing {
            to: u.clone(),
            typing: false,
        },
        Command::FetchHistory {
            conversation: conv.clone(),
            before: Some(MessageRef::new("m9")),
            limit: 20,
        },
        Command::Upload {
            source_url: "https://example.com/f".into(),
            name: "f.txt".into(),
            mime: Some("text/plain".into()),
        },
        Command::AnswerFriendRequest {
            request: "r1".into(),
            accept: true,
            remark: Some("hi".into()),
            add_back: true,
        },
        Command::AddFriend {
            user: u.clone(),
            greeting: Some("hello".into()),
            answer: Some("blue".into()),
        },
        Command::RemoveFriend { user: u.clone() },
        Command::Block { user: u.clone() },
        Command::Unblock { user: u.clone() },
        Command::CreateGroup {
            kind: GroupKind::Public,
            name: "n".into(),
            members: vec![u.clone()],
        },
        Command::CreateGroup {
            kind: GroupKind::Vendor("AVChatRoom".into()),
            name: "n".into(),
            members: vec![],
        },
        Command::Invite {
            group: g.clone(),
            users: vec![u.clone()],
        },
        Command::Kick {
            group: g.clone(),
            users: vec![u.clone()],
            ban_seconds: Some(60),
        },
        Command::Mute {
            group: g.clone(),
            user: u.clone(),
            seconds: 600,
        },
        Command::Unmute {
            group: g.clone(),
            user: u.clone(),
        },
        Command::MuteAll { group: g.clone() },
        Command::UnmuteAll { group: g.clone() },
        Command::SetAdmin {
            group: g.clone(),
            user: u.clone(),
            admin: true,
        },
        Command::TransferOwner {
            group: g.clone(),
            user: u.clone(),
        },
        Command::SetGroupInfo {
            group: g.clone(),
            patch: GroupInfoPatch {
                name: Some("x".into()),
                ..Default::default()
            },
        },
        Command::SetAnnouncement {
            group: g.clone(),
            text: "a".into(),
        },
        Command::AnswerJoinRequest {
            request: "r2".into(),
            accept: false,
            reason: Some("full".into()),
        },
        Command::AnswerInvitation {
            request: "r3".into(),
            accept: true,
        },
        Command::JoinGroup {
            group: g.clone(),
            message: Some("please".into()),
        },
        Command::LeaveGroup { group: g.clone() },
        Command::Dismiss { group: g.clone() },
        Command::ListFriends,
        Command::ListGroups,
        Command::GetGroupInfo { group: g.clone() },
        Command::ListMembers { group: g },
        Command::GetProfile { user: "u".into() },
    ]
}

fn group_info() -> GroupInfo {
    GroupInfo {
        group: "g".into(),
        name: "G".into(),
        kind: Some(GroupKind::Public),
        owner: Some("o".into()),
        member_count: Some(3),
        capacity: Some(200),
        description: None,
        announcement: Some("rules".into()),
        avatar_url: None,
        all_muted: true,
        ext: Value::Null,
    }
}

fn all_results() -> Vec<CommandResult> {
    let mut results = vec![
        CommandResult::Ok(CommandOutput::Done),
        CommandResult::Ok(CommandOutput::Sent {
            message: MessageRef::new("m1"),
        }),
        CommandResult::Ok(CommandOutput::BatchSent {
            messages: vec![MessageRef::new("m1")],
        }),
        CommandResult::Ok(CommandOutput::GroupCreated { group: "g".into() }),
        CommandResult::Ok(CommandOutput::History {
            messages: vec![message()],
        }),
        CommandResult::Ok(CommandOutput::Uploaded {
            url: "https://example.com/u".into(),
        }),
        CommandResult::Ok(CommandOutput::Friends {
            friends: vec![FriendInfo {
                user: "u".into(),
                nickname: Some("U".into()),
                alias: None,
            }],
        }),
        CommandResult::Ok(CommandOutput::Groups {
            groups: vec![group_info()],
        }),
        CommandResult::Ok(CommandOutput::Group {
            group: group_info(),
        }),
        CommandResult::Ok(CommandOutput::Members {
            members: vec![MemberInfo {
                user: "u".into(),
                role: MemberRole::Admin,
                nickname: Some("card".into()),
                muted_until_ms: Some(1_700_000_000_000),
                joined_at_ms: None,
            }],
        }),
        CommandResult::Ok(CommandOutput::Profile {
            profile: Profile {
                user: "u".into(),
                nickname: Some("U".into()),
                avatar_url: None,
                signature: Some("hi".into()),
                ext: json!({"level": 3}),
            },
        }),
    ];
    use ErrorKind::*;
    for kind in [
        RateLimited,
        NotPermitted,
        NotFound,
        Invalid,
        Muted,
        BlockedByRecipient,
        Censored,
        NotInPlan,
        RejectedByHook,
        TooLarge,
        RecallWindowExceeded,
        Unsupported,
        Unavailable,
        UnknownOutcome,
    ] {
        results.push(CommandResult::Failed(CommandError {
            kind,
            message: format!("{kind:?}"),
            platform_code: Some("60007".into()),
            retry_after_ms: Some(1000),
        }));
    }
    results
}

#[test]
fn every_content_kind_round_trips() {
    let contents = all_contents();
    let kinds: BTreeSet<_> = contents.iter().map(Content::kind_name).collect();
    assert_eq!(kinds.len(), 12, "one sample per content kind");
    for c in &contents {
        roundtrip(c);
    }
}

#[test]
fn every_event_kind_round_trips_in_an_envelope() {
    let events = all_events();
    let handlers: BTreeSet<_> = events.iter().map(Event::handler_name).collect();
    assert_eq!(
        handlers.len(),
        21,
        "one sample per event kind: {handlers:?}"
    );
    assert_eq!(
        handlers.into_iter().collect::<Vec<_>>(),
        Event::HANDLER_NAMES,
        "HANDLER_NAMES lists every handler"
    );
    for (i, event) in events.into_iter().enumerate() {
        roundtrip(&Envelope {
            id: EventId(format!("e{i}")),
            connection: "hub".into(),
            time_ms: 1,
            backlog: i % 2 == 0,
            from_self: i % 3 == 0,
            event,
            raw: json!({"vendor": "payload"}),
        });
    }
    for c in all_contents() {
        let mut m = message();
        m.content = c;
        roundtrip(&Event::Message(m));
    }
}

#[test]
fn every_command_round_trips_in_the_outbox_form() {
    let commands = all_commands();
    let names: BTreeSet<_> = commands.iter().map(Command::name).collect();
    assert_eq!(names.len(), 35, "one sample per command kind");
    for command in commands {
        roundtrip(&OutboundCommand {
            connection: "hub".into(),
            idempotency_key: "k".into(),
            command,
        });
    }
}

#[test]
fn every_result_round_trips() {
    for r in all_results() {
        roundtrip(&r);
    }
}

#[test]
fn verdicts_round_trip() {
    for v in [
        Verdict::Allow,
        Verdict::Reject {
            reason: "spam".into(),
        },
        Verdict::Replace {
            content: Content::text("***"),
        },
    ] {
        roundtrip(&v);
    }
}

#[test]
fn the_wire_form_of_a_text_message_is_stable() {
    let m = Message {
        id: MessageRef::new("7"),
        conversation: ConversationId::direct("bot"),
        sender: "alice".into(),
        content: Content::text("hello"),
        reply_to: None,
        time_ms: 5,
        extra: serde_json::Value::Null,
    };
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({
            "id": {"id": "7"},
            "conversation": {"kind": "direct", "id": "bot"},
            "sender": "alice",
            "content": {"kind": "text", "text": "hello"},
            "time_ms": 5
        })
    );
}

#[test]
fn conversation_ids_parse_from_the_cli_form() {
    assert_eq!(
        "alice".parse::<ConversationId>().unwrap(),
        ConversationId::direct("alice")
    );
    assert_eq!(
        "group:lobby".parse::<ConversationId>().unwrap(),
        ConversationId::group("lobby")
    );
    assert_eq!(ConversationId::group("lobby").to_string(), "group:lobby");
    assert!("planet:x"
        .parse::<ConversationId>()
        .unwrap_err()
        .contains("unknown conversation kind"));
    assert!("group:".parse::<ConversationId>().is_err());
}

#[test]
fn events_route_to_the_conversation_they_concern() {
    for e in all_events() {
        let route = e.conversation();
        match &e {
            Event::GroupNotice(_) | Event::GroupJoinRequest { .. } => {
                assert_eq!(route, ConversationId::group("lobby"))
            }
            Event::Connection(_) => assert_eq!(route, ConversationId::system()),
            Event::FriendRequest(_) | Event::FriendAdded { .. } => {
                assert_eq!(route, ConversationId::direct("alice"))
            }
            _ => {}
        }
    }
}
