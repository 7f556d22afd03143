//! HTTP batches served by hyper alone, without axum or capnweb's `Server`: all an HTTP stack
//! needs is [`serve_batch`], one request body in, one response body out. The same few lines
//! fit actix-web, a Rust Worker, or anything else that hands over a body.

use std::convert::Infallible;

use bytes::Bytes;
use capnweb::transport::http_batch::serve_batch;
use capnweb::{SessionOptions, Stub};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The largest batch body taken, in bytes.
const MAX_BODY: usize = 1 << 20;

/// Serves HTTP batches on `listener`, a new main object from `main` for each batch.
pub async fn serve(
    listener: TcpListener,
    main: impl Fn() -> Stub + Clone + Send + Sync + 'static,
) -> std::io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        let main = main.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, main()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>, main: Stub) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, text: String| {
        let mut response = Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() = status;
        Ok(response)
    };
    if req.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "POST a batch".into());
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return reply(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
    };
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return reply(StatusCode::BAD_REQUEST, "a batch is UTF-8 text".into());
    };
    let answers = serve_batch(&text, main, SessionOptions::default()).await;
    reply(StatusCode::OK, answers)
}
