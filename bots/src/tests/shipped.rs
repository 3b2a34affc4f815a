//! The shipped bots of `scripts/`, each alone, fed the events the hub cannot send yet
//! (friend requests, notices, join requests, ticks) and timed messages.

use super::*;
use parley_engine::model::{
    FriendRequest, GroupId, GroupNotice, GroupNoticeKind, RequestId, ScheduleId,
};

/// A runtime with only the named shipped bot (and the shared `scripts/data`).
fn shipped(bot: &str) -> (tempfile::TempDir, BotRuntime) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo.join(format!("{bot}.rhai")),
        dir.path().join(format!("{bot}.rhai")),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    for entry in std::fs::read_dir(repo.join("data")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dir.path().join("data").join(entry.file_name()),
        )
        .unwrap();
    }
    let runtime = load(dir.path());
    (dir, runtime)
}

/// Feeds events in order, carrying the conversation states; returns each event's commands.
async fn feed(runtime: &BotRuntime, events: Vec<Envelope>) -> Vec<Vec<Command>> {
    let mut states: std::collections::HashMap<ConversationId, BotStates> = Default::default();
    let mut out = Vec::new();
    for e in events {
        let route = e.route();
        let state = states.remove(&route).unwrap_or_default();
        let handled = handle(runtime, e, state).await;
        let commands = handled.commands.into_iter().map(|q| q.command).collect();
        states.insert(route, handled.state);
        out.push(commands);
    }
    out
}

fn texts(commands: &[Command]) -> Vec<String> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Send { to, content, .. } => Some(format!("{to} {}", content.plain_text())),
            _ => None,
        })
        .collect()
}

fn at(mut e: Envelope, ms: i64) -> Envelope {
    e.time_ms = ms;
    if let Event::Message(m) = &mut e.event {
        m.time_ms = ms;
    }
    e
}

/// Wednesday 2023-11-15 10:00 UTC, and 20:00.
const OPEN: i64 = 1_700_042_400_000;
const CLOSED: i64 = OPEN + 10 * 3_600_000;

#[tokio::test]
async fn customer_service_accepts_friends_greets_and_hands_off_in_business_hours() {
    let (_dir, runtime) = shipped("customer_service");
    let check = |runtime: &BotRuntime| assert_eq!(runtime.last_error("customer_service"), None);
    let request = envelope(Event::FriendRequest(FriendRequest {
        request: RequestId::new("fr-1"),
        from: UserId::new("alice"),
        to: UserId::new("bot"),
        greeting: None,
        question: None,
        answer: None,
    }));
    let alice = |text: &str, ms| at(message(ConversationId::direct("alice"), "alice", text), ms);
    let agent = |text: &str| {
        at(
            message(ConversationId::direct("agent"), "agent", text),
            OPEN,
        )
    };
    let out = feed(
        &runtime,
        vec![
            request,
            envelope(Event::FriendAdded {
                user: UserId::new("alice"),
            }),
            alice("I need a human", CLOSED),
            alice("/human", OPEN),
            alice("where is my parcel?", OPEN),
            agent("/to alice It arrives tomorrow."),
            agent("/done alice"),
            alice("thanks, what about a refund?", OPEN),
        ],
    )
    .await;
    check(&runtime);
    assert!(matches!(
        &out[0][..],
        [Command::AnswerFriendRequest { accept: true, .. }]
    ));
    assert!(texts(&out[1])[0].starts_with("direct:alice Hello! I am the helpdesk bot."));
    assert!(texts(&out[2])[0].starts_with("direct:alice Our agents are away"));
    assert_eq!(
        texts(&out[3]),
        [
            "direct:agent alice asks for a person. Answer with /to alice <text>, finish with /done alice.",
            "direct:alice I am connecting you to a person; they will answer here."
        ]
    );
    assert_eq!(texts(&out[4]), ["direct:agent [alice] where is my parcel?"]);
    assert_eq!(texts(&out[5]), ["direct:alice Agent: It arrives tomorrow."]);
    assert_eq!(
        texts(&out[6]),
        [
            "direct:alice The agent has left; I am back. Anything else?",
            "direct:agent Handed alice back to the bot."
        ]
    );
    assert!(texts(&out[7])[0].contains("within 30 days for a full refund"));
}

