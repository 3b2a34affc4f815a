//! `fetch_history` as REST v4 reads, page by page, and their answers as model messages.
//!
//! - 1:1: `openim/admin_getroammsg` from the peer's side (`Operator_Account` = the peer,
//!   `Peer_Account` = the bot): Parley sends with `SyncOtherMachine` 2, which keeps the bot's
//!   own messages out of the bot's side of the history, while the peer's side has both
//!   directions (unless the peer deleted messages or cleared the conversation). `MaxCnt`, `MinTime` / `MaxTime` (seconds) and, to go on
//!   from a message, its `MsgKey` as `LastMsgKey` with its time as `MaxTime`. The answer has
//!   `Complete` (1 = every message of the range was returned), `LastMsgTime`, `LastMsgKey`
//!   (the oldest message returned, where the next page starts) and `MsgList` with
//!   `From_Account`, `To_Account`, `MsgSeq`, `MsgRandom`, `MsgTimeStamp`, `MsgFlagBits`,
//!   `MsgKey`, `MsgBody`, `CloudCustomData` (tencentcloud.com/document/product/1047/35478).
//!   An answer holds at most about 13 KB of messages, so a range may take several pages.
//!   `MsgFlagBits` 8 marks a recalled message: that value comes from the server SDKs
//!   (doocs/qcloud-im-server-sdk-java and others) and Tencent's Web SDK, not from Tencent's
//!   page, which only says recalled messages are marked by that field. The upper bound of
//!   `MaxCnt` is not documented: Parley asks for at most 100, the value of Tencent's example.
//!   `MinTime` 0 (no lower bound; roaming storage keeps 7 days by default) is not shown in
//!   Tencent's examples either.
//! - Group: `group_open_http_svc/group_msg_get_simple` with `GroupId`, `ReqMsgNumber` (at
//!   most 20 a request) and `ReqMsgSeq` (the newest `MsgSeq` wanted; none = the newest of
//!   the group); the next page asks from the smallest `MsgSeq` returned minus 1
//!   (tencentcloud.com/document/product/1047/34971). The answer's `RspMsgList` has
//!   `From_Account`, `IsPlaceMsg` (1 = expired or deleted, 2 = recalled: left out),
//!   `MsgSeq`, `MsgRandom`, `MsgTimeStamp`, `MsgBody`. Those response fields come from the
//!   server SDKs (biubiujun/qcloud, yangxuilyx/QCloudIM.AspNetCore,
//!   wen-gg/tencentcloud-im-sdk-php), not from Tencent's page as stored; one SDK spells the
//!   time `MsgTimestamp`, so both spellings are read. `CloudCustomData` in a group history
//!   message is not confirmed; it is read when present. AVChatRoom groups keep no history.
//!
//! The result is the `limit` newest messages before `before` (or the newest of all), oldest
//! first. Messages whose body Parley cannot read are left out with a warning.

use crate::callbacks::extra;
use crate::elements::{self, Elem};
use crate::rest::Rest;
use parley_engine::model::{
    CommandError, CommandOutput, ConversationId, ConversationKind, ErrorKind, Message, MessageRef,
    UserId,
};
use parley_vendor::errors::invalid;
use serde::Deserialize;
use serde_json::{json, Value};

pub const ROAM_API: &str = "openim/admin_getroammsg";
pub const GROUP_API: &str = "group_open_http_svc/group_msg_get_simple";
/// `MaxCnt` of one 1:1 page (see the module notes).
pub const ROAM_PAGE: u32 = 100;
/// `ReqMsgNumber` of one group page: Tencent returns at most 20 messages a request.
pub const GROUP_PAGE: u32 = 20;
/// A history longer than this many pages is answered with what was read.
pub const MAX_PAGES: usize = 50;
/// `MsgFlagBits` of a recalled 1:1 message.
const RECALLED: u64 = 8;

/// The `limit` newest messages of `conversation` before `before`, oldest first.
/// `random` is the first request's; each page is its own request.
pub async fn fetch(
    rest: &Rest,
    bot: &str,
    conversation: &ConversationId,
    before: Option<&MessageRef>,
    limit: u32,
    random: u32,
    now_ms: i64,
) -> Result<CommandOutput, CommandError> {
    let messages = match conversation.kind {
        ConversationKind::Direct => {
            direct(rest, bot, conversation, before, limit, random, now_ms).await?
        }
        ConversationKind::Group | ConversationKind::ChatRoom => {
            group(rest, conversation, before, limit, random).await?
        }
        _ => {
            return Err(invalid(format!(
                "Tencent keeps no history of a {:?} conversation",
                conversation.kind
            )))
        }
    };
    Ok(CommandOutput::History { messages })
}

