//! The query commands as REST v4 reads, and their answers as the model's directory types:
//! `sns/friend_get` (friends, paged by `StartIndex`), `group_open_http_svc/
//! get_joined_group_list` and `get_group_info` (groups, with a `ResponseFilter` naming the
//! base fields), `get_group_member_info` (members) and `profile/portrait_get` (profiles).

use crate::errors;
use parley_engine::model::{
    CommandError, CommandOutput, ErrorKind, FriendInfo, GroupId, GroupInfo, GroupKind, MemberInfo,
    MemberRole, Profile, UserId,
};
use serde_json::{json, Map, Value};

/// The group base fields asked for and read back.
const GROUP_FIELDS: &[&str] = &[
    "Type",
    "Name",
    "Introduction",
    "Notification",
    "FaceUrl",
    "Owner_Account",
    "CreateTime",
    "MemberNum",
    "MaxMemberNum",
    "ApplyJoinOption",
    "ShutUpAllMember",
];

/// The member fields asked for.
const MEMBER_FIELDS: &[&str] = &["Role", "JoinTime", "ShutUpUntil", "NameCard"];

/// The standard profile fields asked for: nickname, avatar and signature, the rest to `ext`.
const PROFILE_TAGS: &[&str] = &[
    "Tag_Profile_IM_Nick",
    "Tag_Profile_IM_Image",
    "Tag_Profile_IM_SelfSignature",
    "Tag_Profile_IM_Gender",
    "Tag_Profile_IM_BirthDay",
    "Tag_Profile_IM_Location",
    "Tag_Profile_IM_Language",
    "Tag_Profile_IM_Level",
    "Tag_Profile_IM_Role",
];

/// A friend list longer than this many pages (100 friends a page; Tencent allows 3000
/// friends) is answered with what was read and a warning.
pub const MAX_FRIEND_PAGES: usize = 100;

pub fn friend_get(bot: &str, start_index: u64) -> Value {
    json!({ "From_Account": bot, "StartIndex": start_index })
}

pub fn joined_groups(bot: &str) -> Value {
    json!({
        "Member_Account": bot,
        // Live-stream groups and work groups without messages yet are left out by default.
        "WithHugeGroups": 1, "WithNoActiveGroups": 1,
        "ResponseFilter": { "GroupBaseInfoFilter": GROUP_FIELDS },
    })
}

pub fn group_info(group: &GroupId) -> Value {
    json!({ "GroupIdList": [group], "ResponseFilter": { "GroupBaseInfoFilter": GROUP_FIELDS } })
}

pub fn group_members(group: &GroupId) -> Value {
    json!({ "GroupId": group, "MemberInfoFilter": MEMBER_FIELDS })
}

pub fn portrait_get(user: &UserId) -> Value {
    json!({ "To_Account": [user], "TagList": PROFILE_TAGS })
}

fn malformed(api: &str, why: impl std::fmt::Display) -> CommandError {
    CommandError::new(
        ErrorKind::Unavailable,
        format!("Tencent answered {api} with data Parley cannot read: {why}"),
    )
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn num(v: &Value, field: &str) -> Option<i64> {
    v.get(field).and_then(Value::as_i64)
}

fn list<'a>(answer: &'a Value, field: &str) -> Result<&'a [Value], String> {
    match answer.get(field) {
        Some(Value::Array(items)) => Ok(items),
        // Tencent leaves an empty list out.
        None | Some(Value::Null) => Ok(&[]),
        Some(other) => Err(format!("`{field}` is not a list: {other}")),
    }
}

/// A per-item failure (`ErrorCode` / `ResultCode` beside the item) as the call's error.
fn item_failed(item: &Value, code: &str, info: &str) -> Option<CommandError> {
    let code = num(item, code).filter(|c| *c != 0)?;
    let info = item.get(info).and_then(Value::as_str).unwrap_or_default();
    Some(errors::command_error(code, info))
}

