//! The actor of one direct conversation or group: runs the handler for each event in
//! arrival order and records what it produced.

use super::router::{ActorStopped, Retire, RouteKey, Router};
use super::{ConversationDeps, Dispatch};
use crate::handler::{BotStates, Handled, Queued};
use crate::model::Command;
use crate::model::OutboundCommand;
use crate::store::{Completion, NewJob, Outgoing};
use actix::prelude::*;
use std::time::{Duration, Instant};

pub struct ConversationActor {
    key: RouteKey,
    generation: u64,
    deps: ConversationDeps,
    router: Addr<Router>,
    /// Loaded from the store on the first event after (re)start.
    state: Option<BotStates>,
    handled: u64,
    last_active: Instant,
    /// The `handled` count at which retirement was last offered, to offer it once.
    retire_offered_at: Option<u64>,
}

impl ConversationActor {
    pub(crate) fn new(
        key: RouteKey,
        generation: u64,
        deps: ConversationDeps,
        router: Addr<Router>,
    ) -> Self {
        Self {
            key,
            generation,
            deps,
            router,
            state: None,
            handled: 0,
            last_active: Instant::now(),
            retire_offered_at: None,
        }
    }
}

impl Actor for ConversationActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let idle = self.deps.config.idle_timeout;
        let tick = (idle / 4).clamp(Duration::from_millis(5), Duration::from_secs(30));
        ctx.run_interval(tick, |act, _| {
            if act.last_active.elapsed() >= act.deps.config.idle_timeout
                && act.retire_offered_at != Some(act.handled)
            {
                act.retire_offered_at = Some(act.handled);
                act.router.do_send(Retire {
                    key: act.key.clone(),
                    generation: act.generation,
                    handled: act.handled,
                });
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.router.do_send(ActorStopped {
            key: self.key.clone(),
            generation: self.generation,
        });
    }
}

impl StreamHandler<Dispatch> for ConversationActor {
    fn handle(&mut self, event: Dispatch, ctx: &mut Context<Self>) {
        let deps = self.deps.clone();
        let key = self.key.clone();
        let loaded = self.state.take();
        let work = async move { handle_event(deps, key, loaded, event).await };
        // `wait` holds every later event (and the idle timer) until this one is recorded:
        // strict per-conversation order.
        ctx.wait(work.into_actor(self).map(|state, act, _| {
            act.state = state;
            act.handled += 1;
            act.last_active = Instant::now();
        }));
    }

    /// Every sender is gone: the router retired this actor or the engine is draining.
    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Runs the handler for one event and records the outcome. Returns the state to keep in
/// memory, or `None` to reload it from the store next time (after a store failure).
async fn handle_event(
    deps: ConversationDeps,
    key: RouteKey,
    loaded: Option<BotStates>,
    event: Dispatch,
) -> Option<BotStates> {
    let state = match loaded {
        Some(state) => state,
        None => match deps
            .store
            .load_state(&key.connection, &key.conversation)
            .await
        {
            Ok(state) => state,
            Err(e) => {
                // Handling with an empty state would overwrite the saved one; leave the
                // event unhandled in the inbox, where the next start replays it.
                tracing::error!(conversation = %key.conversation, error = %e, "cannot load bot state; event left for replay");
                return None;
            }
        },
    };
    let before = state.clone();
    let Handled {
        state,
        commands,
        schedules,
    } = deps.handler.handle(event.envelope.clone(), state).await;

    let changed = changed_states(&before, &state);
    let mut jobs = Vec::new();
    let mut outbound = Vec::new();
    for (i, Queued { command, bot }) in commands.into_iter().enumerate() {
        // Stable across a replay of this event, so the outbox, the job table and the
        // platform deduplicate the effects of an event handled twice after a crash.
        let key_i = format!("{}#{}", event.envelope.id, i);
        match command {
            // A bot's broadcast becomes a job: persisted, resumable, paced, reported.
            Command::BatchSend { to, content } => jobs.push(NewJob {
                origin_key: key_i,
                content,
                targets: to,
            }),
            command => outbound.push(Outgoing {
                command: OutboundCommand {
                    connection: key.connection.clone(),
                    idempotency_key: key_i,
                    command,
                },
                bot,
            }),
        }
    }
    let commands = outbound;
    let outbox = deps.outboxes.get(&key.connection).cloned();
    if let Some(outbox) = &outbox {
        outbox.reserve(commands.len()).await;
    } else if !commands.is_empty() {
        tracing::error!(connection = %key.connection, "no outbox for this connection; commands kept in the store");
    }
    let started_jobs = !jobs.is_empty();
    let changed_schedules = !schedules.is_empty();
    let completion = Completion {
        connection: key.connection.clone(),
        conversation: Some(key.conversation.clone()),
        inbox_seq: Some(event.seq),
        state: changed,
        commands,
        jobs,
        schedules,
    };
    if let Err(e) = deps.store.complete(completion).await {
        tracing::error!(conversation = %key.conversation, error = %e, "cannot record a handled event; it will be replayed at the next start");
        return None;
    }
    if let Some(outbox) = outbox {
        outbox.wake();
    }
    if changed_schedules {
        deps.schedules_changed.notify_one();
    }
    if started_jobs {
        if let Some(wake) = deps.broadcast_wakes.get(&key.connection) {
            wake.notify_one();
        }
    }
    Some(state)
}

fn changed_states(
    before: &BotStates,
    after: &BotStates,
) -> Vec<(String, Option<serde_json::Value>)> {
    let mut changed: Vec<_> = after
        .iter()
        .filter(|(bot, value)| before.get(*bot) != Some(value))
        .map(|(bot, value)| (bot.clone(), Some(value.clone())))
        .collect();
    changed.extend(
        before
            .keys()
            .filter(|bot| !after.contains_key(*bot))
            .map(|bot| (bot.clone(), None)),
    );
    changed
}
