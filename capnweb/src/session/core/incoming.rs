//! What each message from the peer does to the tables: pushes become exports whose answers are
//! sent when pulled, resolutions settle imports, releases drop exports.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::FutureExt;

use super::codec::{SessionExporter, SessionImporter, Started};
use super::push::{Pushed, Start};
use super::{answer_size, discard, read_settled, release_export, Answer, Core, ExportEntry, State};
use crate::error::RpcError;
use crate::stub::eval::evaluate;
use crate::stub::{BoxFuture, PromiseHook, Resolution, Stub};
use crate::value::Value;
use crate::wire::{
    self, compose, write_message_to, write_value, Expr, Message, MessageKind, WireError,
};

impl Core {
    /// Handles one incoming message; an error aborts the session. Returns its kind (after the
    /// peer's abort, what follows it in the same burst is ignored).
    pub(crate) fn handle(self: &Arc<Self>, text: &str) -> Result<MessageKind, RpcError> {
        let msg = wire::parse_message(text, &self.limits)?;
        let kind = msg.kind();
        match msg {
            Message::Push(e) => self.on_push(e, false),
            Message::Stream(e) => self.on_push(e, true),
            Message::Pipe => self.on_pipe(),
            Message::Pull { import_id: id } => self.on_pull(id),
            Message::Resolve {
                export_id: id,
                value: e,
            } => {
                let v = self.evaluate(e)?;
                self.settle_import(id, Ok(v));
                Ok(())
            }
            Message::Reject {
                export_id: id,
                error: e,
            } => {
                let v = self.evaluate(e)?;
                self.settle_import(id, Err(RpcError::from_thrown(v)));
                Ok(())
            }
            Message::Release {
                import_id: id,
                refcount: n,
            } => self.on_release(id, n),
            Message::Abort(e) => {
                let reason = match self.evaluate(e) {
                    Ok(v) => RpcError::from_thrown(v),
                    Err(e) => e,
                };
                // A peer that says none of the calls it left unanswered ran (a draining
                // server) delivered none of them.
                let not_run =
                    matches!(&reason, RpcError::Remote(e) if e.name == crate::error::NOT_RUN);
                let reason = RpcError::Disconnected {
                    reason: format!("peer aborted: {reason}"),
                    maybe_delivered: !not_run,
                };
                self.abort(reason, false);
                Ok(())
            }
        }
        .map(|()| kind)
    }

    pub(super) fn evaluate(self: &Arc<Self>, e: Expr) -> Result<Value, RpcError> {
        self.evaluate_driving(e, |_| false)
    }

    /// Evaluates `e`, driving every call it starts except those `skip` picks (driven elsewhere).
    pub(super) fn evaluate_driving(
        self: &Arc<Self>,
        e: Expr,
        skip: impl Fn(&Value) -> bool,
    ) -> Result<Value, RpcError> {
        let mut importer = SessionImporter {
            core: self,
            started: Started::default(),
        };
        let v = evaluate(e, &mut importer);
        let mut started = importer.started;
        if let Ok(v) = &v {
            if skip(v) {
                if let Value::Promise(p) = v {
                    started.remove(p);
                }
            }
        }
        if !started.is_empty() {
            // Calls nested in the expression run now, as they would in JavaScript.
            let mut st = self.lock();
            for call in started.calls() {
                PromiseHook::driven_by_session(&call);
                st.track_call(&call);
                st.tasks.push(Box::pin(call.0.resolve().map(drop)));
            }
        }
        v
    }

