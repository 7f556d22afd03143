//! The expression seed: one JSON value into one [`Expr`], with the depth rule.

use super::*;

/// An expression at `depth` (0 for a message's top-level expression).
pub(super) struct ExprSeed<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) depth: usize,
}

impl<'de> DeserializeSeed<'de> for ExprSeed<'_> {
    type Value = Expr;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Expr, D::Error> {
        self.ctx.check_depth(self.depth)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ExprSeed<'_> {
    type Value = Expr;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an expression")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Expr, E> {
        Ok(Expr::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Expr, E> {
        Ok(Expr::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Expr, E> {
        Ok(Expr::Number(Number::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Expr, E> {
        Ok(Expr::Number(Number::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Expr, E> {
        Ok(Expr::Number(Number::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Expr, E> {
        Ok(self.ctx.string(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Expr, E> {
        Ok(self.ctx.string(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expr, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let key = self.ctx.text(key);
            let value = map.next_value_seed(ExprSeed {
                ctx: self.ctx,
                depth: self.depth + 1,
            })?;
            members.push((key, value));
        }
        Ok(Expr::Object(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Expr, A::Error> {
        let ctx = self.ctx;
        match seq.next_element_seed(HeadSeed {
            ctx,
            depth: self.depth,
        })? {
            None => Err(ctx.fail(WireError::UnknownExpression("[]".into()))),
            Some(Head::Array(items)) => {
                end(seq, ctx, || {
                    WireError::UnknownExpression("array with more than one member".into())
                })?;
                Ok(Expr::Array(items))
            }
            Some(Head::Tag(tag)) => Tagged {
                ctx,
                depth: self.depth,
                tag: &tag,
            }
            .parse(seq),
        }
    }
}

/// The first member of an array expression: a type code, or the array an escape wraps.
enum Head<'de> {
    Tag(Cow<'de, str>),
    Array(Vec<Expr>),
}

struct HeadSeed<'c> {
    ctx: &'c Ctx,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for HeadSeed<'_> {
    type Value = Head<'de>;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Head<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for HeadSeed<'_> {
    type Value = Head<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a type code or an escaped array")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Head<'de>, E> {
        Ok(Head::Tag(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Head<'de>, E> {
        Ok(Head::Tag(Cow::Owned(s.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Head<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ExprSeed {
            ctx: self.ctx,
            depth: self.depth + 1,
        })? {
            items.push(item);
        }
        Ok(Head::Array(items))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Head<'de>, E> {
        Err(self.unknown(&v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Head<'de>, E> {
        Err(self.unknown(&v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Head<'de>, E> {
        Err(self.unknown(&v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Head<'de>, E> {
        Err(self.unknown(&v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Head<'de>, E> {
        Err(self.unknown("null"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Head<'de>, A::Error> {
        Err(self.unknown("{...}"))
    }
}

impl HeadSeed<'_> {
    fn unknown<E: de::Error>(&self, first: &str) -> E {
        self.ctx
            .fail(WireError::UnknownExpression(format!("[{first}, ...]")))
    }
}

/// The members after a type code.
struct Tagged<'c, 't> {
    ctx: &'c Ctx,
    depth: usize,
    tag: &'t str,
}

impl Tagged<'_, '_> {
    fn bad<E: de::Error>(&self, detail: &str) -> E {
        self.ctx.fail(WireError::expr(self.tag, detail))
    }

    fn string<'de, A: SeqAccess<'de>>(&self, seq: &mut A) -> Result<Option<String>, A::Error> {
        Ok(seq
            .next_element_seed(StrSeed {
                ctx: self.ctx,
                kind: self.tag,
            })?
            .map(Cow::into_owned))
    }

    fn required_string<'de, A: SeqAccess<'de>>(
        &self,
        seq: &mut A,
        what: &str,
    ) -> Result<String, A::Error> {
        self.string(seq)?
            .ok_or_else(|| self.bad(&format!("missing {what}")))
    }

    fn id<'de, A: SeqAccess<'de>>(&self, seq: &mut A) -> Result<i64, A::Error> {
        seq.next_element_seed(IdSeed {
            ctx: self.ctx,
            kind: self.tag,
        })?
        .ok_or_else(|| self.bad("missing id"))
    }

    fn inner<'de, A: SeqAccess<'de>>(&self, seq: &mut A) -> Result<Option<Expr>, A::Error> {
        seq.next_element_seed(ExprSeed {
            ctx: self.ctx,
            depth: self.depth + 1,
        })
    }

    fn parse<'de, A: SeqAccess<'de>>(self, mut seq: A) -> Result<Expr, A::Error> {
        let ctx = self.ctx;
        let expr = match self.tag {
            "undefined" => Expr::Undefined,
            "inf" => Expr::Number(Number::Float(f64::INFINITY)),
            "-inf" => Expr::Number(Number::Float(f64::NEG_INFINITY)),
            "nan" => Expr::Number(Number::Float(f64::NAN)),
            "bigint" => {
                let digits = self.required_string(&mut seq, "digits")?;
                let count = digits.trim_start_matches('-').len();
                if count > ctx.limits.max_bigint_digits {
                    return Err(ctx.fail(WireError::BigIntTooLong {
                        digits: count,
                        limit: ctx.limits.max_bigint_digits,
                    }));
                }
                Expr::BigInt(
                    digits
                        .parse::<BigInt>()
                        .map_err(|_| self.bad("expected -?[0-9]+"))?,
                )
            }
            "date" => {
                let ms = seq
                    .next_element_seed(DateSeed { tagged: &self })?
                    .ok_or_else(|| self.bad("missing time"))?;
                Expr::Date(ms)
            }
            "bytes" => {
                let b64 = self.required_string(&mut seq, "base64 data")?;
                let data = BASE64
                    .decode(b64.trim_end_matches('='))
                    .map_err(|_| self.bad("invalid base64"))?;
                let kind = match self.string(&mut seq)? {
                    None => ByteKind::Uint8Array,
                    Some(name) => ByteKind::from_name(&name).ok_or_else(|| {
                        self.bad(&format!("unknown type marker {}", truncate(&name)))
                    })?,
                };
                if data.len() % kind.element_size() != 0 {
                    return Err(self.bad(&format!(
                        "{} bytes is not a whole number of {} elements",
                        data.len(),
                        kind.name()
                    )));
                }
                Expr::Bytes(Bytes { data, kind })
            }
            "error" => {
                let name = self.required_string(&mut seq, "type")?;
                let message = self.required_string(&mut seq, "message")?;
                let stack = match seq.next_element::<Option<String>>() {
                    Ok(s) => s.flatten(),
                    Err(_) => return Err(self.bad("the stack must be a string or null")),
                };
                let props = seq.next_element_seed(ObjectSeed {
                    ctx,
                    depth: self.depth,
                })?;
                Expr::Error(Box::new(ErrorExpr {
                    name,
                    message,
                    stack,
                    props,
                }))
            }
            "url" => Expr::Url(self.required_string(&mut seq, "href")?),
            "regexp" => {
                let source = self.required_string(&mut seq, "source")?;
                let flags = self.string(&mut seq)?.unwrap_or_default();
                Expr::RegExp(Box::new(crate::value::RegExp { source, flags }))
            }
            "headers" => {
                let pairs = seq
                    .next_element::<Vec<(String, String)>>()
                    .map_err(|_| self.bad("expected an array of [name, value] string pairs"))?
                    .ok_or_else(|| self.bad("missing pairs"))?;
                Expr::Headers(pairs)
            }
            "request" => {
                let url = self.required_string(&mut seq, "url")?;
                let (body, fields) = seq
                    .next_element_seed(InitSeed {
                        tagged: &self,
                        with_body: true,
                    })?
                    .ok_or_else(|| self.bad("missing init"))?;
                Expr::Request(Box::new(FetchExpr { url, body, fields }))
            }
            "response" => {
                let body = self
                    .inner(&mut seq)?
                    .ok_or_else(|| self.bad("missing body"))?;
                let (_, fields) = seq
                    .next_element_seed(InitSeed {
                        tagged: &self,
                        with_body: false,
                    })?
                    .ok_or_else(|| self.bad("missing init"))?;
                Expr::Response(Box::new(FetchExpr {
                    url: String::new(),
                    body: Some(body),
                    fields,
                }))
            }
            "blob" => {
                let mime = self.required_string(&mut seq, "type")?;
                let content = self
                    .inner(&mut seq)?
                    .ok_or_else(|| self.bad("missing content"))?;
                Expr::Blob(Box::new(BlobExpr {
                    content_type: mime,
                    content,
                }))
            }
            "import" | "pipeline" => {
                let id = self.id(&mut seq)?;
                let path = seq.next_element_seed(PathSeed {
                    ctx,
                    kind: self.tag,
                })?;
                let args = match path {
                    Some(_) => seq.next_element_seed(ArgsSeed {
                        ctx,
                        depth: self.depth,
                        kind: self.tag,
                    })?,
                    None => None,
                };
                let e = Box::new(ImportExpr { id, path, args });
                if self.tag == "import" {
                    Expr::Import(e)
                } else {
                    Expr::Pipeline(e)
                }
            }
            "remap" => {
                let id = self.id(&mut seq)?;
                let path = seq
                    .next_element_seed(PathSeed { ctx, kind: "remap" })?
                    .ok_or_else(|| self.bad("missing path"))?;
                let captures = seq
                    .next_element_seed(CapturesSeed { tagged: &self })?
                    .ok_or_else(|| self.bad("missing captures"))?;
                let instructions = seq
                    .next_element_seed(ArgsSeed {
                        ctx,
                        depth: self.depth,
                        kind: "remap",
                    })?
                    .ok_or_else(|| self.bad("missing instructions"))?;
                Expr::Remap(Box::new(RemapExpr {
                    id,
                    path,
                    captures,
                    instructions,
                }))
            }
            "export" => Expr::Export(self.id(&mut seq)?),
            "promise" => Expr::Promise(self.id(&mut seq)?),
            "writable" => Expr::Writable(self.id(&mut seq)?),
            "readable" => Expr::Readable(self.id(&mut seq)?),
            other => {
                return Err(ctx.fail(WireError::UnknownExpression(format!(
                    "[{:?}, ...]",
                    truncate(other)
                ))))
            }
        };
        if matches!(self.tag, "inf" | "-inf" | "nan" | "bigint" | "date") {
            // As the reference, which reads only the members these need.
            skip_rest(seq, ctx, self.depth + 1)?;
        } else {
            end(seq, ctx, || WireError::expr(self.tag, "too many members"))?;
        }
        Ok(expr)
    }
}

mod operands;
use operands::{ArgsSeed, CapturesSeed, DateSeed, InitSeed, ObjectSeed, BASE64};
