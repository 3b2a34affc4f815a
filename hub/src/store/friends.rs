//! Friend settings, friendships with aliases, friend requests and blocks. Functions take a
//! connection so that callers can run them inside the transaction of a whole operation.

use crate::error::HubError;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// Who may add a user as a friend (and message them without being one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FriendAuth {
    Anyone,
    Approval,
    Question,
    Nobody,
}

impl FriendAuth {
    fn as_str(self) -> &'static str {
        match self {
            FriendAuth::Anyone => "anyone",
            FriendAuth::Approval => "approval",
            FriendAuth::Question => "question",
            FriendAuth::Nobody => "nobody",
        }
    }

    pub(crate) fn parse(s: &str) -> FriendAuth {
        match s {
            "approval" => FriendAuth::Approval,
            "question" => FriendAuth::Question,
            "nobody" => FriendAuth::Nobody,
            _ => FriendAuth::Anyone,
        }
    }
}

/// A user's settings as the `settings` request shows them to that user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct UserSettings {
    pub friend_auth: FriendAuth,
    pub friend_question: Option<String>,
    pub friend_answer: Option<String>,
    pub invite_confirm: bool,
}

/// A friend request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FriendRequestRow {
    pub id: String,
    pub from: String,
    pub to: String,
    pub greeting: Option<String>,
    pub question: Option<String>,
    pub answer: Option<String>,
    /// `pending`, `accepted` or `declined`.
    pub status: String,
    pub remark: Option<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct FriendInfo {
    pub id: String,
    pub name: String,
    /// The name this user gave the friend, if any.
    pub alias: Option<String>,
}

pub(crate) async fn settings(
    conn: &mut SqliteConnection,
    user: &str,
) -> Result<Option<UserSettings>, HubError> {
    let row = sqlx::query(
        "SELECT friend_auth, friend_question, friend_answer, invite_confirm FROM users WHERE id = ?",
    )
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| UserSettings {
        friend_auth: FriendAuth::parse(r.get("friend_auth")),
        friend_question: r.get("friend_question"),
        friend_answer: r.get("friend_answer"),
        invite_confirm: r.get::<i64, _>("invite_confirm") != 0,
    }))
}

