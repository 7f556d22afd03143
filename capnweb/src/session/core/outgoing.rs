//! Calls on the peer's objects: `push` (calls and property reads), `remap`, `pull` when a result
//! is awaited, `release` when the last handle goes.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::codec::SessionExporter;
use super::{discard, not_delivered, Core, Guard, ImportEntry, Outbox, State};
use crate::error::RpcError;
use crate::session::import::ImportHook;
use crate::session::run_log;
use crate::stub::Stub;
use crate::value::Value;
use crate::wire::{self, write_message_to, Exporter, Expr, Message, WireRef};

/// What a message sent by [`State::send`] is, for the retry record (`run_log`).
#[derive(Clone, Copy)]
pub(super) enum Sent {
    /// A call or a map: idempotent if the call is marked so.
    Call,
    /// A write into the peer's stream: never idempotent.
    Stream,
}

impl Core {
    /// The state, to send a push or a stream on: refused, as not delivered, once the session
    /// has ended.
    pub(super) fn lock_to_send(self: &Arc<Self>) -> Result<Guard<'_>, RpcError> {
        let st = self.lock();
        match &st.aborted {
            Some(reason) => Err(not_delivered(reason)),
            None => Ok(st),
        }
    }

    /// A promise on import `id`, the answer to a call just sent.
    fn answer_promise(self: &Arc<Self>, id: i64) -> Stub {
        Stub::from_hook(ImportHook {
            core: self.clone(),
            id,
            promise: true,
        })
    }
}

impl State {
    /// Sends a push or a stream message, which `queue` writes into the outbox: writes it in
    /// the run log of the unit of work sending it (the resilient client then knows it may have
    /// been delivered), and adds `answer`, the import standing for its answer, at the id the
    /// peer gives it too. The one way a call goes to the peer.
    pub(super) fn send(
        &mut self,
        queue: impl FnOnce(&mut Outbox),
        sent: Sent,
        answer: ImportEntry,
    ) -> i64 {
        queue(&mut self.outbox);
        match sent {
            Sent::Call => run_log::sent(),
            Sent::Stream => run_log::streamed(),
        }
        self.imports.push(answer)
    }
}

impl Core {
    /// Sends `["push", ["pipeline", id, path, args?]]` and returns the promise for its result.
    pub(crate) fn send_call(
        self: &Arc<Self>,
        id: i64,
        path: &[wire::PathKey],
        args: Option<Vec<Value>>,
    ) -> Stub {
        let mut st = match self.lock_to_send() {
            Ok(st) => st,
            Err(reason) => return Stub::broken(reason),
        };
        if let Some(settled) = st.settled(id) {
            drop(st);
            return match args {
                Some(args) => settled.0.call(path, args),
                None => settled.0.get(path),
            };
        }
        let mut text = st.outbox.scratch();
        wire::compose::call(&mut text, false, id, path);
        if let Some(args) = &args {
            text.push(',');
            if let Err(e) =
                wire::write_args(&mut text, args, &mut SessionExporter::new(&mut st, self))
            {
                return Stub::broken(RpcError::Protocol(e));
            }
        }
        wire::compose::call_end(&mut text);
        let queue = |outbox: &mut Outbox| outbox.push_scratch(text);
        let answer = st.send(queue, Sent::Call, ImportEntry::held(false));
        drop(st);
        self.answer_promise(answer)
    }

