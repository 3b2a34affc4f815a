//! Schedules that bots create and cancel from their scripts (`schedule(...)`,
//! `schedule_once(...)`, `cancel(id)`). They are written with the event that created them,
//! in the same transaction, and tick in the conversation they were created in.

use super::timing::Timing;
use crate::model::{ConnectionId, ConversationId, EventId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// When a script's schedule fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    Cron {
        expression: String,
        timezone: String,
    },
    Once {
        at_ms: i64,
    },
}

impl When {
    /// Checks the expression and time zone.
    pub fn timing(&self) -> Result<Timing, String> {
        match self {
            When::Cron {
                expression,
                timezone,
            } => Timing::cron(expression, timezone),
            When::Once { at_ms } => Ok(Timing::Once { at_ms: *at_ms }),
        }
    }
}

/// A schedule a bot asked for: at each run, `handler(ctx, tick)` of that bot is called in
/// the conversation the schedule was created from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptSchedule {
    pub id: String,
    pub bot: String,
    pub handler: String,
    pub when: When,
    #[serde(default)]
    pub payload: Value,
}

impl ScriptSchedule {
    /// The id of the `n`th schedule a bot creates while handling an event: the same when
    /// the event is handled again after a crash, so a replay does not add a second one.
    pub fn id_for(bot: &str, event: &EventId, n: usize) -> String {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in event.0.bytes().chain([0]).chain(n.to_string().bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{bot}-{hash:016x}")
    }
}

/// A change to a bot's schedules, made by handling one event.
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduleChange {
    Set(ScriptSchedule),
    /// Removes the bot's schedule with this id, if there is one.
    Cancel {
        bot: String,
        id: String,
    },
}

/// A stored script schedule with where it ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSchedule {
    pub connection: ConnectionId,
    pub conversation: ConversationId,
    pub schedule: ScriptSchedule,
    pub created_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let e = EventId("hub:42".into());
        let a = ScriptSchedule::id_for("digest", &e, 0);
        assert_eq!(a, ScriptSchedule::id_for("digest", &e, 0));
        assert_ne!(a, ScriptSchedule::id_for("digest", &e, 1));
        assert_ne!(
            a,
            ScriptSchedule::id_for("digest", &EventId("hub:43".into()), 0)
        );
        assert!(a.starts_with("digest-"), "{a}");
    }
}
