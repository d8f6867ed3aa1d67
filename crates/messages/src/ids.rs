//! Node ids, roles and the `(node, role)` actor address.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node of the cluster, as numbered in the config file.
pub type NodeId = u64;

/// The name of a role an actor plays on a node (`"raft"`, `"proposer"`, `"service"`, ...). A
/// message is addressed to `(node, role)`. Roles are open: each protocol names its own
/// (`Role::named("acceptor")` in its crate), and only the KV service's is defined here.
/// A name is 1 to [`Role::MAX_LEN`] bytes of lower-case ASCII letters, digits and `-`; on the
/// wire it is a string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role {
    len: u8,
    name: [u8; Role::MAX_LEN],
}

impl Role {
    /// The longest role name, in bytes.
    pub const MAX_LEN: usize = 15;

    /// The client-facing KV service of a node.
    pub const SERVICE: Role = Role::named("service");

    /// The role called `name`. A bad name (empty, too long, not lower-case ASCII letters,
    /// digits or `-`) fails at compile time in a `const`, and panics otherwise: names are
    /// the program's own; a name from the wire goes through [`Role::parse`].
    pub const fn named(name: &str) -> Self {
        match Self::parse(name) {
            Some(role) => role,
            None => panic!("a role name is 1 to 15 bytes of a-z, 0-9 and '-'"),
        }
    }

    /// The role called `name`, if it is a valid name.
    pub const fn parse(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return None;
        }
        let mut out = [0u8; Self::MAX_LEN];
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return None;
            }
            out[i] = b;
            i += 1;
        }
        Some(Self {
            len: bytes.len() as u8,
            name: out,
        })
    }

    /// The name, as in configs and logs.
    pub fn name(&self) -> &str {
        // Only ASCII is ever stored (see `parse`).
        std::str::from_utf8(&self.name[..self.len as usize]).unwrap_or("?")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Role({})", self.name())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Role::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "bad role name {name:?} (1 to 15 bytes of a-z, 0-9, '-')"
            ))
        })
    }
}

/// The address of one actor: a role on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActorAddr {
    /// The node that hosts the actor.
    pub node: NodeId,
    /// The role the actor plays there.
    pub role: Role,
}

impl ActorAddr {
    /// The address of `role` on `node`.
    pub const fn new(node: NodeId, role: Role) -> Self {
        Self { node, role }
    }
}

impl fmt::Display for ActorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.node, self.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_names_compared_by_value_and_checked() {
        const ACCEPTOR: Role = Role::named("acceptor");
        assert_eq!(ACCEPTOR, Role::parse("acceptor").unwrap());
        assert_ne!(ACCEPTOR, Role::SERVICE);
        assert_eq!(ACCEPTOR.name(), "acceptor");
        assert_eq!(ActorAddr::new(2, ACCEPTOR).to_string(), "2/acceptor");
        for bad in ["", "Acceptor", "a b", "sixteen-bytes-xx", "é"] {
            assert!(Role::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_role_travels_as_its_name_and_a_bad_name_is_refused() {
        let bytes = crate::codec::encode(&Role::named("learner")).unwrap();
        assert_eq!(
            crate::codec::decode::<Role>(&bytes).unwrap(),
            Role::named("learner")
        );
        let bad = crate::codec::encode(&"Not A Role").unwrap();
        let err = crate::codec::decode::<Role>(&bad).unwrap_err().to_string();
        assert!(err.contains("bad role name"), "{err}");
    }
}
