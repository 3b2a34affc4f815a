//! The hub's clock: system time plus an offset that tests (and simulations) may advance,
//! so that expiries (mutes, friend requests, the recall window) are compared with a clock
//! that can be moved instead of waited for.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch, as the hub sees them.
    pub fn now_ms(&self) -> i64 {
        crate::ids::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the hub's time forward (every clone of the hub sees it).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = other.now_ms();
        clock.advance(Duration::from_secs(3600));
        assert!(other.now_ms() >= before + 3_600_000);
    }
}
