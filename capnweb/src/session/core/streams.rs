//! Streams in the session: `stream` calls on the peer's writable streams, pipes opened by the
//! peer, and pipes we open to send a readable stream.

use std::sync::Arc;

use futures_util::StreamExt;

use super::codec::SessionExporter;
use super::outgoing::Sent;
use super::{Answer, Core, ExportEntry, ImportEntry};
use crate::error::RpcError;
use crate::session::import::ImportHook;
use crate::stream::{local_pipe, Source, WritableStream};
use crate::stub::{StreamDone, Stub};
use crate::value::Value;
use crate::wire::{self, PathKey, WireError};

impl Core {
    /// Sends `["stream", ["pipeline", id, [method], args]]`: a call whose answer goes to `done`,
    /// with no pull or release. Returns the size of the message.
    pub(crate) fn send_stream(
        self: &Arc<Self>,
        id: i64,
        method: &str,
        args: Vec<Value>,
        done: StreamDone,
    ) -> Result<usize, RpcError> {
        let mut st = self.lock_to_send()?;
        let mut text = st.outbox.scratch();
        wire::compose::call(&mut text, true, id, &[PathKey::Name(method.to_owned())]);
        text.push(',');
        wire::write_args(&mut text, &args, &mut SessionExporter::new(&mut st, self))?;
        wire::compose::call_end(&mut text);
        let size = text.len();
        let mut answer = ImportEntry::new(true);
        answer.released = true;
        answer.on_settle = Some((size, done));
        st.send(|outbox| outbox.push_scratch(text), Sent::Stream, answer);
        st.trash_values.extend(args);
        Ok(size)
    }

    /// `["pipe"]`: the peer opens a pipe; its writable end is the new export, its readable end
    /// waits for a `["readable", id]` expression.
    pub(super) fn on_pipe(self: &Arc<Self>) -> Result<(), RpcError> {
        let mut st = self.lock();
        if st.aborted.is_some() {
            return Ok(());
        }
        st.check_export_room(self.limits.max_exports)?;
        let (writable, readable) = local_pipe(self.limits.max_stream_buffer);
        let mut entry = ExportEntry::new(writable, Answer::Idle);
        entry.pipe_readable = Some(readable);
        entry.peer_pipe = true;
        st.exports.push_peer(entry);
        Ok(())
    }
}

impl SessionExporter<'_> {
    /// Sends `["pipe"]` and starts pumping `chunks` into it; returns the pipe's import id.
    pub(super) fn open_pipe(&mut self, source: Source) -> i64 {
        self.st.outbox.push(wire::compose::PIPE);
        let id = self.st.imports.push(ImportEntry::held(false));
        let pipe = WritableStream::from_stub(Stub::from_hook(ImportHook {
            core: self.core.clone(),
            id,
            promise: false,
        }));
        self.st.tasks.push(Box::pin(pump(source, pipe)));
        id
    }
}

/// Writes every chunk into the pipe, then closes it (or aborts it with the stream's error).
/// If the pipe fails first (its reader cancelled it, or the session ended), the source is
/// told why.
async fn pump(source: Source, pipe: WritableStream) {
    let mut source = Pumped(Some(source));
    let chunks = &mut source.0.as_mut().expect("set above").chunks;
    let failure = loop {
        let chunk = tokio::select! {
            biased;
            reason = pipe.failed() => break reason,
            chunk = chunks.next() => chunk,
        };
        match chunk {
            Some(Ok(v)) => {
                if let Err(reason) = pipe.write(v).await {
                    break reason;
                }
            }
            Some(Err(e)) => {
                source.0 = None;
                return pipe.abort(e);
            }
            None => match pipe.close().await {
                Ok(()) => {
                    source.0 = None;
                    return;
                }
                Err(reason) => break reason,
            },
        }
    };
    if let Some(s) = source.0.take() {
        s.cancel(failure);
    }
}

/// A source being pumped: if the pump goes before it is done (its session's tasks were
/// dropped), the source learns that the session ended.
struct Pumped(Option<Source>);

impl Drop for Pumped {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.cancel(RpcError::disconnected("the session ended"));
        }
    }
}

/// The error for a `["readable", id]` that names no pipe, or one already read.
pub(super) fn not_a_pipe(id: i64) -> RpcError {
    RpcError::Protocol(WireError::MalformedExpression {
        kind: "readable".into(),
        detail: format!("Export {id} is not a pipe or its readable end was already consumed."),
    })
}
