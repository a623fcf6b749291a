//! Injected I/O errors, for the tests that show an error at any point of a commit loses
//! nothing and is reported as what it did (in the spirit of SQLite's I/O error tests).
//!
//! Every file-system operation of the commit path (the record, the journal, each rename,
//! each folder flush, the undo, the history line) calls [`check`] first. Operations are
//! counted from [`arm`], at the start of each commit; the plan says which one fails:
//!
//! - `CONFSYNC_FAILPOINTS=io-fail-at=N`: the Nth operation fails with EIO;
//! - `io-fail-persistent`: it and every later one fail (a disk that stays broken, so the
//!   undo fails too: a double fault);
//! - `io-fail-enospc`: ENOSPC instead of EIO.
//!
//! Unit tests inject a plan for their own thread with [`inject`]. Unset, [`check`] costs
//! one thread-local and one relaxed atomic load.

use std::cell::RefCell;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::failpoint;

pub const IO_FAIL_AT: &str = "io-fail-at";
pub const IO_FAIL_PERSISTENT: &str = "io-fail-persistent";
pub const IO_FAIL_ENOSPC: &str = "io-fail-enospc";

/// Which checked operation fails, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// 1-based: the first operation after [`arm`] is 1.
    pub at: u64,
    /// Every operation from `at` on fails, not only that one.
    pub persistent: bool,
    pub enospc: bool,
}

struct State {
    plan: Plan,
    count: AtomicU64,
    armed: AtomicBool,
}

impl State {
    fn new(plan: Plan) -> State {
        State { plan, count: AtomicU64::new(0), armed: AtomicBool::new(false) }
    }

    fn check(&self, op: &'static str, path: &Path) -> std::io::Result<()> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let hit = n == self.plan.at || (self.plan.persistent && n > self.plan.at);
        if !hit {
            return Ok(());
        }
        tracing::error!(operation = n, op, path = %path.display(), "failpoint: injected I/O error");
        let code = if self.plan.enospc { libc_enospc() } else { libc_eio() };
        Err(std::io::Error::from_raw_os_error(code))
    }
}

fn libc_eio() -> i32 {
    rustix::io::Errno::IO.raw_os_error()
}

fn libc_enospc() -> i32 {
    rustix::io::Errno::NOSPC.raw_os_error()
}

fn global() -> Option<&'static State> {
    static GLOBAL: OnceLock<Option<State>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            failpoint::value(IO_FAIL_AT).map(|at| {
                State::new(Plan {
                    at,
                    persistent: failpoint::value(IO_FAIL_PERSISTENT).is_some(),
                    enospc: failpoint::value(IO_FAIL_ENOSPC).is_some(),
                })
            })
        })
        .as_ref()
}

thread_local! {
    static LOCAL: RefCell<Option<std::rc::Rc<State>>> = const { RefCell::new(None) };
}

/// Starts counting operations from zero (at the start of a commit). A no-op without a
/// plan.
pub fn arm() {
    let local = LOCAL.with(|l| l.borrow().clone());
    if let Some(state) = local {
        state.count.store(0, Ordering::Relaxed);
        state.armed.store(true, Ordering::Relaxed);
    } else if let Some(state) = global() {
        state.count.store(0, Ordering::Relaxed);
        state.armed.store(true, Ordering::Relaxed);
    }
}

/// Stops failing (after the apply has reported).
pub fn disarm() {
    let local = LOCAL.with(|l| l.borrow().clone());
    if let Some(state) = local {
        state.armed.store(false, Ordering::Relaxed);
    } else if let Some(state) = global() {
        state.armed.store(false, Ordering::Relaxed);
    }
}

/// Fails with the planned error when this is the operation the plan names.
pub fn check(op: &'static str, path: &Path) -> std::io::Result<()> {
    let local = LOCAL.with(|l| l.borrow().clone());
    match (local, global()) {
        (Some(state), _) => state.check(op, path),
        (None, Some(state)) => state.check(op, path),
        (None, None) => Ok(()),
    }
}

/// Runs `body` with `plan` for this thread, armed, and returns how many operations were
/// checked.
pub fn inject<T>(plan: Plan, body: impl FnOnce() -> T) -> (T, u64) {
    let state = std::rc::Rc::new(State::new(plan));
    state.armed.store(true, Ordering::Relaxed);
    LOCAL.with(|l| *l.borrow_mut() = Some(std::rc::Rc::clone(&state)));
    let out = body();
    LOCAL.with(|l| *l.borrow_mut() = None);
    (out, state.count.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planned_operation_fails_once_or_from_then_on() {
        let path = Path::new("x");
        let plan = Plan { at: 2, persistent: false, enospc: false };
        let (results, count) =
            inject(plan, || (0..4).map(|_| check("op", path).is_err()).collect::<Vec<_>>());
        assert_eq!((results, count), (vec![false, true, false, false], 4));
        let plan = Plan { at: 2, persistent: true, enospc: true };
        let (results, _) = inject(plan, || {
            (0..4)
                .map(|_| check("op", path).err().and_then(|e| e.raw_os_error()))
                .collect::<Vec<_>>()
        });
        let nospc = Some(libc_enospc());
        assert_eq!(results, vec![None, nospc, nospc, nospc]);
        assert!(check("op", path).is_ok(), "nothing injected outside");
    }
}