    pub(super) fn on_push(self: &Arc<Self>, e: Expr, stream: bool) -> Result<(), RpcError> {
        // A draining server runs no new call (writes into a stream go on): the peer learns that
        // this one did not run, and may run it elsewhere.
        let refused = !stream && self.refusing.load(Ordering::Acquire);
        let (span, measured) = match refused {
            true => (None, None),
            false => (call_span(&e), Measured::start(&e)),
        };
        // The push's own call is driven by its answer task.
        let v = match refused {
            true => Value::Promise(Stub::broken(RpcError::new(
                crate::error::NOT_RUN,
                "the server is shutting down: this call was not run",
            ))),
            false => self.evaluate_driving(e, |v| matches!(v, Value::Promise(_)))?,
        };
        let (mut stub, local) = match v {
            // A call just made is ours alone to run.
            Value::Promise(s) => {
                let local = s.downcast::<PromiseHook>().is_some() && Arc::strong_count(&s.0) == 1;
                (s, local)
            }
            Value::Stub(s) => (s, false),
            other => (Stub::resolved(other), true),
        };
        let pushed = Pushed {
            local,
            stream,
            traced: span.is_some(),
            full: self.full(),
        };
        let settled = (pushed.poll_now()).then(|| poll_once(&mut stub)).flatten();
        let mut st = self.lock();
        if st.aborted.is_some() {
            // After an abort nothing joins the tables (it could hold the core in a cycle).
            drop(st);
            return Ok(());
        }
        // Checked here, under the lock taken anyway: over the limit, the session aborts.
        st.check_export_room(self.limits.max_exports)?;
        let (answer, held, resolution) = match (pushed.start(settled.is_some()), settled) {
            (Start::Settled, Some(settled)) => {
                let owned = match settled {
                    Settled::InStub => None,
                    Settled::Owned(result) => Some(result),
                };
                let held = read_settled(&stub, owned.as_ref(), |result| {
                    log_failure(result);
                    if let Some(m) = measured.as_ref() {
                        m.done(result.is_ok());
                    }
                    answer_size(result)
                })
                .unwrap_or(0);
                if let Err(over) = st.hold(held, self.limits.max_answer_bytes) {
                    if let Some(result) = owned {
                        discard(&mut st.trash_values, result);
                    }
                    return Err(over.into());
                }
                (Answer::Settled(owned), held, None)
            }
            (Start::Running { local, pulled }, _) => {
                if local {
                    // Cancelled if the session ends first, and driven by its task.
                    PromiseHook::driven_by_session(&stub);
                    st.track_call(&stub);
                }
                if pulled {
                    st.pending_pulls += 1;
                }
                st.running += 1;
                self.pending_calls.fetch_add(1, Ordering::Relaxed);
                let resolution = stub.0.clone().resolve();
                (Answer::Running { pulled }, 0, Some(resolution))
            }
            (Start::Idle | Start::Settled, _) => (Answer::Idle, 0, None),
        };
        let mut entry = ExportEntry::new(stub, answer);
        entry.auto_release = stream;
        entry.held = held;
        let id = st.exports.push_peer(entry);
        if let Some(resolution) = resolution {
            let task = self.answer_task(id, resolution, measured);
            st.tasks.push(match span {
                Some(span) => Box::pin(traced(task, span)),
                None => task,
            });
        }
        Ok(())
    }

    /// The task that computes export `id`'s resolution and sends it if pulled.
    pub(super) fn answer_task(
        self: &Arc<Self>,
        id: i64,
        fut: Resolution,
        measured: Option<Measured>,
    ) -> BoxFuture<()> {
        let core = Arc::downgrade(self);
        Box::pin(async move {
            let result = fut.await;
            if let Some(m) = measured {
                m.done(result.is_ok());
            }
            if let Some(core) = core.upgrade() {
                core.settle_export(id, result);
            }
        })
    }

    pub(super) fn settle_export(self: &Arc<Self>, id: i64, result: Result<Value, RpcError>) {
        log_failure(&result);
        let mut st = self.lock();
        let Some(entry) = st.exports.get_mut(id) else {
            return discard(&mut st.trash_values, result);
        };
        // A local call's result stays in its stub for pipelining until the export goes: held
        // for the peer even once sent. Any other result is held only until sent.
        let in_stub = entry.stub.0.with_settled(&mut |_| {});
        let pulled = matches!(entry.answer, Answer::Running { pulled: true });
        let size = if in_stub || !pulled {
            answer_size(&result)
        } else {
            0
        };
        if let Err(over) = st.hold(size, self.limits.max_answer_bytes) {
            discard(&mut st.trash_values, result);
            drop(st);
            return self.abort(RpcError::Protocol(over), true);
        }
        let Some(entry) = st.exports.get_mut(id) else {
            unreachable!("present above, under the same lock");
        };
        entry.held = size;
        let running = matches!(entry.answer, Answer::Running { .. });
        if pulled {
            entry.answer = Answer::Sent;
            self.send_answer(&mut st, id, &result);
            discard(&mut st.trash_values, result);
        } else if in_stub {
            entry.answer = Answer::Settled(None);
            discard(&mut st.trash_values, result);
        } else {
            entry.answer = Answer::Settled(Some(result));
        }
        if running {
            st.call_done();
        }
    }

