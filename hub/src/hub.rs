//! The hub itself: the operations sessions and the adapter call, over the store and the
//! registry of who is online.

use crate::clock::Clock;
use crate::config::{DevicePolicy, HubConfig};
use crate::error::HubError;
use crate::ids::{check_id, new_client_id, new_token, MAX_CLIENT_ID_LEN};
use crate::message::StoredMessage;
use crate::protocol::ConversationSummary;
use crate::registry::{Registry, SessionId};
use crate::send_path::{self, QueuedSend};
use crate::store::{GroupInfo, Store, UserInfo};
use parley_engine::model::{Content, ConversationId, Message, MessageRef};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const DEFAULT_HISTORY_LIMIT: u32 = 50;
pub(crate) const MAX_HISTORY_LIMIT: u32 = 200;
const MAX_NAME_LEN: usize = 128;

/// Tunables of the hub's rules; `HubOptions::default()` is what `parley run` uses.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// How long after sending a sender may recall a message (owner and admins may recall
    /// members' group messages at any time). Default 2 minutes.
    pub recall_window: Duration,
    /// How long a friend request waits for an answer. Default 7 days
    /// (`friend_request_ttl_secs` in the config).
    pub friend_request_ttl: Duration,
    /// Whether a user may be logged in on several devices (`device_policy` in the config).
    pub device_policy: DevicePolicy,
    /// The hub's time; tests advance it instead of waiting.
    pub clock: Clock,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            recall_window: Duration::from_secs(120),
            friend_request_ttl: Duration::from_secs(7 * 24 * 3600),
            device_policy: DevicePolicy::Multiple,
            clock: Clock::default(),
        }
    }
}

impl HubOptions {
    /// The defaults with the settings of the `[hub]` config applied.
    pub fn from_config(config: &HubConfig) -> Self {
        let defaults = HubOptions::default();
        HubOptions {
            friend_request_ttl: config
                .friend_request_ttl_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.friend_request_ttl),
            device_policy: config.device_policy,
            ..defaults
        }
    }
}

/// Parley's embedded IM service. Cheap to clone: all clones share one database and one
/// set of online sessions.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    store: Store,
    registry: Registry,
    options: HubOptions,
    /// Held from a message's (or event's) insert to the end of its fan-out, so that sequence order,
    /// commit order and delivery order are one and the same for every session.
    send_lock: tokio::sync::Mutex<()>,
    /// Set by [`Hub::close`]; every WebSocket session, logged in or not, ends on it.
    closing: tokio::sync::watch::Sender<bool>,
    /// The send path's writer task (see `send_path`).
    sends: tokio::sync::mpsc::Sender<QueuedSend>,
    /// The writer task, awaited by [`Hub::close`] so that its connection is closed too.
    writer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A message to send, as a session or the adapter asks for it.
#[derive(Debug)]
pub(crate) struct SendRequest {
    pub to: ConversationId,
    pub content: Content,
    /// The sender's idempotency key; generated when absent.
    pub client_id: Option<String>,
    pub reply_to: Option<MessageRef>,
    pub extra: Value,
}

#[derive(Debug)]
pub(crate) struct Sent {
    pub message: Arc<StoredMessage>,
    /// The sender had already sent this client id: this is the original, not re-delivered.
    pub duplicate: bool,
}

impl Hub {
    /// Opens (creating) the hub's SQLite file, runs its migrations and upserts the config's
    /// users and groups. A config user without a token gets a generated one, stored and
    /// stable across restarts; a config token replaces the stored one. Configuration errors
    /// (a group owner or member that is not a user, a duplicate id) name the culprit.
    pub async fn open(db_path: &Path, config: &HubConfig) -> Result<Hub, HubError> {
        Self::open_with(db_path, config, HubOptions::from_config(config)).await
    }

    /// [`Hub::open`] with explicit [`HubOptions`] (which take the place of the config's
    /// `device_policy` and `friend_request_ttl_secs`).
    pub async fn open_with(
        db_path: &Path,
        config: &HubConfig,
        options: HubOptions,
    ) -> Result<Hub, HubError> {
        config.validate().map_err(HubError::Config)?;
        let store = Store::open(db_path).await?;
        if let Err(e) = store.apply_config(config).await {
            store.close().await;
            return Err(e);
        }
        tracing::info!(db = %db_path.display(), users = config.users.len(), groups = config.groups.len(), "hub open");
        let (sends, queue) = tokio::sync::mpsc::channel(send_path::QUEUE);
        let inner = Arc::new(Inner {
            store,
            registry: Registry::default(),
            options,
            send_lock: tokio::sync::Mutex::new(()),
            closing: tokio::sync::watch::channel(false).0,
            sends,
            writer: std::sync::Mutex::default(),
        });
        let hub = Hub { inner };
        let closing = hub.closing();
        let writer = tokio::spawn(send_path::run(Arc::downgrade(&hub.inner), queue, closing));
        *hub.inner.writer.lock().expect("writer lock") = Some(writer);
        Ok(hub)
    }

