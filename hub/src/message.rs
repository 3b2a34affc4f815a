//! A message as the hub stores it, and how each participant sees it.

use parley_engine::model::{Content, ConversationId, Message, MessageRef, UserId};
use serde_json::Value;

/// Where a stored message went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Direct { recipient: String },
    Group { group: String },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredMessage {
    /// The hub's global sequence: strictly increasing in commit order.
    pub seq: u64,
    /// The server id.
    pub id: String,
    pub target: Target,
    pub sender: String,
    pub client_id: String,
    pub content: Content,
    pub reply_to: Option<MessageRef>,
    pub extra: Value,
    pub time_ms: i64,
}

impl StoredMessage {
    pub fn message_ref(&self) -> MessageRef {
        MessageRef {
            id: self.id.clone(),
            client_id: Some(self.client_id.clone()),
            seq: Some(self.seq),
            time_ms: Some(self.time_ms),
        }
    }

    /// The conversation as `viewer` sees it: a direct message is filed under the other
    /// party (the sender for the recipient, the recipient for the sender).
    pub fn conversation_for(&self, viewer: &str) -> ConversationId {
        match &self.target {
            Target::Direct { recipient } if viewer == self.sender => {
                ConversationId::direct(recipient)
            }
            Target::Direct { .. } => ConversationId::direct(&self.sender),
            Target::Group { group } => ConversationId::group(group),
        }
    }

    /// The engine model's `Message` as `viewer` sees it; this is also the wire form.
    pub fn view_for(&self, viewer: &str) -> Message {
        Message {
            id: self.message_ref(),
            conversation: self.conversation_for(viewer),
            sender: UserId::new(&self.sender),
            content: self.content.clone(),
            reply_to: self.reply_to.clone(),
            time_ms: self.time_ms,
            extra: self.extra.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> StoredMessage {
        StoredMessage {
            seq: 7,
            id: "m1".into(),
            target: Target::Direct {
                recipient: "bot".into(),
            },
            sender: "alice".into(),
            client_id: "c1".into(),
            content: Content::text("hi"),
            reply_to: None,
            extra: Value::Null,
            time_ms: 5,
        }
    }

    #[test]
    fn direct_messages_are_filed_under_the_other_party() {
        let m = direct();
        assert_eq!(
            m.view_for("bot").conversation,
            ConversationId::direct("alice")
        );
        assert_eq!(
            m.view_for("alice").conversation,
            ConversationId::direct("bot")
        );
    }

    #[test]
    fn the_wire_form_carries_both_ids_and_the_sequence() {
        let v = serde_json::to_value(direct().view_for("bot")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": {"id": "m1", "client_id": "c1", "seq": 7, "time_ms": 5},
                "conversation": {"kind": "direct", "id": "alice"},
                "sender": "alice",
                "content": {"kind": "text", "text": "hi"},
                "time_ms": 5
            })
        );
    }
}
