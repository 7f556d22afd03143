//! The built-in codec's read side: one buffer the connection's bytes are read into, whole
//! frames found, checked against the size limit and unmasked in place, and fragments put
//! together into messages. What a frame means to the connection (pongs, the close handshake)
//! is the socket's. (What runs per message is `#[inline]`: the socket calls it from its own
//! module.)

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::frame::{self, Header, Violation};
use super::pool;

/// What was read and not yet handed on.
pub(super) struct Reader {
    /// Taken from the pool when bytes may come, given back when none are left to handle (an
    /// idle connection holds none); `buf[start..end]` is read and not yet handled.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The buffer's size when idle (it grows for a larger frame, and goes back after).
    size: usize,
    /// The opcode of a message arriving in fragments, and its payload so far.
    fragments: Option<u8>,
    message: Vec<u8>,
    /// `message` was handed on: cleared at the next read.
    message_handed: bool,
}

impl Drop for Reader {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.buf));
        pool::give(std::mem::take(&mut self.message));
    }
}

/// What the buffer holds next.
pub(super) enum Scan {
    /// A whole frame, its payload unmasked in the buffer (see [`Reader::payload`]).
    Frame(Header, Range<usize>),
    /// Not a whole frame yet: this many bytes of it are needed, or more.
    Need(usize),
}

/// Where a whole message's bytes are (see [`Reader::message`]).
pub(super) enum Source {
    /// One frame's payload, in the read buffer.
    Buffer(Range<usize>),
    /// Fragments put together.
    Assembled,
}

impl Reader {
    /// An empty reader, reading `size` bytes at a time when messages are small.
    pub(super) fn new(size: usize) -> Reader {
        Reader {
            buf: Vec::new(),
            start: 0,
            end: 0,
            size,
            fragments: None,
            message: Vec::new(),
            message_handed: false,
        }
    }

    /// Reads `size` bytes at a time when messages are small.
    pub(super) fn set_size(&mut self, size: usize) {
        self.size = size;
    }

    /// Bytes already read from the connection (after the handshake): the first frames.
    pub(super) fn preload(&mut self, bytes: &[u8]) {
        self.buf = vec![0; bytes.len().max(self.size)];
        self.buf[..bytes.len()].copy_from_slice(bytes);
        self.end = bytes.len();
    }

    /// Bytes read and not yet handled.
    pub(super) fn unhandled(&self) -> bool {
        self.start != self.end
    }

    /// The connection ending now would end it in the middle of a message.
    pub(super) fn mid_message(&self) -> bool {
        self.unhandled() || self.fragments.is_some()
    }

    /// Lets go of the message handed on last (the session is done with it).
    #[inline]
    pub(super) fn next_message(&mut self) {
        if self.message_handed {
            self.message_handed = false;
            pool::give(std::mem::take(&mut self.message));
        }
    }

    /// The next frame in the buffer, taken from it. `masked` is whether the peer must mask; a
    /// data frame taking its message past `max_message_size` is refused before it is whole.
    #[inline]
    pub(super) fn scan(
        &mut self,
        masked: bool,
        max_message_size: usize,
    ) -> Result<Scan, Violation> {
        let Some(h) = frame::parse_header(&self.buf[self.start..self.end], masked)? else {
            return Ok(Scan::Need(frame::MAX_HEADER));
        };
        let so_far = match h.opcode {
            frame::CONTINUATION => self.message.len() as u64,
            _ => 0,
        };
        // (A control frame is at most 125 bytes, whatever the limit.)
        let too_big = !h.is_control() && h.len.saturating_add(so_far) > max_message_size as u64;
        let total = usize::try_from(h.len)
            .ok()
            .and_then(|len| len.checked_add(h.header_len));
        let Some(total) = total.filter(|_| !too_big) else {
            return Err(Violation {
                code: frame::TOO_BIG,
                reason: "a message is larger than max_message_size",
            });
        };
        if self.end - self.start < total {
            return Ok(Scan::Need(total));
        }
        let payload = self.start + h.header_len..self.start + total;
        self.start += total;
        if let Some(key) = h.mask {
            frame::apply_mask(&mut self.buf[payload.clone()], key);
        }
        Ok(Scan::Frame(h, payload))
    }