    /// The hub behind a weak reference, while any clone of it is alive.
    pub(crate) fn upgrade(inner: &std::sync::Weak<Inner>) -> Option<Hub> {
        inner.upgrade().map(|inner| Hub { inner })
    }

    /// Creates a user with a generated token. Ids are 1-64 characters of `[A-Za-z0-9_.-]`;
    /// the name defaults to the id.
    pub async fn create_user(&self, id: &str, name: Option<&str>) -> Result<UserInfo, HubError> {
        check_id(id).map_err(|e| HubError::Invalid(format!("user id {id:?}: {e}")))?;
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(id);
        if name.chars().count() > MAX_NAME_LEN {
            return Err(HubError::Invalid(format!(
                "user name must be at most {MAX_NAME_LEN} characters"
            )));
        }
        let user = self.store().insert_user(id, name, &new_token()).await?;
        tracing::info!(user = id, "hub user created");
        Ok(user)
    }

    /// The login token of a user, or None if there is no such user.
    pub async fn user_token(&self, id: &str) -> Result<Option<String>, HubError> {
        Ok(self.store().user(id).await?.map(|u| u.token))
    }

    /// Ends every session's feed and closes the database.
    pub async fn close(&self) {
        self.inner.closing.send_replace(true);
        self.inner.registry.clear();
        let writer = self.inner.writer.lock().expect("writer lock").take();
        if let Some(writer) = writer {
            // It ends at the closing signal, after the batch it is storing.
            let _ = writer.await;
        }
        self.store().close().await;
    }

    /// Whether [`Hub::close`] was called.
    pub(crate) fn is_closing(&self) -> bool {
        *self.inner.closing.borrow()
    }

    /// Resolves once the hub is closing.
    pub(crate) fn closing(&self) -> impl std::future::Future<Output = ()> + 'static {
        let mut rx = self.inner.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn options(&self) -> &HubOptions {
        &self.inner.options
    }

    /// The hub's clock (see [`HubOptions::clock`]).
    pub fn clock(&self) -> &Clock {
        &self.inner.options.clock
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock().now_ms()
    }

