//! Looking things up on the platform: `ctx.list_friends()`, `ctx.list_groups()`,
//! `ctx.group_info()`, `ctx.list_members()`, `ctx.profile(user)`. Like every command, the
//! answer comes back later, to the same bot, as `on_command_result` (`r.command` names the
//! query, `r.output` holds the answer).

use super::ctx::Ctx;
use super::moderation::group;
use parley_engine::model::{Command, UserId};
use rhai::Engine;

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_fn("list_friends", |ctx: &mut Ctx| {
            ctx.queue(Command::ListFriends)
        })
        .register_fn("list_groups", |ctx: &mut Ctx| {
            ctx.queue(Command::ListGroups)
        })
        .register_fn("group_info", |ctx: &mut Ctx| {
            let group = ctx.own_group("group_info")?;
            ctx.queue(Command::GetGroupInfo { group })
        })
        .register_fn("group_info", |ctx: &mut Ctx, name: &str| {
            ctx.queue(Command::GetGroupInfo { group: group(name) })
        })
        .register_fn("list_members", |ctx: &mut Ctx| {
            let group = ctx.own_group("list_members")?;
            ctx.queue(Command::ListMembers { group })
        })
        .register_fn("list_members", |ctx: &mut Ctx, name: &str| {
            ctx.queue(Command::ListMembers { group: group(name) })
        })
        .register_fn("profile", |ctx: &mut Ctx, user: &str| {
            ctx.queue(Command::GetProfile {
                user: UserId::new(user),
            })
        });
}
