//! Group moderation and friend commands on `ctx`. Every group command acts on the event's
//! group, or on the group named by an extra first argument (`"lobby"` or `"group:lobby"`).

use super::ctx::{Ctx, RhaiResult};
use parley_engine::model::{Command, GroupId, GroupInfoPatch, UserId};
use rhai::{Array, Dynamic, Engine, Map};

/// A group named by a script: `lobby` or `group:lobby`.
pub(crate) fn group(name: &str) -> GroupId {
    GroupId::new(name.strip_prefix("group:").unwrap_or(name))
}

fn users(what: &str, users: Dynamic) -> RhaiResult<Vec<UserId>> {
    if users.is_string() {
        return Ok(vec![UserId::new(users.to_string())]);
    }
    match users.try_cast::<Array>() {
        Some(list) => Ok(list
            .into_iter()
            .map(|u| UserId::new(u.to_string()))
            .collect()),
        None => Err(format!("ctx.{what}: expected a user id or an array of user ids").into()),
    }
}

fn minutes_to_seconds(minutes: i64) -> RhaiResult<u64> {
    if minutes <= 0 {
        return Err(format!("ctx.mute: {minutes} minutes: the duration must be positive").into());
    }
    Ok(minutes as u64 * 60)
}

fn patch(info: Map) -> RhaiResult<GroupInfoPatch> {
    rhai::serde::from_dynamic(&Dynamic::from_map(info)).map_err(|e| {
        format!("ctx.set_info: {e} (expected #{{name, description, avatar_url, ext}})").into()
    })
}

/// Registers `name(ctx, args..)` on the event's group and `name(ctx, group, args..)`.
macro_rules! group_command {
    ($engine:ident, $name:literal, |$g:ident $(, $arg:ident : $ty:ty)*| $command:expr) => {
        $engine.register_fn($name, |ctx: &mut Ctx $(, $arg: $ty)*| -> RhaiResult<()> {
            let $g = ctx.own_group($name)?;
            ctx.queue($command)
        });
        $engine.register_fn($name, |ctx: &mut Ctx, name: &str $(, $arg: $ty)*| -> RhaiResult<()> {
            let $g = group(name);
            ctx.queue($command)
        });
    };
}

pub(crate) fn register(engine: &mut Engine) {
    group_command!(engine, "mute", |g, user: &str, minutes: i64| {
        Command::Mute {
            group: g,
            user: UserId::new(user),
            seconds: minutes_to_seconds(minutes)?,
        }
    });
    group_command!(engine, "unmute", |g, user: &str| Command::Unmute {
        group: g,
        user: UserId::new(user),
    });
    group_command!(engine, "mute_all", |g| Command::MuteAll { group: g });
    group_command!(engine, "unmute_all", |g| Command::UnmuteAll { group: g });
    group_command!(engine, "kick", |g, who: Dynamic| Command::Kick {
        group: g,
        users: users("kick", who)?,
        ban_seconds: None,
    });
    group_command!(engine, "set_admin", |g, user: &str, admin: bool| {
        Command::SetAdmin {
            group: g,
            user: UserId::new(user),
            admin,
        }
    });
    group_command!(engine, "transfer_owner", |g, user: &str| {
        Command::TransferOwner {
            group: g,
            user: UserId::new(user),
        }
    });
    group_command!(engine, "set_announcement", |g, text: &str| {
        Command::SetAnnouncement {
            group: g,
            text: text.to_string(),
        }
    });
    group_command!(engine, "set_info", |g, info: Map| Command::SetGroupInfo {
        group: g,
        patch: patch(info)?,
    });
    group_command!(engine, "invite", |g, who: Dynamic| Command::Invite {
        group: g,
        users: users("invite", who)?,
    });
    group_command!(engine, "dismiss", |g| Command::Dismiss { group: g });

    engine
        .register_fn("add_friend", |ctx: &mut Ctx, user: &str| {
            ctx.queue(Command::AddFriend {
                user: UserId::new(user),
                greeting: None,
                answer: None,
            })
        })
        .register_fn("add_friend", |ctx: &mut Ctx, user: &str, greeting: &str| {
            ctx.queue(Command::AddFriend {
                user: UserId::new(user),
                greeting: Some(greeting.to_string()),
                answer: None,
            })
        })
        .register_fn("remove_friend", |ctx: &mut Ctx, user: &str| {
            ctx.queue(Command::RemoveFriend {
                user: UserId::new(user),
            })
        })
        .register_fn("block", |ctx: &mut Ctx, user: &str| {
            ctx.queue(Command::Block {
                user: UserId::new(user),
            })
        })
        .register_fn("unblock", |ctx: &mut Ctx, user: &str| {
            ctx.queue(Command::Unblock {
                user: UserId::new(user),
            })
        });
}
