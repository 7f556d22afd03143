//! Call interceptors: something that sees the calls made on stubs on this thread before they
//! are made, and may take them over (the reference's `withCallInterceptor`). `map()` installs
//! one while it runs a mapper, to record its calls instead of sending them.

use std::cell::RefCell;
use std::rc::Rc;

use super::Stub;
use crate::value::Value;
use crate::wire::PathKey;

/// Sees calls and property reads made on stubs while installed.
pub(crate) trait Interceptor {
    /// A call of `path` on `stub`: `Some` takes it (and is its result), `None` lets it be made.
    fn call(&self, stub: &Stub, path: &[PathKey], args: &[Value]) -> Option<Stub>;
    /// A read of `path` on `stub`, likewise.
    fn get(&self, stub: &Stub, path: &[PathKey]) -> Option<Stub>;
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<dyn Interceptor>>> = const { RefCell::new(None) };
    /// Whether `CURRENT` holds one: what every call looks at (a `Cell<bool>` needs no
    /// destructor check, unlike the `RefCell` of an `Rc`).
    static ACTIVE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with `interceptor` installed on this thread (the one before is back afterwards,
/// even if `f` panics).
pub(crate) fn with<T>(interceptor: Rc<dyn Interceptor>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Rc<dyn Interceptor>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let before = self.0.take();
            ACTIVE.with(|a| a.set(before.is_some()));
            CURRENT.with(|c| *c.borrow_mut() = before);
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(interceptor)));
    ACTIVE.with(|a| a.set(true));
    f()
}

fn current() -> Option<Rc<dyn Interceptor>> {
    if !ACTIVE.with(std::cell::Cell::get) {
        return None;
    }
    CURRENT.with(|c| c.borrow().clone())
}

/// What the installed interceptor makes of a call, if one is installed and takes it.
pub(super) fn call(stub: &Stub, path: &[PathKey], args: &[Value]) -> Option<Stub> {
    current()?.call(stub, path, args)
}

/// What the installed interceptor makes of a property read, likewise.
pub(super) fn get(stub: &Stub, path: &[PathKey]) -> Option<Stub> {
    current()?.get(stub, path)
}
