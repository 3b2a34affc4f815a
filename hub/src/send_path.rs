//! The send path: one writer task stores the queued sends with group commit.
//!
//! [`Hub::send`] checks what needs no database (content, client id) and queues the send.
//! The writer takes every send queued so far (up to [`MAX_BATCH`]) and, under the hub's
//! order lock, handles them in one transaction with two calls to SQLite (each call is a
//! round trip to SQLite's thread, which costs more than the SQL it carries):
//!
//! 1. `BEGIN IMMEDIATE`, then what the checks of the whole batch need: one row of facts per
//!    send (a message stored before under its client id; the sender; the direct recipient,
//!    whether it blocks the sender, friendship and the recipient's friend gate; the group,
//!    its mute-all and the sender's membership), the members of the batch's groups, and the
//!    messages stored before under the batch's client ids.
//! 2. Each send is then decided, in batch order, exactly as a lone send was: a client id
//!    used before is a duplicate (a client id repeated within the batch is a duplicate of
//!    its first send there, once that one is stored), then the sender, the recipient and
//!    the permission checks.
//! 3. One INSERT of every new message, in batch order so that their seqs follow it, and
//!    `COMMIT`.
//!
//! Only then does it deliver each new message in sequence order and answer each send. A
//! send is thus answered after its commit (durability as before), a refused send wrote
//! nothing, and nothing else that takes the order lock (kicks, mutes, blocks...) runs
//! between a send's checks and its insert; the transaction holds the write lock from its
//! start, so the insert sees the state the checks read.
//!
//! A database error, though, fails the whole batch: the transaction is rolled back and
//! every send of the batch gets the error (the client resends with the same client id).

use crate::error::HubError;
use crate::friends::direct_verdict;
use crate::groups::speak_verdict;
use crate::hub::{unsupported_kind, Hub, Sent};
use crate::ids::new_message_id;
use crate::message::{StoredMessage, Target};
use crate::registry::SessionId;
use crate::store::friends::FriendAuth;
use crate::store::groups::MemberRow;
use crate::store::messages::{insert_row, message_from_row, COLUMNS, INSERT_ROWS};
use crate::store::Role;
use futures_util::TryStreamExt;
use parley_engine::model::{Content, ConversationId, ConversationKind, MessageRef};
use serde::Deserialize;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, Either, Executor, Row, SqliteConnection};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
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

/// A send decided from the batch's facts, before the insert.
enum Decided {
    /// To insert (the insert gives its seq), then deliver to `audience`.
    New {
        message: StoredMessage,
        audience: Arc<Vec<String>>,
    },
    /// The client id was used before the batch: the original.
    Duplicate(StoredMessage),
    /// The client id of the new send at this index of the batch: a duplicate of it.
    Repeat(usize),
}

/// Runs the writer until the hub closes or every [`Hub`] is gone (the queue's senders with
/// it). Sends still queued then are answered with an error (their answer is dropped).
pub(crate) async fn run(
    hub: std::sync::Weak<crate::hub::Inner>,
    mut queue: mpsc::Receiver<QueuedSend>,
    closing: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(closing);
    // The writer's own connection (see `Store::dedicated`), opened on the first batch.
    let mut conn = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // Waits for one send, then takes whatever else is queued.
        let received = tokio::select! {
            biased;
            _ = &mut closing => 0,
            n = queue.recv_many(&mut batch, MAX_BATCH) => n,
        };
        if received == 0 {
            break;
        }
        let batch = std::mem::take(&mut batch);
        let Some(hub) = Hub::upgrade(&hub) else {
            break;
        };
        hub.commit_sends(&mut conn, batch).await;
    }
    // Closed, not just dropped: SQLite then folds the WAL into the file before the process
    // may exit.
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

