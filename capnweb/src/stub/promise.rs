//! [`PromiseHook`]: a local promise (a call in progress, or its settled result) that any number
//! of parties may await, and [`Resolution`], what resolving a hook returns.
//!
//! Every call a peer makes creates one of these, so it is built to cost one allocation when the
//! call finishes at once, and waiting on it needs no box. The computation's waker reaches the
//! hook only weakly: a future may keep its own waker (a channel it awaits does), and a strong
//! one would make a cycle that keeps an abandoned call, and whatever it holds, alive forever.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};

use super::{BoxFuture, Stub};
use crate::error::RpcError;
use crate::value::Value;
use crate::waiters::Waiters;

type Output = Result<Value, RpcError>;

/// A local promise. Whoever awaits it drives its future; the others wait for that one to
/// finish (or are woken to take over if it stops waiting).
pub(crate) struct PromiseHook {
    state: Mutex<State>,
}

struct State {
    /// The computation, while nobody is polling it and it has not finished.
    future: Option<BoxFuture<Output>>,
    result: Option<Output>,
    /// Everyone waiting; all are woken when the future makes progress or settles.
    waiters: Waiters,
    /// The future asked to be polled again while it was being polled.
    repoll: bool,
    /// The waker the future is polled with, made once it did not finish at its first poll.
    waker: Option<Waker>,
    /// A call a session started for its peer: only that session's task drives it (see
    /// `SessionDriven`), so that the calls it delivers reach their targets in the order it
    /// runs them, whoever else awaits their results on other threads.
    session_driven: bool,
}

/// What the computation's waker holds: the hook, weakly (see the module's doc).
struct Wakeup(Weak<PromiseHook>);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(hook) = self.0.upgrade() {
            hook.progressed();
        }
    }
}

impl PromiseHook {
    pub(crate) fn pending(fut: impl Future<Output = Output> + Send + 'static) -> Stub {
        PromiseHook::boxed(Box::pin(fut))
    }

    /// As `pending`, for a future boxed already (a target's call): no second box around it.
    pub(crate) fn boxed(fut: BoxFuture<Output>) -> Stub {
        PromiseHook::with(Some(fut), None)
    }

    pub(crate) fn ready(result: Output) -> Stub {
        PromiseHook::with(None, Some(result))
    }

