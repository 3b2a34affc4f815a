//! ctx commands: content builders, send options, recall, read marks, moderation, friends.

use super::*;
use parley_engine::model::{Card, GroupId, GroupInfoPatch, Location, Media, ReadMark, RecallScope};

async fn commands(script: &str, event: Envelope) -> Vec<Command> {
    let dir = scripts(&[("t.rhai", script)]);
    let runtime = load(dir.path());
    let handled = handle(&runtime, event, BotStates::new()).await;
    assert_eq!(runtime.last_error("t"), None);
    crate::tests::commands_of(handled)
}

fn in_lobby(text: &str) -> Envelope {
    message(ConversationId::group("lobby"), "bob", text)
}

fn contents(commands: Vec<Command>) -> Vec<Content> {
    commands
        .into_iter()
        .map(|c| match c {
            Command::Send { content, .. } => content,
            other => panic!("not a send: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn every_content_kind_has_a_builder() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.reply(text("hi @bob", ["bob"]));
    ctx.reply(text_all("everyone!"));
    ctx.reply(image("https://x/a.png", #{width: 4}));
    ctx.reply(audio("https://x/a.mp3", #{duration_ms: 1500}));
    ctx.reply(video("https://x/a.mp4"));
    ctx.reply(file("https://x/a.pdf", "a.pdf"));
    ctx.reply(location(52.5, 13.4, "Berlin"));
    ctx.reply(face(3));
    ctx.reply(custom("poll", #{q: "?"}));
    ctx.reply(command("refresh", #{}));
    ctx.reply(card("Title", "Body", "https://x"));
    ctx.reply(forward("Earlier", [msg]));
    ctx.reply(mixed(["a ", text("b", ["bob"])]));
}
"#;
    let got = contents(commands(script, in_lobby("orig")).await);
    let expected = vec![
        Content::Text(Text {
            text: "hi @bob".into(),
            mentions: vec![UserId::new("bob")],
            mention_all: false,
        }),
        Content::Text(Text {
            text: "everyone!".into(),
            mentions: vec![],
            mention_all: true,
        }),
        Content::Image(Media {
            url: "https://x/a.png".into(),
            width: Some(4),
            ..Default::default()
        }),
        Content::Audio(Media {
            url: "https://x/a.mp3".into(),
            duration_ms: Some(1500),
            ..Default::default()
        }),
        Content::Video(Media {
            url: "https://x/a.mp4".into(),
            ..Default::default()
        }),
        Content::File(Media {
            url: "https://x/a.pdf".into(),
            name: Some("a.pdf".into()),
            ..Default::default()
        }),
        Content::Location(Location {
            latitude: 52.5,
            longitude: 13.4,
            title: Some("Berlin".into()),
            address: None,
        }),
        Content::Face {
            index: 3,
            data: None,
        },
        Content::Custom {
            custom_type: "poll".into(),
            data: json!({"q": "?"}),
            description: None,
        },
        Content::Command {
            name: "refresh".into(),
            data: json!({}),
        },
        Content::Card(Card {
            title: "Title".into(),
            text: Some("Body".into()),
            image_url: None,
            link: Some("https://x".into()),
        }),
    ];
    assert_eq!(got[..11], expected[..]);
    match &got[11] {
        Content::Forward(f) => {
            assert_eq!(f.title.as_deref(), Some("Earlier"));
            assert_eq!(f.messages[0].sender, UserId::new("bob"));
            assert_eq!(f.messages[0].content, Content::text("orig"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[12].plain_text(), "a b");
    assert_eq!(got[12].mentions(), [UserId::new("bob")]);
}

#[tokio::test]
async fn send_options_and_bad_content_are_checked() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.reply("quoted", #{reply_to: msg, only_to: ["bob"], as_user: "agent"});
    ctx.send("direct:carol", "psst", #{online_only: true});
}
"#;
    let got = commands(script, in_lobby("x")).await;
    match &got[0] {
        Command::Send {
            to,
            reply_to,
            options,
            as_user,
            ..
        } => {
            assert_eq!(to, &ConversationId::group("lobby"));
            assert_eq!(reply_to.as_ref().unwrap().id, "m-1");
            assert_eq!(options.only_to, [UserId::new("bob")]);
            assert_eq!(as_user, &Some(UserId::new("agent")));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&got[1], Command::Send { options, .. } if options.online_only));

    let dir = scripts(&[
        (
            "a.rhai",
            r#"fn on_message(ctx, msg) { ctx.reply(#{kind: "hologram"}); }"#,
        ),
        (
            "b.rhai",
            r#"fn on_message(ctx, msg) { ctx.reply("x", #{colour: "red"}); }"#,
        ),
    ]);
    let runtime = load(dir.path());
    let handled = handle(&runtime, in_lobby("x"), BotStates::new()).await;
    assert!(handled.commands.is_empty());
    assert!(
        runtime
            .last_error("a")
            .unwrap()
            .message
            .contains("bad content"),
        "{:?}",
        runtime.last_error("a")
    );
    assert!(runtime
        .last_error("b")
        .unwrap()
        .message
        .contains("unknown option `colour`"));
}

#[tokio::test]
async fn recall_mark_read_and_typing() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.recall(msg);
    ctx.mark_read(msg);
    ctx.mark_read();
    ctx.typing("bob", false);
}
"#;
    let got = commands(script, in_lobby("x")).await;
    assert_eq!(
        got,
        [
            Command::Recall {
                conversation: ConversationId::group("lobby"),
                message: MessageRef {
                    time_ms: Some(1_700_000_000_000),
                    ..MessageRef::new("m-1")
                },
                scope: RecallScope::Everyone,
            },
            Command::MarkRead {
                conversation: ConversationId::group("lobby"),
                read: ReadMark::Messages {
                    messages: vec![MessageRef {
                        time_ms: Some(1_700_000_000_000),
                        ..MessageRef::new("m-1")
                    }]
                },
            },
            Command::MarkRead {
                conversation: ConversationId::group("lobby"),
                read: ReadMark::UpTo {
                    time_ms: 1_700_000_000_000
                },
            },
            Command::Typing {
                to: UserId::new("bob"),
                typing: false
            },
        ]
    );
}

#[tokio::test]
async fn group_moderation_in_the_events_group_or_a_named_one() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.mute("bob", 10);
    ctx.mute("group:other", "bob", 1);
    ctx.unmute("bob");
    ctx.mute_all();
    ctx.unmute_all("other");
    ctx.kick(["bob", "carol"]);
    ctx.set_admin("bob", true);
    ctx.transfer_owner("bob");
    ctx.set_announcement("rules");
    ctx.set_info(#{name: "Lobby 2"});
    ctx.invite("dave");
    ctx.dismiss("old");
}
"#;
    let g = || GroupId::new("lobby");
    let u = |u: &str| UserId::new(u);
    assert_eq!(
        commands(script, in_lobby("x")).await,
        [
            Command::Mute {
                group: g(),
                user: u("bob"),
                seconds: 600
            },
            Command::Mute {
                group: GroupId::new("other"),
                user: u("bob"),
                seconds: 60
            },
            Command::Unmute {
                group: g(),
                user: u("bob")
            },
            Command::MuteAll { group: g() },
            Command::UnmuteAll {
                group: GroupId::new("other")
            },
            Command::Kick {
                group: g(),
                users: vec![u("bob"), u("carol")],
                ban_seconds: None
            },
            Command::SetAdmin {
                group: g(),
                user: u("bob"),
                admin: true
            },
            Command::TransferOwner {
                group: g(),
                user: u("bob")
            },
            Command::SetAnnouncement {
                group: g(),
                text: "rules".into()
            },
            Command::SetGroupInfo {
                group: g(),
                patch: GroupInfoPatch {
                    name: Some("Lobby 2".into()),
                    ..Default::default()
                }
            },
            Command::Invite {
                group: g(),
                users: vec![u("dave")]
            },
            Command::Dismiss {
                group: GroupId::new("old")
            },
        ]
    );

    // Outside a group, the group must be named.
    let dir = scripts(&[("t.rhai", r#"fn on_message(ctx, msg) { ctx.kick("bob"); }"#)]);
    let runtime = load(dir.path());
    handle(
        &runtime,
        message(ConversationId::direct("bob"), "bob", "x"),
        BotStates::new(),
    )
    .await;
    let error = runtime.last_error("t").unwrap().to_string();
    assert!(
        error.contains("ctx.kick: this event is not in a group (direct:bob)"),
        "{error}"
    );
}

#[tokio::test]
async fn friend_commands() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.add_friend("zoe");
    ctx.add_friend("yan", "hello!");
    ctx.remove_friend("xi");
    ctx.block("spammer");
    ctx.unblock("spammer");
}
"#;
    let u = |u: &str| UserId::new(u);
    assert_eq!(
        commands(script, in_lobby("x")).await,
        [
            Command::AddFriend {
                user: u("zoe"),
                greeting: None,
                answer: None
            },
            Command::AddFriend {
                user: u("yan"),
                greeting: Some("hello!".into()),
                answer: None
            },
            Command::RemoveFriend { user: u("xi") },
            Command::Block { user: u("spammer") },
            Command::Unblock { user: u("spammer") },
        ]
    );
}

#[tokio::test]
async fn ctx_broadcast_starts_a_batch_send() {
    let script = r#"
fn on_message(ctx, msg) {
    ctx.broadcast(["alice", "group:lobby"], "sale!");
}
"#;
    let commands = commands(script, in_lobby("go")).await;
    assert_eq!(
        commands,
        vec![Command::BatchSend {
            to: vec![
                ConversationId::direct("alice"),
                ConversationId::group("lobby")
            ],
            content: Content::text("sale!"),
        }]
    );
    let dir = scripts(&[(
        "t.rhai",
        "fn on_message(ctx, msg) { ctx.broadcast([], \"x\"); }",
    )]);
    let runtime = load(dir.path());
    handle(&runtime, in_lobby("go"), BotStates::new()).await;
    assert!(runtime
        .last_error("t")
        .unwrap()
        .message
        .contains("ctx.broadcast: no recipients"));
}
