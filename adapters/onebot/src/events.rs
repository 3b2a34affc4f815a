//! OneBot v11 events (message, notice, request, meta_event) to the model's envelopes.

use crate::segments;
use parley_engine::model::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What one pushed event means for the connection.
#[derive(Debug)]
pub enum Parsed {
    Event(Box<Envelope>),
    /// A heartbeat: the next one is due within this many milliseconds.
    Heartbeat {
        interval_ms: u64,
    },
    /// A kind Parley does not map; the reason is logged at debug level.
    Ignored(String),
}

/// Reads one event of the account `self_id`; the error says what is wrong with it.
pub fn parse(raw: Value, connection: &ConnectionId, self_id: u64) -> Result<Parsed, String> {
    let post_type = str_field(&raw, "post_type")?.to_string();
    let event_self = int(&raw, "self_id")?;
    if event_self != self_id {
        return Err(format!(
            "the event is for account {event_self}, but this connection is account {self_id}"
        ));
    }
    let time_ms = int(&raw, "time").unwrap_or_default() as i64 * 1000;
    let mut from_self = false;
    let (id, event) = match post_type.as_str() {
        "message" | "message_sent" => {
            let message = message(&raw, self_id, time_ms)?;
            from_self =
                post_type == "message_sent" || message.sender.as_str() == self_id.to_string();
            let id = format!("msg:{}:{}", message.id.id, raw["time"]);
            (id, Event::Message(message))
        }
        "notice" => match notice(&raw, time_ms)? {
            Some(event) => (hashed("notice", &raw), event),
            None => return Ok(Parsed::Ignored(format!("notice `{}`", raw["notice_type"]))),
        },
        "request" => (hashed("request", &raw), request(&raw, self_id)?),
        "meta_event" => match str_field(&raw, "meta_event_type")? {
            "heartbeat" => {
                return Ok(Parsed::Heartbeat {
                    interval_ms: int(&raw, "interval").unwrap_or(0),
                })
            }
            "lifecycle" => {
                let state = match str_field(&raw, "sub_type")? {
                    "connect" | "enable" => ConnectionState::Connected,
                    "disable" => ConnectionState::Lost {
                        reason: "the OneBot implementation was disabled".into(),
                    },
                    other => return Err(format!("unknown lifecycle sub_type `{other}`")),
                };
                (hashed("lifecycle", &raw), Event::Connection(state))
            }
            other => return Ok(Parsed::Ignored(format!("meta event `{other}`"))),
        },
        other => return Err(format!("unknown post_type `{other}`")),
    };
    Ok(Parsed::Event(Box::new(Envelope {
        id: EventId::new(id),
        connection: connection.clone(),
        time_ms,
        backlog: false,
        from_self,
        event,
        raw,
    })))
}

/// A stable id for events that carry none: the same event delivered again hashes the same.
fn hashed(prefix: &str, raw: &Value) -> String {
    let digest = Sha256::digest(raw.to_string().as_bytes());
    format!("{prefix}:{}", hex::encode(&digest[..16]))
}

fn str_field<'a>(raw: &'a Value, key: &str) -> Result<&'a str, String> {
    raw[key]
        .as_str()
        .ok_or_else(|| format!("the event has no string `{key}`"))
}

/// An integer field; implementations send ids as numbers or as strings.
fn int(raw: &Value, key: &str) -> Result<u64, String> {
    match &raw[key] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("the event has no integer `{key}`"))
}

