//! [`Limits`]: what a receiver accepts from its peer.

/// Receive-side limits, checked while reading each message. The defaults are the reference
/// implementation's; they are far above what an honest peer sends.
///
/// ```
/// use capnweb::wire::Limits;
/// let limits = Limits { max_depth: 64, ..Limits::default() };
/// assert_eq!(limits.max_message_size, 32 * 1024 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of one message in bytes, checked before parsing. Default 32 MiB.
    pub max_message_size: usize,
    /// Maximum nesting depth of one message, counted across the whole message including call
    /// arguments; an escaped array `[[...]]` counts once. Default 256.
    pub max_depth: usize,
    /// Maximum number of digits of a bigint, checked before it is parsed. Default 16,384.
    pub max_bigint_digits: usize,
    /// Maximum bytes of stream chunks written by the peer and not yet read by the application,
    /// per pipe; beyond it the stream fails. Default 64 MiB (an honest writer's flow-control
    /// window stays far below).
    pub max_stream_buffer: usize,
    /// Maximum size of a received `Blob`. Default 256 MiB.
    pub max_blob_size: usize,
    /// Maximum number of entries the peer may pin on this side's export table (results of its
    /// calls it has not released, capabilities it holds, pipes). The reference has no bound.
    /// Default 100,000.
    pub max_exports: usize,
    /// Maximum mapper work one call of the peer may cause, nested maps included: a mapper of
    /// K instructions applied to N elements counts N x K (a map over N elements inside a map
    /// over M counts M x N x their instructions), refused before any runs. Default 1,000,000.
    pub max_map_applications: usize,
    /// Maximum bytes of results of the peer's calls held for it: from when each settles until
    /// the peer releases it (kept for pipelining; a result only the answer holds goes once
    /// sent), each counted by its size in memory. A server counts them in its shared
    /// `max_buffered_bytes` too. Past it, the session aborts. The results the peer's maps are
    /// building, all at once, are bounded by it as well (a mapper's literal is built anew for
    /// each element), and on a server by the shared pool too: past either, that map's call
    /// fails with a `RangeError`. Default 64 MiB.
    pub max_answer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_size: 32 * 1024 * 1024,
            max_depth: 256,
            max_bigint_digits: 16_384,
            max_stream_buffer: 64 * 1024 * 1024,
            max_blob_size: 256 * 1024 * 1024,
            max_exports: 100_000,
            max_map_applications: 1_000_000,
            max_answer_bytes: 64 * 1024 * 1024,
        }
    }
}
