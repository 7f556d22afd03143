//! The one task that runs a session: reads messages, runs the calls they start, and writes
//! answers in batches (feed every waiting message, flush once).
//!
//! It runs at most `max_in_flight` of the peer's pending calls at once; the others wait their
//! turn, in order, up to `max_queued` (beyond, the session aborts). It never stops reading: what
//! settles a waiting call comes from the peer, and so does its leaving. It ends the session when
//! it has been idle for `idle_timeout` or has reached `max_age`.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Poll};

use super::Instant;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tracing::Instrument;

use super::core::{recycle, Core, Outbox};
use super::metrics::Metrics;
use super::metrics_facade as facade;
use super::transport::{close_sent, flush_sent, send_text, Transport};
use super::{SessionOptions, Sleeper};
use crate::error::RpcError;
use crate::stub::SessionEnd;
use crate::stub::{BoxFuture, SessionDriven};
use crate::wire::{MessageKind, WireError};

/// How many ready incoming messages are handled before answers are written.
const READ_BURST: usize = 256;

/// The bytes of answers after which a read burst stops, to write them before reading more.
const BURST_OUTPUT: usize = 1024 * 1024;

/// A timer that is off unless configured (so sessions without timeouts need no time driver),
/// from tokio or the session's own [`Sleeper`].
struct Timer {
    sleep: Option<BoxFuture<()>>,
    sleeper: Option<Sleeper>,
    /// Fired, and not reset since: it stays fired (its sleep, done, is not polled again).
    fired: bool,
}

impl Timer {
    fn new(at: Option<Instant>, sleeper: &Option<Sleeper>) -> Timer {
        let mut timer = Timer {
            sleep: None,
            sleeper: sleeper.clone(),
            fired: false,
        };
        if let Some(at) = at {
            timer.reset(at);
        }
        timer
    }

    async fn fired(&mut self) {
        if self.fired {
            return;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().await,
            None => std::future::pending().await,
        }
        self.sleep = None;
        self.fired = true;
    }

    fn reset(&mut self, at: Instant) {
        self.fired = false;
        self.sleep = Some(match &self.sleeper {
            Some(sleeper) => sleeper(at.saturating_duration_since(Instant::now())),
            None => Box::pin(tokio::time::sleep(
                at.saturating_duration_since(Instant::now()),
            )),
        });
    }
}

/// The future that runs a session. However it stops, the session ends: when its transport
/// ends or it aborts, as before; and when the future is dropped before that (an HTTP batch whose
/// client went away, whose future hyper drops mid-way; a task aborted, a runtime shut down).
/// Otherwise what the peer's calls hold (an import stub of the peer's callback, in a pending
/// call's future, itself in the export table) would keep the core alive through the core itself.
pub(crate) fn run(
    core: Arc<Core>,
    transport: impl Transport,
    mut options: SessionOptions,
) -> impl Future<Output = ()> {
    let metrics = options.metrics.clone();
    if let Some(m) = &metrics {
        m.session_opened();
    }
    let accepted = options.accepted;
    facade::session_opened(accepted);
    // Made here, not in the body: a future dropped before its first poll ends its session too.
    let ended = Ended {
        core,
        metrics,
        accepted,
    };
    let peer = options.peer.take();
    // Boxed here, not in the body: the task then holds the transport once, in the box (an
    // idle session's memory is mostly this). Only this task drives the calls the session
    // starts (see `SessionDriven`).
    let driving = SessionDriven(Box::pin(drive(
        ended.core.clone(),
        transport,
        options.into(),
    )));
    async move {
        // Named as OpenTelemetry's RPC conventions name them, so that tracing-opentelemetry
        // exports them as they are.
        let span = tracing::info_span!(
            "capnweb.session",
            rpc.system = "capnweb",
            otel.kind = if accepted { "server" } else { "client" },
            network.peer.address = peer.as_deref(),
        );
        drop(peer);
        if span.is_disabled() {
            driving.await;
        } else {
            driving.instrument(span).await;
        }
        drop(ended);
    }
}

