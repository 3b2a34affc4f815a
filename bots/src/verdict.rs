//! Interceptors: `on_before_message(ctx, msg)` decides whether a message is delivered,
//! under a deadline, with the configured default when the scripts do not answer in time.

use crate::api::verdict_from;
use crate::bot::with_deadline;
use crate::{BotRuntime, Interceptor};
use parley_engine::handler::BotStates;
use parley_engine::model::{Envelope, Event, Verdict};
use std::sync::Arc;
use std::time::Instant;

const HANDLER: &str = "on_before_message";
const TOO_LATE: &str = "the interceptor did not answer in time";

impl BotRuntime {
    /// The verdict on a message awaiting delivery ([`Event::BeforeSend`]), `None` when no
    /// bot has an `on_before_message` for it (this is the runtime's
    /// [`EventHandler::verdict`](parley_engine::handler::EventHandler::verdict)): the interceptors
    /// run in bot order; the first `reject(..)` wins, else the last `replace(..)`, else
    /// allow. When they take longer than `before_message.timeout_ms`, or one fails, the
    /// configured default applies and is logged. Their `ctx.store` changes are kept; their
    /// `ctx.state` changes, commands and schedules are not (an interceptor only judges).
    pub async fn intercept(&self, envelope: Arc<Envelope>, state: BotStates) -> Option<Verdict> {
        let config = self.inner.options.before_message.clone();
        if !matches!(envelope.event, Event::BeforeSend(_)) || !self.wants(&envelope, HANDLER) {
            return None;
        }
        Some(self.judge(envelope, state, &config).await)
    }

    async fn judge(
        &self,
        envelope: Arc<Envelope>,
        state: BotStates,
        config: &Interceptor,
    ) -> Verdict {
        let timeout = config.timeout();
        let deadline = Instant::now() + timeout;
        let runtime = self.clone();
        let id = envelope.id.clone();
        let task = tokio::task::spawn_blocking(move || {
            with_deadline(deadline, || runtime.run(&envelope, HANDLER, state))
        });
        let ran = match tokio::time::timeout(timeout, task).await {
            Ok(Ok(ran)) => ran,
            Ok(Err(e)) => {
                tracing::error!(event = %id, "interceptors panicked: {e}; default verdict {:?}", config.default);
                return config.default.verdict("the interceptor failed");
            }
            Err(_) => {
                tracing::warn!(event = %id, timeout_ms = config.timeout_ms, "interceptors did not answer in time; default verdict {:?}", config.default);
                return config.default.verdict(TOO_LATE);
            }
        };
        if !ran.handled.commands.is_empty() {
            tracing::warn!(event = %id, "commands queued by on_before_message are not sent");
        }
        if !ran.handled.schedules.is_empty() {
            tracing::warn!(event = %id, "schedules changed by on_before_message are not kept");
        }
        self.commit(ran.store).await;
        if let Some(bot) = ran.failed.first() {
            if Instant::now() >= deadline {
                tracing::warn!(event = %id, bot, timeout_ms = config.timeout_ms, "an interceptor was stopped at its deadline; default verdict {:?}", config.default);
                return config.default.verdict(TOO_LATE);
            }
            tracing::warn!(event = %id, bot, "an interceptor failed; default verdict {:?}", config.default);
            return config.default.verdict("the interceptor failed");
        }
        let mut verdict = Verdict::Allow;
        for (bot, returned) in ran.returned {
            match verdict_from(returned) {
                Ok(reject @ Verdict::Reject { .. }) => {
                    tracing::info!(event = %id, bot, verdict = ?reject, "message rejected");
                    return reject;
                }
                Ok(Verdict::Allow) => {}
                Ok(replace) => verdict = replace,
                Err(e) => {
                    tracing::warn!(event = %id, bot, "{e}; default verdict {:?}", config.default);
                    return config.default.verdict("the interceptor gave no verdict");
                }
            }
        }
        verdict
    }
}
