//! Join requests and invitations waiting for an answer.

use crate::error::HubError;
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// A join request (`kind` `join`: `user` applies, with `reason`) or an invitation
/// (`invite`: `inviter` invites `user`), as stored and as the protocol shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct GroupRequestRow {
    pub id: String,
    pub kind: &'static str,
    pub group: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inviter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `pending`, `accepted` or `declined`.
    pub status: String,
    pub created_ms: i64,
}

const COLUMNS: &str = "id, kind, group_id, user_id, inviter, reason, status, created_ms";

fn from_row(r: &SqliteRow) -> GroupRequestRow {
    GroupRequestRow {
        id: r.get("id"),
        kind: if r.get::<&str, _>("kind") == "join" {
            "join"
        } else {
            "invite"
        },
        group: r.get("group_id"),
        user: r.get("user_id"),
        inviter: r.get("inviter"),
        reason: r.get("reason"),
        status: r.get("status"),
        created_ms: r.get("created_ms"),
    }
}

pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    r: &GroupRequestRow,
) -> Result<(), HubError> {
    sqlx::query(&format!(
        "INSERT INTO group_requests ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&r.id)
    .bind(r.kind)
    .bind(&r.group)
    .bind(&r.user)
    .bind(&r.inviter)
    .bind(&r.reason)
    .bind(&r.status)
    .bind(r.created_ms)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<GroupRequestRow>, HubError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM group_requests WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(from_row))
}

/// Whether `user` has a pending request of `kind` in `group`.
pub(crate) async fn is_pending(
    conn: &mut SqliteConnection,
    kind: &str,
    group: &str,
    user: &str,
) -> Result<bool, HubError> {
    let row = sqlx::query(
        "SELECT 1 FROM group_requests
         WHERE kind = ? AND group_id = ? AND user_id = ? AND status = 'pending'",
    )
    .bind(kind)
    .bind(group)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

pub(crate) async fn answer(
    conn: &mut SqliteConnection,
    id: &str,
    accepted: bool,
    now: i64,
) -> Result<(), HubError> {
    sqlx::query("UPDATE group_requests SET status = ?, answered_ms = ? WHERE id = ?")
        .bind(if accepted { "accepted" } else { "declined" })
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The pending requests `user` may answer or is waiting on: invitations to `user`, its
/// own join requests, and join requests to groups it owns or administers; newest first.
pub(crate) async fn pending_for(
    conn: &mut SqliteConnection,
    user: &str,
) -> Result<Vec<GroupRequestRow>, HubError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM group_requests r WHERE status = 'pending' AND (
             user_id = ?1 OR inviter = ?1
             OR (kind = 'join' AND group_id IN (SELECT group_id FROM group_members
                 WHERE user_id = ?1 AND role IN ('owner', 'admin'))))
         ORDER BY created_ms DESC, id"
    ))
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}
