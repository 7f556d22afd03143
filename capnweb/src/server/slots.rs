//! Connection slots: at most `max_connections` WebSocket sessions and batch requests at once,
//! and at most `max_connections_per_address` of them from one address. When there is no slot,
//! the session idle longest (of that address, when it is the address that is full) gives way,
//! if it has been idle long enough: peers that hold sockets open and do nothing cannot lock new
//! users out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::registry::Registry;

/// How long a new request waits for the slot of a session that gave way.
/// (A session that gave way takes a moment to go: its abort is sent, its socket closed; one
/// whose peer reads nothing is given up on after the session's close grace, 5 s.)
const GIVE_WAY_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct Slots {
    total: Arc<Semaphore>,
    max: usize,
    per_address: usize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
    /// A session idle at least this long gives way to a new request when there is no slot.
    reclaim_after: Option<Duration>,
}

/// A slot taken: given back when dropped.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    address: Option<IpAddr>,
    slots: Arc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(address) = self.address {
            let mut by_address = self.slots.by_address();
            if let Some(n) = by_address.get_mut(&address) {
                *n -= 1;
                if *n == 0 {
                    by_address.remove(&address);
                }
            }
        }
    }
}

/// Why no slot was free.
enum Full {
    Server,
    Address(IpAddr),
}

impl Slots {
    pub(crate) fn new(max: usize, per_address: usize, reclaim_after: Option<Duration>) -> Slots {
        Slots {
            total: Arc::new(Semaphore::new(max)),
            max,
            per_address,
            by_address: Mutex::new(HashMap::new()),
            reclaim_after,
        }
    }

    fn by_address(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.by_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_take(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Slot, Full> {
        let mut by_address = self.by_address();
        if let Some(address) = address {
            if by_address.get(&address).copied().unwrap_or(0) >= self.per_address {
                return Err(Full::Address(address));
            }
        }
        let permit = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Full::Server)?;
        if let Some(address) = address {
            *by_address.entry(address).or_insert(0) += 1;
        }
        Ok(Slot {
            _permit: permit,
            address,
            slots: self.clone(),
        })
    }

    /// A slot for a request from `address`; when there is none, the session of `registry` idle
    /// longest gives way (if any has been idle long enough), or the reason there is none.
    pub(crate) async fn take(
        self: &Arc<Self>,
        address: Option<IpAddr>,
        registry: &Registry,
    ) -> Result<Slot, String> {
        let full = match self.try_take(address) {
            Ok(slot) => return Ok(slot),
            Err(full) => full,
        };
        let of_address = match full {
            Full::Server => None,
            Full::Address(a) => Some(a),
        };
        let gave_way = self
            .reclaim_after
            .is_some_and(|idle| registry.reclaim_idlest(of_address, idle));
        if gave_way {
            let deadline = tokio::time::Instant::now() + GIVE_WAY_WAIT;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if let Ok(slot) = self.try_take(address) {
                    return Ok(slot);
                }
            }
        }
        Err(match full {
            Full::Server => format!("too many connections (limit {})", self.max),
            Full::Address(a) => format!(
                "too many connections from {a} (max_connections_per_address {})",
                self.per_address
            ),
        })
    }
}
