//! Messages: insert with idempotency on (sender, client id), history pages, and the
//! per-user feed the adapter catches up from.

use super::Store;
use crate::error::HubError;
use crate::ids::direct_key;
use crate::message::{StoredMessage, Target};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

pub(crate) const COLUMNS: &str =
    "seq, id, conv_kind, conv_key, sender, recipient, client_id, content, reply_to, extra, time_ms";

/// A message to store; `seq` is assigned by the insert.
pub(crate) type NewMessage = StoredMessage;

/// How a message's conversation is keyed in the `messages` table.
pub(crate) fn conversation_key(target: &Target, sender: &str) -> (&'static str, String) {
    match target {
        Target::Direct { recipient } => ("direct", direct_key(sender, recipient)),
        Target::Group { group } => ("group", group.clone()),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: Box::new(e),
    })
}

/// Shown to user `?N`: not recalled, not deleted by that user for themselves.
pub(super) fn shown_to(n: u8) -> String {
    format!(
        "messages.recalled_ms IS NULL AND NOT EXISTS (SELECT 1 FROM message_hidden h
         WHERE h.message_seq = messages.seq AND h.user_id = ?{n})"
    )
}

pub(crate) fn message_from_row(row: &SqliteRow) -> Result<StoredMessage, HubError> {
    let kind: String = row.get("conv_kind");
    let target = if kind == "group" {
        Target::Group {
            group: row.get("conv_key"),
        }
    } else {
        Target::Direct {
            recipient: row.get("recipient"),
        }
    };
    let reply_to: Option<String> = row.get("reply_to");
    let extra: Option<String> = row.get("extra");
    Ok(StoredMessage {
        seq: row.get::<i64, _>("seq") as u64,
        id: row.get("id"),
        target,
        sender: row.get("sender"),
        client_id: row.get("client_id"),
        content: decode_json("content", row.get::<&str, _>("content"))?,
        reply_to: reply_to
            .as_deref()
            .map(|r| decode_json("reply_to", r))
            .transpose()?,
        extra: extra
            .as_deref()
            .map(|e| decode_json("extra", e))
            .transpose()?
            .unwrap_or_default(),
        time_ms: row.get("time_ms"),
    })
}

fn messages_from_rows(rows: &[SqliteRow]) -> Result<Vec<StoredMessage>, HubError> {
    rows.iter().map(message_from_row).collect()
}

/// Inserts the messages of a JSON array of [`insert_row`]s (its one parameter) in array
/// order, so that their seqs follow it, and returns each one's `seq, id`. A (sender, client
/// id) stored before fails the statement, which then inserts nothing: callers look the
/// client ids up first.
pub(crate) const INSERT_ROWS: &str = "INSERT INTO messages
     (id, conv_kind, conv_key, sender, recipient, client_id, content, reply_to, extra, time_ms)
     SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6,
            value->>7, value->>8, value->>9
     FROM json_each(?) ORDER BY key RETURNING seq, id;";

/// A message to store as one row of [`INSERT_ROWS`] (`seq` is assigned by the insert).
pub(crate) fn insert_row(message: &NewMessage) -> impl serde::Serialize + '_ {
    let (kind, key) = conversation_key(&message.target, &message.sender);
    let recipient = match &message.target {
        Target::Direct { recipient } => Some(recipient.as_str()),
        Target::Group { .. } => None,
    };
    let json = |v: &serde_json::Value| serde_json::to_string(v).expect("JSON values serialize");
    let content = serde_json::to_string(&message.content).expect("content serializes");
    let reply_to = message
        .reply_to
        .as_ref()
        .map(|r| serde_json::to_string(r).expect("refs serialize"));
    let extra = (!message.extra.is_null()).then(|| json(&message.extra));
    (
        &message.id,
        kind,
        key,
        &message.sender,
        recipient,
        &message.client_id,
        content,
        reply_to,
        extra,
        message.time_ms,
    )
}

