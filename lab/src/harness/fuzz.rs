//! A fuzzer on stable Rust for every parser a node has: random bytes, and
//! well-formed inputs mutated (bits flipped, bytes changed, inserted,
//! removed, cut, spliced), fed to
//!
//! - `frame`: the frame decoder ([`codec::read_frame`]) for requests and
//!   answers;
//! - `peer`: every peer [`Request`], decoded and handled by a member of a
//!   three-node ring on the in-memory network;
//! - `text`: the text protocol's parser ([`text::parse`]);
//! - `handshake`: the server's side of the handshake ([`ServerHandshake`]).
//!
//! An input that panics is a failure: it is written to the crash
//! directory, and every file there is replayed by `tests/fuzz.rs` for good.
//! The generator is seeded ([`Rng`]): a run repeats exactly.
//!
//! Coverage-guided fuzzers (cargo-fuzz, AFL) need a nightly compiler or an
//! instrumented build; this one trades their guidance for knowing the
//! formats: most mutated inputs start from a valid message of every kind,
//! so they reach the checks behind decoding, not just the decoder's first
//! byte.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Rng;
use chord::auth::{self, Secret, ServerHandshake, Session};
use chord::clock::now_micros;
use chord::codec;
use chord::id::{IdSpace, NodeRef};
use chord::message::{ExpireIf, Expiry, Request, Response, Update};
use chord::node::{Node, NodeConfig};
use chord::store::{Bucket, Cursor, Entry, Item, Point, UpdateId, Version};
use chord::text;
use chord::transport::Handler;

/// The parsers that can be fuzzed, by name.
pub const TARGETS: [&str; 4] = ["frame", "peer", "text", "handshake"];

/// How many inputs the `peer` target feeds one ring before starting a
/// fresh one, so that state a run builds up stays small.
const RING_LIFETIME: usize = 50_000;

/// What one target's run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The target.
    pub target: &'static str,
    /// Inputs fed.
    pub inputs: usize,
    /// Inputs that panicked.
    pub panics: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Where the panicking inputs were written.
    pub saved: Vec<PathBuf>,
}

/// Feeds `inputs` inputs from `seed` to `target`, writing any that panic
/// into `crashes/<target>/`.
///
/// # Errors
/// An unknown target, or a crash file that cannot be written.
pub fn run(target: &str, inputs: usize, seed: u64, crashes: &Path) -> Result<Report, String> {
    let target = TARGETS
        .iter()
        .find(|t| **t == target)
        .ok_or_else(|| format!("unknown fuzz target {target:?}; the targets are {TARGETS:?}"))?;
    let mut rng = Rng::new(seed);
    let seeds = corpus(target);
    let mut feeder = Feeder::new(target);
    let started = Instant::now();
    let mut saved = Vec::new();
    let mut panics = 0;
    quiet_panics(|| {
        for i in 0..inputs {
            let input = next_input(&mut rng, target, &seeds);
            if i > 0 && i % RING_LIFETIME == 0 {
                feeder = Feeder::new(target);
            }
            if !feeder.feed(&input) {
                panics += 1;
                match save(crashes, target, &input) {
                    Ok(path) => saved.push(path),
                    Err(e) => return Err(e),
                }
                feeder = Feeder::new(target);
            }
        }
        Ok(())
    })?;
    Ok(Report {
        target,
        inputs,
        panics,
        elapsed: started.elapsed(),
        saved,
    })
}

/// Feeds one saved input to `target` again; whether it ran without a
/// panic.
pub fn replay(target: &str, input: &[u8]) -> bool {
    quiet_panics(|| Feeder::new(target).feed(input))
}

/// Runs `f` with the panic hook silenced (each panic is counted instead of
/// printed), then restores the hook.
fn quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = f();
    panic::set_hook(hook);
    result
}

