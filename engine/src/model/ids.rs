//! Identifiers shared by every platform.
//!
//! Ids are opaque strings: vendors use strings (Tencent, NetEase, RongCloud), u64s sent as
//! strings or numbers (Lanying) or compound keys (JMessage's username + appkey). Adapters
//! render them into one string each and keep the vendor's form in the event's raw payload.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }
    };
}

string_id!(
    /// A configured platform account (`[[connections]] id = ...`).
    ConnectionId
);
string_id!(
    /// A user on a platform.
    UserId
);
string_id!(
    /// A group, team, discussion or chat room on a platform.
    GroupId
);
string_id!(
    /// A friend request, group join request or invitation, as the platform names it.
    RequestId
);
string_id!(
    /// The platform's id for an inbound event; the dedupe key within one connection.
    EventId
);
string_id!(
    /// A broadcast or schedule name given in config or by a script.
    ScheduleId
);

/// What kind of conversation an id names; vendors model these differently (see the
/// reference README §5), adapters map them here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// One-to-one with a peer; the conversation id is the peer's user id.
    Direct,
    /// A group with a member list (private, public, work, advanced, super team, ...).
    Group,
    /// A chat room: no member list kept, no history for late joiners.
    ChatRoom,
    /// RongCloud discussions, NetEase normal teams.
    Discussion,
    /// RongCloud `CUSTOMER_SERVICE`, NetEase Ysf.
    CustomerService,
    /// Read-only system conversations and connection-level events (no peer).
    System,
}

/// A conversation as seen by one connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationId {
    pub kind: ConversationKind,
    pub id: String,
}

impl ConversationId {
    pub fn direct(peer: impl Into<String>) -> Self {
        Self {
            kind: ConversationKind::Direct,
            id: peer.into(),
        }
    }
    pub fn group(group: impl Into<String>) -> Self {
        Self {
            kind: ConversationKind::Group,
            id: group.into(),
        }
    }
    pub fn chat_room(room: impl Into<String>) -> Self {
        Self {
            kind: ConversationKind::ChatRoom,
            id: room.into(),
        }
    }
    /// The conversation of connection-level events (connection state, ticks without a target).
    pub fn system() -> Self {
        Self {
            kind: ConversationKind::System,
            id: String::new(),
        }
    }
    /// Whether this conversation has several members (group, chat room, discussion).
    pub fn is_multi_party(&self) -> bool {
        matches!(
            self.kind,
            ConversationKind::Group | ConversationKind::ChatRoom | ConversationKind::Discussion
        )
    }
}

impl fmt::Display for ConversationId {
    /// `direct:alice`, `group:lobby`, `system:` — the form used in config, logs and the CLI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
            ConversationKind::ChatRoom => "chatroom",
            ConversationKind::Discussion => "discussion",
            ConversationKind::CustomerService => "customer_service",
            ConversationKind::System => "system",
        };
        write!(f, "{kind}:{}", self.id)
    }
}

/// Parses the `kind:id` form; a bare id means a direct conversation with that user.
impl std::str::FromStr for ConversationId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((kind, id)) = s.split_once(':') else {
            if s.is_empty() {
                return Err("empty conversation id".into());
            }
            return Ok(Self::direct(s));
        };
        let kind = match kind {
            "direct" | "user" => ConversationKind::Direct,
            "group" => ConversationKind::Group,
            "chatroom" => ConversationKind::ChatRoom,
            "discussion" => ConversationKind::Discussion,
            "customer_service" => ConversationKind::CustomerService,
            "system" => ConversationKind::System,
            other => return Err(format!("unknown conversation kind `{other}` in `{s}`")),
        };
        if id.is_empty() && kind != ConversationKind::System {
            return Err(format!("missing id after `{kind:?}:` in `{s}`"));
        }
        Ok(Self {
            kind,
            id: id.to_string(),
        })
    }
}

/// A message as the platform and Parley know it. Vendors have two ids per message (a
/// client id and a server id) and their server APIs need the server form plus the time to
/// recall or mark read, so all three are kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// The platform's server id (Tencent `MsgKey`, NetEase `msgidServer`, RongCloud `messageUId`).
    pub id: String,
    /// The sender's client id, Parley's idempotency key for messages it sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Per-conversation sequence where the platform has one (Tencent group `MsgSeq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Server time in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<i64>,
}

impl MessageRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            client_id: None,
            seq: None,
            time_ms: None,
        }
    }
}
