//! Helpers shared by the integration tests: the Node harness and the canonical `describe()`
//! of a value (the same format as `node/describe.mjs`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use capnweb::{Number, Value};

pub mod faulty {
    //! The interface of `bin/fault_server.rs`, the server process the fault tests kill.
    #![allow(missing_docs)]
    use capnweb::{rpc_interface, RpcError, WritableStream};

    #[rpc_interface]
    pub trait Faulty {
        /// A side effect: must never run twice for one call.
        async fn bump(&self, tag: f64) -> Result<f64, RpcError>;
        /// Safe to repeat.
        #[rpc(idempotent)]
        async fn ping(&self) -> Result<f64, RpcError>;
        /// Records `tag` (logged as `RAN <tag>`), answering at once; safe to repeat.
        #[rpc(idempotent)]
        async fn record(&self, tag: f64) -> Result<f64, RpcError>;
        /// The peer address the server saw for this session.
        async fn peer(&self) -> Result<String, RpcError>;
        /// Answers after the delay, changing nothing: a slow read.
        #[rpc(idempotent)]
        async fn read(&self) -> Result<f64, RpcError>;
        /// A new stream (getting it changes nothing); each number written to it is a side
        /// effect (logged as `RAN <n>`).
        #[rpc(idempotent)]
        async fn sink(&self) -> Result<WritableStream, RpcError>;
        /// Joins the room `name` (logged as `JOINED <name>`): `listener` hears each post to it
        /// from then on. Safe to repeat: the room is found again by its name.
        #[rpc(idempotent)]
        async fn join(
            &self,
            name: String,
            listener: ListenerClient,
        ) -> Result<RoomClient, RpcError>;
    }

    /// A room of `Faulty::join`, in the server process's memory.
    #[rpc_interface]
    pub trait Room {
        /// Posts `tag` to the room (a side effect, logged as `RAN <tag>`) and, after the
        /// server's delay, tells each listener.
        async fn post(&self, tag: f64) -> Result<f64, RpcError>;
    }

    /// A member's callback, served by the client.
    #[rpc_interface]
    pub trait Listener {
        async fn heard(&self, tag: f64) -> Result<(), RpcError>;
    }
}
use serde_json::{json, Value as Json};

/// The folder of the Node harness, with its packages installed: the first call runs `npm ci`
/// there (pinned by `package-lock.json`) if they are missing.
pub fn node_dir() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
    INSTALLED.get_or_init(|| {
        if dir.join("node_modules/capnweb/package.json").exists()
            && dir.join("node_modules/ws/package.json").exists()
            && dir.join("node_modules/typescript/package.json").exists()
        {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) must be installed to run the interop tests");
        assert!(status.success(), "`npm ci` failed in {}", dir.display());
    });
    dir
}

/// Builds the `interop_server` example without any feature of `capnweb-examples` (whatever the
/// test was built with), and returns the path of its executable, as cargo reports it.
pub fn build_interop_server() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .args(["-p", "capnweb-examples", "--example", "interop_server"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building interop_server failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "interop_server")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}

