//! The import and export tables, and the one place each hands out ids.
//!
//! Ids are signed by who chose them. The answer to a push takes the next positive id on both
//! sides: on the sender's imports ([`Imports::push`]) and, implicitly, on the receiver's
//! exports ([`Exports::push_peer`]); a pipe opened counts as a push. Capabilities a side exports
//! in a value take its next negative id ([`Exports::push`]), which the peer then imports.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use crate::error::RpcError;
use crate::stream::ReadableStream;
use crate::stub::{StreamDone, Stub};
use crate::value::Value;
use crate::waiters::Waiters;

/// A session table. Ids are small integers a peer may choose, so the hash is seeded per process
/// (foldhash), but far cheaper than the standard SipHash for each of a call's several lookups.
pub(super) type Table<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A table by id whose entry 0 (the main object, in every session from its start to its end)
/// has a place of its own: a session that holds only its main objects allocates no table.
pub(super) struct Slots<V> {
    main: Option<V>,
    rest: Table<i64, V>,
}

impl<V> Default for Slots<V> {
    fn default() -> Self {
        Slots {
            main: None,
            rest: Table::default(),
        }
    }
}

impl<V> Slots<V> {
    pub(super) fn get(&self, id: i64) -> Option<&V> {
        match id {
            0 => self.main.as_ref(),
            _ => self.rest.get(&id),
        }
    }

    pub(super) fn get_mut(&mut self, id: i64) -> Option<&mut V> {
        match id {
            0 => self.main.as_mut(),
            _ => self.rest.get_mut(&id),
        }
    }

    pub(super) fn contains_key(&self, id: i64) -> bool {
        self.get(id).is_some()
    }

    /// Puts `entry` at `id`, returning what was there.
    pub(super) fn insert(&mut self, id: i64, entry: V) -> Option<V> {
        match id {
            0 => self.main.replace(entry),
            _ => self.rest.insert(id, entry),
        }
    }

    pub(super) fn remove(&mut self, id: i64) -> Option<V> {
        match id {
            0 => self.main.take(),
            _ => self.rest.remove(&id),
        }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.main.is_some()) + self.rest.len()
    }

    /// Makes room for `n` more entries at once.
    pub(super) fn reserve(&mut self, n: usize) {
        self.rest.reserve(n);
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        (self.main.iter().map(|v| (0, v))).chain(self.rest.iter().map(|(&id, v)| (id, v)))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &V> {
        self.main.iter().chain(self.rest.values())
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.main.iter_mut().chain(self.rest.values_mut())
    }

    /// Takes every entry out; the table's memory goes with them.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (i64, V)> {
        let rest = std::mem::take(&mut self.rest);
        (self.main.take().map(|v| (0, v)).into_iter()).chain(rest)
    }
}

/// The import table: what the peer exported to us, and the answers to our pushes.
pub(super) struct Imports {
    entries: Slots<ImportEntry>,
    /// The id our next push's answer (or pipe) gets.
    next: i64,
}

impl Default for Imports {
    fn default() -> Imports {
        Imports {
            entries: Slots::default(),
            next: 1,
        }
    }
}

impl Imports {
    /// Adds `entry` at the next id of ours (an answer to our push, a pipe we open).
    pub(super) fn push(&mut self, entry: ImportEntry) -> i64 {
        let id = self.next;
        self.next += 1;
        self.entries.insert(id, entry);
        id
    }

    /// Whether `id` is one of ours not handed out yet: the peer cannot refer to it (it would
    /// collide with the entry our next push makes).
    pub(super) fn is_future(&self, id: i64) -> bool {
        id >= self.next
    }
}

