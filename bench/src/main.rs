//! Side-by-side benchmarks, in one run on one machine: capnweb (Rust) against the TypeScript
//! reference (npm `capnweb` in Node), jsonrpsee, and a raw WebSocket echo with the same frame
//! pattern (the ceiling), plus the mixed pairs. See `bench/README.md`.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml` prints a table and writes
//! `bench/results.json`. `BENCH_SECS` sets the seconds per measurement (default 2).

mod ceilings;
mod clients;
mod servers;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use capnweb::transport::websocket::codec::Codec;
use clients::Figures;
use serde_json::json;

/// A server process; killed on drop.
/// With `--features mimalloc`, the servers (this binary's `serve`) allocate with mimalloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Process {
    child: Child,
    port: u16,
}

impl Process {
    fn start(mut cmd: Command) -> Process {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("LISTENING");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected LISTENING <port>, got {line:?}"));
        Process { child, port }
    }

    fn ours(kind: &str) -> Process {
        let exe = std::env::current_exe().expect("exe");
        let mut cmd = server_command(exe.to_str().expect("a UTF-8 path"));
        cmd.args(["serve", kind]);
        Process::start(cmd)
    }

    fn typescript() -> Process {
        let mut cmd = server_command("node");
        cmd.arg("ts-server.mjs").current_dir(node_dir());
        Process::start(cmd)
    }

    /// Resident memory, in KiB.
    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether servers and clients run on cores of their own (`BENCH_PIN=1`; by default wherever
/// the kernel puts them, as an application's would). Unpinned on a small machine, the kernel
/// sometimes runs a server and its client on one core, taking turns, while the other sits
/// idle: rates at 16 in flight can then swing by up to four times from one run to the next.
/// Pinned, every figure repeats within a few percent, but each process has one core only.
fn pinned() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2 && std::env::var("BENCH_PIN").is_ok_and(|v| v == "1") && has_taskset()
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A command that starts a server: on core 1 when pinned (clients run on core 0).
fn server_command(program: &str) -> Command {
    if pinned() {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "1", program]);
        cmd
    } else {
        Command::new(program)
    }
}

/// Pins this process (the runner, before its runtime starts any thread) to core 0.
fn pin_runner() {
    if pinned() {
        let pid = std::process::id().to_string();
        let pinned = Command::new("taskset")
            .args(["-p", "-c", "0", &pid])
            .stdout(Stdio::null())
            .status();
        assert!(pinned.is_ok_and(|s| s.success()), "taskset -p failed");
    }
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/node")
}

/// The TypeScript client's figures against a server at `port` (WebSocket and HTTP batch).
fn node_client(port: u16, secs: f64) -> Figures {
    node_client_at(port, port, secs, true)
}

/// The TypeScript client's figures against a WebSocket server at `ws_port` and an HTTP batch
/// server at `http_port`; without `chains` (against the raw echoes), no pipelined chains.
fn node_client_at(ws_port: u16, http_port: u16, secs: f64, chains: bool) -> Figures {
    let mut cmd = Command::new("node");
    cmd.args([
        "bench-client.mjs",
        &format!("ws://127.0.0.1:{ws_port}/"),
        &format!("http://127.0.0.1:{http_port}/"),
        &secs.to_string(),
    ]);
    if !chains {
        cmd.arg("no-chains");
    }
    let out = cmd
        .current_dir(node_dir())
        .stderr(Stdio::inherit())
        .output()
        .expect("node bench-client.mjs");
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("bench-client.mjs printed {text:?}: {e}"));
    Figures::from_json(&json)
}

/// What a server takes per idle WebSocket session, opened by our client in this process.
struct IdleMemory {
    /// Resident memory per open session, KiB.
    per_session_kib: f64,
    /// Resident memory once they all closed, over what it was before them.
    after_close_ratio: f64,
}

