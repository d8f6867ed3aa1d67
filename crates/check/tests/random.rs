//! Random concurrent histories of a real linearizable store: each operation takes effect
//! atomically at a random point between its call and its return. The checker must accept them
//! quickly, and reject them once one read answer is corrupted.

#![allow(missing_docs, clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use synod_check::{check, History, Operation, Outcome, Verdict};
use synod_messages::{KvOp, KvResult};

const KEYS: [&str; 3] = ["x", "y", "z"];

/// How an operation ends in the simulation.
#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Answered,
    /// Timed out; it took effect or not.
    Unknown {
        applied: bool,
    },
    /// Not executed.
    Failed,
}

struct Planned {
    client: u64,
    op: KvOp,
    call: u64,
    ret: u64,
    at: u64,
    fate: Fate,
}

fn value(rng: &mut StdRng) -> Option<Vec<u8>> {
    // Few distinct values, so that compare-and-swaps often match.
    let v = rng.gen_range(0..5u8);
    (v > 0).then(|| vec![b'0' + v])
}

fn random_op(rng: &mut StdRng) -> KvOp {
    let key = KEYS[rng.gen_range(0..KEYS.len())].to_string();
    match rng.gen_range(0..10) {
        0..=3 => KvOp::Get { key },
        4..=6 => KvOp::Put {
            key,
            value: value(rng).unwrap_or_else(|| b"9".to_vec()),
        },
        7 => KvOp::Delete { key },
        _ => KvOp::Cas {
            key,
            expected: value(rng),
            value: value(rng),
        },
    }
}

fn apply(store: &mut HashMap<String, Vec<u8>>, op: &KvOp) -> KvResult {
    match op {
        KvOp::Put { key, value } => {
            store.insert(key.clone(), value.clone());
            KvResult::Done
        }
        KvOp::Get { key } => KvResult::Value(store.get(key).cloned()),
        KvOp::Delete { key } => {
            store.remove(key);
            KvResult::Done
        }
        KvOp::Cas {
            key,
            expected,
            value,
        } => {
            let current = store.get(key).cloned();
            let succeeded = current == *expected;
            if succeeded {
                match value {
                    Some(v) => store.insert(key.clone(), v.clone()),
                    None => store.remove(key),
                };
            }
            KvResult::Cas { succeeded, current }
        }
    }
}

/// `n` operations by `clients` clients, each client one operation at a time; `odd` is the
/// chance (in percent) that an operation times out or fails instead of being answered.
fn simulate(seed: u64, clients: u64, n: usize, odd: u32) -> History {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut free_at = vec![0u64; clients as usize];
    let mut planned: Vec<Planned> = (0..n)
        .map(|_| {
            let client = rng.gen_range(0..clients);
            let call = free_at[client as usize] + rng.gen_range(0..5);
            let ret = call + rng.gen_range(1..40);
            free_at[client as usize] = ret + 1;
            let fate = match rng.gen_range(0..100) {
                p if p < odd / 2 => Fate::Unknown {
                    applied: rng.gen_bool(0.5),
                },
                p if p < odd => Fate::Failed,
                _ => Fate::Answered,
            };
            Planned {
                client,
                op: random_op(&mut rng),
                call,
                ret,
                at: rng.gen_range(call..=ret),
                fate,
            }
        })
        .collect();
    // Apply in the order the operations take effect.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].at, i));
    let mut store = HashMap::new();
    let mut results = vec![None; planned.len()];
    for i in order {
        let p = &planned[i];
        if matches!(p.fate, Fate::Answered | Fate::Unknown { applied: true }) {
            results[i] = Some(apply(&mut store, &p.op));
        }
    }
    planned
        .drain(..)
        .zip(results)
        .map(|(p, result)| match p.fate {
            Fate::Answered => Operation::ok(p.client, p.op, p.call, result.unwrap(), p.ret),
            Fate::Unknown { .. } => Operation::unknown(p.client, p.op, p.call),
            Fate::Failed => Operation::failed(p.client, p.op, p.call),
        })
        .collect()
}

