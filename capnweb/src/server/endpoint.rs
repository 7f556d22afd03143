//! One path of a server: answers WebSocket upgrades and HTTP batch POSTs (and CORS preflights),
//! after the origin, auth and connection-limit checks.
//!
//! A connection slot is taken only once a request is complete (a batch's body read, an upgrade's
//! headers), so peers that have not finished sending cannot lock out those that have; a batch
//! body must arrive within the body timeout, and is counted against the buffer budget.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::budget::{Budget, MeteredTransport};
use super::connect::{ConnectInfo, MainFactory};
use super::registry::Registry;
use super::settings::Settings;
use super::upgrade;
use crate::session::{RpcSession, SessionOptions};
use crate::transport::http_batch::serve_batch;
use crate::transport::websocket::codec::{Codec, CodecSocket, Role};
use crate::transport::websocket::{self, WebSocketTransport};

/// What every path of a server shares: its settings, and the state they bound.
pub(crate) struct Config {
    pub(crate) settings: Settings,
    pub(crate) slots: Arc<super::slots::Slots>,
    pub(crate) registry: Arc<Registry>,
    /// Bytes buffered from peers and held for them, server-wide.
    pub(crate) budget: Budget,
}

impl std::ops::Deref for Config {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

pub(crate) async fn handle(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: Arc<Config>,
) -> Response {
    let origin = origin_of(&req);
    let response = respond(req, factory, &config, origin.as_deref()).await;
    with_cors(response, &config, origin.as_deref())
}

/// A path no route serves: `404`, readable by the pages CORS allows (so that a page sees the
/// status, not an opaque network failure).
pub(crate) async fn not_found(req: Request, config: Arc<Config>) -> Response {
    let origin = origin_of(&req);
    let response = error(
        StatusCode::NOT_FOUND,
        "no Cap'n Web endpoint here".to_owned(),
    );
    with_cors(response, &config, origin.as_deref())
}

fn origin_of(req: &Request) -> Option<String> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn with_cors(mut response: Response, config: &Config, origin: Option<&str>) -> Response {
    if let Some(allow) = cors_origin(config, origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn respond(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: &Arc<Config>,
    origin: Option<&str>,
) -> Response {
    if req.method() == Method::OPTIONS && config.cors.is_some() {
        return preflight();
    }
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade && req.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "This endpoint only accepts POST or WebSocket requests.".into(),
        );
    }
    // Before anything runs: a browser on a refused origin gets nothing done, over either
    // transport (a `text/plain` POST needs no preflight, so CORS alone would not stop it).
    if let Some(origin) = origin {
        if !origin_allowed(config, origin, is_upgrade) {
            return error(
                StatusCode::FORBIDDEN,
                format!("origin {origin} is not allowed"),
            );
        }
    }
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| forwarded_for(c.0, req.headers(), &config.trusted_proxies));
    // The layers' extensions, without what hyper and axum keep there for themselves (the
    // upgrade handle, the connection's address).
    let mut extensions = req.extensions().clone();
    extensions.remove::<axum::extract::ConnectInfo<SocketAddr>>();
    extensions.remove::<hyper::upgrade::OnUpgrade>();
    let mut info = ConnectInfo::new(req.headers(), peer, req.uri().path().to_owned(), extensions);
    if let Some(auth) = &config.auth {
        match auth(info.clone()).await {
            Ok(identity) => info = info.with_identity(identity),
            Err(rejection) => return error(rejection.status(), rejection.to_string()),
        }
    }
    if is_upgrade {
        upgrade(req, factory, config, info).await
    } else {
        batch(req, factory, config, info).await
    }
}

/// Whether a browser page on `origin` may use this server. With no policy configured, any may:
/// see `Server::allowed_origins`.
fn origin_allowed(config: &Config, origin: &str, upgrade: bool) -> bool {
    let listed = |list: &Option<Vec<String>>| {
        list.as_ref()
            .is_some_and(|l| l.iter().any(|a| a == "*" || a == origin))
    };
    match (&config.allowed_origins, &config.cors) {
        (None, None) => true,
        // One policy for both transports: an origin refused a batch is refused an upgrade
        // (a WebSocket needs no preflight, so CORS alone would not stop a page).
        (None, Some(_)) => listed(&config.cors),
        _ => listed(&config.allowed_origins) || (!upgrade && listed(&config.cors)),
    }
}

/// A connection slot for the peer `info` describes, or the answer that there is none.
async fn slot(config: &Config, info: &ConnectInfo) -> Result<super::slots::Slot, Response> {
    let address = info.peer.map(|p| p.ip());
    config
        .slots
        .take(address, &config.registry)
        .await
        .map_err(|why| error(StatusCode::SERVICE_UNAVAILABLE, why))
}

