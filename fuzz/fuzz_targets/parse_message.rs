//! Fuzzes `capnweb::wire::parse_message` and the writer's round trip.
//!
//! Any input may be rejected, but must not panic. An input that parses is written back with
//! `write_message`; that text must parse again and be written back identically (the writer's
//! output is a fixed point). The parsed messages themselves are not compared: the writer
//! normalises (`1.0` is written `1`, `Float(1e19)` comes back as `UInt`, `NaN != NaN`, ...), so
//! only the text is required to be stable.

#![no_main]

use capnweb::wire::{parse_message, write_message, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(msg) = parse_message(text, &limits) else {
        return;
    };
    let written = write_message(&msg);
    // The written text can be longer than the input (`1e20` is written out in full), so only the
    // size limit is lifted for the second parse; the nesting is the same as the input's.
    let relaxed = Limits {
        max_message_size: usize::MAX,
        ..limits
    };
    let again = match parse_message(&written, &relaxed) {
        Ok(m) => m,
        Err(e) => panic!(
            "written message does not parse again: {e}\n input:   {text}\n written: {written}"
        ),
    };
    let rewritten = write_message(&again);
    assert!(
        written == rewritten,
        "round trip is not stable\n input:     {text}\n written:   {written}\n rewritten: {rewritten}"
    );
});
