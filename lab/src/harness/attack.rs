//! The attacks on a ring that a stranger can make, as code: each sends what
//! an attacker would and says whether the ring withstood it. `chord-lab attack`
//! runs them against a running ring (`make attack`), and `tests/attacks.rs`
//! against rings in the test process.
//!
//! The attacker normally has no secret; given one (`--as-member`), it is a
//! member that sends malformed frames, which the checks of
//! [`chord::message`] must refuse all the same. Attacks that are ordinary
//! requests when a member makes them (reading a range, notifying) are then
//! reported as served, not as failures: the secret keeps outsiders out, it
//! does not guard against members (see docs/security.md).
//!
//! Before the attacks, [`CANARIES`] keys are written; after them, each must
//! still read its value, so "no acknowledged key changed or lost" is
//! checked, not assumed.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use chord::auth::{self, Secret, Session};
use chord::client::Client;
use chord::codec;
use chord::id::{Id, IdSpace, NodeRef};
use chord::message::Request;
use chord::store::{Bucket, Entry, Item, Point, Version};

/// Keys written before the attacks and checked after them.
pub const CANARIES: usize = 100;

const TIMEOUT: Duration = Duration::from_secs(10);

/// What one attack did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The attack's name.
    pub name: &'static str,
    /// How many of its connections got past the handshake.
    pub past_handshake: usize,
    /// What happened, for the report.
    pub detail: String,
    /// Whether the ring withstood it.
    pub withstood: bool,
}

/// Who attacks what.
pub struct Target {
    /// The ring's nodes; the first is the one most attacks aim at.
    pub addrs: Vec<String>,
    /// The ring's identifier space.
    pub space: IdSpace,
    /// The secret the attacker holds, if it is a member.
    pub secret: Option<Secret>,
    /// Connections for the stall flood.
    pub stalls: usize,
}

/// A peer connection of the attacker's, past the handshake.
struct Raw {
    stream: TcpStream,
    /// The same socket, buffered for reading answers.
    reader: BufReader<TcpStream>,
    session: Session,
}

impl Raw {
    fn connect(addr: &str, secret: Option<&Secret>) -> Result<Raw, String> {
        let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let session = auth::client_handshake(&mut stream, secret).map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(Raw {
            stream,
            reader,
            session,
        })
    }

    /// Sends `body` as one frame, as is.
    fn send_body(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        frame.extend_from_slice(&self.session.seal(body));
        self.stream.write_all(&frame)
    }

    fn send(&mut self, request: &Request) -> std::io::Result<()> {
        let body = postcard::to_stdvec(request).map_err(std::io::Error::other)?;
        self.send_body(&body)
    }

    /// The answer to the last request, or how the connection ended.
    fn answer(&mut self) -> String {
        match codec::read_frame::<_, chord::message::Response>(&mut self.reader, &mut self.session)
        {
            Ok(response) => format!("{response:?}"),
            Err(e) => format!("connection ended: {e}"),
        }
    }
}

/// Sends `request` to `addr` as the attacker; `(past the handshake, what
/// came back)`.
fn attempt(addr: &str, secret: Option<&Secret>, request: &Request) -> (bool, String) {
    match Raw::connect(addr, secret) {
        Err(why) => (false, format!("refused at the handshake: {why}")),
        Ok(mut raw) => match raw.send(request) {
            Ok(()) => (true, raw.answer()),
            Err(e) => (true, format!("could not send: {e}")),
        },
    }
}

/// Whether every node answers a text request.
fn all_up(addrs: &[String]) -> bool {
    addrs.iter().all(|addr| {
        Client::connect(addr, TIMEOUT)
            .and_then(|mut c| c.line("NODE"))
            .is_ok_and(|line| !line.starts_with("ERR"))
    })
}

fn text(addr: &str, line: &str) -> String {
    Client::connect(addr, TIMEOUT)
        .and_then(|mut c| c.line(line))
        .unwrap_or_else(|e| format!("no answer: {e}"))
}

fn canary(i: usize) -> (String, String) {
    (format!("canary-{i}"), format!("canary value {i}"))
}

