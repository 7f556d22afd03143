//! The commonest messages, in the one form every peer writes them (no spaces, decimal
//! integers), read without the full parser: `["pull",id]`, `["release",id,n]`, a `resolve`
//! to an integer, and a `push` of a call whose path is names and whose arguments are integers,
//! plain strings, booleans and nulls. Anything else, or anything unusual in these, is left to
//! the full parser, which gives the same answer for every text read here (tests check).

use super::super::expr::{Expr, ImportExpr, Message, PathKey};
use crate::value::Number;

/// The depth a simple message reaches at most: with a `max_depth` below it, the full parser
/// decides.
pub(super) const DEPTH: usize = 4;

/// The message, if `text` is one of the simple forms.
pub(super) fn parse(text: &str) -> Option<Message> {
    if let Some(rest) = text.strip_prefix("[\"push\",[\"pipeline\",") {
        return push(rest);
    }
    let body = text.strip_prefix("[\"")?.strip_suffix(']')?;
    if let Some(rest) = body.strip_prefix("pull\",") {
        return Some(Message::Pull {
            import_id: integer(rest)?,
        });
    }
    if let Some(rest) = body.strip_prefix("release\",") {
        let (id, n) = rest.split_once(',')?;
        return Some(Message::Release {
            import_id: integer(id)?,
            refcount: u64::try_from(integer(n)?).ok()?,
        });
    }
    if let Some(rest) = body.strip_prefix("resolve\",") {
        let (id, value) = rest.split_once(',')?;
        return Some(Message::Resolve {
            export_id: integer(id)?,
            value: Expr::Number(Number::Int(integer(value)?)),
        });
    }
    None
}

/// The rest of `["push",["pipeline",id,[names...],[arguments...]]]`.
fn push(rest: &str) -> Option<Message> {
    let mut c = Cursor(rest);
    let id = c.integer()?;
    c.eat(",")?;
    let path = c.list(|c| c.string().map(|s| PathKey::Name(s.to_owned())))?;
    c.eat(",")?;
    let args = c.list(Cursor::scalar)?;
    c.eat("]]")?;
    if !c.0.is_empty() {
        return None;
    }
    Some(Message::Push(Expr::Pipeline(Box::new(ImportExpr {
        id,
        path: Some(path),
        args: Some(args),
    }))))
}

/// What is left of a message being read.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn eat(&mut self, token: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(token)?;
        Some(())
    }

    fn integer(&mut self) -> Option<i64> {
        let end = self
            .0
            .find(|c: char| c != '-' && !c.is_ascii_digit())
            .unwrap_or(self.0.len());
        let (digits, rest) = self.0.split_at(end);
        self.0 = rest;
        integer(digits)
    }

    /// A string with no escape and no control character (JSON allows none unescaped).
    fn string(&mut self) -> Option<&'a str> {
        let body = self.0.strip_prefix('"')?;
        let end = body.find(|c: char| c == '"' || c == '\\' || c < ' ')?;
        if !body[end..].starts_with('"') {
            return None;
        }
        self.0 = &body[end + 1..];
        Some(&body[..end])
    }

    fn scalar(&mut self) -> Option<Expr> {
        for (word, e) in [
            ("true", Expr::Bool(true)),
            ("false", Expr::Bool(false)),
            ("null", Expr::Null),
        ] {
            if self.eat(word).is_some() {
                return Some(e);
            }
        }
        if self.0.starts_with('"') {
            return self.string().map(|s| Expr::String(s.to_owned()));
        }
        self.integer().map(|n| Expr::Number(Number::Int(n)))
    }

    /// `[item,item,...]`.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.eat("[")?;
        let mut items = Vec::new();
        if self.eat("]").is_some() {
            return Some(items);
        }
        loop {
            items.push(item(self)?);
            if self.eat("]").is_some() {
                return Some(items);
            }
            self.eat(",")?;
        }
    }
}

