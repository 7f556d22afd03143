//! The session's side of encoding and decoding values: capabilities in an outgoing value get
//! ids on the export table (and readable streams a pipe), ids in an incoming expression are
//! looked up on the tables.

use std::sync::Arc;

use super::{Answer, Core, ExportEntry, ImportEntry, State};
use crate::error::RpcError;
use crate::session::import::{ImportHook, OwningMain};
use crate::stream::ReadableStream;
use crate::stub::eval::Importer;
use crate::stub::{PromiseHook, Stub};
use crate::value::Value;
use crate::wire::{Exporter, WireError, WireRef};

/// Assigns ids to the capabilities in an outgoing value.
pub(super) struct SessionExporter<'a> {
    pub(super) st: &'a mut State,
    pub(super) core: &'a Arc<Core>,
    /// The export whose resolution is being written, if one is: the promises in it are
    /// nested one deeper than it (looked up only when one is exported).
    answering: Option<i64>,
}

/// How deep promises may be exported in one another's resolutions. A promise whose value holds
/// itself (which a peer can arrange) would otherwise be exported anew in each resolution, a new
/// export and message each time, without end.
const MAX_PROMISE_NESTING: u8 = 64;

impl<'a> SessionExporter<'a> {
    /// For a message's own values (a call's arguments, a map's captures).
    pub(super) fn new(st: &'a mut State, core: &'a Arc<Core>) -> Self {
        SessionExporter {
            st,
            core,
            answering: None,
        }
    }

    /// For the resolution of export `id`.
    pub(super) fn answering(st: &'a mut State, core: &'a Arc<Core>, id: i64) -> Self {
        SessionExporter {
            st,
            core,
            answering: Some(id),
        }
    }

    /// A new export needs room: the peer holds at most `max_exports` of ours at once.
    fn check_room(&self) -> Result<(), WireError> {
        self.st.check_export_room(self.core.limits.max_exports)
    }
}

impl Exporter for SessionExporter<'_> {
    fn pipe(&mut self, stream: &ReadableStream) -> Result<i64, WireError> {
        let source = stream.take().ok_or_else(|| {
            WireError::Unserializable("a ReadableStream that was already sent or read".into())
        })?;
        Ok(self.open_pipe(source))
    }

    fn export(&mut self, stub: &Stub, promise: bool) -> Result<WireRef, WireError> {
        self.export_following(stub, promise, 0)
    }
}

/// How many settled imports an export follows to what they resolved to: a peer can make an
/// import resolve to itself, or a cycle.
const MAX_HOPS: usize = 64;

impl SessionExporter<'_> {
    fn export_following(
        &mut self,
        stub: &Stub,
        promise: bool,
        hops: usize,
    ) -> Result<WireRef, WireError> {
        if hops > MAX_HOPS {
            return Err(WireError::Unserializable(
                "a promise that resolves to itself".into(),
            ));
        }
        if let Some(owning) = stub.downcast::<OwningMain>() {
            let inner = owning.inner.clone();
            return self.export_following(&inner, promise, hops + 1);
        }
        // A unit of work's handle goes as what it wraps: its own session's import stays one.
        #[cfg(feature = "client")]
        if let Some(logged) = stub.downcast::<crate::session::logged::LoggedHook>() {
            let inner = logged.inner.clone();
            return self.export_following(&inner, promise, hops + 1);
        }
        if let Some(import) = stub.downcast::<ImportHook>() {
            if Arc::ptr_eq(&import.core, self.core) {
                let entry = self.st.imports.get(import.id);
                match entry.map(|e| (&e.resolution, e.released)) {
                    Some((_, false)) => {
                        return Ok(if promise || import.promise {
                            WireRef::Pipeline(import.id, Vec::new())
                        } else {
                            WireRef::Import(import.id)
                        })
                    }
                    // A promise it settled to goes as the import's one resolution export
                    // below: followed afresh each time, a promise whose value holds the
                    // import would be exported anew without end.
                    Some((Some(Ok(Value::Stub(s))), true)) => {
                        let s = s.clone();
                        return self.export_following(&s, promise, hops + 1);
                    }
                    Some((Some(Ok(Value::Writable(w))), true)) => {
                        let s = w.stub().clone();
                        return self.export_following(&s, promise, hops + 1);
                    }
                    Some((Some(result), true)) => {
                        let (result, id) = (result.clone(), import.id);
                        return self.export_resolution(id, result);
                    }
                    _ => {
                        return Err(WireError::Unserializable(
                            "stub of a released import".into(),
                        ))
                    }
                }
            }
        }
        if promise || stub.is_promise() {
            let depth = self
                .answering
                .and_then(|id| self.st.exports.get(id))
                .map_or(0, |e| e.depth.saturating_add(1));
            if depth >= MAX_PROMISE_NESTING {
                return Err(WireError::Unserializable(format!(
                    "promises nested in one another's resolutions more than \
                     {MAX_PROMISE_NESTING} deep (a promise whose value holds itself?)"
                )));
            }
            self.check_room()?;
            let st = &mut *self.st;
            let mut entry = ExportEntry::new(stub.clone(), Answer::Running { pulled: true });
            entry.depth = depth;
            let id = st.exports.push(entry);
            st.pending_pulls += 1;
            st.running += 1;
            let task = self.core.answer_task(id, stub.0.clone().resolve(), None);
            st.tasks.push(task);
            return Ok(WireRef::Promise(id));
        }
        if let Some(&id) = self.st.reverse.get(&stub.key()) {
            if let Some(e) = self.st.exports.get_mut(id) {
                e.refcount += 1;
                return Ok(WireRef::Export(id));
            }
        }
        self.check_room()?;
        let st = &mut *self.st;
        let id = (st.exports).push(ExportEntry::new(stub.clone(), Answer::Idle));
        st.reverse.insert(stub.key(), id);
        Ok(WireRef::Export(id))
    }
}