/// An id field as a string; message ids are int32 and may be negative.
fn id(raw: &Value, key: &str) -> Result<String, String> {
    match &raw[key] {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
    .ok_or_else(|| format!("the event has no id `{key}`"))
}

fn user(raw: &Value, key: &str) -> Result<UserId, String> {
    id(raw, key).map(UserId::new)
}

fn group(raw: &Value) -> Result<GroupId, String> {
    id(raw, "group_id").map(GroupId::new)
}

fn message(raw: &Value, self_id: u64, time_ms: i64) -> Result<Message, String> {
    let sender = user(raw, "user_id")?;
    let conversation = match str_field(raw, "message_type")? {
        "group" => ConversationId::group(id(raw, "group_id")?),
        // The bot's own private message is in the conversation with its recipient.
        "private" if sender.as_str() == self_id.to_string() && raw.get("target_id").is_some() => {
            ConversationId::direct(id(raw, "target_id")?)
        }
        "private" => ConversationId::direct(sender.as_str()),
        other => return Err(format!("unknown message_type `{other}`")),
    };
    let segments = segments::parse(&raw["message"])?;
    let (content, reply_to) = segments::to_content(&segments);
    let mut id = MessageRef::new(id(raw, "message_id")?);
    id.time_ms = Some(time_ms);
    Ok(Message {
        id,
        conversation,
        sender,
        content,
        reply_to,
        time_ms,
        extra: Value::Null,
    })
}

fn group_notice(
    raw: &Value,
    kind: GroupNoticeKind,
    operator: Option<&str>,
    target: &str,
    time_ms: i64,
) -> Result<Event, String> {
    Ok(Event::GroupNotice(GroupNotice {
        group: group(raw)?,
        kind,
        operator: operator.map(|k| user(raw, k)).transpose()?,
        targets: vec![user(raw, target)?],
        time_ms,
    }))
}

/// A notice the model has no event for, as a message of `custom` content `onebot:<kind>`
/// from the user who caused it (pokes, lucky king) so bots can still react.
fn custom_message(raw: &Value, kind: &str, time_ms: i64) -> Result<Event, String> {
    let conversation = match raw.get("group_id") {
        Some(_) => ConversationId::group(id(raw, "group_id")?),
        None => ConversationId::direct(id(raw, "user_id")?),
    };
    let mut data = raw.clone();
    if let Value::Object(m) = &mut data {
        for k in ["time", "self_id", "post_type", "notice_type", "sub_type"] {
            m.remove(k);
        }
    }
    Ok(Event::Message(Message {
        id: MessageRef::new(hashed(kind, raw)),
        conversation,
        sender: user(raw, "user_id")?,
        content: Content::Custom {
            custom_type: format!("onebot:{kind}"),
            data,
            description: None,
        },
        reply_to: None,
        time_ms,
        extra: Value::Null,
    }))
}

fn file_message(raw: &Value, conversation: ConversationId, time_ms: i64) -> Result<Event, String> {
    let f = &raw["file"];
    Ok(Event::Message(Message {
        id: MessageRef::new(f["id"].as_str().unwrap_or_default()),
        conversation,
        sender: user(raw, "user_id")?,
        content: Content::File(Media {
            url: f["url"].as_str().unwrap_or_default().into(),
            name: f["name"].as_str().map(Into::into),
            size: f["size"].as_u64(),
            ..Media::default()
        }),
        reply_to: None,
        time_ms,
        extra: Value::Null,
    }))
}

fn notice(raw: &Value, time_ms: i64) -> Result<Option<Event>, String> {
    use GroupNoticeKind as K;
    let sub = raw["sub_type"].as_str().unwrap_or_default();
    let event = match str_field(raw, "notice_type")? {
        "group_upload" => file_message(raw, ConversationId::group(id(raw, "group_id")?), time_ms)?,
        "offline_file" => file_message(raw, ConversationId::direct(id(raw, "user_id")?), time_ms)?,
        "group_admin" => {
            let kind = if sub == "unset" {
                K::AdminRemoved
            } else {
                K::AdminAdded
            };
            group_notice(raw, kind, None, "user_id", time_ms)?
        }
        "group_decrease" => {
            let kind = if sub == "leave" {
                K::MemberLeft
            } else {
                K::MemberKicked
            };
            group_notice(raw, kind, Some("operator_id"), "user_id", time_ms)?
        }
        "group_increase" => group_notice(
            raw,
            K::MemberJoined,
            Some("operator_id"),
            "user_id",
            time_ms,
        )?,
        "group_ban" => {
            // user_id 0 is the whole group.
            let whole = int(raw, "user_id")? == 0;
            let kind = match (sub, whole) {
                ("lift_ban", true) => K::AllUnmuted,
                ("lift_ban", false) => K::MemberUnmuted,
                (_, true) => K::AllMuted,
                (_, false) => K::MemberMuted {
                    until_ms: time_ms + int(raw, "duration").unwrap_or(0) as i64 * 1000,
                },
            };
            let mut e = group_notice(raw, kind, Some("operator_id"), "user_id", time_ms)?;
            if let (true, Event::GroupNotice(n)) = (whole, &mut e) {
                n.targets.clear();
            }
            e
        }
        "friend_add" => Event::FriendAdded {
            user: user(raw, "user_id")?,
        },
        "group_recall" => Event::Recalled {
            conversation: ConversationId::group(id(raw, "group_id")?),
            message: MessageRef::new(id(raw, "message_id")?),
            by: user(raw, "operator_id")?,
            scope: RecallScope::Everyone,
        },
        "friend_recall" => Event::Recalled {
            conversation: ConversationId::direct(id(raw, "user_id")?),
            message: MessageRef::new(id(raw, "message_id")?),
            by: user(raw, "user_id")?,
            scope: RecallScope::Everyone,
        },
        "group_card" => group_notice(raw, K::MemberInfoChanged, None, "user_id", time_ms)?,
        "notify" => match sub {
            "poke" | "lucky_king" => custom_message(raw, sub, time_ms)?,
            // Honours (talkative, performer, emotion) change what members see of one member.
            "honor" => group_notice(raw, K::MemberInfoChanged, None, "user_id", time_ms)?,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn request(raw: &Value, self_id: u64) -> Result<Event, String> {
    let flag = RequestId::new(str_field(raw, "flag")?);
    let comment = raw["comment"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(String::from);
    Ok(match str_field(raw, "request_type")? {
        "friend" => Event::FriendRequest(FriendRequest {
            request: flag,
            from: user(raw, "user_id")?,
            to: UserId::new(self_id.to_string()),
            greeting: comment,
            question: None,
            answer: None,
        }),
        "group" => match str_field(raw, "sub_type")? {
            "add" => Event::GroupJoinRequest {
                request: flag,
                group: group(raw)?,
                user: user(raw, "user_id")?,
                reason: comment,
            },
            "invite" => Event::GroupInvitation {
                request: flag,
                group: group(raw)?,
                inviter: user(raw, "user_id")?,
                invitee: UserId::new(self_id.to_string()),
            },
            other => return Err(format!("unknown group request sub_type `{other}`")),
        },
        other => return Err(format!("unknown request_type `{other}`")),
    })
}
