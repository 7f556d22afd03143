//! Calls on the peer's objects: `push` (calls and property reads), `remap`, `pull` when a result
//! is awaited, `release` when the last handle goes.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::codec::SessionExporter;
use super::{discard, not_delivered, Core, ImportEntry};
use crate::error::RpcError;
use crate::session::import::ImportHook;
use crate::stub::Stub;
use crate::value::Value;
use crate::wire::{self, write_message_to, Exporter, Expr, Message, WireRef};

impl Core {
    /// Sends `["push", ["pipeline", id, path, args?]]` and returns the promise for its result.
    pub(crate) fn send_call(
        self: &Arc<Self>,
        id: i64,
        path: &[wire::PathKey],
        args: Option<Vec<Value>>,
    ) -> Stub {
        let mut st = self.lock();
        if let Some(reason) = &st.aborted {
            return Stub::broken(not_delivered(reason));
        }
        if let Some(settled) = st.settled(id) {
            drop(st);
            return match args {
                Some(args) => settled.0.call(path, args),
                None => settled.0.get(path),
            };
        }
        let mut text = st.outbox.scratch();
        crate::session::run_log::sent();
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
        st.outbox.push_scratch(text);
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
        if let Some(reason) = &st.aborted {
            let reason = not_delivered(reason);
            drop(st);
            drop(captures);
            return Stub::broken(reason);
        }
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
        let remap = Expr::Remap(Box::new(wire::RemapExpr {
            id,
            path: path.to_vec(),
            captures: caps,
            instructions: instructions.to_vec(),
        }));
        crate::session::run_log::sent();
        st.outbox
            .write(|text| write_message_to(text, &Message::Push(remap)));
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

    /// One local handle on import `id` was dropped.
    pub(crate) fn drop_import(self: &Arc<Self>, id: i64) {
        let mut st = self.lock();
        let Some(entry) = st.imports.get_mut(&id) else {
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
        let entry = st.imports.remove(&id).expect("present above");
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
        cx: &mut Context<'_>,
    ) -> Poll<Result<Value, RpcError>> {
        let mut st = self.lock();
        let aborted = st.aborted.is_some();
        let Some(entry) = st.imports.get_mut(&id) else {
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
