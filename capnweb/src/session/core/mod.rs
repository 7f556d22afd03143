//! The session state machine: import and export tables, and what each message does to them.
//! The tables and their ids are in `tables`, calls we make (and the one send path) in
//! `outgoing`, messages we receive in `incoming` (what a push becomes in `push`), value encoding
//! against the tables in `codec`, pipes and `stream` calls in `streams`, waking the session task
//! and idle waiters in `wake`, ending the session in `ending`; bookkeeping here.
//!
//! All state sits behind one mutex that is never held across an await, nor while a stub is
//! dropped (dropping an import takes the lock again): anything removed from the tables goes to
//! `trash`, which the guard drops after unlocking.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Waker;

use tokio::sync::Notify;

mod codec;
mod ending;
mod incoming;
mod outbox;
mod outgoing;
mod push;
mod streams;
mod tables;
mod wake;

pub(crate) use outbox::Outbox;
use tables::{Answer, ExportEntry, Exports, ImportEntry, Imports, Table};
use wake::TaskWake;

use super::import::ImportHook;
use super::{AnswerBudget, Instant, SendErrorHook};
use crate::error::RpcError;
use crate::stub::SessionEnd;
use crate::stub::{BoxFuture, Hook, PromiseHook, Stub};
use crate::value::{ErrorValue, Value};
use crate::wire::{Limits, WireError};

pub(crate) struct Core {
    state: Mutex<State>,
    /// Wakes the session task: outgoing messages or new tasks are waiting.
    task: TaskWake,
    limits: Limits,
    /// The peer's calls that may be pending at once (`SessionOptions::max_in_flight`).
    max_in_flight: usize,
    /// The peer's calls pending now, running or waiting for a place: set by the session task
    /// each round, counted up as pushes queue theirs (read without the lock).
    pending_calls: AtomicUsize,
    /// Sees (and may change) every error before it is sent to the peer.
    on_send_error: Option<SendErrorHook>,
    /// The session's end, for those who wait for it.
    end: Arc<SessionEnd>,
    /// Signalled when the peer's calls may all be answered, while anyone waits for that
    /// (`State::idle_waiters`; see `wake`).
    idle: Notify,
    /// When the session last read a message: milliseconds since [`epoch`].
    last_read: AtomicU64,
    /// Bytes for the results the peer's maps are building at once (see `stub::map`).
    map_bytes: Arc<MapBytesLeft>,
    /// The peer's new calls are answered with a `NOT_RUN` error instead of running (a
    /// draining server's sessions).
    refusing: std::sync::atomic::AtomicBool,
    /// The peer answered a call of ours saying it did not run it: it is draining.
    peer_refusing: std::sync::atomic::AtomicBool,
}

/// The moment `Core::last_read` counts from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis_since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The bytes the peer's maps may build at once: the session's own (`max_answer_bytes`), and
/// the server's pool the session's held results draw on too.
struct MapBytesLeft {
    left: AtomicUsize,
    pool: Option<Arc<dyn AnswerBudget>>,
}

impl crate::stub::map::MapBytes for MapBytesLeft {
    fn take(&self, n: usize) -> bool {
        if !self.left.take(n) {
            return false;
        }
        if self.pool.as_ref().is_some_and(|pool| pool.take(n).is_err()) {
            self.left.give(n);
            return false;
        }
        true
    }

    fn give(&self, n: usize) {
        self.left.give(n);
        if let Some(pool) = &self.pool {
            pool.give(n);
        }
    }
}

/// Session cores alive in this process (see [`live_sessions`](crate::session::live_sessions)).
pub(crate) static LIVE_CORES: AtomicUsize = AtomicUsize::new(0);

