//! The WebSocket protocol's frames (docs/hub-protocol.md): parsing client requests with
//! precise errors, and rendering server frames.

use crate::error::HubError;
use crate::events::StoredEvent;
use crate::friends::SettingsPatch;
use crate::groups::{GroupSettingsPatch, NewGroup};
use crate::profiles::ProfilePatch;
use crate::store::{GroupInfo, UserInfo};
use parley_engine::model::{Content, ConversationId, Event, Message, MessageRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// The request types, in the order the docs list them.
pub(crate) const REQUEST_TYPES: &[&str] = &[
    "login",
    "send",
    "history",
    "conversations",
    "groups",
    "ping",
    "events",
    "settings",
    "add_friend",
    "answer_friend_request",
    "friend_requests",
    "friends",
    "remove_friend",
    "set_friend_alias",
    "block",
    "unblock",
    "create_group",
    "group_info",
    "set_group_info",
    "set_group_settings",
    "set_announcement",
    "invite",
    "join_group",
    "answer_join_request",
    "answer_invitation",
    "group_requests",
    "kick",
    "leave_group",
    "dismiss",
    "transfer_owner",
    "set_admin",
    "mute",
    "unmute",
    "mute_all",
    "recall",
    "delete_message",
    "mark_read",
    "read_by",
    "delivered",
    "typing",
    "set_conversation",
    "profile",
    "set_profile",
    "presence",
    "devices",
];

/// A client request, without its `type` (the variant) and `req` (kept apart so that even a
/// request that fails to parse gets its `req` echoed).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(clippy::enum_variant_names)] // the wire names: `answer_friend_request`, ...
pub(crate) enum Request {
    Login {
        token: String,
        /// The client's name for this device (session); generated when absent.
        #[serde(default)]
        device: Option<String>,
    },
    Send {
        to: ConversationId,
        content: Box<Content>,
        #[serde(default)]
        client_id: Option<String>,
        #[serde(default)]
        reply_to: Option<MessageRef>,
        #[serde(default)]
        extra: Value,
    },
    History {
        conversation: ConversationId,
        #[serde(default)]
        before_seq: Option<u64>,
        #[serde(default)]
        limit: Option<u32>,
    },
    Conversations {},
    Groups {},
    Ping {},
    Events {
        #[serde(default)]
        after_seq: u64,
        #[serde(default)]
        limit: Option<u32>,
    },
    Settings(SettingsPatch),
    AddFriend {
        user: String,
        #[serde(default)]
        greeting: Option<String>,
        #[serde(default)]
        answer: Option<String>,
    },
    AnswerFriendRequest {
        request: String,
        accept: bool,
        #[serde(default)]
        remark: Option<String>,
    },
    FriendRequests {},
    Friends {},
    RemoveFriend {
        user: String,
    },
    SetFriendAlias {
        user: String,
        alias: Option<String>,
    },
    Block {
        user: String,
    },
    Unblock {
        user: String,
    },
    CreateGroup(NewGroup),
    GroupInfo {
        group: String,
    },
    SetGroupInfo {
        group: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        avatar_url: Option<String>,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        ext: Option<Value>,
    },
    SetGroupSettings(GroupSettingsPatch),
    SetAnnouncement {
        group: String,
        text: String,
    },
    Invite {
        group: String,
        users: Vec<String>,
    },
    JoinGroup {
        group: String,
        #[serde(default)]
        message: Option<String>,
    },
    AnswerJoinRequest {
        request: String,
        accept: bool,
    },
    AnswerInvitation {
        request: String,
        accept: bool,
    },
    GroupRequests {},
    Kick {
        group: String,
        users: Vec<String>,
    },
    LeaveGroup {
        group: String,
    },
    Dismiss {
        group: String,
    },
    TransferOwner {
        group: String,
        user: String,
    },
    SetAdmin {
        group: String,
        user: String,
        admin: bool,
    },
    Mute {
        group: String,
        user: String,
        seconds: u64,
    },
    Unmute {
        group: String,
        user: String,
    },
    MuteAll {
        group: String,
        muted: bool,
    },
    Recall {
        message: String,
    },
    DeleteMessage {
        message: String,
    },
    MarkRead {
        conversation: ConversationId,
        #[serde(default)]
        up_to_seq: Option<u64>,
    },
    ReadBy {
        message: String,
    },
    Delivered {
        conversation: ConversationId,
        messages: Vec<String>,
    },
    Typing {
        to: String,
        typing: bool,
    },
    SetConversation {
        conversation: ConversationId,
        #[serde(default)]
        pinned: Option<bool>,
        #[serde(default)]
        muted: Option<bool>,
    },
    Profile {
        /// Absent: the user's own profile.
        #[serde(default)]
        user: Option<String>,
    },
    SetProfile(ProfilePatch),
    Presence {
        users: Vec<String>,
    },
    Devices {},
}

/// A frame the client got wrong; answered with an `error` frame, the socket stays open.
#[derive(Debug, PartialEq)]
pub(crate) struct FrameError {
    pub code: &'static str,
    pub message: String,
}

/// Parses one text frame into its `req` and the request (or what is wrong with it).
pub(crate) fn parse(text: &str) -> (Option<String>, Result<Request, FrameError>) {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let message = format!("frame is not valid JSON: {e}");
            return (
                None,
                Err(FrameError {
                    code: "invalid_json",
                    message,
                }),
            );
        }
    };
    let req = match value.get("req") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            let message = format!("`req` must be a string, got {other}");
            return (
                None,
                Err(FrameError {
                    code: "invalid_request",
                    message,
                }),
            );
        }
    };
    let invalid = |message: String| {
        Err(FrameError {
            code: "invalid_request",
            message,
        })
    };
    let kind = match value.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(other) => {
            return (
                req,
                invalid(format!("`type` must be a string, got {other}")),
            )
        }
        None => {
            return (
                req,
                invalid(format!(
                    "missing field `type` (one of: {})",
                    REQUEST_TYPES.join(", ")
                )),
            )
        }
    };
    if !REQUEST_TYPES.contains(&kind.as_str()) {
        let message = format!(
            "unknown request type {kind:?}; known types: {}",
            REQUEST_TYPES.join(", ")
        );
        return (
            req,
            Err(FrameError {
                code: "unknown_type",
                message,
            }),
        );
    }
    // `req` was read above; it is not part of any request's own fields.
    let mut value = value;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("req");
    }
    let request = serde_json::from_value::<Request>(value.clone()).map_err(|e| FrameError {
        code: "invalid_request",
        message: match culprit(&value, &e) {
            Some(field) => format!("invalid {kind:?} request: field `{field}`: {e}"),
            None => format!("invalid {kind:?} request: {e}"),
        },
    });
    (req, request)
}