async fn upgrade(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: &Arc<Config>,
    info: ConnectInfo,
) -> Response {
    let (mut parts, _) = req.into_parts();
    let accept = match upgrade::accept_key(&parts.method, &parts.headers) {
        Ok(accept) => accept,
        Err(refused) => return refused,
    };
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return error(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded".into(),
        );
    };
    let permit = match slot(config, &info).await {
        Ok(permit) => permit,
        Err(refused) => return refused,
    };
    // What the task keeps for the session's life is what it captures (moved-from or not):
    // little, and the rest made from the configuration once upgraded.
    let config = config.clone();
    let info = Box::new(info);
    let share = Arc::new(config.budget.share());
    tokio::spawn(async move {
        let Some(io) = upgrade::connection(on_upgrade, config.body_timeout, share.clone()).await
        else {
            return;
        };
        let main = factory.make(&info);
        let peer = info.peer.map(|p| p.ip());
        let options = session_options(&config, &info);
        // Not kept for the session's life: the factory took what it needs.
        drop(info);
        let max = config.options.limits.max_message_size;
        let (keepalive, message_timeout) = (config.keepalive, config.message_timeout);
        // Each kind runs in its own arm, built in place: the task holds one run future (the
        // larger kind's), not a copy of its transport besides.
        match config.websocket_codec {
            Codec::Builtin => {
                let mut socket =
                    CodecSocket::new(io, Role::Server, max).read_buffer(config.read_buffer);
                if let Some(every) = keepalive {
                    socket = socket.keepalive(every);
                }
                let transport = MeteredTransport::new(socket, share, message_timeout);
                let (session, run) = RpcSession::new(transport, Some(main), options);
                let id = config.registry.add(&session, peer);
                run.await;
                config.registry.remove(id);
            }
            Codec::Tungstenite => {
                let ws_config = websocket::config(max).read_buffer_size(config.read_buffer);
                let mut transport = WebSocketTransport::new(upgrade::socket(io, ws_config));
                if let Some(every) = keepalive {
                    transport = transport.keepalive(every);
                }
                let transport = MeteredTransport::new(transport, share, message_timeout);
                let (session, run) = RpcSession::new(transport, Some(main), options);
                let id = config.registry.add(&session, peer);
                run.await;
                config.registry.remove(id);
            }
        }
        drop(permit);
    });
    upgrade::switching(accept)
}

