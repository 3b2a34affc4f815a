//! Applies `[hub]` config to the database at start: upserts users and groups.

use super::users::user_in;
use super::Store;
use crate::config::{HubConfig, HubGroupConfig};
use crate::error::HubError;
use crate::ids::{new_token, now_ms};
use sqlx::{Row, SqliteConnection};

impl Store {
    /// Upserts config users and groups in one transaction: either all of it applies or none.
    ///
    /// Users: a config name or token replaces the stored one; a user without either keeps
    /// what is stored (so generated tokens stay stable across restarts). Groups: name and
    /// owner follow the config; config members are added, members added otherwise are kept.
    pub async fn apply_config(&self, config: &HubConfig) -> Result<(), HubError> {
        config.validate().map_err(HubError::Config)?;
        let mut tx = self.pool.begin().await?;
        for user in &config.users {
            let stored = user_in(&mut tx, &user.id).await?;
            let name = user
                .name
                .clone()
                .or(stored.as_ref().map(|s| s.name.clone()))
                .unwrap_or(user.id.clone());
            let token = match (&user.token, &stored) {
                (Some(token), _) => token.clone(),
                (None, Some(stored)) => stored.token.clone(),
                (None, None) => new_token(),
            };
            let holder = sqlx::query("SELECT id FROM users WHERE token = ? AND id <> ?")
                .bind(&token)
                .bind(&user.id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(holder) = holder {
                let other: String = holder.get("id");
                return Err(HubError::Config(format!(
                    "the token of hub user {:?} is already the token of user {other:?}",
                    user.id
                )));
            }
            sqlx::query(
                "INSERT INTO users (id, name, token, created_ms) VALUES (?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, token = excluded.token",
            )
            .bind(&user.id)
            .bind(&name)
            .bind(&token)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        for group in &config.groups {
            upsert_group(&mut tx, group).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn upsert_group(conn: &mut SqliteConnection, group: &HubGroupConfig) -> Result<(), HubError> {
    for (what, user) in
        std::iter::once(("owner", &group.owner)).chain(group.members.iter().map(|m| ("member", m)))
    {
        if user_in(conn, user).await?.is_none() {
            return Err(HubError::Config(format!(
                "hub group {:?}: {what} {user:?} is not a hub user (add it under [[hub.users]])",
                group.id
            )));
        }
    }
    let now = now_ms();
    sqlx::query(
        r#"INSERT INTO "groups" (id, name, owner, created_ms) VALUES (?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner"#,
    )
    .bind(&group.id)
    .bind(group.name.as_deref().unwrap_or(&group.id))
    .bind(&group.owner)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // A changed owner: the previous one stays as a plain member.
    sqlx::query("UPDATE group_members SET role = 'member' WHERE group_id = ? AND role = 'owner' AND user_id <> ?")
        .bind(&group.id)
        .bind(&group.owner)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id, role, joined_ms) VALUES (?, ?, 'owner', ?)
         ON CONFLICT (group_id, user_id) DO UPDATE SET role = 'owner'",
    )
    .bind(&group.id)
    .bind(&group.owner)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for member in group.members.iter().filter(|m| **m != group.owner) {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, role, joined_ms) VALUES (?, ?, 'member', ?)
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(&group.id)
        .bind(member)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::sample_config;
    use super::*;
    use crate::config::HubUserConfig;

    #[tokio::test]
    async fn generated_tokens_are_stable_across_reopen_and_config_tokens_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("hub.db");
        let config = sample_config();

        let store = Store::open(&path).await.unwrap();
        store.apply_config(&config).await.unwrap();
        let first = store.user("alice").await.unwrap().unwrap();
        assert_eq!(first.name, "alice", "the name defaults to the id");
        store.close().await;

        let store = Store::open(&path).await.unwrap();
        store.apply_config(&config).await.unwrap();
        assert_eq!(
            store.user("alice").await.unwrap().unwrap().token,
            first.token
        );
        store.close().await;

        let mut config = config;
        config.users[0] = HubUserConfig {
            id: "alice".into(),
            name: Some("Alice".into()),
            token: Some("fixed".into()),
        };
        let store = Store::open(&path).await.unwrap();
        store.apply_config(&config).await.unwrap();
        let alice = store.user("alice").await.unwrap().unwrap();
        assert_eq!(
            (alice.name.as_str(), alice.token.as_str()),
            ("Alice", "fixed")
        );
    }

    #[tokio::test]
    async fn a_group_member_that_is_not_a_user_is_named_and_nothing_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
        let mut config = sample_config();
        config.groups[0].members.push("zed".into());
        let err = store.apply_config(&config).await.unwrap_err();
        assert!(matches!(err, HubError::Config(_)));
        assert!(
            err.to_string()
                .contains("hub group \"lobby\": member \"zed\" is not a hub user"),
            "{err}"
        );
        assert_eq!(
            store.user("alice").await.unwrap(),
            None,
            "the transaction rolled back"
        );

        let mut config = sample_config();
        config.groups[0].owner = "ghost".into();
        let err = store.apply_config(&config).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("owner \"ghost\" is not a hub user"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_config_token_held_by_another_stored_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
        store.insert_user("dave", "Dave", "shared").await.unwrap();
        let config = HubConfig {
            users: vec![HubUserConfig {
                id: "alice".into(),
                name: None,
                token: Some("shared".into()),
            }],
            groups: vec![],
            ..HubConfig::default()
        };
        let err = store.apply_config(&config).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("already the token of user \"dave\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn changing_the_owner_keeps_the_old_owner_as_member() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
        let mut config = sample_config();
        store.apply_config(&config).await.unwrap();
        config.groups[0].owner = "bob".into();
        store.apply_config(&config).await.unwrap();
        let lobby = store.groups_of("alice").await.unwrap().remove(0);
        let roles: Vec<_> = lobby
            .members
            .iter()
            .flatten()
            .map(|m| (m.id.as_str(), m.role.as_str()))
            .collect();
        assert_eq!(lobby.owner, "bob");
        assert_eq!(
            roles,
            vec![("bob", "owner"), ("alice", "member"), ("bot", "member")]
        );
    }
}
