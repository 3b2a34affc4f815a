//! Tencent's third-party callbacks (seed-001 §7.4) as engine events.
//!
//! Callbacks are app-wide: Tencent posts every 1:1 message of the app. A connection takes
//! the 1:1 messages, reads, recalls and friend events that involve its bot account, and
//! every group's events (the admin account can act in any group). Event ids follow
//! reference §7.1: `MsgKey` for 1:1 messages, (`GroupId`, `MsgSeq`) for group messages; other
//! callbacks carry no id, so theirs is a hash of the body (a repeated callback is the same
//! body) plus the event's place in it.

use crate::elements::{self, Elem};
use parley_engine::model::ConnectionId;
use parley_engine::model::{
    Content, ConversationId, Envelope, Event, EventId, FriendRequest, GroupId, GroupInfoPatch,
    GroupNotice, GroupNoticeKind, Message, MessageRef, ReadMark, RecallScope, RequestId, UserId,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// What the connection knows while reading a callback.
pub struct Ctx<'a> {
    pub connection: &'a ConnectionId,
    pub bot: &'a str,
    /// Used when the callback has no `EventTime`.
    pub now_ms: i64,
}

#[derive(Debug)]
pub enum Parsed {
    /// Events to store before answering.
    Events(Vec<Envelope>),
    /// A message awaiting the bots' verdict.
    BeforeSend(Box<Envelope>),
    /// A friend request to report and allow: answered with one `ResultItem` per target.
    FriendGate {
        events: Vec<Envelope>,
        targets: Vec<String>,
    },
    /// Nothing for this connection (another user's 1:1 traffic, a callback not mapped).
    Ignored,
}

pub fn parse(command: &str, body: &[u8], ctx: &Ctx) -> Result<Parsed, String> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let p = Parser {
        ctx,
        command,
        time_ms: event_time(&raw).unwrap_or(ctx.now_ms),
        body_id: body_hash(body),
        raw: &raw,
    };
    match command {
        "C2C.CallbackAfterSendMsg" => p.c2c_message(false),
        "C2C.CallbackBeforeSendMsg" => p.c2c_message(true),
        "Group.CallbackAfterSendMsg" => p.group_message(false),
        "Group.CallbackBeforeSendMsg" => p.group_message(true),
        "C2C.CallbackAfterMsgWithDraw" => p.c2c_recall(),
        "Group.CallbackAfterRecallMsg" => p.group_recall(),
        "C2C.CallbackAfterMsgReport" => p.c2c_read(),
        "Group.CallbackAfterReadReceipt" => p.group_read(),
        "Sns.CallbackPrevFriendAdd" => p.friend_request(),
        "Sns.CallbackFriendAdd" => p.friends(true),
        "Sns.CallbackFriendDelete" => p.friends(false),
        "Group.CallbackAfterNewMemberJoin" => p.members_joined(),
        "Group.CallbackAfterMemberExit" => p.members_left(),
        "Group.CallbackAfterGroupInfoChanged" => p.group_info(),
        "Group.CallbackAfterGroupDestroyed" => p.group_destroyed(),
        _ => Ok(Parsed::Ignored),
    }
}