    pub(super) fn send_answer(
        self: &Arc<Self>,
        st: &mut State,
        id: i64,
        result: &Result<Value, RpcError>,
    ) {
        st.pull_done();
        let mut text = st.outbox.scratch();
        let written = match result {
            Ok(v) => {
                compose::resolve(&mut text, id);
                write_value(&mut text, v, &mut SessionExporter::answering(st, self, id))
                    .map_err(RpcError::Protocol)
            }
            Err(e) => Err(e.clone()),
        };
        if let Err(error) = written {
            text.clear();
            compose::reject(&mut text, id);
            let _ = write_value(
                &mut text,
                &Value::Error(Box::new(self.outgoing_error(&error))),
                &mut wire::NoExporter,
            );
        }
        compose::end(&mut text);
        st.outbox.push_scratch(text);
        // A `stream` call's export goes once it is answered.
        if st.exports.get(id).is_some_and(|e| e.auto_release) {
            release_export(st, id, 1);
        }
    }

    pub(super) fn on_pull(self: &Arc<Self>, id: i64) -> Result<(), RpcError> {
        let mut st = self.lock();
        let entry = st.exports.get_mut(id).ok_or_else(|| {
            RpcError::Protocol(WireError::message(
                "pull",
                format!("no such export ID: {id}"),
            ))
        })?;
        match std::mem::replace(&mut entry.answer, Answer::Sent) {
            Answer::Settled(Some(result)) => {
                // Kept by the export alone: it goes once sent.
                let held = std::mem::take(&mut entry.held);
                st.let_go(held);
                st.pending_pulls += 1;
                self.send_answer(&mut st, id, &result);
                discard(&mut st.trash_values, result);
            }
            Answer::Settled(None) => {
                // Read where the stub keeps it (for pipelining, until released): not copied.
                let stub = entry.stub.clone();
                st.pending_pulls += 1;
                stub.0
                    .with_settled(&mut |result| self.send_answer(&mut st, id, result));
                st.trash.push(stub);
            }
            Answer::Idle => match entry.stub.0.settled_value() {
                // Settled already (pipelining on an earlier value): answered now, so that a
                // read burst sees what it queues (see the driver's `BURST_OUTPUT`).
                Some(result) => {
                    st.pending_pulls += 1;
                    self.send_answer(&mut st, id, &result);
                    discard(&mut st.trash_values, result);
                }
                None => {
                    entry.answer = Answer::Running { pulled: true };
                    let task = self.answer_task(id, entry.stub.0.clone().resolve(), None);
                    st.tasks.push(task);
                    st.pending_pulls += 1;
                    st.running += 1;
                }
            },
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

    pub(super) fn on_release(self: &Arc<Self>, id: i64, n: u64) -> Result<(), RpcError> {
        let mut st = self.lock();
        let entry = st.exports.get(id).ok_or_else(|| {
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

    pub(super) fn settle_import(self: &Arc<Self>, id: i64, result: Result<Value, RpcError>) {
        if matches!(&result, Err(RpcError::Remote(e)) if e.name == crate::error::NOT_RUN) {
            self.peer_refusing.store(true, Ordering::Relaxed);
        }
        let mut st = self.lock();
        let aborted = st.aborted.is_some();
        // After an abort a resolution is not kept: it could hold the core in a cycle.
        let Some(entry) = st.imports.get_mut(id).filter(|_| !aborted) else {
            return discard(&mut st.trash_values, result);
        };
        if entry.resolution.is_some() {
            return discard(&mut st.trash_values, result);
        }
        if entry.on_settle.is_some() {
            // A `stream` call: answered once, implicitly released by the peer.
            let entry = st.imports.remove(id).expect("present above");
            drop(st);
            if let Some((size, done)) = entry.on_settle {
                done(size, result);
            }
            return;
        }
        let waiters = std::mem::take(&mut entry.waiters);
        entry.resolution = Some(result);
        let refcount = entry.remote_refcount;
        if !entry.released {
            entry.released = true;
            let release = Message::Release {
                import_id: id,
                refcount,
            };
            st.outbox.write(|text| write_message_to(text, &release));
        }
        // Woken by the session task once its read burst is handled.
        waiters.move_into(&mut st.settled_waiters);
    }
}

/// Marks the call's span (the current one, when tracing is on) failed, and logs why.
fn log_failure(result: &Result<Value, RpcError>) {
    if let Err(e) = result {
        let span = tracing::Span::current();
        span.record("otel.status_code", "ERROR");
        span.record("error.type", e.name());
        tracing::debug!(error = %e, "call failed");
    }
}

/// A result ready when first polled.
enum Settled {
    /// Kept by the stub (for pipelining), and read there: a copy would be held twice.
    InStub,
    /// Known only here.
    Owned(Result<Value, RpcError>),
}

/// The result of `stub` if it is ready when first polled.
fn poll_once(stub: &mut Stub) -> Option<Settled> {
    // A call just made has no other handle: polled in place, with no locking, its result
    // left where it is.
    if let Some(polled) = Arc::get_mut(&mut stub.0).and_then(|hook| hook.poll_unique()) {
        return polled.is_ready().then_some(Settled::InStub);
    }
    let mut resolution = stub.0.clone().resolve();
    // A later poll (the answer task's) registers a real waker if this one finds it pending.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match resolution.poll_unpin(&mut cx) {
        std::task::Poll::Ready(_) if stub.0.with_settled(&mut |_| {}) => Some(Settled::InStub),
        std::task::Poll::Ready(result) => Some(Settled::Owned(result)),
        std::task::Poll::Pending => None,
    }
}

/// A pushed call being timed for the `metrics` facade (only with that feature).
pub(super) struct Measured {
    method: String,
    start: crate::session::Instant,
}

impl Measured {
    fn start(e: &Expr) -> Option<Measured> {
        if !super::super::metrics_facade::MEASURING {
            return None;
        }
        Some(Measured {
            method: call_method(e)?,
            start: crate::session::Instant::now(),
        })
    }

    fn done(&self, ok: bool) {
        super::super::metrics_facade::call_done(&self.method, ok, self.start.elapsed());
    }
}

/// The method a pushed call calls (its path, joined with dots), if it is a call.
fn call_method(e: &Expr) -> Option<String> {
    let (Expr::Pipeline(call) | Expr::Import(call)) = e else {
        return None;
    };
    call.args.as_ref()?;
    let method: Vec<_> = call.path.iter().flatten().map(|k| k.to_name()).collect();
    Some(method.join("."))
}

/// A `capnweb.call` span for a pushed call, when tracing at `INFO` is on: the server side of
/// the call, with OpenTelemetry's RPC field names (`otel.name` is `capnweb/<method>`).
fn call_span(e: &Expr) -> Option<tracing::Span> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return None;
    }
    let method = call_method(e)?;
    Some(tracing::info_span!(
        "capnweb.call",
        otel.name = %format_args!("capnweb/{method}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "capnweb",
        rpc.method = %method,
        error.type = tracing::field::Empty,
    ))
}

/// Runs an answer task in its call's span, and records how long it took and how it ended.
async fn traced(task: BoxFuture<()>, span: tracing::Span) {
    use tracing::Instrument;
    let start = crate::session::Instant::now();
    task.instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(micros = start.elapsed().as_micros() as u64, "call done"));
}
