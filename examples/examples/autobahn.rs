//! A WebSocket echo through capnweb's WebSocket transports, for Autobahn|Testsuite's fuzzing
//! modes (`tests/autobahn/run` drives it): each text message is sent back as it came, over
//! tungstenite (the default) or the built-in codec. No RPC session runs: the suite's messages
//! are not Cap'n Web's, so the transports are driven directly, as a session drives them.
//!
//! ```text
//! autobahn serve CODEC                 listens on 127.0.0.1 (a free port, printed) for wstest -m fuzzingclient
//! autobahn client CODEC URL AGENT      runs every case of wstest -m fuzzingserver at URL, as AGENT
//! ```
//!
//! CODEC is `tungstenite` or `builtin`.

use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;

use capnweb::transport::websocket::codec::{self, CodecSocket};
use capnweb::transport::websocket::{self, ConnectOptions, Socket, WebSocketTransport};
use capnweb::transport::{Transport, TransportError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The suite's largest message is 16 MiB (case 9.1.6).
const MAX_MESSAGE: usize = 32 << 20;

#[derive(Clone, Copy)]
enum Codec {
    Tungstenite,
    Builtin,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let codec = match args.get(1).map(String::as_str) {
        Some("tungstenite") => Codec::Tungstenite,
        Some("builtin") => Codec::Builtin,
        _ => usage(),
    };
    match (args[0].as_str(), &args[2..]) {
        ("serve", []) => serve(codec).await,
        ("client", [url, agent]) => {
            if let Err(e) = run_cases(codec, url, agent).await {
                eprintln!("autobahn client: {e}");
                std::process::exit(1);
            }
        }
        _ => usage(),
    }
}

#[allow(clippy::exit)] // a command line's misuse ends the program
fn usage() -> ! {
    eprintln!("usage: autobahn serve tungstenite|builtin");
    eprintln!("       autobahn client tungstenite|builtin ws://HOST:PORT AGENT");
    std::process::exit(2)
}

/// Sends back every text message until the peer closes or breaks the protocol, then closes
/// (with the transport's close code for what went wrong, if anything did).
async fn echo<T: Transport>(mut t: T) -> Result<(), TransportError> {
    let mut text = String::new();
    let ended = loop {
        let received = poll_fn(|cx| {
            Pin::new(&mut t).poll_recv(cx).map(|m| {
                m.map(|m| {
                    m.map(|m| {
                        text.clear();
                        text.push_str(m.as_ref());
                    })
                })
            })
        })
        .await;
        match received {
            Some(Ok(())) => {
                poll_fn(|cx| Pin::new(&mut t).poll_send_ready(cx)).await?;
                Pin::new(&mut t).start_send_text(&text)?;
                poll_fn(|cx| Pin::new(&mut t).poll_flush_sent(cx)).await?;
            }
            None => break Ok(()),
            Some(Err(e)) => break Err(e),
        }
    };
    let closed = poll_fn(|cx| Pin::new(&mut t).poll_close_sent(cx)).await;
    ended.and(closed)
}

/// Accepts WebSocket upgrades, each echoed on its own task.
async fn serve(codec: Codec) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("address"));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let service = hyper::service::service_fn(move |req| upgrade(req, codec));
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades(),
        );
    }
}

async fn upgrade(
    mut req: Request<Incoming>,
    codec: Codec,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let mut response = Response::new(Empty::new());
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY) else {
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        // What went wrong is the close frame's to tell; the suite judges it.
        let _ = match codec {
            Codec::Tungstenite => {
                let config = websocket::config(MAX_MESSAGE);
                echo(WebSocketTransport::new(Socket::from_raw_socket(
                    io,
                    Role::Server,
                    config,
                )))
                .await
            }
            Codec::Builtin => echo(CodecSocket::new(io, codec::Role::Server, MAX_MESSAGE)).await,
        };
    });
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, "upgrade".parse().expect("a header value"));
    headers.insert(UPGRADE, "websocket".parse().expect("a header value"));
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        accept.parse().expect("a header value"),
    );
    Ok(response)
}

/// Runs each of the fuzzing server's cases in turn, then has it write its reports.
async fn run_cases(codec: Codec, base: &str, agent: &str) -> Result<(), String> {
    let count = fetch_text(codec, &format!("{base}/getCaseCount")).await?;
    let count: usize = count
        .trim()
        .parse()
        .map_err(|e| format!("case count {count:?}: {e}"))?;
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        // A case that breaks the protocol on purpose ends in an error: the suite judges it.
        let _ = match codec {
            Codec::Tungstenite => {
                match websocket::connect(&url, &ConnectOptions::new().max_message_size(MAX_MESSAGE))
                    .await
                {
                    Ok(t) => echo(t).await,
                    Err(e) => Err(e.into()),
                }
            }
            Codec::Builtin => {
                match codec::connect(&url, &ConnectOptions::new().max_message_size(MAX_MESSAGE))
                    .await
                {
                    Ok(t) => echo(t).await,
                    Err(e) => Err(e.into()),
                }
            }
        };
    }
    fetch_text(codec, &format!("{base}/updateReports?agent={agent}")).await?;
    Ok(())
}

/// The messages a WebSocket at `url` sends before it closes, joined.
async fn fetch_text(codec: Codec, url: &str) -> Result<String, String> {
    match codec {
        Codec::Tungstenite => {
            let t = websocket::connect(url, &ConnectOptions::new().max_message_size(MAX_MESSAGE))
                .await
                .map_err(|e| e.to_string())?;
            read_all(t).await
        }
        Codec::Builtin => {
            let t = codec::connect(url, &ConnectOptions::new().max_message_size(MAX_MESSAGE))
                .await
                .map_err(|e| e.to_string())?;
            read_all(t).await
        }
    }
    .map_err(|e| format!("{url}: {e}"))
}

async fn read_all<T: Transport>(mut t: T) -> Result<String, TransportError> {
    let mut all = String::new();
    while let Some(text) = poll_fn(|cx| {
        Pin::new(&mut t)
            .poll_recv(cx)
            .map(|m| m.map(|m| m.map(|m| m.as_ref().to_owned())))
    })
    .await
    {
        all.push_str(&text?);
    }
    poll_fn(|cx| Pin::new(&mut t).poll_close_sent(cx)).await?;
    Ok(all)
}