/// The time (seconds) of a 1:1 message: its `time_ms`, else the last part of its `MsgKey`
/// (`{MsgSeq}_{MsgRandom}_{MsgTime}` in every key Tencent's pages show; the format itself is
/// not documented).
fn direct_time(message: &MessageRef) -> Option<i64> {
    message
        .time_ms
        .map(|ms| ms.div_euclid(1000))
        .or_else(|| message.id.rsplit('_').next()?.parse().ok())
}

pub fn roam_body(
    bot: &str,
    peer: &str,
    max_cnt: u32,
    max_time: i64,
    last_key: Option<&str>,
) -> Value {
    let mut body = json!({
        "Operator_Account": peer, "Peer_Account": bot, "MaxCnt": max_cnt,
        "MinTime": 0, "MaxTime": max_time,
    });
    if let Some(key) = last_key {
        body["LastMsgKey"] = json!(key);
    }
    body
}

pub fn group_body(group: &str, number: u32, seq: Option<u64>) -> Value {
    let mut body = json!({ "GroupId": group, "ReqMsgNumber": number });
    if let Some(seq) = seq {
        body["ReqMsgSeq"] = json!(seq);
    }
    body
}

#[derive(Deserialize)]
struct RoamPage {
    #[serde(rename = "Complete", default)]
    complete: i64,
    #[serde(rename = "LastMsgTime", default)]
    last_time: Option<i64>,
    #[serde(rename = "LastMsgKey", default)]
    last_key: Option<String>,
    #[serde(rename = "MsgList", default)]
    list: Vec<RoamMsg>,
}

#[derive(Deserialize)]
struct RoamMsg {
    #[serde(rename = "From_Account")]
    from: String,
    #[serde(rename = "MsgRandom", default)]
    random: u64,
    #[serde(rename = "MsgTimeStamp", default)]
    time: i64,
    #[serde(rename = "MsgFlagBits", default)]
    flags: u64,
    #[serde(rename = "MsgKey")]
    key: String,
    #[serde(rename = "MsgBody", default)]
    body: Vec<Elem>,
    #[serde(rename = "CloudCustomData", default)]
    cloud: Option<String>,
}

async fn direct(
    rest: &Rest,
    bot: &str,
    conversation: &ConversationId,
    before: Option<&MessageRef>,
    limit: u32,
    random: u32,
    now_ms: i64,
) -> Result<Vec<Message>, CommandError> {
    let (mut max_time, mut last_key) = match before {
        Some(m) => {
            let time = direct_time(m).ok_or_else(|| {
                invalid(format!(
                    "a Tencent 1:1 message to page back from needs its time or a MsgKey ending in it, not {:?}",
                    m.id
                ))
            })?;
            (time, Some(m.id.clone()))
        }
        None => (now_ms.div_euclid(1000), None),
    };
    // Newest page first; each page oldest first.
    let mut pages: Vec<Vec<Message>> = Vec::new();
    let mut read = 0u32;
    // Whether `LastMsgKey` itself is left out of the next page is not documented: a message
    // seen twice is kept once.
    let mut seen = std::collections::HashSet::new();
    for page in 0..MAX_PAGES {
        if read >= limit {
            break;
        }
        let body = roam_body(
            bot,
            &conversation.id,
            (limit - read).min(ROAM_PAGE),
            max_time,
            last_key.as_deref(),
        );
        let answer = rest
            .call(ROAM_API, &body, random.wrapping_add(page as u32))
            .await?;
        let p: RoamPage = read_page(ROAM_API, &answer)?;
        let oldest = p
            .list
            .iter()
            .min_by_key(|m| m.time)
            .map(|m| (m.time, m.key.clone()));
        let mut messages: Vec<Message> = p
            .list
            .into_iter()
            .filter(|m| m.flags & RECALLED == 0 && seen.insert(m.key.clone()))
            .filter_map(|m| direct_message(conversation, m))
            .collect();
        messages.sort_by_key(|m| m.time_ms);
        read += messages.len() as u32;
        pages.push(messages);
        if p.complete == 1 {
            break;
        }
        let next = match (p.last_time, p.last_key) {
            (Some(t), Some(k)) if !k.is_empty() => Some((t, k)),
            _ => oldest,
        };
        match next {
            Some((time, key)) if last_key.as_deref() != Some(key.as_str()) => {
                max_time = time;
                last_key = Some(key);
            }
            // An empty page, or one that would start again where this one did.
            _ => break,
        }
        if page + 1 == MAX_PAGES {
            tracing::warn!(
                read,
                "Tencent 1:1 history longer than {MAX_PAGES} pages; answering with what was read"
            );
        }
    }
    Ok(newest(pages.into_iter().rev().flatten().collect(), limit))
}