/// Sessions opened for [`idle_memory`]: `BENCH_IDLE_SESSIONS`, 10,000 by default.
fn idle_sessions() -> usize {
    std::env::var("BENCH_IDLE_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

/// The memory `server` takes per idle WebSocket session, and what it keeps once they close.
async fn idle_memory(server: &Process) -> IdleMemory {
    let url = format!("ws://127.0.0.1:{}/", server.port);
    // One session first, so that what is measured is the sessions, not the runtime warming up.
    let first: capnweb::Stub = capnweb::connect(&url).await.expect("connect");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = server.rss_kib().unwrap_or(0);
    let n = idle_sessions();
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        sessions.push(
            capnweb::connect::<capnweb::Stub>(&url)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let open = server.rss_kib().unwrap_or(0);
    drop(sessions);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let closed = server.rss_kib().unwrap_or(0);
    drop(first);
    IdleMemory {
        per_session_kib: open.saturating_sub(before) as f64 / n as f64,
        after_close_ratio: closed as f64 / before.max(1) as f64,
    }
}

/// Memory the capnweb server (`kind`) takes per idle WebSocket session.
async fn idle_session_kib(kind: &str) -> f64 {
    idle_memory(&Process::ours(kind)).await.per_session_kib
}

/// Prints the idle memory of our server with each codec and of the reference, side by side.
async fn print_idle_memory() {
    let n = idle_sessions();
    println!("memory per idle WebSocket session, {n} sessions, our client in this process:");
    let ours = idle_memory(&Process::ours("capnweb-codec")).await;
    let tungstenite = idle_memory(&Process::ours("capnweb")).await;
    let reference = idle_memory(&Process::typescript()).await;
    for (name, m) in [
        ("capnweb, built-in codec (default)", &ours),
        ("capnweb, tungstenite", &tungstenite),
        ("TypeScript reference on Node", &reference),
    ] {
        println!(
            "  {name:<36} {:6.1} KiB  ({:.2}x the reference); RSS after all closed {:.2}x before",
            m.per_session_kib,
            m.per_session_kib / reference.per_session_kib,
            m.after_close_ratio
        );
    }
}

fn cell(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), cell)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".into()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("serve") {
        pin_runner();
    }
    // `BENCH_SERVER_THREADS=1`: servers on a single-threaded runtime.
    let threads: usize = std::env::var("BENCH_SERVER_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut rt = if threads == 1 && args.get(1).map(String::as_str) == Some("serve") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let rt = rt.enable_all().build().expect("runtime");
    // Clients run in a task on a worker thread, as in an application: `block_on`'s own thread
    // parks and unparks more slowly (a fifth of the rate at 16 in flight, for every client).
    rt.block_on(async { tokio::spawn(run(args)).await.expect("benchmark task") });
}

async fn run(args: Vec<String>) {
    if args.get(1).map(String::as_str) == Some("serve") {
        match args.get(2).map(String::as_str) {
            Some("capnweb") => servers::capnweb(Codec::Tungstenite).await,
            Some("capnweb-codec") => servers::capnweb(Codec::Builtin).await,
            Some("jsonrpsee") => servers::jsonrpsee().await,
            Some("raw") => servers::raw().await,
            Some("raw-batch") => servers::raw_batch().await,
            Some("lean") => ceilings::lean_server().await,
            Some("codec") => ceilings::codec_server().await,
            other => panic!("unknown server {other:?}"),
        }
        return;
    }
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);

    // `BENCH_ONLY=node-ours`: only the TypeScript client against our server.
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "node-ours") {
        let server = Process::ours("capnweb");
        let f = node_client(server.port, secs);
        println!(
            "c1 {:.0} c16 {:.0} c256 {:.0} batch {:.0}",
            f.c1,
            f.c16,
            f.c256,
            f.batch.unwrap_or(0.0)
        );
        return;
    }
    // `BENCH_ONLY=idle`: only the memory per idle session.
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "idle") {
        print_idle_memory().await;
        return;
    }
    // `BENCH_ONLY=c256` (or any `c<N>`): our pair and the ceilings at N in flight (for profiling).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if let Some(n) = only.strip_prefix('c').and_then(|n| n.parse().ok()) {
        let ours = {
            let server = Process::ours("capnweb");
            clients::capnweb_rate(server.port, n, secs).await
        };
        let ours_codec = {
            let server = Process::ours("capnweb-codec");
            clients::capnweb_codec_rate(server.port, n, secs).await
        };
        let raw = {
            let server = Process::ours("raw");
            clients::raw_median(server.port, n, secs).await
        };
        let lean = {
            let server = Process::ours("lean");
            ceilings::median_rate(ceilings::lean_rate, server.port, n, secs).await
        };
        let codec = {
            let server = Process::ours("codec");
            ceilings::median_rate(ceilings::codec_rate, server.port, n, secs).await
        };
        println!(
            "c{n}: ours {ours:.0}, ours with the built-in codec {ours_codec:.0}, raw echo {raw:.0}, \
             lean echo {lean:.0}, codec echo {codec:.0}; ours / raw {:.2}, ours / lean {:.2}, \
             ours / codec {:.2}; built-in codec: / lean {:.2}, / codec {:.2}",
            ours / raw,
            ours / lean,
            ours / codec,
            ours_codec / lean,
            ours_codec / codec
        );
        return;
    }
    // `BENCH_ONLY=ours` measures only our pair (for quick comparisons while optimizing).
    let only_ours = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "ours");
    let mut rows: Vec<(&str, Figures)> = Vec::new();
    if only_ours {
        // `BENCH_PORT`: against a server already running (under a profiler, say).
        let external = std::env::var("BENCH_PORT")
            .ok()
            .and_then(|p| p.parse().ok());
        let server = external.is_none().then(|| Process::ours("capnweb"));
        let port = external.unwrap_or_else(|| server.as_ref().map_or(0, |s| s.port));
        let f = clients::capnweb(port, secs).await;
        println!(
            "c1 {:.0} c16 {:.0} c256 {:.0} p50 {:.0}us batch {:.0} chains {:.0}",
            f.c1,
            f.c16,
            f.c256,
            f.p50_us,
            f.batch.unwrap_or(0.0),
            f.chain.unwrap_or(0.0)
        );
        return;
    }
    {
        let server = Process::ours("capnweb");
        eprintln!("capnweb: Rust client -> Rust server");
        rows.push((
            "capnweb Rust -> Rust",
            clients::capnweb(server.port, secs).await,
        ));
        eprintln!("capnweb: TypeScript client -> Rust server");
        rows.push(("TS client -> Rust server", node_client(server.port, secs)));
    }
    {
        let server = Process::ours("capnweb-codec");
        eprintln!("capnweb: Rust client -> Rust server, built-in WebSocket codec");
        rows.push((
            "capnweb, built-in codec",
            clients::capnweb_codec(server.port, secs).await,
        ));
    }
    {
        let server = Process::typescript();
        eprintln!("TypeScript pair");
        rows.push(("TypeScript TS -> TS", node_client(server.port, secs)));
        eprintln!("Rust client -> TypeScript server");
        rows.push((
            "Rust client -> TS server",
            clients::capnweb(server.port, secs).await,
        ));
    }
    {
        let server = Process::ours("jsonrpsee");
        eprintln!("jsonrpsee");
        rows.push(("jsonrpsee", clients::jsonrpsee(server.port, secs).await));
    }
    {
        let server = Process::ours("raw");
        let batch_server = Process::ours("raw-batch");
        eprintln!("raw WebSocket echo");
        let mut ceiling = clients::raw(server.port, secs).await;
        ceiling.batch = Some(clients::batch_rate(batch_server.port, secs).await);
        rows.push(("raw WS echo (ceiling)", ceiling));
        eprintln!("TypeScript client -> raw echoes");
        rows.push((
            "TS client -> raw echo",
            node_client_at(server.port, batch_server.port, secs, false),
        ));
    }
    {
        let server = Process::ours("lean");
        eprintln!("lean tungstenite echo");
        rows.push((
            "tungstenite lean echo",
            ceilings::lean(server.port, secs).await,
        ));
    }
    {
        let server = Process::ours("codec");
        eprintln!("hand codec echo");
        rows.push(("hand codec echo", ceilings::codec(server.port, secs).await));
    }
    eprintln!("memory per idle session");
    let idle_kib = idle_session_kib("capnweb").await;
    let idle_codec_kib = idle_session_kib("capnweb-codec").await;

    let find = |name: &str| {
        rows.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.clone())
    };
    let ts = find("TypeScript TS -> TS").unwrap_or_default();
    let raw = find("raw WS echo (ceiling)").unwrap_or_default();

    println!(
        "\n{:<26} {:>9} {:>9} {:>9} {:>8} {:>8} {:>10} {:>9}   {:>9} {:>9} {:>9}",
        "calls/s (one WebSocket)",
        "c=1",
        "c=16",
        "c=256",
        "p50 us",
        "p99 us",
        "batch/s",
        "chains/s",
        "vs TS 256",
        "vs raw 16",
        "vs raw 256"
    );
    for (name, f) in &rows {
        println!(
            "{:<26} {:>9} {:>9} {:>9} {:>8} {:>8} {:>10} {:>9}   {:>9} {:>9} {:>9}",
            name,
            cell(f.c1),
            cell(f.c16),
            cell(f.c256),
            cell(f.p50_us),
            cell(f.p99_us),
            opt(f.batch),
            opt(f.chain),
            ratio(f.c256, ts.c256),
            ratio(f.c16, raw.c16),
            ratio(f.c256, raw.c256),
        );
    }
    println!(
        "\ncapnweb server memory per idle WebSocket session: {idle_kib:.1} KiB \
         ({idle_codec_kib:.1} KiB with the built-in codec)"
    );
    let targets = targets(&find, idle_kib);

    let results = json!({
        "seconds_per_measurement": secs,
        "machine": machine(),
        "pairs": rows.iter().map(|(n, f)| json!({"pair": n, "figures": f.to_json()})).collect::<Vec<_>>(),
        "idle_session_kib": idle_kib,
        "idle_session_kib_builtin_codec": idle_codec_kib,
        "targets": targets,
    });
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results.json");
    let text = serde_json::to_string_pretty(&results).expect("json");
    std::fs::write(&path, &text).expect("write results.json");
    println!("\n{text}");
}