fn save(crashes: &Path, target: &str, input: &[u8]) -> Result<PathBuf, String> {
    let dir = crashes.join(target);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let name = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{name:016x}.bin"));
    fs::write(&path, input).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// What an input is fed to.
enum Feeder {
    Frame,
    Peer(Vec<Arc<Node>>),
    Text,
    Handshake,
}

impl Feeder {
    fn new(target: &str) -> Feeder {
        match target {
            "peer" => Feeder::Peer(ring()),
            "text" => Feeder::Text,
            "handshake" => Feeder::Handshake,
            _ => Feeder::Frame,
        }
    }

    /// Feeds `input`; whether it ran without a panic.
    fn feed(&mut self, input: &[u8]) -> bool {
        panic::catch_unwind(AssertUnwindSafe(|| self.feed_unchecked(input))).is_ok()
    }

    fn feed_unchecked(&mut self, input: &[u8]) {
        match self {
            Feeder::Frame => {
                let _ = codec::read_frame::<_, Request>(&mut &input[..], &mut Session::open());
                let _ = codec::read_frame::<_, Response>(&mut &input[..], &mut Session::open());
                // And as a whole frame of its own bytes, past the prefix.
                if let Ok(request) = codec::decode::<Request>(input) {
                    let _ = format!("{request:?}");
                }
            }
            Feeder::Peer(nodes) => {
                if let Ok(request) = codec::decode::<Request>(input) {
                    let _ = format!("{request:?}");
                    let node = &nodes[input.len() % nodes.len()];
                    let answer = node.handle(request);
                    let _ = format!("{answer:?}");
                }
            }
            Feeder::Text => {
                if let Ok(command) = text::parse(input) {
                    let _ = format!("{command:?}");
                }
            }
            Feeder::Handshake => {
                let secret = Secret::new(b"the fuzzer's cluster secret").ok();
                let mut handshake = ServerHandshake::new(secret, [7; auth::NONCE]);
                let mut rest = input;
                while !rest.is_empty() {
                    let take = handshake.wants().min(rest.len());
                    if take == 0 {
                        break;
                    }
                    match handshake.receive(&rest[..take]) {
                        auth::Step::Reply(_) => rest = &rest[take..],
                        auth::Step::Ready(..) | auth::Step::Refuse(..) => break,
                    }
                }
            }
        }
    }
}

/// Three members of a ring on the in-memory network, holding a few keys,
/// with a small memory bound.
fn ring() -> Vec<Arc<Node>> {
    let mut config = NodeConfig::new(space());
    config.max_memory = 4 << 20;
    let nodes = super::memory_ring(["fuzz-a", "fuzz-b", "fuzz-c"], &config);
    for i in 0..20 {
        let _ = nodes[0].put(format!("key-{i}"), "value");
    }
    nodes
}

/// The identifier space of the fuzzed ring: small, so random identifiers
/// often land on the ring's nodes and keys.
fn space() -> IdSpace {
    IdSpace::new(16).unwrap_or_else(|_| unreachable!("16 bits is a valid space"))
}

/// Valid inputs of every kind the target takes, to mutate.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0xc0ffee);
    match target {
        "text" => [
            "PUT key value with spaces",
            "GET key",
            "DEL key",
            "LOOKUP key",
            "NODE",
            "FINGERS",
            "RING",
            "STATS",
            "HELP",
            "AUTH password",
            "QUIT",
            "put k v\r",
        ]
        .iter()
        .map(|line| line.as_bytes().to_vec())
        .collect(),
        "handshake" => {
            let mut hello = codec::MAGIC.to_vec();
            hello.extend_from_slice(&[codec::VERSION, 1]);
            hello.extend_from_slice(&[1; auth::NONCE]);
            let mut both = hello.clone();
            both.extend_from_slice(&[2; auth::TAG]);
            vec![hello, both]
        }
        "frame" => (0..64)
            .map(|_| {
                let request = request(&mut rng);
                let mut frame = codec::encode(&request, &mut Session::open()).unwrap_or_default();
                if rng.below(2) == 0 {
                    frame.drain(..4.min(frame.len()));
                }
                frame
            })
            .collect(),
        _ => (0..256)
            .map(|_| postcard::to_stdvec(&request(&mut rng)).unwrap_or_default())
            .collect(),
    }
}

/// The next input: random bytes (an eighth), a fresh well-formed request
/// for the targets that take them (a quarter), or a corpus entry with one
/// to four mutations, fewer more often.
fn next_input(rng: &mut Rng, target: &str, seeds: &[Vec<u8>]) -> Vec<u8> {
    let roll = rng.below(8);
    if seeds.is_empty() || roll == 0 {
        let len = rng.below(96);
        return rng.bytes(len);
    }
    if roll <= 2 && (target == "peer" || target == "frame") {
        let request = request(rng);
        return match target {
            "frame" => codec::encode(&request, &mut Session::open()).unwrap_or_default(),
            _ => postcard::to_stdvec(&request).unwrap_or_default(),
        };
    }
    let mut input = seeds[rng.below(seeds.len())].clone();
    let mutations = 1 + rng.below(4).min(rng.below(4));
    for _ in 0..mutations {
        mutate(rng, &mut input, seeds);
    }
    input
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    const INTERESTING: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 20, 160];
    let at = rng.below(input.len().max(1));
    match rng.below(7) {
        0 if !input.is_empty() => input[at] ^= 1 << rng.below(8),
        1 if !input.is_empty() => input[at] = rng.next_u64() as u8,
        2 if !input.is_empty() => input[at] = INTERESTING[rng.below(INTERESTING.len())],
        3 => input.insert(at.min(input.len()), rng.next_u64() as u8),
        4 if !input.is_empty() => {
            input.remove(at);
        }
        5 => input.truncate(at),
        _ => {
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len().max(1)).min(other.len());
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
    }
}

