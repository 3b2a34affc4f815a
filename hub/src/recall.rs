//! Recall (withdraw a message for everyone) within the recall window, and delete for
//! oneself.

use crate::error::HubError;
use crate::events::Outgoing;
use crate::hub::Hub;
use crate::message::{StoredMessage, Target};
use crate::store::groups as group_db;
use crate::store::recall as db;
use crate::store::Role;
use parley_engine::model::{Event, RecallScope, UserId};
use sqlx::SqliteConnection;

/// The message `user` can see, or `not_found`.
pub(crate) async fn visible(
    conn: &mut SqliteConnection,
    user: &str,
    id: &str,
) -> Result<(StoredMessage, Option<i64>), HubError> {
    let not_found = || HubError::NotFound(format!("no message {id:?}"));
    let (message, recalled) = db::message(conn, id).await?.ok_or_else(not_found)?;
    let sees = match &message.target {
        Target::Direct { recipient } => message.sender == user || recipient == user,
        Target::Group { group } => group_db::member(conn, group, user).await?.is_some(),
    };
    if !sees {
        return Err(not_found());
    }
    Ok((message, recalled))
}

fn recalled_event(message: &StoredMessage, viewer: &str, by: &str, scope: RecallScope) -> Event {
    Event::Recalled {
        conversation: message.conversation_for(viewer),
        message: message.message_ref(),
        by: UserId::new(by),
        scope,
    }
}

impl Hub {
    /// Withdraws a message for everyone. The sender may, within the recall window; in a
    /// group the owner and admins may recall the messages of members they outrank (and
    /// their own) at any time.
    pub(crate) async fn recall(&self, user: &str, id: &str) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (message, recalled) = visible(&mut tx, user, id).await?;
        if recalled.is_some() {
            return Err(HubError::Conflict(format!(
                "message {id:?} was already recalled"
            )));
        }
        let manager_may = match &message.target {
            Target::Group { group } => {
                let me = group_db::member(&mut tx, group, user)
                    .await?
                    .map(|m| m.role);
                let sender = group_db::member(&mut tx, group, &message.sender)
                    .await?
                    .map_or(Role::Member, |m| m.role);
                me.is_some_and(|me| me.manages() && (message.sender == user || me.outranks(sender)))
            }
            Target::Direct { .. } => false,
        };
        let window = self.options().recall_window.as_millis() as i64;
        if !manager_may {
            if message.sender != user {
                return Err(HubError::NotPermitted(format!(
                    "only the sender (or, in a group, its owner and admins) may recall message {id:?}"
                )));
            }
            if now - message.time_ms > window {
                return Err(HubError::RecallWindowExceeded(format!(
                    "message {id:?} is older than the recall window of {} seconds",
                    window / 1000
                )));
            }
        }
        db::mark_recalled(&mut tx, message.seq, user, now).await?;
        let audience = match &message.target {
            Target::Direct { recipient } => vec![message.sender.clone(), recipient.clone()],
            Target::Group { group } => group_db::member_ids_in(&mut tx, group, false).await?,
        };
        let mut out = Outgoing::new(now);
        for viewer in &audience {
            out = out.to(
                [viewer.as_str()],
                recalled_event(&message, viewer, user, RecallScope::Everyone),
            );
        }
        self.commit_with(tx, out.events).await
    }

    /// Deletes a message from `user`'s own view (history, conversations, catch-up); the
    /// user's other sessions are told. Deleting it again changes nothing.
    pub(crate) async fn delete_for_self(&self, user: &str, id: &str) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (message, _) = visible(&mut tx, user, id).await?;
        if !db::hide(&mut tx, user, message.seq).await? {
            return Ok(());
        }
        let event = recalled_event(&message, user, user, RecallScope::SelfOnly);
        self.commit_with(tx, Outgoing::new(now).to([user], event).events)
            .await
    }
}
