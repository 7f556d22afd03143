struct Plain;

fn main() {
    let _ = capnweb::Stub::new(Plain);
}