fn direct_message(conversation: &ConversationId, m: RoamMsg) -> Option<Message> {
    let content = match elements::to_content(&m.body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(key = %m.key, "a Tencent history message left out: {e}");
            return None;
        }
    };
    let time_ms = m.time * 1000;
    Some(Message {
        id: MessageRef {
            client_id: (m.random != 0).then(|| m.random.to_string()),
            time_ms: Some(time_ms),
            ..MessageRef::new(m.key)
        },
        conversation: conversation.clone(),
        sender: UserId::new(m.from.as_str()),
        content,
        reply_to: None,
        time_ms,
        extra: extra(m.cloud),
    })
}

#[derive(Deserialize)]
struct GroupPage {
    #[serde(rename = "RspMsgList", default)]
    list: Vec<GroupMsg>,
}

#[derive(Deserialize)]
struct GroupMsg {
    #[serde(rename = "From_Account", default)]
    from: String,
    #[serde(rename = "IsPlaceMsg", default)]
    place: u8,
    #[serde(rename = "MsgSeq")]
    seq: u64,
    #[serde(rename = "MsgRandom", default)]
    random: u64,
    #[serde(rename = "MsgTimeStamp", alias = "MsgTimestamp", default)]
    time: i64,
    #[serde(rename = "MsgBody", default)]
    body: Vec<Elem>,
    #[serde(rename = "CloudCustomData", default)]
    cloud: Option<String>,
}

async fn group(
    rest: &Rest,
    conversation: &ConversationId,
    before: Option<&MessageRef>,
    limit: u32,
    random: u32,
) -> Result<Vec<Message>, CommandError> {
    let mut seq = match before {
        Some(m) => {
            let seq = crate::commands::group_seq(m)?;
            if seq <= 1 {
                return Ok(Vec::new());
            }
            Some(seq - 1)
        }
        None => None,
    };
    let mut messages = Vec::new();
    for page in 0..MAX_PAGES {
        let read = messages.len() as u32;
        if read >= limit {
            break;
        }
        let body = group_body(&conversation.id, (limit - read).min(GROUP_PAGE), seq);
        let answer = rest
            .call(GROUP_API, &body, random.wrapping_add(page as u32))
            .await?;
        let p: GroupPage = read_page(GROUP_API, &answer)?;
        let Some(lowest) = p.list.iter().map(|m| m.seq).min() else {
            break;
        };
        messages.extend(
            p.list
                .into_iter()
                .filter(|m| m.place == 0 && seq.is_none_or(|s| m.seq <= s))
                .filter_map(|m| group_message(conversation, m)),
        );
        if lowest <= 1 || seq.is_some_and(|s| lowest > s) {
            break;
        }
        seq = Some(lowest - 1);
        if page + 1 == MAX_PAGES {
            tracing::warn!(
                read = messages.len(),
                "Tencent group history longer than {MAX_PAGES} pages; answering with what was read"
            );
        }
    }
    messages.sort_by_key(|m| m.id.seq);
    messages.dedup_by_key(|m| m.id.seq);
    Ok(newest(messages, limit))
}

fn group_message(conversation: &ConversationId, m: GroupMsg) -> Option<Message> {
    let content = match elements::to_content(&m.body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(seq = m.seq, "a Tencent group history message left out: {e}");
            return None;
        }
    };
    let time_ms = m.time * 1000;
    Some(Message {
        id: MessageRef {
            seq: Some(m.seq),
            client_id: (m.random != 0).then(|| m.random.to_string()),
            time_ms: Some(time_ms),
            ..MessageRef::new(m.seq.to_string())
        },
        conversation: conversation.clone(),
        sender: UserId::new(m.from.as_str()),
        content,
        reply_to: None,
        time_ms,
        extra: extra(m.cloud),
    })
}

/// The last `limit` of `messages` (oldest first).
fn newest(mut messages: Vec<Message>, limit: u32) -> Vec<Message> {
    let extra = messages.len().saturating_sub(limit as usize);
    messages.drain(..extra);
    messages
}

fn read_page<T: serde::de::DeserializeOwned>(api: &str, answer: &Value) -> Result<T, CommandError> {
    T::deserialize(answer).map_err(|e| {
        CommandError::new(
            ErrorKind::Unavailable,
            format!("Tencent answered {api} with data Parley cannot read: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_time_comes_from_its_ref_or_its_key() {
        let mut m = MessageRef::new("549396494_2578554_1584669680");
        assert_eq!(direct_time(&m), Some(1_584_669_680));
        m.time_ms = Some(1_000_999);
        assert_eq!(direct_time(&m), Some(1000));
        assert_eq!(direct_time(&MessageRef::new("opaque")), None);
    }
}
