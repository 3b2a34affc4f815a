//! Parley assembled: store, hub, bots, engine and the HTTP server, started from a
//! [`Config`] and stopped gracefully. `parley run` uses it, and so can anything that needs
//! a whole Parley in-process (transcript tests).

use crate::admin::{self, AdminState};
use crate::config::{Config, ConnectionConfig};
use crate::{console, metrics};
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{Context, Result};
use parley_bots::{BotRuntime, ScriptError, Watcher};
use parley_engine::actors::RouterStats;
use parley_engine::adapter::Adapter;
use parley_engine::model::ConnectionId;
use parley_engine::store::Store;
use parley_engine::Engine;
use parley_hub::{Hub, HubAdapter};
use parley_onebot::OneBotAdapter;
use parley_tencent::TencentAdapter;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Adds routes to the HTTP server (a cloud adapter's webhook endpoint).
type Mount = dyn Fn(&mut web::ServiceConfig) + Send + Sync;

/// A running Parley.
pub struct Running {
    pub addrs: Vec<SocketAddr>,
    pub hub: Hub,
    pub bots: BotRuntime,
    /// Keeps scripts reloading on change while Parley runs.
    _watcher: Option<Watcher>,
    engine: Engine,
    server: ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn load_bots(config: &Config) -> (BotRuntime, Vec<ScriptError>) {
    BotRuntime::load(&config.bots.dir, config.bots.options.clone())
}

/// Starts everything; must run inside an actix system.
pub async fn start(config: &Config) -> Result<Running> {
    start_with_env(config, &|var| std::env::var(var).ok()).await
}

/// As [`start`], with the adapters' secrets read through `env` instead of the process
/// environment (the transcript runner gives its fake platforms' secrets this way).
pub async fn start_with_env(
    config: &Config,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Running> {
    let store = Store::open(&config.engine_db())
        .await
        .context("cannot open the engine's store")?;
    let hub = Hub::open(&config.hub_db(), &config.hub)
        .await
        .context("cannot open the hub")?;

    let (bots, script_errors) = load_bots(config);
    for e in &script_errors {
        // Reported, not fatal: the other bots run.
        tracing::error!("script does not compile: {e}");
    }
    tracing::info!(bots = ?bots.bots().iter().map(|b| b.name.clone()).collect::<Vec<_>>(), dir = %config.bots.dir.display(), "bots loaded");

    bots.open_store(&config.bots_db())
        .await
        .context("cannot open the bots' key-value store")?;
    let watcher =
        if config.bots.hot_reload {
            Some(bots.watch().with_context(|| {
                format!("cannot watch {} for changes", config.bots.dir.display())
            })?)
        } else {
            None
        };
    let mut adapters: Vec<(ConnectionId, Arc<dyn Adapter>)> = Vec::new();
    // Webhook endpoints of the cloud adapters, mounted on the HTTP server below.
    let mut webhooks: Vec<Arc<Mount>> = Vec::new();
    for c in &config.connections {
        match c {
            ConnectionConfig::Hub { id, user, .. } => {
                bots.set_self_user(id, user);
                let id = ConnectionId::from(id.as_str());
                adapters.push((
                    id.clone(),
                    Arc::new(HubAdapter::new(hub.clone(), id, user.clone())),
                ));
            }
            ConnectionConfig::OneBot(o) => {
                bots.set_self_user(&o.id, &o.self_id.to_string());
                let adapter = Arc::new(
                    OneBotAdapter::with_env(o.clone(), env).map_err(|e| anyhow::anyhow!("{e}"))?,
                );
                webhooks.push(Arc::new(adapter.routes()));
                adapters.push((adapter.connection().clone(), adapter));
            }
            ConnectionConfig::Tencent(t) => {
                bots.set_self_user(&t.id, &t.bot);
                let adapter = Arc::new(
                    TencentAdapter::with_env(t.clone(), env, parley_vendor::Clock::system())
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
                webhooks.push(Arc::new(adapter.routes()));
                adapters.push((adapter.connection().clone(), adapter));
            }
        }
    }
    let mut engine_config = config.engine.to_engine_config();
    engine_config.schedules = config.schedules();
    for c in &config.connections {
        if let Some(limits) = c.rate_limits() {
            engine_config
                .rate_limits
                .insert(ConnectionId::from(c.id()), limits.to_vec());
        }
    }
    let console_bots = bots.clone();
    let running_bots = bots.clone();
    let engine = Engine::start(engine_config, store, Arc::new(bots), adapters).await?;

    let admin_token = std::env::var(&config.server.admin_token_env)
        .ok()
        .filter(|t| !t.is_empty());
    if admin_token.is_none() {
        tracing::info!(variable = %config.server.admin_token_env, "no admin token set; the admin API is refused");
    }
    let hub_routes = hub.configure(admin_token.clone());
    let admin_routes = admin::routes(AdminState {
        token: admin_token.clone(),
        broadcasts: engine.broadcasts(),
        default_connection: ConnectionId::from(config.connections[0].id()),
    });
    let stats = engine.router_stats();
    let sources = console::Sources {
        stats: stats.clone(),
        bots: console_bots,
        engine: Arc::new(engine.monitor()),
        schedules: engine.schedule_views(),
    };
    let console_routes = console::routes(console::ConsoleState {
        token: admin_token.clone(),
        sources: sources.clone(),
        hub: hub.clone(),
    });
    let metrics_routes = metrics::routes(sources);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(stats.clone()))
            .route("/healthz", web::get().to(healthz))
            .configure(hub_routes.clone())
            .configure(admin_routes.clone())
            .configure(console_routes.clone())
            .configure(metrics_routes.clone())
            .configure(|cfg| {
                for mount in &webhooks {
                    mount(cfg);
                }
            })
    })
    .disable_signals()
    // Pushed frames and webhook answers are small: Nagle's algorithm would hold one back
    // until the peer acknowledged the previous one (up to a delayed ACK, ~40 ms).
    .tcp_nodelay(true)
    .shutdown_timeout(5)
    .bind(&config.server.bind)
    .with_context(|| format!("cannot listen on {}", config.server.bind))?;
    let addrs = server.addrs();
    let server = server.run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    Ok(Running {
        addrs,
        hub,
        bots: running_bots,
        _watcher: watcher,
        engine,
        server: handle,
        server_task,
    })
}

impl Running {
    /// The intake of a connection, for delivering events from outside its adapter.
    pub fn intake(&self, connection: &ConnectionId) -> Option<parley_engine::adapter::Intake> {
        self.engine.intake(connection)
    }

    /// The engine's live figures (events taken in, commands sent).
    pub fn monitor(&self) -> parley_engine::monitor::EngineMonitor {
        self.engine.monitor()
    }

    /// Graceful stop: drains mailboxes and the outbox, then closes the hub's sessions and
    /// the HTTP server.
    pub async fn shutdown(self) {
        self.engine.shutdown().await;
        // No handler runs any more: the bots' store can be closed cleanly.
        self.bots.close_store().await;
        // Closing the hub ends its WebSocket sessions, so the HTTP server need not wait for
        // clients to hang up.
        self.hub.close().await;
        self.server.stop(true).await;
        let _ = self.server_task.await;
    }
}

async fn healthz(stats: web::Data<watch::Receiver<RouterStats>>) -> HttpResponse {
    let s = *stats.borrow();
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "live_actors": s.live_actors,
        "actors_started": s.started_total,
    }))
}
