//! Inbound events: everything a bot can react to (DESIGN.md §2, reference README §2 and §6).

use crate::model::command::CommandResult;
use crate::model::content::Content;
use crate::model::ids::{
    ConnectionId, ConversationId, EventId, GroupId, MessageRef, RequestId, ScheduleId, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event as it enters the engine: what happened, plus where and how it arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The platform's id for this event; repeated deliveries of one id are handled once.
    pub id: EventId,
    pub connection: ConnectionId,
    /// When the platform says it happened, in ms since the Unix epoch.
    pub time_ms: i64,
    /// Delivered by an offline sync rather than live. Bots do not answer it by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backlog: bool,
    /// The platform echoing something the bot's own account did. Bots do not answer it by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_self: bool,
    pub event: Event,
    /// The platform's payload as received, for what the model does not cover.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub raw: Value,
}

impl Envelope {
    /// The conversation whose actor handles this event: the message's conversation, the
    /// group of a notice, the direct conversation with the user a friend event concerns,
    /// or the connection's system conversation.
    pub fn route(&self) -> ConversationId {
        self.event.conversation()
    }
}

/// A message as received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageRef,
    pub conversation: ConversationId,
    pub sender: UserId,
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageRef>,
    pub time_ms: i64,
    /// Per-message extra JSON (Tencent `CloudCustomData`, NetEase `ext`, RongCloud `extra`).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub extra: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Message(Message),
    MessageEdited(Message),
    Recalled {
        conversation: ConversationId,
        message: MessageRef,
        by: UserId,
        scope: RecallScope,
    },
    ReadReceipt {
        conversation: ConversationId,
        reader: UserId,
        read: ReadMark,
    },
    DeliveryReceipt {
        conversation: ConversationId,
        recipient: UserId,
        messages: Vec<MessageRef>,
    },
    Typing {
        conversation: ConversationId,
        user: UserId,
        typing: bool,
    },
    FriendRequest(FriendRequest),
    FriendRequestAnswered {
        request: RequestId,
        user: UserId,
        accepted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remark: Option<String>,
    },
    FriendAdded {
        user: UserId,
    },
    FriendRemoved {
        user: UserId,
    },
    /// `by` blocked (or unblocked) `user`.
    BlockChanged {
        by: UserId,
        user: UserId,
        blocked: bool,
    },
    GroupNotice(GroupNotice),
    GroupJoinRequest {
        request: RequestId,
        group: GroupId,
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    GroupInvitation {
        request: RequestId,
        group: GroupId,
        inviter: UserId,
        invitee: UserId,
    },
    GroupRequestAnswered {
        request: RequestId,
        group: GroupId,
        by: UserId,
        accepted: bool,
    },
    /// A message awaiting a verdict before delivery (Tencent before-send, NetEase 第三方回调,
    /// the hub's interceptor); answered with a [`Verdict`] within the platform's deadline.
    BeforeSend(Message),
    Presence {
        user: UserId,
        online: bool,
    },
    /// A profile changed; carries nothing beyond the user, for cache invalidation.
    ProfileChanged {
        user: UserId,
    },
    Connection(ConnectionState),
    /// The platform's answer to a command a bot sent from this conversation.
    CommandResult {
        conversation: ConversationId,
        /// The command's idempotency key (`<event id>#<index>`).
        key: String,
        /// The command's name (`send`, `kick`, ...).
        command: String,
        result: CommandResult,
        /// The bot that sent the command, when one did: the result goes to that bot only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot: Option<String>,
    },
    Tick {
        schedule: ScheduleId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationId>,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        payload: Value,
        /// The only bot to call, when the schedule names one (a script's own schedules do).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot: Option<String>,
        /// The function to call instead of `on_tick`, when the schedule names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handler: Option<String>,
    },
}

impl Event {
    /// Every [`handler_name`](Self::handler_name), sorted.
    pub const HANDLER_NAMES: [&'static str; 21] = [
        "on_before_message",
        "on_block_changed",
        "on_command_result",
        "on_connection",
        "on_delivery_receipt",
        "on_friend_added",
        "on_friend_removed",
        "on_friend_request",
        "on_friend_request_answered",
        "on_group_invitation",
        "on_group_join_request",
        "on_group_notice",
        "on_group_request_answered",
        "on_message",
        "on_message_edited",
        "on_presence",
        "on_profile_changed",
        "on_read_receipt",
        "on_recall",
        "on_tick",
        "on_typing",
    ];

