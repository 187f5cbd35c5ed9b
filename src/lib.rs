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
//! Nine layers, the pure protocol at the bottom, sockets and threads on
//! top. A module names only modules of its own layer or below, and no
//! files import each other in a circle (`tests/layers.rs` checks both).
//!
//! 1. **Identifiers and errors.**
//!    [`id`]: identifiers on the 2^m ring, SHA-1, the intervals (a, b) and
//!    (a, b]; the paper's "Consistent Hashing".
//!    [`error`]: the crate's [`Error`] and [`Result`], and why a call to a
//!    peer failed.
//! 2. **Local data and services.**
//!    [`rng`]: the crate's one random number generator, seeded.
//!    [`clock`]: time and randomness, injected: the machine's, or a virtual
//!    clock with seeded randomness for repeatable runs.
//!    [`finger`]: the finger table of the paper's Table I,
//!    start(k) = n + 2^(k-1).
//!    [`store`]: the key-value map each node holds: versions, tombstones,
//!    the range queries that hand keys over, the digests anti-entropy
//!    compares, and the record of updates applied lately, so a retried
//!    `INCR` counts once.
//!    [`stats`]: counters a node reports with `STATS`, a timed lock guard,
//!    and a throttled log line.
//!    [`disk`]: a durable node's data directory: the store's changes in a
//!    checksummed log, snapshots, and recovery from them at start.
//! 3. **The wire.**
//!    [`message`]: the peer protocol's request and response types, and the
//!    checks every message passes before a node uses it.
//!    [`codec`]: length-prefixed postcard frames with bounded sizes.
//!    [`auth`]: the cluster secret, the HMAC handshake that proves it, and
//!    the MAC on every frame: only members speak the peer protocol.
//! 4. **Reaching other nodes.**
//!    [`transport`]: the interface the protocol calls to reach other nodes,
//!    with a TCP implementation and an in-memory network for tests.
//!    [`peer`]: typed calls to another node, one method per request.
//!    [`config`]: a node's settings, checked before use.
//! 5. **The paper.** [`chord`]: a node's ring state and the paper's
//!    functions, `find_successor`, `closest_preceding_node`, `create`,
//!    `join`, `stabilize`, `notify`, `fix_fingers`, `check_predecessor`
//!    (Figures 5 and 6, successor lists, Zave's corrections), and voluntary
//!    departure. No store, no sockets, no threads.
//! 6. **The key layer.** [`dhash`]: the store, R copies of every key and
//!    their repair (the paper's "Failure and Replication"), and what a
//!    client asks of any node (GET, PUT, DEL, INCR and the other updates,
//!    LOOKUP).
//! 7. **One node.** [`node`]: the ring and the key layer together, and the
//!    one dispatch from peer requests to the two. [`maintenance`]: the
//!    periodic rounds of stabilization and repair.
//! 8. **What clients say.** [`command`]: one `Command` and one `Answer`,
//!    whichever protocol a client speaks. [`text`]: the line protocol
//!    people type into telnet. [`resp`]: the Redis protocol. [`client`]: a
//!    blocking client for the line protocol (the CLI and the tests).
//! 9. **Sockets and threads.** [`server`]: the accept thread (a lobby that
//!    holds new connections until they authenticate or show they are
//!    people), the worker pool, the maintenance and heartbeat threads, one
//!    connection's loop, and the one executor of client commands.
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
pub mod disk;
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
