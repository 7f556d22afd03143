//! Fuzzes a whole session, not only the parser: structured sequences of messages (pushes, pulls,
//! resolves, releases, pipes, streams, maps, aborts and garbage, with ids a peer may pick) are
//! fed to a server session serving the interop test object, or to a client session with calls
//! of its own pending.
//!
//! Asserted for every input: nothing panics; once the peer's end closes, the session ends
//! within a bound (no hang); no task outlives it; and every session core is freed (a reference
//! cycle through the tables shows as a count that does not return to zero). Run under
//! AddressSanitizer, LeakSanitizer reports any memory still held at exit.
//!
//! And what the peer made the session hold and spend is bounded by what it sent: the most
//! memory live at once (a counting allocator) by `HELD_PER_BYTE` times its bytes plus a
//! constant, and the time it took by a constant plus `MICROS_PER_BYTE` per byte. Some
//! messages build on earlier ones (a value wrapped around the last push, deeper each time;
//! a remap of the last result; a large literal pipelined on again and again), since an
//! amplification or a stack overflow may need many messages to show.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use capnweb::session::live_sessions;
use capnweb::transport::in_process;
use capnweb::wire::Limits;
use capnweb::{RpcSession, SessionOptions, Value};
use futures_util::SinkExt;
use libfuzzer_sys::fuzz_target;

/// Counts the bytes live, and the most live at once since the last `reset`.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator as received; only counts are kept
// besides (as bench/src/bin/allocs.rs does). Reallocation is the trait's default: through these.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most a session may hold at once per byte its peer sent, and besides (the runtime, the
/// test object, a few buffers).
const HELD_PER_BYTE: usize = 256;
const HELD_BASE: usize = 4 << 20;
/// The time a session may take per byte its peer sent (under AddressSanitizer), and besides.
const MICROS_PER_BYTE: u64 = 500;
const MICROS_BASE: u64 = 2_000_000;

/// Reads choices from the fuzzer's bytes (zeros once they run out).
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }
    fn below(&mut self, n: u8) -> u8 {
        self.byte() % n
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    /// An id as a peer may choose it: small, either sign.
    fn id(&mut self) -> i64 {
        i64::from(self.below(9)) - 4
    }
}

const NAMES: &[&str] = &[
    "echo",
    "square",
    "makeCounter",
    "callSquare",
    "callFunction",
    "incrementCounter",
    "readStream",
    "makeStream",
    "writeTo",
    "increment",
    "value",
    "generateFibonacci",
    "throwError",
    "result",
    "0",
];

fn path(c: &mut Choices) -> String {
    let n = c.below(3);
    let keys: Vec<String> = (0..n)
        .map(|_| match c.below(5) {
            0 => c.below(3).to_string(),
            _ => format!("\"{}\"", NAMES[usize::from(c.below(NAMES.len() as u8))]),
        })
        .collect();
    format!("[{}]", keys.join(","))
}

fn args(c: &mut Choices, depth: u8) -> String {
    let n = c.below(3);
    let items: Vec<String> = (0..n).map(|_| expr(c, depth + 1)).collect();
    format!("[{}]", items.join(","))
}

fn expr(c: &mut Choices, depth: u8) -> String {
    if depth > 4 {
        return c.byte().to_string();
    }
    match c.below(20) {
        0 => c.byte().to_string(),
        1 => "\"s\"".into(),
        2 => "null".into(),
        3 => format!("[{}]", args(c, depth)),
        4 => format!("{{\"a\":{},\"result\":{}}}", expr(c, depth + 1), expr(c, depth + 1)),
        5 => format!("[\"import\",{}]", c.id()),
        6 => format!("[\"pipeline\",{},{}]", c.id(), path(c)),
        7 => format!("[\"pipeline\",{},{},{}]", c.id(), path(c), args(c, depth)),
        8 => format!("[\"export\",{}]", c.id()),
        9 => format!("[\"promise\",{}]", c.id()),
        10 => format!("[\"writable\",{}]", c.id()),
        11 => format!("[\"readable\",{}]", c.id()),
        12 => format!(
            "[\"remap\",{},{},[[\"import\",{}]],[{}]]",
            c.id(),
            path(c),
            c.id(),
            expr(c, depth + 1)
        ),
        13 => "[\"error\",\"Error\",\"m\"]".into(),
        14 => "[\"date\",1]".into(),
        15 => "[\"bigint\",\"12\"]".into(),
        16 => "[\"bytes\",\"AAE=\"]".into(),
        17 => "\"a\\ud800\\udc00\\udfff\"".into(),
        18 => "[\"regexp\",\"^a\",\"g\",1]".into(),
        _ => "[\"undefined\"]".into(),
    }
}

/// `inner` wrapped in `n` arrays.
fn nested(n: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[[".repeat(n), "]]".repeat(n))
}

