//! The crate's errors, with messages a person can act on: [`Error`] and
//! `Result`, and [`TransportError`], why a call to a peer failed. They sit
//! at the bottom of the crate, above identifiers alone.

use std::fmt;

use crate::id::{BitsOutOfRange, Id};

/// Everything that can go wrong in this crate, with a message a person can
/// act on.
#[derive(Debug)]
pub enum Error {
    /// A setting is out of range or inconsistent; the text names it.
    Config(String),
    /// A local I/O operation (binding a port, resolving an address) failed.
    Io {
        /// What we were doing.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A call to another node failed.
    Transport(TransportError),
    /// The joining node's identifier is already held by another node.
    IdTaken {
        /// The identifier both nodes hash to.
        id: Id,
        /// The address of the node that holds it.
        holder: String,
    },
    /// The ring we tried to join uses identifiers of another size.
    SpaceMismatch {
        /// Our m.
        ours: u8,
        /// The ring's m.
        theirs: u8,
        /// The node that told us.
        peer: String,
    },
    /// An operation could not complete before its deadline; the text says
    /// what was tried last.
    Unavailable(String),
    /// A write was refused because a node that would hold it is at its
    /// memory bound (`--max-memory`); the text names the node.
    OutOfMemory(String),
    /// The request was refused for what it asked: an increment of a value
    /// that is not an integer, say. The text says what.
    Rejected(String),
    /// A request over several keys, to be applied atomically, whose keys
    /// have more than one identifier, and so may have more than one owner
    /// (Redis Cluster's `CROSSSLOT`).
    CrossSlot,
    /// This node was paused (stopped, or starved) and is catching up; it
    /// takes no client request meanwhile (see [`crate::chord::health`]). Shown
    /// as `busy`, which clients already take as "ask another node".
    Paused,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(text) => write!(f, "invalid configuration: {text}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Transport(e) => write!(f, "{e}"),
            Error::IdTaken { id, holder } => write!(
                f,
                "identifier {id} is already held by {holder}; advertise another address"
            ),
            Error::SpaceMismatch { ours, theirs, peer } => write!(
                f,
                "{peer} uses {theirs}-bit identifiers but this node uses {ours}; start it with --bits {theirs}"
            ),
            Error::Unavailable(text) => write!(f, "unavailable: {text}"),
            Error::OutOfMemory(text) => write!(f, "out of memory: {text}"),
            Error::Rejected(text) => write!(f, "{text}"),
            Error::CrossSlot => write!(
                f,
                "Keys in request don't hash to the same slot: give them one hash tag, \
                 as in {{user:42}}:name and {{user:42}}:mail"
            ),
            Error::Paused => write!(
                f,
                "busy: this node was paused and is catching up with the ring; ask another node"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Transport(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        Error::Transport(e)
    }
}

impl From<BitsOutOfRange> for Error {
    fn from(e: BitsOutOfRange) -> Error {
        Error::Config(e.to_string())
    }
}

/// Why a call to a peer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The peer refused, reset or closed the connection, or cannot be
    /// resolved: treat it as dead.
    Unreachable {
        /// The peer.
        addr: String,
        /// What the network said.
        reason: String,
    },
    /// The peer did not answer within the call timeout.
    Timeout {
        /// The peer.
        addr: String,
    },
    /// The peer is alive but all its workers are busy: try again later.
    Busy {
        /// The peer.
        addr: String,
    },
    /// The peer answered something that is not our protocol, or another
    /// version of it.
    Protocol {
        /// The peer.
        addr: String,
        /// What was wrong.
        detail: String,
    },
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Unreachable { addr, reason } => {
                write!(f, "peer {addr} is unreachable: {reason}")
            }
            TransportError::Timeout { addr } => write!(f, "peer {addr} did not answer in time"),
            TransportError::Busy { addr } => write!(f, "peer {addr} is busy; try again"),
            TransportError::Protocol { addr, detail } => {
                write!(f, "peer {addr} broke the protocol: {detail}")
            }
        }
    }
}

impl std::error::Error for TransportError {}
