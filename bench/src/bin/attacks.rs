//! Attacks against a real `interop_server` process, each measured by what the server held and
//! spent against what the attacker sent, while a well-behaved client keeps calling.
//!
//! ```sh
//! cargo build --release --example interop_server
//! cargo run --release --manifest-path bench/Cargo.toml --bin attacks -- \
//!     --server target/release/examples/interop_server [--only ping-flood,idle-sockets]
//! ```
//!
//! Every attack gets a fresh server (so a crash costs only its own row), sends raw frames over
//! 127.0.0.1 (WebSocket frames written by hand, HTTP/1.1 by hand), and is bounded in messages,
//! bytes and time. The server's resident memory is sampled every 50 ms; a server past
//! `--rss-cap-mib` (4096 by default) is killed, standing in for the OOM killer on a machine
//! that others share. See `bench/README.md`, "Under attack".

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capnweb_examples::interop::TestTargetClient;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The well-behaved client's pace: one call in flight, one every 10 ms.
const GOOD_PACE: Duration = Duration::from_millis(10);
/// How long the well-behaved client waits for one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a new user waits to connect and be answered.
const NEW_USER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest any one write of an attacker may block (a server that stops reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest an attack may take to reach the state it then holds.
const ATTACK_TIMEOUT: Duration = Duration::from_secs(25);
/// A receive buffer as small as the kernel allows: a peer that reads nothing takes little.
const TINY_RECV: u32 = 4096;

// ---------------------------------------------------------------------------------------------
// The server process and what it holds and spends.

struct ServerProcess {
    child: Child,
    port: u16,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Where it serves its metrics (`--metrics`), if asked to.
    metrics: Option<SocketAddr>,
}

impl ServerProcess {
    fn start(path: &PathBuf, with_metrics: bool) -> ServerProcess {
        let mut cmd = Command::new(path);
        cmd.args(["--port", "0"]);
        // A port free a moment ago (the server binds it itself).
        let metrics = with_metrics.then(|| {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address")
        });
        if let Some(at) = metrics {
            cmd.args(["--metrics", &at.to_string()]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("LISTENING");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected LISTENING <port>, got {line:?}"));
        // The last lines of its stderr: why it died, if it does (a stack overflow says so).
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == 4 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        ServerProcess {
            child,
            port,
            stderr_tail,
            metrics,
        }
    }

    /// The server's `capnweb_sessions_active{side="server"}`, from its metrics, if served.
    async fn live_sessions(&self) -> Option<f64> {
        let at = self.metrics?;
        let text = tokio::time::timeout(Duration::from_secs(5), async {
            let mut s = TcpStream::connect(at).await.ok()?;
            let get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            s.write_all(get.as_bytes()).await.ok()?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await.ok()?;
            Some(String::from_utf8_lossy(&answer).into_owned())
        })
        .await
        .ok()??;
        // No line at all: no session was ever counted.
        let line = text
            .lines()
            .find(|l| l.starts_with("capnweb_sessions_active{side=\"server\"}"));
        line.map_or(Some(0.0), |l| l.split_whitespace().last()?.parse().ok())
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while it runs; how it ended otherwise.
    fn ended(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        let how = match status.signal() {
            Some(libc::SIGKILL) => "SIGKILL".to_owned(),
            Some(libc::SIGABRT) => "SIGABRT".to_owned(),
            Some(libc::SIGSEGV) => "SIGSEGV".to_owned(),
            Some(s) => format!("signal {s}"),
            None => format!("exit {}", status.code().unwrap_or(-1)),
        };
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        Some(match tail.back() {
            Some(last) => format!("{how}: {}", last.chars().take(90).collect::<String>()),
            None => how,
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User and system CPU time of `pid`, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces): state is the first, utime the 12th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf reads a configuration value; no memory is handed over.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks as f64 / per_sec.max(1) as f64)
}

/// Samples a process's resident memory every 50 ms, keeping the peak, and kills the process
/// past `cap_kib` (so that an attack that would take the machine's memory takes 4 GiB).
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Sampled>,
}

/// What a [`Sampler`] saw: the peak resident memory in KiB, the last CPU time read (a process
/// killed has none to read at the end), and whether it was killed at the cap.
struct Sampled {
    peak_kib: u64,
    cpu: Option<f64>,
    capped: bool,
}

impl Sampler {
    fn start(pid: u32, cap_kib: u64) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Sampled {
                peak_kib: 0,
                cpu: None,
                capped: false,
            };
            // Bounded: at most ten minutes of samples, whatever the caller does.
            for _ in 0..12_000 {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Some(kib) = rss_kib(pid) else { break };
                seen.peak_kib = seen.peak_kib.max(kib);
                seen.cpu = cpu_secs(pid).or(seen.cpu);
                if kib > cap_kib && !seen.capped {
                    seen.capped = true;
                    // SAFETY: a signal to the server process this harness started.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            seen
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(Sampled {
            peak_kib: 0,
            cpu: None,
            capped: false,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The well-behaved client and the new user.

/// One call of the well-behaved client: when it started, how long it took, whether it worked.
type Sample = (Instant, Duration, bool);

/// The well-behaved client, on a thread and runtime of its own (so the attackers' work in this
/// process does not delay it): calls `square` at its pace, reconnecting after a failure, until
/// told to stop.
struct GoodClient {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

impl GoodClient {
    fn start(addr: SocketAddr) -> GoodClient {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(good_calls(addr, stopping))
        });
        GoodClient { stop, thread }
    }

    fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

async fn good_calls(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let url = format!("ws://{addr}/");
    let mut main: Option<TestTargetClient> = None;
    let mut samples = Vec::new();
    // Bounded: 100 calls a second for at most ten minutes.
    for i in 0..60_000u32 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let start = Instant::now();
        let ok = tokio::time::timeout(CALL_TIMEOUT, async {
            if main.is_none() {
                main = capnweb::connect::<TestTargetClient>(&url).await.ok();
            }
            match &main {
                Some(m) => {
                    m.square(f64::from(i % 100)).await.ok() == Some(f64::from(i % 100).powi(2))
                }
                None => false,
            }
        })
        .await
        .unwrap_or(false);
        if !ok {
            main = None;
        }
        samples.push((start, start.elapsed(), ok));
        tokio::time::sleep_until((start + GOOD_PACE).into()).await;
    }
    samples
}

/// A new user: a fresh WebSocket and one call. How long it took, or why it was refused.
async fn new_user(addr: SocketAddr) -> Result<Duration, String> {
    let start = Instant::now();
    let served = tokio::time::timeout(NEW_USER_TIMEOUT, async {
        let main: TestTargetClient = capnweb::connect(&format!("ws://{addr}/"))
            .await
            .map_err(|e| e.to_string())?;
        main.square(3.0).await.map_err(|e| e.to_string())
    })
    .await;
    match served {
        Ok(Ok(9.0)) => Ok(start.elapsed()),
        Ok(Ok(v)) => Err(format!("answered {v}")),
        Ok(Err(e)) if e.contains("503") => Err("503".into()),
        Ok(Err(e)) if e.contains("refused") || e.contains("reset") => Err("conn. refused".into()),
        Ok(Err(e)) => Err(e.chars().take(40).collect()),
        Err(_) => Err(format!("timeout {NEW_USER_TIMEOUT:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Raw peers: WebSocket frames and HTTP/1.1 written by hand.

/// What an attack leaves standing while the new user tries and the server is watched: its
/// connections (and tasks, aborted on drop), what it saw, and how long to hold.
struct Held {
    keep: Vec<Box<dyn Send>>,
    note: String,
    hold: Duration,
}

impl Held {
    fn new(note: impl Into<String>) -> Held {
        Held {
            keep: Vec::new(),
            note: note.into(),
            hold: Duration::from_secs(2),
        }
    }

    fn keep(mut self, thing: impl Send + 'static) -> Held {
        self.keep.push(Box::new(thing));
        self
    }

    fn hold(mut self, hold: Duration) -> Held {
        self.hold = hold;
        self
    }
}

/// A task aborted when dropped.
struct Task(tokio::task::JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The attacker's side: the server's address and every byte written to it.
struct Attacker {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
}

type Fallible<T> = Result<T, String>;

impl Attacker {
    async fn tcp(&self, recv_buffer: Option<u32>) -> Fallible<TcpStream> {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        if let Some(size) = recv_buffer {
            socket
                .set_recv_buffer_size(size)
                .map_err(|e| e.to_string())?;
        }
        let connect = tokio::time::timeout(WRITE_TIMEOUT, socket.connect(self.addr));
        connect
            .await
            .map_err(|_| "connect: timeout".to_owned())?
            .map_err(|e| format!("connect: {e}"))
    }

    /// Writes `bytes`, counting them as sent; an error once a write blocks for
    /// [`WRITE_TIMEOUT`].
    async fn write(&self, s: &mut (impl AsyncWriteExt + Unpin), bytes: &[u8]) -> Fallible<()> {
        // In pieces, so that what a server that stops reading took is counted.
        for piece in bytes.chunks(256 * 1024) {
            match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(piece)).await {
                Ok(Ok(())) => self.sent.fetch_add(piece.len() as u64, Ordering::Relaxed),
                Ok(Err(e)) => return Err(format!("write: {}", e.kind())),
                Err(_) => return Err("write blocked 5 s".into()),
            };
        }
        Ok(())
    }

    /// A WebSocket, upgraded by hand.
    async fn ws(&self, recv_buffer: Option<u32>) -> Fallible<TcpStream> {
        let mut s = self.tcp(recv_buffer).await?;
        let head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                    Sec-WebSocket-Version: 13\r\n\r\n";
        self.write(&mut s, head.as_bytes()).await?;
        let answer = read_head(&mut s).await?;
        if !answer.starts_with("HTTP/1.1 101") {
            return Err(format!("upgrade refused: {}", first_line(&answer)));
        }
        Ok(s)
    }

    async fn text(&self, s: &mut TcpStream, text: &str) -> Fallible<()> {
        self.write(s, &frame(0x1, text.as_bytes())).await
    }

    /// Many text messages in one write.
    async fn texts(
        &self,
        s: &mut TcpStream,
        texts: impl IntoIterator<Item = String>,
    ) -> Fallible<()> {
        let mut out = Vec::new();
        for t in texts {
            out.extend_from_slice(&frame(0x1, t.as_bytes()));
            if out.len() > 1 << 20 {
                self.write(s, &out).await?;
                out.clear();
            }
        }
        self.write(s, &out).await
    }

    /// An HTTP batch POSTed by hand; the connection, its answer unread.
    async fn post(&self, body: &[u8], recv_buffer: Option<u32>) -> Fallible<TcpStream> {
        let mut s = self.tcp(recv_buffer).await?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.write(&mut s, head.as_bytes()).await?;
        self.write(&mut s, body).await?;
        Ok(s)
    }
}

/// A client's frame: FIN, `opcode`, masked with a zero key (valid, and the payload unchanged).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame_head(opcode, payload.len() as u64);
    f.extend_from_slice(payload);
    f
}

fn frame_head(opcode: u8, len: u64) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match len {
        0..=125 => f.push(0x80 | len as u8),
        126..=0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            f.push(0x80 | 127);
            f.extend_from_slice(&len.to_be_bytes());
        }
    }
    f.extend_from_slice(&[0; 4]);
    f
}

/// An HTTP head, read within 10 s.
async fn read_head(s: &mut TcpStream) -> Fallible<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tokio::time::timeout_at(deadline, s.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            Ok(Ok(_)) => return Err("closed before an answer".into()),
            Ok(Err(e)) => return Err(format!("read: {}", e.kind())),
            Err(_) => return Err("no answer in 10 s".into()),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The next text message from the server (skipping control frames), within `within`; or why
/// there is none.
async fn next_text(s: &mut (impl AsyncRead + Unpin), within: Duration) -> Fallible<String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut message = Vec::new();
    // Bounded: a server sends at most so many frames before the deadline is checked again.
    for _ in 0..1_000_000 {
        let mut head = [0u8; 2];
        let read = tokio::time::timeout_at(deadline, s.read_exact(&mut head)).await;
        match read {
            Err(_) => return Err(format!("no answer in {within:?}")),
            Ok(Err(e)) => return Err(format!("connection {}", e.kind())),
            Ok(Ok(_)) => {}
        }
        let len = match head[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes(read_be::<2>(s).await?)),
            127 => u64::from_be_bytes(read_be::<8>(s).await?),
            n => u64::from(n),
        };
        if len > 64 << 20 {
            return Err(format!("a frame of {len} bytes"));
        }
        let mut payload = vec![0u8; len as usize];
        tokio::time::timeout_at(deadline, s.read_exact(&mut payload))
            .await
            .map_err(|_| format!("no answer in {within:?}"))?
            .map_err(|e| format!("connection {}", e.kind()))?;
        match head[0] & 0x0F {
            0x8 => {
                let code = payload
                    .get(..2)
                    .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
                let why = String::from_utf8_lossy(payload.get(2..).unwrap_or_default());
                return Err(format!("closed {code} {why}"));
            }
            0x1 | 0x0 => {
                message.extend_from_slice(&payload);
                if head[0] & 0x80 != 0 {
                    return Ok(String::from_utf8_lossy(&message).into_owned());
                }
            }
            _ => {} // ping, pong
        }
    }
    Err("too many frames".into())
}

async fn read_be<const N: usize>(s: &mut (impl AsyncRead + Unpin)) -> Fallible<[u8; N]> {
    let mut b = [0u8; N];
    s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
    Ok(b)
}

/// Reads and drops whatever the server sends on `reader`, counting it, until the connection
/// ends or the task is dropped.
fn drain(mut reader: impl AsyncRead + Unpin + Send + 'static, got: Arc<AtomicU64>) -> Task {
    Task(tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = reader.read(&mut buf).await {
            got.fetch_add(n as u64, Ordering::Relaxed);
        }
    }))
}

/// The first 100 characters of an answer.
fn brief(answer: &str) -> String {
    answer.chars().take(100).collect()
}

/// `inner` wrapped in `n` arrays, as the wire writes an array (`[[..]]`).
fn nested(n: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[[".repeat(n), "]]".repeat(n))
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

// ---------------------------------------------------------------------------------------------
// The attacks.

/// Attack 1a: remaps over the previous export, each wrapping it 200 arrays deeper: 40 messages.
async fn remap_nesting(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(None).await?;
    a.text(&mut ws, r#"["push",[[1]]]"#).await?;
    let rounds = 40;
    let wrap = nested(200, r#"["pipeline",0]"#);
    a.texts(
        &mut ws,
        (1..=rounds).map(|k| format!(r#"["push",["remap",{k},[],[],[{wrap}]]]"#)),
    )
    .await?;
    a.text(&mut ws, &format!(r#"["pull",{}]"#, rounds + 1))
        .await?;
    let answer = next_text(&mut ws, Duration::from_secs(10)).await;
    Ok(Held::new(format!("answer: {}", brief(&answer.unwrap_or_else(|e| e)))).keep(ws))
}

/// Attack 1b: one message of 63 remap instructions, each wrapping the one before 200 arrays deeper.
async fn remap_chain(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(None).await?;
    a.text(&mut ws, r#"["push",[[1]]]"#).await?;
    let instructions: Vec<String> = (0..63)
        .map(|i| nested(200, &format!(r#"["pipeline",{i}]"#)))
        .collect();
    let remap = format!(r#"["push",["remap",1,[],[],[{}]]]"#, instructions.join(","));
    a.text(&mut ws, &remap).await?;
    a.text(&mut ws, r#"["pull",2]"#).await?;
    let answer = next_text(&mut ws, Duration::from_secs(10)).await;
    Ok(Held::new(format!("answer: {}", brief(&answer.unwrap_or_else(|e| e)))).keep(ws))
}

/// A 1 MiB literal: 8 arrays of 65,536 one-digit numbers.
fn mib_literal() -> String {
    let part = (0..65_536)
        .map(|i| (i % 10).to_string())
        .collect::<Vec<_>>()
        .join(",");
    format!("[[{}]]", vec![format!("[[{part}]]"); 8].join(","))
}

/// Attack 2: a 1 MiB literal pushed once, then 20,000 pipelines on it and 20,000 path reads of it.
async fn pipeline_copies(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(None).await?;
    a.text(&mut ws, &format!(r#"["push",{}]"#, mib_literal()))
        .await?;
    let n = 20_000;
    a.texts(
        &mut ws,
        (0..n).flat_map(|i| {
            [
                r#"["push",["pipeline",1]]"#.to_owned(),
                format!(r#"["push",["pipeline",1,[{}]]]"#, i % 8),
            ]
        }),
    )
    .await?;
    // The last read, pulled: the server has taken every message once it answers.
    a.text(&mut ws, &format!(r#"["pull",{}]"#, 2 * n + 1))
        .await?;
    let answer = next_text(&mut ws, Duration::from_secs(15)).await;
    let note = match answer {
        Ok(t) => format!("last read answered ({} bytes)", t.len()),
        Err(e) => e,
    };
    Ok(Held::new(note).keep(ws))
}

/// Attack 3a: 9 WebSocket messages begun (a frame declaring 30 MB), 20 MB of each sent, never
/// finished.
async fn unfinished_messages(a: &Attacker) -> Fallible<Held> {
    let mut held = Held::new("");
    let mut stopped = Vec::new();
    for _ in 0..9 {
        let mut ws = a.ws(None).await?;
        let mut result = a.write(&mut ws, &frame_head(0x1, 30_000_000)).await;
        let piece = vec![b'a'; 1 << 20];
        for _ in 0..20 {
            if result.is_err() {
                break;
            }
            result = a.write(&mut ws, &piece).await;
        }
        if let Err(e) = result {
            stopped.push(e);
        }
        held = held.keep(ws);
    }
    held.note = match stopped.first() {
        Some(e) => format!("{} of 9 cut short: {e}", stopped.len()),
        None => "9 x 20 MB taken".into(),
    };
    Ok(held)
}

/// Attack 3b: a ping flood: 2.4 million pings of 125 bytes (324 MB), the pongs read.
async fn ping_flood(a: &Attacker) -> Fallible<Held> {
    let ws = a.ws(None).await?;
    let (reader, mut writer) = ws.into_split();
    let got = Arc::new(AtomicU64::new(0));
    let draining = drain(reader, got.clone());
    let burst: Vec<u8> = (0..1000).flat_map(|_| frame(0x9, &[b'p'; 125])).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut result = Ok(());
    for _ in 0..2_400 {
        if Instant::now() > deadline {
            result = Err("15 s spent".into());
            break;
        }
        result = a.write(&mut writer, &burst).await;
        if result.is_err() {
            break;
        }
    }
    let note = format!(
        "{:.0} MB of pongs back{}",
        mb(got.load(Ordering::Relaxed)),
        result
            .err()
            .map(|e| format!("; stopped: {e}"))
            .unwrap_or_default()
    );
    Ok(Held::new(note).keep(writer).keep(draining))
}

/// Attack 4a: 50 peers, each asking for 200 answers of ~95 KB (`generateFibonacci(10000)`), reading
/// nothing.
async fn never_reading_peers(a: &Attacker) -> Fallible<Held> {
    let mut held = Held::new("").hold(Duration::from_secs(8));
    let mut stopped = 0;
    for _ in 0..50 {
        let mut ws = a.ws(Some(TINY_RECV)).await?;
        let calls = (1..=200).flat_map(|k| {
            [
                r#"["push",["pipeline",0,["generateFibonacci"],[10000]]]"#.to_owned(),
                format!(r#"["pull",{k}]"#),
            ]
        });
        if a.texts(&mut ws, calls).await.is_err() {
            stopped += 1;
        }
        held = held.keep(ws);
    }
    held.note = format!("10,000 answers (~950 MB) asked for; {stopped} peers cut short");
    Ok(held)
}

/// A call that calls back the batch's client, handing the server the client's callback. (Alone
/// in a batch it fails at once, the client being unable to answer; after a write into a pipe
/// nobody reads, the batch stays open, holding it.)
const CALLS_BACK: &str = r#"["push",["pipeline",0,["callFunction"],[["export",-1],1]]]"#;

/// Attack 4b: 10 HTTP batches, each writing 12 MB into a `["pipe"]` nobody reads and waiting on a
/// call that calls back (so the batch stays open), their answers unread.
async fn batch_pipe_unread(a: &Attacker) -> Fallible<Held> {
    let chunk = format!(
        r#"["stream",["pipeline",1,["write"],["{}"]]]"#,
        "w".repeat(64 * 1024)
    );
    let writes = 12_000_000 / chunk.len();
    let mut lines = vec![r#"["pipe"]"#.to_owned()];
    lines.extend(std::iter::repeat_n(chunk, writes));
    lines.push(CALLS_BACK.to_owned());
    lines.push(format!(r#"["pull",{}]"#, writes + 2));
    let body = lines.join("\n");
    let mut held = Held::new("").hold(Duration::from_secs(3));
    for _ in 0..10 {
        let s = a.post(body.as_bytes(), Some(TINY_RECV)).await?;
        held = held.keep(s);
    }
    held.note = format!("10 x {:.0} MB of pipe writes", mb(body.len() as u64));
    Ok(held)
}

/// The most file descriptors this process may open (raised to the hard limit at start).
fn fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, which lives through the call.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok {
        limit.rlim_cur
    } else {
        1024
    }
}

/// Raises this process's soft limit of open files to its hard limit (the server, started
/// from here, inherits it).
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes, and setrlimit reads, the struct they are given, which lives
    // through both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Attack 4c: 10,000 idle WebSockets (fewer if the fd limit is lower), held 6 s; then a new user.
async fn idle_sockets(a: &Attacker) -> Fallible<Held> {
    let n = 10_000.min(fd_limit().saturating_sub(300) as usize);
    let deadline = Instant::now() + Duration::from_secs(15);
    let opened: Vec<Fallible<TcpStream>> = futures_util::stream::iter(0..n)
        .map(|_| async {
            if Instant::now() > deadline {
                return Err("15 s spent".to_owned());
            }
            a.ws(Some(TINY_RECV)).await
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let first_error = opened.iter().find_map(|r| r.as_ref().err().cloned());
    let sockets: Vec<TcpStream> = opened.into_iter().filter_map(Result::ok).collect();
    // Idle for longer than the new server's reclaim_idle_after (5 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let note = format!(
        "{} of {n} upgraded{}",
        sockets.len(),
        first_error
            .map(|e| format!(", then: {e}"))
            .unwrap_or_default()
    );
    Ok(Held::new(note).keep(sockets))
}

/// Attack 5: 2,000 HTTP batches (the 20 found, x100, to show in memory) that export a callback to
/// `callFunction`, kept open by a write into a pipe, and disconnect before the answer.
async fn abandoned_callbacks(a: &Attacker) -> Fallible<Held> {
    let body = [
        r#"["pipe"]"#,
        r#"["stream",["pipeline",1,["write"],["x"]]]"#,
        CALLS_BACK,
        r#"["pull",3]"#,
    ]
    .join("\n");
    let mut errors = 0;
    for _wave in 0..40 {
        let mut wave = Vec::new();
        for _ in 0..50 {
            match a.post(body.as_bytes(), None).await {
                Ok(s) => wave.push(s),
                Err(_) => errors += 1,
            }
        }
        // Time for the calls to start; then every client goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(wave);
    }
    Ok(Held::new(format!(
        "2,000 batches abandoned ({errors} failed to send)"
    )))
}

/// Attack 6a: 20,000 path reads, `["pipeline",1,[i]]`, on a stored array of a million numbers.
async fn path_reads(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(None).await?;
    let million = (0..1_000_000)
        .map(|i| (i % 10).to_string())
        .collect::<Vec<_>>()
        .join(",");
    a.text(&mut ws, &format!(r#"["push",[[{million}]]]"#))
        .await?;
    let n = 20_000;
    a.texts(
        &mut ws,
        (0..n).map(|i| format!(r#"["push",["pipeline",1,[{i}]]]"#)),
    )
    .await?;
    a.text(&mut ws, &format!(r#"["pull",{}]"#, n + 1)).await?;
    let note = match next_text(&mut ws, Duration::from_secs(15)).await {
        Ok(t) => format!("last read: {}", brief(&t)),
        Err(e) => e,
    };
    Ok(Held::new(note).keep(ws))
}

/// Attack 6b: one 20 KB remap (1,000 instructions) over 20,000 elements.
async fn heavy_remap(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(None).await?;
    let elements = (0..20_000)
        .map(|i| (i % 10).to_string())
        .collect::<Vec<_>>();
    a.text(&mut ws, &format!(r#"["push",[[{}]]]"#, elements.join(",")))
        .await?;
    let heavy = vec![r#"["pipeline",0]"#; 1_000].join(",");
    a.text(&mut ws, &format!(r#"["push",["remap",1,[],[],[{heavy}]]]"#))
        .await?;
    a.text(&mut ws, r#"["pull",2]"#).await?;
    let note = match next_text(&mut ws, Duration::from_secs(15)).await {
        Ok(t) => format!("answer: {}", brief(&t)),
        Err(e) => e,
    };
    Ok(Held::new(note).keep(ws))
}

/// Attack 7a: pings to a peer that never reads: up to 1.2 million (160 MB) in 12 s.
async fn pings_unread(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(Some(TINY_RECV)).await?;
    let burst: Vec<u8> = (0..1000).flat_map(|_| frame(0x9, &[b'p'; 125])).collect();
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut note = "1.2 million pings taken".to_owned();
    for _ in 0..1_200 {
        if Instant::now() > deadline {
            note = "12 s spent".into();
            break;
        }
        if let Err(e) = a.write(&mut ws, &burst).await {
            note = format!("stopped: {e}");
            break;
        }
    }
    Ok(Held::new(note).keep(ws))
}

/// A batch asking for a 100 KB value `n` times (pushed once, pipelined on `n` times).
fn asking_again(n: usize) -> String {
    let mut lines = vec![format!(r#"["push","{}"]"#, "v".repeat(100_000))];
    lines.extend((0..n).map(|_| r#"["push",["pipeline",1]]"#.to_owned()));
    lines.extend((2..=n + 1).map(|i| format!(r#"["pull",{i}]"#)));
    lines.join("\n")
}

/// Attack 7b: 4 batches each asking for a 100 KB value 5,000 times (500 MB of answer each), the
/// answers never read.
async fn batch_answer_unread(a: &Attacker) -> Fallible<Held> {
    let body = asking_again(5_000);
    let mut held = Held::new("4 x 500 MB of answers asked for").hold(Duration::from_secs(5));
    for _ in 0..4 {
        held = held.keep(a.post(body.as_bytes(), Some(TINY_RECV)).await?);
    }
    Ok(held)
}

/// Attack 7c: a read burst of pulls: a 100 KB value, then 10,000 pipelines on it, each pulled, in
/// one write; nothing read.
async fn pull_burst(a: &Attacker) -> Fallible<Held> {
    let mut ws = a.ws(Some(TINY_RECV)).await?;
    let mut texts = vec![format!(r#"["push","{}"]"#, "v".repeat(100_000))];
    for k in 2..=10_001 {
        texts.push(r#"["push",["pipeline",1]]"#.to_owned());
        texts.push(format!(r#"["pull",{k}]"#));
    }
    let mut burst = Vec::new();
    for t in &texts {
        burst.extend_from_slice(&frame(0x1, t.as_bytes()));
    }
    let note = match a.write(&mut ws, &burst).await {
        Ok(()) => "1 GB of answers asked for in one write".to_owned(),
        Err(e) => format!("stopped: {e}"),
    };
    Ok(Held::new(note).keep(ws).hold(Duration::from_secs(5)))
}

/// Attack 8: chunks of one kind written into a `["pipe"]` nobody reads, up to 250 MB in 15 s (the
/// server's answers read).
async fn pipe_chunks(a: &Attacker, chunk: String) -> Fallible<Held> {
    let ws = a.ws(None).await?;
    let (reader, mut writer) = ws.into_split();
    let got = Arc::new(AtomicU64::new(0));
    let draining = drain(reader, got.clone());
    a.write(&mut writer, &frame(0x1, br#"["pipe"]"#)).await?;
    let write = frame(
        0x1,
        format!(r#"["stream",["pipeline",1,["write"],[{chunk}]]]"#).as_bytes(),
    );
    let burst: Vec<u8> = (0..32).flat_map(|_| write.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let start = a.sent.load(Ordering::Relaxed);
    let mut note = String::new();
    // Bounded: 250 MB, or 15 s.
    while a.sent.load(Ordering::Relaxed) - start < 250_000_000 {
        if Instant::now() > deadline {
            note = "15 s spent; ".into();
            break;
        }
        if let Err(e) = a.write(&mut writer, &burst).await {
            note = format!("stopped: {e}; ");
            break;
        }
    }
    note += &format!("{:.1} MB of answers", mb(got.load(Ordering::Relaxed)));
    Ok(Held::new(note).keep(writer).keep(draining))
}

async fn regexp_chunks(a: &Attacker) -> Fallible<Held> {
    pipe_chunks(a, format!(r#"["regexp","{}","g"]"#, "a".repeat(30_000))).await
}

async fn utf16_chunks(a: &Attacker) -> Fallible<Held> {
    pipe_chunks(a, format!(r#""{}x""#, "\\ud800".repeat(5_000))).await
}

async fn error_prop_chunks(a: &Attacker) -> Fallible<Held> {
    let props = format!(r#"{{"detail":"{}"}}"#, "p".repeat(30_000));
    pipe_chunks(a, format!(r#"["error","Error","m",null,{props}]"#)).await
}

/// Attack 10: a batch of 50,000 calls (and their pulls) spelled so that a count by prefix misses
/// them; the answer read.
async fn batch_spelled(a: &Attacker, push: &str, pull: &str) -> Fallible<Held> {
    let n = 50_000;
    let mut lines: Vec<String> = (0..n)
        .map(|i| format!(r#"[{push},["pipeline",0,["square"],[{i}]]]"#))
        .collect();
    lines.extend((1..=n).map(|k| format!("[{pull},{k}]")));
    let mut s = a.post(lines.join("\n").as_bytes(), None).await?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    let note = format!(
        "{}, {} answer bytes{}",
        first_line(&text),
        answer.len(),
        if read.is_err() {
            " (15 s, still reading)"
        } else {
            ""
        }
    );
    Ok(Held::new(note).keep(s))
}

async fn batch_spaced(a: &Attacker) -> Fallible<Held> {
    batch_spelled(a, r#" "push""#, r#" "pull""#).await
}

async fn batch_escaped(a: &Attacker) -> Fallible<Held> {
    batch_spelled(a, r#""\u0070ush""#, r#""\u0070ull""#).await
}

// ---------------------------------------------------------------------------------------------
// The runner.

type AttackFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Fallible<Held>> + 'a>>;
type AttackFn = for<'a> fn(&'a Attacker) -> AttackFuture<'a>;

/// An attack's entry: its function, boxed.
macro_rules! attack {
    ($name:literal, $label:literal, $f:ident) => {
        ($name, $label, Some(|a| Box::pin($f(a))))
    };
}

/// Every attack: its name on the command line, its row's label, and the attack (`None`: not
/// runnable against interop_server; the reason is the label).
// One line per attack, as a table.
#[rustfmt::skip]
const ATTACKS: &[(&str, &str, Option<AttackFn>)] = &[
    attack!("remap-nesting",   "1a remaps nesting 200 deeper x40",          remap_nesting),
    attack!("remap-chain",     "1b 63 chained remap instructions",          remap_chain),
    attack!("pipeline-copies", "2 1 MiB literal, 40,000 pipelines",         pipeline_copies),
    attack!("unfinished",      "3a 9 messages of 30 MB left unfinished",    unfinished_messages),
    attack!("ping-flood",      "3b ping flood (pongs read)",                ping_flood),
    attack!("never-read",      "4a 50 peers, large answers, never read",    never_reading_peers),
    attack!("batch-pipe",      "4b 10 batches writing to an unread pipe",   batch_pipe_unread),
    attack!("idle-sockets",    "4c 10,000 idle WebSockets, new user",       idle_sockets),
    attack!("abandoned",       "5 2,000 batches abandoned with a callback", abandoned_callbacks),
    attack!("path-reads",      "6a 20,000 path reads on a 1M array",        path_reads),
    attack!("heavy-remap",     "6b 1,000-instruction remap x 20,000",       heavy_remap),
    attack!("pings-unread",    "7a pings, peer never reads",                pings_unread),
    attack!("batch-unread",    "7b 4 batch answers (500 MB) unread",        batch_answer_unread),
    attack!("pull-burst",      "7c read burst: 10,000 pulls of 100 KB",     pull_burst),
    attack!("regexp",          "8 RegExp chunks into an unread pipe",       regexp_chunks),
    attack!("utf16",           "8 UTF-16 chunks into an unread pipe",       utf16_chunks),
    attack!("error-props",     "8 Error-props chunks into an unread pipe",  error_prop_chunks),
    ("origin", "9 refused Origin upgrade: skipped, interop_server serves cors([\"*\"]) with no \
                flag to narrow it", None),
    attack!("batch-spaced",    "10 batch of 50,000 `[ \"push\"` calls",     batch_spaced),
    attack!("batch-escaped",   "10 batch of 50,000 `\"\\u0070ush\"` calls", batch_escaped),
];

struct Row {
    label: String,
    sent: u64,
    peak_mib: f64,
    /// `None` once the server is gone.
    kept_mib: Option<f64>,
    cpu: f64,
    survived: String,
    new_user: String,
    latency: String,
    note: String,
}

/// p50/p99 in ms of the calls started `during` the attack that were answered, and how many
/// of all those started failed (an error, or no answer within [`CALL_TIMEOUT`]).
fn latency_cell(samples: &[Sample], during: std::ops::Range<Instant>) -> String {
    let during: Vec<&Sample> = samples.iter().filter(|s| during.contains(&s.0)).collect();
    let mut ms: Vec<f64> = during
        .iter()
        .filter(|s| s.2)
        .map(|s| s.1.as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let failed = during.len() - ms.len();
    let mut cell = match ms.len() {
        0 => "none answered".to_owned(),
        n => {
            let at = |q: f64| ms[((n as f64 * q) as usize).min(n - 1)];
            format!("{:.2} / {:.2}", at(0.5), at(0.99))
        }
    };
    if failed > 0 {
        cell += &format!(" ({failed} of {} failed)", during.len());
    }
    cell
}

struct Options {
    server: PathBuf,
    only: Option<Vec<String>>,
    cap_kib: u64,
    /// How long after the attacker goes "kept" is read.
    settle: Duration,
    /// Whether to start the server with `--metrics` (a build with the `metrics` feature) and
    /// read its live sessions then too.
    metrics: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let Some(server) = value("--server") else {
        eprintln!(
            "usage: attacks --server <interop_server binary> [--only name,name] [--rss-cap-mib N] \
             [--settle-secs S] [--metrics]\n\
             attacks: {}",
            ATTACKS.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
        );
        std::process::exit(2);
    };
    Options {
        server: PathBuf::from(server),
        only: value("--only").map(|o| o.split(',').map(str::to_owned).collect()),
        cap_kib: value("--rss-cap-mib")
            .and_then(|v| v.parse().ok())
            .unwrap_or(4096)
            * 1024,
        metrics: args.iter().any(|a| a == "--metrics"),
        settle: Duration::from_secs_f64(
            value("--settle-secs")
                .and_then(|v| v.parse().ok())
                .unwrap_or(3.0),
        ),
    }
}

/// A fresh server, the well-behaved client calling from half a second before `attack` starts;
/// then the attack, a new user, the hold, and the figures (`attack` `None`: the baseline).
async fn measure(opts: &Options, label: &str, attack: Option<AttackFn>) -> Row {
    let mut server = ServerProcess::start(&opts.server, opts.metrics);
    let pid = server.pid();
    let sampler = Sampler::start(pid, opts.cap_kib);
    let good = GoodClient::start(server.addr());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = rss_kib(pid).unwrap_or(0);
    let cpu0 = cpu_secs(pid).unwrap_or(0.0);
    let since = Instant::now();
    let attacker = Attacker {
        addr: server.addr(),
        sent: Arc::new(AtomicU64::new(0)),
    };
    let (held, new_user) = match attack {
        Some(attack) => {
            let held = match tokio::time::timeout(ATTACK_TIMEOUT, attack(&attacker)).await {
                Ok(Ok(held)) => held,
                Ok(Err(e)) => Held::new(e),
                Err(_) => Held::new(format!("gave up after {ATTACK_TIMEOUT:?}")),
            };
            let new_user = match new_user(server.addr()).await {
                Ok(took) if took > Duration::from_secs(1) => {
                    format!("no ({:.1} s)", took.as_secs_f64())
                }
                Ok(_) => "no".to_owned(),
                Err(why) => format!("yes ({why})"),
            };
            (held, new_user)
        }
        // The baseline: the well-behaved client alone for 3 s.
        None => (Held::new("").hold(Duration::from_secs(3)), "no".to_owned()),
    };
    tokio::time::sleep(held.hold).await;
    let Held { keep, note, .. } = held;
    drop(keep);
    let until = Instant::now();
    // Time to give back what the attack's connections held.
    tokio::time::sleep(opts.settle).await;
    let kept = rss_kib(pid);
    let sessions = server.live_sessions().await;
    let samples = good.finish();
    let cpu = cpu_secs(pid);
    let seen = sampler.finish();
    let cpu = cpu.or(seen.cpu).unwrap_or(cpu0) - cpu0;
    let survived = match (seen.capped, server.ended()) {
        (true, _) => format!("no (killed at the {} MiB cap)", opts.cap_kib / 1024),
        (false, Some(how)) => format!("no ({how})"),
        (false, None) => "yes".to_owned(),
    };
    Row {
        label: label.to_owned(),
        sent: attacker.sent.load(Ordering::Relaxed),
        peak_mib: seen.peak_kib.saturating_sub(rss0) as f64 / 1024.0,
        kept_mib: kept.map(|k| (k as f64 - rss0 as f64) / 1024.0),
        cpu,
        survived,
        new_user,
        latency: latency_cell(&samples, since..until),
        note: match sessions {
            // The well-behaved client's own session is still open then.
            Some(n) => format!("{note}; server sessions open once settled: {n}"),
            None => note,
        },
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

fn main() {
    raise_fd_limit();
    let opts = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let baseline = measure(&opts, "baseline (no attack)", None).await;
        // Each attack's label, and its figures (none when skipped).
        let mut rows = Vec::new();
        for (name, label, attack) in ATTACKS {
            if opts
                .only
                .as_ref()
                .is_some_and(|o| !o.iter().any(|n| n == name))
            {
                continue;
            }
            let row = match attack {
                Some(attack) => {
                    eprintln!("running {name}...");
                    Some(measure(&opts, label, Some(*attack)).await)
                }
                None => None,
            };
            rows.push((*label, row));
        }
        let base = &baseline.latency;
        println!(
            "| attack | sent | server RSS growth MiB, peak (kept) | held/sent | server CPU s \
             | survived | new users refused | good p50/p99 ms (baseline {base}) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (label, row) in std::iter::once((baseline.label.as_str(), Some(&baseline)))
            .chain(rows.iter().map(|(l, r)| (*l, r.as_ref())))
        {
            let Some(r) = row else {
                println!("| {label} | | | | | | | |");
                continue;
            };
            let ratio = if r.sent == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}", r.peak_mib * 1024.0 * 1024.0 / r.sent as f64)
            };
            println!(
                "| {} | {} | {:.1} ({}) | {} | {:.2} | {} | {} | {} |",
                r.label,
                size(r.sent),
                r.peak_mib,
                r.kept_mib.map_or("-".to_owned(), |k| format!("{k:.1}")),
                ratio,
                r.cpu,
                r.survived,
                r.new_user,
                r.latency
            );
        }
        println!();
        println!("What each attacker saw:");
        for r in rows.iter().filter_map(|(_, r)| r.as_ref()) {
            println!("- {}: {}", r.label, r.note);
        }
    });
}
