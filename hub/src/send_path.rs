//! The send path: one writer task stores the queued sends with group commit.
//!
//! [`Hub::send`] checks what needs no database (content, client id) and queues the send.
//! The writer takes every send queued so far (up to [`MAX_BATCH`]), and under the hub's
//! order lock, in one transaction, handles each in turn exactly as a lone send was handled:
//! the client-id lookup (which sees the batch's own inserts, so a client id repeated within
//! a batch is a duplicate too), the sender, the recipient and the permission checks, then
//! the insert. Then it commits once, and only then delivers each new message in sequence
//! order and answers each send. A send is thus answered after its commit (durability as
//! before), a refused send wrote nothing, and nothing else that takes the order lock
//! (kicks, mutes, blocks...) runs between a send's checks and its insert.
//!
//! Each send writes at most one row, with one statement; SQLite undoes a statement that
//! fails on its own, so a refused or failed send cannot leave part of itself behind and the
//! sends around it need no savepoints. A database error, though, may have ended the
//! transaction, so it fails the whole batch: nothing is committed and every send of the
//! batch gets the error (the client resends with the same client id).

use crate::error::HubError;
use crate::friends::direct_verdict;
use crate::groups::check_speak;
use crate::hub::{unsupported_kind, Hub, Sent};
use crate::ids::new_message_id;
use crate::message::{StoredMessage, Target};
use crate::registry::SessionId;
use crate::store::friends::FriendAuth;
use crate::store::groups::member_ids_in;
use crate::store::messages::{insert_message, message_by_client_id};
use parley_engine::model::{Content, ConversationId, ConversationKind, MessageRef};
use serde_json::Value;
use sqlx::{Row, SqliteConnection};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// At most this many sends share one transaction.
pub(crate) const MAX_BATCH: usize = 256;
/// Sends queued beyond this make senders wait for room.
pub(crate) const QUEUE: usize = 4096;

/// A send checked for what needs no database, waiting for the writer.
pub(crate) struct QueuedSend {
    pub sender: String,
    pub to: ConversationId,
    pub content: Content,
    pub client_id: String,
    pub reply_to: Option<MessageRef>,
    pub extra: Value,
    /// The sender's session, which gets the answer instead of a pushed copy.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<Sent, HubError>>,
}

/// What a send became inside the batch's transaction.
enum Staged {
    /// Stored now: delivered to `audience` after the commit.
    New {
        message: StoredMessage,
        audience: Arc<Vec<String>>,
    },
    /// The sender's client id was used before: the original.
    Duplicate(StoredMessage),
}

/// Runs the writer until every [`Hub`] is gone (the queue's senders with it).
pub(crate) async fn run(
    hub: std::sync::Weak<crate::hub::Inner>,
    mut queue: mpsc::Receiver<QueuedSend>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(send) => batch.push(send),
                Err(_) => break,
            }
        }
        let Some(hub) = Hub::upgrade(&hub) else {
            break;
        };
        hub.commit_sends(batch).await;
    }
}

impl Hub {
    /// Stores a batch of sends in one transaction, then delivers and answers them.
    async fn commit_sends(&self, batch: Vec<QueuedSend>) {
        let _order = self.order_lock().await;
        let staged = match self.stage_all(&batch).await {
            Ok(staged) => staged,
            Err(e) => {
                tracing::error!(error = %e, sends = batch.len(), "hub send batch failed");
                let message = e.to_string();
                for send in batch {
                    let e = HubError::Store(sqlx::Error::Protocol(message.clone()));
                    let _ = send.reply.send(Err(e));
                }
                return;
            }
        };
        for (send, result) in batch.into_iter().zip(staged) {
            let answer = match result {
                Ok(Staged::New { message, audience }) => {
                    let message = Arc::new(message);
                    self.registry()
                        .deliver(&message, &audience, send.origin)
                        .await;
                    Ok(Sent {
                        message,
                        duplicate: false,
                    })
                }
                Ok(Staged::Duplicate(original)) => Ok(Sent {
                    message: Arc::new(original),
                    duplicate: true,
                }),
                Err(e) => Err(e),
            };
            // A sender that gave up (its session ended) no longer waits for the answer.
            let _ = send.reply.send(answer);
        }
    }

