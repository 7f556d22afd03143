//! TypeScript declarations from `#[rpc_interface(typescript)]` and `#[derive(TypeScript)]`:
//! a snapshot of every supported type, serde's attributes followed, and the real TypeScript
//! compiler (npm `typescript`, pinned) checking a program typed by them, `--strict`, before it
//! runs against our server.
// The types exist to be declared; printing them would add nothing.
#![allow(missing_debug_implementations)]
// `Everything` takes every kind of parameter, many at once.
#![allow(clippy::too_many_arguments)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use capnweb::typescript::{DeclarationError, Declarations, TypeScript};
use capnweb::{
    rpc_interface, BigInt, Blob, Bytes, Callback, Date, ErrorValue, JsOption, ReadableStream,
    RpcError, RpcPromise, Server, Value, WritableStream,
};
use capnweb_tests::node_dir;
use serde::{Deserialize, Serialize};

/// Every field kind, with serde's renames and optional members.
#[derive(Clone, Serialize, Deserialize, TypeScript)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// 64-bit integers travel as numbers.
    pub user_id: u64,
    pub display_name: String,
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(skip)]
    pub cache: u32,
    #[serde(rename = "ScoreByGame")]
    pub scores: BTreeMap<String, f64>,
    /// Renamed when read only: written under its own (camelCase) name.
    #[serde(rename(deserialize = "legacy_name"))]
    pub only_read_renamed: bool,
    pub position: (f64, f64),
    pub kind: Kind,
}

/// Unit variants: strings.
#[derive(Clone, Serialize, Deserialize, TypeScript)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Admin,
    RegularUser,
    #[serde(rename = "guest!")]
    Guest,
}

/// The default, external tagging.
#[derive(Serialize, Deserialize, TypeScript)]
pub enum Shape {
    Point,
    Circle(f64),
    Rect(f64, f64),
    Polygon { points: Vec<(f64, f64)> },
}

/// Internal tagging, with a renamed field in a struct variant and a flattened newtype.
#[derive(Serialize, Deserialize, TypeScript)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    Started,
    Moved { from_x: f64, to_x: f64 },
    Renamed(Profile),
}

/// Adjacent tagging.
#[derive(Serialize, Deserialize, TypeScript)]
#[serde(tag = "t", content = "c")]
pub enum Message {
    Ping,
    Text(String),
    Pair(u8, u8),
}

/// No tags at all.
#[derive(Serialize, Deserialize, TypeScript)]
#[serde(untagged)]
pub enum Loose {
    Number(f64),
    Words { words: Vec<String> },
    Nothing,
}

/// Flattened members, and a hand-given type.
#[derive(Serialize, Deserialize, TypeScript)]
pub struct Page {
    #[serde(flatten)]
    pub profile: Profile,
    #[serde(flatten)]
    pub extra: HashMap<String, String>,
    #[ts(type = "string")]
    pub when: String,
}

/// Newtypes, tuples and units are what serde makes of them.
#[derive(Serialize, Deserialize, TypeScript)]
pub struct UserId(pub u64);

#[derive(Serialize, Deserialize, TypeScript)]
pub struct Pair(pub String, pub Option<bool>);

#[derive(Serialize, Deserialize, TypeScript)]
#[serde(transparent)]
pub struct Wrapper {
    pub inner: Vec<UserId>,
}

/// A tree: a type that refers to itself is declared once.
#[derive(Serialize, Deserialize, TypeScript)]
#[ts(rename = "TreeNode")]
pub struct Tree {
    pub children: Vec<Tree>,
}

/// A struct tagged with its own (Rust) name, whatever TypeScript calls it.
#[derive(Serialize, Deserialize, TypeScript)]
#[serde(tag = "kind")]
#[ts(rename = "TaggedThing")]
pub struct Tagged {
    pub id: u32,
}

/// Items made by a `macro_rules!` derive as well.
macro_rules! declared {
    ($item:item) => {
        #[derive(Serialize, Deserialize, TypeScript)]
        $item
    };
}
declared!(
    pub struct FromMacro {
        pub inner: Vec<Kind>,
    }
);

