//! The Rust clients of each pair, and the measurements they take.

use std::future::{Future, IntoFuture};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use capnweb::transport::websocket::ConnectOptions;
use capnweb_examples::interop::TestTargetClient;
use futures_util::future::join_all;
use futures_util::{FutureExt, SinkExt, StreamExt};
use jsonrpsee::core::client::ClientT;
use serde_json::{json, Value as Json};
use tokio_tungstenite::tungstenite::Message;

/// What one pair measured. Rates are per second; latencies in microseconds.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub c1: f64,
    pub c16: f64,
    pub c256: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub batch: Option<f64>,
    pub chain: Option<f64>,
}

impl Figures {
    pub fn to_json(&self) -> Json {
        json!({
            "calls_per_sec_c1": self.c1, "calls_per_sec_c16": self.c16,
            "calls_per_sec_c256": self.c256, "latency_p50_us": self.p50_us,
            "latency_p99_us": self.p99_us, "batch_calls_per_sec": self.batch,
            "pipelined_chains_per_sec": self.chain,
        })
    }

    pub fn from_json(v: &Json) -> Figures {
        let f = |k: &str| v.get(k).and_then(Json::as_f64);
        Figures {
            c1: f("calls_per_sec_c1").unwrap_or(0.0),
            c16: f("calls_per_sec_c16").unwrap_or(0.0),
            c256: f("calls_per_sec_c256").unwrap_or(0.0),
            p50_us: f("latency_p50_us").unwrap_or(0.0),
            p99_us: f("latency_p99_us").unwrap_or(0.0),
            batch: f("batch_calls_per_sec"),
            chain: f("pipelined_chains_per_sec"),
        }
    }
}

/// Completions per second of `call`, with `concurrency` calls in flight for `secs`, after a
/// short warm-up. All workers run in one task, as a JavaScript client's would.
async fn rate<F, Fut>(concurrency: usize, secs: f64, call: F) -> f64
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let run = |dur: Duration| {
        let call = &call;
        async move {
            let done = AtomicU64::new(0);
            let deadline = Instant::now() + dur;
            let start = Instant::now();
            let done_ref = &done;
            join_all((0..concurrency as u64).map(|w| async move {
                let mut i = w;
                while Instant::now() < deadline {
                    call(i % 1000).await;
                    done_ref.fetch_add(1, Ordering::Relaxed);
                    i += concurrency as u64;
                }
            }))
            .await;
            done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
        }
    };
    run(Duration::from_millis(300)).await;
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        rates.push(run(Duration::from_secs_f64(secs / RUNS as f64)).await);
    }
    median(rates)
}

/// Each rate is the median of this many runs (sharing the measuring time): on a small VM, one
/// run can land on an unlucky placement of threads on cores.
pub const RUNS: usize = 3;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median and 99th percentile, in microseconds, of `n` calls one after the other.
async fn latency<F, Fut>(n: usize, call: F) -> (f64, f64)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..200 {
        call(i).await;
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let start = Instant::now();
        call(i % 1000).await;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[n / 2], times[n * 99 / 100])
}

/// Rates at 1, 16 and 256 calls in flight, and latency at one, of `call`.
async fn calls<F, Fut>(secs: f64, call: F) -> Figures
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let c1 = rate(1, secs, &call).await;
    let c16 = rate(16, secs, &call).await;
    let c256 = rate(256, secs, &call).await;
    let (p50_us, p99_us) = latency(3000, &call).await;
    Figures {
        c1,
        c16,
        c256,
        p50_us,
        p99_us,
        batch: None,
        chain: None,
    }
}

/// Our client with tungstenite framing its WebSocket, connected to `port`.
async fn tungstenite_client(port: u16) -> (TestTargetClient, capnweb::RpcSession) {
    let ws = format!("ws://127.0.0.1:{port}/");
    let options = ConnectOptions::new().max_message_size(1 << 26);
    let transport = capnweb::transport::websocket::connect(&ws, &options)
        .await
        .expect("connect");
    let session = capnweb::RpcSession::spawn(transport, None, capnweb::SessionOptions::default());
    (TestTargetClient::from(session.main()), session)
}

/// Calls per second of our client (tungstenite) over one WebSocket with `concurrency` calls in
/// flight.
pub async fn capnweb_rate(port: u16, concurrency: usize, secs: f64) -> f64 {
    let (main, _session) = tungstenite_client(port).await;
    rate(concurrency, secs, |i: u64| {
        let p = main.square(i as f64);
        async move {
            p.await.expect("square");
        }
    })
    .await
}

/// Our client with the built-in WebSocket codec, connected to `port`.
async fn codec_client(port: u16) -> (TestTargetClient, capnweb::RpcSession) {
    let ws = format!("ws://127.0.0.1:{port}/");
    let socket = capnweb::transport::websocket::codec::connect(
        &ws,
        &ConnectOptions::new().max_message_size(1 << 26),
    )
    .await
    .expect("connect");
    let session = capnweb::RpcSession::spawn(socket, None, capnweb::SessionOptions::default());
    (TestTargetClient::from(session.main()), session)
}

/// [`capnweb_rate`], both ends on the built-in WebSocket codec.
pub async fn capnweb_codec_rate(port: u16, concurrency: usize, secs: f64) -> f64 {
    let (main, _session) = codec_client(port).await;
    rate(concurrency, secs, |i: u64| {
        let p = main.square(i as f64);
        async move {
            p.await.expect("square");
        }
    })
    .await
}