impl Hub {
    /// Stores a batch of sends in one transaction, then delivers and answers them.
    async fn commit_sends(&self, conn: &mut Option<SqliteConnection>, batch: Vec<QueuedSend>) {
        let _order = self.order_lock().await;
        let staged = match self.stage_all(conn, &batch).await {
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
        conn: &mut Option<SqliteConnection>,
        batch: &[QueuedSend],
    ) -> Result<Vec<Result<Staged, HubError>>, HubError> {
        let writer = match conn {
            Some(writer) => writer,
            None => conn.insert(self.store().dedicated().await?),
        };
        let staged = stage_in_transaction(writer, batch, self.now_ms()).await;
        if staged.is_err() {
            // A failed call may have left the transaction open; when it did not (the error
            // came before the BEGIN or after the COMMIT), this fails harmlessly. A connection
            // that cannot even say whether it rolled back is replaced.
            if let Err(sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed) =
                writer.execute("ROLLBACK").await
            {
                *conn = None;
            }
        }
        staged
    }
}

/// Reads the batch's facts (opening the transaction), decides each send, then inserts the
/// new messages and commits.
async fn stage_in_transaction(
    conn: &mut SqliteConnection,
    batch: &[QueuedSend],
    now: i64,
) -> Result<Vec<Result<Staged, HubError>>, HubError> {
    let read = Read::begin(conn, batch).await?;
    let decided = decide_all(batch, &read, now)?;
    insert_and_commit(conn, decided).await
}

/// Decides each send in batch order, as it was decided alone: a client id the batch
/// stores on an earlier send makes a repeat of it, whatever else the send says.
fn decide_all(
    batch: &[QueuedSend],
    read: &Read,
    now: i64,
) -> Result<Vec<Result<Decided, HubError>>, HubError> {
    let mut stored_now: HashMap<(&str, &str), usize> = HashMap::new();
    let mut decided = Vec::with_capacity(batch.len());
    for (i, (send, facts)) in batch.iter().zip(&read.facts).enumerate() {
        let client_id = (send.sender.as_str(), send.client_id.as_str());
        let result = match stored_now.get(&client_id) {
            Some(&first) => Ok(Decided::Repeat(first)),
            None => decide(send, facts, read, now),
        };
        match result {
            Err(e) if e.is_internal() => return Err(e),
            Ok(Decided::New { .. }) => {
                stored_now.insert(client_id, i);
            }
            _ => {}
        }
        decided.push(result);
    }
    Ok(decided)
}

/// One send, from its facts: what a lone send did, in the same order.
fn decide(send: &QueuedSend, facts: &Facts, read: &Read, now: i64) -> Result<Decided, HubError> {
    let sender = send.sender.as_str();
    let to = &send.to;
    if let Some(seq) = facts.original {
        let original = read.originals.get(&seq).ok_or_else(|| {
            HubError::Store(sqlx::Error::Protocol(format!("message {seq} was not read")))
        })?;
        return Ok(Decided::Duplicate(original.clone()));
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
            speak_verdict(&to.id, sender, facts.all_muted, facts.member, now)?;
            let audience = read.audiences.get(&to.id).cloned().unwrap_or_default();
            let group = to.id.clone();
            (Target::Group { group }, audience)
        }
        _ => return Err(unsupported_kind(to)),
    };
    Ok(Decided::New {
        message: StoredMessage {
            seq: 0,
            id: new_message_id(),
            target,
            sender: sender.to_string(),
            client_id: send.client_id.clone(),
            content: send.content.clone(),
            reply_to: send.reply_to.clone(),
            extra: send.extra.clone(),
            time_ms: now,
        },
        audience,
    })
}

/// Inserts the new messages in batch order and commits, in one call; then gives each new
/// message its seq, and each repeat the message it repeats.
async fn insert_and_commit(
    conn: &mut SqliteConnection,
    decided: Vec<Result<Decided, HubError>>,
) -> Result<Vec<Result<Staged, HubError>>, HubError> {
    static INSERT_AND_COMMIT: LazyLock<String> = LazyLock::new(|| format!("{INSERT_ROWS} COMMIT;"));
    let seqs: HashMap<String, i64> = sqlx::query_as(&INSERT_AND_COMMIT)
        .bind(new_rows(&decided))
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(|(seq, id)| (id, seq))
        .collect();
    let mut staged: Vec<Result<Staged, HubError>> = Vec::with_capacity(decided.len());
    for d in decided {
        let result = match d {
            Ok(Decided::New {
                mut message,
                audience,
            }) => {
                let seq = seqs.get(&message.id).ok_or_else(|| {
                    HubError::Store(sqlx::Error::Protocol(format!(
                        "message {} got no seq",
                        message.id
                    )))
                })?;
                message.seq = *seq as u64;
                Ok(Staged::New { message, audience })
            }
            Ok(Decided::Duplicate(original)) => Ok(Staged::Duplicate(original)),
            Ok(Decided::Repeat(first)) => match &staged[first] {
                Ok(Staged::New { message, .. }) => Ok(Staged::Duplicate(message.clone())),
                _ => unreachable!("a repeat is of a new send"),
            },
            Err(e) => Err(e),
        };
        staged.push(result);
    }
    Ok(staged)
}

/// The new messages as the rows of one [`INSERT_ROWS`], in batch order.
fn new_rows(decided: &[Result<Decided, HubError>]) -> String {
    let rows: Vec<_> = decided
        .iter()
        .filter_map(|d| match d {
            Ok(Decided::New { message, .. }) => Some(insert_row(message)),
            _ => None,
        })
        .collect();
    serde_json::to_string(&rows).expect("rows serialize")
}