#[rpc_interface(typescript)]
pub trait Everything {
    /// Numbers of every width, booleans, strings.
    async fn scalars(
        &self,
        a: i8,
        b: u16,
        c: i32,
        d: u64,
        e: usize,
        f: f32,
        g: bool,
        h: String,
        i: char,
    ) -> Result<f64, RpcError>;
    /// Wider than 64 bits: a bigint when it must be.
    async fn wide(&self, a: i128) -> Result<u128, RpcError>;
    async fn nothing(&self) -> Result<(), RpcError>;
    async fn options(
        &self,
        required: Option<u8>,
        js: JsOption<String>,
        trailing: Option<f64>,
        last: Option<bool>,
    ) -> Result<Option<Vec<u8>>, RpcError>;
    async fn collections(
        &self,
        list: Vec<String>,
        fixed: [u8; 3],
        tuple: (u8, String),
        map: HashMap<String, Vec<f64>>,
    ) -> Result<BTreeMap<String, bool>, RpcError>;
    async fn specials(
        &self,
        any: Value,
        date: Date,
        bytes: Bytes,
        big: BigInt,
        error: ErrorValue,
        blob: Blob,
    ) -> Result<Date, RpcError>;
    async fn streams(&self, input: ReadableStream, output: WritableStream) -> Result<(), RpcError>;
    async fn callbacks(&self, f: Callback<f64, String>) -> Result<RpcPromise<f64>, RpcError>;
    /// Another interface, and this one.
    async fn capabilities(&self, other: SideClient) -> Result<EverythingClient, RpcError>;
    async fn user_types(
        &self,
        profile: Profile,
        shape: Shape,
        event: Event,
        message: Message,
        loose: Loose,
        page: Page,
        id: UserId,
        pair: Pair,
        wrapper: Wrapper,
        tree: Tree,
        tagged: Tagged,
        from_macro: FromMacro,
    ) -> Result<Kind, RpcError>;
    /// Parameter names TypeScript reserves get a `_`.
    async fn reserved(&self, default: u8, new: u8, this: u8) -> Result<(), RpcError>;
    #[rpc(property)]
    async fn version(&self) -> Result<String, RpcError>;
    #[rpc(name = "with-dash")]
    async fn renamed(&self) -> Result<(), RpcError>;
}

/// Another interface, referred to by the first.
#[rpc_interface(typescript)]
pub trait Side {
    async fn ping(&self) -> Result<(), RpcError>;
}

fn snapshot_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/every_type.ts")
}

fn every_type_module() -> String {
    Declarations::new()
        .with::<EverythingClient>()
        .module()
        .unwrap()
}

/// The generated text is reviewed as a file: `UPDATE_SNAPSHOTS=1 cargo test --test typescript`
/// rewrites it after a deliberate change.
#[test]
fn the_module_for_every_supported_type_matches_its_snapshot() {
    let module = every_type_module();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot_path(), &module).unwrap();
    }
    let expected = std::fs::read_to_string(snapshot_path()).unwrap();
    assert_eq!(
        module, expected,
        "the generated module changed: review it, then UPDATE_SNAPSHOTS=1"
    );
}

#[test]
fn each_type_is_declared_once_in_name_order() {
    let module = every_type_module();
    for name in ["Profile", "Kind", "TreeNode", "Side", "Everything"] {
        assert_eq!(
            module.matches(&format!("export interface {name} ")).count()
                + module.matches(&format!("export type {name} ")).count(),
            1,
            "{name} in:\n{module}"
        );
    }
    let names: Vec<&str> = module
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Asking again, or in another order, gives the same text.
    let again = Declarations::new()
        .with::<SideClient>()
        .with::<EverythingClient>()
        .with::<Profile>()
        .module()
        .unwrap();
    assert_eq!(again, module);
}

#[test]
fn two_rust_types_with_one_typescript_name_are_an_error() {
    mod other {
        #[derive(capnweb::typescript::TypeScript)]
        #[allow(dead_code)]
        pub(super) struct Profile {
            pub(super) id: u8,
        }
    }
    let e = Declarations::new()
        .with::<Profile>()
        .with::<other::Profile>()
        .module()
        .unwrap_err();
    assert!(
        matches!(e, DeclarationError::NameClash { ref name, .. } if name == "Profile"),
        "{e}"
    );
}

