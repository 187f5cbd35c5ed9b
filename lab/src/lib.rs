//! What measures chord from outside, beside the library rather than in it:
//! the simulator and the harnesses. They use only the library's public
//! interface: whole nodes over TCP or on the in-memory network, on the
//! real clock or a virtual one.
//!
//! - [`sim`]: the paper's simulation experiments (path length, load,
//!   simultaneous failures, churn) on settled rings of up to 2^14 real
//!   nodes in one process, as CSV and SVG (`chord-lab sim`, `make
//!   figures`).
//! - [`harness`]: node processes driven as a user or an attacker would:
//!   churn, partitions, massive failure, the attacks, the fuzzer, the lock
//!   holds, and the benchmark against Redis (`make churn`, `make
//!   partition`, `make attack`, `make bench`, ...).
//!
//! The `chord-lab` command (`bin/lab.rs`) parses arguments and calls them.

pub mod harness;
pub mod sim;
