//! Histories that have a linearization.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use synod_check::{check, History, Operation, Verdict};
use synod_messages::KvResult;

#[test]
fn the_empty_history_is_linearizable() {
    assert_eq!(check(&History::new()), Verdict::Linearizable);
}

#[test]
fn sequential_puts_gets_deletes_and_cas() {
    assert_linearizable([
        get(1, "a", None, 0, 1),
        put(1, "a", "1", 2, 3),
        get(2, "a", Some("1"), 4, 5),
        cas(1, "a", (Some("1"), Some("2")), Some("1"), 6, 7),
        cas(2, "a", (Some("1"), Some("3")), Some("2"), 8, 9),
        get(3, "a", Some("2"), 10, 11),
        delete(3, "a", 12, 13),
        get(1, "a", None, 14, 15),
        cas(2, "a", (None, Some("4")), None, 16, 17),
        get(2, "a", Some("4"), 18, 19),
        cas(1, "a", (Some("4"), None), Some("4"), 20, 21),
        get(1, "a", None, 22, 23),
    ]);
}

#[test]
fn a_read_overlapping_a_write_may_see_either_value() {
    for seen in [None, Some("1")] {
        assert_linearizable([put(1, "a", "1", 0, 10), get(2, "a", seen, 2, 5)]);
    }
}

#[test]
fn overlapping_writes_may_land_in_either_order() {
    for last in ["1", "2"] {
        assert_linearizable([
            put(1, "a", "1", 0, 10),
            put(2, "a", "2", 5, 15),
            get(3, "a", Some(last), 20, 21),
        ]);
    }
}

#[test]
fn concurrent_reads_may_observe_the_order_of_concurrent_writes() {
    // Reads inside the writes' overlap see 1 then 2: fine; the writes may take effect late.
    assert_linearizable([
        put(1, "a", "1", 0, 100),
        put(2, "a", "2", 0, 100),
        get(3, "a", None, 1, 2),
        get(3, "a", Some("1"), 3, 4),
        get(3, "a", Some("2"), 5, 6),
        get(4, "a", Some("2"), 101, 102),
    ]);
}

#[test]
fn concurrent_cas_one_wins() {
    assert_linearizable([
        put(1, "a", "0", 0, 1),
        cas(2, "a", (Some("0"), Some("x")), Some("y"), 2, 10),
        cas(3, "a", (Some("0"), Some("y")), Some("0"), 3, 9),
        get(1, "a", Some("y"), 11, 12),
    ]);
}

#[test]
fn touching_intervals_count_as_overlapping() {
    // The read is invoked at the very time the put returns: it may still go first.
    assert_linearizable([put(1, "a", "1", 0, 5), get(2, "a", None, 5, 6)]);
}

#[test]
fn keys_are_independent() {
    assert_linearizable([
        put(1, "a", "1", 0, 1),
        get(2, "b", None, 2, 3),
        put(1, "b", "2", 4, 5),
        get(2, "a", Some("1"), 6, 7),
    ]);
}

#[test]
fn records_may_arrive_in_any_order() {
    let mut ops = vec![
        put(1, "a", "1", 0, 1),
        put(1, "a", "2", 2, 3),
        get(2, "a", Some("2"), 4, 5),
    ];
    ops.reverse();
    assert_linearizable(ops);
}

#[test]
fn a_return_before_the_call_is_clamped() {
    let op = Operation::ok(1, put_op("a", "1"), 5, KvResult::Done, 3);
    assert_linearizable([op, get(2, "a", Some("1"), 6, 7)]);
}