#[tokio::test]
async fn moderation_strikes_floods_welcomes_and_gates_joins() {
    let (_dir, runtime) = shipped("moderation");
    let check = |runtime: &BotRuntime| assert_eq!(runtime.last_error("moderation"), None);
    let lobby = ConversationId::group("lobby");
    let say = |who: &str, text: &str, ms: i64| at(message(lobby.clone(), who, text), ms);
    let notice = |kind| {
        envelope(Event::GroupNotice(GroupNotice {
            group: GroupId::new("lobby"),
            kind,
            operator: None,
            targets: vec![UserId::new("zoe")],
            time_ms: 0,
        }))
    };
    let join = |answer: &str| {
        envelope(Event::GroupJoinRequest {
            request: RequestId::new("j"),
            group: GroupId::new("lobby"),
            user: UserId::new("zoe"),
            reason: Some(answer.into()),
        })
    };
    let t = 1_700_000_000_000;
    let mut events = Vec::new();
    for i in 0..6 {
        events.push(say("bob", "what the heck", t + i * 60_000));
    }
    for i in 0..5 {
        events.push(say("carol", "spam", t + i * 1000));
    }
    events.extend([
        notice(GroupNoticeKind::MemberJoined),
        join(" 42 "),
        join("41"),
        say("bob", "/setrules no links", t),
        say("alice", "/setrules no links", t + 1),
        notice(GroupNoticeKind::AnnouncementChanged {
            text: "no links".into(),
        }),
        say("bob", "/rules", t + 2),
    ]);
    let out = feed(&runtime, events).await;
    check(&runtime);
    let mutes: Vec<(usize, &Command)> = out
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.iter()
                .filter(|c| matches!(c, Command::Mute { .. }))
                .map(move |c| (i, c))
        })
        .collect();
    let mute = |user: &str, minutes: u64| Command::Mute {
        group: GroupId::new("lobby"),
        user: UserId::new(user),
        seconds: minutes * 60,
    };
    assert_eq!(
        mutes,
        [
            (2, &mute("bob", 10)),
            (5, &mute("bob", 60)),
            (10, &mute("carol", 5))
        ]
    );
    assert!(out[..6]
        .iter()
        .all(|c| matches!(c[0], Command::Recall { .. })));
    assert_eq!(
        texts(&out[0]),
        ["group:lobby @bob please mind the rules (strike 1; every third one mutes)."]
    );
    assert_eq!(
        texts(&out[10]),
        ["group:lobby @carol please slow down: muted for 5 minutes."]
    );
    assert!(out[6..10].iter().all(Vec::is_empty));
    assert_eq!(
        texts(&out[11]),
        ["group:lobby Welcome @zoe! Please read the /rules."]
    );
    assert!(matches!(
        &out[12][..],
        [Command::AnswerJoinRequest { accept: true, .. }]
    ));
    assert!(
        matches!(&out[13][..], [Command::AnswerJoinRequest { accept: false, reason: Some(r), .. }] if r.contains("six times seven"))
    );
    assert!(out[14].is_empty(), "only admins set rules");
    assert_eq!(
        out[15][0],
        Command::SetAnnouncement {
            group: GroupId::new("lobby"),
            text: "no links".into()
        }
    );
    assert_eq!(texts(&out[16]), ["group:lobby The rules changed: no links"]);
    assert_eq!(texts(&out[17]), ["group:lobby no links"]);
}

#[tokio::test]
async fn broadcast_sends_the_digest_to_subscribers_on_its_schedule() {
    let (_dir, runtime) = shipped("broadcast");
    let check = |runtime: &BotRuntime| assert_eq!(runtime.last_error("broadcast"), None);
    let tick = |schedule: &str| {
        envelope(Event::Tick {
            schedule: ScheduleId::new(schedule),
            conversation: None,
            payload: json!(null),
            bot: None,
            handler: None,
        })
    };
    let out = feed(
        &runtime,
        vec![
            message(ConversationId::direct("alice"), "alice", "/subscribe"),
            message(ConversationId::group("lobby"), "bob", "/subscribe"),
            message(ConversationId::direct("carol"), "carol", "/subscribe"),
            message(ConversationId::direct("carol"), "carol", "/unsubscribe"),
            message(
                ConversationId::group("lobby"),
                "bob",
                "/news Parley 1.0 is out",
            ),
            tick("other"),
            tick("daily_digest"),
            tick("daily_digest"),
        ],
    )
    .await;
    check(&runtime);
    assert_eq!(
        texts(&out[0]),
        ["direct:alice Subscribed to the daily digest; /unsubscribe to stop."]
    );
    assert_eq!(texts(&out[3]), ["direct:carol Unsubscribed."]);
    assert!(out[5].is_empty());
    assert_eq!(
        texts(&out[6]),
        [
            "direct:alice Daily digest:\n- Parley 1.0 is out",
            "group:lobby Daily digest:\n- Parley 1.0 is out"
        ]
    );
    assert_eq!(
        texts(&out[7]),
        [
            "direct:alice Daily digest: no news today.",
            "group:lobby Daily digest: no news today."
        ]
    );
}
