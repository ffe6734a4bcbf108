//! The measurement clock: every `t0`/`t` is seconds since one start instant.

use std::time::Instant;

/// The start of a measurement; observations are timed relative to it.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// A clock that started at `start`.
    pub fn from_instant(start: Instant) -> Clock {
        Clock { start }
    }

    /// Seconds elapsed since the start.
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}
