//! The tasks waiting on one result: almost always one, kept without allocating.

use std::task::Waker;

/// Wakers of the tasks waiting on one result, each task once.
#[derive(Debug, Default)]
pub(crate) enum Waiters {
    #[default]
    None,
    One(Waker),
    Many(Vec<Waker>),
}

impl Waiters {
    /// Adds `waker` unless it would wake a task already waiting (or nobody: a no-op waker, as a
    /// first poll to see whether a call is done at once uses).
    pub(crate) fn register(&mut self, waker: &Waker) {
        if waker.will_wake(Waker::noop()) {
            return;
        }
        match self {
            Waiters::None => *self = Waiters::One(waker.clone()),
            Waiters::One(first) if first.will_wake(waker) => {}
            Waiters::One(first) => *self = Waiters::Many(vec![first.clone(), waker.clone()]),
            Waiters::Many(all) => {
                if !all.iter().any(|w| w.will_wake(waker)) {
                    all.push(waker.clone());
                }
            }
        }
    }

    /// Wakes every task.
    pub(crate) fn wake(self) {
        match self {
            Waiters::None => {}
            Waiters::One(w) => w.wake(),
            Waiters::Many(all) => all.into_iter().for_each(Waker::wake),
        }
    }

    /// Moves the wakers to the end of `into`, to be woken later.
    pub(crate) fn move_into(self, into: &mut Vec<Waker>) {
        match self {
            Waiters::None => {}
            Waiters::One(w) => into.push(w),
            Waiters::Many(mut all) => into.append(&mut all),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn each_task_is_woken_once_however_often_it_registers() {
        let (a, b) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut waiters = Waiters::default();
        waiters.register(&wa);
        waiters.register(&wa);
        assert!(matches!(waiters, Waiters::One(_)));
        waiters.register(&wb);
        waiters.register(&wa);
        waiters.wake();
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);

        let mut none = Waiters::default();
        none.register(Waker::noop());
        assert!(matches!(none, Waiters::None));

        let mut later = Vec::new();
        let mut one = Waiters::default();
        one.register(&wb);
        one.move_into(&mut later);
        assert_eq!(later.len(), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1, "moved, not woken");
    }
}
