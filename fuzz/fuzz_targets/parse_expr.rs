//! Fuzzes `capnweb::wire::parse_expr` and the writer's round trip, as `parse_message.rs` does
//! for whole messages: an expression that parses is written with `write_expr`, and that text must
//! parse again and be written back identically.

#![no_main]

use capnweb::wire::{parse_expr, write_expr, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(expr) = parse_expr(text, &limits) else {
        return;
    };
    let mut written = String::new();
    write_expr(&mut written, &expr);
    // Only the size limit is lifted: the written text may be longer, never deeper.
    let relaxed = Limits {
        max_message_size: usize::MAX,
        ..limits
    };
    let again = match parse_expr(&written, &relaxed) {
        Ok(e) => e,
        Err(e) => panic!(
            "written expression does not parse again: {e}\n input:   {text}\n written: {written}"
        ),
    };
    let mut rewritten = String::new();
    write_expr(&mut rewritten, &again);
    assert!(
        written == rewritten,
        "round trip is not stable\n input:     {text}\n written:   {written}\n rewritten: {rewritten}"
    );
});
