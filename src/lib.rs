//! A Chord distributed hash table, written to be read beside the paper:
//! Stoica et al., "Chord: A Scalable Peer-to-peer Lookup Protocol for
//! Internet Applications", IEEE/ACM Transactions on Networking, 2003, with
//! the corrections of Zave, "Reasoning about identifier spaces: How to make
//! Chord correct" (IEEE TSE, 2017) where the original is wrong.
//!
//! Any number of peer nodes hold a key-value store between them with no
//! central server. Every node answers every key: it finds the key's owner,
//! the successor of the key's identifier on the ring, in O(log N) hops
//! through its finger table, and reads or writes there.
//!
//! # Layout
//!
//! The pure protocol sits at the bottom; sockets and threads sit on top.
//!
//! - [`error`]: the crate's [`Error`] and [`Result`].
//! - [`id`]: identifiers on the 2^m ring, SHA-1, the intervals (a, b) and
//!   (a, b]. The paper's "Consistent Hashing".
//! - [`finger`]: the finger table of the paper's Table I, start(k) = n + 2^(k-1).
//! - [`store`]: the key-value map each node holds: versions, tombstones, the
//!   range queries that hand keys over, the digests anti-entropy compares,
//!   and the record of updates applied lately, so a retried `INCR` counts
//!   once.
//! - [`message`]: the peer protocol's request and response types, and the
//!   checks every message passes before a node uses it.
//! - [`codec`]: length-prefixed postcard frames with bounded sizes; bytes only.
//! - [`auth`]: the cluster secret, the HMAC handshake that proves it, and
//!   the MAC on every frame: only members speak the peer protocol.
//! - [`peer`]: typed calls to another node: one method per request,
//!   each returning the answer it expects or a `CallError`.
//! - [`transport`]: the interface the protocol calls to reach other nodes,
//!   with a TCP implementation and an in-memory network for tests.
//! - [`config`]: a node's settings, checked before use.
//! - [`clock`]: time and randomness, injected: the machine's, or a virtual
//!   clock with seeded randomness for repeatable runs.
//! - [`chord`]: the paper, and nothing else: a node's ring state and the
//!   paper's functions, `find_successor`, `closest_preceding_node`,
//!   `create`, `join`, `stabilize`, `notify`, `fix_fingers`,
//!   `check_predecessor` (Figures 5 and 6, successor lists, Zave's
//!   corrections), and voluntary departure. No store, no sockets, no
//!   threads.
//! - [`dhash`]: the key layer over the ring: the store, R copies of every
//!   key and their repair (the paper's "Failure and Replication"), and what
//!   a client asks of any node (GET, PUT, DEL, INCR and the other updates,
//!   LOOKUP).
//! - [`node`]: one node, the ring and the key layer together, and the one
//!   dispatch from peer requests to the two.
//! - [`command`]: what a client may ask, whichever protocol it speaks, and
//!   what a node answers: one `Command`, one `Answer`.
//! - [`text`]: the line protocol people type into telnet: lines into
//!   commands, answers into lines.
//! - [`resp`]: the Redis protocol: frames, and Redis commands into
//!   commands, answers into replies.
//! - [`client`]: a blocking client for the line protocol (CLI and tests).
//! - [`server`]: the accept thread (a lobby that holds new connections until
//!   they authenticate or show they are people), the worker pool, one
//!   connection's loop.
//! - [`maintenance`]: the periodic thread that runs stabilization.
//! - [`rng`]: the crate's one random number generator, seeded.
//! - [`stats`]: counters a node reports with `STATS`, a timed lock guard,
//!   and a throttled log line.
//!
//! The `chord` command (`bin/chord.rs`) runs a node and talks to one,
//! through [`server`] and [`client`]. What measures the library (the
//! simulator, the harnesses, the `chord-lab` command) lives beside it, in
//! the `chord-lab` crate (`lab/`).

pub mod auth;
pub mod chord;
pub mod client;
pub mod clock;
pub mod codec;
pub mod command;
pub mod config;
pub mod dhash;
pub mod error;
pub mod finger;
pub mod id;
pub mod maintenance;
pub mod message;
pub mod node;
pub mod peer;
pub mod resp;
pub mod rng;
pub mod server;
pub mod stats;
pub mod store;
pub mod text;
pub mod transport;

pub use error::{Error, Result};
pub use id::{Id, IdSpace, NodeRef};
pub use node::{Node, NodeConfig};
pub use server::{Server, ServerConfig};
pub use transport::{MemoryNetwork, TcpTransport, Transport, TransportError};
