//! `schedule(...)`, `schedule_once(...)` and `cancel(id)`: a bot's own schedules. Each
//! run calls the named handler of the same bot, `handler(ctx, tick)`, in the conversation
//! the schedule was created in. Also available as `ctx.schedule(...)` and so on.

use super::ctx::{Ctx, RhaiResult};
use chrono::DateTime;
use parley_engine::scheduler::{ScheduleChange, ScriptSchedule, When};
use rhai::{Dynamic, Engine, ImmutableString, NativeCallContext};

/// Most schedules one handler call may create or cancel.
pub(crate) const MAX_SCHEDULE_CHANGES_PER_EVENT: usize = 100;

impl Ctx {
    fn schedule(
        &self,
        when: When,
        handler: &str,
        payload: Dynamic,
        what: &str,
    ) -> RhaiResult<String> {
        if !self.shared().handlers.iter().any(|h| h == handler) {
            return Err(format!(
                "{what}: this bot has no handler `{handler}(ctx, tick)` for the schedule to call"
            )
            .into());
        }
        when.timing().map_err(|e| format!("{what}: {e}"))?;
        let payload = serde_json::to_value(&payload)
            .map_err(|e| format!("{what}: the payload cannot be stored: {e}"))?;
        let mut output = self.lock();
        self.check_room(&output.schedules, what)?;
        let shared = self.shared();
        let id = ScriptSchedule::id_for(&shared.bot, &shared.event_id, output.scheduled);
        output.scheduled += 1;
        output.schedules.push(ScheduleChange::Set(ScriptSchedule {
            id: id.clone(),
            bot: shared.bot.to_string(),
            handler: handler.to_string(),
            when,
            payload,
        }));
        Ok(id)
    }

    fn cancel(&self, id: &str) -> RhaiResult<()> {
        let mut output = self.lock();
        self.check_room(&output.schedules, "cancel")?;
        output.schedules.push(ScheduleChange::Cancel {
            bot: self.shared().bot.to_string(),
            id: id.to_string(),
        });
        Ok(())
    }

    fn check_room(&self, changes: &[ScheduleChange], what: &str) -> RhaiResult<()> {
        if changes.len() >= MAX_SCHEDULE_CHANGES_PER_EVENT {
            return Err(format!(
                "{what}: a handler may create or cancel at most {MAX_SCHEDULE_CHANGES_PER_EVENT} schedules per event"
            )
            .into());
        }
        Ok(())
    }

    fn cron(&self, expression: &str, timezone: Option<&str>) -> When {
        When::Cron {
            expression: expression.to_string(),
            timezone: timezone.unwrap_or(&self.shared().timezone).to_string(),
        }
    }
}

/// A time given as milliseconds since the epoch or an RFC 3339 string with its offset.
fn at_ms(at: &Dynamic, what: &str) -> RhaiResult<i64> {
    if let Ok(ms) = at.as_int() {
        return Ok(ms);
    }
    if let Some(text) = at.clone().try_cast::<ImmutableString>() {
        return DateTime::parse_from_rfc3339(&text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| {
                format!("{what}: `{text}` is not an RFC 3339 time such as 2026-11-24T09:00:00+08:00: {e}").into()
            });
    }
    Err(format!(
        "{what}: the time must be milliseconds since the epoch (e.g. ctx.now() + 60000) or an RFC 3339 string, not {}",
        at.type_name()
    )
    .into())
}

/// The `ctx` of the handler call running, for the global forms.
fn current(context: &NativeCallContext, what: &str) -> RhaiResult<Ctx> {
    context
        .tag()
        .and_then(|tag| tag.clone().try_cast::<Ctx>())
        .ok_or_else(|| format!("{what}: only a handler may schedule (not an interceptor or the script's top level)").into())
}

/// `schedule(cron, handler, payload, tz)` with the parts a call may leave out.
fn by_cron(
    ctx: &Ctx,
    cron: &str,
    handler: &str,
    payload: Dynamic,
    tz: Option<&str>,
) -> RhaiResult<String> {
    ctx.schedule(ctx.cron(cron, tz), handler, payload, "schedule")
}

/// `schedule_once(at, handler, payload)`.
fn once(ctx: &Ctx, at: Dynamic, handler: &str, payload: Dynamic) -> RhaiResult<String> {
    let when = When::Once {
        at_ms: at_ms(&at, "schedule_once")?,
    };
    ctx.schedule(when, handler, payload, "schedule_once")
}

pub(crate) fn register(engine: &mut Engine) {
    // ctx.schedule(...) and friends.
    engine
        .register_fn("schedule", |ctx: &mut Ctx, cron: &str, handler: &str| {
            by_cron(ctx, cron, handler, Dynamic::UNIT, None)
        })
        .register_fn(
            "schedule",
            |ctx: &mut Ctx, cron: &str, handler: &str, payload: Dynamic| {
                by_cron(ctx, cron, handler, payload, None)
            },
        )
        .register_fn(
            "schedule",
            |ctx: &mut Ctx, cron: &str, handler: &str, payload: Dynamic, tz: &str| {
                by_cron(ctx, cron, handler, payload, Some(tz))
            },
        )
        .register_fn(
            "schedule_once",
            |ctx: &mut Ctx, at: Dynamic, handler: &str| once(ctx, at, handler, Dynamic::UNIT),
        )
        .register_fn(
            "schedule_once",
            |ctx: &mut Ctx, at: Dynamic, handler: &str, payload: Dynamic| {
                once(ctx, at, handler, payload)
            },
        )
        .register_fn("cancel", |ctx: &mut Ctx, id: &str| ctx.cancel(id));

    // The global forms: `schedule("0 9 * * MON-FRI", "digest", #{...})`.
    engine
        .register_fn(
            "schedule",
            |c: NativeCallContext, cron: &str, handler: &str| {
                by_cron(
                    &current(&c, "schedule")?,
                    cron,
                    handler,
                    Dynamic::UNIT,
                    None,
                )
            },
        )
        .register_fn(
            "schedule",
            |c: NativeCallContext, cron: &str, handler: &str, payload: Dynamic| {
                by_cron(&current(&c, "schedule")?, cron, handler, payload, None)
            },
        )
        .register_fn(
            "schedule",
            |c: NativeCallContext, cron: &str, handler: &str, payload: Dynamic, tz: &str| {
                by_cron(&current(&c, "schedule")?, cron, handler, payload, Some(tz))
            },
        )
        .register_fn(
            "schedule_once",
            |c: NativeCallContext, at: Dynamic, handler: &str| {
                once(&current(&c, "schedule_once")?, at, handler, Dynamic::UNIT)
            },
        )
        .register_fn(
            "schedule_once",
            |c: NativeCallContext, at: Dynamic, handler: &str, payload: Dynamic| {
                once(&current(&c, "schedule_once")?, at, handler, payload)
            },
        )
        .register_fn("cancel", |c: NativeCallContext, id: &str| {
            current(&c, "cancel")?.cancel(id)
        });
}
