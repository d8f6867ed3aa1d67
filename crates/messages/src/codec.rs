//! The wire codec: bincode 2 (serde mode, standard config) inside length-prefixed frames.
//!
//! ```text
//!   ┌──────────────┬──────────────────────────────┐
//!   │ u32 BE: len  │ bincode(value), len bytes    │
//!   └──────────────┴──────────────────────────────┘
//! ```
//!
//! This is the only module that knows the format, so it can change in one place. Decoding never
//! panics: a bad frame is a [`CodecError`].

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest value bincode may claim while decoding, whatever the frame says: frames (and
/// stored rows) larger than this cannot be decoded, so no frame may be larger.
pub const DECODE_LIMIT: usize = 256 * 1024 * 1024;

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

/// Why a value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame is larger than the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The frame's length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The bytes are not a valid encoding.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The frame decoded but left bytes unread.
    #[error("malformed frame: {0} trailing bytes")]
    Trailing(usize),
    /// The value could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// The largest value bincode may claim while decoding what is not a frame: a state machine
/// image (a snapshot) is as large as the store, and a record of the log files as large as the
/// batch it wrote, both far past any frame, so [`DECODE_LIMIT`] would refuse the image of a
/// store of ~1,000,000 keys of 256 bytes. Both are checksummed before they get here; this only
/// stops a corrupt length from claiming absurd memory.
const LARGE_DECODE_LIMIT: usize = 1 << 36;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encodes a value (without frame header).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Encodes a value into `writer` as [`encode`] would into a vector, without building it.
pub fn encode_into<T: Serialize, W: std::io::Write>(
    value: &T,
    writer: &mut W,
) -> Result<usize, CodecError> {
    bincode::serde::encode_into_std_write(value, writer, config())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a value from exactly `bytes` (without frame header).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - read));
    }
    Ok(value)
}

/// Decodes a state machine image or a log record (see [`LARGE_DECODE_LIMIT`]); otherwise as
/// [`decode`].
pub fn decode_large<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<LARGE_DECODE_LIMIT>();
    let (value, read) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - read));
    }
    Ok(value)
}

/// Encodes a value as one frame: a 4-byte big-endian length, then the body.
pub fn encode_frame<T: Serialize>(value: &T, max_frame: usize) -> Result<Vec<u8>, CodecError> {
    let body = encode(value)?;
    if body.len() > max_frame || body.len() > u32::MAX as usize {
        return Err(CodecError::FrameTooLarge {
            len: body.len(),
            max: max_frame,
        });
    }
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Splits one frame off the front of `buf`: `Ok(None)` if more bytes are needed, otherwise the
/// body and the number of bytes consumed. A length over `max_frame` is an error before any body
/// byte is awaited, so a hostile peer cannot make us buffer gigabytes.
pub fn split_frame(buf: &[u8], max_frame: usize) -> Result<Option<(&[u8], usize)>, CodecError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut len_bytes = [0u8; HEADER_LEN];
    len_bytes.copy_from_slice(header);
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > max_frame {
        return Err(CodecError::FrameTooLarge {
            len,
            max: max_frame,
        });
    }
    match buf.get(HEADER_LEN..HEADER_LEN + len) {
        Some(body) => Ok(Some((body, HEADER_LEN + len))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, Payload};
    use crate::ids::{ActorAddr, Role};
    use crate::kv::{Command, KvOp, RequestId};
    use crate::raft::{Entry, EntryPayload, RaftMessage};

    fn sample() -> Envelope {
        Envelope {
            from: ActorAddr::new(1, Role::named("raft")),
            to: ActorAddr::new(2, Role::named("raft")),
            payload: Payload::protocol(RaftMessage::AppendEntries {
                term: 3,
                leader_id: 1,
                prev_log_index: 7,
                prev_log_term: 2,
                entries: vec![Entry {
                    term: 3,
                    index: 8,
                    payload: EntryPayload::Command(Command {
                        id: RequestId { client: 9, seq: 1 },
                        op: KvOp::Put {
                            key: "k".into(),
                            value: b"v".to_vec(),
                        },
                    }),
                }],
                leader_commit: 7,
            }),
        }
    }

    #[test]
    fn frame_round_trip() {
        let frame = encode_frame(&sample(), 1 << 20).unwrap();
        let (body, used) = split_frame(&frame, 1 << 20).unwrap().unwrap();
        assert_eq!(used, frame.len());
        let back: Envelope = decode(body).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn partial_frame_needs_more() {
        let frame = encode_frame(&sample(), 1 << 20).unwrap();
        assert!(split_frame(&frame[..2], 1 << 20).unwrap().is_none());
        assert!(split_frame(&frame[..frame.len() - 1], 1 << 20)
            .unwrap()
            .is_none());
    }

    #[test]
    fn oversized_frame_is_refused_from_its_header() {
        let header = (10_000u32).to_be_bytes();
        let err = split_frame(&header, 100).unwrap_err();
        assert!(matches!(
            err,
            CodecError::FrameTooLarge {
                len: 10_000,
                max: 100
            }
        ));
        assert!(encode_frame(&sample(), 10).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [
            &b"\xff\xff\xff\xff\xff"[..],
            b"hello world",
            b"",
            b"\x00\x05",
        ] {
            assert!(decode::<Envelope>(garbage).is_err(), "{garbage:?}");
        }
        let mut bytes = encode(&sample()).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode::<Envelope>(&bytes),
            Err(CodecError::Trailing(1))
        ));
    }
}
