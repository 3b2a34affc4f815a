//! Events other than messages (friend, group, receipt, typing, presence events): stored one
//! row per recipient in the transaction of the change they report, then pushed to the
//! recipients' sessions and devices once committed.

use crate::error::HubError;
use crate::hub::Hub;
use crate::ids::random_id;
use parley_engine::model::{Event, UserId};

/// How many events one `events` request returns at most.
pub(crate) const MAX_EVENTS_PAGE: u32 = 200;

/// One event as one recipient receives it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredEvent {
    /// The recipient's feed position; None for live-only events (typing, presence).
    pub seq: Option<u64>,
    /// The recipient.
    pub user: String,
    /// The logical event's id, shared by all its recipients.
    pub id: String,
    pub event: Event,
    pub time_ms: i64,
}

impl StoredEvent {
    /// Whether the recipient itself did what the event reports (the bots' `from_self`).
    pub fn is_from_self(&self) -> bool {
        actor(&self.event).is_some_and(|a| a.as_str() == self.user)
    }
}

/// Who did what an event reports, where the event says.
fn actor(event: &Event) -> Option<&UserId> {
    match event {
        Event::FriendRequest(r) => Some(&r.from),
        Event::FriendRequestAnswered { user, .. } => Some(user),
        Event::BlockChanged { by, .. } => Some(by),
        Event::GroupNotice(n) => n.operator.as_ref(),
        Event::GroupJoinRequest { user, .. } => Some(user),
        Event::GroupInvitation { inviter, .. } => Some(inviter),
        Event::GroupRequestAnswered { by, .. } => Some(by),
        Event::Recalled { by, .. } => Some(by),
        Event::ReadReceipt { reader, .. } => Some(reader),
        Event::DeliveryReceipt { recipient, .. } => Some(recipient),
        Event::Typing { user, .. }
        | Event::Presence { user, .. }
        | Event::ProfileChanged { user } => Some(user),
        _ => None,
    }
}

/// Builds the rows of one logical event: `event_for(recipient)` is what each one sees.
pub(crate) struct Outgoing {
    id: String,
    time_ms: i64,
    pub events: Vec<StoredEvent>,
}

impl Outgoing {
    pub fn new(time_ms: i64) -> Self {
        Outgoing {
            id: random_id("e"),
            time_ms,
            events: Vec::new(),
        }
    }

    /// Adds `event` for each of `recipients` (duplicates once).
    pub fn to<'a>(mut self, recipients: impl IntoIterator<Item = &'a str>, event: Event) -> Self {
        for user in recipients {
            if self
                .events
                .iter()
                .any(|e| e.id == self.id && e.user == user)
            {
                continue;
            }
            self.events.push(StoredEvent {
                seq: None,
                user: user.to_string(),
                id: self.id.clone(),
                event: event.clone(),
                time_ms: self.time_ms,
            });
        }
        self
    }

    /// Starts another logical event (a new id) in the same batch.
    pub fn then(mut self) -> Self {
        self.id = random_id("e");
        self
    }
}

impl Hub {
    /// Pushes committed events to their recipients' sessions and devices. Callers hold
    /// the order lock from their commit to here.
    pub(crate) async fn push_events(&self, events: Vec<StoredEvent>) {
        for event in events {
            self.registry()
                .deliver_event(std::sync::Arc::new(event))
                .await;
        }
    }

    /// A page of `user`'s stored events after `after_seq`, and whether more remain.
    pub(crate) async fn events(
        &self,
        user: &str,
        after_seq: u64,
        limit: Option<u32>,
    ) -> Result<(Vec<StoredEvent>, bool), HubError> {
        let limit = match limit {
            Some(0) => return Err(HubError::Invalid("limit must be at least 1".into())),
            Some(n) => n.min(MAX_EVENTS_PAGE),
            None => MAX_EVENTS_PAGE,
        };
        let mut events = self
            .store()
            .events_after(user, after_seq, limit + 1)
            .await?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        Ok((events, more))
    }
}