    fn with(future: Option<BoxFuture<Output>>, result: Option<Output>) -> Stub {
        Stub::from_hook(PromiseHook {
            state: Mutex::new(State {
                future,
                result,
                waiters: Waiters::None,
                repoll: false,
                waker: None,
                session_driven: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `read` makes of the result, if it is settled: read in place, not copied.
    pub(crate) fn settled<R>(&self, read: impl FnOnce(&Output) -> R) -> Option<R> {
        self.lock().result.as_ref().map(read)
    }

    /// Waits for the result, driving the computation if nobody else is.
    pub(crate) fn wait(self: Arc<Self>) -> Resolution {
        Resolution(Inner::Promise(self))
    }

    /// Polls the computation once, with no waker (a later poll, with one, follows if it is
    /// pending), through the only handle on this promise: nobody else can be waiting on it
    /// or polling it, so no lock is taken. The result stays here, not copied (see `settled`).
    pub(crate) fn poll_unique(&mut self) -> Poll<()> {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if st.result.is_some() {
            return Poll::Ready(());
        }
        let Some(future) = &mut st.future else {
            return Poll::Pending;
        };
        match poll_guarded(future, Waker::noop()) {
            Poll::Ready(result) => {
                st.future = None;
                st.result = Some(result);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_result(self: &Arc<Self>, cx: &Context<'_>) -> Poll<Output> {
        let mut st = self.lock();
        if let Some(result) = &st.result {
            return Poll::Ready(result.clone());
        }
        let driver_elsewhere = st.session_driven && !DRIVING_A_SESSION.with(std::cell::Cell::get);
        let future = if driver_elsewhere {
            None
        } else {
            st.future.take()
        };
        let Some(mut future) = future else {
            // Another waiter is polling it right now, or its session's task drives it: we are
            // woken when it progresses or settles.
            st.waiters.register(cx.waker());
            return Poll::Pending;
        };
        st.repoll = false;
        let known = st.waker.clone();
        drop(st);
        // Polled with a waker that wakes every waiter on progress. Most calls finish at their
        // first poll, which needs none: that one goes with a no-op waker, and a call still
        // pending is polled again at once with a real one.
        let mut made = None;
        let polled = match &known {
            Some(waker) => poll_guarded(&mut future, waker),
            None => match poll_guarded(&mut future, Waker::noop()) {
                Poll::Pending => {
                    let waker = Waker::from(Arc::new(Wakeup(Arc::downgrade(self))));
                    let polled = poll_guarded(&mut future, &waker);
                    made = Some(waker);
                    polled
                }
                ready @ Poll::Ready(_) => ready,
            },
        };
        let mut st = self.lock();
        if made.is_some() {
            st.waker = made;
        }
        if let Some(cancelled) = st.result.clone() {
            // Cancelled while we polled: what it computed, or was computing, goes.
            drop(st);
            drop((future, polled));
            return Poll::Ready(cancelled);
        }
        match polled {
            Poll::Ready(result) => {
                st.result = Some(result.clone());
                let waiters = std::mem::take(&mut st.waiters);
                drop(st);
                drop(future);
                waiters.wake();
                Poll::Ready(result)
            }
            Poll::Pending => {
                st.future = Some(future);
                st.waiters.register(cx.waker());
                let repoll = std::mem::take(&mut st.repoll);
                drop(st);
                if repoll {
                    // Woken while we held the future, before we were registered.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

impl PromiseHook {
    /// Marks `stub`, a call a session started for its peer, as driven by that session's task
    /// alone (which has a task for it). Anything else awaiting it waits for that task.
    pub(crate) fn driven_by_session(stub: &Stub) {
        if let Some(hook) = stub.downcast::<PromiseHook>() {
            hook.lock().session_driven = true;
        }
    }

    /// Settles it with `reason` in place of whatever it was doing or had given, and drops its
    /// computation and result: its session has ended. Promises can hold each other (a result
    /// containing the call that waited for it, say), in cycles nothing else would free.
    pub(crate) fn cancel(&self, reason: &RpcError) {
        let mut st = self.lock();
        let future = st.future.take();
        let result = st.result.replace(Err(reason.clone()));
        let waiters = std::mem::take(&mut st.waiters);
        drop(st);
        drop((future, result));
        waiters.wake();
    }

    /// The computation was woken: every waiter polls again (one of them drives it).
    fn progressed(&self) {
        let mut st = self.lock();
        st.repoll = true;
        let waiters = std::mem::take(&mut st.waiters);
        drop(st);
        waiters.wake();
    }
}

/// What a promise held, dropped after it: a result can hold promises whose results hold more,
/// a chain a peer can make as long as it likes (each link a value it pushed, holding the one
/// before). Dropped one inside the other, the chain would overflow the stack; here each link
/// is dropped in turn, by the outermost drop.
impl Drop for PromiseHook {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let held = (st.future.take(), st.result.take());
        let may_hold_more = |v: &Value| {
            use Value::{Array, Error, Object, Promise, Readable, Response, Stub, Writable};
            matches!(
                v,
                Array(_)
                    | Object(_)
                    | Error(_)
                    | Response(_)
                    | Stub(_)
                    | Promise(_)
                    | Readable(_)
                    | Writable(_)
            )
        };
        if held.0.is_none()
            && !matches!(&held.1, Some(Err(_)))
            && !held
                .1
                .as_ref()
                .is_some_and(|r| r.as_ref().is_ok_and(may_hold_more))
        {
            // A leaf (the commonest result): nothing of it can be a link.
            return;
        }
        let deferred = DROPPING.try_with(|d| {
            if d.dropping.replace(true) {
                d.later.borrow_mut().push(held);
                return None;
            }
            Some(held)
        });
        match deferred {
            // The outermost drop: this one, then every link it let go of, in turn.
            Ok(Some(held)) => {
                struct Done;
                impl Drop for Done {
                    fn drop(&mut self) {
                        let _ = DROPPING.try_with(|d| d.dropping.set(false));
                    }
                }
                let _done = Done;
                drop(held);
                while let Some(next) = DROPPING
                    .try_with(|d| d.later.borrow_mut().pop())
                    .ok()
                    .flatten()
                {
                    drop(next);
                }
            }
            Ok(None) => {}
            // The thread is ending: as it comes.
            Err(_) => {}
        }
    }
}

/// A promise's contents being let go of: its computation and its result, either may be gone.
type Held = (Option<BoxFuture<Output>>, Option<Output>);

/// The promises' contents being dropped on this thread (see `PromiseHook`'s `Drop`).
struct Dropping {
    dropping: std::cell::Cell<bool>,
    later: std::cell::RefCell<Vec<Held>>,
}

thread_local! {
    static DROPPING: Dropping = const {
        Dropping {
            dropping: std::cell::Cell::new(false),
            later: std::cell::RefCell::new(Vec::new()),
        }
    };
}

thread_local! {
    /// Set while a session's task is being polled (see `SessionDriven`).
    static DRIVING_A_SESSION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A session's task: while it is polled, the calls its session started may be driven.
pub(crate) struct SessionDriven<F>(pub(crate) Pin<Box<F>>);

impl<F: Future> Future for SessionDriven<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                DRIVING_A_SESSION.with(|d| d.set(self.0));
            }
        }
        let _restore = Restore(DRIVING_A_SESSION.with(|d| d.replace(true)));
        self.0.as_mut().poll(cx)
    }
}

/// How deep promises may poll one another in one thread: a promise forwarded to its own
/// resolution, which a peer can arrange, would otherwise recurse until the stack overflows (and
/// the process with it). Legitimate chains (pipelined calls) are far shallower.
const MAX_POLL_DEPTH: usize = 128;

thread_local! {
    static POLL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Polls `future` once with `waker`. A method that panics fails its call, as a JavaScript method
/// that throws: the waiters get the error and the session goes on (it is not polled again). So
/// does a promise polled deeper than `MAX_POLL_DEPTH`.
fn poll_guarded(future: &mut BoxFuture<Output>, waker: &Waker) -> Poll<Output> {
    let depth = POLL_DEPTH.with(|d| d.replace(d.get() + 1));
    let polled = if depth >= MAX_POLL_DEPTH {
        Poll::Ready(Err(RpcError::error(
            "promises forward to one another too deeply (one resolves to itself?)",
        )))
    } else {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            future.as_mut().poll(&mut Context::from_waker(waker))
        }))
        .unwrap_or_else(|_| Poll::Ready(Err(panicked())))
    };
    POLL_DEPTH.with(|d| d.set(depth));
    polled
}

/// The error of a call whose method panicked.
pub(crate) fn panicked() -> RpcError {
    RpcError::error("the call panicked")
}

/// What resolving a hook gives: the value it stands for, once known. None of its forms needs an
/// allocation: a settled value, a local promise, a session's import.
pub(crate) struct Resolution(Inner);

enum Inner {
    Ready(Option<Output>),
    Promise(Arc<PromiseHook>),
    Polled(Arc<dyn super::Hook>),
}

impl Resolution {
    pub(crate) fn ready(result: Output) -> Resolution {
        Resolution(Inner::Ready(Some(result)))
    }

    /// A resolution `hook` answers itself (`Hook::poll_resolution`): a session's import, the
    /// commonest wait of a client, with no box.
    pub(crate) fn polled(hook: Arc<dyn super::Hook>) -> Resolution {
        Resolution(Inner::Polled(hook))
    }
}

impl Future for Resolution {
    type Output = Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        match &mut self.get_mut().0 {
            Inner::Ready(result) => {
                Poll::Ready(result.take().expect("Resolution polled after completion"))
            }
            Inner::Promise(hook) => hook.poll_result(cx),
            Inner::Polled(hook) => hook.poll_resolution(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::FutureExt;
    use tokio::sync::oneshot;

    use super::*;

    /// Waits on the promise `stub` holds.
    fn wait(stub: &Stub) -> Resolution {
        assert!(stub.downcast::<PromiseHook>().is_some());
        stub.0.clone().resolve()
    }

    /// A promise that settles with 7 once `rx` fires, counting how often its body starts.
    fn gated(runs: &Arc<AtomicUsize>) -> (Stub, oneshot::Sender<()>) {
        let (tx, rx) = oneshot::channel::<()>();
        let runs = runs.clone();
        let stub = PromiseHook::pending(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            let _ = rx.await;
            Ok(Value::from(7))
        });
        (stub, tx)
    }

    #[tokio::test]
    async fn every_waiter_gets_the_result_of_one_run() {
        let runs = Arc::new(AtomicUsize::new(0));
        let (stub, tx) = gated(&runs);
        let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(wait(&stub))).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.send(()).expect("gate");
        for w in waiters {
            assert_eq!(w.await.expect("join").expect("ok"), Value::from(7));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Settled: later waiters get it at once.
        let again = wait(&stub).now_or_never().expect("ready");
        assert_eq!(again.expect("ok"), Value::from(7));
    }

    #[tokio::test]
    async fn a_waiter_takes_over_when_the_driving_one_stops_waiting() {
        let runs = Arc::new(AtomicUsize::new(0));
        let (stub, tx) = gated(&runs);
        let mut first = wait(&stub);
        // `first` polls the future (it is now waiting on the gate), then goes away.
        assert!((&mut first).now_or_never().is_none());
        let second = tokio::spawn(wait(&stub));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        tx.send(()).expect("gate");
        let v = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the second waiter was woken")
            .expect("join");
        assert_eq!(v.expect("ok"), Value::from(7));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_abandoned_call_whose_future_keeps_its_waker_is_freed() {
        /// Counts its drops: the future holding it was freed.
        struct Dropped(Arc<AtomicUsize>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel::<()>();
        let guard = Dropped(dropped.clone());
        let stub = PromiseHook::pending(async move {
            let _guard = guard;
            // The receiver keeps the waker it is polled with: the hook's, if it were its own.
            let _ = rx.await;
            Ok(Value::Null)
        });
        assert!(
            wait(&stub).now_or_never().is_none(),
            "waiting on the channel"
        );
        drop(stub);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the abandoned call is still alive"
        );
        drop(tx);
    }

    #[test]
    fn promises_polling_one_another_too_deeply_fail_instead_of_overflowing_the_stack() {
        // Each awaits the one before: polling the last polls them all, one inside the other.
        let mut stub = PromiseHook::pending(std::future::pending());
        for _ in 0..2_000 {
            let before = stub.clone();
            stub = PromiseHook::pending(async move { before.0.clone().resolve().await });
        }
        let polled = wait(&stub)
            .now_or_never()
            .expect("settled by the depth limit");
        let error = polled.expect_err("an error").to_string();
        assert!(error.contains("too deeply"), "{error}");
    }

    #[tokio::test]
    async fn a_panicking_call_settles_as_an_error_for_every_waiter() {
        let (tx, rx) = oneshot::channel::<()>();
        let stub = PromiseHook::pending(async move {
            let _ = rx.await;
            panic!("boom");
        });
        let other = tokio::spawn(wait(&stub));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let driver = tokio::spawn(wait(&stub));
        tx.send(()).expect("gate");
        // Whichever polled it when it panicked goes on, with the error as the others.
        for waiter in [other, driver] {
            let result = waiter.await.expect("the waiter survives the panic");
            assert_eq!(
                result.expect_err("an error").to_string(),
                panicked().to_string()
            );
        }
        assert!(wait(&stub).await.is_err());
    }
}
