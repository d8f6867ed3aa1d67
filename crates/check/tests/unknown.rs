//! Operations without a definite answer: timed out (unknown) and failed (not executed); and
//! histories too big to decide.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use synod_check::{check, check_with_limit, Operation, Verdict};

#[test]
fn a_later_read_may_see_an_unknown_write_or_not() {
    for seen in [None, Some("1")] {
        assert_linearizable([
            Operation::unknown(1, put_op("a", "1"), 0),
            get(2, "a", seen, 10, 11),
        ]);
    }
}

#[test]
fn an_unknown_write_may_take_effect_late() {
    assert_linearizable([
        Operation::unknown(1, put_op("a", "1"), 0),
        get(2, "a", None, 10, 11),
        get(2, "a", Some("1"), 100, 101),
    ]);
}

#[test]
fn an_unknown_write_cannot_be_seen_then_unseen() {
    let v = violation([
        Operation::unknown(1, put_op("a", "1"), 0),
        get(2, "a", Some("1"), 10, 11),
        get(2, "a", None, 12, 13),
    ]);
    assert_eq!(v.key, "a");
    assert!(v.to_string().contains("0..?"), "{v}");
}

#[test]
fn an_unknown_write_cannot_take_effect_before_its_call() {
    violation([
        get(2, "a", Some("1"), 0, 1),
        Operation::unknown(1, put_op("a", "1"), 5),
    ]);
}

#[test]
fn an_unknown_cas_takes_effect_only_if_it_matches() {
    // The unknown cas expects absent, but 0 is stored before it is invoked: it cannot swap.
    violation([
        put(1, "a", "0", 0, 1),
        Operation::unknown(2, cas_op("a", None, Some("x")), 2),
        get(3, "a", Some("x"), 5, 6),
    ]);
    assert_linearizable([
        Operation::unknown(2, cas_op("a", None, Some("x")), 2),
        get(3, "a", Some("x"), 5, 6),
    ]);
}

#[test]
fn a_failed_write_is_never_observed() {
    let v = violation([
        Operation::failed(1, put_op("a", "1"), 0),
        get(2, "a", Some("1"), 10, 11),
    ]);
    assert_eq!(v.key, "a");
    // Dropped: not part of the evidence.
    assert_eq!(v.ops.len(), 1);
}

#[test]
fn a_failed_write_changes_nothing() {
    assert_linearizable([
        put(1, "a", "0", 0, 1),
        Operation::failed(1, put_op("a", "1"), 2),
        get(2, "a", Some("0"), 10, 11),
    ]);
}

#[test]
fn an_unknown_read_constrains_nothing() {
    assert_linearizable([
        put(1, "a", "1", 0, 1),
        Operation::unknown(2, get_op("a"), 2),
        Operation::failed(2, get_op("a"), 3),
        get(3, "a", Some("1"), 4, 5),
    ]);
}

#[test]
fn too_big_to_decide_is_not_a_violation() {
    // Forty overlapping writes of distinct values: a read of the last one leaves many orders.
    let mut ops: Vec<Operation> = (0..40)
        .map(|i| put(i, "a", &i.to_string(), 0, 100))
        .collect();
    ops.push(get(99, "a", Some("none of them"), 101, 102));
    ops.push(put(1, "b", "1", 0, 1));
    let h = history(ops);
    match check_with_limit(&h, 1_000) {
        Verdict::Unknown { key, explored } => {
            assert_eq!(key, "a");
            assert!(explored > 1_000);
        }
        other => panic!("expected an undecided verdict, got {other:?}"),
    }
    // A violation on another key still wins over an undecided key.
    let mut ops = h.ops().to_vec();
    ops.push(get(2, "b", None, 5, 6));
    match check_with_limit(&history(ops), 1_000) {
        Verdict::NotLinearizable(v) => assert_eq!(v.key, "b"),
        other => panic!("expected a violation on b, got {other:?}"),
    }
    // And with the default limit, a small history decides.
    assert!(check(&history([put(1, "a", "1", 0, 1)])).is_linearizable());
}
