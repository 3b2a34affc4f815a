//! `parley run` and `parley check`.

use crate::config::{Config, ConnectionConfig};
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{Context, Result};
use parley_bots::{BotOptions, BotRuntime, ScriptError};
use parley_engine::actors::RouterStats;
use parley_engine::adapter::Adapter;
use parley_engine::model::ConnectionId;
use parley_engine::store::Store;
use parley_engine::Engine;
use parley_hub::{Hub, HubAdapter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

pub fn run(config_path: &Path, bind: Option<String>, data_dir: Option<PathBuf>) -> Result<()> {
    let (mut config, _) = Config::load(config_path)?;
    if let Some(bind) = bind {
        config.server.bind = bind;
    }
    if let Some(dir) = data_dir {
        config.server.data_dir = dir;
    }
    init_logging(config.server.json_logs);
    actix_web::rt::System::new().block_on(serve(config))
}

pub fn check(config_path: &Path) -> Result<()> {
    let (config, _) = Config::load(config_path)?;
    let (runtime, errors) = load_bots(&config);
    for bot in runtime.bots() {
        println!("ok    {} ({})", bot.file.display(), bot.handlers.join(", "));
    }
    for e in &errors {
        println!("error {e}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} script(s) do not compile", errors.len())
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load_bots(config: &Config) -> (BotRuntime, Vec<ScriptError>) {
    let options = BotOptions {
        max_operations: config.bots.max_operations,
        ..BotOptions::default()
    };
    BotRuntime::load(&config.bots.dir, options)
}

async fn serve(config: Config) -> Result<()> {
    let store = Store::open(&config.engine_db())
        .await
        .context("cannot open the engine's store")?;
    let hub = Hub::open(&config.hub_db(), &config.hub)
        .await
        .context("cannot open the hub")?;

    let (bots, errors) = load_bots(&config);
    for e in &errors {
        // Reported, not fatal: the other bots run.
        tracing::error!("script does not compile: {e}");
    }
    tracing::info!(bots = ?bots.bots().iter().map(|b| b.name.clone()).collect::<Vec<_>>(), dir = %config.bots.dir.display(), "bots loaded");

    let adapters: Vec<(ConnectionId, Arc<dyn Adapter>)> = config
        .connections
        .iter()
        .map(|c| match c {
            ConnectionConfig::Hub { id, user } => {
                let id = ConnectionId::from(id.as_str());
                (
                    id.clone(),
                    Arc::new(HubAdapter::new(hub.clone(), id, user.clone())) as Arc<dyn Adapter>,
                )
            }
        })
        .collect();
    let engine = Engine::start(
        config.engine.to_engine_config(),
        store,
        Arc::new(bots),
        adapters,
    )
    .await?;

    let admin_token = std::env::var(&config.server.admin_token_env)
        .ok()
        .filter(|t| !t.is_empty());
    if admin_token.is_none() {
        tracing::info!(variable = %config.server.admin_token_env, "no admin token set; the admin API is refused");
    }
    let hub_routes = hub.configure(admin_token);
    let stats = engine.router_stats();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(stats.clone()))
            .route("/healthz", web::get().to(healthz))
            .configure(hub_routes.clone())
    })
    .disable_signals()
    .shutdown_timeout(5)
    .bind(&config.server.bind)
    .with_context(|| format!("cannot listen on {}", config.server.bind))?;
    // Tests and scripts read this line to find the port when bind asks for port 0.
    for addr in server.addrs() {
        println!("parley listening on http://{addr}");
    }
    let server = server.run();
    let handle = server.handle();
    let server_task = actix_web::rt::spawn(server);

    shutdown_signal().await;
    tracing::info!("shutting down: draining mailboxes and the outbox");
    engine.shutdown().await;
    // Closing the hub ends its WebSocket sessions, so the HTTP server need not wait for
    // clients to hang up.
    hub.close().await;
    handle.stop(true).await;
    let _ = server_task.await;
    tracing::info!("stopped");
    Ok(())
}

async fn healthz(stats: web::Data<watch::Receiver<RouterStats>>) -> HttpResponse {
    let s = *stats.borrow();
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "live_actors": s.live_actors,
        "actors_started": s.started_total,
    }))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