    /// Sends `["push", ["remap", ...]]`.
    pub(crate) fn send_map(
        self: &Arc<Self>,
        id: i64,
        path: &[wire::PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        let mut st = match self.lock_to_send() {
            Ok(st) => st,
            Err(reason) => {
                drop(captures);
                return Stub::broken(reason);
            }
        };
        if let Some(settled) = st.settled(id) {
            drop(st);
            return settled.0.map(path, captures, instructions);
        }
        let mut caps = Vec::with_capacity(captures.len());
        for c in &captures {
            caps.push(
                match (SessionExporter::new(&mut st, self)).export(c, false) {
                    Ok(WireRef::Import(i) | WireRef::Pipeline(i, _)) => wire::Capture::Import(i),
                    Ok(WireRef::Export(i) | WireRef::Promise(i)) => wire::Capture::Export(i),
                    Err(e) => return Stub::broken(RpcError::Protocol(e)),
                },
            );
        }
        let remap = Message::Push(Expr::Remap(Box::new(wire::RemapExpr {
            id,
            path: path.to_vec(),
            captures: caps,
            instructions: instructions.to_vec(),
        })));
        let queue = |outbox: &mut Outbox| outbox.write(|text| write_message_to(text, &remap));
        let answer = st.send(queue, Sent::Call, ImportEntry::held(false));
        st.trash.extend(captures);
        drop(st);
        self.answer_promise(answer)
    }

    /// One local handle on import `id` was dropped.
    pub(crate) fn drop_import(self: &Arc<Self>, id: i64) {
        let mut st = self.lock();
        let Some(entry) = st.imports.get_mut(id) else {
            return;
        };
        entry.local_refs = entry.local_refs.saturating_sub(1);
        if entry.local_refs > 0 {
            return;
        }
        if id == 0 {
            // The peer's main object stays importable for as long as the session lives.
            return;
        }
        let entry = st.imports.remove(id).expect("present above");
        if !entry.released && st.aborted.is_none() {
            let release = Message::Release {
                import_id: id,
                refcount: entry.remote_refcount,
            };
            st.outbox.write(|text| write_message_to(text, &release));
        }
        if let Some(result) = entry.resolution {
            discard(&mut st.trash_values, result);
        }
    }
}

impl Core {
    /// Polls for import `id`'s resolution by looking at its table entry when woken (no channel
    /// per call): `settle_import` and `abort` wake the entry's waiters. The first poll asks the
    /// peer for the resolution (once). The caller's hook keeps the import alive until then.
    pub(crate) fn poll_import(
        self: &Arc<Self>,
        id: i64,
        cx: &Context<'_>,
    ) -> Poll<Result<Value, RpcError>> {
        let mut st = self.lock();
        let aborted = st.aborted.is_some();
        let Some(entry) = st.imports.get_mut(id) else {
            let reason = st.aborted.clone();
            return Poll::Ready(Err(
                reason.unwrap_or_else(|| RpcError::disconnected("import released"))
            ));
        };
        if let Some(r) = &entry.resolution {
            return Poll::Ready(r.clone());
        }
        if aborted {
            return Poll::Ready(Err(st.aborted.clone().expect("aborted above")));
        }
        entry.waiters.register(cx.waker());
        if !entry.pulled {
            entry.pulled = true;
            let pull = Message::Pull { import_id: id };
            st.outbox.write(|text| write_message_to(text, &pull));
        }
        Poll::Pending
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;
    use crate::session::run_log::{idempotent, through, RunLog};
    use crate::wire::{Limits, PathKey};

    type Send = fn(&Arc<Core>);

    fn call(core: &Arc<Core>) {
        drop(core.send_call(0, &[PathKey::Name("f".into())], Some(vec![])));
    }

    fn map(core: &Arc<Core>) {
        drop(core.send_map(0, &[], Vec::new(), Arc::from(Vec::new())));
    }

    fn stream(core: &Arc<Core>) {
        let done = Box::new(|_, _| {});
        let _ = core.send_stream(0, "write", vec![Value::Null], done);
    }

    fn sends(core: &Arc<Core>, send: Send, marked: bool) -> RunLog {
        let log = Arc::new(RunLog::default());
        through(&log, || match marked {
            true => idempotent(|| send(core)),
            false => send(core),
        });
        Arc::into_inner(log).expect("no other handle")
    }

    #[test]
    fn a_call_a_map_and_a_stream_each_count_for_the_retry_record() {
        let core = Core::new(
            Stub::resolved(Value::Null),
            Limits::default(),
            8,
            None,
            None,
        );
        let all: [(&str, Send, bool); 3] = [
            ("call", call, true),
            ("map", map, true),
            ("stream", stream, false),
        ];
        for (what, send, may_be_idempotent) in all {
            let log = sends(&core, send, false);
            assert!(!log.safe_to_repeat(), "a {what} sent was not counted");
            let log = sends(&core, send, true);
            assert_eq!(
                log.safe_to_repeat(),
                may_be_idempotent,
                "a {what} marked idempotent"
            );
        }
        // What the session refuses to send is not counted.
        core.abort(RpcError::disconnected("ended"), false);
        for (what, send, _) in all {
            assert!(
                sends(&core, send, false).safe_to_repeat(),
                "a {what} refused was counted"
            );
        }
    }
}
