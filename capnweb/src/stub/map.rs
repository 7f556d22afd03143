//! `map()`: recording a mapper on the calling side, applying it on the receiving side.
//!
//! Recording runs the user's closure once, synchronously, with a placeholder for the element.
//! While it runs, every call made on a stub is recorded as an instruction instead of being sent
//! (a thread-local builder, as the reference's `currentMapBuilder`). The instructions travel in
//! a `remap` expression and are applied to each element by the receiver.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::RpcError;
use crate::stub::eval::{evaluate, Importer};
use crate::stub::{BoxFuture, Hook, PromiseHook, Resolution, Stub};
use crate::value::Value;
use crate::wire::{parse_expr, write_value, Exporter, Expr, Limits, PathKey, WireError, WireRef};

thread_local! {
    static BUILDERS: RefCell<Vec<Builder>> = const { RefCell::new(Vec::new()) };
}

struct Builder {
    /// Stubs captured from outside the closure (for the outermost builder), or their indexes in
    /// the parent builder (for a nested one).
    captures: Vec<Capture>,
    instructions: Vec<Expr>,
    error: Option<RpcError>,
    /// Identifies this builder's variables.
    token: usize,
}

enum Capture {
    Stub(Stub),
    Parent(i64),
}

/// A variable of a mapper being recorded: the input (0) or an instruction's result.
struct MapVar {
    token: usize,
    index: i64,
}

impl Hook for MapVar {
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        record_call(&Stub(self), path, &args).unwrap_or_else(misuse)
    }
    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        record_get(&Stub(self), path).unwrap_or_else(misuse)
    }
    fn map(self: Arc<Self>, path: &[PathKey], _: Vec<Stub>, _: Arc<[Expr]>) -> Stub {
        let _ = path;
        misuse()
    }
    fn resolve(self: Arc<Self>) -> Resolution {
        Resolution::ready(Err(misuse_error()))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn is_promise(&self) -> bool {
        true
    }
}

fn misuse_error() -> RpcError {
    RpcError::error(
        "Attempted to use an abstract placeholder from a mapper function. Please make sure your map function has no side effects.",
    )
}

fn misuse() -> Stub {
    Stub::broken(misuse_error())
}

static NEXT_TOKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Records `func` as a mapper over the value at `path` of `subject`, and sends it.
pub(crate) fn map(subject: &Stub, path: &[PathKey], func: impl FnOnce(Stub) -> Value) -> Stub {
    let token = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nested_subject = BUILDERS
        .with(|b| !b.borrow().is_empty())
        .then(|| capture(subject));
    BUILDERS.with(|b| {
        b.borrow_mut().push(Builder {
            captures: Vec::new(),
            instructions: Vec::new(),
            error: None,
            token,
        })
    });
    let input = Stub::from_hook(MapVar { token, index: 0 });
    // Calls made while the closure runs are recorded, not made.
    let result = super::intercept::with(std::rc::Rc::new(Recorder), || func(input));
    let last = to_instruction(&result);
    let mut builder = BUILDERS
        .with(|b| b.borrow_mut().pop())
        .expect("builder pushed above");
    drop(result);
    match last {
        Ok(e) => builder.instructions.push(e),
        Err(e) => builder.error = builder.error.or(Some(e)),
    }
    if let Some(e) = builder.error {
        return Stub::broken(e);
    }
    match nested_subject {
        // Nested: the inner mapper becomes an instruction of the outer one.
        Some(subject_index) => {
            let subject_index = match subject_index {
                Ok(i) => i,
                Err(e) => return Stub::broken(e),
            };
            let captures = builder
                .captures
                .iter()
                .map(|c| match c {
                    Capture::Parent(i) => crate::wire::Capture::Import(*i),
                    Capture::Stub(_) => {
                        unreachable!("nested builders capture through their parent")
                    }
                })
                .collect();
            let remap = Expr::Remap(Box::new(crate::wire::RemapExpr {
                id: subject_index,
                path: path.to_vec(),
                captures,
                instructions: builder.instructions,
            }));
            push_instruction(remap)
        }
        None => {
            let captures = builder
                .captures
                .into_iter()
                .map(|c| match c {
                    Capture::Stub(s) => s,
                    Capture::Parent(_) => unreachable!("the outermost builder has no parent"),
                })
                .collect();
            subject.map_raw(path, captures, Arc::from(builder.instructions))
        }
    }
}

/// The index of `stub` in the current (innermost) builder, capturing it if it is new.
fn capture(stub: &Stub) -> Result<i64, RpcError> {
    BUILDERS.with(|b| capture_at(&mut b.borrow_mut(), stub))
}

fn capture_at(builders: &mut [Builder], stub: &Stub) -> Result<i64, RpcError> {
    let (current, parents) = builders.split_last_mut().expect("called while recording");
    if let Some(var) = stub.downcast::<MapVar>() {
        if var.token == current.token {
            return Ok(var.index);
        }
    }
    let entry = if parents.is_empty() {
        if stub.downcast::<MapVar>().is_some() {
            return Err(RpcError::error(
                "a mapper variable was used outside its own map()",
            ));
        }
        Capture::Stub(stub.clone())
    } else {
        Capture::Parent(capture_at(parents, stub)?)
    };
    current.captures.push(entry);
    Ok(-(current.captures.len() as i64))
}