/// `EventTime` in ms, sent as a number or a numeric string.
fn event_time(raw: &Value) -> Option<i64> {
    match raw.get("EventTime")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn body_hash(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(body)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `CloudCustomData` as JSON when it is JSON, else as a string; absent or empty = null.
pub(crate) fn extra(cloud: Option<String>) -> Value {
    match cloud.filter(|s| !s.is_empty()) {
        None => Value::Null,
        Some(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
    }
}

#[derive(Deserialize)]
struct C2CMsg {
    #[serde(rename = "From_Account")]
    from: String,
    #[serde(rename = "To_Account")]
    to: String,
    #[serde(rename = "MsgKey", default)]
    key: String,
    #[serde(rename = "MsgRandom", default)]
    random: u64,
    #[serde(rename = "MsgTime", default)]
    time: i64,
    #[serde(rename = "MsgBody")]
    body: Vec<Elem>,
    #[serde(rename = "CloudCustomData", default)]
    cloud: Option<String>,
    #[serde(rename = "SendMsgResult", default)]
    result: i64,
}

#[derive(Deserialize)]
struct GroupMsg {
    #[serde(rename = "GroupId")]
    group: String,
    #[serde(rename = "From_Account")]
    from: String,
    #[serde(rename = "MsgSeq", default)]
    seq: Option<u64>,
    #[serde(rename = "Random", default)]
    random: u64,
    #[serde(rename = "MsgTime", default)]
    time: Option<i64>,
    #[serde(rename = "MsgBody")]
    body: Vec<Elem>,
    #[serde(rename = "CloudCustomData", default)]
    cloud: Option<String>,
    #[serde(rename = "GroupAtInfo", default)]
    at: Vec<AtInfo>,
}

#[derive(Deserialize)]
struct AtInfo {
    #[serde(rename = "GroupAtAllFlag", default)]
    all: u8,
    #[serde(rename = "GroupAt_Account", default)]
    account: Option<String>,
}

#[derive(Deserialize)]
struct Member {
    #[serde(rename = "Member_Account")]
    account: String,
}

struct Parser<'a> {
    ctx: &'a Ctx<'a>,
    command: &'a str,
    time_ms: i64,
    body_id: String,
    raw: &'a Value,
}

impl Parser<'_> {
    fn fields<T: DeserializeOwned>(&self) -> Result<T, String> {
        T::deserialize(self.raw).map_err(|e| format!("{}: {e}", self.command))
    }

    fn envelope(&self, id: String, from_self: bool, event: Event) -> Envelope {
        Envelope {
            id: EventId(id),
            connection: self.ctx.connection.clone(),
            time_ms: self.time_ms,
            backlog: false,
            from_self,
            event,
            raw: self.raw.clone(),
        }
    }

    /// An id for the `n`th event of a callback that carries no id of its own.
    fn hashed_id(&self, n: usize) -> String {
        format!("{}:{}:{n}", self.command, self.body_id)
    }

    fn is_bot(&self, account: &str) -> bool {
        account == self.ctx.bot
    }

    /// The direct conversation of a 1:1 exchange between `a` and `b`, from the bot's side.
    fn peer(&self, a: &str, b: &str) -> Option<ConversationId> {
        if self.is_bot(a) {
            Some(ConversationId::direct(b))
        } else if self.is_bot(b) {
            Some(ConversationId::direct(a))
        } else {
            None
        }
    }

    fn content(&self, body: &[Elem]) -> Result<Content, String> {
        elements::to_content(body).map_err(|e| format!("{}: {e}", self.command))
    }

    fn c2c_message(&self, before: bool) -> Result<Parsed, String> {
        let m: C2CMsg = self.fields()?;
        let Some(conversation) = self.peer(&m.from, &m.to) else {
            return Ok(Parsed::Ignored);
        };
        if !before && m.result != 0 {
            // Not delivered (blocked, not friends, ...): nobody received it.
            return Ok(Parsed::Ignored);
        }
        let time_ms = if m.time > 0 {
            m.time * 1000
        } else {
            self.time_ms
        };
        let message = Message {
            id: MessageRef {
                client_id: (m.random != 0).then(|| m.random.to_string()),
                time_ms: Some(time_ms),
                ..MessageRef::new(m.key.as_str())
            },
            conversation,
            sender: UserId::new(m.from.as_str()),
            content: self.content(&m.body)?,
            reply_to: None,
            time_ms,
            extra: extra(m.cloud),
        };
        let from_self = self.is_bot(&m.from);
        if before {
            let id = format!("c2c-before:{}", m.key);
            let envelope = self.envelope(id, from_self, Event::BeforeSend(message));
            return Ok(Parsed::BeforeSend(Box::new(envelope)));
        }
        if m.key.is_empty() {
            return Err(format!("{}: missing field `MsgKey`", self.command));
        }
        let id = format!("c2c:{}", m.key);
        Ok(Parsed::Events(vec![self.envelope(
            id,
            from_self,
            Event::Message(message),
        )]))
    }

    fn group_message(&self, before: bool) -> Result<Parsed, String> {
        let m: GroupMsg = self.fields()?;
        let mut content = self.content(&m.body)?;
        apply_mentions(&mut content, &m.at);
        let time_ms = m.time.map(|t| t * 1000).unwrap_or(self.time_ms);
        let id = match (before, m.seq) {
            (false, Some(seq)) => MessageRef {
                seq: Some(seq),
                client_id: Some(m.random.to_string()),
                time_ms: Some(time_ms),
                ..MessageRef::new(seq.to_string())
            },
            (false, None) => return Err(format!("{}: missing field `MsgSeq`", self.command)),
            // Before delivery a group message has no sequence yet.
            (true, _) => MessageRef {
                time_ms: Some(time_ms),
                ..MessageRef::new(m.random.to_string())
            },
        };
        let event_id = format!(
            "group{}:{}:{}",
            if before { "-before" } else { "" },
            m.group,
            id.id
        );
        let message = Message {
            id,
            conversation: ConversationId::group(m.group.as_str()),
            sender: UserId::new(m.from.as_str()),
            content,
            reply_to: None,
            time_ms,
            extra: extra(m.cloud),
        };
        let from_self = self.is_bot(&m.from);
        Ok(if before {
            Parsed::BeforeSend(Box::new(self.envelope(
                event_id,
                from_self,
                Event::BeforeSend(message),
            )))
        } else {
            Parsed::Events(vec![self.envelope(
                event_id,
                from_self,
                Event::Message(message),
            )])
        })
    }

    fn c2c_recall(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Recall {
            #[serde(rename = "From_Account")]
            from: String,
            #[serde(rename = "To_Account")]
            to: String,
            #[serde(rename = "MsgKey")]
            key: String,
        }
        let r: Recall = self.fields()?;
        let Some(conversation) = self.peer(&r.from, &r.to) else {
            return Ok(Parsed::Ignored);
        };
        let event = Event::Recalled {
            conversation,
            message: MessageRef::new(r.key.as_str()),
            by: UserId::new(r.from.as_str()),
            scope: RecallScope::Everyone,
        };
        let from_self = self.is_bot(&r.from);
        Ok(Parsed::Events(vec![self.envelope(
            format!("c2c-recall:{}", r.key),
            from_self,
            event,
        )]))
    }

    fn group_recall(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Recall {
            #[serde(rename = "GroupId")]
            group: String,
            #[serde(rename = "Operator_Account", default)]
            operator: String,
            #[serde(rename = "MsgSeqList")]
            seqs: Vec<Seq>,
        }
        #[derive(Deserialize)]
        struct Seq {
            #[serde(rename = "MsgSeq")]
            seq: u64,
        }
        let r: Recall = self.fields()?;
        let from_self = self.is_bot(&r.operator);
        let events = r
            .seqs
            .iter()
            .map(|s| {
                let event = Event::Recalled {
                    conversation: ConversationId::group(r.group.as_str()),
                    message: MessageRef {
                        seq: Some(s.seq),
                        ..MessageRef::new(s.seq.to_string())
                    },
                    by: UserId::new(r.operator.as_str()),
                    scope: RecallScope::Everyone,
                };
                self.envelope(
                    format!("group-recall:{}:{}", r.group, s.seq),
                    from_self,
                    event,
                )
            })
            .collect();
        Ok(Parsed::Events(events))
    }

    fn c2c_read(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Report {
            #[serde(rename = "Report_Account")]
            reader: String,
            #[serde(rename = "Peer_Account")]
            peer: String,
            #[serde(rename = "LastReadTime")]
            last_read: i64,
        }
        let r: Report = self.fields()?;
        let Some(conversation) = self.peer(&r.reader, &r.peer) else {
            return Ok(Parsed::Ignored);
        };
        let event = Event::ReadReceipt {
            conversation,
            reader: UserId::new(r.reader.as_str()),
            read: ReadMark::UpTo {
                time_ms: r.last_read * 1000,
            },
        };
        let id = format!("c2c-read:{}:{}:{}", r.reader, r.peer, r.last_read);
        Ok(Parsed::Events(vec![self.envelope(
            id,
            self.is_bot(&r.reader),
            event,
        )]))
    }

    fn group_read(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Receipts {
            #[serde(rename = "GroupId")]
            group: String,
            #[serde(rename = "GroupMsgReceiptList")]
            list: Vec<Receipt>,
        }
        #[derive(Deserialize)]
        struct Receipt {
            #[serde(rename = "MsgSeq")]
            seq: u64,
            #[serde(rename = "ReadReceiptMembers", default)]
            members: Vec<Member>,
        }
        let r: Receipts = self.fields()?;
        // One receipt per reader, listing the messages that reader read, in first-seen order.
        let mut readers: Vec<(String, Vec<MessageRef>)> = Vec::new();
        for receipt in &r.list {
            for m in &receipt.members {
                let message = MessageRef {
                    seq: Some(receipt.seq),
                    ..MessageRef::new(receipt.seq.to_string())
                };
                match readers.iter_mut().find(|(who, _)| *who == m.account) {
                    Some((_, messages)) => messages.push(message),
                    None => readers.push((m.account.clone(), vec![message])),
                }
            }
        }
        let events = readers
            .into_iter()
            .map(|(reader, messages)| {
                let seqs: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
                let id = format!("group-read:{}:{reader}:{}", r.group, seqs.join(","));
                let from_self = self.is_bot(&reader);
                let event = Event::ReadReceipt {
                    conversation: ConversationId::group(r.group.as_str()),
                    reader: UserId(reader),
                    read: ReadMark::Messages { messages },
                };
                self.envelope(id, from_self, event)
            })
            .collect();
        Ok(Parsed::Events(events))
    }

    fn friend_request(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Prev {
            #[serde(rename = "From_Account")]
            from: String,
            #[serde(rename = "FriendItem")]
            items: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            #[serde(rename = "To_Account")]
            to: String,
            #[serde(rename = "AddWording", default)]
            wording: Option<String>,
        }
        let p: Prev = self.fields()?;
        let targets = p.items.iter().map(|i| i.to.clone()).collect();
        let events = p
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| self.is_bot(&i.to) || self.is_bot(&p.from))
            .map(|(n, i)| {
                let event = Event::FriendRequest(FriendRequest {
                    request: RequestId(format!("{}>{}", p.from, i.to)),
                    from: UserId::new(p.from.as_str()),
                    to: UserId::new(i.to.as_str()),
                    greeting: i.wording.clone().filter(|w| !w.is_empty()),
                    question: None,
                    answer: None,
                });
                self.envelope(self.hashed_id(n), self.is_bot(&p.from), event)
            })
            .collect();
        Ok(Parsed::FriendGate { events, targets })
    }

    fn friends(&self, added: bool) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Pairs {
            #[serde(rename = "PairList")]
            pairs: Vec<Pair>,
        }
        #[derive(Deserialize)]
        struct Pair {
            #[serde(rename = "From_Account")]
            from: String,
            #[serde(rename = "To_Account")]
            to: String,
        }
        let p: Pairs = self.fields()?;
        let mut users: Vec<String> = Vec::new();
        for pair in &p.pairs {
            if let Some(c) = self.peer(&pair.from, &pair.to) {
                if !users.contains(&c.id) {
                    users.push(c.id);
                }
            }
        }
        let events = users
            .into_iter()
            .enumerate()
            .map(|(n, user)| {
                let user = UserId(user);
                let event = if added {
                    Event::FriendAdded { user }
                } else {
                    Event::FriendRemoved { user }
                };
                self.envelope(self.hashed_id(n), false, event)
            })
            .collect();
        Ok(Parsed::Events(events))
    }

    fn notice(
        &self,
        n: usize,
        group: &str,
        kind: GroupNoticeKind,
        operator: Option<&str>,
        targets: Vec<UserId>,
    ) -> Envelope {
        let operator = operator.filter(|o| !o.is_empty()).map(UserId::new);
        let from_self = operator.as_ref().is_some_and(|o| self.is_bot(o.as_str()));
        let event = Event::GroupNotice(GroupNotice {
            group: GroupId::new(group),
            kind,
            operator,
            targets,
            time_ms: self.time_ms,
        });
        self.envelope(self.hashed_id(n), from_self, event)
    }

    fn members_joined(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Joined {
            #[serde(rename = "GroupId")]
            group: String,
            #[serde(rename = "Operator_Account", default)]
            operator: Option<String>,
            #[serde(rename = "NewMemberList")]
            members: Vec<Member>,
        }
        let j: Joined = self.fields()?;
        let targets = j.members.into_iter().map(|m| UserId(m.account)).collect();
        let e = self.notice(
            0,
            &j.group,
            GroupNoticeKind::MemberJoined,
            j.operator.as_deref(),
            targets,
        );
        Ok(Parsed::Events(vec![e]))
    }

    fn members_left(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Left {
            #[serde(rename = "GroupId")]
            group: String,
            #[serde(rename = "ExitType", default)]
            exit_type: String,
            #[serde(rename = "Operator_Account", default)]
            operator: Option<String>,
            #[serde(rename = "ExitMemberList")]
            members: Vec<Member>,
        }
        let l: Left = self.fields()?;
        let kind = if l.exit_type == "Kicked" {
            GroupNoticeKind::MemberKicked
        } else {
            GroupNoticeKind::MemberLeft
        };
        let targets = l.members.into_iter().map(|m| UserId(m.account)).collect();
        Ok(Parsed::Events(vec![self.notice(
            0,
            &l.group,
            kind,
            l.operator.as_deref(),
            targets,
        )]))
    }

    fn group_info(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Changed {
            #[serde(rename = "GroupId")]
            group: String,
            #[serde(rename = "Operator_Account", default)]
            operator: Option<String>,
            #[serde(rename = "Name", default)]
            name: Option<String>,
            #[serde(rename = "Introduction", default)]
            introduction: Option<String>,
            #[serde(rename = "FaceUrl", default)]
            face_url: Option<String>,
            #[serde(rename = "Notification", default)]
            notification: Option<String>,
        }
        let c: Changed = self.fields()?;
        let op = c.operator.as_deref();
        let mut events = Vec::new();
        let patch = GroupInfoPatch {
            name: c.name,
            avatar_url: c.face_url,
            description: c.introduction,
            ext: None,
        };
        if patch != GroupInfoPatch::default() {
            let kind = GroupNoticeKind::InfoChanged { changes: patch };
            events.push(self.notice(events.len(), &c.group, kind, op, Vec::new()));
        }
        if let Some(text) = c.notification {
            let kind = GroupNoticeKind::AnnouncementChanged { text };
            events.push(self.notice(events.len(), &c.group, kind, op, Vec::new()));
        }
        Ok(Parsed::Events(events))
    }

    fn group_destroyed(&self) -> Result<Parsed, String> {
        #[derive(Deserialize)]
        struct Destroyed {
            #[serde(rename = "GroupId")]
            group: String,
        }
        let d: Destroyed = self.fields()?;
        Ok(Parsed::Events(vec![self.notice(
            0,
            &d.group,
            GroupNoticeKind::Dismissed,
            None,
            Vec::new(),
        )]))
    }
}

/// Puts a group message's `GroupAtInfo` on its first text segment.
fn apply_mentions(content: &mut Content, at: &[AtInfo]) {
    if at.is_empty() {
        return;
    }
    let text = match content {
        Content::Text(t) => Some(t),
        Content::Mixed { segments } => segments.iter_mut().find_map(|s| match s {
            Content::Text(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    if let Some(t) = text {
        for a in at {
            if a.all == 1 {
                t.mention_all = true;
            } else if let Some(account) = &a.account {
                t.mentions.push(UserId::new(account.as_str()));
            }
        }
    }
}
