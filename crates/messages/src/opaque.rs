//! A protocol's message as the envelope carries it, without the envelope knowing its type:
//! inside one process the value itself travels (no encoding), between processes its bytes,
//! which the receiving role decodes into its own message type.
//!
//! ```text
//!   role ──ProtocolMessage::new(msg)──► Typed(msg) ──local──────────────► take::<M>() downcast
//!                                           └──TCP: bincode(msg) bytes ──► Encoded ──► take::<M>() decode
//! ```

use crate::codec::{self, CodecError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt;

/// What a protocol's message type must be to travel in an envelope: any serde type that
/// clones, compares and prints.
pub trait WireMessage:
    Serialize + DeserializeOwned + Clone + PartialEq + fmt::Debug + Send + Sync + 'static
{
}

impl<T> WireMessage for T where
    T: Serialize + DeserializeOwned + Clone + PartialEq + fmt::Debug + Send + Sync + 'static
{
}

/// The object-safe side of [`WireMessage`].
trait Dyn: Send + Sync + fmt::Debug {
    fn encode(&self) -> Result<Vec<u8>, CodecError>;
    fn clone_box(&self) -> Box<dyn Dyn>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    fn type_name(&self) -> &'static str;
}

impl<M: WireMessage> Dyn for M {
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }
    fn clone_box(&self) -> Box<dyn Dyn> {
        Box::new(self.clone())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<M>()
    }
}

/// A protocol's message in an envelope.
pub struct ProtocolMessage(Inner);

enum Inner {
    /// The value, inside one process.
    Typed(Box<dyn Dyn>),
    /// Its encoding, as it came off the wire.
    Encoded(Vec<u8>),
}

/// A protocol message that is not of the type its receiver speaks.
#[derive(Debug, thiserror::Error)]
#[error("a protocol message of another type: {0}")]
pub struct ForeignMessage(pub String);

impl ProtocolMessage {
    /// Wraps a protocol's message.
    pub fn new<M: WireMessage>(msg: M) -> Self {
        ProtocolMessage(Inner::Typed(Box::new(msg)))
    }

    /// The message as the receiving role's type `M`: the value itself if it never left the
    /// process, else decoded from its bytes. An error if it is of another type (another
    /// protocol's, or garbage).
    pub fn take<M: WireMessage>(self) -> Result<M, ForeignMessage> {
        match self.0 {
            Inner::Typed(value) => {
                let name = value.type_name();
                value
                    .into_any()
                    .downcast::<M>()
                    .map(|m| *m)
                    .map_err(|_| ForeignMessage(name.to_string()))
            }
            Inner::Encoded(bytes) => {
                codec::decode(&bytes).map_err(|e| ForeignMessage(e.to_string()))
            }
        }
    }

    fn encoded(&self) -> Result<std::borrow::Cow<'_, [u8]>, CodecError> {
        match &self.0 {
            Inner::Typed(value) => value.encode().map(std::borrow::Cow::Owned),
            Inner::Encoded(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
        }
    }
}

impl Clone for ProtocolMessage {
    fn clone(&self) -> Self {
        ProtocolMessage(match &self.0 {
            Inner::Typed(value) => Inner::Typed(value.clone_box()),
            Inner::Encoded(bytes) => Inner::Encoded(bytes.clone()),
        })
    }
}

/// Equal when their encodings are (tests compare envelopes).
impl PartialEq for ProtocolMessage {
    fn eq(&self, other: &Self) -> bool {
        match (self.encoded(), other.encoded()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ProtocolMessage {}

impl fmt::Debug for ProtocolMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Typed(value) => value.fmt(f),
            Inner::Encoded(bytes) => write!(f, "<{} encoded bytes>", bytes.len()),
        }
    }
}

impl Serialize for ProtocolMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.encoded().map_err(serde::ser::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for ProtocolMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        Ok(ProtocolMessage(Inner::Encoded(bytes.into_vec())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::RaftMessage;
    use crate::service::ServiceMessage;

    fn vote() -> RaftMessage {
        RaftMessage::RequestVote {
            term: 3,
            candidate_id: 2,
            last_log_index: 7,
            last_log_term: 2,
        }
    }

    #[test]
    fn in_process_the_value_travels_and_over_the_wire_its_bytes() {
        assert_eq!(
            ProtocolMessage::new(vote()).take::<RaftMessage>().unwrap(),
            vote()
        );
        let bytes = codec::encode(&ProtocolMessage::new(vote())).unwrap();
        let off_the_wire: ProtocolMessage = codec::decode(&bytes).unwrap();
        assert!(format!("{off_the_wire:?}").contains("encoded"));
        assert_eq!(off_the_wire, ProtocolMessage::new(vote()));
        assert_eq!(off_the_wire.take::<RaftMessage>().unwrap(), vote());
    }

    #[test]
    fn a_message_of_another_type_is_refused_not_misread() {
        let err = ProtocolMessage::new(vote())
            .take::<ServiceMessage>()
            .unwrap_err();
        assert!(err.to_string().contains("RaftMessage"), "{err}");
        let garbage: ProtocolMessage =
            codec::decode(&codec::encode(&vec![0xffu8; 9].as_slice()).unwrap()).unwrap();
        assert!(garbage.take::<RaftMessage>().is_err());
    }
}
