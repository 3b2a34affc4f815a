//! The router: finds or creates the actor of a conversation, spreads actors over the
//! arbiters, and retires idle ones without losing or reordering events.

use super::conversation::ConversationActor;
use super::{ConversationDeps, Dispatch};
use crate::model::{ConnectionId, ConversationId};
use actix::prelude::*;
use actix_rt::ArbiterHandle;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;

/// Which actor an event belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteKey {
    pub connection: ConnectionId,
    pub conversation: ConversationId,
}

/// Live figures of the router, published on a watch channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStats {
    pub live_actors: usize,
    pub started_total: u64,
    pub stopped_total: u64,
    /// Events waiting in the actors' mailboxes, in all and in the fullest one (sampled
    /// every second).
    pub queued_events: usize,
    pub deepest_mailbox: usize,
}

struct Entry {
    tx: mpsc::Sender<Dispatch>,
    generation: u64,
    /// Events handed out for this actor; compared with the count it handled to know
    /// whether retiring it could strand one.
    dispatched: u64,
}

pub struct Router {
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    next_generation: u64,
    entries: HashMap<RouteKey, Entry>,
    deps: ConversationDeps,
    stats: RouterStats,
    stats_tx: watch::Sender<RouterStats>,
    draining: bool,
    drained: Vec<oneshot::Sender<()>>,
}

impl Router {
    pub(crate) fn new(
        arbiters: Vec<ArbiterHandle>,
        deps: ConversationDeps,
    ) -> (Self, watch::Receiver<RouterStats>) {
        let (stats_tx, stats_rx) = watch::channel(RouterStats::default());
        let router = Router {
            arbiters,
            next_arbiter: 0,
            next_generation: 0,
            entries: HashMap::new(),
            deps,
            stats: RouterStats::default(),
            stats_tx,
            draining: false,
            drained: Vec::new(),
        };
        (router, stats_rx)
    }

    fn publish(&mut self) {
        self.stats_tx.send_replace(self.stats);
        if self.draining && self.stats.live_actors == 0 {
            for tx in self.drained.drain(..) {
                let _ = tx.send(());
            }
        }
    }

    fn spawn_actor(&mut self, key: &RouteKey, router: Addr<Router>) -> Entry {
        let (tx, rx) = mpsc::channel(self.deps.config.mailbox_capacity.max(1));
        self.next_generation += 1;
        let generation = self.next_generation;
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter += 1;
        let deps = self.deps.clone();
        let actor_key = key.clone();
        ConversationActor::start_in_arbiter(arbiter, move |ctx| {
            ctx.add_stream(ReceiverStream::new(rx));
            ConversationActor::new(actor_key, generation, deps, router)
        });
        self.stats.live_actors += 1;
        self.stats.started_total += 1;
        self.publish();
        Entry {
            tx,
            generation,
            dispatched: 0,
        }
    }
}

impl Actor for Router {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(std::time::Duration::from_secs(1), |router, _| {
            router.sample_mailboxes()
        });
    }
}

impl Router {
    /// Counts the events waiting in each live actor's mailbox.
    fn sample_mailboxes(&mut self) {
        let depths = self
            .entries
            .values()
            .filter(|e| !e.tx.is_closed())
            .map(|e| e.tx.max_capacity() - e.tx.capacity());
        let (total, deepest) = depths.fold((0, 0), |(t, d), n| (t + n, d.max(n)));
        if (total, deepest) != (self.stats.queued_events, self.stats.deepest_mailbox) {
            self.stats.queued_events = total;
            self.stats.deepest_mailbox = deepest;
            self.publish();
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the router is shutting down")]
pub struct RouterClosed;

/// Asks for the mailboxes of conversations' actors, creating the actors if needed, in the
/// order of the keys. Each key counts as one event handed to that actor. One message for
/// a whole intake batch: a round trip to the router per event costs more than the event.
#[derive(Message)]
#[rtype(result = "Result<Vec<mpsc::Sender<Dispatch>>, RouterClosed>")]
pub(crate) struct Lookup(pub Vec<RouteKey>);

impl Handler<Lookup> for Router {
    type Result = Result<Vec<mpsc::Sender<Dispatch>>, RouterClosed>;

    fn handle(&mut self, Lookup(keys): Lookup, ctx: &mut Context<Self>) -> Self::Result {
        if self.draining {
            return Err(RouterClosed);
        }
        Ok(keys
            .into_iter()
            .map(|key| self.mailbox_for(key, ctx.address()))
            .collect())
    }
}

impl Router {
    fn mailbox_for(&mut self, key: RouteKey, router: Addr<Router>) -> mpsc::Sender<Dispatch> {
        let alive = self.entries.get(&key).is_some_and(|e| !e.tx.is_closed());
        if !alive {
            let entry = self.spawn_actor(&key, router);
            self.entries.insert(key.clone(), entry);
        }
        let entry = self.entries.get_mut(&key).expect("entry was just ensured");
        entry.dispatched += 1;
        entry.tx.clone()
    }
}

/// An idle actor offers to stop. Accepted only if every event handed out for it was
/// handled; then its mailbox sender is dropped, it drains and stops.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Retire {
    pub key: RouteKey,
    pub generation: u64,
    pub handled: u64,
}

impl Handler<Retire> for Router {
    type Result = ();

    fn handle(&mut self, msg: Retire, _: &mut Context<Self>) {
        let current = self.entries.get(&msg.key);
        if current.is_some_and(|e| e.generation == msg.generation && e.dispatched == msg.handled) {
            self.entries.remove(&msg.key);
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ActorStopped {
    pub key: RouteKey,
    pub generation: u64,
}

impl Handler<ActorStopped> for Router {
    type Result = ();

    fn handle(&mut self, msg: ActorStopped, _: &mut Context<Self>) {
        // An actor that stopped on its own (a panic in its arbiter) leaves a closed
        // mailbox; the next lookup replaces it.
        if self
            .entries
            .get(&msg.key)
            .is_some_and(|e| e.generation == msg.generation)
        {
            self.entries.remove(&msg.key);
        }
        self.stats.live_actors = self.stats.live_actors.saturating_sub(1);
        self.stats.stopped_total += 1;
        self.publish();
    }
}

/// Stops taking lookups, lets every actor finish its mailbox, and answers once all stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Drain;

impl Handler<Drain> for Router {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, _: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        self.entries.clear();
        let (tx, rx) = oneshot::channel();
        self.drained.push(tx);
        self.publish();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

/// Hands events to their conversations' actors in order, waiting while a mailbox is full.
/// If an actor stopped between the lookup and the send, its event comes back and goes to
/// its successor.
pub(crate) async fn dispatch(
    router: &Addr<Router>,
    events: Vec<(RouteKey, Dispatch)>,
) -> Result<(), RouterClosed> {
    let keys = events.iter().map(|(key, _)| key.clone()).collect();
    let mailboxes = router
        .send(Lookup(keys))
        .await
        .map_err(|_| RouterClosed)??;
    for ((key, event), tx) in events.into_iter().zip(mailboxes) {
        let mut event = match tx.send(event).await {
            Ok(()) => continue,
            Err(mpsc::error::SendError(back)) => back,
        };
        loop {
            let tx = router
                .send(Lookup(vec![key.clone()]))
                .await
                .map_err(|_| RouterClosed)??
                .pop()
                .expect("one mailbox per key");
            match tx.send(event).await {
                Ok(()) => break,
                Err(mpsc::error::SendError(back)) => event = back,
            }
        }
    }
    Ok(())
}
