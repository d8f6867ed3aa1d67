//! The one list of protocols. A protocol is its own crate implementing
//! [`synod_core::Protocol`] plus one line here; the binary, the simulator and the shared test
//! suites find it through this list and nowhere else.
//!
//! ```text
//!   config: protocol = "paxos" ──► registry::visit("paxos", visitor)
//!                                     └──► visitor.visit::<PaxosProtocol>()
//!   tests:  registry::NAMES ──► one run per protocol
//! ```

use synod_core::{Protocol, Visitor};

macro_rules! registry {
    ($($protocol:ty),+ $(,)?) => {
        /// Every registered protocol's name, in registration order.
        pub const NAMES: &[&str] = &[$(<$protocol as Protocol>::NAME),+];

        /// Calls `visitor` with the protocol named `name`; `None` if no protocol has that name.
        pub fn visit<V: Visitor>(name: &str, visitor: V) -> Option<V::Output> {
            $(
                if name == <$protocol as Protocol>::NAME {
                    return Some(visitor.visit::<$protocol>());
                }
            )+
            None
        }

        /// Calls `visitor` with every registered protocol, in registration order.
        pub fn each<V: Visitor + Clone>(visitor: V) -> Vec<V::Output> {
            vec![$(visitor.clone().visit::<$protocol>()),+]
        }
    };
}

// One line per protocol.
registry!(synod_raft::RaftProtocol, synod_paxos::PaxosProtocol);

/// The names as a config's error message lists them: `"raft", "paxos"`.
pub fn allowed() -> String {
    NAMES
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::Guarantee;

    #[derive(Clone)]
    struct Guarantees;
    impl Visitor for Guarantees {
        type Output = (&'static str, Guarantee);
        fn visit<P: Protocol>(self) -> Self::Output {
            (P::NAME, P::GUARANTEE)
        }
    }

    #[test]
    fn every_name_visits_its_own_protocol() {
        for name in NAMES {
            let (found, _) = visit(name, Guarantees).expect("registered");
            assert_eq!(&found, name);
        }
        assert!(visit("rafft", Guarantees).is_none());
        let all: Vec<_> = each(Guarantees).into_iter().map(|(n, _)| n).collect();
        assert_eq!(all, NAMES);
        assert_eq!(allowed(), "\"raft\", \"paxos\"");
    }
}