/// Writes the canaries through the first node.
///
/// # Errors
/// The first write that was not acknowledged.
pub fn plant_canaries(addrs: &[String]) -> Result<(), String> {
    let mut client = Client::connect(&addrs[0], TIMEOUT).map_err(|e| e.to_string())?;
    for i in 0..CANARIES {
        let (key, value) = canary(i);
        let answer = client
            .line(&format!("PUT {key} {value}"))
            .map_err(|e| e.to_string())?;
        if answer != "OK" {
            return Err(format!("PUT {key}: {answer}"));
        }
    }
    Ok(())
}

/// How many canaries no longer read their value, read through every node
/// in turn.
pub fn canaries_changed(addrs: &[String]) -> usize {
    (0..CANARIES)
        .filter(|&i| {
            let (key, value) = canary(i);
            text(&addrs[i % addrs.len()], &format!("GET {key}")) != format!("VALUE {value}")
        })
        .count()
}

/// Runs every attack in turn; the canaries must be planted first.
pub fn run_all(target: &Target) -> Vec<Outcome> {
    vec![
        crash_frame(target),
        future_version(target),
        take_everything(target),
        fake_peer(target),
        wide_digest(target),
        notify_flood(target),
        stall_flood(target),
        trickle(target),
    ]
}

/// One `Notify` whose candidate's identifier claims 255 bits: it once made
/// every node that printed it panic.
pub fn crash_frame(t: &Target) -> Outcome {
    let candidate = NodeRef::new(t.space, "127.0.0.1:9");
    let mut body = postcard::to_stdvec(&Request::Notify { candidate }).unwrap_or_default();
    // Variant index (1 byte), 20 identifier bytes, then the bits byte.
    if let Some(bits) = body.get_mut(21) {
        *bits = 255;
    }
    let mut past = 0;
    let mut answers = Vec::new();
    for addr in &t.addrs {
        match Raw::connect(addr, t.secret.as_ref()) {
            Err(why) => answers.push(format!("refused at the handshake: {why}")),
            Ok(mut raw) => {
                past += 1;
                let _ = raw.send_body(&body);
                answers.push(raw.answer());
            }
        }
    }
    let up = all_up(&t.addrs);
    Outcome {
        name: "crash frame (Notify, 255-bit id)",
        past_handshake: past,
        detail: format!(
            "all {} nodes up: {up}; first answer: {}",
            t.addrs.len(),
            answers[0]
        ),
        withstood: up,
    }
}

/// A `Replicate` stamped 2^64 - 1 for a key, and one of tombstones so
/// stamped for every canary, sent to every node.
pub fn future_version(t: &Target) -> Outcome {
    let key = "attack-future";
    let first = text(&t.addrs[0], &format!("PUT {key} before"));
    let forever = |key: String, value: Option<Vec<u8>>| Item {
        key: key.into_bytes().into(),
        entry: Entry {
            value,
            version: Version {
                stamp: u64::MAX,
                writer: u64::MAX,
            },
            expires: None,
            update: None,
        },
    };
    let evil = Request::Replicate {
        items: vec![forever(key.into(), Some(b"evil".to_vec()))].into(),
    };
    let tombstones = Request::Replicate {
        items: (0..CANARIES).map(|i| forever(canary(i).0, None)).collect(),
    };
    let mut past = 0;
    let mut answer = String::new();
    for addr in &t.addrs {
        let (got_in, a) = attempt(addr, t.secret.as_ref(), &evil);
        past += usize::from(got_in);
        answer = a;
        let _ = attempt(addr, t.secret.as_ref(), &tombstones);
    }
    // Replication and repair run in the background: give them a few rounds
    // to spread the attack, if anything took it.
    thread::sleep(Duration::from_secs(1));
    let second = text(&t.addrs[0], &format!("PUT {key} after"));
    let reads: Vec<String> = t
        .addrs
        .iter()
        .map(|a| text(a, &format!("GET {key}")))
        .collect();
    let writable = first == "OK" && second == "OK" && reads.iter().all(|r| r == "VALUE after");
    Outcome {
        name: "version 2^64-1 and 100 such tombstones",
        past_handshake: past,
        detail: format!("a later PUT reads back everywhere: {writable}; answer: {answer}"),
        withstood: writable,
    }
}

