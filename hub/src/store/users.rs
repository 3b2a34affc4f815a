//! Users and their login tokens.

use super::{is_unique_violation, Store};
use crate::error::HubError;
use crate::ids::now_ms;
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// A hub user with its login token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub id: String,
    /// Display name; the id when none was given.
    pub name: String,
    pub token: String,
}

fn user_from_row(row: &SqliteRow) -> UserInfo {
    UserInfo {
        id: row.get("id"),
        name: row.get("name"),
        token: row.get("token"),
    }
}

impl Store {
    pub async fn user(&self, id: &str) -> Result<Option<UserInfo>, HubError> {
        let mut conn = self.pool.acquire().await?;
        user_in(&mut conn, id).await
    }

    pub async fn user_by_token(&self, token: &str) -> Result<Option<UserInfo>, HubError> {
        let row = sqlx::query("SELECT id, name, token FROM users WHERE token = ?")
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row))
    }

    /// Inserts a new user; an existing id is a [`HubError::Conflict`].
    pub async fn insert_user(
        &self,
        id: &str,
        name: &str,
        token: &str,
    ) -> Result<UserInfo, HubError> {
        let inserted =
            sqlx::query("INSERT INTO users (id, name, token, created_ms) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(name)
                .bind(token)
                .bind(now_ms())
                .execute(&self.pool)
                .await;
        match inserted {
            Ok(_) => Ok(UserInfo {
                id: id.into(),
                name: name.into(),
                token: token.into(),
            }),
            Err(e) if is_unique_violation(&e) => Err(HubError::Conflict(format!(
                "hub user {id:?} already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) async fn user_in(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<UserInfo>, HubError> {
    let row = sqlx::query("SELECT id, name, token FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(user_from_row))
}

#[cfg(test)]
mod tests {
    use super::super::testing::seeded;

    #[tokio::test]
    async fn users_are_found_by_id_and_token_and_ids_are_unique() {
        let (store, _dir) = seeded().await;
        let dave = store.insert_user("dave", "Dave", "tok-dave").await.unwrap();
        assert_eq!(store.user("dave").await.unwrap(), Some(dave.clone()));
        assert_eq!(store.user_by_token("tok-dave").await.unwrap(), Some(dave));
        assert_eq!(store.user_by_token("nope").await.unwrap(), None);
        let err = store
            .insert_user("dave", "Other", "tok-2")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "conflict");
        assert!(err.to_string().contains("\"dave\" already exists"), "{err}");
    }
}
