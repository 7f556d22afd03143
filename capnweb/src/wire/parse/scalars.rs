//! Seeds for the scalars inside messages and expressions: strings, ids, property paths, and
//! the end of an array.

use super::*;

/// Accepts nothing: used to check that an array has ended without descending into extras.
pub(super) struct Refuse<'c, F> {
    pub(super) ctx: &'c Ctx,
    pub(super) err: &'c F,
}

impl<'de, F: Fn() -> WireError> DeserializeSeed<'de> for Refuse<'_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: Fn() -> WireError> Visitor<'de> for Refuse<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the end of the array")
    }
    refuse_all!(self, self.ctx.fail((self.err)()));
}

/// Any value, skipped (trailing members a newer peer may add), within the depth limit.
pub(super) struct Skip<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) depth: usize,
}

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.ctx.check_depth(self.depth)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = || Skip {
            ctx: self.ctx,
            depth: self.depth + 1,
        };
        while seq.next_element_seed(inner())?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<de::IgnoredAny>()?.is_some() {
            map.next_value_seed(Skip {
                ctx: self.ctx,
                depth: self.depth + 1,
            })?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars: strings, ids, path keys

/// A string member of a message or expression: borrowed from the text unless it has escapes
/// (type codes and message tags are compared, never kept).
pub(super) struct StrSeed<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) kind: &'c str,
}

impl<'de> DeserializeSeed<'de> for StrSeed<'_> {
    type Value = Cow<'de, str>;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrSeed<'_> {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        if self.ctx.marked {
            return Ok(Cow::Owned(self.ctx.text(s.to_owned())));
        }
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(self.ctx.text(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(self.ctx.text(s)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Cow<'de, str>, E> {
        Err(self.wrong())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Cow<'de, str>, E> {
        Err(self.wrong())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Cow<'de, str>, E> {
        Err(self.wrong())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Cow<'de, str>, E> {
        Err(self.wrong())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Cow<'de, str>, E> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Cow<'de, str>, A::Error> {
        Err(self.wrong())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Cow<'de, str>, A::Error> {
        Err(self.wrong())
    }
}

impl StrSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        self.ctx
            .fail(WireError::expr(self.kind, "expected a string"))
    }
}

/// An integral id or count within JavaScript's safe integer range.
pub(super) struct IdSeed<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) kind: &'c str,
}

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = i64;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdSeed<'_> {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer id")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        if (-MAX_SAFE..=MAX_SAFE).contains(&v) {
            Ok(v)
        } else {
            Err(self.wrong())
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(self.wrong()),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() <= MAX_SAFE as f64 {
            Ok(v as i64)
        } else {
            Err(self.wrong())
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<i64, E> {
        Err(self.wrong())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<i64, E> {
        Err(self.wrong())
    }
    fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<i64, A::Error> {
        Err(self.wrong())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<i64, A::Error> {
        Err(self.wrong())
    }
}

impl IdSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        self.ctx
            .fail(WireError::expr(self.kind, "expected an integer id"))
    }
}

/// A property path: an array of strings and numbers.
pub(super) struct PathSeed<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) kind: &'c str,
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_> {
    type Value = Vec<PathKey>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<PathKey>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PathSeed<'_> {
    type Value = Vec<PathKey>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property path")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<PathKey>, A::Error> {
        let mut path = Vec::new();
        while let Some(key) = seq.next_element_seed(KeySeed {
            ctx: self.ctx,
            kind: self.kind,
        })? {
            path.push(key);
        }
        Ok(path)
    }
    refuse_all_but_seq!();
}

impl PathSeed<'_> {
    fn not_array<E: de::Error>(&self) -> E {
        self.ctx.fail(WireError::expr(
            self.kind,
            "the property path must be an array",
        ))
    }
}

struct KeySeed<'c> {
    ctx: &'c Ctx,
    kind: &'c str,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = PathKey;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PathKey, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = PathKey;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name or index")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<PathKey, E> {
        Ok(PathKey::Name(self.ctx.text(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<PathKey, E> {
        Ok(PathKey::Name(self.ctx.text(s)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PathKey, E> {
        Ok(PathKey::Index(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PathKey, E> {
        // A negative index is a property name to JavaScript; it names nothing we serve.
        Ok(PathKey::Name(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<PathKey, E> {
        Ok(PathKey::Name(Number::Float(v).to_string()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<PathKey, E> {
        Err(self.wrong())
    }
    fn visit_unit<E: de::Error>(self) -> Result<PathKey, E> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<PathKey, A::Error> {
        Err(self.wrong())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<PathKey, A::Error> {
        Err(self.wrong())
    }
}

impl KeySeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        self.ctx.fail(WireError::expr(
            self.kind,
            "path members must be strings or numbers",
        ))
    }
}
