//! Groups: their settings and info, members with roles and mutes. Functions taking a
//! connection run inside the transaction of a whole operation.

use super::Store;
use crate::error::HubError;
use parley_engine::model::GroupInfoPatch;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// A string-valued column as a Rust enum, spelled the same on the wire and in the table.
macro_rules! column_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            fn parse(s: &str) -> Result<Self, sqlx::Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(sqlx::Error::Decode(
                        format!("unknown {} {other:?}", stringify!($name)).into(),
                    )),
                }
            }
        }
    };
}

column_enum!(
    /// What kind of group: `private` (joined by invitation), `public` (also by applying),
    /// `chat_room` (members not listed, no history from before one joined).
    GroupKind { Private = "private", Public = "public", ChatRoom = "chat_room" }
);
column_enum!(
    /// Who may join a public group or chat room by applying.
    JoinPolicy { Anyone = "anyone", Approval = "approval", Nobody = "nobody" }
);
column_enum!(
    /// Who may change a group's name, avatar, description and ext.
    InfoPolicy { Admins = "admins", Members = "members" }
);
column_enum!(
    /// A member's role; owners outrank admins, who outrank members.
    Role { Owner = "owner", Admin = "admin", Member = "member" }
);

impl Role {
    /// Owner and admins manage the group.
    pub fn manages(self) -> bool {
        self != Role::Member
    }

    /// Whether this role may act on (kick, mute) a member of `other` role.
    pub fn outranks(self, other: Role) -> bool {
        let rank = |r: Role| match r {
            Role::Owner => 2,
            Role::Admin => 1,
            Role::Member => 0,
        };
        rank(self) > rank(other)
    }
}

/// A group with its settings and members, as the `groups` and `group_info` requests show
/// it. Chat rooms list no members.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupInfo {
    pub id: String,
    pub name: String,
    pub kind: GroupKind,
    pub owner: String,
    pub join_policy: JoinPolicy,
    pub info_policy: InfoPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub ext: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    pub capacity: u32,
    pub all_muted: bool,
    pub member_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberInfo>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Until when (ms since the epoch, hub time) the member may not speak, while in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_until_ms: Option<i64>,
}

/// One membership: the member's role and mute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemberRow {
    pub role: Role,
    pub muted_until_ms: Option<i64>,
}

const GROUP_COLUMNS: &str = r#"g.id, g.name, g.owner, g.kind, g.join_policy, g.info_policy,
    g.avatar_url, g.description, g.ext, g.announcement, g.capacity, g.all_muted,
    (SELECT COUNT(*) FROM group_members c WHERE c.group_id = g.id) AS member_count"#;

fn group_from_row(r: &SqliteRow) -> Result<GroupInfo, HubError> {
    let ext: Option<String> = r.get("ext");
    Ok(GroupInfo {
        id: r.get("id"),
        name: r.get("name"),
        kind: GroupKind::parse(r.get("kind"))?,
        owner: r.get("owner"),
        join_policy: JoinPolicy::parse(r.get("join_policy"))?,
        info_policy: InfoPolicy::parse(r.get("info_policy"))?,
        avatar_url: r.get("avatar_url"),
        description: r.get("description"),
        ext: ext
            .and_then(|e| serde_json::from_str(&e).ok())
            .unwrap_or_default(),
        announcement: r.get("announcement"),
        capacity: r.get::<i64, _>("capacity") as u32,
        all_muted: r.get::<i64, _>("all_muted") != 0,
        member_count: r.get::<i64, _>("member_count") as u32,
        members: None,
    })
}

