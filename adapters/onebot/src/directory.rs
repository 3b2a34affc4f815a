//! The answers of OneBot v11's query actions (`get_friend_list`, `get_group_list`,
//! `get_group_info`, `get_group_member_list`, `get_stranger_info`) as the model's directory
//! types. Implementations differ in what they add to the v11 fields (go-cqhttp:
//! `shut_up_timestamp`, `group_memo`; NapCat: `group_all_shut`, `long_nick`), and some send
//! numbers as strings, so every field is read leniently and what is not mapped is kept in
//! `ext` where the model has one.

use parley_engine::model::{
    CommandError, ErrorKind, FriendInfo, GroupId, GroupInfo, MemberInfo, MemberRole, Profile,
    UserId,
};
use serde_json::{Map, Value};

/// What an action's `data` is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Friends,
    Groups,
    Group,
    Members,
    Profile,
}

fn malformed(action: &str, why: impl std::fmt::Display) -> CommandError {
    CommandError::new(
        ErrorKind::Unavailable,
        format!("OneBot answered {action} with data Parley cannot read: {why}"),
    )
}

/// An id or count sent as a number or as a string of digits.
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn id(v: &Value, field: &str) -> Result<String, String> {
    int(&v[field])
        .map(|n| n.to_string())
        .ok_or_else(|| format!("`{field}` is missing or not a number"))
}

