//! The keepalive both codecs share: a ping every period, and the end of a peer that stays
//! silent for a whole period after one. How a ping is framed and queued is the codec's.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::Sleep;

use crate::transport::TransportError;

/// How a transport ends whose peer stopped answering pings (the start of its error's message):
/// a client counts such an end against the endpoint, as a failed connection.
pub(crate) const SILENT_PEER: &str = "keep-alive: the peer did not answer a ping";

/// Pings every period, when on (see [`Keepalive::every`]); off by default.
#[derive(Default)]
pub(super) struct Keepalive(Option<Timer>);

struct Timer {
    every: Duration,
    tick: Pin<Box<Sleep>>,
    /// A ping went out and nothing came back since.
    awaiting: bool,
}

impl Keepalive {
    /// On: a ping every `every`.
    pub(super) fn every(every: Duration) -> Keepalive {
        Keepalive(Some(Timer {
            every,
            tick: Box::pin(tokio::time::sleep(every)),
            awaiting: false,
        }))
    }

    /// The period, when on.
    pub(super) fn period(&self) -> Option<Duration> {
        self.0.as_ref().map(|t| t.every)
    }

    /// Something came from the peer: it is there.
    pub(super) fn heard(&mut self) {
        if let Some(t) = &mut self.0 {
            t.awaiting = false;
        }
    }

    /// Polls the period: `Ok(true)` when a ping is to be sent now. `room` says whether one can
    /// be queued (polled with `cx`); a ping that cannot waits for the next period. Fails when
    /// the last ping went unanswered for a whole period.
    pub(super) fn poll_ping(
        &mut self,
        cx: &mut Context<'_>,
        mut room: impl FnMut(&mut Context<'_>) -> bool,
    ) -> Result<bool, TransportError> {
        let Some(t) = &mut self.0 else {
            return Ok(false);
        };
        let mut due = false;
        while t.tick.as_mut().poll(cx).is_ready() {
            if t.awaiting {
                return Err(TransportError::new(format!(
                    "{SILENT_PEER} within {:?}",
                    t.every
                )));
            }
            if room(cx) {
                t.awaiting = true;
                due = true;
            }
            let next = tokio::time::Instant::now() + t.every;
            t.tick.as_mut().reset(next);
        }
        Ok(due)
    }
}
