//! Model commands as REST v4 calls (seed-001 §7.3), and their answers as command results.
//!
//! Sends carry a `MsgRandom` (and for 1:1 a `MsgSeq`) derived from the command's idempotency
//! key: Tencent treats the same sender, `MsgSeq`, `MsgRandom` and content within 120 s (1:1),
//! or the same group `Random` within 5 min, as one message, so a retried send is not
//! delivered twice.

use crate::{directory, elements};
use parley_engine::model::{
    Command, CommandError, CommandOutput, Content, ConversationKind, GroupKind, MessageRef,
    OutboundCommand, RecallScope, SendOptions,
};
use parley_vendor::errors::invalid;
use serde_json::{json, Map, Value};

/// One REST call and how to read its answer.
pub struct Call {
    pub api: &'static str,
    pub body: Value,
    pub reply: Reply,
}

pub enum Reply {
    Done,
    SentDirect,
    SentGroup,
    BatchSent {
        recipients: Vec<String>,
    },
    GroupRecalled,
    /// A recall Tencent reports as already done (20023) is done.
    DirectRecalled,
    /// Friend add / delete / block answer per target in `ResultItem`.
    PerTarget,
    MembersAdded,
    GroupCreated,
    /// One page of the friend list; the adapter reads the next ones.
    Friends,
    Groups,
    Group,
    Members,
    Profile,
}

/// What a command needs to become a call, or why it cannot.
pub enum Plan {
    Call(Call),
    /// `fetch_history`, read page by page (`history.rs`).
    History,
    Unsupported,
    Invalid(CommandError),
}

/// The `MsgRandom` and `MsgSeq` of a command: stable across retries and restarts.
pub fn randoms(idempotency_key: &str) -> (u32, u32) {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(idempotency_key.as_bytes());
    let random = u32::from_be_bytes([d[0], d[1], d[2], d[3]]).max(1);
    let seq = u32::from_be_bytes([d[4], d[5], d[6], d[7]]).max(1);
    (random, seq)
}

/// Tencent's longest mute, "forever".
const MUTE_FOREVER: u64 = 4_294_967_295;
/// `openim/batchsendmsg` takes at most 500 recipients.
const BATCH_MAX: usize = 500;

