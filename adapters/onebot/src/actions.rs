//! Model commands to OneBot v11 actions, and action answers (`status` / `retcode`) to the
//! model's typed results.

use crate::directory::{self, Query};
use crate::segments;
use parley_engine::model::*;
use parley_vendor::errors::{invalid, vendor_error};
use serde_json::{json, Value};

/// One action call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub action: &'static str,
    pub params: Value,
}

/// What the last call of a plan answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Nothing the command returns.
    Done,
    /// The id of a sent message.
    Sent,
    /// What a query asked for.
    Query(Query),
}

/// What a command becomes: the calls to make in order, and how to read the last answer.
#[derive(Debug)]
pub enum Plan {
    Calls { calls: Vec<Call>, reply: Reply },
    Unsupported,
    Invalid(CommandError),
}

fn call(action: &'static str, params: Value) -> Plan {
    Plan::Calls {
        calls: vec![Call { action, params }],
        reply: Reply::Done,
    }
}

fn query(action: &'static str, params: Value, query: Query) -> Plan {
    Plan::Calls {
        calls: vec![Call { action, params }],
        reply: Reply::Query(query),
    }
}

/// QQ numbers and group numbers are integers in OneBot; anything else cannot be addressed.
fn number(what: &str, id: &str) -> Result<u64, CommandError> {
    id.parse()
        .map_err(|_| invalid(format!("{what} {id:?} is not a QQ number")))
}

pub fn plan(command: &Command, self_id: u64) -> Plan {
    match plan_checked(command, self_id) {
        Ok(plan) => plan,
        Err(e) => Plan::Invalid(e),
    }
}

fn plan_checked(command: &Command, self_id: u64) -> Result<Plan, CommandError> {
    let g = |group: &GroupId| number("group", group.as_str());
    let u = |user: &UserId| number("user", user.as_str());
    Ok(match command {
        Command::Send {
            to,
            content,
            reply_to,
            options,
            as_user,
        } => {
            if as_user
                .as_ref()
                .is_some_and(|a| a.as_str() != self_id.to_string())
            {
                return Err(invalid("OneBot sends only as the bot's own account"));
            }
            if !options.only_to.is_empty() {
                return Ok(Plan::Unsupported);
            }
            let message = segments::from_content(content, reply_to.as_ref()).map_err(invalid)?;
            let (action, params) = match to.kind {
                ConversationKind::Direct => (
                    "send_private_msg",
                    json!({"user_id": number("user", &to.id)?, "message": message}),
                ),
                ConversationKind::Group => (
                    "send_group_msg",
                    json!({"group_id": number("group", &to.id)?, "message": message}),
                ),
                _ => return Err(invalid(format!("OneBot cannot send to {to}"))),
            };
            Plan::Calls {
                calls: vec![Call { action, params }],
                reply: Reply::Sent,
            }
        }
        Command::Recall {
            message,
            scope: RecallScope::Everyone,
            ..
        } => {
            let id: i64 = message.id.parse().map_err(|_| {
                invalid(format!(
                    "message id {:?} is not a OneBot message id",
                    message.id
                ))
            })?;
            call("delete_msg", json!({"message_id": id}))
        }
        Command::AnswerFriendRequest {
            request,
            accept,
            remark,
            ..
        } => call(
            "set_friend_add_request",
            json!({"flag": request.as_str(), "approve": accept, "remark": remark.clone().unwrap_or_default()}),
        ),
        Command::AnswerJoinRequest {
            request,
            accept,
            reason,
        } => call(
            "set_group_add_request",
            json!({"flag": request.as_str(), "sub_type": "add", "approve": accept,
                   "reason": reason.clone().unwrap_or_default()}),
        ),
        Command::AnswerInvitation { request, accept } => call(
            "set_group_add_request",
            json!({"flag": request.as_str(), "sub_type": "invite", "approve": accept}),
        ),
        Command::RemoveFriend { user } => call("delete_friend", json!({"user_id": u(user)?})),
        Command::Kick {
            group,
            users,
            ban_seconds,
        } => {
            let group = g(group)?;
            let calls = users
                .iter()
                .map(|user| {
                    Ok(Call {
                        action: "set_group_kick",
                        // OneBot can only refuse re-joining for good, not for a while.
                        params: json!({"group_id": group, "user_id": u(user)?,
                                       "reject_add_request": ban_seconds.is_some()}),
                    })
                })
                .collect::<Result<_, CommandError>>()?;
            Plan::Calls {
                calls,
                reply: Reply::Done,
            }
        }
        Command::Mute {
            group,
            user,
            seconds,
        } => call(
            "set_group_ban",
            json!({"group_id": g(group)?, "user_id": u(user)?, "duration": seconds}),
        ),
        Command::Unmute { group, user } => call(
            "set_group_ban",
            json!({"group_id": g(group)?, "user_id": u(user)?, "duration": 0}),
        ),
        Command::MuteAll { group } => call(
            "set_group_whole_ban",
            json!({"group_id": g(group)?, "enable": true}),
        ),
        Command::UnmuteAll { group } => call(
            "set_group_whole_ban",
            json!({"group_id": g(group)?, "enable": false}),
        ),
        Command::SetAdmin { group, user, admin } => call(
            "set_group_admin",
            json!({"group_id": g(group)?, "user_id": u(user)?, "enable": admin}),
        ),
        Command::SetGroupInfo { group, patch } => {
            let Some(name) = &patch.name else {
                return Ok(Plan::Unsupported);
            };
            if patch.avatar_url.is_some() || patch.description.is_some() || patch.ext.is_some() {
                return Err(invalid("OneBot can change only a group's name"));
            }
            call(
                "set_group_name",
                json!({"group_id": g(group)?, "group_name": name}),
            )
        }
        Command::SetAnnouncement { group, text } => call(
            "_send_group_notice",
            json!({"group_id": g(group)?, "content": text}),
        ),
        Command::LeaveGroup { group } => call(
            "set_group_leave",
            json!({"group_id": g(group)?, "is_dismiss": false}),
        ),
        Command::Dismiss { group } => call(
            "set_group_leave",
            json!({"group_id": g(group)?, "is_dismiss": true}),
        ),
        Command::ListFriends => query("get_friend_list", json!({}), Query::Friends),
        Command::ListGroups => query("get_group_list", json!({}), Query::Groups),
        Command::GetGroupInfo { group } => query(
            "get_group_info",
            json!({"group_id": g(group)?}),
            Query::Group,
        ),
        Command::ListMembers { group } => query(
            "get_group_member_list",
            json!({"group_id": g(group)?}),
            Query::Members,
        ),
        Command::GetProfile { user } => query(
            "get_stranger_info",
            json!({"user_id": u(user)?}),
            Query::Profile,
        ),
        Command::Recall { .. }
        | Command::BatchSend { .. }
        | Command::Edit { .. }
        | Command::Forward { .. }
        | Command::MarkRead { .. }
        | Command::Typing { .. }
        | Command::FetchHistory { .. }
        | Command::Upload { .. }
        | Command::AddFriend { .. }
        | Command::Block { .. }
        | Command::Unblock { .. }
        | Command::CreateGroup { .. }
        | Command::Invite { .. }
        | Command::TransferOwner { .. }
        | Command::JoinGroup { .. } => Plan::Unsupported,
    })
}