    /// Every send's outcome, in batch order, once the transaction is committed; `Err` when
    /// the database failed and nothing was committed.
    async fn stage_all(
        &self,
        batch: &[QueuedSend],
    ) -> Result<Vec<Result<Staged, HubError>>, HubError> {
        let mut tx = self.store().begin_immediate().await?;
        let mut audiences = Audiences::new();
        let mut staged = Vec::with_capacity(batch.len());
        for send in batch {
            match self.stage(&mut tx, &mut audiences, send).await {
                Err(e) if e.is_internal() => return Err(e),
                result => staged.push(result),
            }
        }
        tx.commit().await?;
        Ok(staged)
    }

    /// One send inside the batch's transaction: what a lone send did, in the same order.
    async fn stage(
        &self,
        conn: &mut SqliteConnection,
        audiences: &mut Audiences,
        send: &QueuedSend,
    ) -> Result<Staged, HubError> {
        let sender = send.sender.as_str();
        let to = &send.to;
        let facts = Facts::read(conn, send).await?;
        if facts.duplicate {
            let original = message_by_client_id(conn, sender, &send.client_id)
                .await?
                .ok_or_else(|| HubError::Store(sqlx::Error::RowNotFound))?;
            return Ok(Staged::Duplicate(original));
        }
        if !facts.sender_known {
            return Err(HubError::NotFound(format!("no hub user {sender:?}")));
        }
        let (target, audience) = match to.kind {
            ConversationKind::Direct => {
                if !facts.recipient_known {
                    return Err(HubError::NotFound(format!("no hub user {:?}", to.id)));
                }
                let gate = FriendAuth::parse(facts.gate.as_deref().unwrap_or_default());
                direct_verdict(sender, &to.id, facts.blocked, facts.friends, gate)?;
                let mut audience = vec![sender.to_string(), to.id.clone()];
                audience.dedup();
                let recipient = to.id.clone();
                (Target::Direct { recipient }, Arc::new(audience))
            }
            ConversationKind::Group => {
                check_speak(conn, &to.id, sender, self.now_ms()).await?;
                let audience = match audiences.get(&to.id) {
                    Some(audience) => audience.clone(),
                    None => {
                        let members = Arc::new(member_ids_in(conn, &to.id, false).await?);
                        audiences.insert(to.id.clone(), members.clone());
                        members
                    }
                };
                let group = to.id.clone();
                (Target::Group { group }, audience)
            }
            _ => return Err(unsupported_kind(to)),
        };
        let message = insert_message(
            conn,
            StoredMessage {
                seq: 0,
                id: new_message_id(),
                target,
                sender: sender.to_string(),
                client_id: send.client_id.clone(),
                content: send.content.clone(),
                reply_to: send.reply_to.clone(),
                extra: send.extra.clone(),
                time_ms: self.now_ms(),
            },
        )
        .await?;
        Ok(Staged::New { message, audience })
    }
}

/// Group members looked up once per batch: the transaction holds the write lock, so a
/// second lookup would read the same rows.
type Audiences = HashMap<String, Arc<Vec<String>>>;

/// What a send's checks need, read with one query (each query is a round trip to SQLite's
/// thread, and the writer runs them one after another).
struct Facts {
    /// The sender used this client id before.
    duplicate: bool,
    sender_known: bool,
    /// The direct recipient exists (false for groups).
    recipient_known: bool,
    /// The direct recipient blocks the sender.
    blocked: bool,
    /// The sender and the direct recipient are friends.
    friends: bool,
    /// The direct recipient's friend gate.
    gate: Option<String>,
}

