//! Buffers lent to a connection for a burst: a socket takes one when bytes come or go and gives
//! it back once it holds nothing, so that an idle session holds no buffer at all (10,000 idle
//! sessions would otherwise keep 10,000 of them). Each runtime thread keeps a few spare ones,
//! so a burst does not cost an allocation.

use std::cell::RefCell;

/// Spare buffers kept per thread: enough for the sessions one thread serves in a burst.
const SPARES: usize = 64;

/// A buffer larger than this is dropped when given back: a large frame's buffer is not kept.
const LARGEST_KEPT: usize = 64 * 1024;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` bytes (their values unspecified: zero, or left by its last user).
pub(super) fn take_filled(len: usize) -> Vec<u8> {
    let mut buf = spare();
    buf.resize(len, 0);
    buf
}

/// An empty buffer, with room to write into if a spare one was there.
pub(super) fn take() -> Vec<u8> {
    let mut buf = spare();
    buf.clear();
    buf
}

fn spare() -> Vec<u8> {
    SPARE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Takes back `buf`, kept for the next burst if not too large and a spare is wanted.
pub(super) fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > LARGEST_KEPT {
        return;
    }
    let _ = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARES {
            spare.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_lent_again_and_a_large_one_is_not_kept() {
        let mut first = take_filled(4096);
        first[0] = 7;
        let at = first.as_ptr();
        give(first);
        let again = take_filled(4096);
        assert_eq!(again.as_ptr(), at, "the spare buffer was not reused");
        assert_eq!(again.len(), 4096);
        give(vec![0; LARGEST_KEPT + 1]);
        assert!(take().capacity() <= LARGEST_KEPT);
    }

    #[test]
    fn spares_are_bounded() {
        for _ in 0..SPARES * 2 {
            give(Vec::with_capacity(16));
        }
        let kept = SPARE.with(|s| s.borrow().len());
        assert!(kept <= SPARES, "{kept}");
    }
}