impl Drop for Core {
    fn drop(&mut self) {
        // (Always ended before: the session's task ends it. Waiters never wait for nothing.)
        self.end.end(RpcError::disconnected("session dropped"));
        LIVE_CORES.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub(crate) struct State {
    imports: Imports,
    exports: Exports,
    /// Local objects already exported, by stub identity, so that re-sending reuses the id.
    reverse: Table<usize, i64>,
    outbox: Outbox,
    tasks: Vec<BoxFuture<()>>,
    aborted: Option<RpcError>,
    /// The message of the error the session's `abort` told the peer, if it sent one: what
    /// the transport closes with (see `Transport::closing`).
    abort_told: Option<String>,
    /// Exports the peer is waiting on (pulled, answer not yet sent).
    pending_pulls: usize,
    /// Exports whose answer is being computed (`Answer::Running`).
    running: usize,
    /// Tasks waiting for the session to go idle (`Core::drain`, `Core::settle`).
    idle_waiters: usize,
    /// Set when they are to be woken, once unlocked.
    wake_idle: bool,
    trash: Vec<Stub>,
    trash_values: Vec<Value>,
    /// Waiters of imports settled during the current read burst: woken together once the burst
    /// is handled (`wake_settled`), so they do not contend for the lock with the rest of it.
    settled_waiters: Vec<Waker>,
    /// Set once the session task has stopped: tasks queued after that are dropped, not kept.
    ended: bool,
    /// Bytes of the results held for the peer: settled, not yet released (or, for a result
    /// only the export keeps, not yet sent). See `Limits::max_answer_bytes`.
    answer_bytes: usize,
    /// Where `answer_bytes` are counted too (a server's budget shared by its sessions).
    answer_budget: Option<Arc<dyn AnswerBudget>>,
    /// The local calls the peer's messages started, weakly: cancelled when the session ends.
    calls: Vec<Weak<dyn Hook>>,
    /// How many of `calls` were alive when it was last pruned.
    calls_alive: usize,
}

/// The lock guard: drops what was removed from the tables only after unlocking.
pub(crate) struct Guard<'a> {
    guard: Option<MutexGuard<'a, State>>,
    core: &'a Arc<Core>,
}

impl std::ops::Deref for Guard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.guard.as_ref().expect("guard held")
    }
}
impl std::ops::DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("guard held")
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            // Nothing runs a task queued after the session task stopped: drop it (a task may hold
            // the core, and would keep it alive forever).
            let orphans = (g.ended && !g.tasks.is_empty()).then(|| std::mem::take(&mut g.tasks));
            let wake = !g.outbox.is_empty() || !g.tasks.is_empty();
            let wake_idle = std::mem::take(&mut g.wake_idle);
            // The trash is swapped for this thread's empty spare buffers, so that it can be
            // dropped unlocked (a drop may take the lock) with no second locking to give the
            // buffers back, and no allocation for the next call's trash.
            let trash = (!g.trash.is_empty() || !g.trash_values.is_empty()).then(|| {
                // (During a thread's teardown the spare may be gone: then fresh ones.)
                let (spare_stubs, spare_values) =
                    SPARE_TRASH.try_with(Cell::take).unwrap_or_default();
                (
                    std::mem::replace(&mut g.trash, spare_stubs),
                    std::mem::replace(&mut g.trash_values, spare_values),
                )
            });
            drop(g);
            drop(orphans);
            if let Some((mut stubs, mut values)) = trash {
                stubs.clear();
                values.clear();
                recycle(&mut stubs);
                recycle(&mut values);
                let _ = SPARE_TRASH.try_with(|spare| spare.set((stubs, values)));
            }
            if wake {
                self.core.task.queued();
            }
            if wake_idle {
                self.core.idle.notify_waiters();
            }
        }
    }
}

thread_local! {
    /// Empty buffers for the next lock's trash (see `Guard`'s drop).
    static SPARE_TRASH: Cell<(Vec<Stub>, Vec<Value>)> =
        const { Cell::new((Vec::new(), Vec::new())) };
}

impl State {
    /// Counts `size` more bytes of results held for the peer, against `max` of them and the
    /// shared budget: what a peer's calls make us keep (a method returning its argument, say,
    /// or a large result never released) is bounded like what it sends.
    fn hold(&mut self, size: usize, max: usize) -> Result<(), WireError> {
        if self.answer_bytes + size > max {
            return Err(WireError::LimitExceeded {
                what: "the bytes of results held for the peer, not released (max_answer_bytes)",
                limit: max,
            });
        }
        if let Some(budget) = &self.answer_budget {
            budget.take(size)?;
        }
        self.answer_bytes += size;
        Ok(())
    }

    /// Gives back `size` bytes of results held (sent or released).
    fn let_go(&mut self, size: usize) {
        self.answer_bytes = self.answer_bytes.saturating_sub(size);
        if let Some(budget) = &self.answer_budget {
            budget.give(size);
        }
    }

    /// Refuses a new export the peer asked for when it already pins `max`.
    pub(super) fn check_export_room(&self, max: usize) -> Result<(), WireError> {
        if self.exports.len() >= max {
            return Err(WireError::LimitExceeded {
                what: "the number of exports held by the peer",
                limit: max,
            });
        }
        Ok(())
    }