impl Facts {
    async fn read(conn: &mut SqliteConnection, send: &QueuedSend) -> Result<Facts, HubError> {
        let recipient = (send.to.kind == ConversationKind::Direct).then_some(send.to.id.as_str());
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE sender = ?1 AND client_id = ?2) AS duplicate,
                    EXISTS (SELECT 1 FROM users WHERE id = ?1) AS sender_known,
                    EXISTS (SELECT 1 FROM users WHERE id = ?3) AS recipient_known,
                    EXISTS (SELECT 1 FROM blocks WHERE user_id = ?3 AND blocked_id = ?1) AS blocked,
                    EXISTS (SELECT 1 FROM friends WHERE user_id = ?1 AND friend_id = ?3) AS friends,
                    (SELECT friend_auth FROM users WHERE id = ?3) AS gate",
        )
        .bind(&send.sender)
        .bind(&send.client_id)
        .bind(recipient)
        .fetch_one(conn)
        .await?;
        Ok(Facts {
            duplicate: row.get("duplicate"),
            sender_known: row.get("sender_known"),
            recipient_known: row.get("recipient_known"),
            blocked: row.get("blocked"),
            friends: row.get("friends"),
            gate: row.get("gate"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::sample_config;

    fn queued(
        from: &str,
        to: ConversationId,
        client_id: &str,
    ) -> (QueuedSend, oneshot::Receiver<Result<Sent, HubError>>) {
        let (reply, answer) = oneshot::channel();
        let send = QueuedSend {
            sender: from.into(),
            to,
            content: Content::text(client_id),
            client_id: client_id.into(),
            reply_to: None,
            extra: Value::Null,
            origin: None,
            reply,
        };
        (send, answer)
    }

    #[tokio::test]
    async fn sends_sharing_a_transaction_are_stored_refused_and_deduplicated_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&dir.path().join("hub.db"), &sample_config())
            .await
            .unwrap();
        let mut bot = hub.registry().subscribe_socket("bot");
        let (batch, answers): (Vec<_>, Vec<_>) = [
            queued("alice", ConversationId::direct("bot"), "c1"),
            queued("carol", ConversationId::group("lobby"), "c2"),
            queued("alice", ConversationId::direct("bot"), "c1"),
            queued("bob", ConversationId::group("lobby"), "c3"),
            queued("alice", ConversationId::direct("nobody"), "c4"),
            queued("alice", ConversationId::direct("bot"), "c1"),
            queued("alice", ConversationId::direct("bot"), "c5"),
        ]
        .into_iter()
        .unzip();
        hub.commit_sends(batch).await;
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.unwrap());
        }
        let code = |i: usize| results[i].as_ref().map_err(HubError::code).err();
        assert_eq!(code(1), Some("not_permitted"));
        assert_eq!(code(4), Some("not_found"));
        let c1: Vec<&Sent> = [0, 2, 5].map(|i| results[i].as_ref().unwrap()).into();
        assert!(!c1[0].duplicate && c1[1].duplicate && c1[2].duplicate);
        assert!(c1.iter().all(|s| s.message == c1[0].message));
        assert!(!results[3].as_ref().unwrap().duplicate);
        assert!(!results[6].as_ref().unwrap().duplicate);
        // bot got each stored message once, in sequence order, and nothing refused.
        let mut seqs = Vec::new();
        while let Ok(frame) = bot.frames.try_recv() {
            let frame: Value = serde_json::from_str(&frame).unwrap();
            seqs.push(frame["message"]["id"]["seq"].as_u64().unwrap());
        }
        assert_eq!(seqs.len(), 3, "c1, c3 and c5");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let (direct, _) = hub
            .history("bot", &ConversationId::direct("alice"), None, None)
            .await
            .unwrap();
        assert_eq!(direct.len(), 2);
        let (lobby, _) = hub
            .history("bot", &ConversationId::group("lobby"), None, None)
            .await
            .unwrap();
        assert_eq!(lobby.len(), 1);
        assert_eq!(lobby[0].sender.as_str(), "bob");
        hub.close().await;
    }
}