/// The `data` of a successful answer, or the failure as a typed error. `async` (retcode 1)
/// is success: the implementation took the call and will not say more.
pub fn answer(action: &str, answer: &Value) -> Result<Value, CommandError> {
    let retcode = answer["retcode"].as_i64();
    match (answer["status"].as_str(), retcode) {
        (Some("ok"), _) | (None, Some(0)) => return Ok(answer["data"].clone()),
        (Some("async"), _) | (None, Some(1)) => return Ok(Value::Null),
        _ => {}
    }
    let retcode = retcode.unwrap_or(-1);
    // go-cqhttp and NapCat name the failure in `msg` and explain it in `wording`.
    let msg = answer["msg"].as_str().unwrap_or_default();
    let wording = answer["wording"].as_str().unwrap_or_default();
    let said = format!("{msg} {wording}").to_ascii_uppercase();
    let kind = match retcode {
        1400 => ErrorKind::Invalid,
        1401 | 1403 => ErrorKind::NotPermitted,
        1404 => ErrorKind::Unsupported,
        _ if said.contains("NOT_FOUND") || said.contains("不存在") => ErrorKind::NotFound,
        _ if said.contains("PERMISSION") || said.contains("权限") => ErrorKind::NotPermitted,
        _ if said.contains("禁言") || said.contains("MUTED") => ErrorKind::Muted,
        _ if said.contains("TIMEOUT") || said.contains("超时") => ErrorKind::UnknownOutcome,
        100 | 102 => ErrorKind::Invalid,
        // The call failed and took no effect; trying again later may work.
        _ => ErrorKind::Unavailable,
    };
    let detail = [msg, wording]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    Err(vendor_error(
        kind,
        retcode,
        format!("OneBot action {action} failed with retcode {retcode}: {detail}"),
    ))
}