    /// Keeps a weak handle on `call`, a local call a peer's message started, to cancel it when
    /// the session ends. Pruned when it has doubled since it last was, so it stays within twice
    /// the calls alive at once.
    pub(super) fn track_call(&mut self, call: &Stub) {
        self.calls.push(Arc::downgrade(&call.0));
        if self.calls.len() >= (2 * self.calls_alive).max(64) {
            self.calls.retain(|c| c.strong_count() > 0);
            self.calls_alive = self.calls.len();
        }
    }

    /// Whether any call from the peer is still running or unanswered.
    #[cfg(feature = "server")]
    fn busy(&self) -> bool {
        self.pending_pulls > 0 || self.running > 0
    }

    /// A settled promise for import `id`'s resolution, if it has one: uses of the import go
    /// there directly instead of to the peer.
    fn settled(&self, id: i64) -> Option<Stub> {
        let resolution = self.imports.get(id)?.resolution.as_ref()?;
        Some(PromiseHook::ready(resolution.clone()))
    }
}

impl Core {
    pub(crate) fn new(
        main: Stub,
        limits: Limits,
        max_in_flight: usize,
        on_send_error: Option<SendErrorHook>,
        answer_budget: Option<Arc<dyn AnswerBudget>>,
    ) -> Arc<Core> {
        let pool = answer_budget.clone();
        let mut state = State {
            answer_budget,
            ..State::default()
        };
        state
            .exports
            .insert(0, ExportEntry::new(main, Answer::Idle));
        state.imports.insert(0, ImportEntry::new(false));
        LIVE_CORES.fetch_add(1, Ordering::Relaxed);
        Arc::new(Core {
            state: Mutex::new(state),
            task: TaskWake::default(),
            limits,
            max_in_flight,
            pending_calls: AtomicUsize::new(0),
            on_send_error,
            end: Arc::default(),
            idle: Notify::new(),
            last_read: AtomicU64::new(millis_since_epoch()),
            refusing: std::sync::atomic::AtomicBool::new(false),
            peer_refusing: std::sync::atomic::AtomicBool::new(false),
            map_bytes: Arc::new(MapBytesLeft {
                left: AtomicUsize::new(limits.max_answer_bytes),
                pool,
            }),
        })
    }