/// Ends a session when its task stops, finished or dropped: aborts it (a no-op once it has
/// ended, as it has whenever `drive` returns), which fails its calls, cancels the local calls the
/// peer started and empties its tables (breaking every cycle through the core); then drops the
/// tasks it would have run, and counts it closed.
struct Ended {
    core: Arc<Core>,
    metrics: Option<Arc<Metrics>>,
    accepted: bool,
}

impl Drop for Ended {
    fn drop(&mut self) {
        self.core.abort(
            RpcError::disconnected("the session's task was dropped before the session ended"),
            false,
        );
        self.core.end_tasks();
        if let Some(m) = &self.metrics {
            m.session_closed();
        }
        facade::session_closed(self.accepted);
    }
}

/// What the session's loop uses of its [`SessionOptions`] (it lives as long as the session).
struct LoopOptions {
    max_in_flight: usize,
    max_queued: usize,
    idle_timeout: Option<std::time::Duration>,
    max_age: Option<std::time::Duration>,
    write_timeout: Option<std::time::Duration>,
    metrics: Option<Arc<Metrics>>,
    timer: Option<Sleeper>,
}

impl From<SessionOptions> for LoopOptions {
    fn from(o: SessionOptions) -> LoopOptions {
        LoopOptions {
            max_in_flight: o.max_in_flight,
            max_queued: o.max_queued,
            idle_timeout: o.idle_timeout,
            max_age: o.max_age,
            write_timeout: o.write_timeout,
            metrics: o.metrics,
            timer: o.timer,
        }
    }
}

