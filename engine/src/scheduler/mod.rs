//! Schedules: each delivers a `Tick` event to its connection at every time it names.
//! Config schedules (`[[schedules]]`) call `on_tick` (or a named bot and handler); a
//! script's schedules call that script's handler in the conversation it created them in.
//!
//! Exactly once per run: a tick's event id is `tick:<key>:<scheduled ms>`, so the inbox
//! drops a tick delivered twice around a crash. A run missed while Parley was down is
//! skipped or run once at start, as the schedule says, never once per missed time; a
//! script's one-off schedule always runs, late, at the next start.

mod scripted;
mod timing;

pub use scripted::{ScheduleChange, ScriptSchedule, StoredSchedule, When};
pub use timing::{time_zone, Timing};

use crate::adapter::Intake;
use crate::model::{ConnectionId, ConversationId, Envelope, Event, EventId, ScheduleId};
use crate::store::{now_ms, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// What to do with runs missed while Parley was down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedRuns {
    #[default]
    Skip,
    /// Run once at start for all the runs missed.
    RunOnce,
}

/// A `[[schedules]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub name: String,
    /// Five fields (`min hour day month weekday`, e.g. `0 9 * * MON-FRI`) or the `cron`
    /// crate's six or seven (with seconds, and years).
    pub cron: String,
    /// An IANA time zone such as `Asia/Shanghai`; UTC by default.
    #[serde(default = "utc")]
    pub timezone: String,
    /// The connection whose bots receive the tick.
    pub connection: String,
    /// The conversation whose actor handles the tick; the connection's system
    /// conversation when absent.
    #[serde(default)]
    pub conversation: Option<String>,
    /// Only this bot is called; every bot with the handler when absent.
    #[serde(default)]
    pub bot: Option<String>,
    /// The function called with `(ctx, tick)`; `on_tick` when absent.
    #[serde(default)]
    pub handler: Option<String>,
    /// Given to the handler as `t.payload`.
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub missed: MissedRuns,
}

fn utc() -> String {
    "UTC".into()
}

/// A checked config schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    spec: ScheduleSpec,
    timing: Timing,
    conversation: Option<ConversationId>,
}

impl Schedule {
    /// Checks the expression, time zone and conversation; the error names the schedule.
    pub fn parse(spec: ScheduleSpec) -> Result<Schedule, String> {
        let name = &spec.name;
        let timing = Timing::cron(&spec.cron, &spec.timezone)
            .map_err(|e| format!("schedule `{name}`: {e}"))?;
        let conversation = match &spec.conversation {
            Some(c) => Some(
                c.parse()
                    .map_err(|e| format!("schedule `{name}`: conversation `{c}`: {e}"))?,
            ),
            None => None,
        };
        Ok(Schedule {
            spec,
            timing,
            conversation,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn connection(&self) -> ConnectionId {
        ConnectionId::from(self.spec.connection.as_str())
    }

    /// The first run strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        self.timing.next_after(after_ms)
    }

    fn entry(&self) -> Entry {
        Entry {
            key: self.spec.name.clone(),
            id: self.spec.name.clone(),
            origin: "config",
            timing: self.timing.clone(),
            described: format!("{} ({})", self.spec.cron, self.spec.timezone),
            connection: self.connection(),
            conversation: self.conversation.clone(),
            bot: self.spec.bot.clone(),
            handler: self.spec.handler.clone(),
            payload: self.spec.payload.clone(),
            missed: self.spec.missed,
            next: i64::MAX,
            last: None,
        }
    }
}

/// One schedule as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScheduleView {
    /// The config name, or the id a script got back from `schedule(...)`.
    pub id: String,
    /// `config` or `script`.
    pub origin: &'static str,
    /// The cron expression and time zone, or `once`.
    pub when: String,
    pub connection: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    pub handler: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_ms: Option<i64>,
}

/// A schedule of either origin, with its next run.
#[derive(Clone, Debug)]
struct Entry {
    /// Its row in the `schedules` run-state table and its ticks' ids.
    key: String,
    /// What `t.schedule` shows.
    id: String,
    origin: &'static str,
    timing: Timing,
    described: String,
    connection: ConnectionId,
    conversation: Option<ConversationId>,
    bot: Option<String>,
    handler: Option<String>,
    payload: Value,
    missed: MissedRuns,
    next: i64,
    last: Option<i64>,
}

impl Entry {
    fn scripted(stored: StoredSchedule) -> Result<Entry, String> {
        let s = stored.schedule;
        let timing = s.when.timing()?;
        let (described, missed) = match &s.when {
            When::Cron {
                expression,
                timezone,
            } => (format!("{expression} ({timezone})"), MissedRuns::Skip),
            When::Once { .. } => ("once".to_string(), MissedRuns::RunOnce),
        };
        Ok(Entry {
            key: script_key(&s.id),
            id: s.id,
            origin: "script",
            timing,
            described,
            connection: stored.connection,
            conversation: Some(stored.conversation),
            bot: Some(s.bot),
            handler: Some(s.handler),
            payload: s.payload,
            missed,
            next: i64::MAX,
            last: None,
        })
    }