fn push_instruction(e: Expr) -> Stub {
    BUILDERS.with(|b| {
        let mut b = b.borrow_mut();
        let current = b.last_mut().expect("called while recording");
        current.instructions.push(e);
        Stub::from_hook(MapVar {
            token: current.token,
            index: current.instructions.len() as i64,
        })
    })
}

fn recording() -> bool {
    BUILDERS.with(|b| !b.borrow().is_empty())
}

/// The interceptor `map()` installs while a mapper runs.
struct Recorder;

impl super::intercept::Interceptor for Recorder {
    fn call(&self, stub: &Stub, path: &[PathKey], args: &[Value]) -> Option<Stub> {
        record_call(stub, path, args)
    }
    fn get(&self, stub: &Stub, path: &[PathKey]) -> Option<Stub> {
        record_get(stub, path)
    }
}

/// While a mapper is being recorded, records a call instead of making it.
fn record_call(stub: &Stub, path: &[PathKey], args: &[Value]) -> Option<Stub> {
    if !recording() {
        return None;
    }
    Some(record(stub, path, Some(args)))
}

/// While a mapper is being recorded, records a property read instead of making it.
fn record_get(stub: &Stub, path: &[PathKey]) -> Option<Stub> {
    if !recording() {
        return None;
    }
    Some(record(stub, path, None))
}

fn record(stub: &Stub, path: &[PathKey], args: Option<&[Value]>) -> Stub {
    let result: Result<Expr, RpcError> = (|| {
        let subject = capture(stub)?;
        let args = match args {
            Some(a) => Some(
                a.iter()
                    .map(to_instruction)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        Ok(Expr::Pipeline(Box::new(crate::wire::ImportExpr {
            id: subject,
            path: Some(path.to_vec()),
            args,
        })))
    })();
    match result {
        Ok(e) => push_instruction(e),
        Err(e) => {
            BUILDERS.with(|b| {
                if let Some(cur) = b.borrow_mut().last_mut() {
                    cur.error.get_or_insert(e.clone());
                }
            });
            Stub::broken(e)
        }
    }
}

/// A value of the closure as an instruction expression: stubs become references to captures or
/// variables.
fn to_instruction(v: &Value) -> Result<Expr, RpcError> {
    struct MapExporter;
    impl Exporter for MapExporter {
        fn export(&mut self, stub: &Stub, promise: bool) -> Result<WireRef, WireError> {
            let index = capture(stub).map_err(|e| WireError::Unserializable(e.message()))?;
            Ok(if promise || stub.is_promise() {
                WireRef::Pipeline(index, Vec::new())
            } else {
                WireRef::Import(index)
            })
        }
    }
    let mut text = String::new();
    write_value(&mut text, v, &mut MapExporter)?;
    Ok(parse_expr(&text, &Limits::default())?)
}

/// What a peer's call may still spend on maps, shared by the maps nested in it.
struct Budget {
    /// Mapper applications (`Limits::max_map_applications`).
    applications: AtomicUsize,
    /// Bytes for the results mappers are building, shared by every map the session runs at
    /// once (`Limits::max_answer_bytes`, and a server's pool): a mapper's literal is built
    /// anew for each element, so the output can outgrow the message many times over.
    bytes: Arc<dyn MapBytes>,
    /// What this call took of `bytes`: given back when it ends (its result, if any, is then
    /// counted as a result held for the peer).
    spent: AtomicUsize,
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.bytes.give(*self.spent.get_mut());
    }
}

/// The bytes a session's maps may build at once: its session says how many (see `Budget`).
pub(crate) trait MapBytes: Send + Sync {
    /// Takes `n` bytes, if there is room for them.
    fn take(&self, n: usize) -> bool;
    /// Gives back `n` bytes taken.
    fn give(&self, n: usize);
}

impl MapBytes for AtomicUsize {
    fn take(&self, n: usize) -> bool {
        take(self, n)
    }

    fn give(&self, n: usize) {
        self.fetch_add(n, Ordering::Relaxed);
    }
}

tokio::task_local! {
    /// The map budget of the call being answered.
    static BUDGET: Arc<Budget>;
}

/// Runs `fut` (a peer's call) with at most `applications` mapper applications, nested maps
/// included (a map over N elements nested in a map over M costs N x M), building results
/// within what `bytes` has left.
pub(crate) async fn with_budget<T>(
    applications: usize,
    bytes: Arc<dyn MapBytes>,
    fut: impl std::future::Future<Output = T>,
) -> T {
    let budget = Budget {
        applications: AtomicUsize::new(applications),
        bytes,
        spent: AtomicUsize::new(0),
    };
    BUDGET.scope(Arc::new(budget), fut).await
}

/// `map`, a map a peer's message started, with a budget of its own (see [`with_budget`]),
/// whoever drives it, unless it runs within one already (a map nested in another's instructions
/// shares the outer map's).
pub(crate) fn budgeted(applications: usize, bytes: Arc<dyn MapBytes>, map: Stub) -> Stub {
    if BUDGET.try_with(|_| ()).is_ok() || map.downcast::<PromiseHook>().is_none() {
        return map;
    }
    PromiseHook::pending(with_budget(applications, bytes, map.0.resolve()))
}

/// Takes `n` from `count`, if it has that much left.
fn take(count: &AtomicUsize, n: usize) -> bool {
    count
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(n)
        })
        .is_ok()
}