/// A JSON integer of at most 15 digits (well inside the safe range), without a sign on zero
/// (`-0` is a float to JSON parsers) or leading zeros (not JSON).
fn integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let bytes = digits.as_bytes();
    let plain = !bytes.is_empty()
        && bytes.len() <= 15
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || (bytes.len() == 1 && !negative));
    if !plain {
        return None;
    }
    let n = bytes.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Limits;

    /// Whatever the simple reader reads, the full parser reads the same; what it leaves, the
    /// full parser decides (accepting or refusing).
    fn agrees(text: &str) {
        let full = super::super::run(text, &Limits::default(), |ctx, de| {
            serde::de::DeserializeSeed::deserialize(super::super::MessageSeed { ctx }, de)
        });
        if let Some(simple) = parse(text) {
            assert_eq!(full.as_ref().ok(), Some(&simple), "{text}");
        }
    }

    /// The same, at every depth limit around the simple forms' own.
    fn agrees_at_every_depth(text: &str) {
        for max_depth in 0..=DEPTH + 1 {
            let limits = Limits {
                max_depth,
                ..Limits::default()
            };
            let full = super::super::run(text, &limits, |ctx, de| {
                serde::de::DeserializeSeed::deserialize(super::super::MessageSeed { ctx }, de)
            });
            let fast = crate::wire::parse_message(text, &limits);
            assert_eq!(
                fast.as_ref().ok(),
                full.as_ref().ok(),
                "{text} at depth {max_depth}"
            );
        }
        agrees(text);
    }

    #[test]
    fn reads_pushes_as_the_full_parser_does() {
        for text in [
            r#"["push",["pipeline",0,["square"],[3]]]"#,
            r#"["push",["pipeline",0,[],[]]]"#,
            r#"["push",["pipeline",-2,["a","b"],[1,-1,"x","",true,false,null]]]"#,
            r#"["push",["pipeline",0,["é","日本"],["ü"]]]"#,
            r#"["push",["pipeline",5,["square"],[3.5]]]"#,
            r#"["push",["pipeline",5,["square"],[1e3]]]"#,
            r#"["push",["pipeline",5,["square"],[-0]]]"#,
            r#"["push",["pipeline",5,["square"],[01]]]"#,
            r#"["push",["pipeline",5,["square"],[1234567890123456]]]"#,
            r#"["push",["pipeline",5,[0],[1]]]"#,
            r#"["push",["pipeline",5,["a"b"],[1]]]"#,
            r#"["push",["pipeline",5,["a"],["x\y"]]]"#,
            r#"["push",["pipeline",5,["a"],["A"]]]"#,
            "[\"push\",[\"pipeline\",5,[\"a\"],[\"tab\there\"]]]",
            r#"["push",["pipeline",5,["a"],[[1]]]]"#,
            r#"["push",["pipeline",5,["a"],[[[1]]]]]"#,
            r#"["push",["pipeline",5,["a"],[{"k":1}]]]"#,
            r#"["push",["pipeline",5,["a"],[["undefined"]]]]"#,
            r#"["push",["pipeline",5,["a"]]]"#,
            r#"["push",["pipeline",5]]"#,
            r#"["push",["pipeline",5,["a"],[1]],2]"#,
            r#"["push",["pipeline",5,["a"],[1]]] "#,
            r#"["push",["pipeline",5,["a"],[1,]]]"#,
            r#"["push",["pipeline",5,["a"],[,1]]]"#,
            r#"["push",["pipeline",5,["a"],[1 ]]]"#,
            r#"["push",["pipeline",5,["a"],[truex]]]"#,
            r#"["push",["pipeline",5,["a"],[nul]]]"#,
            r#"["push",["pipeline",5,["a"],[1]]"#,
            r#"["push",["pipeline",5,["a"],[1]]]]"#,
            r#"["push",["pipeline",,["a"],[1]]]"#,
            r#"["push",["pipeline","5",["a"],[1]]]"#,
            r#"["push",["import",0,["a"],[1]]]"#,
        ] {
            agrees_at_every_depth(text);
        }
        assert_eq!(
            parse(r#"["push",["pipeline",0,["square"],[3]]]"#),
            Some(Message::Push(Expr::Pipeline(Box::new(ImportExpr {
                id: 0,
                path: Some(vec![PathKey::Name("square".into())]),
                args: Some(vec![Expr::Number(Number::Int(3))]),
            }))))
        );
        assert_eq!(parse(r#"["push",["pipeline",5,["square"],[3.5]]]"#), None);
    }

    proptest::proptest! {
        /// Pushes made of pieces, well formed or not: the simple reader never reads one
        /// otherwise than the full parser.
        #[test]
        fn pushes_of_any_pieces_read_alike(
            id in proptest::sample::select(vec!["0", "7", "-3", "-0", "01", "1.5", "\"1\"", ""]),
            path in proptest::collection::vec(proptest::sample::select(vec![
                "\"a\"", "\"\"", "\"é\"", "\"a\\\"b\"", "0", "1", "\"\\u0041\"", "null",
            ]), 0..3),
            args in proptest::collection::vec(proptest::sample::select(vec![
                "1", "-1", "0", "-0", "2.5", "1e2", "\"x\"", "\"\"", "true", "false", "null",
                "[1]", "[[1]]", "{}", "[\"undefined\"]", "\"\\n\"", "123456789012345",
                "1234567890123456", " 1", "nul",
            ]), 0..4),
            tail in proptest::sample::select(vec!["]]", "]] ", "]", "]]]", "],1]"]),
        ) {
            let text = format!(
                "[\"push\",[\"pipeline\",{id},[{}],[{}]{tail}",
                path.join(","),
                args.join(","),
            );
            agrees_at_every_depth(&text);
        }
    }

    #[test]
    fn reads_what_the_full_parser_reads() {
        let numbers = [
            "0",
            "-0",
            "1",
            "-1",
            "7",
            "01",
            "-01",
            "00",
            "10",
            "123456789012345",
            "1234567890123456",
            "-123456789012345",
            "9007199254740993",
            "1.0",
            "1e3",
            "-",
            "",
            " 1",
            "1 ",
            "+1",
            "0x1",
            "١",
        ];
        for a in numbers {
            agrees(&format!("[\"pull\",{a}]"));
            agrees(&format!("[\"resolve\",1,{a}]"));
            agrees(&format!("[\"resolve\",{a},2]"));
            for b in numbers {
                agrees(&format!("[\"release\",{a},{b}]"));
            }
        }
        for text in [
            "[\"pull\",1,2]",
            "[\"pull\" ,1]",
            "[\"release\",1,2,3]",
            "[\"resolve\",1,[\"undefined\"]]",
            "[\"resolve\",1,\"x\"]",
            "[\"pull\",1]]",
            "[[\"pull\",1]",
        ] {
            agrees(text);
        }
        assert_eq!(
            parse("[\"pull\",12]"),
            Some(Message::Pull { import_id: 12 })
        );
        assert_eq!(
            parse("[\"release\",-3,2]"),
            Some(Message::Release {
                import_id: -3,
                refcount: 2
            })
        );
        assert_eq!(parse("[\"release\",3,-2]"), None);
        assert_eq!(
            parse("[\"resolve\",4,-16]"),
            Some(Message::Resolve {
                export_id: 4,
                value: Expr::Number(Number::Int(-16))
            })
        );
        assert_eq!(parse("[\"pull\",-0]"), None);
        // The limits still hold: no depth at all refuses a resolve's value, as before.
        let flat = Limits {
            max_depth: 0,
            ..Limits::default()
        };
        assert!(crate::wire::parse_message("[\"resolve\",1,5]", &flat).is_err());
        assert_eq!(parse("[\"pull\",1234567890123456]"), None);
    }
}
