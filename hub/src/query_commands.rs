//! The engine's query commands answered from the hub's own data, as the connection's user
//! sees it: friends, groups, a group's info and members, profiles.

use crate::commands::command_error;
use crate::hub::Hub;
use crate::store::groups as db;
use crate::store::{GroupInfo, GroupKind, Role};
use parley_engine::model::{
    directory, Command, CommandError, CommandOutput, ErrorKind, GroupId, GroupKind as Kind,
    MemberRole, UserId,
};

/// A hub group as the engine's model describes it.
fn group_info(g: GroupInfo) -> directory::GroupInfo {
    directory::GroupInfo {
        group: GroupId::new(&g.id),
        name: g.name,
        kind: Some(match g.kind {
            GroupKind::Private => Kind::Private,
            GroupKind::Public => Kind::Public,
            GroupKind::ChatRoom => Kind::ChatRoom,
        }),
        owner: Some(UserId::new(&g.owner)),
        member_count: Some(g.member_count),
        capacity: Some(g.capacity),
        description: g.description,
        announcement: g.announcement,
        avatar_url: g.avatar_url,
        all_muted: g.all_muted,
        ext: g.ext,
    }
}

pub(crate) async fn execute(
    hub: &Hub,
    me: &str,
    command: Command,
) -> Result<CommandOutput, CommandError> {
    match command {
        Command::ListFriends => {
            let list = hub.friends(me).await.map_err(command_error)?;
            let friends = list
                .friends
                .into_iter()
                .map(|f| directory::FriendInfo {
                    user: UserId::new(&f.id),
                    nickname: Some(f.name),
                    alias: f.alias,
                })
                .collect();
            Ok(CommandOutput::Friends { friends })
        }
        Command::ListGroups => {
            let groups = hub.groups(me).await.map_err(command_error)?;
            Ok(CommandOutput::Groups {
                groups: groups.into_iter().map(group_info).collect(),
            })
        }
        Command::GetGroupInfo { group } => {
            let info = hub
                .group_info(me, group.as_str())
                .await
                .map_err(command_error)?;
            Ok(CommandOutput::Group {
                group: group_info(info),
            })
        }
        Command::ListMembers { group } => {
            // Visible as `group_info` is: private groups to their members only.
            let info = hub
                .group_info(me, group.as_str())
                .await
                .map_err(command_error)?;
            let Some(members) = info.members else {
                return Err(CommandError::new(
                    ErrorKind::Unsupported,
                    format!("{group} is a chat room: the hub lists no chat-room members"),
                ));
            };
            let mut conn = hub.store().conn().await.map_err(command_error)?;
            let joined = db::joined_ms(&mut conn, group.as_str())
                .await
                .map_err(command_error)?;
            let now = hub.now_ms();
            let members = members
                .into_iter()
                .map(|m| directory::MemberInfo {
                    role: match m.role {
                        Role::Owner => MemberRole::Owner,
                        Role::Admin => MemberRole::Admin,
                        Role::Member => MemberRole::Member,
                    },
                    nickname: Some(m.name),
                    muted_until_ms: m.muted_until_ms.filter(|until| *until > now),
                    joined_at_ms: joined.get(&m.id).copied(),
                    user: UserId::new(m.id),
                })
                .collect();
            Ok(CommandOutput::Members { members })
        }
        Command::GetProfile { user } => {
            let profile = hub.profile(user.as_str()).await.map_err(command_error)?;
            Ok(CommandOutput::Profile { profile })
        }
        other => unreachable!("{} is not a query command", other.name()),
    }
}
