//! The built-in codec's write side: frames queued into one buffer, written once per burst;
//! the pongs owed to the peer, bounded; a client's mask keys. Nothing follows a close frame.
//! (`queue` runs per message, called from the socket's module: `#[inline]`.)

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;

use super::frame;
use super::{pool, Role};

/// Queued bytes above which the socket waits for them to be written before it takes more.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// Bytes of pong frames owed past which only the latest ping's is kept (as tungstenite's
/// path bounds them, in `socket`).
pub(super) const OWED_PONGS: usize = 4 * 1024;

/// What is queued to be written.
pub(super) struct Writer {
    /// Taken from the pool for a burst, given back once written: an idle connection holds none.
    buf: Vec<u8>,
    written: usize,
    /// Pong frames owed, in order, framed and not yet queued: moved to `buf` once it is
    /// written. Past `OWED_PONGS` bytes only the latest ping's is kept (RFC 6455 5.5.3 asks no
    /// more), so a peer that pings and never reads cannot grow either buffer.
    pongs: Vec<u8>,
    /// A client's mask keys.
    masks: Option<MaskKeys>,
    /// A close frame is queued: nothing more is.
    closed: bool,
}

impl Writer {
    /// The writer of the `role` end (a client masks what it sends).
    pub(super) fn new(role: Role) -> Writer {
        Writer {
            buf: Vec::new(),
            written: 0,
            pongs: Vec::new(),
            masks: (role == Role::Client).then(MaskKeys::new),
            closed: false,
        }
    }

    /// Queues a frame (nothing once a close frame is queued: the RFC allows nothing after it).
    #[inline]
    pub(super) fn queue(&mut self, opcode: u8, payload: &[u8]) {
        if self.closed {
            return;
        }
        if self.buf.capacity() == 0 {
            self.buf = pool::take();
        }
        let mask = self.masks.as_mut().map(MaskKeys::next);
        frame::write_frame(&mut self.buf, opcode, payload, mask);
        self.closed = opcode == frame::CLOSE;
    }

    /// Owes the peer a pong for a ping carrying `payload`: written after what is queued, when
    /// reading waits (or yields).
    pub(super) fn owe_pong(&mut self, payload: &[u8]) {
        let mask = self.masks.as_mut().map(MaskKeys::next);
        if self.pongs.len() + frame::MAX_HEADER + payload.len() > OWED_PONGS {
            self.pongs.clear();
        }
        frame::write_frame(&mut self.pongs, frame::PONG, payload, mask);
    }

    /// Pongs are owed and not yet queued.
    pub(super) fn owes_pongs(&self) -> bool {
        !self.pongs.is_empty()
    }

    /// A close frame is queued.
    pub(super) fn closed(&self) -> bool {
        self.closed
    }

    /// Everything queued is written.
    pub(super) fn drained(&self) -> bool {
        self.written == self.buf.len()
    }

    /// So much is queued that it should be written before more is.
    pub(super) fn full(&self) -> bool {
        self.buf.len() - self.written >= WRITE_HIGH_WATER
    }

    /// Writes everything queued to `io`, then flushes it. The pongs owed are queued only once
    /// the rest is written: a peer that pings and does not read is owed at most `OWED_PONGS`
    /// bytes of them, not a queue that grows.
    pub(super) fn poll_write_out<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            while self.written < self.buf.len() {
                match ready!(Pin::new(&mut *io).poll_write(cx, &self.buf[self.written..])) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => self.written += n,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            pool::give(std::mem::take(&mut self.buf));
            self.written = 0;
            if self.pongs.is_empty() {
                break;
            }
            let pongs = std::mem::take(&mut self.pongs);
            // (Nothing may follow a close frame.)
            if !self.closed {
                self.buf = pongs;
            }
        }
        Pin::new(io).poll_flush(cx)
    }

    /// Tries to write what is queued (control frames the peer is owed), without waiting.
    pub(super) fn write_soon<S: AsyncWrite + Unpin>(&mut self, io: &mut S, cx: &mut Context<'_>) {
        let _ = self.poll_write_out(io, cx);
    }

    /// Bytes queued or owed, and the pongs owed: what a peer that does not read is owed.
    #[cfg(test)]
    pub(super) fn owed(&self) -> (usize, &[u8]) {
        (self.buf.len() + self.pongs.len(), &self.pongs)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.buf));
    }
}

/// A client masks every frame with a new key, which RFC 6455 asks a peer cannot predict: a
/// counter through SipHash keyed at random (std's `RandomState`), so that keys seen reveal
/// nothing of the next ones.
struct MaskKeys {
    keys: std::collections::hash_map::RandomState,
    count: u64,
}

impl MaskKeys {
    fn new() -> MaskKeys {
        MaskKeys {
            keys: std::collections::hash_map::RandomState::new(),
            count: 0,
        }
    }

    fn next(&mut self) -> [u8; 4] {
        use std::hash::BuildHasher;
        self.count += 1;
        (self.keys.hash_one(self.count) as u32).to_ne_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keys_vary() {
        let mut keys = MaskKeys::new();
        let drawn: std::collections::HashSet<[u8; 4]> = (0..1000).map(|_| keys.next()).collect();
        assert!(drawn.len() > 990);
    }
}