impl SessionExporter<'_> {
    /// Exports what released import `id` settled to, as a promise: the same export each time,
    /// so that a resolution containing the import itself does not make a new one per answer.
    fn export_resolution(
        &mut self,
        id: i64,
        result: Result<Value, RpcError>,
    ) -> Result<WireRef, WireError> {
        let known = self.st.imports.get(id).and_then(|e| e.resolution_export);
        if let Some(e) = known.and_then(|export| self.st.exports.get_mut(export)) {
            e.refcount += 1;
            return Ok(WireRef::Promise(known.expect("found above")));
        }
        let exported = self.export_following(&PromiseHook::ready(result), true, 0)?;
        if let (WireRef::Promise(export), Some(e)) = (&exported, self.st.imports.get_mut(id)) {
            e.resolution_export = Some(*export);
        }
        Ok(exported)
    }
}

/// Resolves ids in an incoming expression against the session's tables.
pub(super) struct SessionImporter<'a> {
    pub(super) core: &'a Arc<Core>,
    pub(super) started: Started,
}

/// The local calls an expression started, in order. Usually one, the push's own call (started
/// last, after its arguments), kept apart so that it needs no allocation.
#[derive(Default)]
pub(super) struct Started {
    earlier: Vec<Stub>,
    last: Option<Stub>,
}

impl Started {
    fn push(&mut self, call: Stub) {
        if let Some(previous) = self.last.replace(call) {
            self.earlier.push(previous);
        }
    }

    /// Forgets `call` if it was started.
    pub(super) fn remove(&mut self, call: &Stub) {
        if self.last.as_ref().is_some_and(|s| s.same(call)) {
            self.last = self.earlier.pop();
        } else {
            self.earlier.retain(|s| !s.same(call));
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    pub(super) fn calls(self) -> impl Iterator<Item = Stub> {
        self.earlier.into_iter().chain(self.last)
    }
}

impl SessionImporter<'_> {
    /// A handle on import `id`, whose entry already counts it.
    fn handle(&self, id: i64, promise: bool) -> Stub {
        Stub::from_hook(ImportHook {
            core: self.core.clone(),
            id,
            promise,
        })
    }
}

/// Positive import ids are the answers to our own pushes, allocated in order: one not allocated
/// yet cannot be referred to (it would collide with the entry our next push makes).
fn check_not_ours(st: &State, id: i64) -> Result<(), RpcError> {
    if st.imports.is_future(id) {
        return Err(RpcError::Protocol(WireError::MalformedExpression {
            kind: "export".into(),
            detail: format!("no such export ID yet: {id}"),
        }));
    }
    Ok(())
}

/// A new entry for import `id`, the peer's export, with one local handle.
fn new_import(st: &mut State, id: i64, pulled: bool) {
    st.imports.insert(id, ImportEntry::held(pulled));
}

impl Importer for SessionImporter<'_> {
    fn import_stub(&mut self, id: i64) -> Result<Stub, RpcError> {
        let mut st = self.core.lock();
        check_not_ours(&st, id)?;
        match st.imports.get_mut(id) {
            Some(e) => {
                e.remote_refcount += 1;
                e.local_refs += 1;
            }
            None => new_import(&mut st, id, false),
        }
        drop(st);
        Ok(self.handle(id, false))
    }

    fn import_promise(&mut self, id: i64) -> Result<Stub, RpcError> {
        let mut st = self.core.lock();
        check_not_ours(&st, id)?;
        if st.imports.contains_key(id) {
            return Ok(Stub::broken(RpcError::error(
                "Bug in RPC system: The peer sent a promise reusing an existing export ID.",
            )));
        }
        new_import(&mut st, id, true);
        drop(st);
        Ok(self.handle(id, true))
    }

    fn get_export(&mut self, id: i64) -> Result<Stub, RpcError> {
        let stub = self
            .core
            .peek(|st| st.exports.get(id).map(|e| e.stub.clone()));
        stub.ok_or_else(|| {
            RpcError::Protocol(WireError::MalformedExpression {
                kind: "import".into(),
                detail: format!("no such entry on exports table: {id}"),
            })
        })
    }

    fn take_pipe(&mut self, id: i64) -> Result<ReadableStream, RpcError> {
        let mut st = self.core.lock();
        st.exports
            .get_mut(id)
            .and_then(|e| e.pipe_readable.take())
            .ok_or_else(|| super::streams::not_a_pipe(id))
    }

    fn max_blob_size(&self) -> usize {
        self.core.limits.max_blob_size
    }

    fn max_map_applications(&self) -> usize {
        self.core.limits.max_map_applications
    }

    fn map_bytes(&self) -> Arc<dyn crate::stub::map::MapBytes> {
        self.core.map_bytes.clone()
    }

    fn started(&mut self, call: &Stub) {
        if call.downcast::<PromiseHook>().is_some() {
            self.started.push(call.clone());
        }
    }
}
