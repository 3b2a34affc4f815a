//! What a connection's account can look up on its platform: friends, groups, members and
//! profiles (the answers to the query commands, OneBot's `get_*` actions, Tencent's
//! `get_joined_group_list` and friends).

use crate::model::command::GroupKind;
use crate::model::ids::{GroupId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One friend of the connection's account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FriendInfo {
    pub user: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// The account's own name for this friend (remark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// A group as the connection's account sees it; fields a platform does not report are `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub group: GroupId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<GroupKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_muted: bool,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub ext: Value,
}

/// A member's standing in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    Admin,
    Member,
}

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub user: UserId,
    pub role: MemberRole,
    /// The member's name in this group (card), else their nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Until when (ms since the epoch) the member may not speak, while in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at_ms: Option<i64>,
}

/// A user's public profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub user: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Signature, description or "about me".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Anything else the platform reports (gender, age, level, custom fields).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub ext: Value,
}
