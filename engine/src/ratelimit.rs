//! Send limits per connection and per kind of call, enforced with `governor` (GCRA).
//!
//! Limits pace calls evenly: `per_second = 50` means one call every 20 ms, so no window of
//! a second or a minute ever sees more than the limit (plus the burst at its edge). The
//! burst is one call, or 10 ms worth of calls at rates above 100 per second: slots shorter
//! than a timer tick would otherwise be missed for good and the achieved rate would fall
//! short of the limit. A command must pass every limit whose `commands` list names it (an empty
//! list names every command).

use crate::adapter::RateLimit;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How much of a high rate may be used at once (see the module's comment).
const BURST_SPAN: Duration = Duration::from_millis(10);

struct Limiter {
    commands: Vec<String>,
    limiter: DefaultDirectRateLimiter,
}

/// The limits of one connection, shared by its outbox worker and its broadcast runner.
pub struct SendGate {
    limiters: Vec<Limiter>,
    waits: AtomicU64,
    waited_us: AtomicU64,
}

impl SendGate {
    /// Refuses a limit with no rate or a zero rate, naming it.
    pub fn new(limits: &[RateLimit]) -> Result<SendGate, String> {
        let mut limiters = Vec::new();
        for (i, limit) in limits.iter().enumerate() {
            if limit.per_second.is_none() && limit.per_minute.is_none() {
                return Err(format!(
                    "rate limit #{} sets neither per_second nor per_minute",
                    i + 1
                ));
            }
            for (rate, window) in [
                (limit.per_second, Duration::from_secs(1)),
                (limit.per_minute, Duration::from_secs(60)),
            ] {
                let Some(rate) = rate else { continue };
                let rate = NonZeroU32::new(rate)
                    .ok_or_else(|| format!("rate limit #{} has a rate of 0", i + 1))?;
                let burst = NonZeroU32::new(
                    (u128::from(rate.get()) * BURST_SPAN.as_millis() / window.as_millis()) as u32,
                )
                .unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(window / rate.get())
                    .expect("a positive period")
                    .allow_burst(burst);
                limiters.push(Limiter {
                    commands: limit.commands.clone(),
                    limiter: RateLimiter::direct(quota),
                });
            }
        }
        Ok(SendGate {
            limiters,
            waits: AtomicU64::new(0),
            waited_us: AtomicU64::new(0),
        })
    }

    pub fn is_unlimited(&self) -> bool {
        self.limiters.is_empty()
    }

    /// Waits until a call of `command` is allowed by every limit that applies to it.
    pub async fn acquire(&self, command: &str) {
        let start = Instant::now();
        let mut waited = false;
        for l in self
            .limiters
            .iter()
            .filter(|l| l.commands.is_empty() || l.commands.iter().any(|c| c == command))
        {
            if l.limiter.check().is_err() {
                waited = true;
                l.limiter.until_ready().await;
            }
        }
        if waited {
            self.waits.fetch_add(1, Ordering::Relaxed);
            self.waited_us
                .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }

    /// How many calls had to wait, and for how long in total.
    pub fn waits(&self) -> (u64, Duration) {
        (
            self.waits.load(Ordering::Relaxed),
            Duration::from_micros(self.waited_us.load(Ordering::Relaxed)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(commands: &[&str], per_second: Option<u32>, per_minute: Option<u32>) -> RateLimit {
        RateLimit {
            commands: commands.iter().map(|s| s.to_string()).collect(),
            per_second,
            per_minute,
        }
    }

    #[test]
    fn bad_limits_are_named() {
        assert!(SendGate::new(&[limit(&[], None, None)])
            .err()
            .unwrap()
            .contains("#1 sets neither"));
        assert!(
            SendGate::new(&[limit(&[], Some(5), None), limit(&[], Some(0), None)])
                .err()
                .unwrap()
                .contains("#2 has a rate of 0")
        );
        assert!(SendGate::new(&[]).unwrap().is_unlimited());
    }

    /// Calls let through at once, without waiting, from a fresh gate.
    fn burst(limit: RateLimit) -> usize {
        let gate = SendGate::new(&[limit]).unwrap();
        let l = &gate.limiters[0].limiter;
        (0..1000).take_while(|_| l.check().is_ok()).count()
    }

    #[test]
    fn high_rates_may_use_ten_milliseconds_at_once_low_rates_one_call() {
        assert_eq!(burst(limit(&[], Some(2000), None)), 20);
        assert_eq!(burst(limit(&[], Some(150), None)), 1);
        assert_eq!(burst(limit(&[], Some(50), None)), 1);
        assert_eq!(burst(limit(&[], None, Some(6000))), 1);
    }

    #[tokio::test]
    async fn a_limit_applies_only_to_the_commands_it_names() {
        // One call per minute for `kick`: a second kick would wait a minute, sends never.
        let gate = SendGate::new(&[limit(&["kick"], None, Some(1))]).unwrap();
        gate.acquire("kick").await;
        for _ in 0..100 {
            gate.acquire("send").await;
        }
        assert_eq!(gate.waits().0, 0);
        let second_kick =
            tokio::time::timeout(Duration::from_millis(50), gate.acquire("kick")).await;
        assert!(
            second_kick.is_err(),
            "the second kick waits for the minute's slot"
        );
    }
}
