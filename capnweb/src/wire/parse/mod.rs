//! Parsing JSON text straight into [`Message`] and [`Expr`], with the receive-side limits.
//!
//! serde_json drives the parse; our seeds build the tree and count depth themselves (an escaped
//! array counts once, as in the reference), so serde_json's own recursion limit is disabled. Every
//! seed refuses to descend past the depth limit, so a hostile nesting stops within a bounded
//! stack. Typed errors are kept in a side slot because serde's error type only carries strings.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::expr::{
    BlobExpr, Capture, ErrorExpr, Expr, FetchExpr, ImportExpr, Message, PathKey, RemapExpr,
};
use super::{utf16, Limits, WireError};
use crate::value::{BigInt, ByteKind, Bytes, Date, Number, Object, Value};

/// Parses one message, enforcing `limits`.
///
/// ```
/// use capnweb::wire::{parse_message, Limits, Message};
/// let msg = parse_message(r#"["pull", 1]"#, &Limits::default()).unwrap();
/// assert_eq!(msg, Message::Pull { import_id: 1 });
/// assert!(parse_message(r#"["pull", "x"]"#, &Limits::default()).is_err());
/// ```
pub fn parse_message(text: &str, limits: &Limits) -> Result<Message, WireError> {
    // (With less depth allowed than a simple message may reach, the full parser decides.)
    if text.len() <= limits.max_message_size && limits.max_depth >= simple::DEPTH {
        if let Some(msg) = simple::parse(text) {
            return Ok(msg);
        }
    }
    run(text, limits, |ctx, de| MessageSeed { ctx }.deserialize(de))
}

/// Parses one expression (the form a `push` carries), enforcing `limits`.
///
/// ```
/// use capnweb::wire::{parse_expr, Expr, Limits};
/// let e = parse_expr(r#"[["a", ["undefined"]]]"#, &Limits::default()).unwrap();
/// assert_eq!(e, Expr::Array(vec![Expr::String("a".into()), Expr::Undefined]));
/// ```
pub fn parse_expr(text: &str, limits: &Limits) -> Result<Expr, WireError> {
    run(text, limits, |ctx, de| {
        ExprSeed { ctx, depth: 0 }.deserialize(de)
    })
}

type JsonDe<'t> = serde_json::Deserializer<serde_json::de::StrRead<'t>>;