/// The top-level field a deserialization error is about, when serde's message does not
/// name one (a wrong type): the field without which the error changes.
fn culprit(value: &Value, error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    if message.contains("field `") {
        return None;
    }
    let fields = value.as_object()?;
    fields.keys().filter(|k| *k != "type").find_map(|key| {
        let mut without = value.clone();
        without.as_object_mut()?.remove(key);
        match serde_json::from_value::<Request>(without) {
            Ok(_) => Some(key.clone()),
            Err(e) if e.to_string() != message => Some(key.clone()),
            Err(_) => None,
        }
    })
}

/// A user as other users see it (no token).
#[derive(Debug, Serialize)]
pub(crate) struct PublicUser {
    pub id: String,
    pub name: String,
}

impl From<&UserInfo> for PublicUser {
    fn from(u: &UserInfo) -> Self {
        PublicUser {
            id: u.id.clone(),
            name: u.name.clone(),
        }
    }
}

/// One entry of the `conversations` answer.
#[derive(Debug, Serialize)]
pub(crate) struct ConversationSummary {
    pub conversation: ConversationId,
    /// The peer's or the group's display name.
    pub name: String,
    pub last_message: Option<Message>,
    /// Messages of others after the user's read mark.
    pub unread: u32,
    pub pinned: bool,
    /// The user muted notifications of this conversation.
    pub muted: bool,
}

/// A frame the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerFrame {
    LoginOk {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
        user: PublicUser,
        /// This session's device name.
        device: String,
    },
    /// The hub ends this session because another login replaced it; the socket closes next.
    Kicked {
        reason: String,
        /// The device of the login that replaced this session.
        by: String,
    },
    Sent {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
        message: Message,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
    },
    Message {
        message: Message,
    },
    History {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
        messages: Vec<Message>,
        has_more: bool,
    },
    Conversations {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
        conversations: Vec<ConversationSummary>,
    },
    Groups {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
        groups: Vec<GroupInfo>,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
    },
    /// An event pushed to the session (everything but messages).
    Event {
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        id: String,
        time_ms: i64,
        event: Event,
    },
    /// The answer to a request whose answer is a plain object: `{"type": kind, "req": ..,
    /// ..body}`. Rendered by hand in [`ServerFrame::to_text`].
    #[serde(skip)]
    Answer {
        req: Option<String>,
        kind: &'static str,
        body: Value,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        req: Option<String>,
        code: &'static str,
        message: String,
    },
}

impl ServerFrame {
    pub fn error(req: Option<String>, code: &'static str, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            req,
            code,
            message: message.into(),
        }
    }

    /// The error frame for a failed hub operation; internal failures are logged, not shown.
    pub fn hub_error(req: Option<String>, error: &HubError) -> Self {
        if error.is_internal() {
            tracing::error!(%error, "hub request failed");
            return Self::error(
                req,
                "internal",
                "the hub failed to carry out the request; see its log",
            );
        }
        Self::error(req, error.code(), error.to_string())
    }

    /// An answer frame of type `kind` carrying the fields of `body` (a JSON object).
    pub fn answer(req: Option<String>, kind: &'static str, body: Value) -> Self {
        ServerFrame::Answer { req, kind, body }
    }

    pub fn to_text(&self) -> String {
        if let ServerFrame::Answer { req, kind, body } = self {
            let mut fields = serde_json::Map::new();
            fields.insert("type".into(), Value::from(*kind));
            if let Some(req) = req {
                fields.insert("req".into(), Value::from(req.as_str()));
            }
            if let Value::Object(body) = body {
                fields.extend(body.clone());
            }
            return Value::Object(fields).to_string();
        }
        serde_json::to_string(self).expect("server frames serialize")
    }
}

