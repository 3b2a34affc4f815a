//! Engine group commands carried out as one hub user.

use crate::commands::command_error;
use crate::error::HubError;
use crate::groups::NewGroup;
use crate::hub::Hub;
use crate::store::GroupKind;
use parley_engine::model::{
    Command, CommandError, CommandOutput, ErrorKind, GroupId, GroupKind as Kind,
};

fn ids(users: Vec<parley_engine::model::UserId>) -> Vec<String> {
    users.into_iter().map(|u| u.as_str().to_string()).collect()
}

pub(crate) async fn execute(
    hub: &Hub,
    me: &str,
    command: Command,
) -> Result<CommandOutput, CommandError> {
    let done = |r: Result<(), HubError>| r.map(|()| CommandOutput::Done).map_err(command_error);
    match command {
        Command::CreateGroup {
            kind,
            name,
            members,
        } => {
            let kind = match kind {
                Kind::Private => GroupKind::Private,
                Kind::Public => GroupKind::Public,
                Kind::ChatRoom => GroupKind::ChatRoom,
                other => {
                    return Err(CommandError::new(
                        ErrorKind::Unsupported,
                        format!(
                            "the hub has private and public groups and chat rooms, not {other:?}"
                        ),
                    ))
                }
            };
            let new = NewGroup {
                id: None,
                kind,
                name,
                members: ids(members),
                join_policy: None,
                info_policy: None,
                capacity: None,
                avatar_url: None,
                description: None,
                ext: serde_json::Value::Null,
            };
            let group = hub.create_group(me, new).await.map_err(command_error)?;
            Ok(CommandOutput::GroupCreated {
                group: GroupId::new(&group.id),
            })
        }
        Command::Invite { group, users } => {
            done(hub.invite(me, group.as_str(), ids(users)).await.map(drop))
        }
        // The hub has no bans: `ban_seconds` is not applied.
        Command::Kick { group, users, .. } => done(hub.kick(me, group.as_str(), ids(users)).await),
        Command::Mute {
            group,
            user,
            seconds,
        } => done(hub.mute(me, group.as_str(), user.as_str(), seconds).await),
        Command::Unmute { group, user } => {
            done(hub.mute(me, group.as_str(), user.as_str(), 0).await)
        }
        Command::MuteAll { group } => done(hub.mute_all(me, group.as_str(), true).await),
        Command::UnmuteAll { group } => done(hub.mute_all(me, group.as_str(), false).await),
        Command::SetAdmin { group, user, admin } => done(
            hub.set_admin(me, group.as_str(), user.as_str(), admin)
                .await,
        ),
        Command::TransferOwner { group, user } => {
            done(hub.transfer_owner(me, group.as_str(), user.as_str()).await)
        }
        Command::SetGroupInfo { group, patch } => {
            done(hub.set_group_info(me, group.as_str(), patch).await)
        }
        Command::SetAnnouncement { group, text } => {
            done(hub.set_announcement(me, group.as_str(), text).await)
        }
        // The hub keeps no reason with an answer.
        Command::AnswerJoinRequest {
            request, accept, ..
        } => done(hub.answer_join_request(me, request.as_str(), accept).await),
        Command::AnswerInvitation { request, accept } => {
            done(hub.answer_invitation(me, request.as_str(), accept).await)
        }
        Command::JoinGroup { group, message } => {
            done(hub.join_group(me, group.as_str(), message).await.map(drop))
        }
        Command::LeaveGroup { group } => done(hub.leave_group(me, group.as_str()).await),
        Command::Dismiss { group } => done(hub.dismiss(me, group.as_str()).await),
        other => unreachable!("{} is not a group command", other.name()),
    }
}