/// What parses one message or expression, on a deserializer the caller made.
trait Parse<T>: Fn(&Ctx, &mut JsonDe<'_>) -> Result<T, serde_json::Error> {}
impl<T, F: Fn(&Ctx, &mut JsonDe<'_>) -> Result<T, serde_json::Error>> Parse<T> for F {}

fn run<T>(text: &str, limits: &Limits, parse: impl Parse<T>) -> Result<T, WireError> {
    if text.len() > limits.max_message_size {
        return Err(WireError::TooLarge {
            size: text.len(),
            limit: limits.max_message_size,
        });
    }
    let ctx = Ctx {
        limits: *limits,
        error: RefCell::new(None),
        marked: false,
    };
    match parse_with(text, &ctx, &parse) {
        Err(e) if ctx.error.borrow().is_none() && utf16::is_surrogate_error(&e) => {
            // A JavaScript string with an unpaired surrogate: parsed again from a marked copy
            // (see `utf16`). Rare, so the common parse pays nothing for it.
            let ctx = Ctx {
                marked: true,
                ..ctx
            };
            let marked = utf16::mark_unpaired(text);
            parse_with(&marked, &ctx, &parse).map_err(|e| ctx.failure(&e))
        }
        result => result.map_err(|e| ctx.failure(&e)),
    }
}

fn parse_with<T>(text: &str, ctx: &Ctx, parse: &impl Parse<T>) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    // Our seeds bound the depth (see the module doc), so serde_json's limit is not needed.
    de.disable_recursion_limit();
    parse(ctx, &mut de).and_then(|v| de.end().map(|()| v))
}

struct Ctx {
    limits: Limits,
    error: RefCell<Option<WireError>>,
    /// Parsing a copy with unpaired surrogates marked: strings are unmarked as they are read.
    marked: bool,
}

impl Ctx {
    fn failure(&self, e: &serde_json::Error) -> WireError {
        self.error
            .borrow_mut()
            .take()
            .unwrap_or(WireError::Json(e.to_string()))
    }

    /// A string where only Unicode fits (a key, a name): unpaired surrogates become U+FFFD.
    #[inline]
    fn text(&self, s: String) -> String {
        if self.marked {
            utf16::unmark_lossy(&s)
        } else {
            s
        }
    }

    /// A string value: UTF-16 code units if it holds an unpaired surrogate.
    #[inline]
    fn string(&self, s: String) -> Expr {
        if !self.marked {
            return Expr::String(s);
        }
        match utf16::unmark(&s) {
            Ok(s) => Expr::String(s),
            Err(units) => Expr::Utf16(units),
        }
    }
    /// Records a typed error (the first one wins) and returns serde's stand-in for it.
    fn fail<E: de::Error>(&self, err: WireError) -> E {
        let text = err.to_string();
        self.error.borrow_mut().get_or_insert(err);
        E::custom(text)
    }

    fn check_depth<E: de::Error>(&self, depth: usize) -> Result<(), E> {
        if depth >= self.limits.max_depth {
            Err(self.fail(WireError::TooDeep {
                limit: self.limits.max_depth,
            }))
        } else {
            Ok(())
        }
    }
}

/// Implements every `visit_*` of a visitor as a typed failure, so that nothing is descended into.
macro_rules! refuse_all {
    ($self:ident, $err:expr) => {
        refuse_scalars!($self, $err);
        fn visit_seq<A: SeqAccess<'de>>($self, _: A) -> Result<Self::Value, A::Error> { Err($err) }
        fn visit_map<A: MapAccess<'de>>($self, _: A) -> Result<Self::Value, A::Error> { Err($err) }
    };
}

/// Like `refuse_all!`, for visitors that accept arrays (`seq`) or objects (`map`) themselves.
macro_rules! refuse_but {
    (seq, $self:ident, $err:expr) => {
        refuse_scalars!($self, $err);
        fn visit_map<A: MapAccess<'de>>($self, _: A) -> Result<Self::Value, A::Error> { Err($err) }
    };
    (map, $self:ident, $err:expr) => {
        refuse_scalars!($self, $err);
        fn visit_seq<A: SeqAccess<'de>>($self, _: A) -> Result<Self::Value, A::Error> { Err($err) }
    };
}

macro_rules! refuse_scalars {
    ($self:ident, $err:expr) => {
        fn visit_bool<E: de::Error>($self, _: bool) -> Result<Self::Value, E> { Err($err) }
        fn visit_i64<E: de::Error>($self, _: i64) -> Result<Self::Value, E> { Err($err) }
        fn visit_u64<E: de::Error>($self, _: u64) -> Result<Self::Value, E> { Err($err) }
        fn visit_f64<E: de::Error>($self, _: f64) -> Result<Self::Value, E> { Err($err) }
        fn visit_str<E: de::Error>($self, _: &str) -> Result<Self::Value, E> { Err($err) }
        fn visit_unit<E: de::Error>($self) -> Result<Self::Value, E> { Err($err) }
    };
}

/// For visitors that accept only arrays: everything else is "not an array".
macro_rules! refuse_all_but_seq {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(self.not_array())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(self.not_array())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(self.not_array())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(self.not_array())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(self.not_array())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(self.not_array())
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(self.not_array())
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Messages

struct MessageSeed<'c> {
    ctx: &'c Ctx,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = Message;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Message, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message, A::Error> {
        let ctx = self.ctx;
        let bad = |detail: &str| ctx.fail(WireError::message("message", detail));
        let tag: Cow<'de, str> = match seq.next_element_seed(StrSeed {
            ctx,
            kind: "message",
        })? {
            Some(t) => t,
            None => return Err(bad("empty array")),
        };
        let expr = |seq: &mut A| -> Result<Expr, A::Error> {
            seq.next_element_seed(ExprSeed { ctx, depth: 0 })?
                .ok_or_else(|| ctx.fail(WireError::message(&tag, "missing expression")))
        };
        let id = |seq: &mut A| -> Result<i64, A::Error> {
            seq.next_element_seed(IdSeed { ctx, kind: &tag })?
                .ok_or_else(|| ctx.fail(WireError::message(&tag, "missing id")))
        };
        let msg = match &*tag {
            "push" => Message::Push(expr(&mut seq)?),
            "stream" => Message::Stream(expr(&mut seq)?),
            "abort" => Message::Abort(expr(&mut seq)?),
            "pull" => Message::Pull {
                import_id: id(&mut seq)?,
            },
            "resolve" => {
                let i = id(&mut seq)?;
                Message::Resolve {
                    export_id: i,
                    value: expr(&mut seq)?,
                }
            }
            "reject" => {
                let i = id(&mut seq)?;
                Message::Reject {
                    export_id: i,
                    error: expr(&mut seq)?,
                }
            }
            "release" => {
                let i = id(&mut seq)?;
                let n = seq
                    .next_element_seed(IdSeed { ctx, kind: &tag })?
                    .ok_or_else(|| ctx.fail(WireError::message(&tag, "missing refcount")))?;
                let n = u64::try_from(n)
                    .map_err(|_| ctx.fail(WireError::message(&tag, "negative refcount")))?;
                Message::Release {
                    import_id: i,
                    refcount: n,
                }
            }
            "pipe" => Message::Pipe,
            _ => return Err(ctx.fail(WireError::UnknownMessage(truncate(&tag)))),
        };
        // As the reference: members after those a message needs are ignored (a newer peer's).
        skip_rest(seq, ctx, 1)?;
        Ok(msg)
    }

    refuse_all_but_seq!();
}

impl MessageSeed<'_> {
    fn not_array<E: de::Error>(&self) -> E {
        self.ctx
            .fail(WireError::message("message", "a message must be an array"))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Requires that `seq` has no more elements.
fn end<'de, A: SeqAccess<'de>>(
    mut seq: A,
    ctx: &Ctx,
    err: impl Fn() -> WireError,
) -> Result<(), A::Error> {
    match seq.next_element_seed(Refuse { ctx, err: &err })? {
        None => Ok(()),
        Some(()) => Err(ctx.fail(err())),
    }
}

/// Skips whatever elements `seq` has left, nested at `depth`.
fn skip_rest<'de, A: SeqAccess<'de>>(mut seq: A, ctx: &Ctx, depth: usize) -> Result<(), A::Error> {
    while seq.next_element_seed(Skip { ctx, depth })?.is_some() {}
    Ok(())
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

mod expr_seed;
mod scalars;
mod simple;

use expr_seed::ExprSeed;
use scalars::{IdSeed, PathSeed, Refuse, Skip, StrSeed};
