//! Live figures of a running engine, for the dashboard and `/metrics`.

use crate::model::ConnectionId;
use crate::outbox::OutboxHandle;
use crate::ratelimit::SendGate;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Traffic counters, bumped where the traffic happens.
#[derive(Default)]
pub(crate) struct Counters {
    events_in: AtomicU64,
    events_out: AtomicU64,
    /// Each connection's last reported state (`connected`, `lost`, ...), by connection.
    states: Mutex<HashMap<ConnectionId, &'static str>>,
}

impl Counters {
    /// New events accepted by an intake (duplicates excluded).
    pub(crate) fn event_in(&self, n: u64) {
        self.events_in.fetch_add(n, Ordering::Relaxed);
    }

    /// An adapter reported its connection's state.
    pub(crate) fn connection_state(&self, connection: &ConnectionId, state: &'static str) {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connection.clone(), state);
    }

    /// A command (or broadcast send) the platform confirmed.
    pub(crate) fn event_out(&self) {
        self.events_out.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct ConnectionParts {
    pub id: ConnectionId,
    pub kind: &'static str,
    pub outbox: OutboxHandle,
    pub gate: Arc<SendGate>,
}

/// One connection's figures.
#[derive(Clone, Debug)]
pub struct ConnectionFigure {
    pub id: ConnectionId,
    /// The adapter kind (`hub`, `tencent`, ...).
    pub kind: &'static str,
    /// The last state its adapter reported (`connected`, `lost`, `kicked`, ...), or
    /// `started` when it reported none (webhook platforms have no connection to report).
    pub state: &'static str,
    /// Commands not yet answered by the platform.
    pub outbox_depth: usize,
    /// Sends that had to wait for a send limit, and how long they waited in all.
    pub rate_limit_waits: u64,
    pub rate_limit_waited: Duration,
}

/// A cheap, shareable view of the engine's figures.
#[derive(Clone)]
pub struct EngineMonitor {
    connections: Arc<Vec<ConnectionParts>>,
    counters: Arc<Counters>,
}

impl EngineMonitor {
    pub(crate) fn new(connections: Vec<ConnectionParts>, counters: Arc<Counters>) -> Self {
        Self {
            connections: Arc::new(connections),
            counters,
        }
    }

    pub fn connections(&self) -> Vec<ConnectionFigure> {
        let states = self
            .counters
            .states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.connections
            .iter()
            .map(|c| {
                let (waits, waited) = c.gate.waits();
                ConnectionFigure {
                    id: c.id.clone(),
                    kind: c.kind,
                    state: states.get(&c.id).copied().unwrap_or("started"),
                    outbox_depth: c.outbox.pending(),
                    rate_limit_waits: waits,
                    rate_limit_waited: waited,
                }
            })
            .collect()
    }

    pub fn events_in(&self) -> u64 {
        self.counters.events_in.load(Ordering::Relaxed)
    }

    pub fn events_out(&self) -> u64 {
        self.counters.events_out.load(Ordering::Relaxed)
    }
}
