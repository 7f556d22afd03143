//! The commonest messages, in the one form every peer writes them (no spaces, decimal
//! integers), read without the full parser: `["pull",id]`, `["release",id,n]` and a `resolve`
//! to an integer. Anything else, or anything unusual in these, is left to the full parser,
//! which gives the same answer for every text read here (a test checks).

use super::super::expr::{Expr, Message};
use crate::value::Number;

/// The message, if `text` is one of the simple forms.
pub(super) fn parse(text: &str) -> Option<Message> {
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