/// Replaces the answer of the `nth` answered read with a value nobody wrote.
fn corrupt(history: &History, nth: usize) -> (History, Operation) {
    let mut ops = history.ops().to_vec();
    let read = ops
        .iter_mut()
        .filter(|o| matches!(o.op, KvOp::Get { .. }) && matches!(o.outcome, Outcome::Ok { .. }))
        .nth(nth)
        .unwrap();
    if let Outcome::Ok { result, .. } = &mut read.outcome {
        *result = KvResult::Value(Some(b"never written".to_vec()));
    }
    let read = read.clone();
    (ops.into_iter().collect(), read)
}

fn timed(history: &History) -> (Verdict, Duration) {
    let start = Instant::now();
    let verdict = check(history);
    (verdict, start.elapsed())
}

#[test]
fn a_simulated_linearizable_store_passes() {
    let h = simulate(1, 5, 200, 0);
    assert_eq!(h.len(), 200);
    let (verdict, took) = timed(&h);
    println!("200 ops, 5 clients, 3 keys: {took:?}");
    assert_eq!(verdict, Verdict::Linearizable);
}

#[test]
fn many_seeds_pass_including_unknown_and_failed_ops() {
    let start = Instant::now();
    for seed in 0..30 {
        let h = simulate(seed, 5, 200, 10);
        let verdict = check(&h);
        assert_eq!(verdict, Verdict::Linearizable, "seed {seed}");
    }
    println!("30 histories: {:?}", start.elapsed());
}

#[test]
fn one_corrupted_read_is_caught_and_located() {
    let h = simulate(2, 5, 200, 0);
    assert_eq!(check(&h), Verdict::Linearizable);
    for nth in [0, 10, 40] {
        let (bad, read) = corrupt(&h, nth);
        let (verdict, took) = timed(&bad);
        println!("corrupted read #{nth}: {took:?}");
        let Verdict::NotLinearizable(v) = verdict else {
            panic!("corrupted read #{nth} not caught: {verdict:?}");
        };
        assert_eq!(v.key, read.op.key());
        // The history breaks exactly when the corrupted read returns.
        assert!(v.ops.contains(&read), "{v}");
        let broke_at = read.ret().unwrap();
        assert!(v.ops.iter().all(|o| o.call <= broke_at), "{v}");
    }
}

#[test]
fn a_subtly_stale_read_is_caught() {
    // Make a read return an older value of its key (or absent) instead of the value of the
    // last put that completed before it, when no other write can have intervened.
    let mut caught = 0;
    for seed in 3..8 {
        caught += make_stale_reads(&simulate(seed, 5, 200, 0));
    }
    println!("{caught} stale reads caught");
    assert!(caught >= 10, "only {caught} candidate reads");
}

/// Makes each suitable read of `h` stale in turn, checks it is rejected; returns how many.
fn make_stale_reads(h: &History) -> usize {
    let ops = h.ops();
    let mut caught = 0;
    for (i, read) in ops.iter().enumerate() {
        let (KvOp::Get { key }, Outcome::Ok { ret, .. }) = (&read.op, &read.outcome) else {
            continue;
        };
        let writes: Vec<&Operation> = ops
            .iter()
            .filter(|o| o.op.key() == key && o.op.is_write())
            .collect();
        let Some(last) = writes
            .iter()
            .filter(|o| matches!(o.op, KvOp::Put { .. }) && o.ret().is_some_and(|r| r < read.call))
            .max_by_key(|o| o.ret())
        else {
            continue;
        };
        // Every other write ended before `last` began or began after the read ended.
        let isolated = writes.iter().all(|o| {
            std::ptr::eq(*o, *last) || o.ret().is_some_and(|r| r < last.call) || o.call > *ret
        });
        let KvOp::Put { value: current, .. } = &last.op else {
            continue;
        };
        if !isolated {
            continue;
        }
        let stale = writes.iter().find_map(|o| match &o.op {
            KvOp::Put { value, .. } if value != current && o.ret() < Some(last.call) => {
                Some(value.clone())
            }
            _ => None,
        });
        let mut bad = ops.to_vec();
        bad[i].outcome = Outcome::Ok {
            result: KvResult::Value(stale),
            ret: *ret,
        };
        let verdict = check(&bad.into_iter().collect());
        assert!(!verdict.is_linearizable(), "read #{i} made stale");
        caught += 1;
    }
    caught
}

#[test]
fn a_busier_history_is_decided() {
    let h = simulate(4, 10, 300, 5);
    let (verdict, took) = timed(&h);
    println!("300 ops, 10 clients: {took:?}");
    assert_eq!(verdict, Verdict::Linearizable);
}