/// Our pair, both ends on the built-in WebSocket codec: calls at 1, 16 and 256 in flight.
pub async fn capnweb_codec(port: u16, secs: f64) -> Figures {
    let (main, _session) = codec_client(port).await;
    calls(secs, |i: u64| {
        let p = main.square(i as f64);
        async move {
            p.await.expect("square");
        }
    })
    .await
}

/// Our client (tungstenite) against a Cap'n Web server at `port` (WebSocket and HTTP batch on
/// `/`).
pub async fn capnweb(port: u16, secs: f64) -> Figures {
    let (main, _session) = tungstenite_client(port).await;
    let square = |i: u64| {
        let p = main.square(i as f64);
        async move {
            p.await.expect("square");
        }
    };
    let mut figures = calls(secs, square).await;

    let batch = batch_rate(port, secs).await;

    let chain = rate(1, secs, |_| {
        let counter = main.make_counter(0.0);
        let calls: Vec<_> = (0..100)
            .map(|_| counter.increment(None).into_future())
            .collect();
        async move {
            let last = join_all(calls).await;
            assert_eq!(last.len(), 100);
            drop(counter);
        }
    })
    .await;

    figures.batch = Some(batch);
    figures.chain = Some(chain);
    figures
}

/// Calls per second of our client in HTTP batches of 1,000 against the server at `port`.
pub async fn batch_rate(port: u16, secs: f64) -> f64 {
    let http = format!("http://127.0.0.1:{port}/");
    rate(1, secs, |_| {
        let batch = capnweb::HttpBatch::<TestTargetClient>::new(&http);
        let main = batch.main();
        let calls: Vec<_> = (0..1000)
            .map(|i| main.square(i as f64).into_future())
            .collect();
        async move {
            for r in join_all(calls).await {
                r.expect("batch square");
            }
        }
    })
    .await
        * 1000.0
}

/// jsonrpsee's WebSocket client against a jsonrpsee server at `port`.
pub async fn jsonrpsee(port: u16, secs: f64) -> Figures {
    let client = jsonrpsee::ws_client::WsClientBuilder::default()
        .max_concurrent_requests(4096)
        .build(format!("ws://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let square = |i: u64| {
        let client = &client;
        async move {
            let _: f64 = client
                .request("square", jsonrpsee::rpc_params![i as f64])
                .await
                .expect("square");
        }
    };
    calls(secs, square).await
}

/// The ceiling: Cap'n Web's frame pattern with no RPC machinery, `concurrency` calls in flight.
async fn raw_rate(port: u16, concurrency: usize, secs: f64) -> f64 {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/"))
        .await
        .expect("connect");
    let mut next_id = 1u64;
    let mut start_call = |ws_frames: &mut Vec<Message>| {
        ws_frames.push(Message::text(r#"["push",["pipeline",0,["square"],[2]]]"#));
        ws_frames.push(Message::text(format!(r#"["pull",{next_id}]"#)));
        next_id += 1;
    };
    let mut frames = Vec::new();
    for _ in 0..concurrency {
        start_call(&mut frames);
    }
    for f in frames.drain(..) {
        ws.feed(f).await.expect("send");
    }
    ws.flush().await.expect("flush");
    let warmup = Instant::now() + Duration::from_millis(300);
    let mut measuring: Option<(Instant, u64)> = None;
    let deadline = warmup + Duration::from_secs_f64(secs);
    let mut outstanding = concurrency;
    let mut done = 0u64;
    while outstanding > 0 {
        let mut msg = ws.next().await;
        loop {
            let Some(Ok(Message::Text(text))) = msg else {
                panic!("raw echo ended");
            };
            let id = text
                .strip_prefix("[\"resolve\",")
                .and_then(|t| t.split(',').next())
                .expect("a resolve");
            frames.push(Message::text(format!("[\"release\",{id},1]")));
            outstanding -= 1;
            done += 1;
            let now = Instant::now();
            if measuring.is_none() && now >= warmup {
                measuring = Some((now, done));
            }
            if now < deadline {
                start_call(&mut frames);
                outstanding += 1;
            }
            match ws.next().now_or_never() {
                Some(m) => msg = m,
                None => break,
            }
        }
        for f in frames.drain(..) {
            ws.feed(f).await.expect("send");
        }
        ws.flush().await.expect("flush");
    }
    let (start, at_start) = measuring.expect("ran past the warm-up");
    (done - at_start) as f64 / start.elapsed().as_secs_f64()
}

/// The median of `RUNS` runs of `raw_rate`.
pub async fn raw_median(port: u16, concurrency: usize, secs: f64) -> f64 {
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        rates.push(raw_rate(port, concurrency, secs / RUNS as f64).await);
    }
    median(rates)
}

/// The ceiling's figures.
pub async fn raw(port: u16, secs: f64) -> Figures {
    let c1 = raw_median(port, 1, secs).await;
    let c16 = raw_median(port, 16, secs).await;
    let c256 = raw_median(port, 256, secs).await;
    Figures {
        c1,
        c16,
        c256,
        // Not measured call by call: the ceiling is a rate.
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        batch: None,
        chain: None,
    }
}