/// One page of `sns/friend_get`: its friends, and where the next page starts if there is one.
pub fn friends_page(answer: &Value) -> Result<(Vec<FriendInfo>, Option<u64>), CommandError> {
    let api = "sns/friend_get";
    let friends = list(answer, "UserDataItem")
        .map_err(|e| malformed(api, e))?
        .iter()
        .map(|item| {
            let user = text(item, "To_Account").ok_or("a friend without `To_Account`")?;
            let tags = list(item, "ValueItem")?;
            let tag = |name: &str| {
                tags.iter()
                    .find(|t| t.get("Tag").and_then(Value::as_str) == Some(name))
                    .and_then(|t| text(t, "Value"))
            };
            Ok(FriendInfo {
                user: UserId::new(user),
                // Nicknames are profile data, not friend data: `get_profile` has them.
                nickname: None,
                alias: tag("Tag_SNS_IM_Remark"),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| malformed(api, e))?;
    let complete = num(answer, "CompleteFlag").unwrap_or(1) != 0;
    let next = num(answer, "NextStartIndex")
        .filter(|n| *n > 0 && !complete)
        .map(|n| n as u64);
    Ok((friends, next))
}

fn group_kind(kind: &str) -> GroupKind {
    match kind {
        "Public" => GroupKind::Public,
        "Private" | "Work" => GroupKind::Private,
        "ChatRoom" | "Meeting" | "AVChatRoom" | "BChatRoom" => GroupKind::ChatRoom,
        other => GroupKind::Vendor(other.to_string()),
    }
}

fn group(v: &Value) -> Result<GroupInfo, String> {
    let id = text(v, "GroupId").ok_or("a group without `GroupId`")?;
    let count = |field| num(v, field).and_then(|n| u32::try_from(n).ok());
    let mut ext = Map::new();
    for field in ["CreateTime", "ApplyJoinOption", "AppDefinedData"] {
        if let Some(value) = v.get(field) {
            ext.insert(field.to_string(), value.clone());
        }
    }
    Ok(GroupInfo {
        group: GroupId::new(id),
        name: text(v, "Name").unwrap_or_default(),
        kind: text(v, "Type").map(|t| group_kind(&t)),
        owner: text(v, "Owner_Account").map(UserId::new),
        member_count: count("MemberNum"),
        capacity: count("MaxMemberNum"),
        description: text(v, "Introduction"),
        announcement: text(v, "Notification"),
        avatar_url: text(v, "FaceUrl"),
        all_muted: v.get("ShutUpAllMember").and_then(Value::as_str) == Some("On"),
        ext: if ext.is_empty() {
            Value::Null
        } else {
            Value::Object(ext)
        },
    })
}

pub fn groups(answer: &Value) -> Result<CommandOutput, CommandError> {
    let api = "get_joined_group_list";
    let groups = list(answer, "GroupIdList")
        .and_then(|items| items.iter().map(group).collect())
        .map_err(|e| malformed(api, e))?;
    Ok(CommandOutput::Groups { groups })
}

pub fn one_group(answer: &Value) -> Result<CommandOutput, CommandError> {
    let api = "get_group_info";
    let items = list(answer, "GroupInfo").map_err(|e| malformed(api, e))?;
    let item = items
        .first()
        .ok_or_else(|| malformed(api, "`GroupInfo` is empty"))?;
    if let Some(e) = item_failed(item, "ErrorCode", "ErrorInfo") {
        return Err(e);
    }
    let group = group(item).map_err(|e| malformed(api, e))?;
    Ok(CommandOutput::Group { group })
}

/// Members; `now_ms` decides whether a `ShutUpUntil` (seconds) is still in force.
pub fn members(answer: &Value, now_ms: i64) -> Result<CommandOutput, CommandError> {
    let api = "get_group_member_info";
    let member = |m: &Value| -> Result<MemberInfo, String> {
        let user = text(m, "Member_Account").ok_or("a member without `Member_Account`")?;
        let role = match m.get("Role").and_then(Value::as_str) {
            Some("Owner") => MemberRole::Owner,
            Some("Admin") => MemberRole::Admin,
            Some("Member") | None => MemberRole::Member,
            Some(other) => return Err(format!("unknown role {other:?}")),
        };
        let ms = |field| {
            num(m, field)
                .filter(|s| *s > 0)
                .map(|s| s.saturating_mul(1000))
        };
        Ok(MemberInfo {
            user: UserId::new(user),
            role,
            nickname: text(m, "NameCard"),
            muted_until_ms: ms("ShutUpUntil").filter(|until| *until > now_ms),
            joined_at_ms: ms("JoinTime"),
        })
    };
    let members = list(answer, "MemberList")
        .and_then(|items| items.iter().map(member).collect())
        .map_err(|e| malformed(api, e))?;
    Ok(CommandOutput::Members { members })
}

pub fn profile(answer: &Value) -> Result<CommandOutput, CommandError> {
    let api = "portrait_get";
    let items = list(answer, "UserProfileItem").map_err(|e| malformed(api, e))?;
    let Some(item) = items.first() else {
        // An account Tencent does not know comes back in `FailAccount` only.
        let who = answer
            .get("FailAccount")
            .and_then(|f| f.get(0))
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(CommandError::new(
            ErrorKind::NotFound,
            format!("Tencent has no profile for {who:?}"),
        ));
    };
    if let Some(e) = item_failed(item, "ResultCode", "ResultInfo") {
        return Err(e);
    }
    let user = text(item, "To_Account").ok_or_else(|| malformed(api, "no `To_Account`"))?;
    let tags = list(item, "ProfileItem").map_err(|e| malformed(api, e))?;
    let mut profile = Profile {
        user: UserId::new(user),
        nickname: None,
        avatar_url: None,
        signature: None,
        ext: Value::Null,
    };
    let mut ext = Map::new();
    for t in tags {
        let (Some(tag), Some(value)) = (t.get("Tag").and_then(Value::as_str), t.get("Value"))
        else {
            continue;
        };
        let text = value.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        match tag {
            "Tag_Profile_IM_Nick" => profile.nickname = text,
            "Tag_Profile_IM_Image" => profile.avatar_url = text,
            "Tag_Profile_IM_SelfSignature" => profile.signature = text,
            other => {
                let name = other.strip_prefix("Tag_Profile_").unwrap_or(other);
                ext.insert(name.to_string(), value.clone());
            }
        }
    }
    if !ext.is_empty() {
        profile.ext = Value::Object(ext);
    }
    Ok(CommandOutput::Profile { profile })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friend_pages() {
        let page = json!({"UserDataItem": [
            {"To_Account": "alice", "ValueItem": [
                {"Tag": "Tag_SNS_IM_AddSource", "Value": "AddSource_Type_Web"},
                {"Tag": "Tag_SNS_IM_Remark", "Value": "Alice"}]},
            {"To_Account": "bob"}],
            "StandardSequence": 8, "CustomSequence": 2, "FriendNum": 150,
            "CompleteFlag": 0, "NextStartIndex": 100, "ActionStatus": "OK", "ErrorCode": 0});
        let (friends, next) = friends_page(&page).unwrap();
        assert_eq!(next, Some(100));
        assert_eq!(
            friends
                .iter()
                .map(|f| (f.user.as_str(), f.alias.as_deref()))
                .collect::<Vec<_>>(),
            [("alice", Some("Alice")), ("bob", None)]
        );
        let last = json!({"FriendNum": 0, "CompleteFlag": 1, "NextStartIndex": 0});
        assert_eq!(friends_page(&last).unwrap(), (vec![], None));
    }

    #[test]
    fn groups_members_and_profiles() {
        let CommandOutput::Group { group } = one_group(&json!({"GroupInfo": [{
            "GroupId": "@TGS#1", "ErrorCode": 0, "Type": "Work", "Name": "Ops",
            "Owner_Account": "alice", "MemberNum": 3, "MaxMemberNum": 200,
            "Notification": "be nice", "ShutUpAllMember": "On", "CreateTime": 1600000000}]}))
        .unwrap() else {
            panic!()
        };
        assert_eq!(group.kind, Some(GroupKind::Private));
        assert_eq!(group.owner.as_ref().map(|u| u.as_str()), Some("alice"));
        assert_eq!(group.announcement.as_deref(), Some("be nice"));
        assert!(group.all_muted);
        assert_eq!(group.ext, json!({"CreateTime": 1600000000}));
        let e = one_group(
            &json!({"GroupInfo": [{"GroupId": "nope", "ErrorCode": 10010,
                                   "ErrorInfo": "group not found"}]}),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.platform_code.as_deref()),
            (ErrorKind::NotFound, Some("10010"))
        );

        let now = 1_700_000_000_000;
        let CommandOutput::Members { members } = members(
            &json!({"MemberNum": 2, "MemberList": [
                {"Member_Account": "alice", "Role": "Owner", "JoinTime": 1600000000,
                 "ShutUpUntil": 0, "NameCard": ""},
                {"Member_Account": "bob", "Role": "Member", "JoinTime": 1650000000,
                 "ShutUpUntil": 1700000060, "NameCard": "Bob"}]}),
            now,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(members[0].role, MemberRole::Owner);
        assert_eq!(members[0].nickname, None);
        assert_eq!(members[1].muted_until_ms, Some(1_700_000_060_000));
        assert_eq!(members[1].nickname.as_deref(), Some("Bob"));

        let CommandOutput::Profile { profile } = profile(&json!({"UserProfileItem": [{
            "To_Account": "alice", "ResultCode": 0, "ResultInfo": "", "ProfileItem": [
                {"Tag": "Tag_Profile_IM_Nick", "Value": "Alice"},
                {"Tag": "Tag_Profile_IM_Image", "Value": "https://x/a.png"},
                {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "hi"},
                {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female"},
                {"Tag": "Tag_Profile_IM_Level", "Value": 3}]}]}))
        .unwrap() else {
            panic!()
        };
        assert_eq!(profile.nickname.as_deref(), Some("Alice"));
        assert_eq!(profile.avatar_url.as_deref(), Some("https://x/a.png"));
        assert_eq!(profile.signature.as_deref(), Some("hi"));
        assert_eq!(
            profile.ext,
            json!({"IM_Gender": "Gender_Type_Female", "IM_Level": 3})
        );
        let e =
            super::profile(&json!({"UserProfileItem": [], "FailAccount": ["ghost"]})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn malformed_answers_are_clear_errors() {
        let e = members(
            &json!({"MemberList": [{"Member_Account": "a", "Role": "King"}]}),
            0,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("unknown role \"King\""), "{}", e.message);
        let e = groups(&json!({"GroupIdList": "soon"})).unwrap_err();
        assert!(e.message.contains("get_joined_group_list"), "{}", e.message);
    }
}