/// The session's loop. (Not an `async fn`: that would keep a second copy of its arguments,
/// the transport among them, in the future the whole session lives in.)
#[allow(clippy::manual_async_fn)]
fn drive(
    core: Arc<Core>,
    mut transport: impl Transport,
    options: LoopOptions,
) -> impl Future<Output = ()> {
    async move {
        let metrics = options.metrics.as_deref();
        let mut tasks = FuturesUnordered::new();
        // Calls waiting for a place among the `max_in_flight` running ones.
        let mut waiting = VecDeque::new();
        // Buffers swapped with the shared state's each burst (see `Core::take_work`).
        let (mut out, mut new_tasks, mut woken) = (Outbox::default(), Vec::new(), Vec::new());
        let mut reading = true;
        let mut max_age = Timer::new(options.max_age.map(|d| Instant::now() + d), &options.timer);
        // Activity only moves `idle_at`; the timer catches up when it fires (one timer operation
        // per timeout period, none per message).
        let idle_timeout = options.idle_timeout;
        let mut idle_at = idle_timeout.map(|d| Instant::now() + d);
        let mut idle = Timer::new(idle_at, &options.timer);
        let end = core.end();
        // Set once the session is aborted: the time left for its last words and close.
        let (mut grace, mut grace_set) = (Timer::new(None, &options.timer), false);
        loop {
            // From here the task finds work itself; anything queued after this store wakes it.
            core.looking_for_work();
            // Run whatever is ready, then write everything it produced with one flush.
            loop {
                let aborted = core.take_work(&mut out, &mut new_tasks);
                let mut progressed = !new_tasks.is_empty();
                // Calls woken by what settled run before the calls new in the same burst: those
                // were pushed earlier, and a call reaches its target in the order its arguments
                // settled (the new ones found theirs settled when pushed, or after).
                while let Some(Some(())) = tasks.next().now_or_never() {
                    progressed = true;
                }
                let room = Room {
                    waiting: &mut waiting,
                    max: options.max_in_flight,
                };
                progressed |= start(&mut tasks, &mut new_tasks, room).await;
                core.set_pending_calls(tasks.len() + waiting.len());
                if waiting.len() > options.max_queued {
                    waiting.clear();
                    let limit = options.max_queued;
                    facade::limit_hit("max_queued");
                    core.abort(
                        RpcError::Protocol(WireError::LimitExceeded {
                            what: "the calls waiting to run (max_in_flight are running)",
                            limit,
                        }),
                        true,
                    );
                    continue;
                }
                while let Some(Some(())) = tasks.next().now_or_never() {
                    progressed = true;
                }
                let wrote = !out.is_empty();
                // Once aborted, the last words and the close get `CLOSE_GRACE` at most: a peer
                // that reads nothing more is not waited for. (With a timer to wait on: the
                // session's own, or tokio's when its timeouts, which need one, are set.)
                let timed = options.timer.is_some()
                    || options.idle_timeout.is_some()
                    || options.max_age.is_some();
                if aborted && timed && !grace_set {
                    grace.reset(Instant::now() + CLOSE_GRACE);
                    grace_set = true;
                }
                if wrote {
                    // A peer that never reads blocks the writes: the session's timeouts still run.
                    let sent = {
                        let progress = Progress::new();
                        let mut sending =
                            std::pin::pin!(send_all(&mut transport, &out, metrics, &progress));
                        // Most writes are done at once: the timeouts' larger future is boxed
                        // only for one that waits, not kept in every idle session's task.
                        let first =
                            poll_fn(|cx| Poll::Ready(Future::poll(sending.as_mut(), cx))).await;
                        if let Poll::Ready(done) = first {
                            done.map_err(Stop::Failed)
                        } else {
                            let timers = Timers {
                                idle: &mut idle,
                                idle_at,
                                idle_timeout,
                                max_age: if aborted { &mut grace } else { &mut max_age },
                                write_timeout: options.write_timeout,
                                sleeper: &options.timer,
                            };
                            // Once aborted, these are the last words: the grace below bounds
                            // them.
                            let closed = (!aborted).then_some(&*end);
                            Box::pin(until_timeouts(sending, timers, &progress, closed)).await
                        }
                    };
                    match sent {
                        Ok(()) => {}
                        Err(Stop::Failed(e)) => {
                            core.abort(e, false);
                            return;
                        }
                        Err(Stop::TimedOut(e)) => {
                            // What was being written may be half sent: none of it again. The
                            // abort is tried, briefly, as the last words.
                            out.clear();
                            core.abort(e, true);
                            continue;
                        }
                    }
                }
                out.clear();
                if aborted {
                    // The transport is told why, to close with it (a WebSocket's close frame).
                    if let Some(reason) = core.abort_told() {
                        transport.closing(&reason);
                    }
                    let closing = std::pin::pin!(close_sent(&mut transport));
                    let _ =
                        futures_util::future::select(closing, std::pin::pin!(grace.fired())).await;
                    return;
                }
                if !wrote && !progressed {
                    break;
                }
            }
            if let (Some(d), false) = (idle_timeout, tasks.is_empty() && waiting.is_empty()) {
                // Calls running are not idleness.
                idle_at = Some(Instant::now() + d);
            }

            tokio::select! {
                // Each message is handled as it is read (it may borrow the transport's buffer);
                // then the rest of the burst, polled with this task's own waker (the one waiting
                // for the next read anyway, so the transport need not swap wakers).
                keep = poll_fn(|cx| {
                    let msg = ready!(Pin::new(&mut transport).poll_recv(cx));
                    core.handling_messages();
                    let mut keep = on_message(&core, msg, metrics);
                    for i in 0..READ_BURST {
                        if !keep {
                            break;
                        }
                        // Answers are written before more is read once they are many: a peer
                        // that reads slowly (or never) holds no more than this of them.
                        if i % 4 == 3 && core.queued_bytes() > BURST_OUTPUT {
                            break;
                        }
                        match Pin::new(&mut transport).poll_recv(cx) {
                            Poll::Ready(msg) => keep = on_message(&core, msg, metrics),
                            Poll::Pending => break,
                        }
                    }
                    Poll::Ready(keep)
                }), if reading => {
                    reading = keep;
                    core.touch();
                    if let Some(d) = idle_timeout {
                        idle_at = Some(Instant::now() + d);
                    }
                    core.wake_settled(&mut woken);
                }
                Some(()) = tasks.next(), if !tasks.is_empty() => {}
                _ = core.woken() => {}
                _ = idle.fired() => match idle_at {
                    Some(at) if at > Instant::now() => idle.reset(at),
                    _ => core.abort(RpcError::disconnected("session idle for too long"), true),
                },
                _ = max_age.fired() => {
                    core.abort(RpcError::disconnected("session reached its maximum age"), true);
                }
            }
        }
    }
}

