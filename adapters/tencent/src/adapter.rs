//! The Tencent Cloud IM connection: callbacks in through [`TencentAdapter::routes`], commands
//! out through the REST API.

use crate::commands::{self, Plan, Reply};
use crate::config::{self, TencentConfig};
use crate::directory;
use crate::endpoint::{self, Endpoint};
use crate::history;
use crate::rest::Rest;
use crate::usersig::UserSigCache;
use actix_web::web;
use futures_util::future::BoxFuture;
use parley_engine::adapter::{Adapter, AdapterError, Intake, RateLimit};
use parley_engine::model::{Command, CommandOutput, CommandResult, ConnectionId, OutboundCommand};
use parley_vendor::errors::unsupported;
use parley_vendor::http::{HttpClient, Timeouts};
use parley_vendor::webhook::IntakeSlot;
use parley_vendor::Clock;
use std::sync::Arc;
use std::time::Duration;

/// "Already recalled": a retried recall whose first attempt took effect.
const ALREADY_RECALLED: &str = "20023";

/// Command kinds sharing one REST API, each API limited to 200 calls a second (seed-001 §7.1).
const API_GROUPS: &[&[&str]] = &[
    &["send"],
    &["batch_send"],
    &["edit"],
    &["fetch_history"],
    &["recall"],
    &["mark_read"],
    &["add_friend"],
    &["remove_friend"],
    &["block"],
    &["unblock"],
    &["create_group"],
    &["invite", "join_group"],
    &["kick", "leave_group"],
    &["mute", "unmute"],
    &[
        "mute_all",
        "unmute_all",
        "set_group_info",
        "set_announcement",
    ],
    &["set_admin"],
    &["transfer_owner"],
    &["dismiss"],
    &["list_friends"],
    &["list_groups"],
    &["get_group_info"],
    &["list_members"],
    &["get_profile"],
];
const PER_API_PER_SECOND: u32 = 200;

pub struct TencentAdapter {
    endpoint: Arc<Endpoint>,
    rest: Arc<Rest>,
}

impl TencentAdapter {
    /// Checks `config` and reads its secrets from the process environment.
    pub fn new(config: TencentConfig) -> Result<Self, AdapterError> {
        Self::with_env(config, |var| std::env::var(var).ok(), Clock::system())
    }

    /// As [`new`](Self::new), with the environment and the clock given (for tests).
    pub fn with_env(
        config: TencentConfig,
        env: impl Fn(&str) -> Option<String>,
        clock: Clock,
    ) -> Result<Self, AdapterError> {
        let settings = config::check(config, env).map_err(AdapterError)?;
        let c = &settings.config;
        let timeouts = Timeouts {
            connect: Duration::from_millis(c.request_timeout_ms.min(3000)),
            request: Duration::from_millis(c.request_timeout_ms),
        };
        let rest = Rest {
            http: HttpClient::new("Tencent", &timeouts).map_err(AdapterError)?,
            base_url: settings.base_url.clone(),
            sdk_app_id: c.sdk_app_id,
            admin: c.admin.clone(),
            usersig: UserSigCache::new(
                c.sdk_app_id,
                settings.secret_key.clone(),
                c.admin.clone(),
                Duration::from_secs(c.usersig_ttl_secs),
                clock.clone(),
            ),
        };
        let connection = ConnectionId::new(c.id.as_str());
        Ok(Self {
            endpoint: Arc::new(Endpoint {
                settings,
                connection,
                intake: IntakeSlot::default(),
                clock,
            }),
            rest: Arc::new(rest),
        })
    }

    pub fn connection(&self) -> &ConnectionId {
        &self.endpoint.connection
    }

    /// Mounts the callback endpoint (`callback_path`) on an actix-web app.
    pub fn routes(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        endpoint::configure(self.endpoint.clone())
    }
}

impl Adapter for TencentAdapter {
    fn kind(&self) -> &'static str {
        "tencent"
    }

    fn start(
        &self,
        intake: Intake,
        _cursor: Option<String>,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        self.endpoint.intake.set(intake);
        let (connection, path) = (
            self.endpoint.connection.clone(),
            self.endpoint.settings.config.callback_path.clone(),
        );
        Box::pin(async move {
            tracing::info!(%connection, path, "tencent adapter started; waiting for callbacks");
            Ok(())
        })
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        self.endpoint.intake.clear();
        Box::pin(async {})
    }

    fn default_rate_limits(&self) -> Vec<RateLimit> {
        API_GROUPS
            .iter()
            .map(|kinds| RateLimit {
                commands: kinds.iter().map(|k| k.to_string()).collect(),
                per_second: Some(PER_API_PER_SECOND),
                per_minute: None,
            })
            .collect()
    }

    fn execute(&self, command: OutboundCommand) -> BoxFuture<'static, CommandResult> {
        let rest = self.rest.clone();
        let bot = self.endpoint.settings.config.bot.clone();
        let clock = self.endpoint.clock.clone();
        Box::pin(async move {
            let call = match commands::plan(&command, &bot) {
                Plan::Call(call) => call,
                Plan::History => {
                    return fetch_history(&rest, &bot, &command, clock.unix_ms()).await
                }
                Plan::Unsupported => return unsupported("Tencent", command.command.name()),
                Plan::Invalid(e) => return CommandResult::Failed(e),
            };
            let (random, _) = commands::randoms(&command.idempotency_key);
            if matches!(call.reply, Reply::Friends) {
                return list_friends(&rest, &bot, random).await.into();
            }
            match rest.call(call.api, &call.body, random).await {
                Ok(answer) => commands::output(
                    &call.reply,
                    &answer,
                    &command.idempotency_key,
                    clock.unix_ms(),
                )
                .into(),
                Err(e)
                    if matches!(call.reply, Reply::DirectRecalled)
                        && e.platform_code.as_deref() == Some(ALREADY_RECALLED) =>
                {
                    CommandResult::Ok(CommandOutput::Done)
                }
                Err(e) => CommandResult::Failed(e),
            }
        })
    }
}

/// `fetch_history`, page by page.
async fn fetch_history(
    rest: &Rest,
    bot: &str,
    command: &OutboundCommand,
    now_ms: i64,
) -> CommandResult {
    let Command::FetchHistory {
        conversation,
        before,
        limit,
    } = &command.command
    else {
        return unsupported("Tencent", command.command.name());
    };
    let (random, _) = commands::randoms(&command.idempotency_key);
    history::fetch(
        rest,
        bot,
        conversation,
        before.as_ref(),
        *limit,
        random,
        now_ms,
    )
    .await
    .into()
}

/// The whole friend list, page by page (`sns/friend_get` answers 100 friends at a time).
async fn list_friends(
    rest: &Rest,
    bot: &str,
    random: u32,
) -> Result<CommandOutput, parley_engine::model::CommandError> {
    let mut friends = Vec::new();
    let mut start = 0;
    for page in 0..directory::MAX_FRIEND_PAGES {
        // Each page is its own request: Tencent may refuse a repeated `random`.
        let body = directory::friend_get(bot, start);
        let answer = rest
            .call("sns/friend_get", &body, random.wrapping_add(page as u32))
            .await?;
        let (more, next) = directory::friends_page(&answer)?;
        friends.extend(more);
        match next {
            Some(next) => start = next,
            None => return Ok(CommandOutput::Friends { friends }),
        }
    }
    tracing::warn!(
        read = friends.len(),
        "Tencent friend list longer than {} pages; answering with what was read",
        directory::MAX_FRIEND_PAGES
    );
    Ok(CommandOutput::Friends { friends })
}