/// A `TakeKeys` over the whole ring.
pub fn take_everything(t: &Target) -> Outcome {
    let everywhere = t.space.hash(t.addrs[0].as_bytes());
    let request = Request::TakeKeys {
        from: everywhere,
        to: everywhere,
        after: None,
        max_bytes: u32::MAX,
    };
    let (past, answer) = attempt(&t.addrs[0], t.secret.as_ref(), &request);
    let leaked = past && answer.starts_with("Keys");
    Outcome {
        name: "read the whole ring (TakeKeys)",
        past_handshake: usize::from(past),
        detail: if leaked && t.secret.is_some() {
            "served: the attacker holds the secret, and members may read".into()
        } else {
            answer.chars().take(120).collect()
        },
        withstood: !leaked || t.secret.is_some(),
    }
}

/// A peer that claims the identifier just before the target's: not the
/// hash of its address.
pub fn fake_peer(t: &Target) -> Outcome {
    let target = t.space.hash(t.addrs[0].as_bytes());
    let candidate = NodeRef {
        id: just_before(t.space, target),
        addr: "127.0.0.1:9".into(),
    };
    let (past, answer) = attempt(
        &t.addrs[0],
        t.secret.as_ref(),
        &Request::Notify { candidate },
    );
    let node = text(&t.addrs[0], "NODE");
    let adopted = node.contains("127.0.0.1:9");
    Outcome {
        name: "fake peer (id not the hash of its address)",
        past_handshake: usize::from(past),
        detail: format!("adopted: {adopted}; answer: {answer}"),
        withstood: !adopted,
    }
}

/// `id - 1` on the ring: `id + (2^m - 1)`, the sum of every power below m.
fn just_before(space: IdSpace, id: Id) -> Id {
    (0..space.bits()).fold(id, |at, k| at.add_pow2(k))
}

/// A 2 MB `Digest` of 100,000 buckets that each cover the whole ring,
/// while another client reads from the same node.
pub fn wide_digest(t: &Target) -> Outcome {
    let from = t.space.hash(t.addrs[0].as_bytes());
    let request = Request::Digest {
        from: Point::after(from),
        buckets: vec![
            Bucket {
                end: Point::after(from),
                digest: 0
            };
            100_000
        ],
        flushed: 0,
    };
    let addr = t.addrs[0].clone();
    let reader = thread::spawn(move || {
        let mut client = Client::connect(&addr, TIMEOUT).ok()?;
        let mut slowest = Duration::ZERO;
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            let start = Instant::now();
            client.line("GET canary-0").ok()?;
            slowest = slowest.max(start.elapsed());
        }
        Some(slowest)
    });
    let (past, answer) = attempt(&t.addrs[0], t.secret.as_ref(), &request);
    let slowest = reader.join().ok().flatten();
    let fast = slowest.is_some_and(|s| s < Duration::from_millis(100));
    Outcome {
        name: "whole-ring digest buckets",
        past_handshake: usize::from(past),
        detail: format!("slowest GET meanwhile: {slowest:?}; answer: {answer}"),
        withstood: fast,
    }
}

/// Repeated `Notify` and `SuccessorLeaving` frames naming a node that does
/// not exist, on one connection.
pub fn notify_flood(t: &Target) -> Outcome {
    let ghost = NodeRef::new(t.space, "127.0.0.1:9");
    let me = NodeRef::new(t.space, &t.addrs[0]);
    let mut sent = 0;
    let past = match Raw::connect(&t.addrs[0], t.secret.as_ref()) {
        Err(_) => false,
        Ok(mut raw) => {
            for i in 0..1000 {
                let request = if i % 2 == 0 {
                    Request::Notify {
                        candidate: ghost.clone(),
                    }
                } else {
                    Request::SuccessorLeaving {
                        leaver: me.clone(),
                        successors: vec![ghost.clone()],
                    }
                };
                if raw.send(&request).is_err() || raw.answer().starts_with("connection ended") {
                    break;
                }
                sent += 1;
            }
            true
        }
    };
    Outcome {
        name: "Notify / SuccessorLeaving flood",
        past_handshake: usize::from(past),
        detail: if past {
            format!("{sent} frames served: an open ring, or a member, is trusted")
        } else {
            "refused at the handshake".into()
        },
        withstood: !past || t.secret.is_some(),
    }
}