/// The targets, as ratios of this run, printed and returned for the JSON.
fn targets(find: &dyn Fn(&str) -> Option<Figures>, idle_kib: f64) -> serde_json::Value {
    let get = |name: &str| find(name).unwrap_or_default();
    let (ours, raw) = (get("capnweb Rust -> Rust"), get("raw WS echo (ceiling)"));
    let (ts, mixed) = (get("TypeScript TS -> TS"), get("TS client -> Rust server"));
    let node_ceiling = get("TS client -> raw echo");
    let (lean, codec) = (get("tungstenite lean echo"), get("hand codec echo"));
    let builtin = get("capnweb, built-in codec");
    let div = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let batch = |f: &Figures| f.batch.unwrap_or(f64::NAN);
    let rows = [
        ("ours / raw echo, c=256", div(ours.c256, raw.c256), ">= 0.5"),
        ("ours / raw echo, c=16", div(ours.c16, raw.c16), ">= 0.6"),
        (
            "ours / lean tungstenite echo, c=256",
            div(ours.c256, lean.c256),
            ">= 0.9",
        ),
        (
            "ours / lean tungstenite echo, c=16",
            div(ours.c16, lean.c16),
            ">= 0.9",
        ),
        (
            "ours / hand codec echo, c=256",
            div(ours.c256, codec.c256),
            ">= 0.6",
        ),
        (
            "ours, built-in codec / hand codec echo, c=256",
            div(builtin.c256, codec.c256),
            ">= 0.6",
        ),
        (
            "ours, built-in codec / lean tungstenite echo, c=16",
            div(builtin.c16, lean.c16),
            ">= 0.9",
        ),
        (
            "TS client: our server / TS server, c=256",
            div(mixed.c256, ts.c256),
            ">= 2",
        ),
        (
            "TS client: raw echo / TS server, c=256 (most any server can reach)",
            div(node_ceiling.c256, ts.c256),
            "-",
        ),
        (
            "TS client: our server / TS server, batch",
            div(batch(&mixed), batch(&ts)),
            ">= 2",
        ),
        (
            "TS client: batch echo / TS server, batch (most any server can reach)",
            div(batch(&node_ceiling), batch(&ts)),
            "-",
        ),
    ];
    println!("\ntargets (ratios of this run)");
    for (what, value, target) in &rows {
        println!("  {what:<70} {value:>6.2}   target {target}");
    }
    println!(
        "  {:<70} {idle_kib:>6.1}   target < 16",
        "idle session, KiB"
    );
    json!(rows
        .iter()
        .map(|(what, value, target)| json!({"what": what, "ratio": value, "target": target}))
        .collect::<Vec<_>>())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}
