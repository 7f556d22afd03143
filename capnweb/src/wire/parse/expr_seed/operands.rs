//! Seeds for the operands of tagged expressions: dates, objects, call arguments, a remap's
//! captures and instructions, and escaped literals.

use super::*;

/// Base64 as the reference reads it: padding optional.
pub(super) const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// `null` (an invalid date) or milliseconds.
pub(super) struct DateSeed<'a, 'c, 't> {
    pub(super) tagged: &'a Tagged<'c, 't>,
}

impl<'de> DeserializeSeed<'de> for DateSeed<'_, '_, '_> {
    type Value = Date;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Date, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DateSeed<'_, '_, '_> {
    type Value = Date;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a time or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Date, E> {
        Ok(Date::invalid())
    }
    // As the reference's `new Date(ms)`: whole milliseconds, invalid beyond ±8.64e15.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Date, E> {
        Ok(Date::from_millis(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Date, E> {
        Ok(Date::from_millis(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Date, E> {
        Ok(Date::from_millis(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Date, E> {
        Err(self.tagged.bad("expected a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Date, E> {
        Err(self.tagged.bad("expected a number"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Date, A::Error> {
        Err(self.tagged.bad("expected a number"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Date, A::Error> {
        Err(self.tagged.bad("expected a number"))
    }
}

/// An object whose members are expressions (error props).
pub(super) struct ObjectSeed<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) depth: usize,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Vec<(String, Expr)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Vec<(String, Expr)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        match (ExprSeed {
            ctx: self.ctx,
            depth: self.depth,
        })
        .visit_map(map)?
        {
            Expr::Object(members) => Ok(members),
            _ => unreachable!("visit_map builds objects"),
        }
    }
    refuse_but!(
        map,
        self,
        self.ctx
            .fail(WireError::expr("error", "props must be an object"))
    );
}

/// A call's argument list or a mapper's instructions: a bare array of expressions.
pub(super) struct ArgsSeed<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) depth: usize,
    pub(super) kind: &'c str,
}

impl<'de> DeserializeSeed<'de> for ArgsSeed<'_> {
    type Value = Vec<Expr>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Expr>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgsSeed<'_> {
    type Value = Vec<Expr>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of expressions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Expr>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ExprSeed {
            ctx: self.ctx,
            depth: self.depth + 1,
        })? {
            items.push(item);
        }
        Ok(items)
    }
    refuse_but!(
        seq,
        self,
        self.ctx
            .fail(WireError::expr(self.kind, "expected an array"))
    );
}

/// `[["import", id] | ["export", id], ...]`.
pub(super) struct CapturesSeed<'a, 'c, 't> {
    pub(super) tagged: &'a Tagged<'c, 't>,
}

impl<'de> DeserializeSeed<'de> for CapturesSeed<'_, '_, '_> {
    type Value = Vec<Capture>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Capture>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CapturesSeed<'_, '_, '_> {
    type Value = Vec<Capture>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of captures")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Capture>, A::Error> {
        let mut caps = Vec::new();
        while let Some((kind, id)) = seq.next_element::<(String, f64)>().map_err(|_| {
            self.tagged
                .bad("each capture must be [\"import\" | \"export\", id]")
        })? {
            if id.fract() != 0.0 || id.abs() > MAX_SAFE as f64 {
                return Err(self.tagged.bad("capture ids must be integers"));
            }
            caps.push(match kind.as_str() {
                "import" => Capture::Import(id as i64),
                "export" => Capture::Export(id as i64),
                _ => return Err(self.tagged.bad("unknown map capture")),
            });
        }
        Ok(caps)
    }
    refuse_but!(seq, self, self.tagged.bad("captures must be an array"));
}

/// The `init` of a request or response: literal JSON, but for a request's `body` expression.
pub(super) struct InitSeed<'a, 'c, 't> {
    pub(super) tagged: &'a Tagged<'c, 't>,
    pub(super) with_body: bool,
}

impl<'de> DeserializeSeed<'de> for InitSeed<'_, '_, '_> {
    type Value = (Option<Expr>, Vec<(String, Value)>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for InitSeed<'_, '_, '_> {
    type Value = (Option<Expr>, Vec<(String, Value)>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an init object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (ctx, depth) = (self.tagged.ctx, self.tagged.depth + 1);
        let mut body = None;
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let key = ctx.text(key);
            if self.with_body && key == "body" {
                body = Some(map.next_value_seed(ExprSeed { ctx, depth })?);
            } else {
                fields.push((key, map.next_value_seed(LiteralSeed { ctx, depth })?));
            }
        }
        Ok((body, fields))
    }
    refuse_but!(map, self, self.tagged.bad("init must be an object"));
}

/// Plain JSON, taken literally (arrays are not expressions here).
struct LiteralSeed<'c> {
    ctx: &'c Ctx,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for LiteralSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.ctx.check_depth(self.depth)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LiteralSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(self.ctx.text(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(self.ctx.text(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(LiteralSeed {
            ctx: self.ctx,
            depth: self.depth + 1,
        })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Object::new();
        while let Some(k) = map.next_key::<String>()? {
            let k = self.ctx.text(k);
            let v = map.next_value_seed(LiteralSeed {
                ctx: self.ctx,
                depth: self.depth + 1,
            })?;
            obj.insert(k, v);
        }
        Ok(Value::Object(obj))
    }
}
