//! The engine's query commands through the hub adapter: friends, groups, group info,
//! members and profiles as the bot's user sees them, and their typed errors.

mod common;

use common::bot::Bot;
use common::TestHub;
use parley_engine::model::{
    Command, CommandOutput, CommandResult, Envelope, ErrorKind, Event, GroupId, GroupKind,
    MemberRole, UserId,
};
use serde_json::json;

fn queries() -> Vec<Command> {
    vec![
        Command::ListFriends,
        Command::ListGroups,
        Command::GetGroupInfo {
            group: GroupId::new("lobby"),
        },
        Command::ListMembers {
            group: GroupId::new("lobby"),
        },
        Command::GetProfile {
            user: UserId::new("alice"),
        },
        Command::GetGroupInfo {
            group: GroupId::new("secret"),
        },
        Command::GetProfile {
            user: UserId::new("nobody"),
        },
        Command::ListMembers {
            group: GroupId::new("hall"),
        },
    ]
}

/// The result of the `index`-th query (the keys end in `#<index>`).
async fn result(bot: &mut Bot, index: usize) -> CommandResult {
    let suffix = format!("#{index}");
    let found = bot
        .handled(|e: &Envelope| {
            matches!(&e.event, Event::CommandResult { key, .. } if key.ends_with(&suffix))
        })
        .await;
    match found.event {
        Event::CommandResult { result, .. } => result,
        _ => unreachable!(),
    }
}

fn output(result: CommandResult) -> CommandOutput {
    match result {
        CommandResult::Ok(output) => output,
        CommandResult::Failed(e) => panic!("the query failed: {e:?}"),
    }
}

fn failure(result: CommandResult) -> (ErrorKind, Option<String>) {
    match result {
        CommandResult::Failed(e) => (e.kind, e.platform_code),
        CommandResult::Ok(output) => panic!("expected a failure, got {output:?}"),
    }
}

#[actix_web::test]
async fn a_bot_looks_up_friends_groups_members_and_profiles() {
    let t = TestHub::start(None).await;
    let mut alice = t.login("alice").await;
    alice
        .call(json!({"type": "add_friend", "user": "bot"}))
        .await;
    alice
        .call(json!({"type": "set_profile", "signature": "owner of the lobby", "ext": {"team": "ops"}}))
        .await;
    let muted = alice
        .call(json!({"type": "mute", "group": "lobby", "user": "bob", "seconds": 600}))
        .await;
    assert_eq!(muted["type"], "ok", "{muted}");
    let secret = alice
        .call(json!({"type": "create_group", "id": "secret", "name": "Secret"}))
        .await;
    assert_eq!(secret["type"], "group", "{secret}");
    let hall = alice
        .call(json!({"type": "create_group", "id": "hall", "name": "Hall", "kind": "chat_room", "members": ["bot"]}))
        .await;
    assert_eq!(hall["type"], "group", "{hall}");
    let mut as_bot = t.login("bot").await;
    let alias = as_bot
        .call(json!({"type": "set_friend_alias", "user": "alice", "alias": "the boss"}))
        .await;
    assert_eq!(alias["type"], "ok", "{alias}");

    let mut bot = Bot::start(&t, "bot", |e| match &e.event {
        Event::Message(m) if m.content.plain_text() == "query" => queries(),
        _ => vec![],
    })
    .await;
    alice.say("direct:bot", "query", "q1").await;

    let CommandOutput::Friends { friends } = output(result(&mut bot, 0).await) else {
        panic!("not a friend list")
    };
    assert_eq!(friends.len(), 1);
    assert_eq!(friends[0].user.as_str(), "alice");
    assert_eq!(friends[0].nickname.as_deref(), Some("Alice"));
    assert_eq!(friends[0].alias.as_deref(), Some("the boss"));

    let CommandOutput::Groups { groups } = output(result(&mut bot, 1).await) else {
        panic!("not a group list")
    };
    let ids: Vec<_> = groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(ids, ["hall", "lobby"]);
    assert_eq!(groups[0].kind, Some(GroupKind::ChatRoom));

    let CommandOutput::Group { group } = output(result(&mut bot, 2).await) else {
        panic!("not a group")
    };
    assert_eq!(group.name, "Lobby");
    assert_eq!(group.kind, Some(GroupKind::Private));
    assert_eq!(group.owner.as_ref().map(|o| o.as_str()), Some("alice"));
    assert_eq!((group.member_count, group.capacity), (Some(3), Some(500)));

    let CommandOutput::Members { members } = output(result(&mut bot, 3).await) else {
        panic!("not a member list")
    };
    let roles: Vec<_> = members.iter().map(|m| (m.user.as_str(), m.role)).collect();
    assert_eq!(
        roles,
        [
            ("alice", MemberRole::Owner),
            ("bob", MemberRole::Member),
            ("bot", MemberRole::Member)
        ]
    );
    assert!(members[1].muted_until_ms.is_some(), "bob is muted");
    assert!(members[2].muted_until_ms.is_none());
    assert!(members.iter().all(|m| m.joined_at_ms.is_some()));
    assert_eq!(members[0].nickname.as_deref(), Some("Alice"));

    let CommandOutput::Profile { profile } = output(result(&mut bot, 4).await) else {
        panic!("not a profile")
    };
    assert_eq!(profile.user.as_str(), "alice");
    assert_eq!(profile.signature.as_deref(), Some("owner of the lobby"));
    assert_eq!(profile.ext, json!({"team": "ops"}));

    assert_eq!(
        failure(result(&mut bot, 5).await),
        (ErrorKind::NotPermitted, Some("not_permitted".into())),
        "a private group the bot is not in"
    );
    assert_eq!(
        failure(result(&mut bot, 6).await),
        (ErrorKind::NotFound, Some("not_found".into()))
    );
    assert_eq!(
        failure(result(&mut bot, 7).await).0,
        ErrorKind::Unsupported,
        "chat rooms list no members"
    );
    bot.stop().await;
    t.stop().await;
}
