//! Admission of request bodies: the bytes of the writes a node holds at once, from the first
//! chunk of a body until its command is answered or expires, are bounded.
//!
//! ```text
//!   PUT / cas body ──chunk──▶ Reservation::grow(len) ──▶ held + len ≤ max ? read on
//!                                                    └──▶ else 503 overloaded (nothing done)
//!   ClientRequest { held } ──▶ service's pending command (kept if the client goes away)
//!   command answered or expired ──▶ Reservation dropped ──▶ held −= its bytes
//! ```
//!
//! Without it, many clients sending large values at once (or slowly) make the node hold all
//! of them: 10,000 clients of 1 MiB values are 10 GB. Refused requests were never executed, so
//! a client retries them safely.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The node's budget of body bytes, shared by its HTTP workers.
#[derive(Debug)]
pub struct Admission {
    held: AtomicUsize,
    max: usize,
}

/// The budget is spent: the request is refused before anything is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node holds {max} bytes of request bodies already; retry shortly")]
pub struct Overloaded {
    /// The budget, in bytes.
    pub max: usize,
}

impl Admission {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            held: AtomicUsize::new(0),
            max,
        })
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// An empty reservation, to grow as a body arrives.
    pub fn reserve(self: &Arc<Self>) -> Reservation {
        Reservation {
            admission: self.clone(),
            bytes: 0,
        }
    }
}

/// Bytes of one request's body, given back when it is dropped.
#[derive(Debug)]
pub struct Reservation {
    admission: Arc<Admission>,
    bytes: usize,
}

impl Reservation {
    /// Takes `len` more bytes from the budget, or refuses if that would pass it.
    pub fn grow(&mut self, len: usize) -> Result<(), Overloaded> {
        let max = self.admission.max;
        self.admission
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(len).filter(|&total| total <= max)
            })
            .map_err(|_| Overloaded { max })?;
        self.bytes += len;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.admission.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_admitted_up_to_the_budget_and_given_back_when_done() {
        let admission = Admission::new(100);
        let mut a = admission.reserve();
        a.grow(60).unwrap();
        let mut b = admission.reserve();
        b.grow(40).unwrap();
        assert_eq!(admission.held(), 100);
        assert_eq!(b.grow(1), Err(Overloaded { max: 100 }));
        assert_eq!(admission.held(), 100, "a refusal takes nothing");
        drop(a);
        assert_eq!(admission.held(), 40);
        b.grow(60).unwrap();
        drop(b);
        assert_eq!(admission.held(), 0);
        assert!(admission.reserve().grow(usize::MAX).is_err());
        assert_eq!(admission.held(), 0);
    }
}
