//! The session state machine: import and export tables, and what each message does to them.
//!
//! All state sits behind one mutex that is never held across an await, nor while a stub is
//! dropped (dropping an import takes the lock again): anything removed from the tables goes to
//! `trash`, which the guard drops after unlocking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use tokio::sync::{oneshot, watch, Notify};

mod codec;
mod streams;

use self::codec::{SessionExporter, SessionImporter};
pub(crate) use self::streams::StreamDone;
use super::import::ImportHook;
use super::SendErrorHook;
use crate::error::RpcError;
use crate::eval::evaluate;
use crate::stream::ReadableStream;
use crate::stub::{BoxFuture, PromiseHook, Stub};
use crate::value::{ErrorValue, Value};
use crate::wire::{
    self, write_message, write_value, Exporter, Expr, Limits, Message, WireError, WireRef,
};

pub(crate) struct Core {
    state: Mutex<State>,
    /// Wakes the session task: outgoing messages or new tasks are waiting.
    pub(crate) wake: Notify,
    /// Set while the session task is handling messages or looking for work (it needs no wake).
    pub(crate) driving: AtomicBool,
    /// How many tasks wait in the state for the session task (read without the lock).
    pub(crate) queued_tasks: AtomicUsize,
    pub(crate) limits: Limits,
    /// Sees (and may change) every error before it is sent to the peer.
    on_send_error: Option<SendErrorHook>,
    /// `Some(reason)` once the session has ended.
    pub(crate) closed: watch::Sender<Option<RpcError>>,
    /// Signalled whenever the number of unanswered pulls drops to zero.
    pub(crate) idle: Notify,
}

#[derive(Default)]
pub(crate) struct State {
    imports: HashMap<i64, ImportEntry>,
    exports: HashMap<i64, ExportEntry>,
    /// Local objects already exported, by stub identity, so that re-sending reuses the id.
    reverse: HashMap<usize, i64>,
    next_import: i64,
    next_export: i64,
    /// The id the peer's next push or pipe gets on our export table.
    next_peer_push: i64,
    pub(crate) outbox: Vec<String>,
    pub(crate) tasks: Vec<BoxFuture<()>>,
    pub(crate) aborted: Option<RpcError>,
    /// Exports the peer is waiting on (pulled, answer not yet sent).
    pending_pulls: usize,
    trash: Vec<Stub>,
    trash_values: Vec<Value>,
}

pub(crate) struct ImportEntry {
    pub(crate) local_refs: usize,
    remote_refcount: u64,
    released: bool,
    pulled: bool,
    pub(crate) resolution: Option<Result<Value, RpcError>>,
    waiters: Vec<oneshot::Sender<Result<Value, RpcError>>>,
    /// For a `stream` call: what to do with its answer (the entry then goes away).
    on_settle: Option<(usize, StreamDone)>,
}

impl ImportEntry {
    fn new(pulled: bool) -> ImportEntry {
        ImportEntry {
            local_refs: 0,
            remote_refcount: 1,
            released: false,
            pulled,
            resolution: None,
            waiters: Vec::new(),
            on_settle: None,
        }
    }
}

struct ExportEntry {
    stub: Stub,
    refcount: u64,
    answer: Answer,
    /// Released automatically once answered (`stream`).
    auto_release: bool,
    /// For a pipe the peer opened: its readable end, until an expression takes it.
    pipe_readable: Option<ReadableStream>,
}

impl ExportEntry {
    fn new(stub: Stub, answer: Answer) -> ExportEntry {
        ExportEntry {
            stub,
            refcount: 1,
            answer,
            auto_release: false,
            pipe_readable: None,
        }
    }
}