    /// A data frame (text, binary or continuation) at `payload`: the message it completes, if
    /// it does, with the message's opcode.
    #[inline]
    pub(super) fn data(
        &mut self,
        h: &Header,
        payload: Range<usize>,
    ) -> Result<Option<(u8, Source)>, Violation> {
        if h.opcode != frame::CONTINUATION {
            if self.fragments.is_some() {
                return Err(frame::protocol(
                    "a new message began before the fragmented one ended",
                ));
            }
            if !h.fin {
                self.fragments = Some(h.opcode);
                self.message.extend_from_slice(&self.buf[payload]);
                return Ok(None);
            }
            return Ok(Some((h.opcode, Source::Buffer(payload))));
        }
        let Some(opcode) = self.fragments else {
            return Err(frame::protocol(
                "a continuation frame with no message to continue",
            ));
        };
        self.message.extend_from_slice(&self.buf[payload]);
        if !h.fin {
            return Ok(None);
        }
        self.fragments = None;
        self.message_handed = true;
        Ok(Some((opcode, Source::Assembled)))
    }

    /// A frame's payload.
    pub(super) fn payload(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// A whole message's bytes.
    #[inline]
    pub(super) fn message(&self, source: Source) -> &[u8] {
        match source {
            Source::Buffer(range) => &self.buf[range],
            Source::Assembled => &self.message,
        }
    }

    /// Reads from `io` toward `need` bytes of the frame begun: how many came (0 once the
    /// connection ended).
    pub(super) fn poll_fill<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        need: usize,
    ) -> Poll<io::Result<usize>> {
        self.make_room(need);
        let mut read = ReadBuf::new(&mut self.buf[self.end..]);
        if Pin::new(io).poll_read(cx, &mut read)?.is_pending() {
            if self.start == self.end {
                // Nothing to keep until bytes come: the buffer goes back to the pool.
                pool::give(std::mem::take(&mut self.buf));
                (self.start, self.end) = (0, 0);
            }
            return Poll::Pending;
        }
        let n = read.filled().len();
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Makes room to read toward `need` bytes from `start` (a frame, or a header): compacts,
    /// or grows the buffer by doubling (so a peer announcing a large frame gets room only as
    /// its bytes come); an idle grown buffer goes back to its size.
    fn make_room(&mut self, need: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 * self.size {
                self.buf = Vec::new();
            }
        }
        let unread = self.end - self.start;
        if self.buf.len() > 4 * self.size && unread <= self.size / 2 && need <= self.size {
            // Grown for a large frame, now holding the start of a small one: back to its size
            // (a peer cannot keep a large buffer with a byte at a time).
            let mut small = vec![0; self.size];
            small[..unread].copy_from_slice(&self.buf[self.start..self.end]);
            self.buf = small;
            self.start = 0;
            self.end = unread;
        }
        if self.buf.is_empty() {
            self.buf = pool::take_filled(self.size);
        }
        let missing = need.saturating_sub(unread).max(1);
        let enough = missing.min(self.size / 2);
        if self.buf.len() - self.end >= enough {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = unread;
        }
        if self.buf.len() - self.end >= enough {
            return;
        }
        let grown = self
            .end
            .saturating_add(missing)
            .min((2 * self.buf.len()).max(self.size));
        self.buf.resize(grown, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_buffer_grows_by_doubling_toward_a_frame_and_compacts_first() {
        let mut r = Reader::new(1024);
        r.make_room(14);
        assert_eq!(r.buf.len(), 1024);
        // Half handled, the rest a frame's start: compacted before growing.
        (r.start, r.end) = (900, 1024);
        r.make_room(2000);
        assert_eq!((r.start, r.end, r.buf.len()), (0, 124, 1024));
        r.end = 1024;
        r.make_room(1_000_000);
        assert_eq!(r.buf.len(), 2048, "doubled, not the announced size");
        r.end = 2048;
        r.make_room(3000);
        assert_eq!(r.buf.len(), 3000, "never past the frame");
        // Idle again: back to its size.
        (r.start, r.end) = (3000, 3000);
        r.buf.resize(8192, 0);
        r.make_room(14);
        assert_eq!(r.buf.len(), 1024);
    }

    #[test]
    fn a_grown_buffer_holding_the_start_of_a_small_frame_goes_back_to_its_size() {
        let mut r = Reader::new(1024);
        r.buf = vec![0; 1 << 20];
        (r.start, r.end) = (1000, 1003);
        r.buf[1000..1003].copy_from_slice(b"abc");
        r.make_room(14);
        assert_eq!((r.buf.len(), r.start, r.end), (1024, 0, 3));
        assert_eq!(&r.buf[..3], b"abc");
        // Not while the frame being read is large.
        r.buf = vec![0; 1 << 20];
        (r.start, r.end) = (1000, 1003);
        r.make_room(500_000);
        assert_eq!(r.buf.len(), 1 << 20);
    }
}
