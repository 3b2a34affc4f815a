//! Outbound commands and their typed results (DESIGN.md §2, reference README §3 and §6).

use crate::model::content::Content;
use crate::model::directory::{FriendInfo, GroupInfo, MemberInfo, Profile};
use crate::model::event::{GroupInfoPatch, Message, ReadMark, RecallScope};
use crate::model::ids::{ConnectionId, ConversationId, GroupId, MessageRef, RequestId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A command on its way to a platform, as stored in the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboundCommand {
    pub connection: ConnectionId,
    /// Stable across retries and restarts; adapters pass it to the platform's own
    /// idempotency field (hub client id, Tencent `MsgRandom`, ...).
    pub idempotency_key: String,
    pub command: Command,
}

/// What a bot (or the scheduler, or the admin API) asks a platform to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Send {
        to: ConversationId,
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageRef>,
        #[serde(default, skip_serializing_if = "SendOptions::is_default")]
        options: SendOptions,
        /// Speak as another user, where the server API lets the caller pick the sender.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        as_user: Option<UserId>,
    },
    /// One content to many conversations through the platform's batch API where it has one.
    BatchSend {
        to: Vec<ConversationId>,
        content: Content,
    },
    Edit {
        conversation: ConversationId,
        message: MessageRef,
        content: Content,
    },
    Recall {
        conversation: ConversationId,
        message: MessageRef,
        scope: RecallScope,
    },
    Forward {
        to: ConversationId,
        messages: Vec<MessageRef>,
        from: ConversationId,
    },
    MarkRead {
        conversation: ConversationId,
        read: ReadMark,
    },
    Typing {
        to: UserId,
        typing: bool,
    },
    FetchHistory {
        conversation: ConversationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<MessageRef>,
        limit: u32,
    },
    /// Make a file at a URL available to the platform; the result carries its platform URL.
    Upload {
        source_url: String,
        name: String,
        #[serde(default)]
        mime: Option<String>,
    },

    AnswerFriendRequest {
        request: RequestId,
        accept: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remark: Option<String>,
        /// Accept and add back (Tencent `AGREE_AND_ADD`), not only agree.
        #[serde(default)]
        add_back: bool,
    },
    AddFriend {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        greeting: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<String>,
    },
    RemoveFriend {
        user: UserId,
    },
    Block {
        user: UserId,
    },
    Unblock {
        user: UserId,
    },

    CreateGroup {
        kind: GroupKind,
        name: String,
        members: Vec<UserId>,
    },
    Invite {
        group: GroupId,
        users: Vec<UserId>,
    },
    Kick {
        group: GroupId,
        users: Vec<UserId>,
        /// Forbid re-joining for this long, where the platform supports it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ban_seconds: Option<u64>,
    },
    Mute {
        group: GroupId,
        user: UserId,
        seconds: u64,
    },
    Unmute {
        group: GroupId,
        user: UserId,
    },
    MuteAll {
        group: GroupId,
    },
    UnmuteAll {
        group: GroupId,
    },
    SetAdmin {
        group: GroupId,
        user: UserId,
        admin: bool,
    },
    TransferOwner {
        group: GroupId,
        user: UserId,
    },
    SetGroupInfo {
        group: GroupId,
        patch: GroupInfoPatch,
    },
    SetAnnouncement {
        group: GroupId,
        text: String,
    },
    AnswerJoinRequest {
        request: RequestId,
        accept: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    AnswerInvitation {
        request: RequestId,
        accept: bool,
    },
    JoinGroup {
        group: GroupId,
        #[serde(default)]
        message: Option<String>,
    },
    LeaveGroup {
        group: GroupId,
    },
    Dismiss {
        group: GroupId,
    },
    /// Queries: what the connection's account can see, answered in the command's output.
    ListFriends,
    ListGroups,
    GetGroupInfo {
        group: GroupId,
    },
    ListMembers {
        group: GroupId,
    },
    GetProfile {
        user: UserId,
    },
}

