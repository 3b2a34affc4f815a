//! When a schedule fires: a cron expression in a time zone, or once at a given time.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// An IANA time zone by name; the error names it.
pub fn time_zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name)
        .map_err(|_| format!("unknown time zone `{name}` (use an IANA name like Asia/Shanghai)"))
}

#[derive(Clone, Debug)]
pub enum Timing {
    Cron { cron: Box<cron::Schedule>, tz: Tz },
    Once { at_ms: i64 },
}

impl Timing {
    /// Five fields (`min hour day month weekday`, e.g. `0 9 * * MON-FRI`) or the `cron`
    /// crate's six or seven (with seconds, and years), in an IANA time zone. The error
    /// says what is wrong with which part, for the caller to prefix with the schedule.
    pub fn cron(expression: &str, timezone: &str) -> Result<Timing, String> {
        let full = if expression.split_whitespace().count() == 5 {
            format!("0 {expression}")
        } else {
            expression.to_string()
        };
        let cron = cron::Schedule::from_str(&full)
            .map_err(|e| format!("invalid cron expression `{expression}`: {e}"))?;
        let tz = time_zone(timezone)?;
        if cron.after(&Utc::now().with_timezone(&tz)).next().is_none() {
            return Err(format!("`{expression}` never fires again"));
        }
        Ok(Timing::Cron {
            cron: Box::new(cron),
            tz,
        })
    }

    /// The first run strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Timing::Cron { cron, tz } => {
                let after =
                    tz.from_utc_datetime(&DateTime::from_timestamp_millis(after_ms)?.naive_utc());
                cron.after(&after).next().map(|t| t.timestamp_millis())
            }
            Timing::Once { at_ms } => (*at_ms > after_ms).then_some(*at_ms),
        }
    }

    /// The last run at or before `now`, starting from a missed `due`.
    pub fn latest_run_until(&self, due: i64, now: i64) -> i64 {
        let mut latest = due;
        while let Some(t) = self.next_after(latest) {
            if t > now {
                break;
            }
            latest = t;
        }
        latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, mo: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn five_field_expressions_fire_in_their_time_zone() {
        // 09:00 in Shanghai is 01:00 UTC.
        let t = Timing::cron("0 9 * * MON-FRI", "Asia/Shanghai").unwrap();
        assert_eq!(t.next_after(ms(2026, 11, 23, 0)), Some(ms(2026, 11, 23, 1)));
        // Friday 09:00 Shanghai is followed by Monday 09:00.
        assert_eq!(t.next_after(ms(2026, 11, 27, 1)), Some(ms(2026, 11, 30, 1)));
    }

    #[test]
    fn bad_parts_are_named() {
        let e = Timing::cron("61 * * * *", "UTC").unwrap_err();
        assert!(e.contains("invalid cron expression `61 * * * *`"), "{e}");
        let e = Timing::cron("0 9 * * *", "Mars/Olympus").unwrap_err();
        assert!(e.contains("unknown time zone `Mars/Olympus`"), "{e}");
        let e = Timing::cron("0 0 0 1 1 * 2001", "UTC").unwrap_err();
        assert!(e.contains("never fires again"), "{e}");
    }

    #[test]
    fn the_latest_missed_run_is_found() {
        let t = Timing::cron("0 * * * *", "UTC").unwrap();
        let t0 = ms(2026, 11, 23, 0);
        let now = t0 + 5 * 3_600_000 + 60_000;
        assert_eq!(t.latest_run_until(t0, now), t0 + 5 * 3_600_000);
    }

    #[test]
    fn a_one_off_fires_once() {
        let t = Timing::Once { at_ms: 1_000 };
        assert_eq!(t.next_after(0), Some(1_000));
        assert_eq!(t.next_after(1_000), None);
        assert_eq!(t.latest_run_until(1_000, 5_000), 1_000);
    }
}
