//! Cron schedules: each delivers a `Tick` event to its connection at every time its
//! expression names in its time zone.
//!
//! Exactly once per run: a tick's event id is `tick:<name>:<scheduled ms>`, so the inbox
//! drops a tick delivered twice around a crash. A run missed while Parley was down is
//! skipped or run once at start, as the schedule says, never once per missed time.

use crate::adapter::Intake;
use crate::model::{ConnectionId, ConversationId, Envelope, Event, EventId, ScheduleId};
use crate::store::{now_ms, Store};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use tokio::sync::watch;

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
    /// Given to the handler as `t.payload`.
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub missed: MissedRuns,
}

fn utc() -> String {
    "UTC".into()
}

/// A checked schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    spec: ScheduleSpec,
    cron: cron::Schedule,
    tz: Tz,
    conversation: Option<ConversationId>,
}

impl Schedule {
    /// Checks the expression, time zone and conversation; the error names the schedule.
    pub fn parse(spec: ScheduleSpec) -> Result<Schedule, String> {
        let name = &spec.name;
        let fields = spec.cron.split_whitespace().count();
        let expression = if fields == 5 {
            format!("0 {}", spec.cron)
        } else {
            spec.cron.clone()
        };
        let cron = cron::Schedule::from_str(&expression).map_err(|e| {
            format!(
                "schedule `{name}`: invalid cron expression `{}`: {e}",
                spec.cron
            )
        })?;
        let tz = Tz::from_str(&spec.timezone).map_err(|_| {
            format!(
                "schedule `{name}`: unknown time zone `{}` (use an IANA name like Asia/Shanghai)",
                spec.timezone
            )
        })?;
        let conversation = match &spec.conversation {
            Some(c) => Some(
                c.parse()
                    .map_err(|e| format!("schedule `{name}`: conversation `{c}`: {e}"))?,
            ),
            None => None,
        };
        if cron.after(&Utc::now().with_timezone(&tz)).next().is_none() {
            return Err(format!(
                "schedule `{name}`: `{}` never fires again",
                spec.cron
            ));
        }
        Ok(Schedule {
            spec,
            cron,
            tz,
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
        let after = self
            .tz
            .from_utc_datetime(&DateTime::from_timestamp_millis(after_ms)?.naive_utc());
        self.cron.after(&after).next().map(|t| t.timestamp_millis())
    }

    fn tick(&self, at_ms: i64) -> Envelope {
        Envelope {
            id: EventId(format!("tick:{}:{at_ms}", self.spec.name)),
            connection: self.connection(),
            time_ms: at_ms,
            backlog: false,
            from_self: false,
            event: Event::Tick {
                schedule: ScheduleId(self.spec.name.clone()),
                conversation: self.conversation.clone(),
                payload: self.spec.payload.clone(),
            },
            raw: Value::Null,
        }
    }
}

/// Runs the schedules until `closing`; one task for all of them.
pub(crate) async fn run(
    store: Store,
    schedules: Vec<Schedule>,
    intakes: HashMap<ConnectionId, Intake>,
    mut closing: watch::Receiver<bool>,
) {
    let now = now_ms();
    let mut next: Vec<(i64, Schedule)> = Vec::new();
    for s in schedules {
        let saved = store.schedule_next_run(s.name()).await.unwrap_or_else(|e| {
            tracing::error!(schedule = s.name(), error = %e, "cannot read the schedule's saved state");
            None
        });
        let due = match saved {
            Some(due) if due <= now => {
                let latest_missed = latest_run_until(&s, due, now);
                match s.spec.missed {
                    MissedRuns::RunOnce => {
                        tracing::info!(
                            schedule = s.name(),
                            "runs were missed while stopped; running once now"
                        );
                        latest_missed
                    }
                    MissedRuns::Skip => {
                        tracing::info!(
                            schedule = s.name(),
                            "runs were missed while stopped; skipped"
                        );
                        s.next_after(now).unwrap_or(i64::MAX)
                    }
                }
            }
            Some(due) => due,
            None => s.next_after(now).unwrap_or(i64::MAX),
        };
        next.push((due, s));
    }
    loop {
        let Some((i, &(due, _))) = next.iter().enumerate().min_by_key(|(_, (due, _))| *due) else {
            return;
        };
        if due == i64::MAX {
            return;
        }
        let wait = std::time::Duration::from_millis((due - now_ms()).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = closing.wait_for(|c| *c) => return,
        }
        let schedule = next[i].1.clone();
        let following = schedule.next_after(due.max(now_ms())).unwrap_or(i64::MAX);
        match intakes.get(&schedule.connection()) {
            Some(intake) => {
                if let Err(e) = intake.deliver(schedule.tick(due), None).await {
                    tracing::error!(schedule = schedule.name(), error = %e, "tick not delivered");
                    return;
                }
            }
            None => {
                tracing::error!(schedule = schedule.name(), connection = %schedule.connection(), "no such connection")
            }
        }
        if let Err(e) = store
            .save_schedule_run(schedule.name(), due, following)
            .await
        {
            tracing::error!(schedule = schedule.name(), error = %e, "cannot save the schedule's run");
        }
        next[i].0 = following;
    }
}

/// The last run time at or before `now`, starting from a missed `due`.
fn latest_run_until(s: &Schedule, due: i64, now: i64) -> i64 {
    let mut latest = due;
    while let Some(t) = s.next_after(latest) {
        if t > now {
            break;
        }
        latest = t;
    }
    latest
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
        assert!(e.contains("unknown time zone `Mars/Olympus`"), "{e}");
        let mut s = spec("0 9 * * *", "UTC");
        s.conversation = Some("planet:x".into());
        assert!(Schedule::parse(s).unwrap_err().contains("conversation"));
    }

    #[test]
    fn five_field_expressions_fire_in_their_time_zone() {
        // 09:00 in Shanghai is 01:00 UTC.
        let s = Schedule::parse(spec("0 9 * * MON-FRI", "Asia/Shanghai")).unwrap();
        let monday_midnight_utc = Utc
            .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let next = s.next_after(monday_midnight_utc).unwrap();
        assert_eq!(
            DateTime::from_timestamp_millis(next).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()
        );
        // Friday 09:00 Shanghai is followed by Monday 09:00.
        let friday = Utc
            .with_ymd_and_hms(2026, 11, 27, 1, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            DateTime::from_timestamp_millis(s.next_after(friday).unwrap()).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap()
        );
    }

    #[test]
    fn the_latest_missed_run_is_found() {
        let s = Schedule::parse(spec("0 * * * *", "UTC")).unwrap();
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let now = t0 + 5 * 3_600_000 + 60_000;
        assert_eq!(latest_run_until(&s, t0, now), t0 + 5 * 3_600_000);
    }
}
