//! The OneBot v11 connection of one QQ account: events in and actions out over reverse
//! WebSocket, forward WebSocket, or HTTP POST + HTTP API.

use crate::actions::{self, Plan};
use crate::config::{self, Mode, OneBotConfig};
use crate::http::{self, HttpApi};
use crate::session::Shared;
use crate::{forward_ws, reverse_ws};
use actix_web::web;
use futures_util::future::BoxFuture;
use parley_engine::adapter::{Adapter, AdapterError, Intake};
use parley_engine::model::{CommandResult, ConnectionId, OutboundCommand};
use parley_vendor::errors::unsupported;
use parley_vendor::{webhook, Clock};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub struct OneBotAdapter {
    shared: Arc<Shared>,
    /// The HTTP API, in mode `http`; otherwise actions go over WebSocket.
    http_api: Option<Arc<HttpApi>>,
    forward: Mutex<Option<JoinHandle<()>>>,
}

impl OneBotAdapter {
    /// Checks `config` and reads its secrets from the process environment.
    pub fn new(config: OneBotConfig) -> Result<Self, AdapterError> {
        Self::with_env(config, |var| std::env::var(var).ok())
    }

    /// As [`new`](Self::new), with the environment given (for tests).
    pub fn with_env(
        config: OneBotConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, AdapterError> {
        let settings = config::check(config, env).map_err(AdapterError)?;
        let http_api = match settings.config.mode {
            Mode::Http => Some(Arc::new(
                HttpApi::new(
                    settings.url(),
                    settings.access_token.clone(),
                    settings.action_timeout(),
                )
                .map_err(AdapterError)?,
            )),
            _ => None,
        };
        Ok(Self {
            shared: Arc::new(Shared::new(settings, Clock::system())),
            http_api,
            forward: Mutex::new(None),
        })
    }

    pub fn connection(&self) -> &ConnectionId {
        &self.shared.connection
    }

    /// The bot's QQ number, its own user id in the model.
    pub fn self_id(&self) -> u64 {
        self.shared.self_id()
    }

    /// Mounts `path` on an actix-web app: the reverse WebSocket endpoint (GET) in mode
    /// `reverse_ws`, the event endpoint (POST) in mode `http`; nothing in `forward_ws`.
    pub fn routes(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |cfg: &mut web::ServiceConfig| {
            let s = &shared.settings;
            let resource = web::resource(s.path.as_str()).app_data(web::Data::from(shared.clone()));
            match s.config.mode {
                Mode::ReverseWs => cfg.service(resource.route(web::get().to(reverse_ws::handler))),
                Mode::Http => cfg.service(
                    resource
                        .app_data(webhook::body_limit(s.config.max_frame_bytes))
                        .route(web::post().to(http::post_event)),
                ),
                Mode::ForwardWs => cfg,
            };
        }
    }
}

impl Adapter for OneBotAdapter {
    fn kind(&self) -> &'static str {
        "onebot"
    }

    fn start(
        &self,
        intake: Intake,
        _cursor: Option<String>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        self.shared.intake.set(intake);
        self.shared.stopped.send_replace(false);
        let s = &self.shared.settings;
        if s.config.mode == Mode::ForwardWs {
            let task = tokio::spawn(forward_ws::run(self.shared.clone()));
            *self.forward.lock().expect("forward lock") = Some(task);
        }
        let (connection, mode, path) = (
            self.shared.connection.clone(),
            s.config.mode,
            s.path.clone(),
        );
        Box::pin(async move {
            tracing::info!(%connection, ?mode, path, "onebot adapter started");
            Ok(())
        })
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        self.shared.stopped.send_replace(true);
        self.shared.intake.clear();
        let task = self.forward.lock().expect("forward lock").take();
        Box::pin(async move {
            if let Some(task) = task {
                let _ = task.await;
            }
        })
    }

    fn execute(&self, command: OutboundCommand) -> BoxFuture<'static, CommandResult> {
        let shared = self.shared.clone();
        let http_api = self.http_api.clone();
        Box::pin(async move {
            let (calls, reply) = match actions::plan(&command.command, shared.self_id()) {
                Plan::Calls { calls, reply } => (calls, reply),
                Plan::Unsupported => return unsupported("OneBot v11", command.command.name()),
                Plan::Invalid(e) => return CommandResult::Failed(e),
            };
            let mut data = Value::Null;
            let mut last = "";
            for call in calls {
                last = call.action;
                let answer = match &http_api {
                    Some(api) => api.call(call.action, &call.params).await,
                    None => {
                        shared
                            .rpc
                            .call(call.action, &call.params, shared.settings.action_timeout())
                            .await
                    }
                };
                data = match answer.and_then(|a| actions::answer(call.action, &a)) {
                    Ok(data) => data,
                    Err(e) => return CommandResult::Failed(e),
                };
            }
            actions::output(reply, last, &data, shared.clock.unix_ms()).into()
        })
    }
}