pub(crate) async fn save_settings(
    conn: &mut SqliteConnection,
    user: &str,
    s: &UserSettings,
) -> Result<(), HubError> {
    sqlx::query(
        "UPDATE users SET friend_auth = ?, friend_question = ?, friend_answer = ?, invite_confirm = ?
         WHERE id = ?",
    )
    .bind(s.friend_auth.as_str())
    .bind(&s.friend_question)
    .bind(&s.friend_answer)
    .bind(s.invite_confirm as i64)
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn are_friends(
    conn: &mut SqliteConnection,
    a: &str,
    b: &str,
) -> Result<bool, HubError> {
    let row = sqlx::query("SELECT 1 FROM friends WHERE user_id = ? AND friend_id = ?")
        .bind(a)
        .bind(b)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Makes `a` and `b` friends of each other (keeping existing aliases).
pub(crate) async fn add_friendship(
    conn: &mut SqliteConnection,
    a: &str,
    b: &str,
    now: i64,
) -> Result<(), HubError> {
    for (x, y) in [(a, b), (b, a)] {
        sqlx::query(
            "INSERT OR IGNORE INTO friends (user_id, friend_id, created_ms) VALUES (?, ?, ?)",
        )
        .bind(x)
        .bind(y)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Ends the friendship both ways; false if there was none.
pub(crate) async fn remove_friendship(
    conn: &mut SqliteConnection,
    a: &str,
    b: &str,
) -> Result<bool, HubError> {
    let done = sqlx::query(
        "DELETE FROM friends WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)",
    )
    .bind(a)
    .bind(b)
    .bind(b)
    .bind(a)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets the alias `user` gives `friend`; false if they are not friends.
pub(crate) async fn set_alias(
    conn: &mut SqliteConnection,
    user: &str,
    friend: &str,
    alias: Option<&str>,
) -> Result<bool, HubError> {
    let done = sqlx::query("UPDATE friends SET alias = ? WHERE user_id = ? AND friend_id = ?")
        .bind(alias)
        .bind(user)
        .bind(friend)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn friends_of(
    conn: &mut SqliteConnection,
    user: &str,
) -> Result<Vec<FriendInfo>, HubError> {
    let rows = sqlx::query(
        "SELECT u.id, u.name, f.alias FROM friends f JOIN users u ON u.id = f.friend_id
         WHERE f.user_id = ? ORDER BY u.id",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| FriendInfo {
            id: r.get("id"),
            name: r.get("name"),
            alias: r.get("alias"),
        })
        .collect())
}

pub(crate) async fn is_blocked(
    conn: &mut SqliteConnection,
    by: &str,
    user: &str,
) -> Result<bool, HubError> {
    let row = sqlx::query("SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?")
        .bind(by)
        .bind(user)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Blocks or unblocks; false if nothing changed.
pub(crate) async fn set_blocked(
    conn: &mut SqliteConnection,
    by: &str,
    user: &str,
    blocked: bool,
    now: i64,
) -> Result<bool, HubError> {
    let done = if blocked {
        sqlx::query(
            "INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_ms) VALUES (?, ?, ?)",
        )
        .bind(by)
        .bind(user)
        .bind(now)
        .execute(conn)
        .await?
    } else {
        sqlx::query("DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?")
            .bind(by)
            .bind(user)
            .execute(conn)
            .await?
    };
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn blocked_by(
    conn: &mut SqliteConnection,
    user: &str,
) -> Result<Vec<String>, HubError> {
    let rows = sqlx::query("SELECT blocked_id FROM blocks WHERE user_id = ? ORDER BY blocked_id")
        .bind(user)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.get("blocked_id")).collect())
}

const REQUEST_COLUMNS: &str =
    "id, from_user, to_user, greeting, question, answer, status, remark, created_ms, expires_ms";

fn request_from_row(r: &SqliteRow) -> FriendRequestRow {
    FriendRequestRow {
        id: r.get("id"),
        from: r.get("from_user"),
        to: r.get("to_user"),
        greeting: r.get("greeting"),
        question: r.get("question"),
        answer: r.get("answer"),
        status: r.get("status"),
        remark: r.get("remark"),
        created_ms: r.get("created_ms"),
        expires_ms: r.get("expires_ms"),
    }
}

pub(crate) async fn insert_request(
    conn: &mut SqliteConnection,
    r: &FriendRequestRow,
) -> Result<(), HubError> {
    sqlx::query(&format!(
        "INSERT INTO friend_requests ({REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&r.id)
    .bind(&r.from)
    .bind(&r.to)
    .bind(&r.greeting)
    .bind(&r.question)
    .bind(&r.answer)
    .bind(&r.status)
    .bind(&r.remark)
    .bind(r.created_ms)
    .bind(r.expires_ms)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn request(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<FriendRequestRow>, HubError> {
    let row = sqlx::query(&format!(
        "SELECT {REQUEST_COLUMNS} FROM friend_requests WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(request_from_row))
}

/// A pending, unexpired request from `from` to `to`.
pub(crate) async fn pending_request(
    conn: &mut SqliteConnection,
    from: &str,
    to: &str,
    now: i64,
) -> Result<Option<FriendRequestRow>, HubError> {
    let row = sqlx::query(&format!(
        "SELECT {REQUEST_COLUMNS} FROM friend_requests
         WHERE from_user = ? AND to_user = ? AND status = 'pending' AND expires_ms > ?"
    ))
    .bind(from)
    .bind(to)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(request_from_row))
}

pub(crate) async fn answer_request(
    conn: &mut SqliteConnection,
    id: &str,
    accepted: bool,
    remark: Option<&str>,
    now: i64,
) -> Result<(), HubError> {
    sqlx::query("UPDATE friend_requests SET status = ?, remark = ?, answered_ms = ? WHERE id = ?")
        .bind(if accepted { "accepted" } else { "declined" })
        .bind(remark)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The pending, unexpired requests `user` sent or received, newest first.
pub(crate) async fn pending_requests_of(
    conn: &mut SqliteConnection,
    user: &str,
    now: i64,
) -> Result<Vec<FriendRequestRow>, HubError> {
    let rows = sqlx::query(&format!(
        "SELECT {REQUEST_COLUMNS} FROM friend_requests
         WHERE (to_user = ? OR from_user = ?) AND status = 'pending' AND expires_ms > ?
         ORDER BY created_ms DESC, id"
    ))
    .bind(user)
    .bind(user)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(request_from_row).collect())
}