pub fn plan(command: &OutboundCommand, bot: &str) -> Plan {
    let (random, seq) = randoms(&command.idempotency_key);
    let call = |api, body, reply| Plan::Call(Call { api, body, reply });
    match &command.command {
        Command::Send {
            to,
            content,
            options,
            as_user,
            ..
        } => {
            let from = as_user.as_ref().map(|u| u.as_str()).unwrap_or(bot);
            match to.kind {
                ConversationKind::Direct => {
                    let mut body = json!({
                        "SyncOtherMachine": 2, "From_Account": from, "To_Account": to.id,
                        "MsgSeq": seq, "MsgRandom": random, "MsgBody": elements::from_content(content),
                    });
                    common_options(&mut body, options);
                    if options.online_only {
                        body["MsgLifeTime"] = json!(0);
                    }
                    if !options.only_to.is_empty() {
                        return Plan::Invalid(invalid("only_to applies to group messages"));
                    }
                    call("openim/sendmsg", body, Reply::SentDirect)
                }
                ConversationKind::Group | ConversationKind::ChatRoom => {
                    if !options.only_to.is_empty() {
                        return Plan::Unsupported;
                    }
                    let mut body = json!({
                        "GroupId": to.id, "Random": random, "From_Account": from,
                        "MsgBody": elements::from_content(content),
                    });
                    common_options(&mut body, options);
                    if options.online_only {
                        body["MsgOnlineOnlyFlag"] = json!(1);
                    }
                    if options.high_priority {
                        body["MsgPriority"] = json!("High");
                    }
                    if let Some(at) = group_at(content) {
                        body["GroupAtInfo"] = at;
                    }
                    call("group_open_http_svc/send_group_msg", body, Reply::SentGroup)
                }
                _ => Plan::Invalid(invalid(format!(
                    "Tencent cannot send to a {:?} conversation",
                    to.kind
                ))),
            }
        }
        Command::BatchSend { to, content } => {
            if let Some(c) = to.iter().find(|c| c.kind != ConversationKind::Direct) {
                return Plan::Invalid(invalid(format!(
                    "Tencent's batch send takes 1:1 conversations only, not {c}; send to groups one by one"
                )));
            }
            if to.is_empty() || to.len() > BATCH_MAX {
                return Plan::Invalid(invalid(format!(
                    "Tencent's batch send takes 1 to {BATCH_MAX} recipients, not {}",
                    to.len()
                )));
            }
            let recipients: Vec<String> = to.iter().map(|c| c.id.clone()).collect();
            let body = json!({
                "SyncOtherMachine": 2, "From_Account": bot, "To_Account": recipients,
                "MsgSeq": seq, "MsgRandom": random, "MsgBody": elements::from_content(content),
            });
            call("openim/batchsendmsg", body, Reply::BatchSent { recipients })
        }
        Command::Edit {
            conversation,
            message,
            content,
        } => match conversation.kind {
            ConversationKind::Direct => call(
                "openim/modify_c2c_msg",
                json!({ "From_Account": bot, "To_Account": conversation.id, "MsgKey": message.id,
                        "MsgBody": elements::from_content(content) }),
                Reply::Done,
            ),
            // The group API lives under `openim` (tencentcloud.com/document/product/1047/47948).
            ConversationKind::Group | ConversationKind::ChatRoom => match group_seq(message) {
                Ok(seq) => call(
                    "openim/modify_group_msg",
                    json!({ "GroupId": conversation.id, "MsgSeq": seq, "MsgBody": elements::from_content(content) }),
                    Reply::Done,
                ),
                Err(e) => Plan::Invalid(e),
            },
            _ => Plan::Unsupported,
        },
        Command::Recall {
            conversation,
            message,
            scope,
        } => {
            if *scope != RecallScope::Everyone {
                return Plan::Unsupported;
            }
            match conversation.kind {
                ConversationKind::Direct => call(
                    "openim/admin_msgwithdraw",
                    json!({ "From_Account": bot, "To_Account": conversation.id, "MsgKey": message.id }),
                    Reply::DirectRecalled,
                ),
                ConversationKind::Group | ConversationKind::ChatRoom => match group_seq(message) {
                    Ok(seq) => call(
                        "group_open_http_svc/group_msg_recall",
                        json!({ "GroupId": conversation.id, "MsgSeqList": [{ "MsgSeq": seq }] }),
                        Reply::GroupRecalled,
                    ),
                    Err(e) => Plan::Invalid(e),
                },
                _ => Plan::Unsupported,
            }
        }
        // Tencent marks the whole 1:1 conversation read; there is no per-message form.
        Command::MarkRead { conversation, .. } if conversation.kind == ConversationKind::Direct => {
            call(
                "openim/admin_set_msg_read",
                json!({ "Report_Account": bot, "Peer_Account": conversation.id }),
                Reply::Done,
            )
        }
        Command::AddFriend { user, greeting, .. } => {
            let mut item = json!({ "To_Account": user, "AddSource": "AddSource_Type_Parley" });
            if let Some(g) = greeting {
                item["AddWording"] = json!(g);
            }
            call(
                "sns/friend_add",
                json!({ "From_Account": bot, "AddFriendItem": [item], "AddType": "Add_Type_Both" }),
                Reply::PerTarget,
            )
        }
        Command::RemoveFriend { user } => call(
            "sns/friend_delete",
            json!({ "From_Account": bot, "To_Account": [user], "DeleteType": "Delete_Type_Both" }),
            Reply::PerTarget,
        ),
        Command::Block { user } => call(
            "sns/black_list_add",
            json!({ "From_Account": bot, "To_Account": [user] }),
            Reply::PerTarget,
        ),
        Command::Unblock { user } => call(
            "sns/black_list_delete",
            json!({ "From_Account": bot, "To_Account": [user] }),
            Reply::PerTarget,
        ),
        Command::CreateGroup {
            kind,
            name,
            members,
        } => {
            let kind = match kind {
                GroupKind::Private | GroupKind::Discussion => "Private",
                GroupKind::Public => "Public",
                GroupKind::ChatRoom => "ChatRoom",
                GroupKind::Vendor(k) => k.as_str(),
            };
            let members: Vec<Value> = members
                .iter()
                .map(|m| json!({ "Member_Account": m }))
                .collect();
            call(
                "group_open_http_svc/create_group",
                json!({ "Owner_Account": bot, "Type": kind, "Name": name, "MemberList": members }),
                Reply::GroupCreated,
            )
        }
        Command::Invite { group, users } => {
            let members: Vec<Value> = users
                .iter()
                .map(|m| json!({ "Member_Account": m }))
                .collect();
            call(
                "group_open_http_svc/add_group_member",
                json!({ "GroupId": group, "MemberList": members }),
                Reply::MembersAdded,
            )
        }
        Command::JoinGroup { group, .. } => call(
            "group_open_http_svc/add_group_member",
            json!({ "GroupId": group, "MemberList": [{ "Member_Account": bot }] }),
            Reply::MembersAdded,
        ),
        // Tencent's ban-from-rejoining applies to AVChatRoom and Community only.
        Command::Kick {
            ban_seconds: Some(_),
            ..
        } => Plan::Unsupported,
        Command::Kick { group, users, .. } => call(
            "group_open_http_svc/delete_group_member",
            json!({ "GroupId": group, "MemberToDel_Account": users }),
            Reply::Done,
        ),
        Command::LeaveGroup { group } => call(
            "group_open_http_svc/delete_group_member",
            json!({ "GroupId": group, "MemberToDel_Account": [bot] }),
            Reply::Done,
        ),
        Command::Mute {
            group,
            user,
            seconds,
        } => call(
            "group_open_http_svc/forbid_send_msg",
            json!({ "GroupId": group, "Members_Account": [user], "MuteTime": (*seconds).clamp(1, MUTE_FOREVER) }),
            Reply::Done,
        ),
        Command::Unmute { group, user } => call(
            "group_open_http_svc/forbid_send_msg",
            json!({ "GroupId": group, "Members_Account": [user], "MuteTime": 0 }),
            Reply::Done,
        ),
        Command::MuteAll { group } | Command::UnmuteAll { group } => {
            let on = matches!(command.command, Command::MuteAll { .. });
            call(
                "group_open_http_svc/modify_group_base_info",
                json!({ "GroupId": group, "ShutUpAllMember": if on { "On" } else { "Off" } }),
                Reply::Done,
            )
        }
        Command::SetAdmin { group, user, admin } => call(
            "group_open_http_svc/modify_group_member_info",
            json!({ "GroupId": group, "Member_Account": user, "Role": if *admin { "Admin" } else { "Member" } }),
            Reply::Done,
        ),
        Command::TransferOwner { group, user } => call(
            "group_open_http_svc/change_group_owner",
            json!({ "GroupId": group, "NewOwner_Account": user }),
            Reply::Done,
        ),
        Command::SetGroupInfo { group, patch } => {
            let mut body = json!({ "GroupId": group });
            if let Some(v) = &patch.name {
                body["Name"] = json!(v);
            }
            if let Some(v) = &patch.description {
                body["Introduction"] = json!(v);
            }
            if let Some(v) = &patch.avatar_url {
                body["FaceUrl"] = json!(v);
            }
            if let Some(ext) = &patch.ext {
                let Some(map) = ext.as_object() else {
                    return Plan::Invalid(invalid(
                        "group info `ext` must be an object (Tencent AppDefinedData)",
                    ));
                };
                body["AppDefinedData"] = map
                    .iter()
                    .map(|(k, v)| json!({ "Key": k, "Value": v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()) }))
                    .collect();
            }
            call(
                "group_open_http_svc/modify_group_base_info",
                body,
                Reply::Done,
            )
        }
        Command::SetAnnouncement { group, text } => call(
            "group_open_http_svc/modify_group_base_info",
            json!({ "GroupId": group, "Notification": text }),
            Reply::Done,
        ),
        Command::Dismiss { group } => call(
            "group_open_http_svc/destroy_group",
            json!({ "GroupId": group }),
            Reply::Done,
        ),
        Command::ListFriends => call(
            "sns/friend_get",
            directory::friend_get(bot, 0),
            Reply::Friends,
        ),
        Command::ListGroups => call(
            "group_open_http_svc/get_joined_group_list",
            directory::joined_groups(bot),
            Reply::Groups,
        ),
        Command::GetGroupInfo { group } => call(
            "group_open_http_svc/get_group_info",
            directory::group_info(group),
            Reply::Group,
        ),
        Command::ListMembers { group } => call(
            "group_open_http_svc/get_group_member_info",
            directory::group_members(group),
            Reply::Members,
        ),
        Command::GetProfile { user } => call(
            "profile/portrait_get",
            directory::portrait_get(user),
            Reply::Profile,
        ),
        Command::FetchHistory { conversation, .. } => match conversation.kind {
            ConversationKind::Direct | ConversationKind::Group | ConversationKind::ChatRoom => {
                Plan::History
            }
            _ => Plan::Unsupported,
        },
        Command::MarkRead { .. }
        | Command::Forward { .. }
        | Command::Typing { .. }
        | Command::Upload { .. }
        | Command::AnswerFriendRequest { .. }
        | Command::AnswerJoinRequest { .. }
        | Command::AnswerInvitation { .. } => Plan::Unsupported,
    }
}