/// A message building on an earlier one: the push (or result) numbered `last`.
fn building(c: &mut Choices, last: i64) -> String {
    let deep = 1 + usize::from(c.byte());
    match c.below(5) {
        // The last push, wrapped deeper.
        0 => format!("[\"push\",{}]", nested(deep, &format!("[\"pipeline\",{last}]"))),
        // A remap of it, each element wrapped deeper.
        1 => format!(
            "[\"push\",[\"remap\",{last},[],[],[{}]]]",
            nested(deep, "[\"pipeline\",0]")
        ),
        // A large literal.
        2 => format!("[\"push\",[[{}]]]", vec!["1"; 64 * deep].join(",")),
        // The last push again, or a part of it, as a new export.
        3 => format!("[\"push\",[\"pipeline\",{last},[{}]]]", c.below(3)),
        // Handed to a call.
        _ => format!("[\"push\",[\"pipeline\",0,[\"echo\"],[[\"pipeline\",{last}]]]]"),
    }
}

fn message(c: &mut Choices) -> String {
    match c.below(11) {
        0 | 1 => format!("[\"push\",{}]", expr(c, 0)),
        2 => format!("[\"pull\",{}]", c.id()),
        3 => format!("[\"resolve\",{},{}]", c.id(), expr(c, 0)),
        4 => format!("[\"reject\",{},{}]", c.id(), expr(c, 0)),
        5 => format!("[\"release\",{},{}]", c.id(), c.below(3)),
        6 => format!("[\"stream\",{}]", expr(c, 0)),
        7 => "[\"pipe\"]".into(),
        8 => format!("[\"abort\",{}]", expr(c, 0)),
        9 => format!(
            "[\"push\",[\"pipeline\",0,[\"{}\"],{}]]",
            NAMES[usize::from(c.below(NAMES.len() as u8))],
            args(c, 0)
        ),
        _ => {
            // Raw text: garbage, or half a message.
            let n = usize::from(c.below(12));
            (0..n).map(|_| char::from(b' ' + c.below(95))).collect()
        }
    }
}

fn options() -> SessionOptions {
    // Small bounds, so that exhausting them is within a fuzzer's reach.
    SessionOptions::default().max_in_flight(8).limits(Limits {
        max_exports: 16,
        max_map_applications: 64,
        max_answer_bytes: 256 << 10,
        max_stream_buffer: 4096,
        ..Limits::default()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices(data);
    let client_side = c.below(2) == 1;
    let end_by_abort = c.below(4) == 0;
    let mut messages = Vec::new();
    // Pushes so far: the id of the last one, to build on.
    let mut pushes = 0;
    while !c.done() && messages.len() < 64 {
        let msg = match c.below(4) {
            0 if pushes > 0 => building(&mut c, pushes),
            _ => message(&mut c),
        };
        if msg.starts_with("[\"push\"") || msg.starts_with("[\"stream\"") || msg == "[\"pipe\"]" {
            pushes += 1;
        }
        messages.push(msg);
    }
    let sent: usize = messages.iter().map(String::len).sum();

    if std::env::var_os("CAPNWEB_FUZZ_PRINT").is_some() {
        // To see what an artifact sends: CAPNWEB_FUZZ_PRINT=1 cargo fuzz run session <file>
        eprintln!("client side: {client_side}, ends by abort: {end_by_abort}");
        messages.iter().for_each(|m| eprintln!("{m}"));
    }
    let before = live_sessions();
    let started = std::time::Instant::now();
    let held_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(held_before, Ordering::Relaxed);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (ours, mut theirs) = in_process::pair();
        let main = (!client_side).then(capnweb_examples::interop::test_target);
        let (session, run) = RpcSession::new(ours, main, options());
        let run = tokio::spawn(run);
        // A client has calls of its own waiting when the peer's messages come.
        let pending = client_side.then(|| {
            let m = session.main();
            (
                m.call("square", vec![Value::from(2)]),
                m.call("makeCounter", vec![Value::from(1)]).call("increment", vec![]),
            )
        });
        for msg in messages {
            if theirs.send(msg).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        if end_by_abort {
            session.abort(capnweb::RpcError::error("fuzz: abort"));
        }
        drop(theirs);
        // Time is paused: this elapses only once every task is idle, so a session still
        // running then is waiting for something that can never come.
        let ended = tokio::time::timeout(Duration::from_secs(60), run).await;
        assert!(ended.is_ok(), "the session did not end after its peer went away");
        if let Some((a, b)) = pending {
            let _ = tokio::time::timeout(Duration::from_secs(1), a.resolve()).await;
            drop(b);
        }
        drop(session);
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
    let held = PEAK.load(Ordering::Relaxed) - held_before;
    assert!(
        held <= HELD_BASE + HELD_PER_BYTE * sent,
        "{held} bytes held at once for {sent} bytes sent"
    );
    let took = started.elapsed();
    assert!(
        took <= Duration::from_micros(MICROS_BASE + MICROS_PER_BYTE * sent as u64),
        "{took:?} spent on {sent} bytes sent"
    );
    let alive = rt.metrics().num_alive_tasks();
    assert_eq!(alive, 0, "{alive} tasks outlived their session");
    drop(rt);
    let after = live_sessions();
    assert_eq!(after, before, "a session core was not freed");
});