    pub(crate) fn lock<'a>(self: &'a Arc<Self>) -> Guard<'a> {
        let guard = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Guard {
            guard: Some(guard),
            core: self,
        }
    }

    /// Reads the tables under the lock without the bookkeeping of [`lock`](Self::lock) (trash,
    /// wake-ups): for a look that changes nothing and drops nothing.
    pub(crate) fn peek<R>(&self, look: impl FnOnce(&State) -> R) -> R {
        let st = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        look(&st)
    }

    /// A new handle on import `id` (0 is the peer's main object).
    pub(crate) fn import_handle(self: &Arc<Self>, id: i64, promise: bool) -> Stub {
        let mut st = self.lock();
        match st.imports.get_mut(id) {
            Some(e) => e.local_refs += 1,
            None => {
                return Stub::broken(
                    st.aborted
                        .clone()
                        .unwrap_or_else(|| RpcError::disconnected("import released")),
                )
            }
        }
        drop(st);
        Stub::from_hook(ImportHook {
            core: self.clone(),
            id,
            promise,
        })
    }

    /// `error` as sent to the peer: without a stack, then through the user's hook.
    fn outgoing_error(&self, error: &RpcError) -> ErrorValue {
        let mut e = error.to_value();
        if let Some(hook) = &self.on_send_error {
            hook(&mut e);
        }
        e
    }

    /// From now on, the peer's new calls are not run: each is answered with a `NOT_RUN` error.
    #[cfg(feature = "server")]
    pub(crate) fn refuse_new_calls(&self) {
        self.refusing.store(true, Ordering::Release);
    }

    /// Whether every call of the peer's that ran has been answered (or released by the peer),
    /// so that what it left unanswered did not run: the refused ones only.
    #[cfg(feature = "server")]
    pub(crate) fn ran_calls_answered(self: &Arc<Self>) -> bool {
        let st = self.lock();
        let answered = st.exports.iter().all(|(id, e)| {
            let refused = e.stub.downcast::<crate::stub::ErrorHook>().is_some_and(
                |h| matches!(&h.0, RpcError::Remote(v) if v.name == crate::error::NOT_RUN),
            );
            id <= 0 || e.peer_pipe || refused || matches!(e.answer, Answer::Sent)
        });
        answered
    }

    /// Whether the peer refused a call of ours as not run (it is draining: it will end the
    /// session once it has answered the rest).
    pub(crate) fn peer_refuses_calls(&self) -> bool {
        self.peer_refusing.load(Ordering::Relaxed)
    }

    /// Counts of live table entries.
    pub(crate) fn stats(self: &Arc<Self>) -> (usize, usize) {
        let st = self.lock();
        (st.imports.len(), st.exports.len())
    }

    /// Makes room for `n` more exports at once.
    pub(crate) fn reserve_exports(self: &Arc<Self>, n: usize) {
        self.lock().exports.reserve(n);
    }

    /// Wakes whoever waits on the imports settled since the last call; `spare` (empty) is
    /// swapped in, so the two buffers take turns and are allocated once.
    pub(crate) fn wake_settled(self: &Arc<Self>, spare: &mut Vec<Waker>) {
        std::mem::swap(&mut self.lock().settled_waiters, spare);
        spare.drain(..).for_each(Waker::wake);
        recycle(spare);
    }

    /// The session task has stopped: what it would have run is dropped, now and from now on.
    pub(crate) fn end_tasks(self: &Arc<Self>) {
        let mut st = self.lock();
        st.ended = true;
        let tasks = std::mem::take(&mut st.tasks);
        let outbox = std::mem::take(&mut st.outbox);
        drop(st);
        drop((tasks, outbox));
    }

    /// Whether `max_in_flight` of the peer's calls are pending: a new one then waits its turn
    /// instead of starting when it arrives.
    pub(crate) fn full(&self) -> bool {
        self.pending_calls.load(Ordering::Relaxed) >= self.max_in_flight
    }

    /// The peer's calls pending now, as the session task counts them each round.
    pub(crate) fn set_pending_calls(&self, n: usize) {
        self.pending_calls.store(n, Ordering::Relaxed);
    }

    /// What is accepted from the peer.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the session has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.end.reason().is_some()
    }

    /// The session's end, to wait for.
    pub(crate) fn end(&self) -> Arc<SessionEnd> {
        self.end.clone()
    }

    /// Notes that a message was read now (see [`idle_for`](Self::idle_for)).
    pub(crate) fn touch(&self) {
        self.last_read
            .store(millis_since_epoch(), Ordering::Relaxed);
    }

    /// How long the session has read nothing and run none of the peer's calls.
    pub(crate) fn idle_for(&self) -> std::time::Duration {
        if self.pending_calls.load(Ordering::Relaxed) > 0 {
            return std::time::Duration::ZERO;
        }
        let since = millis_since_epoch().saturating_sub(self.last_read.load(Ordering::Relaxed));
        std::time::Duration::from_millis(since)
    }

    /// Bytes of messages queued to send (a read burst stops past a bound, to write them first).
    pub(crate) fn queued_bytes(self: &Arc<Self>) -> usize {
        self.lock().outbox.bytes()
    }

    /// The message of the error the session's `abort` told the peer, once it sent one.
    pub(crate) fn abort_told(&self) -> Option<String> {
        self.peek(|st| st.abort_told.clone())
    }

    /// Swaps the queued frames and tasks into `out` and `tasks` (both empty, their buffers then
    /// serve the state); returns whether the session has been aborted.
    pub(crate) fn take_work(
        self: &Arc<Self>,
        out: &mut Outbox,
        tasks: &mut Vec<BoxFuture<()>>,
    ) -> bool {
        let mut st = self.lock();
        std::mem::swap(&mut st.outbox, out);
        std::mem::swap(&mut st.tasks, tasks);
        st.aborted.is_some()
    }
}

/// Keeps an emptied buffer for reuse unless a burst made it large: an idle session should not
/// hold the memory of its busiest moment.
pub(crate) fn recycle<T>(buffer: &mut Vec<T>) {
    if buffer.capacity() > 1024 {
        *buffer = Vec::new();
    }
}

/// Keeps `result` to be dropped once unlocked (see `Guard`): a value, or an error's properties,
/// may hold handles on this session, whose drop takes the lock.
fn discard(trash: &mut Vec<Value>, result: Result<Value, RpcError>) {
    match result {
        // A leaf (a call's usual result) refers to no session: dropped here, with no trash to
        // hand back once the lock goes.
        Ok(
            Value::Undefined
            | Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::String(_)
            | Value::Date(_)
            | Value::BigInt(_)
            | Value::Bytes(_),
        ) => {}
        Ok(v) => trash.push(v),
        Err(RpcError::Remote(e)) => trash.push(Value::Error(e)),
        Err(_) => {}
    }
}

