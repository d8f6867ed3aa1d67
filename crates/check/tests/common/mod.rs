//! Builders for short hand-written histories.
#![allow(dead_code)] // each test file uses a different part

use synod_check::{check, History, Operation, Verdict, Violation};
use synod_messages::{KvOp, KvResult};

pub fn bytes(v: &str) -> Vec<u8> {
    v.as_bytes().to_vec()
}

pub fn opt(v: Option<&str>) -> Option<Vec<u8>> {
    v.map(bytes)
}

pub fn put_op(key: &str, value: &str) -> KvOp {
    KvOp::Put {
        key: key.into(),
        value: bytes(value),
    }
}

pub fn get_op(key: &str) -> KvOp {
    KvOp::Get { key: key.into() }
}

pub fn cas_op(key: &str, expected: Option<&str>, value: Option<&str>) -> KvOp {
    KvOp::Cas {
        key: key.into(),
        expected: opt(expected),
        value: opt(value),
    }
}

/// `client` put `key = value` over `[call, ret]`, answered.
pub fn put(client: u64, key: &str, value: &str, call: u64, ret: u64) -> Operation {
    Operation::ok(client, put_op(key, value), call, KvResult::Done, ret)
}

/// `client` read `key` over `[call, ret]` and saw `seen`.
pub fn get(client: u64, key: &str, seen: Option<&str>, call: u64, ret: u64) -> Operation {
    Operation::ok(client, get_op(key), call, KvResult::Value(opt(seen)), ret)
}

/// `client` deleted `key` over `[call, ret]`, answered.
pub fn delete(client: u64, key: &str, call: u64, ret: u64) -> Operation {
    let op = KvOp::Delete { key: key.into() };
    Operation::ok(client, op, call, KvResult::Done, ret)
}

/// `client` cas `key` from `expected` to `value` over `[call, ret]`; it found `current`, and
/// swapped exactly when that was `expected` (as the store answers).
pub fn cas(
    client: u64,
    key: &str,
    (expected, value): (Option<&str>, Option<&str>),
    current: Option<&str>,
    call: u64,
    ret: u64,
) -> Operation {
    let result = KvResult::Cas {
        succeeded: current == expected,
        current: opt(current),
    };
    Operation::ok(client, cas_op(key, expected, value), call, result, ret)
}

pub fn history(ops: impl IntoIterator<Item = Operation>) -> History {
    ops.into_iter().collect()
}

pub fn assert_linearizable(ops: impl IntoIterator<Item = Operation>) {
    match check(&history(ops)) {
        Verdict::Linearizable => {}
        Verdict::NotLinearizable(v) => panic!("expected linearizable, got:\n{v}"),
        other => panic!("expected linearizable, got {other:?}"),
    }
}

pub fn violation(ops: impl IntoIterator<Item = Operation>) -> Violation {
    match check(&history(ops)) {
        Verdict::NotLinearizable(v) => v,
        other => panic!("expected a violation, got {other:?}"),
    }
}