/// Where an export stands with respect to the peer's interest in its resolution.
enum Answer {
    /// Not a promise, or nobody asked yet and nothing is running.
    Idle,
    /// Its result is being computed; send it when done if `pulled`.
    Running { pulled: bool },
    /// Computed, not yet asked for.
    Settled(Result<Value, RpcError>),
    /// Sent.
    Sent,
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
            let wake = !g.outbox.is_empty() || !g.tasks.is_empty();
            self.core
                .queued_tasks
                .store(g.tasks.len(), Ordering::Relaxed);
            let trash = (!g.trash.is_empty() || !g.trash_values.is_empty()).then(|| {
                (
                    std::mem::take(&mut g.trash),
                    std::mem::take(&mut g.trash_values),
                )
            });
            drop(g);
            drop(trash);
            // The session task looks for work itself before it sleeps again.
            if wake && !self.core.driving.load(Ordering::SeqCst) {
                self.core.wake.notify_one();
            }
        }
    }
}

impl State {
    /// Refuses a new export the peer asked for when it already pins `max`.
    fn check_export_room(&self, max: usize) -> Result<(), RpcError> {
        if self.exports.len() >= max {
            return Err(RpcError::Protocol(WireError::LimitExceeded {
                what: "the number of exports held by the peer",
                limit: max,
            }));
        }
        Ok(())
    }

    /// A settled promise for import `id`'s resolution, if it has one: uses of the import go
    /// there directly instead of to the peer.
    fn settled(&self, id: i64) -> Option<Stub> {
        let resolution = self.imports.get(&id)?.resolution.as_ref()?;
        Some(PromiseHook::ready(resolution.clone()))
    }
}

