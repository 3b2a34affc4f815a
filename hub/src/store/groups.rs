//! Groups and their members.

use super::Store;
use crate::error::HubError;
use serde::Serialize;
use sqlx::Row;

/// A group with its members, as the `groups` request returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub members: Vec<MemberInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    pub id: String,
    pub name: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
}

impl Store {
    /// The group's name, or None if there is no such group.
    pub async fn group_name(&self, group: &str) -> Result<Option<String>, HubError> {
        let row = sqlx::query(r#"SELECT name FROM "groups" WHERE id = ?"#)
            .bind(group)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("name")))
    }

    pub async fn is_member(&self, group: &str, user: &str) -> Result<bool, HubError> {
        let row = sqlx::query("SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn member_ids(&self, group: &str) -> Result<Vec<String>, HubError> {
        let rows =
            sqlx::query("SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id")
                .bind(group)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| r.get("user_id")).collect())
    }

    /// The groups `user` belongs to, by id, each with all its members (owner first).
    pub async fn groups_of(&self, user: &str) -> Result<Vec<GroupInfo>, HubError> {
        let rows = sqlx::query(
            r#"SELECT g.id, g.name, g.owner, u.id AS member, u.name AS member_name, m.role
               FROM "groups" g
               JOIN group_members mine ON mine.group_id = g.id AND mine.user_id = ?
               JOIN group_members m ON m.group_id = g.id
               JOIN users u ON u.id = m.user_id
               ORDER BY g.id, m.role = 'owner' DESC, m.role = 'admin' DESC, u.id"#,
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        let mut groups: Vec<GroupInfo> = Vec::new();
        for row in rows {
            let id: String = row.get("id");
            if groups.last().map(|g| g.id != id).unwrap_or(true) {
                groups.push(GroupInfo {
                    id,
                    name: row.get("name"),
                    owner: row.get("owner"),
                    members: vec![],
                });
            }
            let member = MemberInfo {
                id: row.get("member"),
                name: row.get("member_name"),
                role: row.get("role"),
            };
            groups
                .last_mut()
                .expect("pushed above")
                .members
                .push(member);
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::seeded;

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
        let members: Vec<_> = lobby
            .members
            .iter()
            .map(|m| (m.id.as_str(), m.role.as_str()))
            .collect();
        assert_eq!(
            members,
            vec![("alice", "owner"), ("bob", "member"), ("bot", "member")]
        );
        assert!(store.groups_of("carol").await.unwrap().is_empty());
        assert!(store.is_member("lobby", "bob").await.unwrap());
        assert!(!store.is_member("lobby", "carol").await.unwrap());
        assert_eq!(store.group_name("nope").await.unwrap(), None);
    }
}