/// Takes `n` mapper applications from the budget in force (none outside a peer's call: a local
/// map is not bounded).
fn spend_applications(n: usize) -> Result<(), RpcError> {
    match BUDGET.try_with(|b| take(&b.applications, n)) {
        Ok(false) => Err(RpcError::range_error(
            "map() work in this call (elements x instructions) exceeds the limit \
             (Limits::max_map_applications)",
        )),
        Ok(true) | Err(_) => Ok(()),
    }
}

/// Counts a result a mapper built against the bytes of the budget in force.
fn spend_bytes(result: &Value) -> Result<(), RpcError> {
    let n = result.held_bytes();
    let taken = BUDGET.try_with(|b| {
        let taken = b.bytes.take(n);
        if taken {
            b.spent.fetch_add(n, Ordering::Relaxed);
        }
        taken
    });
    match taken {
        Ok(false) => Err(RpcError::range_error(
            "map() results being built exceed the bytes held for the peer \
             (Limits::max_answer_bytes, or a server's max_buffered_bytes)",
        )),
        Ok(true) | Err(_) => Ok(()),
    }
}

/// Elements a map applies its mapper to between two yields to the other tasks of its thread.
const YIELD_EVERY: usize = 64;

/// Pending once (waking itself at once), then ready: lets the executor run other tasks. Any
/// executor's: the session runs without tokio.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Applies a mapper to `input`: to each element of an array, to nothing for `null` and
/// `undefined`, and to the value itself otherwise.
pub(crate) fn apply(
    input: Value,
    captures: Vec<Stub>,
    instructions: Arc<[Expr]>,
) -> BoxFuture<Result<Value, RpcError>> {
    Box::pin(async move {
        match input {
            Value::Array(items) => {
                // Counted before any runs: the work is known now.
                spend_applications(items.len().saturating_mul(instructions.len()))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    if i % YIELD_EVERY == YIELD_EVERY - 1 {
                        // A long map lets the other tasks of its thread run between elements.
                        YieldNow(false).await;
                    }
                    let result = apply_one(item, &captures, &instructions, 1).await?;
                    // Its size is known once built: the map stops at the first one over.
                    spend_bytes(&result)?;
                    out.push(result);
                }
                Ok(Value::Array(out))
            }
            v @ (Value::Null | Value::Undefined) => Ok(v),
            v => {
                spend_applications(instructions.len())?;
                let result = apply_one(v, &captures, &instructions, 0).await?;
                spend_bytes(&result)?;
                Ok(result)
            }
        }
    })
}

async fn apply_one(
    input: Value,
    captures: &[Stub],
    instructions: &[Expr],
    level: usize,
) -> Result<Value, RpcError> {
    let Some((last, body)) = instructions.split_last() else {
        return Err(RpcError::error("Invalid empty mapper function."));
    };
    let mut vars = Variables {
        captures,
        variables: vec![PromiseHook::ready(Ok(input))],
    };
    for instruction in body {
        let v = evaluate(instruction.clone(), &mut vars)?;
        let var = match v {
            Value::Stub(s) | Value::Promise(s) => s,
            other => Stub::resolved(other),
        };
        vars.variables.push(var);
    }
    let result = evaluate(last.clone(), &mut vars)?;
    // Its result sits `level` deep in the map's: bounded with it.
    crate::stub::path::resolve_promises_at(result, level).await
}

/// The import table of a mapper: negative ids are captures, 0 the input, positive ids earlier
/// instructions' results.
struct Variables<'a> {
    captures: &'a [Stub],
    variables: Vec<Stub>,
}

impl Importer for Variables<'_> {
    fn import_stub(&mut self, _: i64) -> Result<Stub, RpcError> {
        Err(RpcError::error(
            "A mapper function cannot refer to exports.",
        ))
    }
    fn import_promise(&mut self, id: i64) -> Result<Stub, RpcError> {
        self.import_stub(id)
    }
    fn get_export(&mut self, id: i64) -> Result<Stub, RpcError> {
        let found = if id < 0 {
            self.captures.get((-id - 1) as usize)
        } else {
            self.variables.get(id as usize)
        };
        found
            .cloned()
            .ok_or_else(|| RpcError::error(format!("no such mapper variable: {id}")))
    }
}
