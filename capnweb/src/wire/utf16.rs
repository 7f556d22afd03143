//! JavaScript strings that are not Unicode: unpaired surrogates, which `JSON.stringify` writes
//! as `"\ud800"` and serde_json refuses. Such a message is parsed a second time from a copy
//! in which each unpaired surrogate escape is replaced by a mark, two characters, that the
//! parse then turns back into UTF-16 code units (`Expr::Utf16`). The mark's first character
//! (U+FDD0, a noncharacter) is itself doubled where the text holds it, so nothing collides.

/// Starts a mark: U+FDD0 then the surrogate (U+E000 + its offset above U+D800), or U+FDD0
/// twice for a U+FDD0 of the text's own.
const MARK: char = '\u{FDD0}';
const MARK_UTF8: &[u8] = "\u{FDD0}".as_bytes();
const FIRST_SURROGATE: u32 = 0xD800;
const OFFSET_BASE: u32 = 0xE000;

/// Whether serde_json's error is about an unpaired surrogate escape.
pub(super) fn is_surrogate_error(e: &serde_json::Error) -> bool {
    let text = e.to_string();
    text.contains("surrogate") || text.contains("end of hex escape")
}

/// A copy of `text` with every unpaired surrogate escape inside a string marked (see the
/// module's doc). Paired ones and everything outside strings are copied as they are.
pub(super) fn mark_unpaired(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let unit = hex_escape(bytes, i);
                let Some(unit) = unit else {
                    i += 2; // A two-character escape (`\"` among them): copied as it is.
                    continue;
                };
                let lone = match unit {
                    0xD800..=0xDBFF => !hex_escape(bytes, i + 6).is_some_and(is_low_surrogate),
                    0xDC00..=0xDFFF => true,
                    _ => false,
                };
                if lone || unit == u32::from(MARK) {
                    out.push_str(&text[copied..i]);
                    out.push(MARK);
                    out.push(if lone {
                        char::from_u32(OFFSET_BASE + unit - FIRST_SURROGATE).expect("in range")
                    } else {
                        MARK
                    });
                    copied = i + 6;
                } else if (0xD800..=0xDBFF).contains(&unit) {
                    i += 12; // A pair: both escapes copied as they are.
                    continue;
                }
                i += 6;
                continue;
            }
            0xEF if in_string && bytes[i..].starts_with(MARK_UTF8) => {
                out.push_str(&text[copied..i]);
                out.push(MARK);
                out.push(MARK);
                i += MARK.len_utf8();
                copied = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_low_surrogate(unit: u32) -> bool {
    (0xDC00..=0xDFFF).contains(&unit)
}

/// The code unit of a `\uXXXX` escape at `at`, if there is one.
fn hex_escape(bytes: &[u8], at: usize) -> Option<u32> {
    let escape = bytes.get(at..at + 6)?;
    if escape[..2] != *b"\\u" {
        return None;
    }
    let digits = std::str::from_utf8(&escape[2..]).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// A string of the marked copy back as it was: UTF-16 code units if it holds an unpaired
/// surrogate, else the string itself (without marks).
pub(super) fn unmark(s: &str) -> Result<String, Vec<u16>> {
    if !s.contains(MARK) {
        return Ok(s.to_owned());
    }
    let mut units = Vec::with_capacity(s.len());
    let mut lone = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        let c = match (c, c == MARK) {
            (_, true) => match chars.next() {
                Some(MARK) | None => MARK,
                Some(offset) => {
                    lone = true;
                    units.push((u32::from(offset) - OFFSET_BASE + FIRST_SURROGATE) as u16);
                    continue;
                }
            },
            (c, false) => c,
        };
        let mut buf = [0; 2];
        units.extend_from_slice(c.encode_utf16(&mut buf));
    }
    if lone {
        Err(units)
    } else {
        Ok(String::from_utf16_lossy(&units))
    }
}

/// A string of the marked copy where only Unicode fits (a key, a name, a message): each
/// unpaired surrogate becomes U+FFFD, as `String::from_utf16_lossy` does.
pub(super) fn unmark_lossy(s: &str) -> String {
    match unmark(s) {
        Ok(s) => s,
        Err(units) => String::from_utf16_lossy(&units),
    }
}

/// Writes UTF-16 code units as a JSON string literal, as `JSON.stringify` does: unpaired
/// surrogates as `\uXXXX` escapes.
pub(crate) fn write_utf16(out: &mut String, units: &[u16]) {
    out.push('"');
    let mut piece = String::new();
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok(c) => piece.push(c),
            Err(e) => {
                super::write::write_escaped(out, &piece);
                piece.clear();
                out.push_str(&format!("\\u{:04x}", e.unpaired_surrogate()));
            }
        }
    }
    super::write::write_escaped(out, &piece);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaired_surrogates_are_marked_and_come_back() {
        let text = r#"["a\ud800b", "\udc00", "\ud83d\ude00", "\ud800\ud800", "\ufdd0", "x"]"#;
        let marked = mark_unpaired(text);
        let parsed: Vec<String> = serde_json::from_str(&marked).unwrap();
        let back: Vec<_> = parsed.iter().map(|s| unmark(s)).collect();
        assert_eq!(back[0], Err(vec![0x61, 0xD800, 0x62]));
        assert_eq!(back[1], Err(vec![0xDC00]));
        assert_eq!(back[2], Ok("😀".to_owned()));
        assert_eq!(back[3], Err(vec![0xD800, 0xD800]));
        assert_eq!(back[4], Ok("\u{FDD0}".to_owned()));
        assert_eq!(back[5], Ok("x".to_owned()));
        // A raw U+FDD0 and an escaped quote before an unpaired one, after other non-ASCII.
        let marked = mark_unpaired("[\"é日\u{FDD0}\\\"\\udfff\"]");
        let parsed: Vec<String> = serde_json::from_str(&marked).unwrap();
        assert_eq!(
            unmark(&parsed[0]),
            Err(vec![0xE9, 0x65E5, 0xFDD0, 0x22, 0xDFFF])
        );
    }

    #[test]
    fn code_units_are_written_as_json_stringify_does() {
        let mut out = String::new();
        write_utf16(&mut out, &[0x61, 0xD800, 0x22, 0xD83D, 0xDE00, 0xDC00]);
        assert_eq!(out, r#""a\ud800\"😀\udc00""#);
    }

    #[test]
    fn any_sequence_of_code_units_survives_a_write_and_a_parse() {
        use crate::wire::{parse_expr, Expr, Limits};
        // Surrogates of both kinds, the mark, quotes, backslashes, ASCII and other characters.
        const UNITS: &[u16] = &[
            0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xD83D, 0xDE00, 0xFDD0, 0xE000, 0x22, 0x5C, 0x75, 0x61,
            0x0A, 0xE9, 0x65E5,
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..5_000 {
            let len = (seed % 9) as usize;
            let units: Vec<u16> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    UNITS[(seed % UNITS.len() as u64) as usize]
                })
                .collect();
            let mut text = String::new();
            write_utf16(&mut text, &units);
            let parsed = parse_expr(&format!("[[{text}]]"), &Limits::default()).unwrap();
            let Expr::Array(items) = parsed else {
                panic!("{text}")
            };
            let back = match &items[0] {
                Expr::String(s) => s.encode_utf16().collect(),
                Expr::Utf16(units) => units.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(back, units, "{text}");
            seed = seed.wrapping_add(1);
        }
    }
}