/// A random request of any kind, often naming the fuzzed ring's real
/// nodes and keys.
fn request(rng: &mut Rng) -> Request {
    let id = |rng: &mut Rng| space().id(rng.next_u64());
    let node = |rng: &mut Rng| {
        let addr = ["fuzz-a", "fuzz-b", "fuzz-c", "127.0.0.1:9"][rng.below(4)];
        NodeRef::new(space(), addr)
    };
    let key = |rng: &mut Rng| format!("key-{}", rng.below(40)).into_bytes();
    let point = |rng: &mut Rng| Point {
        id: id(rng),
        key: (rng.below(2) == 0).then(|| key(rng)),
    };
    // Expiry times: passed, about now, later, or anything.
    let expiry = |rng: &mut Rng| match rng.below(4) {
        0 => rng.next_u64(),
        _ => now_micros().saturating_sub(1 << 20) + rng.next_u64() % (1 << 21),
    };
    // Few ids, so that repeats (a retried update) come up.
    let update_id = |rng: &mut Rng| UpdateId::new(1 + rng.below(2) as u64, rng.below(32) as u64);
    let item = |rng: &mut Rng| Item {
        key: key(rng).into(),
        entry: Entry {
            value: (rng.below(3) > 0).then(|| vec![b'v'; rng.below(100)]),
            version: Version {
                // Mostly near the node's clock, so that most pass the
                // check and reach the store; now and then anything.
                stamp: match rng.below(8) {
                    0 => rng.next_u64(),
                    _ => now_micros().saturating_sub(1 << 30) + rng.next_u64() % (1 << 31),
                },
                writer: rng.next_u64(),
            },
            expires: (rng.below(3) == 0).then(|| expiry(rng)),
            update: None,
        },
    };
    match rng.below(17) {
        0 => Request::FindSuccessor { id: id(rng) },
        1 => Request::GetNeighbours,
        2 => Request::Notify {
            candidate: node(rng),
        },
        3 => Request::Ping,
        4 => Request::Info,
        5 => Request::TakeKeys {
            from: id(rng),
            to: id(rng),
            after: (rng.below(2) == 0).then(|| Cursor {
                id: id(rng),
                key: key(rng),
            }),
            max_bytes: rng.next_u64() as u32,
        },
        6 => Request::Replicate {
            items: (0..rng.below(8)).map(|_| item(rng)).collect(),
        },
        7 => Request::Digest {
            from: point(rng),
            buckets: (0..rng.below(8))
                .map(|_| Bucket {
                    end: point(rng),
                    digest: rng.next_u64(),
                })
                .collect(),
            // Now and then a watermark (most from the future, refused).
            flushed: if rng.below(8) == 0 { rng.next_u64() } else { 0 },
        },
        8 => Request::Reconcile {
            from: point(rng),
            to: point(rng),
            items: (0..rng.below(8)).map(|_| item(rng)).collect(),
        },
        9 => Request::PredecessorLeaving {
            leaver: node(rng),
            predecessor: (rng.below(2) == 0).then(|| node(rng)),
        },
        10 => Request::SuccessorLeaving {
            leaver: node(rng),
            successors: (0..rng.below(4)).map(|_| node(rng)).collect(),
        },
        11 => Request::Get { key: key(rng) },
        12 => Request::GetCopy { key: key(rng) },
        13 => Request::Consider { node: node(rng) },
        14 => Request::Update {
            key: key(rng),
            update: Update::Increment(rng.next_u64() as i64),
            id: update_id(rng),
        },
        15 => Request::Update {
            key: key(rng),
            update: if rng.below(2) == 0 {
                Update::Set {
                    value: vec![b'u'; rng.below(100)],
                    exists: [None, Some(true), Some(false)][rng.below(3)],
                    expiry: [Expiry::Clear, Expiry::Keep, Expiry::At(expiry(rng))][rng.below(3)],
                }
            } else {
                Update::Expire {
                    at: (rng.below(2) == 0).then(|| expiry(rng)),
                    only: [None, Some(ExpireIf::None), Some(ExpireIf::Later)][rng.below(3)],
                }
            },
            id: update_id(rng),
        },
        _ => Request::Write {
            key: key(rng),
            value: (rng.below(3) > 0).then(|| vec![b'w'; rng.below(100)]),
            expires: (rng.below(2) == 0).then(|| expiry(rng)),
        },
    }
}

/// A report as one line per target.
pub fn summary(reports: &[Report]) -> String {
    let mut out = String::new();
    let mut by_target: HashMap<&str, (usize, usize, Duration)> = HashMap::new();
    for r in reports {
        let entry = by_target.entry(r.target).or_default();
        entry.0 += r.inputs;
        entry.1 += r.panics;
        entry.2 += r.elapsed;
    }
    for target in TARGETS {
        if let Some((inputs, panics, elapsed)) = by_target.get(target) {
            let _ = writeln!(
                out,
                "{target:<10} inputs={inputs} panics={panics} seconds={:.1}",
                elapsed.as_secs_f64()
            );
        }
    }
    out
}
