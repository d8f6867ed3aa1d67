//! Histories with no linearization, and what the report says about them.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use synod_check::Operation;
use synod_messages::{KvOp, KvResult};

#[test]
fn a_stale_read() {
    let v = violation([put(1, "a", "1", 0, 1), get(2, "a", None, 2, 3)]);
    assert_eq!(v.key, "a");
    assert_eq!(v.ops.len(), 2);
}

#[test]
fn a_lost_write() {
    let v = violation([
        put(1, "a", "1", 0, 1),
        put(1, "a", "2", 2, 3),
        get(2, "a", Some("1"), 4, 5),
    ]);
    assert_eq!(v.key, "a");
    assert_eq!(v.ops.len(), 3);
}

#[test]
fn a_write_visible_then_gone() {
    let v = violation([
        put(1, "a", "1", 0, 10),
        get(2, "a", Some("1"), 2, 3),
        get(2, "a", None, 4, 5),
    ]);
    assert_eq!(v.key, "a");
}

#[test]
fn a_cas_against_a_value_never_current() {
    let v = violation([
        put(1, "a", "1", 0, 1),
        cas(2, "a", (Some("7"), Some("8")), Some("7"), 2, 3),
    ]);
    assert_eq!(v.key, "a");
}

#[test]
fn two_sequential_cas_succeed_from_the_same_value() {
    let v = violation([
        put(1, "a", "0", 0, 1),
        cas(2, "a", (Some("0"), Some("1")), Some("0"), 2, 3),
        cas(3, "a", (Some("0"), Some("2")), Some("0"), 4, 5),
    ]);
    assert_eq!(v.key, "a");
    assert_eq!(v.ops.len(), 3);
}

#[test]
fn a_self_contradicting_cas_answer() {
    // "Swapped" although the value found differs from the one expected.
    let op = KvOp::Cas {
        key: "a".into(),
        expected: Some(b"1".to_vec()),
        value: None,
    };
    let answer = KvResult::Cas {
        succeeded: true,
        current: None,
    };
    let v = violation([Operation::ok(1, op, 0, answer, 1)]);
    assert!(v.explanation.contains("no state can give"), "{v}");
}

#[test]
fn a_wrong_kind_of_answer() {
    let op = Operation::ok(1, get_op("a"), 0, KvResult::Done, 1);
    violation([op]);
}

#[test]
fn a_violation_on_b_is_reported_on_b() {
    let v = violation([
        put(1, "a", "1", 0, 1),
        get(2, "a", Some("1"), 2, 3),
        put(1, "b", "1", 0, 1),
        get(2, "b", None, 2, 3),
        put(1, "c", "1", 0, 1),
    ]);
    assert_eq!(v.key, "b");
    assert!(v.ops.iter().all(|o| o.op.key() == "b"));
}

#[test]
fn the_window_is_the_smallest_failing_prefix() {
    let v = violation([
        put(1, "a", "1", 0, 1),
        get(2, "a", Some("1"), 2, 3),
        put(1, "a", "2", 4, 5),
        get(2, "a", Some("1"), 6, 7), // the stale read: the history breaks here
        put(1, "a", "3", 8, 9),
        get(2, "a", Some("3"), 10, 11),
        // Still running when the stale read returned: cut from the window.
        get(3, "a", Some("2"), 5, 20),
    ]);
    let calls: Vec<u64> = v.ops.iter().map(|o| o.call).collect();
    assert_eq!(calls, vec![0, 2, 4, 6]);
    assert!(v.explanation.contains("returns at 7"), "{v}");
}

#[test]
fn a_write_running_at_the_break_stays_in_the_window() {
    // The put of 2 is still running when the stale read of absent returns; as a possible
    // effect it belongs to the window.
    let v = violation([
        put(1, "a", "1", 0, 1),
        put(2, "a", "2", 2, 50),
        get(3, "a", None, 3, 4),
    ]);
    let calls: Vec<u64> = v.ops.iter().map(|o| o.call).collect();
    assert_eq!(calls, vec![0, 2, 3]);
}

#[test]
fn the_report_names_the_key_and_lists_the_ops() {
    let v = violation([put(1, "k1", "1", 0, 1), get(2, "k1", None, 2, 3)]);
    let text = v.to_string();
    println!("{text}");
    assert!(text.contains("\"k1\""), "{text}");
    // One line per operation, indented, after the explanation.
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    let put_line = lines.iter().find(|l| l.contains("put k1 = \"1\"")).unwrap();
    assert!(put_line.contains("client 1") && put_line.contains("0..1"));
    assert!(put_line.contains("-> done"));
    let get_line = lines.iter().find(|l| l.contains("get k1")).unwrap();
    assert!(get_line.contains("client 2") && get_line.contains("2..3"));
    assert!(get_line.contains("-> absent"));
    assert!(
        v.explanation.contains("client 2 get k1 -> absent"),
        "{text}"
    );
}