    fn is_once(&self) -> bool {
        matches!(self.timing, Timing::Once { .. })
    }

    fn tick(&self, at_ms: i64) -> Envelope {
        Envelope {
            id: EventId(format!("tick:{}:{at_ms}", self.key)),
            connection: self.connection.clone(),
            time_ms: at_ms,
            backlog: false,
            from_self: false,
            event: Event::Tick {
                schedule: ScheduleId(self.id.clone()),
                conversation: self.conversation.clone(),
                payload: self.payload.clone(),
                bot: self.bot.clone(),
                handler: self.handler.clone(),
            },
            raw: Value::Null,
        }
    }

    fn view(&self) -> ScheduleView {
        ScheduleView {
            id: self.id.clone(),
            origin: self.origin,
            when: self.described.clone(),
            connection: self.connection.to_string(),
            conversation: self.conversation.as_ref().map(ToString::to_string),
            bot: self.bot.clone(),
            handler: self.handler.clone().unwrap_or_else(|| "on_tick".into()),
            next_run_ms: (self.next != i64::MAX).then_some(self.next),
            last_run_ms: self.last,
        }
    }
}

/// The run-state key of a script's schedule (kept apart from config names).
pub(crate) fn script_key(id: &str) -> String {
    format!("script/{id}")
}

/// What the scheduler task needs.
pub struct SchedulerParts {
    pub store: Store,
    pub schedules: Vec<Schedule>,
    pub intakes: HashMap<ConnectionId, Intake>,
    /// Notified after a handler's schedule changes are committed.
    pub changed: Arc<Notify>,
    pub views: watch::Sender<Vec<ScheduleView>>,
    pub closing: watch::Receiver<bool>,
}

/// Runs every schedule until `closing`; one task for all of them.
pub(crate) async fn run(parts: SchedulerParts) {
    let SchedulerParts {
        store,
        schedules,
        intakes,
        changed,
        views,
        mut closing,
    } = parts;
    let mut entries = Vec::new();
    for s in &schedules {
        entries.push(due_at_start(&store, s.entry()).await);
    }
    let configured = entries.len();
    load_scripted(&store, &mut entries, configured).await;
    loop {
        views.send_replace(entries.iter().map(Entry::view).collect());
        let due = entries.iter().enumerate().min_by_key(|(_, e)| e.next);
        let (index, at) = match due {
            Some((i, e)) if e.next != i64::MAX => (Some(i), e.next),
            _ => (None, i64::MAX),
        };
        let wait = std::time::Duration::from_millis((at - now_ms()).clamp(0, 86_400_000) as u64);
        let woke = tokio::select! {
            _ = tokio::time::sleep(wait) => Wake::Time,
            _ = changed.notified() => Wake::Changed,
            _ = closing.wait_for(|c| *c) => Wake::Closing,
        };
        match woke {
            Wake::Time => {}
            Wake::Changed => {
                load_scripted(&store, &mut entries, configured).await;
                continue;
            }
            Wake::Closing => return,
        }
        let Some(i) = index.filter(|_| now_ms() >= at) else {
            continue;
        };
        let entry = &entries[i];
        let following = entry
            .timing
            .next_after(at.max(now_ms()))
            .unwrap_or(i64::MAX);
        match intakes.get(&entry.connection) {
            Some(intake) => {
                if let Err(e) = intake.deliver(entry.tick(at), None).await {
                    tracing::error!(schedule = %entry.id, error = %e, "tick not delivered");
                    return;
                }
            }
            None => {
                tracing::error!(schedule = %entry.id, connection = %entry.connection, "no such connection")
            }
        }
        let saved = if entry.is_once() {
            store.remove_script_schedule_after_run(&entry.id).await
        } else {
            store.save_schedule_run(&entry.key, at, following).await
        };
        if let Err(e) = saved {
            tracing::error!(schedule = %entry.id, error = %e, "cannot save the schedule's run");
        }
        if entry.is_once() {
            entries.remove(i);
        } else {
            entries[i].next = following;
            entries[i].last = Some(at);
        }
    }
}

enum Wake {
    Time,
    Changed,
    Closing,
}

/// The entry with its next run: the saved one, or what its missed-run policy says when
/// that is already past, or the first one from now.
async fn due_at_start(store: &Store, mut entry: Entry) -> Entry {
    let now = now_ms();
    let saved = store.schedule_run(&entry.key).await.unwrap_or_else(|e| {
        tracing::error!(schedule = %entry.id, error = %e, "cannot read the schedule's saved state");
        (None, None)
    });
    entry.last = saved.0;
    let first = match (&entry.timing, saved.1) {
        (Timing::Once { at_ms }, _) => Some(*at_ms),
        (_, next) => next,
    };
    entry.next = match first {
        Some(due) if due <= now => match entry.missed {
            MissedRuns::RunOnce => {
                tracing::info!(schedule = %entry.id, "runs were missed while stopped; running once now");
                entry.timing.latest_run_until(due, now)
            }
            MissedRuns::Skip => {
                tracing::info!(schedule = %entry.id, "runs were missed while stopped; skipped");
                entry.timing.next_after(now).unwrap_or(i64::MAX)
            }
        },
        Some(due) => due,
        None => entry.timing.next_after(now).unwrap_or(i64::MAX),
    };
    entry
}

/// Brings the script schedules in `entries` (after the first `configured`) in line with
/// the store, keeping the next run of those that did not change.
async fn load_scripted(store: &Store, entries: &mut Vec<Entry>, configured: usize) {
    let stored = match store.script_schedules().await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the scripts' schedules");
            return;
        }
    };
    let mut previous: HashMap<String, Entry> = entries
        .drain(configured..)
        .map(|e| (e.id.clone(), e))
        .collect();
    for s in stored {
        let id = s.schedule.id.clone();
        let entry = match Entry::scripted(s) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::error!(schedule = %id, "a script's schedule cannot run: {e}");
                continue;
            }
        };
        match previous.remove(&id) {
            Some(kept) if kept.described == entry.described && kept.payload == entry.payload => {
                entries.push(kept)
            }
            _ => entries.push(due_at_start(store, entry).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cron: &str, tz: &str) -> ScheduleSpec {
        ScheduleSpec {
            name: "digest".into(),
            cron: cron.into(),
            timezone: tz.into(),
            connection: "hub".into(),
            conversation: None,
            bot: None,
            handler: None,
            payload: Value::Null,
            missed: MissedRuns::Skip,
        }
    }

    #[test]
    fn bad_expressions_and_zones_are_refused_naming_the_schedule() {
        let e = Schedule::parse(spec("61 * * * *", "UTC")).unwrap_err();
        assert!(
            e.contains("schedule `digest`") && e.contains("invalid cron expression"),
            "{e}"
        );
        let e = Schedule::parse(spec("0 9 * * *", "Mars/Olympus")).unwrap_err();
        assert!(
            e.contains("schedule `digest`") && e.contains("unknown time zone `Mars/Olympus`"),
            "{e}"
        );
        let mut s = spec("0 9 * * *", "UTC");
        s.conversation = Some("planet:x".into());
        assert!(Schedule::parse(s).unwrap_err().contains("conversation"));
    }

    #[test]
    fn a_config_tick_names_its_bot_and_handler() {
        let mut s = spec("0 9 * * *", "UTC");
        s.bot = Some("broadcast".into());
        s.handler = Some("digest".into());
        let tick = Schedule::parse(s).unwrap().entry().tick(5);
        assert_eq!(tick.id.0, "tick:digest:5");
        let Event::Tick { bot, handler, .. } = tick.event else {
            panic!("not a tick");
        };
        assert_eq!(
            (bot.as_deref(), handler.as_deref()),
            (Some("broadcast"), Some("digest"))
        );
    }
}