/// Reads a result that settled: `owned`, or else the one `stub` holds (`None` if neither).
fn read_settled<T>(
    stub: &Stub,
    owned: Option<&Result<Value, RpcError>>,
    read: impl FnOnce(&Result<Value, RpcError>) -> T,
) -> Option<T> {
    if let Some(result) = owned {
        return Some(read(result));
    }
    let (mut read, mut out) = (Some(read), None);
    stub.0
        .with_settled(&mut |r| out = read.take().map(|read| read(r)));
    out
}

/// The bytes an answer holds (its error counted as a leaf).
fn answer_size(result: &Result<Value, RpcError>) -> usize {
    match result {
        Ok(v) => v.held_bytes(),
        Err(_) => std::mem::size_of::<RpcError>(),
    }
}

fn release_export(st: &mut State, id: i64, n: u64) {
    if let Some(entry) = st.exports.get_mut(id) {
        entry.refcount -= n.min(entry.refcount);
        if entry.refcount == 0 {
            let entry = st.exports.remove(id).expect("present above");
            if st.reverse.get(&entry.stub.key()) == Some(&id) {
                st.reverse.remove(&entry.stub.key());
            }
            st.let_go(entry.held);
            match entry.answer {
                Answer::Running { pulled } => {
                    if pulled {
                        st.pull_done();
                    }
                    st.call_done();
                }
                Answer::Settled(Some(result)) => discard(&mut st.trash_values, result),
                _ => {}
            }
            st.trash.push(entry.stub);
        }
    }
}

fn not_delivered(reason: &RpcError) -> RpcError {
    match reason {
        RpcError::Disconnected { reason, .. } => RpcError::Disconnected {
            reason: reason.clone(),
            maybe_delivered: false,
        },
        other => RpcError::Disconnected {
            reason: other.to_string(),
            maybe_delivered: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_goes_with_its_last_reference_and_not_before() {
        let mut st = State::default();
        let stub = Stub::resolved(Value::Null);
        st.reverse.insert(stub.key(), -1);
        let mut entry = ExportEntry::new(stub.clone(), Answer::Idle);
        entry.refcount = 3;
        st.exports.insert(-1, entry);
        release_export(&mut st, -1, 2);
        assert_eq!(st.exports.get(-1).map(|e| e.refcount), Some(1));
        assert!(st.reverse.contains_key(&stub.key()), "still exported");
        release_export(&mut st, -1, 1);
        assert!(!st.exports.contains_key(-1));
        assert!(!st.reverse.contains_key(&stub.key()));
        assert_eq!(
            st.trash.len(),
            1,
            "the stub is dropped once the lock is let go"
        );
        // Releasing more than is held takes it to zero, never below (the peer's release is
        // refused before this, see `on_release`).
        let mut entry = ExportEntry::new(Stub::resolved(Value::Null), Answer::Idle);
        entry.refcount = 1;
        st.exports.insert(-2, entry);
        release_export(&mut st, -2, 5);
        assert!(!st.exports.contains_key(-2));
        // An unknown id is nothing to do.
        release_export(&mut st, -9, 1);
    }

    #[test]
    fn a_released_promise_takes_its_pending_pull_and_its_result_with_it() {
        let mut st = State {
            pending_pulls: 1,
            running: 1,
            idle_waiters: 1,
            ..State::default()
        };
        let running = ExportEntry::new(
            Stub::resolved(Value::Null),
            Answer::Running { pulled: true },
        );
        st.exports.insert(1, running);
        release_export(&mut st, 1, 1);
        assert_eq!((st.pending_pulls, st.running), (0, 0));
        assert!(
            st.wake_idle,
            "the last one wakes whoever waits for idleness"
        );
        // A result that may hold handles is dropped after unlocking; a leaf at once.
        let holding = Value::Array(vec![Value::Stub(Stub::resolved(Value::Null))]);
        let settled = ExportEntry::new(
            Stub::resolved(Value::Null),
            Answer::Settled(Some(Ok(holding))),
        );
        st.exports.insert(2, settled);
        release_export(&mut st, 2, 1);
        assert_eq!(st.trash_values.len(), 1, "kept until unlocked");
        let leaf = ExportEntry::new(
            Stub::resolved(Value::Null),
            Answer::Settled(Some(Ok(Value::from("a leaf")))),
        );
        st.exports.insert(3, leaf);
        release_export(&mut st, 3, 1);
        assert_eq!(st.trash_values.len(), 1, "a leaf is not kept");
    }
}
