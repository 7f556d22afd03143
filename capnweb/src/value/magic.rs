//! How values serde cannot describe (stubs, dates, bigints, bytes, errors, [`Value`] itself)
//! cross a `Serialize`/`Deserialize` impl without being flattened to JSON.
//!
//! serde's data model has no "capability" or "date". So these types use a private newtype
//! name, [`TOKEN`], as a handshake: when our own (de)serializer meets that name it passes the
//! value through a thread-local slot instead. A slot is filled and emptied within one call on
//! the same thread. Any other (de)serializer (e.g. `serde_json`) sees an ordinary newtype and
//! gets a structural fallback.

use std::cell::{Cell, RefCell};

use super::Value;

/// The newtype name that marks the handshake.
pub(crate) const TOKEN: &str = "$capnweb::private::Value";

thread_local! {
    // Two slots, so that a value left behind by a foreign serializer (which ignores the
    // handshake) can never be mistaken for one our deserializer handed over.
    static TO_SERIALIZER: RefCell<Option<Value>> = const { RefCell::new(None) };
    static TO_VISITOR: RefCell<Option<Value>> = const { RefCell::new(None) };
    static SERIALIZING: Cell<u32> = const { Cell::new(0) };
}

/// A `Serialize` impl hands `value` to our serializer, which takes it at once.
pub(crate) fn give_serializer(value: Value) {
    TO_SERIALIZER.with(|s| *s.borrow_mut() = Some(value));
}

/// Our serializer takes what a `Serialize` impl handed over.
pub(crate) fn take_in_serializer() -> Option<Value> {
    TO_SERIALIZER.with(|s| s.borrow_mut().take())
}

/// Our deserializer hands `value` to the visitor it calls next.
pub(crate) fn give_visitor(value: Value) {
    TO_VISITOR.with(|s| *s.borrow_mut() = Some(value));
}

/// A visitor takes what our deserializer handed over (`None` from any other deserializer).
pub(crate) fn take_in_visitor() -> Option<Value> {
    TO_VISITOR.with(|s| s.borrow_mut().take())
}

/// Whether our serializer is running on this thread (so the handshake will be understood).
pub(crate) fn serializing() -> bool {
    SERIALIZING.with(Cell::get) > 0
}

/// Marks our serializer as running until dropped.
pub(crate) struct Serializing;

impl Serializing {
    pub(crate) fn enter() -> Serializing {
        SERIALIZING.with(|c| c.set(c.get() + 1));
        Serializing
    }
}

impl Drop for Serializing {
    fn drop(&mut self) {
        SERIALIZING.with(|c| c.set(c.get() - 1));
    }
}