/// A non-empty string field.
fn text(v: &Value, field: &str) -> Option<String> {
    v[field]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn count(v: &Value, field: &str) -> Option<u32> {
    int(&v[field]).and_then(|n| u32::try_from(n).ok())
}

/// The object's fields other than `mapped`, or null when none are left.
fn rest(v: &Value, mapped: &[&str]) -> Value {
    let Some(object) = v.as_object() else {
        return Value::Null;
    };
    let left: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| !mapped.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if left.is_empty() {
        Value::Null
    } else {
        Value::Object(left)
    }
}

fn list(data: &Value) -> Result<&Vec<Value>, String> {
    match data {
        Value::Array(items) => Ok(items),
        other => Err(format!("expected a list, got {other}")),
    }
}

pub fn friend(v: &Value) -> Result<FriendInfo, String> {
    Ok(FriendInfo {
        user: UserId::new(id(v, "user_id")?),
        nickname: text(v, "nickname"),
        alias: text(v, "remark"),
    })
}

const GROUP_FIELDS: &[&str] = &[
    "group_id",
    "group_name",
    "member_count",
    "max_member_count",
    "group_memo",
    "group_all_shut",
];

pub fn group(v: &Value) -> Result<GroupInfo, String> {
    Ok(GroupInfo {
        group: GroupId::new(id(v, "group_id")?),
        name: text(v, "group_name").unwrap_or_default(),
        kind: None,
        owner: None,
        member_count: count(v, "member_count"),
        capacity: count(v, "max_member_count"),
        description: text(v, "group_memo"),
        announcement: None,
        avatar_url: None,
        // NapCat: non-zero while the whole group is muted.
        all_muted: int(&v["group_all_shut"]).is_some_and(|n| n != 0),
        ext: rest(v, GROUP_FIELDS),
    })
}

/// A member; `now_ms` decides whether a `shut_up_timestamp` (seconds) is still in force.
pub fn member(v: &Value, now_ms: i64) -> Result<MemberInfo, String> {
    let role = match v["role"].as_str() {
        Some("owner") => MemberRole::Owner,
        Some("admin") => MemberRole::Admin,
        Some("member") | None => MemberRole::Member,
        Some(other) => return Err(format!("unknown role {other:?}")),
    };
    let seconds = |field: &str| {
        int(&v[field])
            .filter(|s| *s > 0)
            .map(|s| s.saturating_mul(1000))
    };
    Ok(MemberInfo {
        user: UserId::new(id(v, "user_id")?),
        role,
        nickname: text(v, "card").or_else(|| text(v, "nickname")),
        muted_until_ms: seconds("shut_up_timestamp").filter(|until| *until > now_ms),
        joined_at_ms: seconds("join_time"),
    })
}

const PROFILE_FIELDS: &[&str] = &["user_id", "nickname", "avatar", "long_nick", "sign"];

pub fn profile(v: &Value) -> Result<Profile, String> {
    let user = id(v, "user_id")?;
    // QQ serves every account's avatar at this address; NapCat also reports it as `avatar`.
    let avatar =
        text(v, "avatar").unwrap_or_else(|| format!("https://q1.qlogo.cn/g?b=qq&nk={user}&s=640"));
    Ok(Profile {
        user: UserId::new(user),
        nickname: text(v, "nickname"),
        avatar_url: Some(avatar),
        signature: text(v, "long_nick").or_else(|| text(v, "sign")),
        ext: rest(v, PROFILE_FIELDS),
    })
}

/// `data` of a successful query answer as the command's output.
pub fn read(
    query: Query,
    action: &str,
    data: &Value,
    now_ms: i64,
) -> Result<parley_engine::model::CommandOutput, CommandError> {
    use parley_engine::model::CommandOutput as O;
    fn each<T>(
        data: &Value,
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        list(data)?.iter().map(parse).collect()
    }
    let output = match query {
        Query::Friends => each(data, friend).map(|friends| O::Friends { friends }),
        Query::Groups => each(data, group).map(|groups| O::Groups { groups }),
        Query::Group => group(data).map(|group| O::Group { group }),
        Query::Members => each(data, |m| member(m, now_ms)).map(|members| O::Members { members }),
        Query::Profile => profile(data).map(|profile| O::Profile { profile }),
    };
    output.map_err(|why| malformed(action, why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::model::CommandOutput;
    use serde_json::json;

    const NOW_MS: i64 = 1_700_000_000_000;

    #[test]
    fn members_roles_cards_and_times() {
        let data = json!([
            {"group_id": 500, "user_id": 1, "nickname": "Boss", "card": "", "role": "owner",
             "join_time": 1600000000, "last_sent_time": 0, "shut_up_timestamp": 0},
            {"group_id": 500, "user_id": "42", "nickname": "alice", "card": "Alice (ops)",
             "role": "admin", "join_time": 1650000000, "shut_up_timestamp": 1700000600},
            // A mute that ended, and no join time.
            {"group_id": 500, "user_id": 43, "nickname": "bob", "role": "member",
             "shut_up_timestamp": 1690000000},
        ]);
        let CommandOutput::Members { members } =
            read(Query::Members, "get_group_member_list", &data, NOW_MS).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            members,
            vec![
                MemberInfo {
                    user: "1".into(),
                    role: MemberRole::Owner,
                    nickname: Some("Boss".into()),
                    muted_until_ms: None,
                    joined_at_ms: Some(1_600_000_000_000),
                },
                MemberInfo {
                    user: "42".into(),
                    role: MemberRole::Admin,
                    nickname: Some("Alice (ops)".into()),
                    muted_until_ms: Some(1_700_000_600_000),
                    joined_at_ms: Some(1_650_000_000_000),
                },
                MemberInfo {
                    user: "43".into(),
                    role: MemberRole::Member,
                    nickname: Some("bob".into()),
                    muted_until_ms: None,
                    joined_at_ms: None,
                },
            ]
        );
    }

    #[test]
    fn groups_friends_and_profiles() {
        let g = group(
            &json!({"group_id": 500, "group_name": "Lobby", "member_count": 12,
                              "max_member_count": 200, "group_all_shut": -1, "group_remark": "r"}),
        )
        .unwrap();
        assert_eq!(
            (
                g.group.as_str(),
                g.name.as_str(),
                g.member_count,
                g.capacity,
                g.all_muted
            ),
            ("500", "Lobby", Some(12), Some(200), true)
        );
        assert_eq!(g.ext, json!({"group_remark": "r"}));
        let f = friend(&json!({"user_id": 42, "nickname": "alice", "remark": ""})).unwrap();
        assert_eq!((f.nickname.as_deref(), f.alias), (Some("alice"), None));
        let p = profile(
            &json!({"user_id": 42, "nickname": "alice", "sex": "female", "age": 20,
                                "long_nick": "hi"}),
        )
        .unwrap();
        assert_eq!(p.signature.as_deref(), Some("hi"));
        assert_eq!(
            p.avatar_url.as_deref(),
            Some("https://q1.qlogo.cn/g?b=qq&nk=42&s=640")
        );
        assert_eq!(p.ext, json!({"sex": "female", "age": 20}));
    }

    #[test]
    fn malformed_data_is_a_clear_error() {
        let e = read(Query::Groups, "get_group_list", &json!({"x": 1}), NOW_MS).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("get_group_list"), "{}", e.message);
        let e = read(
            Query::Members,
            "get_group_member_list",
            &json!([{"user_id": 1, "role": "king"}]),
            NOW_MS,
        )
        .unwrap_err();
        assert!(e.message.contains("unknown role \"king\""), "{}", e.message);
        let e = read(Query::Profile, "get_stranger_info", &json!({}), NOW_MS).unwrap_err();
        assert!(e.message.contains("`user_id`"), "{}", e.message);
    }
}
