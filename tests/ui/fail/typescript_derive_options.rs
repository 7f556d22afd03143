use capnweb::typescript::TypeScript;

#[derive(serde::Serialize, TypeScript)]
pub struct Generic<T> {
    pub x: T,
}

#[derive(serde::Serialize, TypeScript)]
pub struct UnknownOption {
    #[ts(rename = "y")]
    pub x: u8,
}

fn main() {}
