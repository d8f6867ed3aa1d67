//! The conformance suite every storage backend must pass: whatever was persisted is exactly
//! what a reopened store loads — the state the ops build when applied in order in memory.
//!
//! It is generic over the state, so each protocol's tests feed it their own op sequences;
//! `reopen` must return a fresh handle over the same stored data (for a durable backend, a
//! store opened again from the file).

use synod_core::{DurableState, Storage};

/// Persists `batches` one by one, reopening after each, and checks every load against the
/// state built in memory. Panics (it is a test helper) with the batch that went wrong.
pub fn check_round_trip<S>(reopen: &mut dyn FnMut() -> Box<dyn Storage<S>>, batches: &[Vec<S::Op>])
where
    S: DurableState + PartialEq + std::fmt::Debug,
{
    let mut expected = S::default();
    let mut store = reopen();
    let loaded = store.load();
    assert_eq!(
        loaded.as_ref().ok(),
        Some(&expected),
        "a new store loads the default state"
    );
    for (i, batch) in batches.iter().enumerate() {
        store
            .persist(batch)
            .unwrap_or_else(|e| panic!("batch {i}: persist failed: {e}"));
        for op in batch {
            expected.apply(op);
        }
        drop(store);
        store = reopen();
        let loaded = store
            .load()
            .unwrap_or_else(|e| panic!("batch {i}: load failed: {e}"));
        if loaded != expected {
            panic!(
                "batch {i}: the reopened store differs:\n loaded:   {}\n expected: {}",
                clip(&loaded),
                clip(&expected)
            );
        }
    }
    // Persisting nothing changes nothing.
    store
        .persist(&[])
        .unwrap_or_else(|e| panic!("empty persist failed: {e}"));
    assert_eq!(store.load().ok().as_ref(), Some(&expected));
}

fn clip(value: &impl std::fmt::Debug) -> String {
    let text = format!("{value:?}");
    match text.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
