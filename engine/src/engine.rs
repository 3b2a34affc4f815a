//! Starting and stopping the whole engine: store, router, arbiters, one connection actor
//! and one outbox worker per connection, and the adapters.

use crate::actors::{ActorConfig, ConnectionActor, ConversationDeps, Router, RouterStats};
use crate::adapter::{Adapter, Intake, RateLimit};
use crate::broadcast::{self, Broadcasts, RunnerParts};
use crate::handler::EventHandler;
use crate::intercept::Interceptor;
use crate::model::ConnectionId;
use crate::monitor::{ConnectionParts, Counters, EngineMonitor};
use crate::outbox::{self, OutboxHandle, RetryPolicy};
use crate::ratelimit::SendGate;
use crate::scheduler::{self, Schedule, ScheduleView, SchedulerParts};
use crate::store::Store;
use actix::prelude::*;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub actors: ActorConfig,
    /// Events waiting per connection before an adapter's `deliver` waits.
    pub intake_capacity: usize,
    /// Unsent commands per connection before conversation actors wait.
    pub outbox_capacity: usize,
    pub retry: RetryPolicy,
    /// Arbiters (threads) the conversation actors are spread over; 0 = one per core.
    pub arbiters: usize,
    /// How long shutdown waits for the outbox to empty; what is left is sent at the next start.
    pub drain_timeout: Duration,
    /// Send limits per connection, replacing the adapter's documented defaults.
    pub rate_limits: HashMap<ConnectionId, Vec<RateLimit>>,
    /// Cron schedules delivering ticks to their connections.
    pub schedules: Vec<Schedule>,
    /// How long handled events and finished commands are kept (and an event id
    /// deduplicated) before they are pruned; `None` keeps them forever.
    pub retention: Option<Duration>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            actors: ActorConfig::default(),
            intake_capacity: 256,
            outbox_capacity: 10_000,
            retry: RetryPolicy::default(),
            arbiters: 0,
            drain_timeout: Duration::from_secs(10),
            rate_limits: HashMap::new(),
            schedules: Vec::new(),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("connection `{0}` is configured twice")]
    DuplicateConnection(ConnectionId),
    #[error("connection `{connection}` could not start: {message}")]
    AdapterStart {
        connection: ConnectionId,
        message: String,
    },
    #[error("schedule `{schedule}` names the unknown connection `{connection}`")]
    ScheduleConnection {
        schedule: String,
        connection: ConnectionId,
    },
    #[error("connection `{connection}`: {message}")]
    RateLimit {
        connection: ConnectionId,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

struct ConnectionRuntime {
    id: ConnectionId,
    adapter: Arc<dyn Adapter>,
    intake: Option<Intake>,
    intake_stopped: oneshot::Receiver<()>,
    outbox: OutboxHandle,
    worker: tokio::task::JoinHandle<()>,
}

/// A running engine. Must be started inside an actix system (`actix_rt::System`, or the
/// one `#[actix_web::main]` sets up).
pub struct Engine {
    store: Store,
    monitor: EngineMonitor,
    broadcasts: Broadcasts,
    broadcast_tasks: Vec<tokio::task::JoinHandle<()>>,
    scheduler: Option<tokio::task::JoinHandle<()>>,
    schedules: watch::Receiver<Vec<ScheduleView>>,
    closing: watch::Sender<bool>,
    router: Addr<Router>,
    stats: watch::Receiver<RouterStats>,
    connections: Vec<ConnectionRuntime>,
    arbiters: Vec<Arbiter>,
    drain_timeout: Duration,
}

impl Engine {
    pub async fn start(
        config: EngineConfig,
        store: Store,
        handler: Arc<dyn EventHandler>,
        adapters: Vec<(ConnectionId, Arc<dyn Adapter>)>,
    ) -> Result<Engine, EngineError> {
        for s in &config.schedules {
            if !adapters.iter().any(|(id, _)| *id == s.connection()) {
                return Err(EngineError::ScheduleConnection {
                    schedule: s.name().to_string(),
                    connection: s.connection(),
                });
            }
        }
        let mut outboxes = HashMap::new();
        let mut gates = HashMap::new();
        for (id, adapter) in &adapters {
            let pending = store.pending_count(id).await?;
            if outboxes
                .insert(
                    id.clone(),
                    OutboxHandle::new(config.outbox_capacity, pending),
                )
                .is_some()
            {
                return Err(EngineError::DuplicateConnection(id.clone()));
            }
            let limits = config
                .rate_limits
                .get(id)
                .cloned()
                .unwrap_or_else(|| adapter.default_rate_limits());
            let gate = SendGate::new(&limits).map_err(|message| EngineError::RateLimit {
                connection: id.clone(),
                message,
            })?;
            gates.insert(id.clone(), Arc::new(gate));
        }
        let outboxes = Arc::new(outboxes);
        let threads = if config.arbiters == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            config.arbiters
        };
        let arbiters: Vec<Arbiter> = (0..threads).map(|_| Arbiter::new()).collect();
        let interceptor = Interceptor::new(store.clone(), handler.clone());
        let broadcast_wakes: Arc<HashMap<_, _>> = Arc::new(
            adapters
                .iter()
                .map(|(id, _)| (id.clone(), Arc::new(tokio::sync::Notify::new())))
                .collect(),
        );
        let schedules_changed = Arc::new(tokio::sync::Notify::new());
        let deps = ConversationDeps {
            schedules_changed: schedules_changed.clone(),
            broadcast_wakes: broadcast_wakes.clone(),
            store: store.clone(),
            handler: handler.clone(),
            outboxes: outboxes.clone(),
            config: config.actors.clone(),
        };
        let (router, stats) = Router::new(arbiters.iter().map(Arbiter::handle).collect(), deps);
        let router = router.start();

        let (closing, closing_rx) = watch::channel(false);
        let (schedule_views, schedule_views_rx) = watch::channel(Vec::new());
        let counters = Arc::new(Counters::default());
        let monitor = EngineMonitor::new(
            adapters
                .iter()
                .map(|(id, adapter)| ConnectionParts {
                    id: id.clone(),
                    kind: adapter.kind(),
                    outbox: outboxes[id].clone(),
                    gate: gates[id].clone(),
                })
                .collect(),
            counters.clone(),
        );
        let parts = adapters
            .iter()
            .map(|(id, adapter)| RunnerParts {
                connection: id.clone(),
                adapter: adapter.clone(),
                gate: gates[id].clone(),
                outbox: outboxes[id].clone(),
                retry: config.retry.clone(),
                counters: counters.clone(),
            })
            .collect();
        let (broadcasts, broadcast_tasks) =
            broadcast::spawn(store.clone(), parts, broadcast_wakes, closing_rx);
        let mut engine = Engine {
            monitor,
            store: store.clone(),
            broadcasts,
            broadcast_tasks,
            scheduler: None,
            schedules: schedule_views_rx,
            closing,
            router: router.clone(),
            stats,
            connections: Vec::new(),
            arbiters,
            drain_timeout: config.drain_timeout,
        };
        for (id, adapter) in adapters {
            let outbox = outboxes[&id].clone();
            let (tx, rx) = mpsc::channel(config.intake_capacity.max(1));
            let (stopped_tx, intake_stopped) = oneshot::channel();
            let actor_id = id.clone();
            let actor_counters = counters.clone();
            let (actor_store, actor_router) = (store.clone(), router.clone());
            ConnectionActor::create(move |ctx| {
                ctx.add_stream(ReceiverStream::new(rx).ready_chunks(crate::actors::INTAKE_BATCH));
                ConnectionActor::new(
                    actor_id,
                    actor_store,
                    actor_router,
                    stopped_tx,
                    actor_counters,
                )
            });
            let intake = Intake {
                connection: id.clone(),
                tx,
                interceptor: Some(interceptor.clone()),
            };
            let worker = tokio::spawn(outbox::run(outbox::Sender {
                connection: id.clone(),
                store: store.clone(),
                adapter: adapter.clone(),
                retry: config.retry.clone(),
                handle: outbox.clone(),
                gate: gates[&id].clone(),
                results: intake.downgrade(),
                handler: handler.clone(),
                counters: counters.clone(),
            }));
            let cursor = store.cursor(&id).await?;
            let started = adapter.start(intake.clone(), cursor).await;
            engine.connections.push(ConnectionRuntime {
                id: id.clone(),
                adapter,
                intake: Some(intake),
                intake_stopped,
                outbox,
                worker,
            });
            if let Err(e) = started {
                engine.shutdown().await;
                return Err(EngineError::AdapterStart {
                    connection: id,
                    message: e.to_string(),
                });
            }
            tracing::info!(connection = %engine.connections.last().map(|c| c.id.to_string()).unwrap_or_default(), "connection started");
        }
        let intakes = engine
            .connections
            .iter()
            .filter_map(|c| Some((c.id.clone(), c.intake.clone()?)))
            .collect();
        if let Some(retention) = config.retention {
            tokio::spawn(prune_periodically(
                store.clone(),
                retention,
                engine.closing.subscribe(),
            ));
        }
        engine.scheduler = Some(tokio::spawn(scheduler::run(SchedulerParts {
            store: store.clone(),
            schedules: config.schedules.clone(),
            intakes,
            changed: schedules_changed,
            views: schedule_views,
            closing: engine.closing.subscribe(),
        })));
        Ok(engine)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Live figures: connections, outbox depths, send-limit waits, traffic.
    pub fn monitor(&self) -> EngineMonitor {
        self.monitor.clone()
    }

    /// Every schedule, from config and from scripts, with its next run.
    pub fn schedules(&self) -> Vec<ScheduleView> {
        self.schedules.borrow().clone()
    }

    /// The schedules as they change (after each run, and as scripts add and cancel them).
    pub fn schedule_views(&self) -> watch::Receiver<Vec<ScheduleView>> {
        self.schedules.clone()
    }

    /// Starts, controls and reports on broadcast jobs.
    pub fn broadcasts(&self) -> Broadcasts {
        self.broadcasts.clone()
    }

    /// Live actor counts, updated as actors start and stop.
    pub fn router_stats(&self) -> watch::Receiver<RouterStats> {
        self.stats.clone()
    }

    /// The intake of a connection, for delivering events from outside its adapter (tests,
    /// the scheduler).
    pub fn intake(&self, connection: &ConnectionId) -> Option<Intake> {
        self.connections
            .iter()
            .find(|c| &c.id == connection)
            .and_then(|c| c.intake.clone())
    }

    /// Graceful stop: adapters stop delivering; every event already accepted is handled;
    /// the outbox sends what it holds (up to the drain timeout; the rest is sent at the
    /// next start); the store is closed.
    pub async fn shutdown(mut self) {
        // Schedules and broadcasts stop first: the scheduler holds intakes, and broadcasts
        // should not start sends the drain below would have to wait for.
        self.closing.send_replace(true);
        if let Some(task) = self.scheduler.take() {
            let _ = task.await;
        }
        for c in &mut self.connections {
            c.adapter.stop().await;
            c.intake = None;
        }
        for c in &mut self.connections {
            let stopped = std::mem::replace(&mut c.intake_stopped, oneshot::channel().1);
            if tokio::time::timeout(self.drain_timeout, stopped)
                .await
                .is_err()
            {
                tracing::warn!(connection = %c.id, "intake did not drain in time (an adapter still holds its intake)");
            }
        }
        let _ = self.router.send(crate::actors::Drain).await;
        // Broadcasts finish the sends in flight and record them; the rest is sent at the
        // next start.
        for task in self.broadcast_tasks.drain(..) {
            let _ = task.await;
        }
        for c in &mut self.connections {
            c.outbox.close();
        }
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        for c in &mut self.connections {
            let worker = &mut c.worker;
            if tokio::time::timeout_at(deadline, &mut *worker)
                .await
                .is_err()
            {
                worker.abort();
                tracing::warn!(connection = %c.id, pending = c.outbox.pending(), "outbox not empty at shutdown; the rest is sent at the next start");
            }
        }
        for a in self.arbiters.drain(..) {
            a.stop();
            let _ = tokio::task::spawn_blocking(move || a.join()).await;
        }
        self.store.close().await;
    }
}

/// Prunes what is done and older than `retention` at start and then every hour.
async fn prune_periodically(store: Store, retention: Duration, mut closing: watch::Receiver<bool>) {
    const EVERY: Duration = Duration::from_secs(3600);
    loop {
        let before = crate::store::now_ms() - retention.as_millis() as i64;
        match store.prune(before).await {
            Ok(p) if p.inbox + p.outbox > 0 => {
                tracing::info!(
                    events = p.inbox,
                    commands = p.outbox,
                    "pruned what was done before the retention"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune the store; trying again later"),
        }
        let closed = tokio::select! {
            _ = tokio::time::sleep(EVERY) => false,
            _ = closing.wait_for(|c| *c) => true,
        };
        if closed {
            return;
        }
    }
}