    /// The handler name a script defines for this event (`on_message`, ...).
    pub fn handler_name(&self) -> &'static str {
        match self {
            Event::Message(_) => "on_message",
            Event::MessageEdited(_) => "on_message_edited",
            Event::Recalled { .. } => "on_recall",
            Event::ReadReceipt { .. } => "on_read_receipt",
            Event::DeliveryReceipt { .. } => "on_delivery_receipt",
            Event::Typing { .. } => "on_typing",
            Event::FriendRequest(_) => "on_friend_request",
            Event::FriendRequestAnswered { .. } => "on_friend_request_answered",
            Event::FriendAdded { .. } => "on_friend_added",
            Event::FriendRemoved { .. } => "on_friend_removed",
            Event::BlockChanged { .. } => "on_block_changed",
            Event::GroupNotice(_) => "on_group_notice",
            Event::GroupJoinRequest { .. } => "on_group_join_request",
            Event::GroupInvitation { .. } => "on_group_invitation",
            Event::GroupRequestAnswered { .. } => "on_group_request_answered",
            Event::BeforeSend(_) => "on_before_message",
            Event::Presence { .. } => "on_presence",
            Event::ProfileChanged { .. } => "on_profile_changed",
            Event::Connection(_) => "on_connection",
            Event::CommandResult { .. } => "on_command_result",
            Event::Tick { .. } => "on_tick",
        }
    }

    /// See [`Envelope::route`].
    pub fn conversation(&self) -> ConversationId {
        match self {
            Event::Message(m) | Event::MessageEdited(m) | Event::BeforeSend(m) => {
                m.conversation.clone()
            }
            Event::Recalled { conversation, .. }
            | Event::ReadReceipt { conversation, .. }
            | Event::DeliveryReceipt { conversation, .. }
            | Event::Typing { conversation, .. }
            | Event::CommandResult { conversation, .. } => conversation.clone(),
            Event::FriendRequest(r) => ConversationId::direct(r.from.as_str()),
            Event::FriendRequestAnswered { user, .. }
            | Event::FriendAdded { user }
            | Event::FriendRemoved { user }
            | Event::BlockChanged { user, .. }
            | Event::Presence { user, .. }
            | Event::ProfileChanged { user } => ConversationId::direct(user.as_str()),
            Event::GroupNotice(n) => ConversationId::group(n.group.as_str()),
            Event::GroupJoinRequest { group, .. }
            | Event::GroupInvitation { group, .. }
            | Event::GroupRequestAnswered { group, .. } => ConversationId::group(group.as_str()),
            Event::Connection(_) => ConversationId::system(),
            Event::Tick { conversation, .. } => {
                conversation.clone().unwrap_or_else(ConversationId::system)
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecallScope {
    /// Withdrawn for everyone.
    Everyone,
    /// Deleted for one side only (Lanying delete, NetEase one-way revoke).
    SelfOnly,
}

/// How far a reader has read: vendors use a watermark or a list of messages (README §7.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ReadMark {
    UpTo { time_ms: i64 },
    Messages { messages: Vec<MessageRef> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequest {
    pub request: RequestId,
    pub from: UserId,
    pub to: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// The question asked by a question-and-answer friend gate, and the requester's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupNotice {
    pub group: GroupId,
    #[serde(flatten)]
    pub kind: GroupNoticeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<UserId>,
    pub time_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroupNoticeKind {
    Created,
    Dismissed,
    MemberJoined,
    MemberLeft,
    MemberKicked,
    MemberMuted { until_ms: i64 },
    MemberUnmuted,
    AllMuted,
    AllUnmuted,
    AdminAdded,
    AdminRemoved,
    OwnerTransferred,
    InfoChanged { changes: GroupInfoPatch },
    AnnouncementChanged { text: String },
    MemberInfoChanged,
}

impl GroupNoticeKind {
    /// The name scripts see in `n.kind`.
    pub fn name(&self) -> &'static str {
        match self {
            GroupNoticeKind::Created => "created",
            GroupNoticeKind::Dismissed => "dismissed",
            GroupNoticeKind::MemberJoined => "member_joined",
            GroupNoticeKind::MemberLeft => "member_left",
            GroupNoticeKind::MemberKicked => "member_kicked",
            GroupNoticeKind::MemberMuted { .. } => "member_muted",
            GroupNoticeKind::MemberUnmuted => "member_unmuted",
            GroupNoticeKind::AllMuted => "all_muted",
            GroupNoticeKind::AllUnmuted => "all_unmuted",
            GroupNoticeKind::AdminAdded => "admin_added",
            GroupNoticeKind::AdminRemoved => "admin_removed",
            GroupNoticeKind::OwnerTransferred => "owner_transferred",
            GroupNoticeKind::InfoChanged { .. } => "info_changed",
            GroupNoticeKind::AnnouncementChanged { .. } => "announcement_changed",
            GroupNoticeKind::MemberInfoChanged => "member_info_changed",
        }
    }
}

/// The fields of a group's info that may change; `None` means unchanged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupInfoPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Connected,
    Lost {
        reason: String,
    },
    /// Another device logged in with the same account.
    Kicked,
    TokenExpired,
    /// Frozen account, expired licence, blocked app: alert, never reconnect in a loop.
    Disabled {
        reason: String,
    },
    SyncStarted,
    SyncFinished,
}

impl ConnectionState {
    /// The state's name (`connected`, `lost`, `kicked`, ...), as serialized.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Connected => "connected",
            ConnectionState::Lost { .. } => "lost",
            ConnectionState::Kicked => "kicked",
            ConnectionState::TokenExpired => "token_expired",
            ConnectionState::Disabled { .. } => "disabled",
            ConnectionState::SyncStarted => "sync_started",
            ConnectionState::SyncFinished => "sync_finished",
        }
    }
}

/// The answer to a [`Event::BeforeSend`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Reject { reason: String },
    Replace { content: Content },
}