/// How long an ended session waits for its peer to take its last messages and the close.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends every message of `out`, then flushes.
async fn send_all(
    transport: &mut impl Transport,
    out: &Outbox,
    metrics: Option<&Metrics>,
    progress: &Progress,
) -> Result<(), RpcError> {
    for msg in out.iter() {
        tracing::trace!(message = %msg, "sent");
        if let Some(m) = metrics {
            m.sent(msg);
        }
        facade::sent(msg.len());
        send_text(transport, msg)
            .await
            .map_err(|e| RpcError::disconnected(e.message()))?;
        progress.now();
    }
    flush_sent(transport)
        .await
        .map_err(|e| RpcError::disconnected(e.message()))
}

/// `work`, unless the session's idle timeout (nothing read since `idle_at`, nothing written
/// for as long), its write timeout (nothing written for as long) or its maximum age comes
/// first, or the session is ended meanwhile (`closed`): a write blocked on a peer that reads
/// nothing must not outlive them.
async fn until_timeouts(
    mut work: Pin<&mut impl std::future::Future<Output = Result<(), RpcError>>>,
    timers: Timers<'_>,
    progress: &Progress,
    closed: Option<&SessionEnd>,
) -> Result<(), Stop> {
    let Timers {
        idle,
        idle_at,
        idle_timeout,
        max_age,
        write_timeout,
        sleeper,
    } = timers;
    // Armed only if the work waits (most writes finish at once, and need no timer).
    let stalled = async {
        let Some(d) = write_timeout else {
            return std::future::pending().await;
        };
        let mut timer = Timer::new(Some(progress.last() + d), sleeper);
        loop {
            timer.fired().await;
            match progress.last() + d {
                at if at > Instant::now() => timer.reset(at),
                _ => return,
            }
        }
    };
    let mut stalled = std::pin::pin!(stalled);
    let ended = async {
        match closed {
            // Ended by the application, the server's shutdown, or to make room.
            Some(closed) => Some(closed.ended().await),
            None => std::future::pending().await,
        }
    };
    let mut ended = std::pin::pin!(ended);
    loop {
        tokio::select! {
            // The work first: a timeout counts only while it cannot go on.
            biased;
            done = &mut work => return done.map_err(Stop::Failed),
            reason = &mut ended => {
                let reason = reason.unwrap_or_else(|| RpcError::disconnected("session ended"));
                return Err(Stop::TimedOut(reason));
            }
            _ = max_age.fired() => {
                return Err(Stop::TimedOut(RpcError::disconnected(
                    "session reached its maximum age (while the peer read nothing)",
                )))
            }
            () = &mut stalled => {
                return Err(Stop::TimedOut(RpcError::disconnected(
                    "the peer took nothing written for the session's write timeout",
                )))
            }
            // A slow reader taking a large answer is not idle: the writes' progress counts.
            _ = idle.fired() => match idle_at.max(idle_timeout.map(|d| progress.last() + d)) {
                Some(at) if at > Instant::now() => idle.reset(at),
                _ => {
                    return Err(Stop::TimedOut(RpcError::disconnected(
                        "session idle for too long (the peer read nothing)",
                    )))
                }
            },
        }
    }
}