/// `stalls` connections that each send one NUL byte and then nothing,
/// while a client writes, through another node, a key the target owns.
pub fn stall_flood(t: &Target) -> Outcome {
    let owned = (0..10_000).map(|i| format!("stall-{i}")).find(|key| {
        text(&t.addrs[0], &format!("LOOKUP {key}")).contains(&format!(" {} ", t.addrs[0]))
    });
    let mut stalled = Vec::new();
    for _ in 0..t.stalls {
        if let Ok(mut s) = TcpStream::connect(&t.addrs[0]) {
            let _ = s.write_all(&[0]);
            stalled.push(s);
        }
    }
    let via = &t.addrs[t.addrs.len().min(2) - 1];
    let start = Instant::now();
    let put = owned.as_ref().map_or_else(
        || "no key owned by the target found".into(),
        |key| text(via, &format!("PUT {key} v")),
    );
    let took = start.elapsed();
    // Past the handshake deadline, every stalled connection is closed.
    thread::sleep(Duration::from_millis(700));
    let ring = Client::connect(via, TIMEOUT)
        .and_then(|mut c| c.request("RING"))
        .map(|lines| lines.len())
        .unwrap_or(0);
    let closed = stalled
        .iter()
        .filter(|s| {
            let _ = s.set_read_timeout(Some(Duration::from_millis(10)));
            let mut byte = [0u8; 1];
            let mut stream: &TcpStream = s;
            match stream.read(&mut byte) {
                Ok(n) => n == 0,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            }
        })
        .count();
    let ok = put == "OK" && took < Duration::from_secs(1) && ring == t.addrs.len();
    Outcome {
        name: "connections that send NUL and stall",
        past_handshake: 0,
        detail: format!(
            "{} stalled; PUT to the target's key through {via}: {put} in {took:?}; RING lists {ring} of {}; {closed} closed by the node",
            stalled.len(),
            t.addrs.len()
        ),
        withstood: ok,
    }
}

/// 40 connections that announce an 8 MiB frame and send it a byte at a
/// time.
pub fn trickle(t: &Target) -> Outcome {
    let mut open = Vec::new();
    for _ in 0..40 {
        if let Ok(mut raw) = Raw::connect(&t.addrs[0], t.secret.as_ref()) {
            let _ = raw
                .stream
                .write_all(&(codec::MAX_FRAME as u32).to_be_bytes());
            open.push(raw);
        }
    }
    for _ in 0..10 {
        for raw in &mut open {
            let _ = raw.stream.write_all(&[0]);
        }
        thread::sleep(Duration::from_millis(50));
    }
    let up = all_up(&t.addrs);
    Outcome {
        name: "8 MiB frames trickled in",
        past_handshake: open.len(),
        detail: format!(
            "{} connections got to announce a frame; nodes up: {up}",
            open.len()
        ),
        withstood: up,
    }
}

/// Writes values of `size` bytes through `addr` until a node answers `ERR
/// out of memory`, or `limit` writes; then writes every acknowledged key
/// again `rewrites` times (a full store still takes overwrites of the same
/// size, and memory must not creep up with them); then reads back some.
/// `(writes acknowledged, the refusal, rewrites or reads that failed)`.
///
/// # Errors
/// A connection that fails.
pub fn fill(
    addr: &str,
    size: usize,
    limit: usize,
    rewrites: usize,
) -> Result<(usize, String, usize), String> {
    let mut client = Client::connect(addr, TIMEOUT).map_err(|e| e.to_string())?;
    let value = "v".repeat(size);
    let mut acknowledged = 0;
    let mut refusal = String::from("never refused");
    for i in 0..limit {
        let answer = client
            .line(&format!("PUT fill-{i} {value}"))
            .map_err(|e| e.to_string())?;
        if answer == "OK" {
            acknowledged += 1;
        } else {
            refusal = answer;
            break;
        }
    }
    let mut failed = 0;
    for _ in 0..rewrites {
        for i in 0..acknowledged {
            let answer = client
                .line(&format!("PUT fill-{i} {value}"))
                .map_err(|e| e.to_string())?;
            failed += usize::from(answer != "OK");
        }
    }
    let step = (acknowledged / 20).max(1);
    failed += (0..acknowledged)
        .step_by(step)
        .filter(|i| {
            client
                .line(&format!("GET fill-{i}"))
                .map_or(true, |a| a.len() != "VALUE ".len() + size)
        })
        .count();
    Ok((acknowledged, refusal, failed))
}
