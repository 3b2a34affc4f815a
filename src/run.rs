//! `parley run`.

use crate::app;
use crate::config::Config;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub fn run(config_path: &Path, bind: Option<String>, data_dir: Option<PathBuf>) -> Result<()> {
    let (mut config, _) = Config::load(config_path)?;
    if let Some(bind) = bind {
        config.server.bind = bind;
    }
    if let Some(dir) = data_dir {
        config.server.data_dir = dir;
    }
    init_logging(config.server.json_logs);
    actix_web::rt::System::new().block_on(async move {
        let running = app::start(&config).await?;
        // Tests and scripts read this line to find the port when bind asks for port 0.
        for addr in &running.addrs {
            println!("parley listening on http://{addr}");
        }
        shutdown_signal().await;
        tracing::info!("shutting down: draining mailboxes and the outbox");
        running.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    })
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