/// Values as serde writes them (as JSON), each declared with the type generated for it: tsc
/// checks that what travels has the declared shape.
fn samples() -> String {
    let profile = Profile {
        user_id: 7,
        display_name: "Ann".into(),
        nickname: None,
        avatar: None,
        tags: vec!["a".into()],
        cache: 0,
        only_read_renamed: true,
        scores: BTreeMap::from([("chess".into(), 1.5)]),
        position: (1.0, 2.0),
        kind: Kind::RegularUser,
    };
    let json = |v: &dyn erased::Json| v.json();
    let mut out = String::from(
        "// Values as serde writes them, typed by the generated declarations.\nimport type * as T from './every_type.js';\n",
    );
    let samples: Vec<(&str, String)> = vec![
        ("T.Profile", json(&profile)),
        ("T.Kind", json(&Kind::Guest)),
        ("T.Shape", json(&Shape::Point)),
        ("T.Shape", json(&Shape::Circle(1.0))),
        ("T.Shape", json(&Shape::Rect(1.0, 2.0))),
        (
            "T.Shape",
            json(&Shape::Polygon {
                points: vec![(0.0, 1.0)],
            }),
        ),
        ("T.Event", json(&Event::Started)),
        (
            "T.Event",
            json(&Event::Moved {
                from_x: 1.0,
                to_x: 2.0,
            }),
        ),
        (
            "T.Event",
            json(&Event::Renamed(Profile {
                avatar: Some("x".into()),
                ..profile.clone()
            })),
        ),
        ("T.Message", json(&Message::Ping)),
        ("T.Message", json(&Message::Text("hi".into()))),
        ("T.Message", json(&Message::Pair(1, 2))),
        ("T.Loose", json(&Loose::Number(1.0))),
        ("T.Loose", json(&Loose::Words { words: vec![] })),
        // (`Loose::Nothing` is left out: serde_json writes a unit as `null`, our serializer as
        // the `undefined` the declaration says.)
        (
            "T.Page",
            json(&Page {
                profile: profile.clone(),
                extra: HashMap::from([("theme".into(), "dark".into())]),
                when: "now".into(),
            }),
        ),
        ("T.UserId", json(&UserId(3))),
        ("T.Pair", json(&Pair("x".into(), None))),
        (
            "T.Wrapper",
            json(&Wrapper {
                inner: vec![UserId(1)],
            }),
        ),
        (
            "T.TreeNode",
            json(&Tree {
                children: vec![Tree { children: vec![] }],
            }),
        ),
        ("T.TaggedThing", json(&Tagged { id: 1 })),
        (
            "T.FromMacro",
            json(&FromMacro {
                inner: vec![Kind::Admin],
            }),
        ),
    ];
    for (i, (ty, value)) in samples.iter().enumerate() {
        out.push_str(&format!("export const sample{i}: {ty} = {value};\n"));
    }
    out
}

mod erased {
    pub(crate) trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

/// The generated declarations, checked by the real TypeScript compiler with `--strict`, then a
/// program typed by them run against our server; misuse in it is marked `@ts-expect-error`, so
/// the build fails if the types stop catching it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_program_typed_by_the_generated_module_compiles_strict_and_runs() {
    let node = node_dir();
    let typed = node.join("typed");
    let generated = typed.join("generated");
    std::fs::create_dir_all(&generated).unwrap();
    std::fs::write(
        generated.join("interop.ts"),
        capnweb_examples::interop::typescript_module().unwrap(),
    )
    .unwrap();
    std::fs::write(generated.join("every_type.ts"), every_type_module()).unwrap();
    std::fs::write(generated.join("samples.ts"), samples()).unwrap();
    let tsc = tokio::process::Command::new(node.join("node_modules/.bin/tsc"))
        .args(["-p", "typed/tsconfig.json"])
        .current_dir(&node)
        .output()
        .await
        .expect("tsc (npm typescript) must be installed");
    assert!(
        tsc.status.success(),
        "tsc --strict refused the generated declarations or the program typed by them:\n{}{}",
        String::from_utf8_lossy(&tsc.stdout),
        String::from_utf8_lossy(&tsc.stderr)
    );

    let (addr, serve) = Server::bind("127.0.0.1:0")
        .listen(capnweb_examples::interop::test_target)
        .await
        .unwrap();
    let server = tokio::spawn(serve);
    let run = tokio::process::Command::new("node")
        .args(["--import", "./ws-global.mjs", "typed/out/client.js"])
        .arg(format!("ws://{addr}/"))
        .arg(format!("http://{addr}/"))
        .current_dir(&node)
        .output()
        .await
        .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("# done"),
        "the typed TypeScript program failed against our server:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(stdout.matches("ok - ").count(), 11, "{stdout}");
}
