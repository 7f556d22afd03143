//! The one task that runs a session: reads messages, runs the calls they start, and writes
//! answers in batches (feed every waiting message, flush once).

use std::sync::Arc;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, SinkExt, StreamExt};

use super::core::Core;
use crate::error::RpcError;
use crate::transport::Transport;

/// How many ready incoming messages are handled before answers are written.
const READ_BURST: usize = 256;

pub(crate) async fn run(core: Arc<Core>, mut transport: impl Transport) {
    let mut tasks = FuturesUnordered::new();
    let mut reading = true;
    loop {
        // Run whatever is ready, then write everything it produced with one flush.
        loop {
            let (out, new_tasks, aborted) = core.take_work();
            let mut progressed = !new_tasks.is_empty();
            tasks.extend(new_tasks);
            while let Some(Some(())) = tasks.next().now_or_never() {
                progressed = true;
            }
            let wrote = !out.is_empty();
            for msg in out {
                if let Err(e) = transport.feed(msg).await {
                    core.abort(RpcError::disconnected(e.0), false);
                    return;
                }
            }
            if wrote {
                if let Err(e) = transport.flush().await {
                    core.abort(RpcError::disconnected(e.0), false);
                    return;
                }
            }
            if aborted {
                let _ = transport.close().await;
                return;
            }
            if !wrote && !progressed {
                break;
            }
        }

        tokio::select! {
            msg = transport.next(), if reading => {
                reading = on_message(&core, msg);
                for _ in 0..READ_BURST {
                    if !reading { break; }
                    match transport.next().now_or_never() {
                        Some(msg) => reading = on_message(&core, msg),
                        None => break,
                    }
                }
            }
            Some(()) = tasks.next(), if !tasks.is_empty() => {}
            _ = core.wake.notified() => {}
        }
    }
}

/// Handles one read; returns whether to keep reading.
fn on_message(
    core: &Arc<Core>,
    msg: Option<Result<String, crate::transport::TransportError>>,
) -> bool {
    match msg {
        Some(Ok(text)) => {
            if let Err(e) = core.handle(&text) {
                tracing::debug!(error = %e, "aborting session: bad message from peer");
                core.abort(e, true);
                return false;
            }
            true
        }
        Some(Err(e)) => {
            core.abort(RpcError::disconnected(e.0), false);
            false
        }
        None => {
            core.abort(RpcError::disconnected("connection closed by peer"), false);
            false
        }
    }
}