    /// Serialises commits with their fan-out, so that every session sees messages and
    /// events in commit order. Held from the transaction's start to the push.
    pub(crate) async fn order_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.send_lock.lock().await
    }

    pub(crate) async fn authenticate(&self, token: &str) -> Result<Option<UserInfo>, HubError> {
        if token.is_empty() {
            return Ok(None);
        }
        self.store().user_by_token(token).await
    }

    /// Stores a message from `sender` and delivers it, once committed, to the online
    /// sessions of its audience except `origin`. A client id the sender used before
    /// answers with the original message and delivers nothing. The send path's writer
    /// stores it, with the other sends queued at the same time in one transaction.
    pub(crate) async fn send(
        &self,
        sender: &str,
        request: SendRequest,
        origin: Option<SessionId>,
    ) -> Result<Sent, HubError> {
        check_content(&request.content)?;
        let client_id = match request.client_id {
            Some(id) if id.is_empty() || id.len() > MAX_CLIENT_ID_LEN => {
                return Err(HubError::Invalid(format!(
                    "client_id must be 1 to {MAX_CLIENT_ID_LEN} bytes"
                )));
            }
            Some(id) => id,
            None => new_client_id(),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = QueuedSend {
            sender: sender.to_string(),
            to: request.to,
            content: request.content,
            client_id,
            reply_to: request.reply_to,
            extra: request.extra,
            origin,
            reply,
        };
        let closed = || HubError::Store(sqlx::Error::PoolClosed);
        self.inner.sends.send(queued).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// A page of one conversation of `viewer`, oldest first, and whether older messages remain.
    pub(crate) async fn history(
        &self,
        viewer: &str,
        conversation: &ConversationId,
        before_seq: Option<u64>,
        limit: Option<u32>,
    ) -> Result<(Vec<Message>, bool), HubError> {
        let limit = match limit {
            None => DEFAULT_HISTORY_LIMIT,
            Some(0) => return Err(HubError::Invalid("limit must be at least 1".into())),
            Some(n) => n.min(MAX_HISTORY_LIMIT),
        };
        let conv =
            crate::receipts::conv_key(&mut *self.store().conn().await?, viewer, conversation)
                .await?;
        let (messages, has_more) = self
            .store()
            .history(
                viewer,
                conv.kind,
                &conv.key,
                conv.from_seq,
                before_seq,
                limit,
            )
            .await?;
        Ok((
            messages.iter().map(|m| m.view_for(viewer)).collect(),
            has_more,
        ))
    }

    /// The direct conversations `viewer` has messages in and the groups it belongs to,
    /// each with its last message, unread count, pin and mute; pinned ones first, then
    /// the most recently active.
    pub(crate) async fn conversations(
        &self,
        viewer: &str,
    ) -> Result<Vec<ConversationSummary>, HubError> {
        let store = self.store();
        let mut entries = Vec::new();
        for last in store.last_direct_messages(viewer).await? {
            let conversation = last.conversation_for(viewer);
            let name = store
                .user(&conversation.id)
                .await?
                .map(|u| u.name)
                .unwrap_or_else(|| conversation.id.clone());
            entries.push((conversation, name, Some(last)));
        }
        for group in store.groups_of(viewer).await? {
            let last = store.last_group_message(viewer, &group.id).await?;
            entries.push((ConversationId::group(&group.id), group.name, last));
        }
        let mut conn = store.conn().await?;
        let mut summaries = Vec::with_capacity(entries.len());
        for (conversation, name, last) in entries {
            let conv = crate::receipts::conv_key(&mut conn, viewer, &conversation).await?;
            let state = crate::store::receipts::state(&mut conn, viewer, &conv).await?;
            let unread =
                crate::store::receipts::unread(&mut conn, viewer, &conv, state.read_seq).await?;
            summaries.push((
                last.as_ref().map(|m| m.seq).unwrap_or(0),
                ConversationSummary {
                    conversation,
                    name,
                    last_message: last.map(|m| m.view_for(viewer)),
                    unread,
                    pinned: state.pinned,
                    muted: state.muted,
                },
            ));
        }
        summaries.sort_by_key(|(seq, s)| (!s.pinned, std::cmp::Reverse(*seq)));
        Ok(summaries.into_iter().map(|(_, s)| s).collect())
    }

    pub(crate) async fn groups(&self, viewer: &str) -> Result<Vec<GroupInfo>, HubError> {
        self.store().groups_of(viewer).await
    }
}

pub(crate) fn unsupported_kind(conversation: &ConversationId) -> HubError {
    HubError::Invalid(format!(
        "the hub has direct and group conversations only, not {conversation}"
    ))
}

/// Rejects content that would show as nothing.
fn check_content(content: &Content) -> Result<(), HubError> {
    match content {
        Content::Text(t) if t.text.trim().is_empty() => {
            Err(HubError::Invalid("text is empty".into()))
        }
        Content::Mixed { segments } if segments.is_empty() => Err(HubError::Invalid(
            "a mixed message needs at least one segment".into(),
        )),
        Content::Mixed { segments } => segments.iter().try_for_each(check_content),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::sample_config;

    async fn hub() -> (Hub, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&dir.path().join("hub.db"), &sample_config())
            .await
            .unwrap();
        (hub, dir)
    }

    fn text(to: ConversationId, text: &str, client_id: Option<&str>) -> SendRequest {
        SendRequest {
            to,
            content: Content::text(text),
            client_id: client_id.map(Into::into),
            reply_to: None,
            extra: Value::Null,
        }
    }

    #[tokio::test]
    async fn a_repeated_client_id_is_stored_and_delivered_once() {
        let (hub, _dir) = hub().await;
        let mut bot = hub.registry().subscribe_socket("bot");
        let first = hub
            .send(
                "alice",
                text(ConversationId::direct("bot"), "hi", Some("c1")),
                None,
            )
            .await
            .unwrap();
        let again = hub
            .send(
                "alice",
                text(ConversationId::direct("bot"), "hi", Some("c1")),
                None,
            )
            .await
            .unwrap();
        assert!(!first.duplicate && again.duplicate);
        assert_eq!(first.message, again.message);
        assert!(bot.frames.try_recv().is_ok());
        assert!(
            bot.frames.try_recv().is_err(),
            "the duplicate was not delivered"
        );
        let (messages, _) = hub
            .history("bot", &ConversationId::direct("alice"), None, None)
            .await
            .unwrap();
        assert_eq!(messages.len(), 1);
    }

    #[tokio::test]
    async fn send_errors_have_their_kinds() {
        let (hub, _dir) = hub().await;
        let code = |r: Result<Sent, HubError>| r.unwrap_err().code();
        assert_eq!(
            code(
                hub.send(
                    "alice",
                    text(ConversationId::direct("nobody"), "x", None),
                    None
                )
                .await
            ),
            "not_found"
        );
        assert_eq!(
            code(
                hub.send(
                    "alice",
                    text(ConversationId::group("nogroup"), "x", None),
                    None
                )
                .await
            ),
            "not_found"
        );
        assert_eq!(
            code(
                hub.send(
                    "carol",
                    text(ConversationId::group("lobby"), "x", None),
                    None
                )
                .await
            ),
            "not_permitted"
        );
        assert_eq!(
            code(
                hub.send(
                    "alice",
                    text(ConversationId::direct("bot"), "  ", None),
                    None
                )
                .await
            ),
            "invalid"
        );
        assert_eq!(
            code(
                hub.send(
                    "alice",
                    text(ConversationId::chat_room("r"), "x", None),
                    None
                )
                .await
            ),
            "invalid"
        );
        assert_eq!(
            code(
                hub.send(
                    "alice",
                    text(ConversationId::direct("bot"), "x", Some("")),
                    None
                )
                .await
            ),
            "invalid"
        );
    }

    #[tokio::test]
    async fn history_limits_and_access() {
        let (hub, _dir) = hub().await;
        let lobby = ConversationId::group("lobby");
        assert_eq!(
            hub.history("carol", &lobby, None, None)
                .await
                .unwrap_err()
                .code(),
            "not_permitted"
        );
        assert_eq!(
            hub.history("bob", &lobby, None, Some(0))
                .await
                .unwrap_err()
                .code(),
            "invalid"
        );
        for i in 0..3 {
            hub.send("bob", text(lobby.clone(), &format!("m{i}"), None), None)
                .await
                .unwrap();
        }
        let (page, more) = hub
            .history("alice", &lobby, None, Some(1000))
            .await
            .unwrap();
        assert_eq!((page.len(), more), (3, false));
        assert_eq!(page[0].conversation, lobby);
    }

    #[tokio::test]
    async fn conversations_list_peers_and_groups_most_recent_first() {
        let (hub, _dir) = hub().await;
        hub.send(
            "alice",
            text(ConversationId::direct("bot"), "hi bot", None),
            None,
        )
        .await
        .unwrap();
        hub.send(
            "bob",
            text(ConversationId::direct("alice"), "hi alice", None),
            None,
        )
        .await
        .unwrap();
        let list = hub.conversations("alice").await.unwrap();
        let ids: Vec<_> = list.iter().map(|c| c.conversation.to_string()).collect();
        assert_eq!(ids, vec!["direct:bob", "direct:bot", "group:lobby"]);
        assert_eq!(
            list[0].last_message.as_ref().unwrap().content.plain_text(),
            "hi alice"
        );
        assert!(list[2].last_message.is_none());
        assert_eq!(list[2].name, "Lobby");
    }

    #[tokio::test]
    async fn created_users_are_validated_and_get_tokens() {
        let (hub, _dir) = hub().await;
        let dave = hub.create_user("dave", Some("Dave")).await.unwrap();
        assert_eq!(hub.user_token("dave").await.unwrap(), Some(dave.token));
        assert_eq!(hub.user_token("nobody").await.unwrap(), None);
        assert_eq!(
            hub.create_user("dave", None).await.unwrap_err().code(),
            "conflict"
        );
        assert_eq!(
            hub.create_user("no way", None).await.unwrap_err().code(),
            "invalid"
        );
        assert_eq!(hub.create_user("erin", None).await.unwrap().name, "erin");
    }

    #[tokio::test]
    async fn open_names_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = sample_config();
        config.users.push(config.users[0].clone());
        let err = Hub::open(&dir.path().join("hub.db"), &config)
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("duplicate hub user id \"alice\""),
            "{err}"
        );
    }
}

/// The login token of a user, read from a hub database file without opening the hub
/// (for the terminal client, while `parley run` has the hub open).
pub async fn lookup_token(db_path: &Path, user: &str) -> Result<Option<String>, HubError> {
    let store = Store::open_read_only(db_path).await?;
    let token = store.user(user).await.map(|u| u.map(|u| u.token));
    store.close().await;
    token
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    #[tokio::test]
    async fn lookup_token_reads_a_running_hubs_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let missing = lookup_token(&path, "alice").await.unwrap_err().to_string();
        assert!(missing.contains("no hub database"), "{missing}");
        let hub = Hub::open(&path, &HubConfig::default()).await.unwrap();
        let alice = hub.create_user("alice", None).await.unwrap();
        assert_eq!(
            lookup_token(&path, "alice").await.unwrap(),
            Some(alice.token)
        );
        assert_eq!(lookup_token(&path, "nobody").await.unwrap(), None);
        hub.close().await;
    }
}