/// Group members by group: the audiences of the batch's group sends.
type Audiences = HashMap<String, Arc<Vec<String>>>;

/// What the checks of a batch need, read in the transaction's first call.
struct Read {
    /// One per send, in batch order.
    facts: Vec<Facts>,
    /// The members of each group the batch sends to.
    audiences: Audiences,
    /// The messages stored before the batch under its client ids, by seq.
    originals: HashMap<i64, StoredMessage>,
}

/// The first call: opens the transaction, then three statements that each take the batch's
/// sends, a JSON array of `[sender, client id, direct recipient, group]`, as their one
/// parameter: the facts, one row per send in batch order; the members of the batch's
/// groups; the messages stored before under the batch's client ids.
static READ: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"BEGIN IMMEDIATE;
        SELECT (SELECT seq FROM messages WHERE sender = s.value->>0 AND client_id = s.value->>1)
                   AS original,
               EXISTS (SELECT 1 FROM users WHERE id = s.value->>0) AS sender_known,
               r.id IS NOT NULL AS recipient_known,
               EXISTS (SELECT 1 FROM blocks WHERE user_id = s.value->>2 AND blocked_id = s.value->>0)
                   AS blocked,
               EXISTS (SELECT 1 FROM friends WHERE user_id = s.value->>0 AND friend_id = s.value->>2)
                   AS friends,
               r.friend_auth AS gate, g.all_muted, m.role, m.muted_until_ms
        FROM json_each(?) AS s
        LEFT JOIN users AS r ON r.id = s.value->>2
        LEFT JOIN "groups" AS g ON g.id = s.value->>3
        LEFT JOIN group_members AS m ON m.group_id = s.value->>3 AND m.user_id = s.value->>0
        ORDER BY s.key;
        SELECT group_id, json_group_array(user_id ORDER BY user_id) AS members
        FROM group_members WHERE group_id IN (SELECT value->>3 FROM json_each(?))
        GROUP BY group_id;
        SELECT {COLUMNS} FROM messages
        WHERE (sender, client_id) IN (SELECT value->>0, value->>1 FROM json_each(?));"#
    )
});

impl Read {
    /// Opens the batch's transaction and reads what its checks need, in one call.
    async fn begin(conn: &mut SqliteConnection, batch: &[QueuedSend]) -> Result<Read, HubError> {
        let sends: Vec<_> = batch.iter().map(send_row).collect();
        let sends = serde_json::to_string(&sends).expect("rows serialize");
        let query = sqlx::query(&READ).bind(&sends).bind(&sends).bind(&sends);
        let [_begin, facts, audiences, originals] = rows_by_statement(conn, query).await?;
        if facts.len() != batch.len() {
            return Err(HubError::Store(sqlx::Error::Protocol(format!(
                "{} rows of facts for {} sends",
                facts.len(),
                batch.len()
            ))));
        }
        Ok(Read {
            facts: facts
                .iter()
                .map(Facts::from_row)
                .collect::<Result<_, _>>()?,
            audiences: audiences
                .iter()
                .map(audience_from_row)
                .collect::<Result<_, _>>()?,
            originals: originals
                .iter()
                .map(|row| Ok((row.try_get("seq")?, message_from_row(row)?)))
                .collect::<Result<_, HubError>>()?,
        })
    }
}

/// A send as the first call reads it: sender, client id, direct recipient, group.
fn send_row(send: &QueuedSend) -> (&str, &str, Option<&str>, Option<&str>) {
    let to = Some(send.to.id.as_str());
    let (recipient, group) = match send.to.kind {
        ConversationKind::Direct => (to, None),
        ConversationKind::Group => (None, to),
        _ => (None, None),
    };
    (&send.sender, &send.client_id, recipient, group)
}

/// The rows of each of the `N` statements of `query`, run in one call.
async fn rows_by_statement<'q, const N: usize>(
    conn: &mut SqliteConnection,
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<[Vec<SqliteRow>; N], HubError> {
    let mut statements = vec![Vec::new()];
    let mut results = conn.fetch_many(query);
    while let Some(result) = results.try_next().await? {
        match result {
            // A statement is done: the next rows are the next statement's.
            Either::Left(_) => statements.push(Vec::new()),
            Either::Right(row) => statements.last_mut().expect("never empty").push(row),
        }
    }
    statements.pop();
    let count = statements.len();
    statements.try_into().map_err(|_| {
        HubError::Store(sqlx::Error::Protocol(format!(
            "{count} statements ran, not {N}"
        )))
    })
}

