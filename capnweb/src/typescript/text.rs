//! Writing TypeScript: declarations, members and literals, for the impls the macros generate
//! (and any written by hand).

/// A member of an object type: `name?: type`.
#[derive(Debug, Clone)]
pub struct Field {
    /// The property name, as it travels.
    pub name: String,
    /// Its TypeScript type.
    pub ty: String,
    /// Whether it may be absent (`name?:`).
    pub optional: bool,
    /// Doc comment lines.
    pub docs: Vec<String>,
}

impl Field {
    /// A required field without docs.
    pub fn new(name: impl Into<String>, ty: impl Into<String>) -> Field {
        Field {
            name: name.into(),
            ty: ty.into(),
            optional: false,
            docs: Vec::new(),
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str(&property_name(&self.name));
        if self.optional {
            out.push('?');
        }
        out.push_str(": ");
        out.push_str(&self.ty);
    }
}

/// A parameter of a method: `name?: type`.
#[derive(Debug, Clone)]
pub struct MethodParam {
    /// Its name.
    pub name: String,
    /// Its TypeScript type.
    pub ty: String,
    /// Whether a caller may leave it out.
    pub optional: bool,
}

/// A member of an interface: a method, or a `readonly` property.
#[derive(Debug, Clone)]
pub enum Member {
    /// `name(params): result;`
    Method {
        /// Its wire name.
        name: String,
        /// Doc comment lines.
        docs: Vec<String>,
        /// Its parameters.
        params: Vec<MethodParam>,
        /// The TypeScript type of its result.
        result: String,
    },
    /// `readonly name: type;`
    Property {
        /// Its wire name.
        name: String,
        /// Doc comment lines.
        docs: Vec<String>,
        /// Its TypeScript type.
        ty: String,
    },
}

/// `export interface name extends base { members }`, with JSDoc.
pub fn interface(name: &str, docs: &[String], extends: Option<&str>, members: &[Member]) -> String {
    let mut out = jsdoc(docs, "");
    out.push_str("export interface ");
    out.push_str(name);
    if let Some(base) = extends {
        out.push_str(" extends ");
        out.push_str(base);
    }
    out.push_str(" {\n");
    for member in members {
        match member {
            Member::Method {
                name,
                docs,
                params,
                result,
            } => {
                out.push_str(&jsdoc(docs, "  "));
                out.push_str("  ");
                out.push_str(&property_name(name));
                out.push('(');
                for (i, p) in params.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&p.name);
                    if p.optional {
                        out.push('?');
                    }
                    out.push_str(": ");
                    out.push_str(&p.ty);
                }
                out.push_str("): ");
                out.push_str(result);
                out.push_str(";\n");
            }
            Member::Property { name, docs, ty } => {
                out.push_str(&jsdoc(docs, "  "));
                out.push_str("  readonly ");
                out.push_str(&property_name(name));
                out.push_str(": ");
                out.push_str(ty);
                out.push_str(";\n");
            }
        }
    }
    out.push('}');
    out
}

/// `export interface name { fields }`, with JSDoc on the type and each field.
pub fn object_interface(name: &str, docs: &[String], fields: &[Field]) -> String {
    let mut out = jsdoc(docs, "");
    out.push_str("export interface ");
    out.push_str(name);
    out.push_str(" {\n");
    for field in fields {
        out.push_str(&jsdoc(&field.docs, "  "));
        out.push_str("  ");
        field.write(&mut out);
        out.push_str(";\n");
    }
    out.push('}');
    out
}

/// `export type name = ty;`, with JSDoc.
pub fn alias(name: &str, docs: &[String], ty: &str) -> String {
    let mut out = jsdoc(docs, "");
    out.push_str("export type ");
    out.push_str(name);
    out.push_str(" = ");
    out.push_str(ty);
    out.push(';');
    out
}

/// An object type written inline: `{ a: T; b?: U }` (`{}` for none).
pub fn inline_object(fields: &[Field]) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let mut out = String::from("{ ");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        field.write(&mut out);
    }
    out.push_str(" }");
    out
}

/// `a | b | c`: unions among the parts are flattened and repeats dropped, a function type is
/// parenthesized; `never` for none.
pub fn union(parts: &[String]) -> String {
    let mut alternatives: Vec<String> = Vec::new();
    for part in parts {
        for alternative in split_top_level(part, b'|') {
            let alternative = match shape(&alternative).function {
                true => format!("({alternative})"),
                false => alternative,
            };
            if !alternatives.contains(&alternative) {
                alternatives.push(alternative);
            }
        }
    }
    match alternatives.is_empty() {
        true => "never".to_owned(),
        false => alternatives.join(" | "),
    }
}

/// `a & b`, each part parenthesized if it is a union or a function; `unknown` for none.
pub fn intersection(parts: &[String]) -> String {
    match parts {
        [] => "unknown".to_owned(),
        [one] => one.clone(),
        parts => parts
            .iter()
            .map(|p| group(p))
            .collect::<Vec<_>>()
            .join(" & "),
    }
}