/// An event as a session receives it (pushed, or in an `events` page).
pub(crate) fn event_value(event: &StoredEvent) -> Value {
    serde_json::to_value(ServerFrame::Event {
        seq: event.seq,
        id: event.id.clone(),
        time_ms: event.time_ms,
        event: event.event.clone(),
    })
    .expect("events serialize")
}

/// The `event` frame pushed to a session.
pub(crate) fn event_frame(event: &StoredEvent) -> Arc<str> {
    event_value(event).to_string().into()
}

/// The `message` frame pushed to a session, rendered once per viewer.
pub(crate) fn message_frame(message: Message) -> Arc<str> {
    ServerFrame::Message { message }.to_text().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_and_keeps_req() {
        let (req, r) = parse(
            r#"{"type":"send","req":"2","to":{"kind":"direct","id":"bot"},"content":{"kind":"text","text":"hello"},"client_id":"c-1"}"#,
        );
        assert_eq!(req.as_deref(), Some("2"));
        match r.unwrap() {
            Request::Send {
                to,
                content,
                client_id,
                ..
            } => {
                assert_eq!(to, ConversationId::direct("bot"));
                assert_eq!(*content, Content::text("hello"));
                assert_eq!(client_id.as_deref(), Some("c-1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(r#"{"type":"ping"}"#),
            (None, Ok(Request::Ping {}))
        ));
    }

    #[test]
    fn names_what_is_wrong_with_a_frame() {
        let (_, r) = parse("{not json");
        let e = r.unwrap_err();
        assert_eq!(e.code, "invalid_json");
        assert!(e.message.contains("line 1 column 2"), "{}", e.message);

        let (req, r) = parse(r#"{"type":"dance","req":"9"}"#);
        let e = r.unwrap_err();
        assert_eq!((req.as_deref(), e.code), (Some("9"), "unknown_type"));
        assert!(
            e.message.contains("\"dance\"") && e.message.contains("login, send, history"),
            "{}",
            e.message
        );

        let (req, r) = parse(r#"{"type":"send","req":"3","content":{"kind":"text","text":"x"}}"#);
        let e = r.unwrap_err();
        assert_eq!((req.as_deref(), e.code), (Some("3"), "invalid_request"));
        assert!(e.message.contains("missing field `to`"), "{}", e.message);

        assert_eq!(
            parse(r#"{"req":"4"}"#).1.unwrap_err().code,
            "invalid_request"
        );
        assert_eq!(
            parse(r#"{"type":"ping","req":4}"#).1.unwrap_err().code,
            "invalid_request"
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let message = |text: &str| parse(text).1.unwrap_err().message;
        assert_eq!(
            message(r#"{"type":"add_friend","req":"1","user":"bob","greting":"hi"}"#),
            "invalid \"add_friend\" request: unknown field `greting`, expected one of `user`, `greeting`, `answer`"
        );
        assert_eq!(
            message(r#"{"type":"answer_friend_request","request":"fr1","accept":"yes"}"#),
            "invalid \"answer_friend_request\" request: field `accept`: invalid type: string \"yes\", expected a boolean"
        );
        assert!(message(r#"{"type":"ping","extra":1}"#).contains("unknown field `extra`"));
    }

    #[test]
    fn the_documented_error_messages_are_the_real_ones() {
        let message = |text: &str| parse(text).1.unwrap_err().message;
        assert_eq!(
            message(r#"{"type": "ping","#),
            "frame is not valid JSON: EOF while parsing a value at line 1 column 16"
        );
        assert_eq!(
            message("{not json"),
            "frame is not valid JSON: key must be a string at line 1 column 2"
        );
        assert_eq!(
            message(r#"{"type":"dance","req":"9"}"#),
            format!(
                "unknown request type \"dance\"; known types: {}",
                REQUEST_TYPES.join(", ")
            )
        );
        assert_eq!(
            message(r#"{"type":"send","req":"2","content":{"kind":"text","text":"hi"}}"#),
            "invalid \"send\" request: missing field `to`"
        );
    }

    #[test]
    fn frames_render_with_their_type_and_skip_absent_fields() {
        let pong = ServerFrame::Pong {
            req: Some("6".into()),
        }
        .to_text();
        assert_eq!(pong, r#"{"type":"pong","req":"6"}"#);
        let err = ServerFrame::error(None, "invalid_json", "bad").to_text();
        assert_eq!(
            err,
            r#"{"type":"error","code":"invalid_json","message":"bad"}"#
        );
    }
}
