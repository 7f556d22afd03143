//! The supervisor of one pool slot: it opens a session on the first endpoint whose circuit is
//! closed, publishes it, waits for it to end, and starts over after a backoff.

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::{Duration, Instant};

use super::{lock, not_sent, Inner, Live};
use crate::client::breaker::Circuit;
use crate::error::RpcError;
use crate::session::RpcSession;
use crate::stub::Stub;
use crate::transport::websocket::{self, codec, codec::Codec};

/// How a connection attempt failed: whether it counts against the endpoint's circuit.
struct Failed {
    error: RpcError,
    connection_level: bool,
}

/// Keeps pool slot `slot` supplied with a live session until the client goes away.
pub(super) async fn supervise<C: From<Stub> + Clone + Send + Sync + 'static>(
    inner: Weak<Inner<C>>,
    slot: usize,
) {
    let mut attempt: u32 = 0;
    let mut slot_connected = false;
    loop {
        let Some(client) = inner.upgrade() else {
            return;
        };
        if client.closed.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let endpoint = {
            let circuits = client.circuits();
            circuits
                .iter()
                .position(|c| c.allows(now))
                .ok_or_else(|| circuits.iter().filter_map(Circuit::reopens_at).min())
        };
        let endpoint = match endpoint {
            Ok(endpoint) => endpoint,
            Err(reopens) => {
                // Every circuit is open: wait for the first trial.
                client.publish_state();
                let wait = reopens.map_or(Duration::from_millis(100), |at| at - now);
                drop(client);
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        match connect_once(&client, endpoint).await {
            Ok(live) => {
                // Not a success yet: a session that dies at once counts as a failure, and the
                // backoff goes on growing (see below).
                client.ever_connected.store(true, Ordering::Release);
                client
                    .stats
                    .connected(endpoint, !std::mem::replace(&mut slot_connected, true));
                let session = live.session.clone();
                *lock(&client.slots[slot]) = Some(live);
                client.publish_state();
                tracing::debug!(endpoint = %client.config.endpoints[endpoint], "capnweb client: connected");
                let opened = Instant::now();
                let quick_death = client.config.connect_timeout;
                drop(client);
                let reason = session.closed().await;
                let Some(client) = inner.upgrade() else {
                    return;
                };
                tracing::debug!(%reason, "capnweb client: session ended");
                lock(&client.slots[slot]).take();
                if !client.closed.load(Ordering::Acquire) {
                    client.stats.error(endpoint, &reason);
                }
                // Replaced at once (below), not when work next needs a session.
                client.publish_state();
                // A peer that stopped answering pings is a failing endpoint however long the
                // session lived: reconnecting there first would find it silent again.
                let silent = reason.to_string().contains(websocket::SILENT_PEER);
                if !silent && opened.elapsed() >= quick_death.min(Duration::from_secs(1)) {
                    attempt = 0;
                    client.circuits()[endpoint].success();
                    continue;
                }
                // A session that dies at once is a failing endpoint: counted against its
                // circuit, and backed off like a refused connection (no reconnect storm).
                attempt = attempt.saturating_add(1);
                let tripped =
                    client.circuits()[endpoint].failure(&client.config.breaker, Instant::now());
                client.stats.failed(endpoint, tripped);
                if tripped {
                    tracing::warn!(endpoint = %client.config.endpoints[endpoint], "capnweb client: circuit opened (sessions die at once)");
                }
                let delay = client.config.backoff.delay(attempt);
                drop(client);
                tokio::time::sleep(delay).await;
            }
            Err(failed) => {
                attempt = attempt.saturating_add(1);
                client.stats.error(endpoint, &failed.error);
                if failed.connection_level {
                    let tripped =
                        client.circuits()[endpoint].failure(&client.config.breaker, Instant::now());
                    client.stats.failed(endpoint, tripped);
                    if tripped {
                        tracing::warn!(endpoint = %client.config.endpoints[endpoint], error = %failed.error, "capnweb client: circuit opened");
                    }
                }
                client.publish_state();
                let delay = client.config.backoff.delay(attempt);
                drop(client);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn connect_once<C: From<Stub> + Clone + Send + Sync + 'static>(
    client: &Inner<C>,
    endpoint: usize,
) -> Result<Live<C>, Failed> {
    let config = &client.config;
    let url = &config.endpoints[endpoint];
    let attempt = async {
        let headers = match &config.headers {
            Some(provider) => provider().await,
            None => Vec::new(),
        };
        let connecting = websocket::ConnectOptions::new()
            .headers(headers)
            .max_message_size(config.options.limits.max_message_size)
            .with_tls(config.tls.clone())
            .timeout(config.connect_timeout);
        let connecting = match config.keepalive {
            Some(every) => connecting.keepalive(every),
            None => connecting,
        };
        let failed = |e: websocket::ConnectError| Failed {
            // 4xx other than 429 is the server's answer about us, not its health.
            connection_level: e.status.is_none_or(|s| s >= 500 || s == 429),
            error: not_sent(&e.to_string()),
        };
        let mut options = config.options.clone();
        options
            .peer
            .get_or_insert_with(|| crate::client::peer_of(url));
        let session = match config.websocket_codec {
            Codec::Builtin => {
                let socket = codec::connect(url, &connecting).await.map_err(failed)?;
                RpcSession::spawn(socket, None, options)
            }
            Codec::Tungstenite => {
                let transport = websocket::connect(url, &connecting).await.map_err(failed)?;
                RpcSession::spawn(transport, None, options)
            }
        };
        let stub = session.main();
        let main = C::from(stub.clone());
        if let Some(hook) = &config.on_connect {
            if let Err(error) = hook(main.clone()).await {
                session.abort(RpcError::disconnected("on_connect failed"));
                let connection_level = matches!(error, RpcError::Disconnected { .. });
                return Err(Failed {
                    error,
                    connection_level,
                });
            }
        }
        Ok(Live {
            session,
            endpoint,
            main,
            stub,
        })
    };
    tokio::time::timeout(config.connect_timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(Failed {
                error: not_sent(&format!(
                    "connecting to {url} took over {:?}",
                    config.connect_timeout
                )),
                connection_level: true,
            })
        })
}
