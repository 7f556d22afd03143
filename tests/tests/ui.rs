//! Compile-time behaviour of `#[rpc_interface]`: what it rejects, with which message and span
//! (expected output in `tests/ui/fail/*.stderr`), and generated code that survives a hostile
//! namespace (`tests/ui/pass`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
