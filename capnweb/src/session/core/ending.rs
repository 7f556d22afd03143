//! Ending a session: an abort fails what waits and lets go of everything the tables hold,
//! keeping readable what the peer answered with plain data; the end of an HTTP batch's input
//! fails what can no longer be answered.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::task::Waker;

use super::tables::Answer;
use super::{discard, Core, State};
use crate::error::RpcError;
use crate::session::import::ImportHook;
use crate::stub::{PromiseHook, StreamDone, Stub};
use crate::value::Value;
use crate::wire::{self, write_value};

impl Core {
    /// Ends the session: every pending call fails with `reason`, every export is released.
    pub(crate) fn abort(self: &Arc<Self>, reason: RpcError, notify_peer: bool) {
        let mut st = self.lock();
        if st.aborted.is_some() {
            return;
        }
        if notify_peer {
            let err = self.outgoing_error(&reason);
            let told = err.message.clone();
            let err = Value::Error(Box::new(err));
            let mut written = false;
            st.outbox.write(|text| {
                wire::compose::abort(text);
                written = write_value(text, &err, &mut wire::NoExporter).is_ok();
                wire::compose::end(text);
            });
            // An error that could not be written told the peer nothing: no reason, then.
            st.abort_told = Some(if written { told } else { String::new() });
        }
        st.aborted = Some(reason.clone());
        let mut waiters = std::mem::take(&mut st.settled_waiters);
        let streams = st.fail_waiting_imports(&reason, &mut waiters);
        let State {
            imports,
            exports,
            trash,
            trash_values,
            calls,
            ..
        } = &mut *st;
        // Promises the peer sent inside a resolution and has answered since with plain data
        // are replaced by that data first. The reference answers a map so (its elements' calls
        // as promises, resolved further down the same HTTP batch response, which ends in this
        // abort): such a resolution then holds no handle, and stays readable as it would have
        // been had it been awaited before the end.
        let held = imports
            .values()
            .any(|e| e.resolution.as_ref().is_some_and(holds_handles));
        // The copies this makes are bounded as answers held are (`max_answer_bytes`).
        let mut room = self.limits.max_answer_bytes;
        let mut settled: HashMap<i64, Value> = HashMap::new();
        if held {
            for (id, e) in imports.iter() {
                let Some(result @ Ok(v)) = &e.resolution else {
                    continue;
                };
                let size = v.held_bytes();
                if !holds_handles(result) && size <= room {
                    room -= size;
                    settled.insert(id, v.clone());
                }
            }
        }
        for entry in imports.values_mut() {
            if let Some(Ok(v)) = &mut entry.resolution {
                if !settled.is_empty() {
                    substitute_settled(self, v, &settled, trash, &mut room);
                }
            }
            // A resolution that holds handles (stubs, streams) may hold this session's own
            // imports: a cycle through the core that would never be freed. Those handles are
            // dead now anyway; the resolution becomes the reason. Plain data stays readable.
            if entry.resolution.as_ref().is_some_and(holds_handles) {
                if let Some(old) = entry.resolution.replace(Err(reason.clone())) {
                    discard(trash_values, old);
                }
            }
        }
        for (_, e) in exports.drain() {
            if e.stub.downcast::<PromiseHook>().is_some() {
                calls.push(Arc::downgrade(&e.stub.0));
            }
            trash.push(e.stub);
            if let Answer::Settled(Some(result)) = e.answer {
                discard(trash_values, result);
            }
        }
        st.reverse.clear();
        st.pending_pulls = 0;
        st.running = 0;
        st.idle_changed();
        let held = st.answer_bytes;
        st.let_go(held);
        let calls = std::mem::take(&mut st.calls);
        drop(st);
        // Unlocked: a cancelled call drops what it held, which may take the lock.
        for call in calls.iter().filter_map(Weak::upgrade) {
            if let Some(promise) = call.as_any().downcast_ref::<PromiseHook>() {
                promise.cancel(&reason);
            }
        }
        waiters.into_iter().for_each(Waker::wake);
        for (size, done) in streams {
            done(size, Err(reason.clone()));
        }
        self.end.end(reason);
        self.task.now();
    }