impl Command {
    /// The command's name in logs, metrics and the rate-limit configuration.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Send { .. } => "send",
            Command::BatchSend { .. } => "batch_send",
            Command::Edit { .. } => "edit",
            Command::Recall { .. } => "recall",
            Command::Forward { .. } => "forward",
            Command::MarkRead { .. } => "mark_read",
            Command::Typing { .. } => "typing",
            Command::FetchHistory { .. } => "fetch_history",
            Command::Upload { .. } => "upload",
            Command::AnswerFriendRequest { .. } => "answer_friend_request",
            Command::AddFriend { .. } => "add_friend",
            Command::RemoveFriend { .. } => "remove_friend",
            Command::Block { .. } => "block",
            Command::Unblock { .. } => "unblock",
            Command::CreateGroup { .. } => "create_group",
            Command::Invite { .. } => "invite",
            Command::Kick { .. } => "kick",
            Command::Mute { .. } => "mute",
            Command::Unmute { .. } => "unmute",
            Command::MuteAll { .. } => "mute_all",
            Command::UnmuteAll { .. } => "unmute_all",
            Command::SetAdmin { .. } => "set_admin",
            Command::TransferOwner { .. } => "transfer_owner",
            Command::SetGroupInfo { .. } => "set_group_info",
            Command::SetAnnouncement { .. } => "set_announcement",
            Command::AnswerJoinRequest { .. } => "answer_join_request",
            Command::AnswerInvitation { .. } => "answer_invitation",
            Command::JoinGroup { .. } => "join_group",
            Command::LeaveGroup { .. } => "leave_group",
            Command::Dismiss { .. } => "dismiss",
            Command::ListFriends => "list_friends",
            Command::ListGroups => "list_groups",
            Command::GetGroupInfo { .. } => "get_group_info",
            Command::ListMembers { .. } => "list_members",
            Command::GetProfile { .. } => "get_profile",
        }
    }
}

/// Per-send options the vendors offer (README §6, "per-message extras and send options").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SendOptions {
    /// Do not keep for offline recipients (online-only delivery).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online_only: bool,
    /// Do not count toward the recipient's unread count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_unread: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_text: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub high_priority: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub receipt_requested: bool,
    /// In a group, deliver only to these members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_to: Vec<UserId>,
    /// Extra JSON carried with the message.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub extra: Value,
}

impl SendOptions {
    fn is_default(&self) -> bool {
        self == &SendOptions::default()
    }
}

/// The group kinds a group can be created as; vendors' own names ride in `Vendor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    Private,
    Public,
    ChatRoom,
    Discussion,
    Vendor(String),
}

/// What a command produced when it succeeded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum CommandOutput {
    /// The command took effect and has nothing to return.
    Done,
    Sent {
        message: MessageRef,
    },
    BatchSent {
        messages: Vec<MessageRef>,
    },
    GroupCreated {
        group: GroupId,
    },
    History {
        messages: Vec<Message>,
    },
    Uploaded {
        url: String,
    },
    Friends {
        friends: Vec<FriendInfo>,
    },
    Groups {
        groups: Vec<GroupInfo>,
    },
    Group {
        group: GroupInfo,
    },
    Members {
        members: Vec<MemberInfo>,
    },
    Profile {
        profile: Profile,
    },
}

/// Why a command failed, in kinds a bot can act on (README §7, last table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
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
    /// The platform failed or could not be reached; worth retrying.
    Unavailable,
    /// The call timed out after it may have taken effect.
    UnknownOutcome,
}

impl ErrorKind {
    /// Whether retrying the same command later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::UnknownOutcome
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    /// The platform's own error code, for logs and for bots that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            platform_code: None,
            retry_after_ms: None,
        }
    }
}

/// A command's typed result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandResult {
    Ok(CommandOutput),
    Failed(CommandError),
}

impl From<Result<CommandOutput, CommandError>> for CommandResult {
    fn from(r: Result<CommandOutput, CommandError>) -> Self {
        match r {
            Ok(o) => CommandResult::Ok(o),
            Err(e) => CommandResult::Failed(e),
        }
    }
}