impl Deref for Imports {
    type Target = Slots<ImportEntry>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl DerefMut for Imports {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

/// The export table: what we exported to the peer, and the peer's pushes and pipes.
pub(super) struct Exports {
    entries: Slots<ExportEntry>,
    /// The id our next export gets.
    next: i64,
    /// The id the peer's next push or pipe gets.
    next_peer: i64,
}

impl Default for Exports {
    fn default() -> Exports {
        Exports {
            entries: Slots::default(),
            next: -1,
            next_peer: 1,
        }
    }
}

impl Exports {
    /// Adds `entry`, a capability of ours going out in a value, at our next id.
    pub(super) fn push(&mut self, entry: ExportEntry) -> i64 {
        let id = self.next;
        self.next -= 1;
        self.entries.insert(id, entry);
        id
    }

    /// Adds `entry`, what the peer's push or pipe made, at the id the peer gave it too.
    pub(super) fn push_peer(&mut self, entry: ExportEntry) -> i64 {
        let id = self.next_peer;
        self.next_peer += 1;
        self.entries.insert(id, entry);
        id
    }
}

impl Deref for Exports {
    type Target = Slots<ExportEntry>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl DerefMut for Exports {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

pub(super) struct ImportEntry {
    pub(super) local_refs: usize,
    pub(super) remote_refcount: u64,
    pub(super) released: bool,
    pub(super) pulled: bool,
    pub(super) resolution: Option<Result<Value, RpcError>>,
    /// Tasks awaiting the resolution (see `ImportWait`).
    pub(super) waiters: Waiters,
    /// For a `stream` call: what to do with its answer (the entry then goes away).
    pub(super) on_settle: Option<(usize, StreamDone)>,
    /// Once released and settled: the export standing for its resolution when it is sent on
    /// (one for all, so that a resolution that contains the import itself is sent once).
    pub(super) resolution_export: Option<i64>,
}

impl ImportEntry {
    pub(super) fn new(pulled: bool) -> ImportEntry {
        ImportEntry {
            local_refs: 0,
            remote_refcount: 1,
            released: false,
            pulled,
            resolution: None,
            waiters: Waiters::None,
            on_settle: None,
            resolution_export: None,
        }
    }

    /// An entry with one local handle: a stub on it is made next.
    pub(super) fn held(pulled: bool) -> ImportEntry {
        ImportEntry {
            local_refs: 1,
            ..ImportEntry::new(pulled)
        }
    }
}

pub(super) struct ExportEntry {
    pub(super) stub: Stub,
    pub(super) refcount: u64,
    pub(super) answer: Answer,
    /// Released automatically once answered (`stream`).
    pub(super) auto_release: bool,
    /// For a pipe the peer opened: its readable end, until an expression takes it.
    pub(super) pipe_readable: Option<ReadableStream>,
    /// A pipe the peer opened (its writable end is the stub).
    pub(super) peer_pipe: bool,
    /// For a promise exported in another promise's resolution: how many such resolutions it
    /// is nested in (bounded: a promise whose value holds itself would nest without end).
    pub(super) depth: u8,
    /// Bytes of its result counted in `State::answer_bytes`, until it goes.
    pub(super) held: usize,
}

impl ExportEntry {
    pub(super) fn new(stub: Stub, answer: Answer) -> ExportEntry {
        ExportEntry {
            stub,
            refcount: 1,
            answer,
            auto_release: false,
            pipe_readable: None,
            peer_pipe: false,
            depth: 0,
            held: 0,
        }
    }
}

/// Where an export stands with respect to the peer's interest in its resolution.
pub(super) enum Answer {
    /// Not a promise, or nobody asked yet and nothing is running.
    Idle,
    /// Its result is being computed; send it when done if `pulled`.
    Running { pulled: bool },
    /// Computed, not yet asked for: the result, or `None` where the export's stub holds it (a
    /// local call's result, kept there for pipelining: not copied).
    Settled(Option<Result<Value, RpcError>>),
    /// Sent.
    Sent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_numbers_its_own_ids_and_the_peer_pushes_mirror_ours() {
        let mut imports = Imports::default();
        assert!(imports.is_future(1));
        assert_eq!(imports.push(ImportEntry::new(false)), 1);
        assert_eq!(imports.push(ImportEntry::new(false)), 2);
        assert!(!imports.is_future(2) && imports.is_future(3));
        let mut exports = Exports::default();
        let entry = || ExportEntry::new(Stub::resolved(Value::Null), Answer::Idle);
        assert_eq!(exports.push(entry()), -1);
        assert_eq!(exports.push_peer(entry()), 1);
        assert_eq!(exports.push(entry()), -2);
        assert_eq!(exports.push_peer(entry()), 2);
        assert_eq!(exports.len(), 4);
    }

    #[test]
    fn entry_zero_has_its_own_place_and_is_found_like_the_others() {
        let mut slots = Slots::default();
        assert_eq!(slots.insert(0, "main"), None);
        assert_eq!(slots.rest.capacity(), 0, "the main entry allocated a table");
        slots.insert(-1, "export");
        slots.insert(2, "answer");
        assert_eq!(slots.len(), 3);
        assert_eq!(
            (slots.get(0), slots.get(-1)),
            (Some(&"main"), Some(&"export"))
        );
        let mut ids: Vec<i64> = slots.iter().map(|(id, _)| id).collect();
        ids.sort();
        assert_eq!(ids, [-1, 0, 2]);
        assert_eq!(slots.values().count(), 3);
        assert_eq!(slots.remove(0), Some("main"));
        assert!(!slots.contains_key(0));
        let mut drained: Vec<_> = slots.drain().collect();
        drained.sort();
        assert_eq!(drained, [(-1, "export"), (2, "answer")]);
        assert_eq!(slots.len(), 0);
    }
}