/// A group's settings and info, without members.
pub(crate) async fn group(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<GroupInfo>, HubError> {
    let row = sqlx::query(&format!(
        r#"SELECT {GROUP_COLUMNS} FROM "groups" g WHERE g.id = ?"#
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(group_from_row).transpose()
}

/// The members of a group, owner first, then admins, then members, each by id.
pub(crate) async fn members(
    conn: &mut SqliteConnection,
    group: &str,
) -> Result<Vec<MemberInfo>, HubError> {
    let rows = sqlx::query(
        "SELECT u.id, u.name, m.role, m.muted_until_ms FROM group_members m
         JOIN users u ON u.id = m.user_id WHERE m.group_id = ?
         ORDER BY m.role = 'owner' DESC, m.role = 'admin' DESC, u.id",
    )
    .bind(group)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MemberInfo {
                id: r.get("id"),
                name: r.get("name"),
                role: Role::parse(r.get("role"))?,
                muted_until_ms: r.get("muted_until_ms"),
            })
        })
        .collect()
}

/// When each member of a group joined (ms since the epoch, hub time), by user id.
pub(crate) async fn joined_ms(
    conn: &mut SqliteConnection,
    group: &str,
) -> Result<std::collections::HashMap<String, i64>, HubError> {
    let rows = sqlx::query("SELECT user_id, joined_ms FROM group_members WHERE group_id = ?")
        .bind(group)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("user_id"), r.get("joined_ms")))
        .collect())
}