/// A running `node ts-server.mjs` (the reference server); killed on drop.
#[derive(Debug)]
pub struct TsServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl TsServer {
    /// Starts the reference server and waits for `LISTENING <port>`.
    pub fn start() -> TsServer {
        let mut child = Command::new("node")
            .arg("ts-server.mjs")
            .current_dir(node_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the interop tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("read LISTENING");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected `LISTENING <port>`, got {line:?}"));
        TsServer { child, port }
    }
}

impl Drop for TsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The canonical description of a value, as `describe()` in `node/describe.mjs`.
pub fn describe(v: &Value) -> Json {
    match v {
        Value::Null => json!({"t": "null"}),
        Value::Undefined => json!({"t": "undefined"}),
        Value::Bool(b) => json!({"t": "bool", "v": b}),
        Value::Number(n) => json!({"t": "number", "v": js_number(*n)}),
        Value::String(s) => json!({"t": "string", "v": s}),
        Value::Utf16(units) => json!({"t": "string", "utf16": units}),
        Value::BigInt(b) => json!({"t": "bigint", "v": b.as_str()}),
        Value::Date(d) => json!({"t": "date", "v": d.millis().map(|m| m as i64)}),
        Value::Bytes(b) => {
            let kind = (b.kind != capnweb::ByteKind::Uint8Array).then(|| b.kind.name());
            let hex: String = b.data.iter().map(|x| format!("{x:02x}")).collect();
            json!({"t": "bytes", "kind": kind, "hex": hex})
        }
        Value::Error(e) => {
            let props: serde_json::Map<String, Json> = e
                .props
                .iter()
                .map(|(k, v)| (k.clone(), describe(v)))
                .collect();
            json!({"t": "error", "name": e.name, "message": e.message, "props": props})
        }
        Value::Array(a) => json!({"t": "array", "v": a.iter().map(describe).collect::<Vec<_>>()}),
        Value::Url(u) => json!({"t": "url", "v": u}),
        Value::Headers(h) => {
            json!({"t": "headers", "v": h.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()})
        }
        Value::Object(o) => {
            json!({"t": "object", "v": o.iter().map(|(k, v)| json!([k, describe(v)])).collect::<Vec<_>>()})
        }
        other => json!({"t": "other", "v": other.kind_name()}),
    }
}

/// A number as JavaScript's `String(n)` writes it.
pub fn js_number(n: Number) -> String {
    let f = n.as_f64();
    if let Some(i) = n.as_i64() {
        if (i as f64) == f && i.unsigned_abs() < (1 << 53) && !(f == 0.0 && f.is_sign_negative()) {
            return i.to_string();
        }
    }
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // JavaScript: decimal notation for 1e-7 < |f| < 1e21, exponent with a sign otherwise.
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        let s = format!("{f}");
        return s;
    }
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    format!(
        "{mantissa}e{}{}",
        if exp >= 0 { "+" } else { "-" },
        exp.abs()
    )
}

/// Runs `node golden.mjs` on JSON lines and returns its answers, one per line.
pub fn golden(requests: &[Json]) -> Vec<Json> {
    use std::io::Write;
    let mut child = Command::new("node")
        .arg("golden.mjs")
        .current_dir(node_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node must be installed");
    let mut stdin = child.stdin.take().expect("piped");
    for r in requests {
        writeln!(stdin, "{r}").expect("write to node");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("node output");
    assert!(out.status.success(), "golden.mjs failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("golden.mjs writes JSON lines"))
        .collect()
}

/// A running `bin/fault_server` process, and the tags of the calls it ran (read from its own
/// log, not from what clients report). Killed on drop.
#[derive(Debug)]
pub struct FaultServer {
    child: tokio::process::Child,
    /// The port it listens on.
    pub port: u16,
    ran: std::sync::Arc<std::sync::Mutex<Vec<u32>>>,
    joined: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FaultServer {
    /// Starts one (`exe`: the tests' `env!("CARGO_BIN_EXE_fault_server")`) on `port` (0 for
    /// any) with these extra arguments, once it listens.
    pub async fn start(exe: &str, port: u16, args: &[&str]) -> FaultServer {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut child = tokio::process::Command::new(exe)
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("fault_server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the server starts")
            .expect("reads")
            .expect("a line");
        let port = first
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected LISTENING, got {first}"));
        let ran = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let joined = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (log, joins) = (ran.clone(), joined.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(tag) = line.strip_prefix("RAN ").and_then(|t| t.parse().ok()) {
                    log.lock().unwrap().push(tag);
                } else if line.starts_with("JOINED ") {
                    joins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        FaultServer {
            child,
            port,
            ran,
            joined,
        }
    }

    /// How many times a room was joined on it.
    pub fn joined(&self) -> usize {
        self.joined.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The tags it ran, in order.
    pub fn ran(&self) -> Vec<u32> {
        let mut ran = self.ran.lock().unwrap().clone();
        ran.sort_unstable();
        ran
    }

    /// Kills it with SIGKILL and waits for it.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }

    /// Sends it SIGTERM (it drains, then exits), without waiting.
    pub fn sigterm(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Sends it SIGTERM (it drains, then exits) and waits for it to exit.
    pub async fn terminate(&mut self) {
        self.sigterm();
        let _ = self.child.wait().await;
    }
}