/// A group's members, from their JSON array.
fn audience_from_row(row: &SqliteRow) -> Result<(String, Arc<Vec<String>>), HubError> {
    let members: Vec<String> = serde_json::from_str(row.try_get("members")?).map_err(decode)?;
    Ok((row.try_get("group_id")?, Arc::new(members)))
}

/// A column read that is not what the statement gives: the hub's own failure.
fn decode(e: impl std::error::Error + Send + Sync + 'static) -> HubError {
    HubError::Store(sqlx::Error::Decode(Box::new(e)))
}

/// What a send's checks need, one row of the first call.
struct Facts {
    /// The seq of the message the sender sent before with this client id.
    original: Option<i64>,
    sender_known: bool,
    /// The direct recipient exists (false for groups).
    recipient_known: bool,
    /// The direct recipient blocks the sender.
    blocked: bool,
    /// The sender and the direct recipient are friends.
    friends: bool,
    /// The direct recipient's friend gate.
    gate: Option<String>,
    /// The group's mute-all; None when there is no such group (or the send is direct).
    all_muted: Option<bool>,
    /// The sender's membership of the group.
    member: Option<MemberRow>,
}

impl Facts {
    fn from_row(row: &SqliteRow) -> Result<Facts, HubError> {
        let role: Option<&str> = row.try_get("role")?;
        let member = match role {
            Some(role) => Some(MemberRow {
                // Spelled in the table as on the wire.
                role: Role::deserialize(
                    serde::de::value::StrDeserializer::<serde::de::value::Error>::new(role),
                )
                .map_err(decode)?,
                muted_until_ms: row.try_get("muted_until_ms")?,
            }),
            None => None,
        };
        Ok(Facts {
            original: row.try_get("original")?,
            sender_known: row.try_get("sender_known")?,
            recipient_known: row.try_get("recipient_known")?,
            blocked: row.try_get("blocked")?,
            friends: row.try_get("friends")?,
            gate: row.try_get("gate")?,
            all_muted: row.try_get("all_muted")?,
            member,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::friends::SettingsPatch;
    use crate::store::testing::sample_config;

    type Answer = oneshot::Receiver<Result<Sent, HubError>>;

    fn queued(from: &str, to: ConversationId, client_id: &str) -> (QueuedSend, Answer) {
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

    /// Commits the sends as one batch through `writer`, as the writer task does.
    async fn commit(
        hub: &Hub,
        writer: &mut Option<SqliteConnection>,
        sends: Vec<(QueuedSend, Answer)>,
    ) -> Vec<Result<Sent, HubError>> {
        let (batch, answers): (Vec<_>, Vec<_>) = sends.into_iter().unzip();
        hub.commit_sends(writer, batch).await;
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.unwrap());
        }
        results
    }

    /// The seqs of the messages pushed to a session so far, in order.
    fn pushed_seqs(feed: &mut crate::registry::SocketFeed) -> Vec<u64> {
        let mut seqs = Vec::new();
        while let Ok(frame) = feed.frames.try_recv() {
            let frame: Value = serde_json::from_str(&frame).unwrap();
            if let Some(seq) = frame["message"]["id"]["seq"].as_u64() {
                seqs.push(seq);
            }
        }
        seqs
    }

    async fn open_hub(dir: &tempfile::TempDir) -> Hub {
        Hub::open(&dir.path().join("hub.db"), &sample_config())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn sends_sharing_a_transaction_are_stored_refused_and_deduplicated_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let hub = open_hub(&dir).await;
        let direct = ConversationId::direct;
        let group = ConversationId::group;
        let mut writer = None;
        let before = commit(
            &hub,
            &mut writer,
            vec![queued("alice", direct("bot"), "c0")],
        )
        .await;
        let before = before[0].as_ref().unwrap().message.clone();
        // Changed after the writer's first transaction, through other connections: the
        // writer's connection must see them.
        // lobby: owner alice, members bob (muted here) and bot; carol is not a member.
        hub.mute("alice", "lobby", "bob", 600).await.unwrap();
        hub.set_blocked("bot", "carol", true).await.unwrap();
        let friends_only = SettingsPatch {
            friend_auth: Some(FriendAuth::Approval),
            ..SettingsPatch::default()
        };
        hub.settings("bob", friends_only).await.unwrap();
        let mut alice = hub.registry().subscribe_socket("alice");
        let mut bot = hub.registry().subscribe_socket("bot");

        let results = commit(
            &hub,
            &mut writer,
            vec![
                queued("alice", direct("bot"), "c1"),    // 0 new
                queued("carol", group("lobby"), "c2"),   // 1 not a member
                queued("alice", direct("bot"), "c1"),    // 2 repeat of 0
                queued("bob", group("lobby"), "c3"),     // 3 muted
                queued("alice", direct("nobody"), "c4"), // 4 no recipient
                queued("alice", group("nowhere"), "c5"), // 5 no group
                queued("carol", direct("bot"), "c6"),    // 6 blocked by bot
                queued("carol", direct("bob"), "c7"),    // 7 bob takes friends only
                queued("alice", direct("bot"), "c0"),    // 8 sent before the batch
                queued("alice", group("lobby"), "c9"),   // 9 new
                queued("carol", direct("alice"), "c1"),  // 10 new: another sender's c1
                queued("alice", group("lobby"), "c1"),   // 11 repeat of 0, whatever its target
                queued("ghost", direct("bot"), "c12"),   // 12 no sender
                queued("carol", direct("bot"), "c6"),    // 13 refused again: 6 stored nothing
                queued("bob", direct("alice"), "c3"),    // 14 new: 3 stored nothing
            ],
        )
        .await;

        let refusal = |i: usize| {
            let e = results[i].as_ref().err().unwrap_or_else(|| panic!("{i}"));
            (e.code(), e.to_string())
        };
        assert_eq!(
            refusal(1),
            (
                "not_permitted",
                r#""carol" is not a member of group "lobby""#.into()
            )
        );
        assert_eq!(refusal(3).0, "muted");
        assert!(refusal(3)
            .1
            .starts_with(r#""bob" is muted in group "lobby" for "#));
        assert_eq!(refusal(4), ("not_found", r#"no hub user "nobody""#.into()));
        assert_eq!(
            refusal(5),
            ("not_found", r#"no hub group "nowhere""#.into())
        );
        assert_eq!(refusal(6).0, "blocked");
        assert_eq!(refusal(7).0, "not_permitted");
        assert!(refusal(7).1.contains("friends only"), "{}", refusal(7).1);
        assert_eq!(refusal(12), ("not_found", r#"no hub user "ghost""#.into()));
        assert_eq!(refusal(13), refusal(6));

        let sent = |i: usize| results[i].as_ref().unwrap_or_else(|e| panic!("{i}: {e}"));
        let new: Vec<&Sent> = [0, 9, 10, 14].map(sent).into();
        assert!(new.iter().all(|s| !s.duplicate));
        let seqs: Vec<u64> = new.iter().map(|s| s.message.seq).collect();
        assert!(seqs[0] > before.seq, "{seqs:?}");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert_eq!(
            new.iter()
                .map(|s| s.message.content.plain_text())
                .collect::<Vec<_>>(),
            ["c1", "c9", "c1", "c3"]
        );
        for (repeat, of) in [(2, &new[0].message), (11, &new[0].message), (8, &before)] {
            assert!(sent(repeat).duplicate, "{repeat}");
            assert_eq!(&sent(repeat).message, of, "{repeat}");
        }

        // Each stored message was pushed once, in sequence order, and nothing refused.
        assert_eq!(pushed_seqs(&mut alice), seqs);
        assert_eq!(pushed_seqs(&mut bot), [seqs[0], seqs[1]]);
        let stored: Vec<u64> = hub
            .store()
            .visible_after("alice", 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(stored, [&[before.seq][..], &seqs].concat());
        assert_eq!(
            hub.store()
                .visible_after("carol", 0, 100)
                .await
                .unwrap()
                .len(),
            1
        );
        hub.close().await;
    }

    #[tokio::test]
    async fn a_database_error_fails_the_whole_batch_and_rolls_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let hub = open_hub(&dir).await;
        let mut conn = hub.store().conn().await.unwrap();
        sqlx::raw_sql(
            "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.client_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let direct = ConversationId::direct;
        let mut writer = None;
        let results = commit(
            &hub,
            &mut writer,
            vec![
                queued("alice", direct("bot"), "c1"),
                queued("alice", direct("bot"), "boom"),
            ],
        )
        .await;
        assert!(results
            .iter()
            .all(|r| r.as_ref().is_err_and(HubError::is_internal)));
        // Rolled back: the write lock is free again, c1 was not kept, and the writer's
        // connection (kept: the error was the database's answer) is out of the transaction.
        assert!(writer.is_some());
        sqlx::raw_sql("DROP TRIGGER boom")
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        let again = commit(
            &hub,
            &mut writer,
            vec![queued("alice", direct("bot"), "c1")],
        )
        .await;
        assert!(!again[0].as_ref().unwrap().duplicate);
        hub.close().await;
    }
}
