//! Messages written piece by piece: their syntax from here, their values by the caller (the
//! session writes those with its exporter, straight into the same text). And the kind of a
//! message from its first bytes, for those that only count or sort messages.

use super::write::write_path;
use super::PathKey;

/// `["resolve", id, ` (the value follows, then [`end`]).
pub(crate) fn resolve(out: &mut String, id: i64) {
    tagged_id(out, "[\"resolve\",", id);
}

/// `["reject", id, ` (the error follows, then [`end`]).
pub(crate) fn reject(out: &mut String, id: i64) {
    tagged_id(out, "[\"reject\",", id);
}

/// `["abort", ` (the reason follows, then [`end`]).
pub(crate) fn abort(out: &mut String) {
    out.push_str("[\"abort\",");
}

/// `["push", ["pipeline", id, path` or the same as a `stream` message; then `,` and the
/// arguments if it is a call, then [`call_end`].
pub(crate) fn call(out: &mut String, stream: bool, id: i64, path: &[PathKey]) {
    let head = if stream {
        "[\"stream\",[\"pipeline\","
    } else {
        "[\"push\",[\"pipeline\","
    };
    tagged_id(out, head, id);
    write_path(out, path);
}

/// Ends what [`call`] began.
pub(crate) fn call_end(out: &mut String) {
    out.push_str("]]");
}

/// Ends a message begun here.
pub(crate) fn end(out: &mut String) {
    out.push(']');
}

/// `["pipe"]`.
pub(crate) const PIPE: &str = "[\"pipe\"]";

fn tagged_id(out: &mut String, head: &str, id: i64) {
    out.push_str(head);
    out.push_str(itoa::Buffer::new().format(id));
    out.push(',');
}

/// What kind of message a text is, from its first bytes (without parsing it): for counting
/// and sorting messages that were, or will be, parsed where it matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageKind {
    /// `push`: a call (or a value) for the receiver to hold.
    Push,
    /// `stream`: a call answered without a `pull`.
    Stream,
    /// `pull`.
    Pull,
    /// `resolve`.
    Resolve,
    /// `reject`.
    Reject,
    /// `release`.
    Release,
    /// `abort`.
    Abort,
    /// `pipe`.
    Pipe,
    /// Anything else (malformed, or written with spaces).
    Other,
}

impl MessageKind {
    /// The kind of `text`, as this crate and the reference write messages (no spaces).
    ///
    /// ```
    /// use capnweb::wire::MessageKind;
    /// assert_eq!(MessageKind::of(r#"["pull",3]"#), MessageKind::Pull);
    /// assert_eq!(MessageKind::of("nonsense"), MessageKind::Other);
    /// ```
    pub fn of(text: &str) -> MessageKind {
        let Some(rest) = text.strip_prefix("[\"") else {
            return MessageKind::Other;
        };
        let tag = rest.split('"').next().unwrap_or_default();
        match tag {
            "push" => MessageKind::Push,
            "stream" => MessageKind::Stream,
            "pull" => MessageKind::Pull,
            "resolve" => MessageKind::Resolve,
            "reject" => MessageKind::Reject,
            "release" => MessageKind::Release,
            "abort" => MessageKind::Abort,
            "pipe" => MessageKind::Pipe,
            _ => MessageKind::Other,
        }
    }

    /// The kind of `text` as a JSON parser reads it: whitespace and escapes in the tag are
    /// allowed (`[ "push", ..]`, `["\u0070ush", ..]`). For counting what a peer sent, whose
    /// messages are parsed the same way; [`of`](Self::of) reads only this crate's own texts.
    ///
    /// ```
    /// use capnweb::wire::MessageKind;
    /// assert_eq!(MessageKind::read(r#" [ "\u0070ush", ["import", 0]]"#), MessageKind::Push);
    /// assert_eq!(MessageKind::read(r#"["pull",3]"#), MessageKind::Pull);
    /// assert_eq!(MessageKind::read("[3]"), MessageKind::Other);
    /// ```
    pub fn read(text: &str) -> MessageKind {
        let quick = MessageKind::of(text);
        let tag_is_plain = text
            .strip_prefix("[\"")
            .and_then(|rest| rest.split('"').next())
            .is_some_and(|tag| !tag.contains('\\'));
        if tag_is_plain {
            return quick;
        }
        const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];
        let Some(rest) = text.trim_start_matches(JSON_SPACE).strip_prefix('[') else {
            return MessageKind::Other;
        };
        // A string ends itself: only the tag is read, whatever follows it.
        let tag = serde_json::Deserializer::from_str(rest)
            .into_iter::<String>()
            .next();
        match tag {
            Some(Ok(tag)) => MessageKind::of(&format!("[\"{tag}\"")),
            _ => MessageKind::Other,
        }
    }

    /// Whether it is a call (a `push` or a `stream`).
    pub fn is_call(self) -> bool {
        matches!(self, MessageKind::Push | MessageKind::Stream)
    }
}
