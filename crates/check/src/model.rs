//! The sequential model of one key: a register holding `Option<Vec<u8>>`, starting absent.
//!
//! Values are interned to small integers ([`State`]) so that search states are cheap to copy,
//! hash and compare; [`ABSENT`] stands for `None`. Each operation is compiled once into a
//! [`Step`]: a partial function from the state before to the state after, defined only where
//! the operation's recorded result is what the store (`synod-kv`) would have answered.

use std::collections::HashMap;
use synod_messages::{KvOp, KvResult};

/// An interned register value; [`ABSENT`] is the absent key.
pub(crate) type State = u32;

/// The state of a key that holds no value (every key starts so).
pub(crate) const ABSENT: State = 0;

/// Maps values to [`State`]s, one table per key.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: HashMap<Vec<u8>, State>,
}

impl Interner {
    fn value(&mut self, value: &[u8]) -> State {
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        let id = State::try_from(self.ids.len() + 1).unwrap_or(State::MAX);
        self.ids.insert(value.to_vec(), id);
        id
    }

    fn option(&mut self, value: Option<&Vec<u8>>) -> State {
        value.map_or(ABSENT, |v| self.value(v))
    }
}

/// One operation's effect on the register, with its recorded result folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A put or delete (answered or not): always applicable, leaves the register at this value.
    Set(State),
    /// An answered read: applicable only when the register holds this value.
    Read(State),
    /// An answered compare-and-swap: applicable only when the register holds `current`, leaves
    /// it at `then` (the new value on success, `current` on failure).
    Cas {
        /// The value the answer reported.
        current: State,
        /// The register afterwards.
        then: State,
    },
    /// A compare-and-swap with no answer: swaps if the register holds `expected`.
    CasBlind {
        /// The value the swap requires.
        expected: State,
        /// The value it stores.
        value: State,
    },
    /// An answer no state can produce (wrong result kind, or a cas answer that contradicts
    /// itself): never applicable.
    Impossible,
}

impl Step {
    /// Compiles `op`; `result` is `None` when the operation's answer is unknown.
    pub(crate) fn compile(op: &KvOp, result: Option<&KvResult>, values: &mut Interner) -> Self {
        match (op, result) {
            (KvOp::Put { value, .. }, None | Some(KvResult::Done)) => {
                Step::Set(values.value(value))
            }
            (KvOp::Delete { .. }, None | Some(KvResult::Done)) => Step::Set(ABSENT),
            (KvOp::Get { .. }, Some(KvResult::Value(v))) => Step::Read(values.option(v.as_ref())),
            (
                KvOp::Cas {
                    expected, value, ..
                },
                Some(KvResult::Cas { succeeded, current }),
            ) => {
                if *succeeded != (current == expected) {
                    return Step::Impossible;
                }
                let current = values.option(current.as_ref());
                let then = if *succeeded {
                    values.option(value.as_ref())
                } else {
                    current
                };
                Step::Cas { current, then }
            }
            (
                KvOp::Cas {
                    expected, value, ..
                },
                None,
            ) => Step::CasBlind {
                expected: values.option(expected.as_ref()),
                value: values.option(value.as_ref()),
            },
            // A result of the wrong kind. (Unanswered reads are dropped before compiling.)
            _ => Step::Impossible,
        }
    }

    /// The state after applying the step to `state`, or `None` when the recorded answer could
    /// not have been given in `state`.
    pub(crate) fn apply(self, state: State) -> Option<State> {
        match self {
            Step::Set(v) => Some(v),
            Step::Read(v) => (state == v).then_some(state),
            Step::Cas { current, then } => (state == current).then_some(then),
            Step::CasBlind { expected, value } => {
                Some(if state == expected { value } else { state })
            }
            Step::Impossible => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    fn cas(expected: Option<Vec<u8>>, value: Option<Vec<u8>>) -> KvOp {
        KvOp::Cas {
            key: "k".into(),
            expected,
            value,
        }
    }

    #[test]
    fn put_get_delete() {
        let mut t = Interner::default();
        let put = Step::compile(
            &KvOp::Put {
                key: "k".into(),
                value: b"1".to_vec(),
            },
            Some(&KvResult::Done),
            &mut t,
        );
        let one = put.apply(ABSENT).unwrap();
        assert_ne!(one, ABSENT);
        let get = Step::compile(
            &KvOp::Get { key: "k".into() },
            Some(&KvResult::Value(v("1"))),
            &mut t,
        );
        assert_eq!(get.apply(one), Some(one));
        assert_eq!(get.apply(ABSENT), None);
        let del = Step::compile(
            &KvOp::Delete { key: "k".into() },
            Some(&KvResult::Done),
            &mut t,
        );
        assert_eq!(del.apply(one), Some(ABSENT));
    }

    #[test]
    fn cas_answers_must_match_the_state() {
        let mut t = Interner::default();
        let ok = KvResult::Cas {
            succeeded: true,
            current: None,
        };
        let step = Step::compile(&cas(None, v("x")), Some(&ok), &mut t);
        let x = step.apply(ABSENT).unwrap();
        assert_ne!(x, ABSENT);
        assert_eq!(step.apply(x), None);
        let failed = KvResult::Cas {
            succeeded: false,
            current: v("x"),
        };
        let step = Step::compile(&cas(v("y"), None), Some(&failed), &mut t);
        assert_eq!(step.apply(x), Some(x));
        // "Succeeded" although current differs from expected: no state explains it.
        let liar = KvResult::Cas {
            succeeded: true,
            current: v("x"),
        };
        let step = Step::compile(&cas(v("y"), None), Some(&liar), &mut t);
        assert_eq!(step, Step::Impossible);
    }

    #[test]
    fn an_unanswered_cas_swaps_only_on_match() {
        let mut t = Interner::default();
        let step = Step::compile(&cas(None, v("x")), None, &mut t);
        let x = step.apply(ABSENT).unwrap();
        assert_ne!(x, ABSENT);
        assert_eq!(step.apply(x), Some(x));
    }

    #[test]
    fn a_wrong_kind_of_answer_is_impossible() {
        let mut t = Interner::default();
        let step = Step::compile(
            &KvOp::Get { key: "k".into() },
            Some(&KvResult::Done),
            &mut t,
        );
        assert_eq!(step.apply(ABSENT), None);
    }
}
