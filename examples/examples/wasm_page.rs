//! Serves a Rust page compiled to wasm (`examples/wasm`) and the Rust server it calls: the
//! interop interface at `/rpc` (WebSocket and HTTP batch), the directory's files elsewhere.
//!
//! `cargo run --example wasm_page -- --port 8080 examples/wasm` prints `LISTENING <port>`;
//! see examples/wasm/README.md for building the page.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use capnweb::Server;
use capnweb_examples::interop::test_target;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, dir) = match args.as_slice() {
        [flag, port, dir] if flag == "--port" => (port.parse().unwrap_or(0u16), dir.clone()),
        [dir] => (0, dir.clone()),
        _ => {
            eprintln!("usage: wasm_page [--port N] <directory of the page>");
            std::process::exit(2);
        }
    };
    let rpc = Server::new().route("/rpc", test_target).router();
    let dir = PathBuf::from(dir);
    let app = rpc.fallback(move |req: Request| files(dir.clone(), req));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("LISTENING {}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    axum::serve(listener, app).await
}

/// A file of the page's directory (`index.html` for `/`), with its content type.
async fn files(dir: PathBuf, req: Request) -> Response {
    let path = match req.uri().path() {
        "/" => "index.html",
        p => p.trim_start_matches('/'),
    };
    // Only plain names below the directory: no `..`, no absolute paths.
    if !Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let content_type = match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    };
    match std::fs::read(dir.join(path)) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
