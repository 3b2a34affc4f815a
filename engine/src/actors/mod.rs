//! The actors: one per connection (intake), one per direct conversation or group (bots run
//! here, strictly in order), and the router that creates the latter on first use.
//!
//! Backpressure contract: every queue between the platform and a bot is bounded.
//! - An adapter's [`Intake::deliver`](crate::adapter::Intake::deliver) waits while its
//!   connection's intake queue is full.
//! - The connection actor handles its queue in order and waits while the target
//!   conversation's mailbox is full, so a slow conversation slows its connection's intake.
//! - A conversation actor waits while its connection's outbox holds too many unsent commands.
//!
//! Nothing is dropped: an event is in the store's inbox before `deliver` returns and is
//! marked handled only together with the state and commands it produced.

mod connection;
mod conversation;
mod router;

pub use connection::ConnectionActor;
pub(crate) use connection::INTAKE_BATCH;
pub use conversation::ConversationActor;
pub(crate) use router::Drain;
pub use router::{RouteKey, Router, RouterStats};

use crate::handler::EventHandler;
use crate::model::{ConnectionId, Envelope};
use crate::outbox::OutboxHandle;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One event on its way to a conversation actor.
pub(crate) struct Dispatch {
    /// The event's inbox row, marked handled when the actor is done with it.
    pub seq: i64,
    pub envelope: Arc<Envelope>,
}

/// Tuning of the actors.
#[derive(Clone, Debug)]
pub struct ActorConfig {
    /// Events waiting per conversation actor before its connection's intake waits.
    pub mailbox_capacity: usize,
    /// A conversation actor with no event for this long is stopped (its state is already
    /// persisted) and started again on its next event.
    pub idle_timeout: Duration,
}

impl Default for ActorConfig {
    fn default() -> Self {
        Self {
            mailbox_capacity: 64,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// What every conversation actor needs; shared by the router that creates them.
#[derive(Clone)]
pub(crate) struct ConversationDeps {
    pub store: Store,
    pub handler: Arc<dyn EventHandler>,
    pub outboxes: Arc<HashMap<ConnectionId, OutboxHandle>>,
    /// Wakes a connection's broadcast runner when a bot started a job.
    pub broadcast_wakes: Arc<HashMap<ConnectionId, Arc<tokio::sync::Notify>>>,
    /// Wakes the scheduler when a bot created or cancelled a schedule.
    pub schedules_changed: Arc<tokio::sync::Notify>,
    pub config: ActorConfig,
}
