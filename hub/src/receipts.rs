//! Read marks ("read up to") and who has read a group message, delivery receipts in 1:1,
//! typing in 1:1 (live only, never stored), and each user's pin and mute of a conversation.

use crate::error::HubError;
use crate::events::{Outgoing, StoredEvent};
use crate::hub::{unsupported_kind, Hub};
use crate::ids::{direct_key, random_id};
use crate::message::Target;
use crate::store::groups as group_db;
use crate::store::receipts::{self as db, ConvKey};
use parley_engine::model::{ConversationId, ConversationKind, Event, MessageRef, ReadMark, UserId};
use serde::Serialize;
use sqlx::SqliteConnection;
use std::sync::Arc;

/// How far to mark a conversation read.
#[derive(Debug)]
pub(crate) enum ReadUpTo {
    /// Up to this message seq (None: the latest).
    Seq(Option<u64>),
    /// Up to the last message sent at or before this time.
    Time(i64),
    /// Up to the latest of these messages.
    Messages(Vec<MessageRef>),
}

/// Who of a group's members (the sender aside) has read a message, and who has not.
#[derive(Debug, Serialize)]
pub(crate) struct Readers {
    pub read: Vec<String>,
    pub unread: Vec<String>,
}

/// How `viewer` reaches `conversation` in the `messages` table: `not_found` for an unknown
/// peer or group, `not_permitted` outside the group.
pub(crate) async fn conv_key(
    conn: &mut SqliteConnection,
    viewer: &str,
    conversation: &ConversationId,
) -> Result<ConvKey, HubError> {
    match conversation.kind {
        ConversationKind::Direct => {
            if crate::store::user_in(conn, &conversation.id)
                .await?
                .is_none()
            {
                return Err(HubError::NotFound(format!(
                    "no hub user {:?}",
                    conversation.id
                )));
            }
            Ok(ConvKey {
                kind: "direct",
                key: direct_key(viewer, &conversation.id),
                from_seq: 0,
            })
        }
        ConversationKind::Group => {
            crate::groups::as_member(conn, &conversation.id, viewer).await?;
            Ok(ConvKey {
                kind: "group",
                key: conversation.id.clone(),
                from_seq: group_db::history_from_seq(conn, &conversation.id, viewer).await?,
            })
        }
        _ => Err(unsupported_kind(conversation)),
    }
}

/// The conversation as `viewer` sees the one `reader` read in.
fn seen_by(conversation: &ConversationId, reader: &str, viewer: &str) -> ConversationId {
    match conversation.kind {
        ConversationKind::Direct if viewer != reader => ConversationId::direct(reader),
        _ => conversation.clone(),
    }
}