impl Store {
    /// The message `sender` already sent with `client_id`, if any.
    #[cfg(test)]
    pub async fn message_by_client_id(
        &self,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<StoredMessage>, HubError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE sender = ? AND client_id = ?"
        ))
        .bind(sender)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// Stores a message with [`INSERT_ROWS`] and returns it with its sequence. A (sender,
    /// client id) stored before is a [`HubError::Conflict`].
    #[cfg(test)]
    pub async fn insert_message(&self, message: NewMessage) -> Result<StoredMessage, HubError> {
        let rows = serde_json::to_string(&[insert_row(&message)]).expect("rows serialize");
        let inserted = sqlx::query_scalar::<_, i64>(INSERT_ROWS)
            .bind(rows)
            .fetch_one(&self.pool)
            .await;
        match inserted {
            Ok(seq) => Ok(StoredMessage {
                seq: seq as u64,
                ..message
            }),
            Err(e) if super::is_unique_violation(&e) => Err(HubError::Conflict(format!(
                "{:?} already sent a message with client id {:?}",
                message.sender, message.client_id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Up to `limit` messages of one conversation shown to `viewer`, after `after_seq` and
    /// before `before_seq` (None = the latest), oldest first, and whether older ones remain.
    pub async fn history(
        &self,
        viewer: &str,
        conv_kind: &str,
        conv_key: &str,
        after_seq: u64,
        before_seq: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<StoredMessage>, bool), HubError> {
        let before = before_seq
            .map(|s| s.min(i64::MAX as u64) as i64)
            .unwrap_or(i64::MAX);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conv_kind = ?2 AND conv_key = ?3 AND seq > ?4
             AND seq < ?5 AND {} ORDER BY seq DESC LIMIT ?6",
            shown_to(1)
        ))
        .bind(viewer)
        .bind(conv_kind)
        .bind(conv_key)
        .bind(after_seq.min(i64::MAX as u64) as i64)
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut messages = messages_from_rows(&rows)?;
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        messages.reverse();
        Ok((messages, has_more))
    }

    /// Up to `limit` messages `user` can see (its direct messages, both ways, and those of
    /// the groups it is in now) with a sequence above `after`, oldest first.
    pub async fn visible_after(
        &self,
        user: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, HubError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages
             WHERE seq > ?1 AND (
                 (conv_kind = 'direct' AND (sender = ?2 OR recipient = ?2))
                 OR (conv_kind = 'group' AND EXISTS (SELECT 1 FROM group_members m
                     WHERE m.group_id = conv_key AND m.user_id = ?2 AND seq > m.history_from_seq)))
             AND {} ORDER BY seq LIMIT ?3",
            shown_to(2)
        ))
        .bind(after.min(i64::MAX as u64) as i64)
        .bind(user)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        messages_from_rows(&rows)
    }

    /// The highest sequence stored so far (0 when there are no messages).
    pub async fn latest_seq(&self) -> Result<u64, HubError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM messages")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>("seq") as u64)
    }

    /// The last message of each direct conversation `user` took part in, newest first.
    pub async fn last_direct_messages(&self, user: &str) -> Result<Vec<StoredMessage>, HubError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE seq IN (
                 SELECT MAX(seq) FROM messages
                 WHERE conv_kind = 'direct' AND (sender = ?1 OR recipient = ?1) AND {}
                 GROUP BY conv_key)
             ORDER BY seq DESC",
            shown_to(1)
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        messages_from_rows(&rows)
    }

    /// The last message of a group shown to `viewer`, if it has any.
    pub async fn last_group_message(
        &self,
        viewer: &str,
        group: &str,
    ) -> Result<Option<StoredMessage>, HubError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conv_kind = 'group' AND conv_key = ?2
             AND seq > (SELECT COALESCE(MAX(history_from_seq), 0) FROM group_members
                        WHERE group_id = ?2 AND user_id = ?1)
             AND {} ORDER BY seq DESC LIMIT 1",
            shown_to(1)
        ))
        .bind(viewer)
        .bind(group)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(message_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::seeded;
    use super::*;
    use parley_engine::model::Content;
    use serde_json::{json, Value};

    fn new(sender: &str, target: Target, client_id: &str, text: &str) -> NewMessage {
        StoredMessage {
            seq: 0,
            id: crate::ids::new_message_id(),
            target,
            sender: sender.into(),
            client_id: client_id.into(),
            content: Content::text(text),
            reply_to: None,
            extra: Value::Null,
            time_ms: 1,
        }
    }

    fn to(user: &str) -> Target {
        Target::Direct {
            recipient: user.into(),
        }
    }

    fn texts(messages: &[StoredMessage]) -> Vec<String> {
        messages.iter().map(|m| m.content.plain_text()).collect()
    }

    #[tokio::test]
    async fn inserts_get_increasing_sequences_and_round_trip() {
        let (store, _dir) = seeded().await;
        assert_eq!(store.latest_seq().await.unwrap(), 0);
        let mut m = new("alice", to("bot"), "c1", "hi");
        m.extra = json!({"x": 1});
        m.reply_to = Some(parley_engine::model::MessageRef::new("m0"));
        let a = store.insert_message(m).await.unwrap();
        let b = store
            .insert_message(new("bot", to("alice"), "c1", "hello"))
            .await
            .unwrap();
        assert!(b.seq > a.seq);
        assert_eq!(store.latest_seq().await.unwrap(), b.seq);
        assert_eq!(
            store.message_by_client_id("alice", "c1").await.unwrap(),
            Some(a)
        );
    }

    #[tokio::test]
    async fn a_repeated_client_id_of_the_same_sender_is_a_conflict() {
        let (store, _dir) = seeded().await;
        store
            .insert_message(new("alice", to("bot"), "c1", "hi"))
            .await
            .unwrap();
        let err = store
            .insert_message(new("alice", to("bob"), "c1", "again"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "conflict");
        // Another sender may use the same client id.
        store
            .insert_message(new("bob", to("bot"), "c1", "hi"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn history_pages_backwards_and_returns_oldest_first() {
        let (store, _dir) = seeded().await;
        for i in 0..5 {
            let (from, peer) = if i % 2 == 0 {
                ("alice", "bot")
            } else {
                ("bot", "alice")
            };
            store
                .insert_message(new(from, to(peer), &format!("c{i}"), &format!("m{i}")))
                .await
                .unwrap();
        }
        store
            .insert_message(new("alice", to("bob"), "other", "elsewhere"))
            .await
            .unwrap();

        let key = direct_key("alice", "bot");
        let (page, more) = store
            .history("alice", "direct", &key, 0, None, 2)
            .await
            .unwrap();
        assert_eq!((texts(&page), more), (vec!["m3".into(), "m4".into()], true));
        let (page, more) = store
            .history("alice", "direct", &key, 0, Some(page[0].seq), 2)
            .await
            .unwrap();
        assert_eq!((texts(&page), more), (vec!["m1".into(), "m2".into()], true));
        let (page, more) = store
            .history("alice", "direct", &key, 0, Some(page[0].seq), 2)
            .await
            .unwrap();
        assert_eq!((texts(&page), more), (vec!["m0".into()], false));
        let (page, more) = store
            .history("alice", "direct", &key, 0, None, 5)
            .await
            .unwrap();
        assert_eq!((page.len(), more), (5, false));
    }

    #[tokio::test]
    async fn a_user_sees_its_direct_messages_and_its_groups_only() {
        let (store, _dir) = seeded().await;
        let lobby = || Target::Group {
            group: "lobby".into(),
        };
        let m1 = store
            .insert_message(new("alice", to("bot"), "1", "to bot"))
            .await
            .unwrap();
        store
            .insert_message(new("alice", to("carol"), "2", "to carol"))
            .await
            .unwrap();
        store
            .insert_message(new("bob", lobby(), "3", "in lobby"))
            .await
            .unwrap();
        store
            .insert_message(new("bot", to("bob"), "4", "from bot"))
            .await
            .unwrap();

        let seen = store.visible_after("bot", 0, 10).await.unwrap();
        assert_eq!(texts(&seen), vec!["to bot", "in lobby", "from bot"]);
        let seen = store.visible_after("bot", m1.seq, 1).await.unwrap();
        assert_eq!(texts(&seen), vec!["in lobby"]);
        assert_eq!(
            texts(&store.visible_after("carol", 0, 10).await.unwrap()),
            vec!["to carol"]
        );
    }

    #[tokio::test]
    async fn last_messages_per_conversation() {
        let (store, _dir) = seeded().await;
        store
            .insert_message(new("alice", to("bot"), "1", "a1"))
            .await
            .unwrap();
        store
            .insert_message(new("bob", to("alice"), "2", "b1"))
            .await
            .unwrap();
        store
            .insert_message(new("bot", to("alice"), "3", "a2"))
            .await
            .unwrap();
        let last = store.last_direct_messages("alice").await.unwrap();
        assert_eq!(texts(&last), vec!["a2", "b1"]);
        assert_eq!(
            store.last_group_message("alice", "lobby").await.unwrap(),
            None
        );
    }
}