fn common_options(body: &mut Value, options: &SendOptions) {
    if !options.extra.is_null() {
        let data = match &options.extra {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        body["CloudCustomData"] = json!(data);
    }
    if options.no_unread {
        body["SendMsgControl"] = json!(["NoUnread"]);
    }
    if options.push_title.is_some() || options.push_text.is_some() {
        let mut push = Map::new();
        if let Some(t) = &options.push_title {
            push.insert("Title".into(), json!(t));
        }
        if let Some(t) = &options.push_text {
            push.insert("Desc".into(), json!(t));
        }
        body["OfflinePushInfo"] = Value::Object(push);
    }
}

/// `GroupAtInfo` from the content's mentions (flag 1 = @all).
fn group_at(content: &Content) -> Option<Value> {
    let mut at: Vec<Value> = content
        .mentions()
        .iter()
        .map(|u| json!({ "GroupAtAllFlag": 0, "GroupAt_Account": u }))
        .collect();
    if content.mentions_all() {
        at.insert(0, json!({ "GroupAtAllFlag": 1 }));
    }
    (!at.is_empty()).then_some(Value::Array(at))
}

pub(crate) fn group_seq(message: &MessageRef) -> Result<u64, CommandError> {
    message
        .seq
        .or_else(|| message.id.parse().ok())
        .ok_or_else(|| {
            invalid(format!(
                "a Tencent group message is named by its MsgSeq, not {:?}",
                message.id
            ))
        })
}

/// Reads a successful answer; `now_ms` tells a member's mute in force from one that ended.
pub fn output(
    reply: &Reply,
    answer: &Value,
    idempotency_key: &str,
    now_ms: i64,
) -> Result<CommandOutput, CommandError> {
    let time_ms = answer
        .get("MsgTime")
        .and_then(Value::as_i64)
        .map(|t| t * 1000);
    let item_error = |code: i64, info: &str| crate::errors::command_error(code, info);
    Ok(match reply {
        Reply::Done | Reply::DirectRecalled => CommandOutput::Done,
        Reply::SentDirect => CommandOutput::Sent {
            message: MessageRef {
                client_id: Some(idempotency_key.into()),
                time_ms,
                ..MessageRef::new(str_field(answer, "MsgKey")?)
            },
        },
        Reply::SentGroup => {
            let seq = answer
                .get("MsgSeq")
                .and_then(Value::as_u64)
                .ok_or_else(|| missing("MsgSeq"))?;
            CommandOutput::Sent {
                message: MessageRef {
                    client_id: Some(idempotency_key.into()),
                    seq: Some(seq),
                    time_ms,
                    ..MessageRef::new(seq.to_string())
                },
            }
        }
        Reply::BatchSent { recipients } => {
            let key = str_field(answer, "MsgKey")?;
            let failed: Vec<(String, i64)> = answer
                .get("ErrorList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        e.get("To_Account")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        e.get("ErrorCode").and_then(Value::as_i64).unwrap_or(0),
                    )
                })
                .collect();
            if failed.len() == recipients.len() {
                let (who, code) = &failed[0];
                return Err(item_error(
                    *code,
                    &format!("the batch send failed for every recipient (first: {who})"),
                ));
            }
            for (who, code) in &failed {
                tracing::warn!(recipient = %who, code, "Tencent batch send did not reach a recipient");
            }
            CommandOutput::BatchSent {
                messages: recipients
                    .iter()
                    .filter(|r| !failed.iter().any(|(who, _)| who == *r))
                    .map(|_| MessageRef {
                        client_id: Some(idempotency_key.into()),
                        time_ms,
                        ..MessageRef::new(key.as_str())
                    })
                    .collect(),
            }
        }
        Reply::GroupRecalled => {
            let list = answer.get("RecallRetList").and_then(Value::as_array);
            if let Some(bad) = list
                .into_iter()
                .flatten()
                .find(|r| r.get("RetCode").and_then(Value::as_i64).unwrap_or(0) != 0)
            {
                let code = bad.get("RetCode").and_then(Value::as_i64).unwrap_or(0);
                return Err(item_error(code, "the group message could not be recalled"));
            }
            CommandOutput::Done
        }
        Reply::PerTarget => {
            let items = answer.get("ResultItem").and_then(Value::as_array);
            if let Some(bad) = items
                .into_iter()
                .flatten()
                .find(|r| r.get("ResultCode").and_then(Value::as_i64).unwrap_or(0) != 0)
            {
                let code = bad.get("ResultCode").and_then(Value::as_i64).unwrap_or(0);
                let info = bad
                    .get("ResultInfo")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return Err(item_error(code, info));
            }
            CommandOutput::Done
        }
        Reply::MembersAdded => {
            // Result 0 = failed, 1 = added, 2 = already a member.
            let failed: Vec<&str> = answer
                .get("MemberList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|m| m.get("Result").and_then(Value::as_i64) == Some(0))
                .filter_map(|m| m.get("Member_Account").and_then(Value::as_str))
                .collect();
            if !failed.is_empty() {
                return Err(invalid(format!(
                    "Tencent could not add {} to the group",
                    failed.join(", ")
                )));
            }
            CommandOutput::Done
        }
        Reply::GroupCreated => CommandOutput::GroupCreated {
            group: parley_engine::model::GroupId(str_field(answer, "GroupId")?),
        },
        Reply::Friends => CommandOutput::Friends {
            friends: directory::friends_page(answer)?.0,
        },
        Reply::Groups => return directory::groups(answer),
        Reply::Group => return directory::one_group(answer),
        Reply::Members => return directory::members(answer, now_ms),
        Reply::Profile => return directory::profile(answer),
    })
}

fn missing(field: &str) -> CommandError {
    CommandError::new(
        parley_engine::model::ErrorKind::UnknownOutcome,
        format!("Tencent's answer has no `{field}`"),
    )
}

fn str_field(answer: &Value, field: &str) -> Result<String, CommandError> {
    answer
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| missing(field))
}