/// The result of a whole plan once every call succeeded, from the last call (`action`)'s
/// data; `now_ms` tells a member's mute in force from one that ended.
pub fn output(
    reply: Reply,
    action: &str,
    data: &Value,
    now_ms: i64,
) -> Result<CommandOutput, CommandError> {
    Ok(match (reply, &data["message_id"]) {
        (Reply::Query(q), _) => return directory::read(q, action, data, now_ms),
        (Reply::Sent, id @ Value::Number(_)) => CommandOutput::Sent {
            message: MessageRef::new(id.to_string()),
        },
        (Reply::Sent, Value::String(id)) => CommandOutput::Sent {
            message: MessageRef::new(id.as_str()),
        },
        _ => CommandOutput::Done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(command: Command) -> Vec<(String, Value)> {
        match plan(&command, 10001) {
            Plan::Calls { calls, .. } => calls
                .into_iter()
                .map(|c| (c.action.to_string(), c.params))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retcodes() {
        assert_eq!(
            answer(
                "a",
                &json!({"status": "ok", "retcode": 0, "data": {"message_id": 5}})
            )
            .unwrap()["message_id"],
            5
        );
        assert_eq!(
            answer("a", &json!({"status": "async", "retcode": 1})).unwrap(),
            Value::Null
        );
        let kind = |v: Value| answer("a", &v).unwrap_err().kind;
        assert_eq!(
            kind(json!({"status": "failed", "retcode": 1404})),
            ErrorKind::Unsupported
        );
        assert_eq!(
            kind(json!({"status": "failed", "retcode": 1400})),
            ErrorKind::Invalid
        );
        assert_eq!(
            kind(json!({"status": "failed", "retcode": 100, "msg": "MESSAGE_NOT_FOUND"})),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(json!({"status": "failed", "retcode": 100, "wording": "机器人已被禁言"})),
            ErrorKind::Muted
        );
        assert_eq!(
            kind(json!({"status": "failed", "retcode": 100})),
            ErrorKind::Invalid
        );
        assert_eq!(
            kind(json!({"status": "failed", "retcode": 200})),
            ErrorKind::Unavailable
        );
        let e = answer("send_msg", &json!({"status": "failed", "retcode": 100, "msg": "SEND_MSG_API_ERROR", "wording": "风控"})).unwrap_err();
        assert_eq!(e.platform_code.as_deref(), Some("100"));
        assert!(
            e.message
                .contains("send_msg failed with retcode 100: SEND_MSG_API_ERROR: 风控"),
            "{}",
            e.message
        );
        assert_eq!(
            output(Reply::Sent, "a", &json!({"message_id": -12}), 0),
            Ok(CommandOutput::Sent {
                message: MessageRef::new("-12")
            })
        );
        assert_eq!(
            output(Reply::Done, "a", &Value::Null, 0),
            Ok(CommandOutput::Done)
        );
    }

    #[test]
    fn commands_to_actions() {
        let send = Command::Send {
            to: ConversationId::group("123"),
            content: Content::text("hi"),
            reply_to: Some(MessageRef::new("7")),
            options: SendOptions::default(),
            as_user: None,
        };
        assert_eq!(
            calls(send),
            vec![(
                "send_group_msg".into(),
                json!({"group_id": 123, "message": [
            {"type": "reply", "data": {"id": "7"}}, {"type": "text", "data": {"text": "hi"}}]})
            )]
        );
        let kick = Command::Kick {
            group: "5".into(),
            users: vec!["1".into(), "2".into()],
            ban_seconds: Some(60),
        };
        assert_eq!(calls(kick).len(), 2);
        assert_eq!(
            calls(Command::Unmute {
                group: "5".into(),
                user: "1".into()
            })[0]
                .1["duration"],
            0
        );
        assert_eq!(
            calls(Command::AnswerInvitation {
                request: "f".into(),
                accept: true
            })[0]
                .1["sub_type"],
            "invite"
        );
        assert_eq!(
            calls(Command::Dismiss { group: "5".into() })[0].1["is_dismiss"],
            true
        );
        assert!(matches!(
            plan(
                &Command::Typing {
                    to: "1".into(),
                    typing: true
                },
                1
            ),
            Plan::Unsupported
        ));
        assert!(
            matches!(plan(&Command::Mute { group: "lobby".into(), user: "1".into(), seconds: 1 }, 1), Plan::Invalid(e) if e.message.contains("not a QQ number"))
        );
    }

    #[test]
    fn queries_to_actions() {
        let q = |c: Command| match plan(&c, 1) {
            Plan::Calls { calls, reply } => (calls[0].action, calls[0].params.clone(), reply),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            q(Command::ListFriends),
            ("get_friend_list", json!({}), Reply::Query(Query::Friends))
        );
        assert_eq!(
            q(Command::ListGroups),
            ("get_group_list", json!({}), Reply::Query(Query::Groups))
        );
        assert_eq!(
            q(Command::GetGroupInfo { group: "5".into() }),
            (
                "get_group_info",
                json!({"group_id": 5}),
                Reply::Query(Query::Group)
            )
        );
        assert_eq!(
            q(Command::ListMembers { group: "5".into() }),
            (
                "get_group_member_list",
                json!({"group_id": 5}),
                Reply::Query(Query::Members)
            )
        );
        assert_eq!(
            q(Command::GetProfile { user: "42".into() }),
            (
                "get_stranger_info",
                json!({"user_id": 42}),
                Reply::Query(Query::Profile)
            )
        );
        assert!(matches!(
            plan(
                &Command::ListMembers {
                    group: "lobby".into()
                },
                1
            ),
            Plan::Invalid(_)
        ));
    }
}
