//! Each client address's shares of an agent's connections, so that a flood from one
//! address (a scanner, a slowloris, an h2 load tool, an attacker holding no certificate)
//! cannot lock out an administrator or a peer agent connecting from that same address.
//!
//! - **Pending**: accepted, handshake not finished; nobody is known yet. When an address
//!   holds its limit of these, a newcomer still gets in: the pending connection making
//!   the least progress goes (one that has sent nothing, oldest first; else the oldest).
//!   A real client sends its handshake at once and is through in milliseconds; a
//!   connection that sits idle is what gives way.
//! - **Open**: established without a certificate this agent trusts with a role (every
//!   client of a plaintext agent, a plaintext client of a TLS agent being told TLS is
//!   needed, a certificate without a confsync role). Newcomers over the limit are dropped.
//! - **Trusted**: established over mutual TLS with an admin or agent certificate of this
//!   agent's CA: a share of its own, which the other two cannot fill.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Which share of its address's connections a connection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Share {
    Pending,
    Open,
    Trusted,
}

/// Connections per client address, by share.
#[derive(Clone, Default)]
pub(super) struct Shares {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    held: HashMap<(IpAddr, Share), usize>,
    /// Per address, its pending connections in the order they came.
    pending: HashMap<IpAddr, VecDeque<Pending>>,
    next_id: u64,
}

struct Pending {
    id: u64,
    started: Arc<AtomicBool>,
    evict: Option<oneshot::Sender<()>>,
}

/// A new connection's pending slot, the signal that it was made to give way, and the flag
/// that says it has started its handshake.
pub(super) struct Admitted {
    pub slot: Slot,
    pub evicted: oneshot::Receiver<()>,
    pub started: Arc<AtomicBool>,
}

impl Shares {
    /// A pending slot for a connection from `ip`; when `ip` already holds `limit` pending
    /// ones, the one making the least progress is told to give way (and its slot freed).
    pub(super) fn admit(&self, ip: IpAddr, limit: usize) -> Admitted {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let queue = state.pending.entry(ip).or_default();
        if queue.len() >= limit.max(1) {
            let idle = queue.iter().position(|p| !p.started.load(Ordering::Relaxed));
            if let Some(mut gone) = queue.remove(idle.unwrap_or(0)) {
                if let Some(evict) = gone.evict.take() {
                    let _ = evict.send(());
                }
                tracing::debug!(%ip, "a pending connection gave way to a newer one from its address");
                // Its slot is given back here: the connection closes on its own time.
                release(&mut state, ip, Share::Pending);
            }
        }
        state.next_id += 1;
        let id = state.next_id;
        let (evict, evicted) = oneshot::channel();
        let started = Arc::new(AtomicBool::new(false));
        let entry = Pending { id, started: Arc::clone(&started), evict: Some(evict) };
        state.pending.entry(ip).or_default().push_back(entry);
        *state.held.entry((ip, Share::Pending)).or_default() += 1;
        let slot = Slot { shares: self.clone(), ip, share: Share::Pending, id: Some(id) };
        Admitted { slot, evicted, started }
    }

    /// Moves an established connection's slot to `share`; `None` (and the slot given
    /// back) when its address already holds `limit` there.
    pub(super) fn promote(&self, slot: Slot, share: Share, limit: usize) -> Option<Slot> {
        let ip = slot.ip;
        drop(slot);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let held = state.held.entry((ip, share)).or_default();
        if *held >= limit {
            return None;
        }
        *held += 1;
        Some(Slot { shares: self.clone(), ip, share, id: None })
    }

    #[cfg(test)]
    fn held(&self, ip: IpAddr, share: Share) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.held.get(&(ip, share)).copied().unwrap_or(0)
    }
}

fn release(state: &mut State, ip: IpAddr, share: Share) {
    if let Some(count) = state.held.get_mut(&(ip, share)) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            state.held.remove(&(ip, share));
        }
    }
}

/// A connection's place in its address's share; given back when dropped.
pub struct Slot {
    shares: Shares,
    ip: IpAddr,
    share: Share,
    /// A pending slot's place in the queue (none once it gave way, or is established).
    id: Option<u64>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.shares.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(id) = self.id else {
            release(&mut state, self.ip, self.share);
            return;
        };
        // A pending slot that gave way was already given back when it was evicted.
        let Some(queue) = state.pending.get_mut(&self.ip) else { return };
        let Some(at) = queue.iter().position(|p| p.id == id) else { return };
        queue.remove(at);
        if queue.is_empty() {
            state.pending.remove(&self.ip);
        }
        release(&mut state, self.ip, Share::Pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_full_pending_share_makes_the_idlest_give_way_and_trusted_has_its_own() {
        let shares = Shares::default();
        let mut first = shares.admit(HOME, 2);
        let second = shares.admit(HOME, 2);
        first.started.store(true, Ordering::Relaxed);
        // The third comes: the second has sent nothing, so it gives way, not the first.
        let mut third = shares.admit(HOME, 2);
        let mut second_evicted = second.evicted;
        assert_eq!(second_evicted.try_recv(), Ok(()), "the idle one gave way");
        assert!(first.evicted.try_recv().is_err(), "the one handshaking stays");
        assert_eq!(shares.held(HOME, Share::Pending), 2);
        drop(second.slot);
        assert_eq!(shares.held(HOME, Share::Pending), 2, "given back once only");

        // Established with a role certificate: its own share, not the pending one.
        let trusted = shares.promote(first.slot, Share::Trusted, 1).expect("a trusted slot");
        assert_eq!(shares.held(HOME, Share::Pending), 1);
        assert_eq!(shares.held(HOME, Share::Trusted), 1);
        assert!(third.evicted.try_recv().is_err());
        assert!(shares.promote(third.slot, Share::Trusted, 1).is_none(), "its limit holds");
        assert_eq!(shares.held(HOME, Share::Pending), 0);
        drop(trusted);
        assert_eq!(shares.held(HOME, Share::Trusted), 0);
    }
}