/// The session's timeouts, as the write phase sees them.
struct Timers<'a> {
    idle: &'a mut Timer,
    idle_at: Option<Instant>,
    idle_timeout: Option<std::time::Duration>,
    max_age: &'a mut Timer,
    write_timeout: Option<std::time::Duration>,
    sleeper: &'a Option<Sleeper>,
}

/// When a message last went out (milliseconds since `since`): shared by the writes and the
/// idle timer that races them.
struct Progress {
    since: Instant,
    millis: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            since: Instant::now(),
            millis: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn now(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.millis.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.since + std::time::Duration::from_millis(self.millis.load(Ordering::Relaxed))
    }
}

/// Why writing stopped.
enum Stop {
    /// The transport failed.
    Failed(RpcError),
    /// A timeout of the session came first.
    TimedOut(RpcError),
}

/// The calls waiting for a place, and how many may run at once.
struct Room<'a> {
    waiting: &'a mut VecDeque<BoxFuture<()>>,
    max: usize,
}

/// Starts tasks while fewer than `room.max` run: those waiting first, in the order they came,
/// then the new ones; the rest wait. Each is polled once when started, and kept only if not done
/// yet: most calls finish at once, and need no place. Returns whether any started.
async fn start(
    tasks: &mut FuturesUnordered<BoxFuture<()>>,
    new_tasks: &mut Vec<BoxFuture<()>>,
    room: Room<'_>,
) -> bool {
    // `move`: the closure holds `&mut` (Send), not the `&` that `push` takes (needs Sync).
    std::future::poll_fn(move |cx| {
        let mut started = false;
        let mut run = |mut task: BoxFuture<()>, tasks: &mut FuturesUnordered<_>| {
            started = true;
            if task.as_mut().poll(cx).is_pending() {
                tasks.push(task);
            }
        };
        while tasks.len() < room.max {
            let Some(task) = room.waiting.pop_front() else {
                break;
            };
            run(task, tasks);
        }
        for task in new_tasks.drain(..) {
            if tasks.len() < room.max && room.waiting.is_empty() {
                run(task, tasks);
            } else {
                room.waiting.push_back(task);
            }
        }
        recycle(new_tasks);
        Poll::Ready(started)
    })
    .await
}

/// Handles one read; returns whether to keep reading.
fn on_message(
    core: &Arc<Core>,
    msg: Option<Result<impl AsRef<str>, super::transport::TransportError>>,
    metrics: Option<&Metrics>,
) -> bool {
    match msg {
        Some(Ok(text)) => {
            let text = text.as_ref();
            tracing::trace!(message = %text, "received");
            let handled = core.handle(text);
            if let Some(m) = metrics {
                m.received(text.len(), handled.as_ref().ok().copied());
            }
            facade::received(text.len());
            match handled {
                // After the peer's abort, nothing more is read.
                Ok(kind) => kind != MessageKind::Abort,
                Err(e) => {
                    if let Some(limit) = wire_limit(&e) {
                        facade::limit_hit(limit);
                    }
                    tracing::debug!(error = %e, "aborting session: bad message from peer");
                    core.abort(e, true);
                    false
                }
            }
        }
        Some(Err(e)) => {
            if let Some(limit) = e.limit() {
                facade::limit_hit(limit);
            }
            // Tell the peer why, if the connection still takes it (a frame over the size
            // limit, say); a broken connection just fails the write.
            let reason = RpcError::Disconnected {
                reason: e.message().to_owned(),
                maybe_delivered: !e.is_undelivered(),
            };
            core.abort(reason, true);
            false
        }
        None => {
            core.abort(RpcError::disconnected("connection closed by peer"), false);
            false
        }
    }
}

/// The limit an error says the peer went over, if it does.
fn wire_limit(e: &RpcError) -> Option<&'static str> {
    match e {
        RpcError::Protocol(wire) => wire.limit(),
        _ => None,
    }
}
