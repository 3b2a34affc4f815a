//! Engine commands carried out as one hub user (the adapter's `execute`).

use crate::error::HubError;
use crate::hub::{Hub, SendRequest};
use crate::receipts::ReadUpTo;
use crate::registry::SessionId;
use parley_engine::model::{
    Command, CommandError, CommandOutput, ErrorKind, ReadMark, RecallScope,
};

/// `device` is the adapter's own session of `me`: the hub does not echo the adapter's sends
/// back to it (as Tencent's batch API and RongCloud's routing do not), so a broadcast of
/// 100,000 sends does not come back as 100,000 events.
pub(crate) async fn execute(
    hub: &Hub,
    me: &str,
    device: Option<SessionId>,
    idempotency_key: String,
    command: Command,
) -> Result<CommandOutput, CommandError> {
    let done = |r: Result<(), HubError>| r.map(|()| CommandOutput::Done).map_err(command_error);
    match command {
        Command::Send {
            to,
            content,
            reply_to,
            options,
            as_user,
        } => {
            if let Some(as_user) = as_user.filter(|u| u.as_str() != me) {
                let message =
                    format!("a hub connection sends as its own user {me:?}, not as {as_user}");
                return Err(CommandError::new(ErrorKind::Unsupported, message));
            }
            let request = SendRequest {
                to,
                content,
                client_id: Some(idempotency_key),
                reply_to,
                extra: options.extra,
            };
            let sent = hub.send(me, request, device).await.map_err(command_error)?;
            Ok(CommandOutput::Sent {
                message: sent.message.message_ref(),
            })
        }
        Command::AnswerFriendRequest {
            request,
            accept,
            remark,
            add_back: _, // hub friendships are always mutual
        } => done(
            hub.answer_friend_request(me, request.as_str(), accept, remark)
                .await
                .map(drop),
        ),
        Command::AddFriend {
            user,
            greeting,
            answer,
        } => done(
            hub.add_friend(me, user.as_str(), greeting, answer)
                .await
                .map(drop),
        ),
        Command::RemoveFriend { user } => done(hub.remove_friend(me, user.as_str()).await),
        Command::Block { user } => done(hub.set_blocked(me, user.as_str(), true).await),
        Command::Unblock { user } => done(hub.set_blocked(me, user.as_str(), false).await),
        Command::Recall { message, scope, .. } => done(match scope {
            RecallScope::Everyone => hub.recall(me, &message.id).await,
            RecallScope::SelfOnly => hub.delete_for_self(me, &message.id).await,
        }),
        Command::MarkRead { conversation, read } => {
            let up_to = match read {
                ReadMark::UpTo { time_ms } => ReadUpTo::Time(time_ms),
                ReadMark::Messages { messages } => ReadUpTo::Messages(messages),
            };
            done(hub.mark_read(me, &conversation, up_to).await)
        }
        Command::Typing { to, typing } => done(hub.typing(me, to.as_str(), typing).await),
        command @ (Command::CreateGroup { .. }
        | Command::Invite { .. }
        | Command::Kick { .. }
        | Command::Mute { .. }
        | Command::Unmute { .. }
        | Command::MuteAll { .. }
        | Command::UnmuteAll { .. }
        | Command::SetAdmin { .. }
        | Command::TransferOwner { .. }
        | Command::SetGroupInfo { .. }
        | Command::SetAnnouncement { .. }
        | Command::AnswerJoinRequest { .. }
        | Command::AnswerInvitation { .. }
        | Command::JoinGroup { .. }
        | Command::LeaveGroup { .. }
        | Command::Dismiss { .. }) => crate::group_commands::execute(hub, me, command).await,
        command @ (Command::ListFriends
        | Command::ListGroups
        | Command::GetGroupInfo { .. }
        | Command::ListMembers { .. }
        | Command::GetProfile { .. }) => crate::query_commands::execute(hub, me, command).await,
        other => Err(CommandError::new(
            ErrorKind::Unsupported,
            format!("the hub does not support {} yet", other.name()),
        )),
    }
}

/// The engine's error kind for a hub error, keeping the hub's code as the platform code.
pub(crate) fn command_error(e: HubError) -> CommandError {
    let kind = match &e {
        HubError::NotFound(_) => ErrorKind::NotFound,
        HubError::NotPermitted(_) | HubError::Full(_) => ErrorKind::NotPermitted,
        HubError::Invalid(_) | HubError::Conflict(_) | HubError::Expired(_) => ErrorKind::Invalid,
        HubError::Blocked(_) => ErrorKind::BlockedByRecipient,
        HubError::Muted(_) => ErrorKind::Muted,
        HubError::RecallWindowExceeded(_) => ErrorKind::RecallWindowExceeded,
        HubError::Config(_) | HubError::Io { .. } | HubError::Store(_) | HubError::Migrate(_) => {
            ErrorKind::Unavailable
        }
    };
    CommandError {
        kind,
        message: e.to_string(),
        platform_code: Some(e.code().into()),
        retry_after_ms: None,
    }
}
