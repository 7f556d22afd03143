//! The syntax tree of messages and expressions, one variant per wire form.

use crate::value::{BigInt, Bytes, Date, Number, Value};

/// One top-level protocol message. Ids are the sender's: its imports and its exports.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// `["push", expr]`: evaluate `expr`; its result gets the sender's next positive import id.
    Push(Expr),
    /// `["pull", importId]`: the sender wants the resolution of that import.
    Pull {
        /// The sender's import.
        import_id: i64,
    },
    /// `["resolve", exportId, expr]`.
    Resolve {
        /// The sender's export (a promise) that settled.
        export_id: i64,
        /// What it settled to.
        value: Expr,
    },
    /// `["reject", exportId, expr]`.
    Reject {
        /// The sender's export (a promise) that failed.
        export_id: i64,
        /// Why: usually an `["error", ...]`.
        error: Expr,
    },
    /// `["release", importId, refcount]`.
    Release {
        /// The sender's import it no longer needs.
        import_id: i64,
        /// How many references it drops (all it received).
        refcount: u64,
    },
    /// `["abort", expr]`: the sender ends the session with this error.
    Abort(Expr),
    /// `["stream", expr]`: like push, but pulled and released automatically, no pipelining.
    Stream(Expr),
    /// `["pipe"]`: creates a pipe with the sender's next positive import id.
    Pipe,
}

impl Message {
    /// Its kind.
    ///
    /// ```
    /// use capnweb::wire::{Message, MessageKind};
    /// assert_eq!(Message::Pull { import_id: 1 }.kind(), MessageKind::Pull);
    /// ```
    pub fn kind(&self) -> super::MessageKind {
        use super::MessageKind as K;
        match self {
            Message::Push(_) => K::Push,
            Message::Pull { .. } => K::Pull,
            Message::Resolve { .. } => K::Resolve,
            Message::Reject { .. } => K::Reject,
            Message::Release { .. } => K::Release,
            Message::Abort(_) => K::Abort,
            Message::Stream(_) => K::Stream,
            Message::Pipe => K::Pipe,
        }
    }
}

/// A property name or array index in a property path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathKey {
    /// A property name.
    Name(String),
    /// An array index.
    Index(u64),
}

impl PathKey {
    /// The key as a property name (indexes in decimal), as JavaScript would see it.
    pub fn to_name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            PathKey::Name(n) => std::borrow::Cow::Borrowed(n),
            PathKey::Index(i) => std::borrow::Cow::Owned(i.to_string()),
        }
    }
}

impl From<&str> for PathKey {
    fn from(s: &str) -> PathKey {
        PathKey::Name(s.to_owned())
    }
}

impl std::fmt::Display for PathKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_name())
    }
}

/// `["import", id, path?, args?]` or `["pipeline", id, path?, args?]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportExpr {
    /// The import id, from the sender's view.
    pub id: i64,
    /// The property path, if any.
    pub path: Option<Vec<PathKey>>,
    /// Call arguments, if the property is called.
    pub args: Option<Vec<Expr>>,
}

/// A capture of a `remap`: a stub from the sender's import or export table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// `["import", id]`.
    Import(i64),
    /// `["export", id]`.
    Export(i64),
}

/// `["remap", id, path, captures, instructions]`: the `map()` operation.
#[derive(Clone, Debug, PartialEq)]
pub struct RemapExpr {
    /// The import id of the value to map.
    pub id: i64,
    /// The property path to the value to map.
    pub path: Vec<PathKey>,
    /// The stubs the mapper captured.
    pub captures: Vec<Capture>,
    /// The mapper's instructions; the last one is its result.
    pub instructions: Vec<Expr>,
}

/// An expression: a JSON value where arrays carry a type code.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number; `["inf"]`, `["-inf"]`, `["nan"]` for the non-finite ones.
    Number(Number),
    /// A string.
    String(String),
    /// A string with an unpaired surrogate, as UTF-16 code units (see [`Value::Utf16`]).
    ///
    /// [`Value::Utf16`]: crate::Value::Utf16
    Utf16(Vec<u16>),
    /// `[[...]]`: an array of expressions.
    Array(Vec<Expr>),
    /// An object whose members are expressions.
    Object(Vec<(String, Expr)>),
    /// `["undefined"]`.
    Undefined,
    /// `["bigint", "digits"]`.
    BigInt(BigInt),
    /// `["date", ms]` (`null` for an invalid date).
    Date(Date),
    /// `["bytes", base64, type?]`.
    Bytes(Bytes),
    /// `["error", type, message, stack?, props?]`.
    Error(Box<ErrorExpr>),
    /// `["url", href]`.
    Url(String),
    /// `["regexp", source, flags?]`.
    RegExp(Box<crate::value::RegExp>),
    /// `["headers", [[name, value], ...]]`.
    Headers(Vec<(String, String)>),
    /// `["request", url, init]`; `init.body` is an expression.
    Request(Box<FetchExpr>),
    /// `["response", body, init]`.
    Response(Box<FetchExpr>),
    /// `["blob", type, readable]`.
    Blob(Box<BlobExpr>),
    /// `["import", ...]`: a stub on the sender's import table.
    Import(Box<ImportExpr>),
    /// `["pipeline", ...]`: a promise on the sender's import table.
    Pipeline(Box<ImportExpr>),
    /// `["remap", ...]`.
    Remap(Box<RemapExpr>),
    /// `["export", id]`: a stub the sender exports.
    Export(i64),
    /// `["promise", id]`: a promise the sender exports and will resolve.
    Promise(i64),
    /// `["writable", id]`.
    Writable(i64),
    /// `["readable", id]`.
    Readable(i64),
}

/// The members of `["error", ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorExpr {
    /// The class name.
    pub name: String,
    /// The message.
    pub message: String,
    /// The stack, if sent.
    pub stack: Option<String>,
    /// Extra properties, each an expression.
    pub props: Option<Vec<(String, Expr)>>,
}

/// The members of `["blob", type, content]`.
#[derive(Clone, Debug, PartialEq)]
pub struct BlobExpr {
    /// The MIME type.
    pub content_type: String,
    /// The bytes, as a stream: `["readable", id]`.
    pub content: Expr,
}

/// The members of `["request", url, init]` and `["response", body, init]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchExpr {
    /// The request's URL (empty for a response).
    pub url: String,
    /// The body expression: `init.body` of a request, the first member of a response.
    pub body: Option<Expr>,
    /// The other members of `init`, literal JSON.
    pub fields: Vec<(String, Value)>,
}
