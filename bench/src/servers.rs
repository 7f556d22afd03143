//! The servers, each run in its own process (`capnweb-bench serve <kind>`), printing
//! `LISTENING <port>` once ready.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn listening(port: u16) {
    use std::io::Write;
    println!("LISTENING {port}");
    let _ = std::io::stdout().flush();
}

/// Ours: the interop interface (`square`, `makeCounter`, ...) on WebSocket and HTTP batch,
/// its WebSockets framed by `codec`.
pub async fn capnweb(codec: capnweb::transport::websocket::codec::Codec) {
    let (addr, serve) = capnweb::Server::bind("127.0.0.1:0")
        .websocket_codec(codec)
        // The idle-memory run opens 10,000 sessions and one more.
        .max_connections(100_000)
        .listen(capnweb_examples::interop::test_target)
        .await
        .expect("bind");
    listening(addr.port());
    let _ = serve.await;
}

/// jsonrpsee over WebSocket: `square(i)`.
pub async fn jsonrpsee() {
    let server = jsonrpsee::server::Server::builder()
        .build("127.0.0.1:0")
        .await
        .expect("bind");
    let mut module = jsonrpsee::RpcModule::new(());
    module
        .register_method("square", |params, _, _| {
            let i: f64 = params.one().unwrap_or(0.0);
            serde_json::json!(i * i)
        })
        .expect("register");
    let port = server.local_addr().expect("addr").port();
    let handle = server.start(module);
    listening(port);
    handle.stopped().await;
}

/// The ceiling: a WebSocket echo with Cap'n Web's frame pattern (for each call, `push` and
/// `pull` in, `resolve` out, `release` in), answering from the reading task and flushing once
/// per burst, with no RPC work at all.
pub async fn raw() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listening(listener.local_addr().expect("addr").port());
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = socket.set_nodelay(true);
            let Ok(mut ws) = tokio_tungstenite::accept_async(socket).await else {
                return;
            };
            let mut pending = false;
            loop {
                let next = if pending {
                    match futures_util::FutureExt::now_or_never(ws.next()) {
                        Some(m) => m,
                        None => {
                            if ws.flush().await.is_err() {
                                return;
                            }
                            pending = false;
                            continue;
                        }
                    }
                } else {
                    ws.next().await
                };
                let Some(Ok(Message::Text(text))) = next else {
                    return;
                };
                if let Some(id) = text
                    .strip_prefix("[\"pull\",")
                    .and_then(|t| t.strip_suffix(']'))
                {
                    let reply = format!("[\"resolve\",{id},4]");
                    if ws.feed(Message::text(reply)).await.is_err() {
                        return;
                    }
                    pending = true;
                }
            }
        });
    }
}

/// The HTTP batch ceiling: answers every `pull` line of a batch with a constant `resolve`,
/// with no RPC work at all.
pub async fn raw_batch() {
    use axum::routing::post;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listening(listener.local_addr().expect("addr").port());
    let app = axum::Router::new().route(
        "/",
        post(|body: String| async move {
            let mut out = String::with_capacity(body.len() / 2);
            for id in body.lines().filter_map(|l| {
                l.strip_prefix("[\"pull\",")
                    .and_then(|t| t.strip_suffix(']'))
            }) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str("[\"resolve\",");
                out.push_str(id);
                out.push_str(",4]");
            }
            out
        }),
    );
    let _ = axum::serve(listener, app).await;
}