    /// The peer can send nothing more (an HTTP batch whose every message was read): every
    /// import still waiting for its answer fails with `reason`, and every pipe it opened is
    /// aborted with it, so that nothing waits for what cannot come.
    pub(crate) fn end_of_input(self: &Arc<Self>, reason: &RpcError) {
        let mut st = self.lock();
        let pipes: Vec<Stub> = (st.exports.values())
            .filter(|e| e.peer_pipe)
            .map(|e| e.stub.clone())
            .collect();
        let mut waiters = Vec::new();
        let streams = st.fail_waiting_imports(reason, &mut waiters);
        drop(st);
        waiters.into_iter().for_each(Waker::wake);
        for (size, done) in streams {
            done(size, Err(reason.clone()));
        }
        let abort = [crate::wire::PathKey::Name("abort".into())];
        for pipe in pipes {
            let reason = Value::Error(Box::new(reason.to_value()));
            drop(pipe.0.call(&abort, vec![reason]));
        }
    }
}

impl State {
    /// Fails every import still waiting for the peer's answer with `reason`. Their waiters go
    /// to `waiters`, and the `stream` calls among them are returned: both to be woken and called
    /// once unlocked.
    fn fail_waiting_imports(
        &mut self,
        reason: &RpcError,
        waiters: &mut Vec<Waker>,
    ) -> Vec<(usize, StreamDone)> {
        let mut streams = Vec::new();
        for entry in self.imports.values_mut() {
            if entry.resolution.is_none() {
                std::mem::take(&mut entry.waiters).move_into(waiters);
                streams.extend(entry.on_settle.take());
                entry.resolution = Some(Err(reason.clone()));
            }
        }
        streams
    }
}

/// Replaces each promise in `v` on one of `core`'s imports that `settled` holds plain data for
/// with that data (see `Core::abort`). The promises taken out go to `trash`, dropped once the
/// lock is released (dropping an import takes it).
fn substitute_settled(
    core: &Arc<Core>,
    v: &mut Value,
    settled: &HashMap<i64, Value>,
    trash: &mut Vec<Stub>,
    room: &mut usize,
) {
    let plain = match &*v {
        Value::Promise(s) => s
            .downcast::<ImportHook>()
            .filter(|import| Arc::ptr_eq(&import.core, core))
            .and_then(|import| settled.get(&import.id))
            .filter(|plain| plain.held_bytes() <= *room)
            .cloned(),
        _ => None,
    };
    if let Some(plain) = &plain {
        *room -= plain.held_bytes();
    }
    if let Some(plain) = plain {
        if let Value::Promise(stub) = std::mem::replace(v, plain) {
            trash.push(stub);
        }
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                substitute_settled(core, item, settled, trash, room);
            }
        }
        Value::Object(fields) => {
            for item in fields.values_mut() {
                substitute_settled(core, item, settled, trash, room);
            }
        }
        _ => {}
    }
}

/// Whether a resolution holds anything that may refer to a session (a stub, a stream).
fn holds_handles(result: &Result<Value, RpcError>) -> bool {
    fn value(v: &Value) -> bool {
        match v {
            Value::Stub(_) | Value::Promise(_) | Value::Readable(_) | Value::Writable(_) => true,
            Value::Array(items) => items.iter().any(value),
            Value::Object(o) => o.values().any(value),
            Value::Error(e) => e.props.values().any(value),
            Value::Request(r) => init(&r.1),
            Value::Response(r) => value(&r.0) || init(&r.1),
            _ => false,
        }
    }
    fn init(i: &crate::value::OpaqueInit) -> bool {
        i.fields.iter().any(|(_, v)| value(v)) || i.body.as_ref().is_some_and(value)
    }
    match result {
        Ok(v) => value(v),
        Err(RpcError::Remote(e)) => e.props.values().any(value),
        Err(_) => false,
    }
}