impl Core {
    pub(crate) fn new(
        main: Stub,
        limits: Limits,
        on_send_error: Option<SendErrorHook>,
    ) -> Arc<Core> {
        let mut state = State {
            next_import: 1,
            next_export: -1,
            next_peer_push: 1,
            ..State::default()
        };
        state
            .exports
            .insert(0, ExportEntry::new(main, Answer::Idle));
        state.imports.insert(0, ImportEntry::new(false));
        Arc::new(Core {
            state: Mutex::new(state),
            wake: Notify::new(),
            driving: AtomicBool::new(false),
            queued_tasks: AtomicUsize::new(0),
            limits,
            on_send_error,
            closed: watch::channel(None).0,
            idle: Notify::new(),
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

    /// A new handle on import `id` (0 is the peer's main object).
    pub(crate) fn import_handle(self: &Arc<Self>, id: i64, promise: bool) -> Stub {
        let mut st = self.lock();
        match st.imports.get_mut(&id) {
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

    // ---------------------------------------------------------------------------------------
    // Outgoing: calls on imports.

    /// Sends `["push", ["pipeline", id, path, args?]]` and returns the promise for its result.
    pub(crate) fn send_call(
        self: &Arc<Self>,
        id: i64,
        path: &[wire::PathKey],
        args: Option<Vec<Value>>,
    ) -> Stub {
        let mut st = self.lock();
        if let Some(settled) = st.settled(id) {
            drop(st);
            return match args {
                Some(args) => settled.0.call(path, args),
                None => settled.0.get(path),
            };
        }
        if let Some(reason) = &st.aborted {
            return Stub::broken(not_delivered(reason));
        }
        let mut text = String::with_capacity(64);
        crate::client::run_log::sent();
        text.push_str("[\"push\",[\"pipeline\",");
        text.push_str(itoa::Buffer::new().format(id));
        text.push(',');
        wire::write::write_path(&mut text, path);
        if let Some(args) = &args {
            text.push(',');
            if let Err(e) = wire::write::write_args(
                &mut text,
                args,
                &mut SessionExporter {
                    st: &mut st,
                    core: self,
                },
            ) {
                return Stub::broken(RpcError::Protocol(e));
            }
        }
        text.push_str("]]");
        st.outbox.push(text);
        let new_id = st.next_import;
        st.next_import += 1;
        let mut entry = ImportEntry::new(false);
        entry.local_refs = 1;
        st.imports.insert(new_id, entry);
        drop(st);
        Stub::from_hook(ImportHook {
            core: self.clone(),
            id: new_id,
            promise: true,
        })
    }

    /// Sends `["push", ["remap", ...]]`.
    pub(crate) fn send_map(
        self: &Arc<Self>,
        id: i64,
        path: &[wire::PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        let mut st = self.lock();
        if let Some(settled) = st.settled(id) {
            drop(st);
            return settled.0.map(path, captures, instructions);
        }
        if let Some(reason) = &st.aborted {
            return Stub::broken(not_delivered(reason));
        }
        let mut caps = Vec::with_capacity(captures.len());
        for c in &captures {
            caps.push(
                match (SessionExporter {
                    st: &mut st,
                    core: self,
                })
                .export(c, false)
                {
                    Ok(WireRef::Import(i) | WireRef::Pipeline(i, _)) => wire::Capture::Import(i),
                    Ok(WireRef::Export(i) | WireRef::Promise(i)) => wire::Capture::Export(i),
                    Err(e) => return Stub::broken(RpcError::Protocol(e)),
                },
            );
        }
        let remap = Expr::Remap(Box::new(wire::RemapExpr {
            id,
            path: path.to_vec(),
            captures: caps,
            instructions: instructions.to_vec(),
        }));
        crate::client::run_log::sent();
        st.outbox.push(write_message(&Message::Push(remap)));
        let new_id = st.next_import;
        st.next_import += 1;
        let mut entry = ImportEntry::new(false);
        entry.local_refs = 1;
        st.imports.insert(new_id, entry);
        st.trash.extend(captures);
        drop(st);
        Stub::from_hook(ImportHook {
            core: self.clone(),
            id: new_id,
            promise: true,
        })
    }

    /// Waits for the resolution of import `id`, pulling it if nobody has yet.
    pub(crate) fn await_import(self: &Arc<Self>, id: i64) -> BoxFuture<Result<Value, RpcError>> {
        let mut st = self.lock();
        let aborted = st.aborted.clone();
        let Some(entry) = st.imports.get_mut(&id) else {
            return ready(Err(
                aborted.unwrap_or_else(|| RpcError::disconnected("import released"))
            ));
        };
        if let Some(r) = &entry.resolution {
            return ready(r.clone());
        }
        if let Some(reason) = aborted {
            return ready(Err(reason));
        }
        let (tx, rx) = oneshot::channel();
        entry.waiters.push(tx);
        if !entry.pulled {
            entry.pulled = true;
            st.outbox.push(write_message(&Message::Pull(id)));
        }
        drop(st);
        Box::pin(rx.map(|r| r.unwrap_or_else(|_| Err(RpcError::disconnected("session ended")))))
    }

    /// One local handle on import `id` was dropped.
    pub(crate) fn drop_import(self: &Arc<Self>, id: i64) {
        let mut st = self.lock();
        let Some(entry) = st.imports.get_mut(&id) else {
            return;
        };
        entry.local_refs -= 1;
        if entry.local_refs > 0 {
            return;
        }
        if id == 0 {
            // The peer's main object stays importable for as long as the session lives.
            return;
        }
        let entry = st.imports.remove(&id).expect("present above");
        if !entry.released && st.aborted.is_none() {
            st.outbox
                .push(write_message(&Message::Release(id, entry.remote_refcount)));
        }
        if let Some(Ok(v)) = entry.resolution {
            st.trash_values.push(v);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Incoming messages.

    /// Handles one incoming message; an error aborts the session.
    pub(crate) fn handle(self: &Arc<Self>, text: &str) -> Result<(), RpcError> {
        let msg = wire::parse_message(text, &self.limits)?;
        match msg {
            Message::Push(e) => self.on_push(e, false),
            Message::Stream(e) => self.on_push(e, true),
            Message::Pipe => self.on_pipe(),
            Message::Pull(id) => self.on_pull(id),
            Message::Resolve(id, e) => {
                let v = self.evaluate(e)?;
                self.settle_import(id, Ok(v));
                Ok(())
            }
            Message::Reject(id, e) => {
                let v = self.evaluate(e)?;
                self.settle_import(id, Err(RpcError::from_thrown(v)));
                Ok(())
            }
            Message::Release(id, n) => self.on_release(id, n),
            Message::Abort(e) => {
                let reason = match self.evaluate(e) {
                    Ok(v) => RpcError::from_thrown(v),
                    Err(e) => e,
                };
                let reason = RpcError::Disconnected {
                    reason: format!("peer aborted: {reason}"),
                    maybe_delivered: true,
                };
                self.abort(reason, false);
                Ok(())
            }
        }
    }

    fn evaluate(self: &Arc<Self>, e: Expr) -> Result<Value, RpcError> {
        self.evaluate_driving(e, |_| false)
    }

    /// Evaluates `e`, driving every call it starts except those `skip` picks (driven elsewhere).
    fn evaluate_driving(
        self: &Arc<Self>,
        e: Expr,
        skip: impl Fn(&Value) -> bool,
    ) -> Result<Value, RpcError> {
        let mut importer = SessionImporter {
            core: self,
            started: Vec::new(),
        };
        let v = evaluate(e, &mut importer);
        let mut started = importer.started;
        if let Ok(v) = &v {
            if skip(v) {
                started.retain(|s| !matches!(v, Value::Promise(p) if p.same(s)));
            }
        }
        if !started.is_empty() {
            // Calls nested in the expression run now, as they would in JavaScript.
            let mut st = self.lock();
            for call in started {
                st.tasks.push(Box::pin(call.0.resolve().map(drop)));
            }
        }
        v
    }

    fn on_push(self: &Arc<Self>, e: Expr, stream: bool) -> Result<(), RpcError> {
        self.lock().check_export_room(self.limits.max_exports)?;
        let span = call_span(&e);
        let mapped = matches!(e, Expr::Remap(_));
        // The push's own call is driven by its answer task.
        let v = self.evaluate_driving(e, |v| matches!(v, Value::Promise(_)))?;
        let (stub, running) = match v {
            Value::Promise(s) => {
                let local = s.downcast::<PromiseHook>().is_some();
                (s, local)
            }
            Value::Stub(s) => (s, false),
            other => (Stub::resolved(other), true),
        };
        let mut st = self.lock();
        let id = st.next_peer_push;
        st.next_peer_push += 1;
        let answer = if running || stream {
            Answer::Running { pulled: stream }
        } else {
            Answer::Idle
        };
        if stream {
            st.pending_pulls += 1;
        }
        if matches!(answer, Answer::Running { .. }) {
            let mut task = self.answer_task(id, &stub);
            if mapped {
                let max = self.limits.max_map_applications;
                task = Box::pin(crate::map::with_budget(max, task));
            }
            st.tasks.push(match span {
                Some(span) => Box::pin(traced(task, span)),
                None => task,
            });
        }
        let mut entry = ExportEntry::new(stub, answer);
        entry.auto_release = stream;
        st.exports.insert(id, entry);
        Ok(())
    }

    /// The task that computes export `id`'s resolution and sends it if pulled.
    fn answer_task(self: &Arc<Self>, id: i64, stub: &Stub) -> BoxFuture<()> {
        let core = Arc::downgrade(self);
        let fut = stub.0.clone().resolve();
        Box::pin(async move {
            let result = fut.await;
            if let Some(core) = core.upgrade() {
                core.settle_export(id, result);
            }
        })
    }

    fn settle_export(self: &Arc<Self>, id: i64, result: Result<Value, RpcError>) {
        if let Err(e) = &result {
            tracing::debug!(error = %e, "call failed");
        }
        let mut st = self.lock();
        let Some(entry) = st.exports.get_mut(&id) else {
            return;
        };
        match entry.answer {
            Answer::Running { pulled: true } => {
                entry.answer = Answer::Sent;
                let auto_release = entry.auto_release;
                self.send_answer(&mut st, id, result);
                if auto_release {
                    release_export(&mut st, id, 1);
                }
            }
            _ => entry.answer = Answer::Settled(result),
        }
    }

    fn send_answer(self: &Arc<Self>, st: &mut State, id: i64, result: Result<Value, RpcError>) {
        st.pending_pulls = st.pending_pulls.saturating_sub(1);
        if st.pending_pulls == 0 {
            self.idle.notify_waiters();
        }
        let mut text = String::with_capacity(32);
        let ok = match &result {
            Ok(v) => {
                text.push_str("[\"resolve\",");
                text.push_str(itoa::Buffer::new().format(id));
                text.push(',');
                write_value(&mut text, v, &mut SessionExporter { st, core: self })
            }
            Err(e) => Err(WireError::Unserializable(e.to_string())),
        };
        if let Err(err) = ok {
            let error = match (&result, err) {
                (Err(e), _) => e.clone(),
                (Ok(_), e) => RpcError::Protocol(e),
            };
            text.clear();
            text.push_str("[\"reject\",");
            text.push_str(itoa::Buffer::new().format(id));
            text.push(',');
            let _ = write_value(
                &mut text,
                &Value::Error(Box::new(self.outgoing_error(&error))),
                &mut wire::NoExporter,
            );
        }
        text.push(']');
        st.outbox.push(text);
        if let Ok(v) = result {
            st.trash_values.push(v);
        }
    }

    fn on_pull(self: &Arc<Self>, id: i64) -> Result<(), RpcError> {
        let mut st = self.lock();
        let entry = st.exports.get_mut(&id).ok_or_else(|| {
            RpcError::Protocol(WireError::message(
                "pull",
                format!("no such export ID: {id}"),
            ))
        })?;
        match std::mem::replace(&mut entry.answer, Answer::Sent) {
            Answer::Settled(result) => {
                let auto_release = entry.auto_release;
                st.pending_pulls += 1;
                self.send_answer(&mut st, id, result);
                if auto_release {
                    release_export(&mut st, id, 1);
                }
            }
            Answer::Idle => {
                entry.answer = Answer::Running { pulled: true };
                let task = self.answer_task(id, &entry.stub);
                st.tasks.push(task);
                st.pending_pulls += 1;
            }
            Answer::Running { pulled } => {
                entry.answer = Answer::Running { pulled: true };
                if !pulled {
                    st.pending_pulls += 1;
                }
            }
            Answer::Sent => {}
        }
        Ok(())
    }

    fn on_release(self: &Arc<Self>, id: i64, n: u64) -> Result<(), RpcError> {
        let mut st = self.lock();
        let entry = st.exports.get(&id).ok_or_else(|| {
            RpcError::Protocol(WireError::message(
                "release",
                format!("no such export ID: {id}"),
            ))
        })?;
        if entry.refcount < n {
            return Err(RpcError::Protocol(WireError::message(
                "release",
                format!("refcount would go negative: {} < {n}", entry.refcount),
            )));
        }
        release_export(&mut st, id, n);
        Ok(())
    }

    fn settle_import(self: &Arc<Self>, id: i64, result: Result<Value, RpcError>) {
        let mut st = self.lock();
        let aborted = st.aborted.is_some();
        let Some(entry) = st.imports.get_mut(&id) else {
            if let Ok(v) = result {
                st.trash_values.push(v);
            }
            return;
        };
        if entry.resolution.is_some() {
            return;
        }
        if entry.on_settle.is_some() {
            // A `stream` call: answered once, implicitly released by the peer.
            let entry = st.imports.remove(&id).expect("present above");
            drop(st);
            if let Some((size, done)) = entry.on_settle {
                done(size, result);
            }
            return;
        }
        let waiters = std::mem::take(&mut entry.waiters);
        entry.resolution = Some(result.clone());
        let refcount = entry.remote_refcount;
        if !entry.released && !aborted {
            entry.released = true;
            st.outbox
                .push(write_message(&Message::Release(id, refcount)));
        }
        drop(st);
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }

    // ---------------------------------------------------------------------------------------
    // Ending.

    /// Ends the session: every pending call fails with `reason`, every export is released.
    pub(crate) fn abort(self: &Arc<Self>, reason: RpcError, notify_peer: bool) {
        let mut st = self.lock();
        if st.aborted.is_some() {
            return;
        }
        if notify_peer {
            let err = Value::Error(Box::new(self.outgoing_error(&reason)));
            let mut text = String::from("[\"abort\",");
            let _ = write_value(&mut text, &err, &mut wire::NoExporter);
            text.push(']');
            st.outbox.push(text);
        }
        st.aborted = Some(reason.clone());
        let mut waiters = Vec::new();
        let mut streams = Vec::new();
        for entry in st.imports.values_mut() {
            waiters.append(&mut entry.waiters);
            streams.extend(entry.on_settle.take());
            if entry.resolution.is_none() {
                entry.resolution = Some(Err(reason.clone()));
            }
        }
        let exports: Vec<ExportEntry> = st.exports.drain().map(|(_, e)| e).collect();
        st.trash.extend(exports.into_iter().map(|e| e.stub));
        st.reverse.clear();
        st.pending_pulls = 0;
        drop(st);
        self.idle.notify_waiters();
        for w in waiters {
            let _ = w.send(Err(reason.clone()));
        }
        for (size, done) in streams {
            done(size, Err(reason.clone()));
        }
        self.closed.send_replace(Some(reason));
        self.wake.notify_one();
    }

    /// Counts of live table entries.
    pub(crate) fn stats(self: &Arc<Self>) -> (usize, usize) {
        let st = self.lock();
        (st.imports.len(), st.exports.len())
    }

    /// `error` as sent to the peer: without a stack, then through the user's hook.
    fn outgoing_error(&self, error: &RpcError) -> ErrorValue {
        let mut e = error.to_value();
        if let Some(hook) = &self.on_send_error {
            hook(&mut e);
        }
        e
    }

    /// Whether any call from the peer is still running or unanswered.
    pub(crate) fn busy(self: &Arc<Self>) -> bool {
        let st = self.lock();
        st.pending_pulls > 0
            || st
                .exports
                .values()
                .any(|e| matches!(e.answer, Answer::Running { .. }))
    }

    /// Number of pulls not yet answered.
    pub(crate) fn pending_pulls(self: &Arc<Self>) -> usize {
        self.lock().pending_pulls
    }

    pub(crate) fn take_tasks(self: &Arc<Self>) -> Vec<BoxFuture<()>> {
        std::mem::take(&mut self.lock().tasks)
    }

    pub(crate) fn take_work(self: &Arc<Self>) -> (Vec<String>, Vec<BoxFuture<()>>, bool) {
        let mut st = self.lock();
        let out = std::mem::take(&mut st.outbox);
        let tasks = std::mem::take(&mut st.tasks);
        let aborted = st.aborted.is_some();
        (out, tasks, aborted)
    }
}

fn release_export(st: &mut State, id: i64, n: u64) {
    if let Some(entry) = st.exports.get_mut(&id) {
        entry.refcount -= n.min(entry.refcount);
        if entry.refcount == 0 {
            let entry = st.exports.remove(&id).expect("present above");
            if st.reverse.get(&entry.stub.key()) == Some(&id) {
                st.reverse.remove(&entry.stub.key());
            }
            if matches!(entry.answer, Answer::Running { pulled: true }) {
                st.pending_pulls = st.pending_pulls.saturating_sub(1);
            }
            st.trash.push(entry.stub);
        }
    }
}

/// A `capnweb.call` span for a pushed call, when debug tracing is on.
fn call_span(e: &Expr) -> Option<tracing::Span> {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let (Expr::Pipeline(call) | Expr::Import(call)) = e else {
        return None;
    };
    call.args.as_ref()?;
    let method: Vec<_> = call.path.iter().flatten().map(|k| k.to_name()).collect();
    Some(tracing::debug_span!("capnweb.call", method = %method.join(".")))
}

/// Runs an answer task in its call's span, and records how long it took and how it ended.
async fn traced(task: BoxFuture<()>, span: tracing::Span) {
    use tracing::Instrument;
    let start = std::time::Instant::now();
    task.instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(micros = start.elapsed().as_micros() as u64, "call done"));
}

fn ready<T: Send + 'static>(v: T) -> BoxFuture<T> {
    Box::pin(std::future::ready(v))
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