impl Hub {
    /// Moves `user`'s read mark forward; the peer (in a group: the senders of the newly
    /// read messages) and the user's own sessions get a `read_receipt`. A mark at or
    /// behind the current one changes nothing.
    pub(crate) async fn mark_read(
        &self,
        user: &str,
        conversation: &ConversationId,
        up_to: ReadUpTo,
    ) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let conv = conv_key(&mut tx, user, conversation).await?;
        let (max_seq, max_time) = match up_to {
            ReadUpTo::Seq(seq) => (seq.unwrap_or(u64::MAX), i64::MAX),
            ReadUpTo::Time(time_ms) => (u64::MAX, time_ms),
            ReadUpTo::Messages(refs) => {
                let mut max = 0;
                for r in refs {
                    let found = crate::store::recall::message(&mut tx, &r.id).await?;
                    let (message, _) = found
                        .ok_or_else(|| HubError::NotFound(format!("no message {:?}", r.id)))?;
                    max = max.max(message.seq);
                }
                (max, i64::MAX)
            }
        };
        let Some((seq, time_ms)) = db::last_shown(&mut tx, user, &conv, max_seq, max_time).await?
        else {
            return Ok(());
        };
        let mut state = db::state(&mut tx, user, &conv).await?;
        if seq <= state.read_seq {
            return Ok(());
        }
        let readers_of = match conversation.kind {
            ConversationKind::Direct => vec![conversation.id.clone()],
            _ => db::senders_between(&mut tx, &conv, state.read_seq, seq, user).await?,
        };
        state.read_seq = seq;
        db::save(&mut tx, user, &conv, state).await?;
        let mut out = Outgoing::new(now);
        for viewer in std::iter::once(user).chain(readers_of.iter().map(String::as_str)) {
            out = out.to(
                [viewer],
                Event::ReadReceipt {
                    conversation: seen_by(conversation, user, viewer),
                    reader: UserId::new(user),
                    read: ReadMark::UpTo { time_ms },
                },
            );
        }
        self.commit_with(tx, out.events).await
    }

    /// Which members (the sender aside) have read a group message, and which have not;
    /// for a direct message, whether the recipient has.
    pub(crate) async fn read_by(&self, user: &str, id: &str) -> Result<Readers, HubError> {
        let mut conn = self.store().conn().await?;
        let (message, _) = crate::recall::visible(&mut conn, user, id).await?;
        let (conv, audience) = match &message.target {
            Target::Direct { recipient } => (
                conv_key(
                    &mut conn,
                    &message.sender,
                    &ConversationId::direct(recipient),
                )
                .await?,
                vec![recipient.clone()],
            ),
            Target::Group { group } => (
                conv_key(&mut conn, user, &ConversationId::group(group)).await?,
                group_db::member_ids_in(&mut conn, group, false).await?,
            ),
        };
        let read = db::have_read(&mut conn, &conv, message.seq).await?;
        let (read, unread) = audience
            .into_iter()
            .filter(|u| *u != message.sender)
            .partition(|u| read.contains(u));
        Ok(Readers { read, unread })
    }

    /// The recipient of direct messages tells their sender they arrived.
    pub(crate) async fn delivered(
        &self,
        user: &str,
        peer: &str,
        ids: Vec<String>,
    ) -> Result<(), HubError> {
        if ids.is_empty() {
            return Err(HubError::Invalid("name at least one message".into()));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let mut messages = Vec::with_capacity(ids.len());
        for id in &ids {
            let not_yours = || {
                HubError::NotFound(format!(
                    "no direct message {id:?} from {peer:?} to {user:?}"
                ))
            };
            let (message, _) = crate::store::recall::message(&mut tx, id)
                .await?
                .ok_or_else(not_yours)?;
            match &message.target {
                Target::Direct { recipient } if recipient == user && message.sender == peer => {
                    messages.push(message.message_ref())
                }
                _ => return Err(not_yours()),
            }
        }
        let event = Event::DeliveryReceipt {
            conversation: ConversationId::direct(user),
            recipient: UserId::new(user),
            messages,
        };
        self.commit_with(tx, Outgoing::new(now).to([peer], event).events)
            .await
    }

    /// Tells `to` that `user` is (or stopped) typing to them: pushed to online sessions and
    /// bots only, never stored. Refused like a direct message would be.
    pub(crate) async fn typing(&self, user: &str, to: &str, typing: bool) -> Result<(), HubError> {
        let mut conn = self.store().conn().await?;
        if crate::store::user_in(&mut conn, to).await?.is_none() {
            return Err(HubError::NotFound(format!("no hub user {to:?}")));
        }
        crate::friends::check_direct(&mut conn, user, to).await?;
        drop(conn);
        let event = StoredEvent {
            seq: None,
            user: to.to_string(),
            id: random_id("e"),
            event: Event::Typing {
                conversation: ConversationId::direct(user),
                user: UserId::new(user),
                typing,
            },
            time_ms: self.now_ms(),
        };
        let _order = self.order_lock().await;
        self.registry().deliver_event(Arc::new(event)).await;
        Ok(())
    }

    /// Pins or unpins, mutes or unmutes notifications of one conversation for `user`.
    pub(crate) async fn set_conversation(
        &self,
        user: &str,
        conversation: &ConversationId,
        pinned: Option<bool>,
        muted: Option<bool>,
    ) -> Result<(), HubError> {
        let mut tx = self.store().begin().await?;
        let conv = conv_key(&mut tx, user, conversation).await?;
        let mut state = db::state(&mut tx, user, &conv).await?;
        state.pinned = pinned.unwrap_or(state.pinned);
        state.muted = muted.unwrap_or(state.muted);
        db::save(&mut tx, user, &conv, state).await?;
        tx.commit().await?;
        Ok(())
    }
}