/// `ty`, parenthesized if it is a union, an intersection or a function (so that it can sit
/// anywhere).
pub fn group(ty: &str) -> String {
    let shape = shape(ty);
    match shape.union || shape.intersection || shape.function {
        true => format!("({ty})"),
        false => ty.to_owned(),
    }
}

/// What a type has at its top level (outside brackets and strings).
#[derive(Default)]
struct Shape {
    union: bool,
    intersection: bool,
    function: bool,
}

fn shape(ty: &str) -> Shape {
    let mut shape = Shape::default();
    scan_top_level(ty, |i, b| match b {
        b'|' => shape.union = true,
        b'&' => shape.intersection = true,
        b'>' if i > 0 && ty.as_bytes()[i - 1] == b'=' => shape.function = true,
        _ => {}
    });
    shape
}

/// The parts of `ty` between its top-level `separator`s, trimmed.
fn split_top_level(ty: &str, separator: u8) -> Vec<String> {
    let mut cuts = Vec::new();
    scan_top_level(ty, |i, b| {
        if b == separator {
            cuts.push(i);
        }
    });
    let mut parts = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([ty.len()]) {
        parts.push(ty[start..cut].trim().to_owned());
        start = cut + 1;
    }
    parts
}

/// Calls `at` with each byte of `ty` (and its index) that is outside brackets and strings, up
/// to a top-level `=>`.
fn scan_top_level(ty: &str, mut at: impl FnMut(usize, u8)) {
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    let bytes = ty.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            // The `>` of `=>` closes nothing; at the top level, all that follows is the
            // function's result type, unions included.
            b'>' if i > 0 && bytes[i - 1] == b'=' && depth == 0 => {
                at(i, b);
                return;
            }
            b'>' if i > 0 && bytes[i - 1] == b'=' => {}
            b'>' => depth -= 1,
            _ if depth == 0 => at(i, b),
            _ => {}
        }
    }
}

/// The type a `#[serde(flatten)]` field adds to its struct's: itself, except that a map's
/// values are `unknown`, since TypeScript cannot say "every other key" (an index signature
/// would have to hold the struct's other members too).
pub fn flattened(ty: &str) -> String {
    match ty.starts_with("Record<string, ") {
        true => "Record<string, unknown>".to_owned(),
        false => ty.to_owned(),
    }
}

/// A string literal type: `"name"`, escaped as JSON.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A property name as written in a type: bare if it is an identifier, else a string literal.
pub fn property_name(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    match identifier {
        true => name.to_owned(),
        false => string_literal(name),
    }
}

/// A JSDoc comment of `docs` (the lines of a Rust doc comment), indented; empty for none.
pub fn jsdoc(docs: &[String], indent: &str) -> String {
    let lines: Vec<&str> = docs.iter().flat_map(|d| d.split('\n')).collect();
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return String::new();
    };
    // Doc comments start with a space after `///`; a `*/` would end the comment early.
    let clean = |l: &str| l.strip_prefix(' ').unwrap_or(l).replace("*/", "*\\/");
    let lines: Vec<String> = lines[first..=last].iter().map(|l| clean(l)).collect();
    if let [one] = lines.as_slice() {
        return format!("{indent}/** {one} */\n");
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        match line.is_empty() {
            true => out.push_str(&format!("{indent} *\n")),
            false => out.push_str(&format!("{indent} * {line}\n")),
        }
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_types_are_grouped_only_when_they_must_be() {
        assert_eq!(group("number"), "number");
        assert_eq!(group("string | null"), "(string | null)");
        assert_eq!(
            group("(arg: number) => string"),
            "((arg: number) => string)"
        );
        assert_eq!(group("Array<string | null>"), "Array<string | null>");
        assert_eq!(group("{ a: string | null }"), "{ a: string | null }");
        assert_eq!(group("\"a|b\""), "\"a|b\"");
        assert_eq!(
            union(&["string | null".into(), "null".into(), "undefined".into()]),
            "string | null | undefined"
        );
        assert_eq!(
            union(&["(arg: number) => string".into(), "null".into()]),
            "((arg: number) => string) | null"
        );
        assert_eq!(
            intersection(&["{ a: A }".into(), "B | C".into()]),
            "{ a: A } & (B | C)"
        );
    }

    #[test]
    fn names_and_literals_are_escaped() {
        assert_eq!(property_name("userId"), "userId");
        assert_eq!(property_name("$x_1"), "$x_1");
        assert_eq!(property_name("user-id"), "\"user-id\"");
        assert_eq!(property_name("1st"), "\"1st\"");
        assert_eq!(string_literal("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
    }

    #[test]
    fn doc_comments_become_jsdoc() {
        assert_eq!(jsdoc(&[], "  "), "");
        assert_eq!(jsdoc(&[" One line.".into()], "  "), "  /** One line. */\n");
        assert_eq!(
            jsdoc(&[" First.".into(), "".into(), " Ends */ early".into()], ""),
            "/**\n * First.\n *\n * Ends *\\/ early\n */\n"
        );
    }
}
