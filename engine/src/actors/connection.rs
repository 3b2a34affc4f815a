//! The actor of one configured connection: makes inbound events durable (deduplicated by
//! id), acknowledges them to the adapter, and hands them to their conversations in order.

use super::router::{dispatch, RouteKey, Router};
use super::Dispatch;
use crate::adapter::{Accepted, IntakeError, IntakeItem};
use crate::model::{ConnectionId, Event};
use crate::monitor::Counters;
use crate::store::Store;
use actix::prelude::*;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Intake items taken into one store commit at most.
pub(crate) const INTAKE_BATCH: usize = 256;

pub struct ConnectionActor {
    id: ConnectionId,
    store: Store,
    router: Addr<Router>,
    stopped: Option<oneshot::Sender<()>>,
    counters: Arc<Counters>,
}

impl ConnectionActor {
    pub(crate) fn new(
        id: ConnectionId,
        store: Store,
        router: Addr<Router>,
        stopped: oneshot::Sender<()>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            id,
            store,
            router,
            stopped: Some(stopped),
            counters,
        }
    }
}

impl Actor for ConnectionActor {
    type Context = Context<Self>;

    /// Before taking new events, hands out those accepted but not handled before the last
    /// stop (a crash), in their original order.
    fn started(&mut self, ctx: &mut Context<Self>) {
        let (id, store, router) = (self.id.clone(), self.store.clone(), self.router.clone());
        let replay = async move {
            match store.unhandled(&id).await {
                Ok(pending) => {
                    if !pending.is_empty() {
                        tracing::info!(connection = %id, events = pending.len(), "replaying events not handled before the last stop");
                    }
                    // In slices, so that the router is not asked for thousands at once.
                    let mut pending = pending.into_iter().peekable();
                    while pending.peek().is_some() {
                        let slice = pending
                            .by_ref()
                            .take(INTAKE_BATCH)
                            .map(|p| {
                                let key = RouteKey {
                                    connection: id.clone(),
                                    conversation: p.envelope.route(),
                                };
                                let event = Dispatch {
                                    seq: p.seq,
                                    envelope: Arc::new(p.envelope),
                                };
                                (key, event)
                            })
                            .collect();
                        if dispatch(&router, slice).await.is_err() {
                            break;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(connection = %id, error = %e, "cannot read unhandled events")
                }
            }
        };
        ctx.wait(replay.into_actor(self));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(tx) = self.stopped.take() {
            let _ = tx.send(());
        }
    }
}

impl StreamHandler<Vec<IntakeItem>> for ConnectionActor {
    fn handle(&mut self, items: Vec<IntakeItem>, ctx: &mut Context<Self>) {
        let (id, store, router) = (self.id.clone(), self.store.clone(), self.router.clone());
        let counters = self.counters.clone();
        ctx.wait(intake(id, store, router, counters, items).into_actor(self));
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

async fn intake(
    id: ConnectionId,
    store: Store,
    router: Addr<Router>,
    counters: Arc<Counters>,
    items: Vec<IntakeItem>,
) {
    let cursor = items.iter().rev().find_map(|i| i.cursor.clone());
    let mut envelopes = Vec::new();
    let mut acks = Vec::with_capacity(items.len());
    for item in items {
        acks.push((item.ack, item.envelopes.len()));
        // The connection id is ours, whatever the adapter put there.
        envelopes.extend(item.envelopes.into_iter().map(|mut e| {
            e.connection = id.clone();
            e
        }));
    }
    let seqs = match store.accept_inbound(&id, &envelopes, cursor).await {
        Ok(seqs) => seqs,
        Err(e) => {
            tracing::error!(connection = %id, error = %e, "cannot record inbound events; refusing them");
            for (ack, _) in acks {
                let _ = ack.send(Err(IntakeError::Store(e.to_string())));
            }
            return;
        }
    };
    counters.event_in(seqs.iter().filter(|s| s.is_some()).count() as u64);
    for envelope in &envelopes {
        if let Event::Connection(state) = &envelope.event {
            counters.connection_state(&id, state.name());
        }
    }
    let mut answered = seqs.iter();
    for (ack, n) in acks {
        let accepted = answered
            .by_ref()
            .take(n)
            .map(|seq| match seq {
                Some(_) => Accepted::New,
                None => Accepted::Duplicate,
            })
            .collect();
        let _ = ack.send(Ok(accepted));
    }
    let mut fresh = Vec::with_capacity(envelopes.len());
    for (envelope, seq) in envelopes.into_iter().zip(seqs) {
        let Some(seq) = seq else {
            tracing::debug!(connection = %id, event = %envelope.id, "duplicate event ignored");
            continue;
        };
        let key = RouteKey {
            connection: id.clone(),
            conversation: envelope.route(),
        };
        let event = Dispatch {
            seq,
            envelope: Arc::new(envelope),
        };
        fresh.push((key, event));
    }
    // On failure the engine is shutting down: the events stay unhandled in the inbox and
    // are replayed at the next start.
    let _ = dispatch(&router, fresh).await;
}
