//! What becomes of a push from the peer: the decision `on_push` follows, kept apart from the
//! tables so that it reads, and is tested, as a table.

/// What is known of a pushed value when it arrives.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pushed {
    /// A call just made (ours alone to run) or a plain value. Otherwise a promise held
    /// elsewhere (pipelining on an earlier export), shared as it is and never settled into a
    /// copy of its value, or a stub: answered from it only when pulled.
    pub(super) local: bool,
    /// A `stream` message: answered unasked, then released.
    pub(super) stream: bool,
    /// Traced: its span goes with an answer task.
    pub(super) traced: bool,
    /// `max_in_flight` of the peer's calls are pending: it waits its turn (in an answer task).
    pub(super) full: bool,
}

/// How the export a push makes starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// Done when first polled: settled, with no task.
    Settled,
    /// Computed by an answer task, and sent when done if `pulled`. A `local` call is driven by
    /// that task, and cancelled if the session ends first.
    Running { local: bool, pulled: bool },
    /// Answered when pulled.
    Idle,
}

impl Pushed {
    /// Whether to poll it once, now, before the tables are locked. Most calls finish when first
    /// polled: they run as their push arrives (as the reference runs them), and need no task.
    pub(super) fn poll_now(self) -> bool {
        self.local && !self.stream && !self.traced && !self.full
    }

    /// How its export starts, given whether that poll found it done.
    pub(super) fn start(self, ready: bool) -> Start {
        if ready && self.poll_now() {
            Start::Settled
        } else if self.local || self.stream {
            Start::Running {
                local: self.local,
                pulled: self.stream,
            }
        } else {
            Start::Idle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_runs_now_in_a_task_or_waits_for_its_pull() {
        const RUN: Start = Start::Running {
            local: true,
            pulled: false,
        };
        const STREAM: Start = Start::Running {
            local: true,
            pulled: true,
        };
        const STREAM_HELD: Start = Start::Running {
            local: false,
            pulled: true,
        };
        // local, stream, traced, full, ready when polled => polled now, start
        #[rustfmt::skip]
        let table = [
            // A call just made (or a plain value) settles now if it can...
            (true,  false, false, false, true,  true,  Start::Settled),
            (true,  false, false, false, false, true,  RUN),
            // ... unless traced, waiting its turn or streamed: then its task runs it.
            (true,  false, true,  false, true,  false, RUN),
            (true,  false, false, true,  true,  false, RUN),
            (true,  true,  false, false, true,  false, STREAM),
            (true,  true,  true,  true,  false, false, STREAM),
            // A promise held elsewhere, or a stub: answered when pulled...
            (false, false, false, false, true,  false, Start::Idle),
            (false, false, true,  true,  false, false, Start::Idle),
            // ... but streamed, answered unasked by a task.
            (false, true,  false, false, true,  false, STREAM_HELD),
            (false, true,  true,  true,  false, false, STREAM_HELD),
        ];
        for (local, stream, traced, full, ready, polled, start) in table {
            let pushed = Pushed {
                local,
                stream,
                traced,
                full,
            };
            assert_eq!(pushed.poll_now(), polled, "{pushed:?}: polled now");
            assert_eq!(pushed.start(ready), start, "{pushed:?}, ready {ready}");
        }
    }
}