/// Creates a group (without members); an existing id is a conflict.
pub(crate) async fn insert_group(
    conn: &mut SqliteConnection,
    g: &GroupInfo,
    now: i64,
) -> Result<(), HubError> {
    let inserted = sqlx::query(
        r#"INSERT INTO "groups" (id, name, owner, created_ms, kind, join_policy, info_policy,
               avatar_url, description, ext, capacity)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.owner)
    .bind(now)
    .bind(g.kind.as_str())
    .bind(g.join_policy.as_str())
    .bind(g.info_policy.as_str())
    .bind(&g.avatar_url)
    .bind(&g.description)
    .bind((!g.ext.is_null()).then(|| g.ext.to_string()))
    .bind(i64::from(g.capacity))
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if super::is_unique_violation(&e) => Err(HubError::Conflict(format!(
            "hub group {:?} already exists",
            g.id
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a group with its members, requests, messages and members' read marks and pins.
pub(crate) async fn delete_group(conn: &mut SqliteConnection, id: &str) -> Result<(), HubError> {
    for table in ["messages", "conversation_state"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE conv_kind = 'group' AND conv_key = ?"
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(r#"DELETE FROM "groups" WHERE id = ?"#)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies the given fields of `patch`; absent ones stay.
pub(crate) async fn update_info(
    conn: &mut SqliteConnection,
    id: &str,
    patch: &GroupInfoPatch,
) -> Result<(), HubError> {
    sqlx::query(
        r#"UPDATE "groups" SET name = COALESCE(?, name), avatar_url = COALESCE(?, avatar_url),
           description = COALESCE(?, description), ext = COALESCE(?, ext) WHERE id = ?"#,
    )
    .bind(&patch.name)
    .bind(&patch.avatar_url)
    .bind(&patch.description)
    .bind(patch.ext.as_ref().map(Value::to_string))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves the group's owner, policies, capacity, announcement and mute-all flag.
pub(crate) async fn save_settings(
    conn: &mut SqliteConnection,
    g: &GroupInfo,
) -> Result<(), HubError> {
    sqlx::query(
        r#"UPDATE "groups" SET owner = ?, join_policy = ?, info_policy = ?, capacity = ?,
           announcement = ?, all_muted = ? WHERE id = ?"#,
    )
    .bind(&g.owner)
    .bind(g.join_policy.as_str())
    .bind(g.info_policy.as_str())
    .bind(i64::from(g.capacity))
    .bind(&g.announcement)
    .bind(g.all_muted as i64)
    .bind(&g.id)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn member(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
) -> Result<Option<MemberRow>, HubError> {
    let row = sqlx::query(
        "SELECT role, muted_until_ms FROM group_members WHERE group_id = ? AND user_id = ?",
    )
    .bind(group)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(MemberRow {
            role: Role::parse(r.get("role"))?,
            muted_until_ms: r.get("muted_until_ms"),
        })
    })
    .transpose()
}

/// The ids of the group's members (`managers_only`: the owner and admins), by id.
pub(crate) async fn member_ids_in(
    conn: &mut SqliteConnection,
    group: &str,
    managers_only: bool,
) -> Result<Vec<String>, HubError> {
    let rows = sqlx::query(
        "SELECT user_id FROM group_members WHERE group_id = ?
         AND (? = 0 OR role IN ('owner', 'admin')) ORDER BY user_id",
    )
    .bind(group)
    .bind(managers_only as i64)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| r.get("user_id")).collect())
}

/// Adds a member; chat-room members see only messages after `history_from_seq`.
pub(crate) async fn add_member(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
    role: Role,
    now: i64,
    history_from_seq: u64,
) -> Result<(), HubError> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id, role, joined_ms, history_from_seq)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(group)
    .bind(user)
    .bind(role.as_str())
    .bind(now)
    .bind(history_from_seq as i64)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn remove_member(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
) -> Result<(), HubError> {
    sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
        .bind(group)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn set_role(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
    role: Role,
) -> Result<(), HubError> {
    sqlx::query("UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?")
        .bind(role.as_str())
        .bind(group)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn set_muted_until(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
    until_ms: Option<i64>,
) -> Result<(), HubError> {
    sqlx::query("UPDATE group_members SET muted_until_ms = ? WHERE group_id = ? AND user_id = ?")
        .bind(until_ms)
        .bind(group)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// The seq a member's view of the group's history starts after.
pub(crate) async fn history_from_seq(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
) -> Result<u64, HubError> {
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT history_from_seq FROM group_members WHERE group_id = ? AND user_id = ?",
    )
    .bind(group)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(seq.unwrap_or(0) as u64)
}

impl Store {
    /// The groups `user` belongs to, by id, each with its members (none for chat rooms).
    pub async fn groups_of(&self, user: &str) -> Result<Vec<GroupInfo>, HubError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            r#"SELECT {GROUP_COLUMNS} FROM "groups" g
               JOIN group_members mine ON mine.group_id = g.id AND mine.user_id = ?
               ORDER BY g.id"#
        ))
        .bind(user)
        .fetch_all(&mut *conn)
        .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut group = group_from_row(row)?;
            if group.kind != GroupKind::ChatRoom {
                group.members = Some(members(&mut conn, &group.id).await?);
            }
            groups.push(group);
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::seeded;
    use super::*;

    #[tokio::test]
    async fn groups_list_members_owner_first() {
        let (store, _dir) = seeded().await;
        let groups = store.groups_of("bot").await.unwrap();
        assert_eq!(groups.len(), 1);
        let lobby = &groups[0];
        assert_eq!(
            (lobby.id.as_str(), lobby.name.as_str(), lobby.owner.as_str()),
            ("lobby", "Lobby", "alice")
        );
        assert_eq!(lobby.kind, GroupKind::Private, "config groups are private");
        let members: Vec<_> = lobby
            .members
            .iter()
            .flatten()
            .map(|m| (m.id.as_str(), m.role.as_str()))
            .collect();
        assert_eq!(
            members,
            vec![("alice", "owner"), ("bob", "member"), ("bot", "member")]
        );
        assert_eq!(lobby.member_count, 3);
        assert!(store.groups_of("carol").await.unwrap().is_empty());
        let mut conn = store.conn().await.unwrap();
        assert!(member(&mut conn, "lobby", "bob").await.unwrap().is_some());
        assert!(member(&mut conn, "lobby", "carol").await.unwrap().is_none());
        assert!(group(&mut conn, "nope").await.unwrap().is_none());
    }

    #[test]
    fn roles_rank() {
        assert!(Role::Owner.outranks(Role::Admin) && Role::Admin.outranks(Role::Member));
        assert!(!Role::Admin.outranks(Role::Admin) && !Role::Member.outranks(Role::Owner));
        assert!(Role::Admin.manages() && !Role::Member.manages());
    }
}
