//! The accept loop: HTTP/1 connections (over TLS when the server has a certificate) served by
//! hyper with a bound on the time a peer may take to finish its TLS handshake and send its
//! request headers (so half-done handshakes, requests and upgrades cannot hold connections),
//! a deadline on writes a peer takes nothing of (see [`WriteDeadline`]), and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_service::Service;

use super::deadline::WriteDeadline;

/// How connections are taken on.
pub(crate) struct Accepting {
    /// How long a peer may take to finish its TLS handshake, then to send request headers.
    pub(crate) header_timeout: Duration,
    /// How long a write may wait for a peer that takes none of it.
    pub(crate) write_timeout: Duration,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Serves `router` on `listener` until `signal`, then waits up to `drain` for requests in
/// progress to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    accepting: Accepting,
    signal: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let accepting = std::sync::Arc::new(accepting);
    // Each connection's task holds a sender: once all are gone, every connection has closed.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    let (stop, stopping) = watch::channel(false);
    let mut signal = std::pin::pin!(signal);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(error = %e, "capnweb server: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = tcp.set_nodelay(true);
        let tcp = WriteDeadline::new(tcp, accepting.write_timeout);
        let (router, accepting) = (router.clone(), accepting.clone());
        let (alive, stopping) = (alive.clone(), stopping.clone());
        tokio::spawn(async move {
            #[cfg(feature = "tls")]
            if let Some(acceptor) = &accepting.tls {
                // The handshake happens here, in the connection's task: a slow one holds
                // nothing but itself, and no longer than the header timeout.
                let handshake =
                    tokio::time::timeout(accepting.header_timeout, acceptor.accept(tcp));
                match handshake.await {
                    Ok(Ok(tls)) => connection(tls, peer, router, &accepting, stopping).await,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %peer, "capnweb server: TLS handshake failed")
                    }
                    Err(_) => tracing::debug!(%peer, "capnweb server: TLS handshake timed out"),
                }
                drop(alive);
                return;
            }
            connection(tcp, peer, router, &accepting, stopping).await;
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    let _ = tokio::time::timeout(drain, all_closed.recv()).await;
    Ok(())
}

/// Serves one connection's HTTP until it ends, or finishes its request in progress once
/// `stopping`.
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    accepting: &Accepting,
    mut stopping: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        router.clone().call(req.map(axum::body::Body::new))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(accepting.header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = async { drop(stopping.wait_for(|stop| *stop).await) } => {
            // Finish the request in progress, take no other.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "capnweb server: connection ended with an error");
    }
}
