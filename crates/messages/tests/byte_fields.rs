//! Byte fields (values, snapshot chunks) are encoded as byte strings, in one piece, rather than
//! element by element — with the very bytes the element-by-element encoding produced, so logs,
//! snapshots and peers written before read the same.

#![allow(missing_docs, clippy::unwrap_used)]

use serde::{Deserialize, Serialize};
use synod_messages::codec::{decode, encode};
use synod_messages::{KvOp, KvResult};

/// `KvOp` as it was declared before its byte fields were marked.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum PlainOp {
    Put {
        key: String,
        value: Vec<u8>,
    },
    Get {
        key: String,
    },
    Delete {
        key: String,
    },
    Cas {
        key: String,
        expected: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    },
}

/// `KvResult` as it was declared before.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum PlainResult {
    Done,
    Value(Option<Vec<u8>>),
    Cas {
        succeeded: bool,
        current: Option<Vec<u8>>,
    },
}

/// Both ways: the same bytes, and each decodes what the other encoded.
fn same<A, B>(marked: A, plain: B)
where
    A: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    B: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let bytes = encode(&marked).unwrap();
    assert_eq!(bytes, encode(&plain).unwrap(), "{marked:?}");
    assert_eq!(decode::<B>(&bytes).unwrap(), plain);
    assert_eq!(decode::<A>(&encode(&plain).unwrap()).unwrap(), marked);
}

#[test]
fn values_encode_as_they_did_element_by_element() {
    // Every byte value, and lengths on both sides of the varint's one-byte limit.
    for value in [
        (0..=255u8).collect::<Vec<u8>>(),
        vec![],
        vec![7; 250],
        vec![9; 251],
        vec![1; 70_000],
    ] {
        same(
            KvOp::Put {
                key: "k".into(),
                value: value.clone(),
            },
            PlainOp::Put {
                key: "k".into(),
                value: value.clone(),
            },
        );
        same(
            KvResult::Value(Some(value.clone())),
            PlainResult::Value(Some(value.clone())),
        );
        same(
            KvResult::Cas {
                succeeded: false,
                current: Some(value.clone()),
            },
            PlainResult::Cas {
                succeeded: false,
                current: Some(value.clone()),
            },
        );
    }
    for (expected, value) in [
        (None, Some(vec![1, 2])),
        (Some(vec![3]), None),
        (None, None),
    ] {
        same(
            KvOp::Cas {
                key: "c".into(),
                expected: expected.clone(),
                value: value.clone(),
            },
            PlainOp::Cas {
                key: "c".into(),
                expected,
                value,
            },
        );
    }
    same(KvResult::Value(None), PlainResult::Value(None));
    same(
        KvOp::Get { key: "g".into() },
        PlainOp::Get { key: "g".into() },
    );
    same(
        KvOp::Delete { key: "d".into() },
        PlainOp::Delete { key: "d".into() },
    );
    same(KvResult::Done, PlainResult::Done);
}
