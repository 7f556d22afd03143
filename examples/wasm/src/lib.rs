//! The page: Rust compiled to wasm, calling the Rust server that served it, over a WebSocket
//! and in an HTTP batch, and writing what it got into the page.

use capnweb::{rpc_interface, RpcError};
use wasm_bindgen::prelude::*;

/// The part of the server's interface (examples/interop.rs) the page calls.
#[rpc_interface]
pub trait TestTarget {
    async fn square(&self, i: f64) -> Result<f64, RpcError>;
    async fn make_counter(&self, i: f64) -> Result<CounterClient, RpcError>;
}

#[rpc_interface]
pub trait Counter {
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError>;
}

/// Runs when the module loads.
#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        let lines = match talk().await {
            Ok(lines) => lines,
            Err(e) => vec![format!("failed: {e}")],
        };
        show(&lines.join("\n"));
    });
}

async fn talk() -> Result<Vec<String>, RpcError> {
    let host = web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default();
    let mut lines = Vec::new();

    let api: TestTargetClient = capnweb::wasm::connect(&format!("ws://{host}/rpc")).await?;
    lines.push(format!("square(12) = {}", api.square(12).await?));
    // Pipelined: the counter is used before it arrives.
    let counter = api.make_counter(10);
    lines.push(format!("counter 10 + 5 = {}", counter.increment(5).await?));

    let batch = capnweb::wasm::HttpBatch::<TestTargetClient>::new(&format!("http://{host}/rpc"));
    let main = batch.main();
    lines.push(format!(
        "batched square(square(3)) = {}",
        main.square(main.square(3)).await?
    ));
    lines.push("done".to_owned());
    Ok(lines)
}

fn show(text: &str) {
    let out = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("out"));
    if let Some(out) = out {
        out.set_text_content(Some(text));
    }
}