async fn batch(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: &Config,
    info: ConnectInfo,
) -> Response {
    let limit = config.options.limits.max_message_size;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("batch body exceeds the maximum message size of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    // The body, within the time limit and the buffer budget (held until the answer is made).
    let share = config.budget.share();
    // Sized from the declared length only up to a small bound: a peer declaring 32 MiB and
    // sending nothing must not make the server reserve it outside the budget.
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n.min(64 * 1024) as usize));
    let mut chunks = req.into_body().into_data_stream();
    let deadline = tokio::time::Instant::now() + config.body_timeout;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => {
                return error(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("batch body not received within {:?}", config.body_timeout),
                )
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return error(StatusCode::BAD_REQUEST, format!("batch body: {e}"));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if body.len() + chunk.len() > limit {
            return too_large();
        }
        if let Err(why) = share.take(chunk.len()) {
            return error(StatusCode::SERVICE_UNAVAILABLE, why);
        }
        body.extend_from_slice(&chunk);
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "batch body is not UTF-8".into());
    };
    let calls = text
        .split('\n')
        .filter(|l| crate::wire::MessageKind::read(l).is_call())
        .count();
    if calls > config.max_batch_calls {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "batch of {calls} calls exceeds the limit of {}",
                config.max_batch_calls
            ),
        );
    }
    // Only now, with the whole request here, does it take a connection slot.
    let permit = match slot(config, &info).await {
        Ok(permit) => permit,
        Err(refused) => return refused,
    };
    // A batch ends by its deadline (what waits on a pipe nobody reads, say): the session ends
    // at that age, and the answer says why to the calls still waiting.
    let mut options = session_options(config, &info);
    options.max_age = Some(
        options
            .max_age
            .map_or(config.batch_timeout, |age| age.min(config.batch_timeout)),
    );
    let answer = serve_batch(text, factory.make(&info), options).await;
    drop(body);
    // The answer is held until the peer has taken it: counted in the budget in place of the
    // request (past its bound if need be: the work is done, but others wait for room), and
    // the slot kept until then.
    share.release();
    share.charge(answer.len());
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(held_until_sent(answer, (permit, share)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A response body of `text`, in pieces the connection takes as it writes, holding `guard`
/// until the last is taken.
fn held_until_sent(text: String, guard: impl Send + 'static) -> Body {
    const PIECE: usize = 64 * 1024;
    let text = bytes::Bytes::from(text);
    let pieces = (0..text.len())
        .step_by(PIECE)
        .map(move |start| {
            Ok::<_, std::convert::Infallible>(text.slice(start..(start + PIECE).min(text.len())))
        })
        .collect::<Vec<_>>();
    let end = futures_util::stream::once(async move { drop(guard) })
        .filter_map(|()| std::future::ready(None));
    Body::from_stream(futures_util::stream::iter(pieces).chain(end))
}

/// The client a trusted proxy forwards for: the rightmost `X-Forwarded-For` address that is not
/// a trusted proxy (proxies append the address they received from); `peer` itself when it is
/// not trusted, or the header says nothing usable.
fn forwarded_for(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> SocketAddr {
    // A dual-stack listener sees IPv4 proxies as `::ffff:a.b.c.d`.
    let is_trusted = |ip: std::net::IpAddr| {
        trusted
            .iter()
            .any(|t| t.to_canonical() == ip.to_canonical())
    };
    if !is_trusted(peer.ip()) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        // An address alone, or with a port (`1.2.3.4:5678`, `[::1]:5678`).
        let parsed = hop
            .parse::<std::net::IpAddr>()
            .map(|ip| SocketAddr::new(ip, 0))
            .or_else(|_| hop.parse::<SocketAddr>());
        match parsed {
            Ok(hop) if is_trusted(hop.ip()) => {} // one of our proxies: look further left
            Ok(hop) => return SocketAddr::new(hop.ip().to_canonical(), hop.port()),
            Err(_) => break,
        }
    }
    peer
}

/// The options of a session this server accepted from the peer `info` describes.
fn session_options(config: &Config, info: &ConnectInfo) -> SessionOptions {
    let mut options = config.options.clone();
    options.accepted = true;
    // A server runs on tokio, timers on: each session has one, so that an ended session waits
    // for a peer that reads nothing only so long (see `SessionOptions::timer`).
    // (One for all sessions.)
    static TOKIO_TIMER: std::sync::OnceLock<crate::session::Sleeper> = std::sync::OnceLock::new();
    if options.timer.is_none() {
        let timer = TOKIO_TIMER.get_or_init(|| Arc::new(|d| Box::pin(tokio::time::sleep(d))));
        options.timer = Some(timer.clone());
    }
    options.peer = info.peer.map(|p| p.to_string());
    // A peer that reads nothing ends, and what its results held goes back to everyone.
    options.write_timeout = options
        .write_timeout
        .or(Some(super::deadline::WRITE_TIMEOUT));
    options.answer_budget = Some(config.budget.answer_share());
    options
}

fn error(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

/// The `Access-Control-Allow-Origin` value for a request from `origin`, if CORS allows it.
fn cors_origin(config: &Config, origin: Option<&str>) -> Option<HeaderValue> {
    let allowed = config.cors.as_ref()?;
    let origin = origin?;
    let ok = allowed.iter().any(|a| a == "*" || a == origin);
    ok.then(|| HeaderValue::from_str(origin).ok()).flatten()
}

fn preflight() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS")
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "content-type, authorization",
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, "86400")
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in xff {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_trusted_proxies_are_believed_and_the_rightmost_untrusted_hop_wins() {
        let proxy: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let trusted = ["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let client = |s: &str| SocketAddr::new(s.parse().unwrap(), 0);
        // Not from a trusted proxy: its own address, whatever the header says.
        let stranger: SocketAddr = "192.0.2.9:4000".parse().unwrap();
        assert_eq!(
            forwarded_for(stranger, &with(&["1.2.3.4"]), &trusted),
            stranger
        );
        // From one: the client it forwards for, past other trusted hops; a forged hop to the
        // left of the real client is ignored.
        assert_eq!(
            forwarded_for(proxy, &with(&["1.2.3.4"]), &trusted),
            client("1.2.3.4")
        );
        let chain = with(&["6.6.6.6, 1.2.3.4", "10.0.0.2"]);
        assert_eq!(forwarded_for(proxy, &chain, &trusted), client("1.2.3.4"));
        // Nothing usable: the proxy's own.
        assert_eq!(forwarded_for(proxy, &with(&[]), &trusted), proxy);
        assert_eq!(forwarded_for(proxy, &with(&["unknown"]), &trusted), proxy);
        assert_eq!(forwarded_for(proxy, &with(&["10.0.0.2"]), &[]), proxy);
        // A dual-stack listener's view of an IPv4 proxy, and hops with ports.
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:5000".parse().unwrap();
        assert_eq!(
            forwarded_for(mapped, &with(&["1.2.3.4"]), &trusted),
            client("1.2.3.4")
        );
        let with_port = with(&["1.2.3.4:5678"]);
        assert_eq!(
            forwarded_for(proxy, &with_port, &trusted),
            "1.2.3.4:5678".parse().unwrap()
        );
    }
}
