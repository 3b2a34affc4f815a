//! Users' public profiles: nickname (the user's `name`), avatar url, signature, ext.

use crate::error::HubError;
use parley_engine::model::{Profile, UserId};
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

/// The profile of `user`, or None without such a user.
pub(crate) async fn profile(
    conn: &mut SqliteConnection,
    user: &str,
) -> Result<Option<Profile>, HubError> {
    let row = sqlx::query("SELECT id, name, avatar_url, signature, ext FROM users WHERE id = ?")
        .bind(user)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let ext = match row.get::<Option<String>, _>("ext") {
        Some(text) => serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
            index: "ext".into(),
            source: Box::new(e),
        })?,
        None => Value::Null,
    };
    Ok(Some(Profile {
        user: UserId::new(row.get::<String, _>("id")),
        nickname: Some(row.get("name")),
        avatar_url: row.get("avatar_url"),
        signature: row.get("signature"),
        ext,
    }))
}

/// Stores every field of `p` (the nickname as the user's `name`).
pub(crate) async fn save_profile(conn: &mut SqliteConnection, p: &Profile) -> Result<(), HubError> {
    sqlx::query("UPDATE users SET name = ?, avatar_url = ?, signature = ?, ext = ? WHERE id = ?")
        .bind(p.nickname.as_deref().unwrap_or(p.user.as_str()))
        .bind(&p.avatar_url)
        .bind(&p.signature)
        .bind((!p.ext.is_null()).then(|| p.ext.to_string()))
        .bind(p.user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}
