//! A real partition, healed (`chord partition`, `make partition`): eight
//! node processes in two network namespaces joined by a veth pair, one
//! ring; the link between the halves cut, writes on both sides, the link
//! restored; then the time until the halves are one ring again, and until
//! every key reads the same from every node (see [`crate::chord::merge`]).
//!
//! The halves are cut by `unreachable` routes to the other side's address
//! in each namespace, so a node's calls across fail at once while calls
//! within its side go on. The harness creates the namespaces, the veth
//! pair and the routes, and removes them when it ends, however it ends.
//! It needs root (`ip netns`), and says so without it.
//!
//! The harness's own client connections enter a namespace per thread
//! (`setns(2)`); the nodes are started with `ip netns exec`.
//!
//! The checker: each side writes keys of its own, and both sides write a
//! set of shared keys, side A in the first half of the split and side B in
//! the second, so that B's writes are the later ones by any clock. After
//! the heal every key must read, from all eight nodes, the value of its
//! last acknowledged write (or of a later write that failed, which may
//! have landed); for shared keys that is B's.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::nodes::{ring_size, Nodes, CALL_TIMEOUT};
use crate::client::Client;

/// What a run is asked to do.
#[derive(Clone)]
pub struct Settings {
    /// The `chord` binary the node processes run.
    pub exe: PathBuf,
    /// Nodes on each side.
    pub per_side: usize,
    /// How long the halves stay apart.
    pub split: Duration,
    /// Keys each side writes on its own, and keys both sides write.
    pub keys: usize,
    /// The nodes' stabilization period, in milliseconds.
    pub stabilize_ms: u64,
    /// Where node logs go.
    pub logs: String,
}

/// The first port of each side's nodes; below 32768, in namespaces of
/// our own, so nothing else holds them.
const FIRST_PORT: u16 = 7001;

/// How long the heal may take, to one ring and to every key agreeing,
/// before the run gives up.
const HEAL_DEADLINE: Duration = Duration::from_secs(60);

/// The two namespaces and the veth pair between them; removed on drop.
struct Network {
    sides: [String; 2],
    addrs: [String; 2],
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Network {
    /// Two namespaces named after this process, a veth pair between
    /// them, addresses 10.231.7.1 and 10.231.7.2.
    fn create() -> Result<Network, String> {
        let pid = std::process::id();
        let network = Network {
            sides: [format!("chord-{pid}-a"), format!("chord-{pid}-b")],
            addrs: ["10.231.7.1".into(), "10.231.7.2".into()],
        };
        let veth = [
            format!("chp{}a", pid % 100_000),
            format!("chp{}b", pid % 100_000),
        ];
        for ns in &network.sides {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "link",
            "add",
            &veth[0],
            "netns",
            &network.sides[0],
            "type",
            "veth",
            "peer",
            "name",
            &veth[1],
            "netns",
            &network.sides[1],
        ])?;
        for ((ns, addr), veth) in network.sides.iter().zip(&network.addrs).zip(&veth) {
            let cidr = format!("{addr}/24");
            ip(&["-n", ns, "addr", "add", &cidr, "dev", veth])?;
            ip(&["-n", ns, "link", "set", veth, "up"])?;
        }
        Ok(network)
    }

    /// Cuts (or, with `cut` false, restores) the path between the sides.
    fn cut(&self, cut: bool) -> Result<(), String> {
        for side in 0..2 {
            let other = format!("{}/32", self.addrs[1 - side]);
            let verb = if cut { "add" } else { "del" };
            ip(&[
                "-n",
                &self.sides[side],
                "route",
                verb,
                "unreachable",
                &other,
            ])?;
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and with
        // it the other end.
        for ns in &self.sides {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("partition: removing {ns}: {e}");
            }
        }
    }
}

/// Runs `work` on a thread inside the network namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = format!("/var/run/netns/{ns}");
    let handle = thread::spawn(move || -> Result<T, String> {
        let file = File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
        // SAFETY: setns(2) moves only this thread into the namespace the
        // open file names; it reads no memory of ours.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "entering {path}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(work())
    });
    handle
        .join()
        .map_err(|_| "a harness thread panicked".to_string())?
}

/// One key's acceptable values: the last acknowledged write, and later
/// writes that failed.
#[derive(Clone, Debug, Default)]
struct Expected {
    acceptable: Vec<String>,
}

/// Writes `count` rounds over `keys` through `nodes` (from inside the
/// namespace the caller is in), with `tag` in each value; the keys'
/// acceptable values afterwards, and the writes acknowledged.
fn write_keys(
    nodes: &[String],
    keys: &[String],
    tag: &str,
    until: Instant,
    expected: &mut HashMap<String, Expected>,
) -> u64 {
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut acked = 0u64;
    let mut sequence = 0u64;
    while Instant::now() < until {
        for key in keys {
            if Instant::now() >= until {
                break;
            }
            sequence += 1;
            let value = format!("{tag}.{sequence}");
            let at = &nodes[sequence as usize % nodes.len()];
            let answer = match clients.get_mut(at) {
                Some(c) => c.line(&format!("PUT {key} {value}")),
                None => match Client::connect(at, CALL_TIMEOUT) {
                    Ok(mut c) => {
                        let answer = c.line(&format!("PUT {key} {value}"));
                        clients.insert(at.clone(), c);
                        answer
                    }
                    Err(e) => Err(e),
                },
            };
            let entry = expected.entry(key.clone()).or_default();
            match answer {
                Ok(a) if a == "OK" => {
                    acked += 1;
                    entry.acceptable = vec![value];
                }
                Ok(_) => entry.acceptable.push(value),
                Err(_) => {
                    clients.remove(at);
                    entry.acceptable.push(value);
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    acked
}

/// Reads every key of `expected` from every node of `nodes`; how many
/// keys do not read the same acceptable value everywhere.
fn disagreeing(nodes: &[String], expected: &HashMap<String, Expected>) -> usize {
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut wrong = 0;
    for (key, want) in expected {
        let mut seen: Option<String> = None;
        let mut agree = true;
        for at in nodes {
            let client = match clients.get_mut(at) {
                Some(c) => c,
                None => match Client::connect(at, CALL_TIMEOUT) {
                    Ok(c) => clients.entry(at.clone()).or_insert(c),
                    Err(_) => {
                        agree = false;
                        break;
                    }
                },
            };
            let got = client
                .line(&format!("GET {key}"))
                .unwrap_or_default()
                .strip_prefix("VALUE ")
                .map(str::to_string);
            let fine = got.as_ref().is_some_and(|v| want.acceptable.contains(v))
                && (seen.is_none() || seen == got);
            if !fine {
                agree = false;
                break;
            }
            seen = got;
        }
        if !agree {
            wrong += 1;
        }
    }
    wrong
}

/// Runs the experiment; whether every key agreed after the heal.
///
/// # Errors
/// Not root, `ip` missing, a node that would not start, a ring that never
/// formed.
pub fn partition(settings: &Settings) -> Result<bool, String> {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "make partition needs root: it creates network namespaces and a veth pair (ip netns). \
             Run it as root, or in a container that allows it"
                .into(),
        );
    }
    let network = Network::create()?;
    let nodes = Nodes::new(&settings.exe, 3, settings.stabilize_ms, &settings.logs)?;
    let mut sides: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (side, ns) in network.sides.iter().enumerate() {
        for i in 0..settings.per_side {
            let port = FIRST_PORT + i as u16;
            let addr = format!("{}:{port}", network.addrs[side]);
            let join = sides[0].first().cloned();
            nodes.start_at(&addr, join.as_deref(), Some(ns))?;
            sides[side].push(addr);
            if join.is_none() {
                thread::sleep(Duration::from_millis(300));
            }
        }
    }
    let all: Vec<String> = sides.concat();
    let first = all[0].clone();
    let total = all.len();
    let ring_of = |side: usize, addr: String| -> Result<usize, String> {
        in_netns(&network.sides[side], move || ring_size(&addr).unwrap_or(0))
    };
    let formed = Instant::now() + Duration::from_secs(60);
    while ring_of(0, first.clone())? != total {
        if Instant::now() > formed {
            return Err(format!("the ring of {total} did not form in 60 s"));
        }
        thread::sleep(Duration::from_millis(100));
    }
    println!(
        "partition: {total} nodes, {} in {} and {} in {}, one ring",
        settings.per_side, network.sides[0], settings.per_side, network.sides[1]
    );
    let key_set = |prefix: &str| -> Vec<String> {
        (0..settings.keys)
            .map(|i| format!("{prefix}-{i}"))
            .collect()
    };
    // Before the split: keys written while the ring is whole.
    let mut expected: HashMap<String, Expected> = HashMap::new();
    {
        let (nodes_a, keys) = (sides[0].clone(), key_set("before"));
        let until = Instant::now() + Duration::from_secs(2);
        let mut mine = HashMap::new();
        let written = in_netns(&network.sides[0], move || {
            let acked = write_keys(&nodes_a, &keys, "before", until, &mut mine);
            (acked, mine)
        })?;
        expected.extend(written.1);
    }
    network.cut(true)?;
    let split_at = Instant::now();
    println!("split for {:?}; writing on both sides", settings.split);
    let half = split_at + settings.split / 2;
    let end = split_at + settings.split;
    let mut writers = Vec::new();
    for (side, (ns, side_nodes)) in network.sides.iter().zip(&sides).enumerate() {
        let (ns, side_nodes) = (ns.clone(), side_nodes.clone());
        let own = key_set(if side == 0 { "only-a" } else { "only-b" });
        let shared = key_set("both");
        let tag = if side == 0 { "a" } else { "b" };
        writers.push(thread::spawn(move || {
            in_netns(&ns, move || {
                let mut mine = HashMap::new();
                // Side A writes the shared keys in the first half, side B
                // in the second: B's are the later writes.
                let (first_keys, second_keys) = if side == 0 {
                    ([own.clone(), shared].concat(), own)
                } else {
                    (own.clone(), [own, shared].concat())
                };
                let mut acked = write_keys(&side_nodes, &first_keys, tag, half, &mut mine);
                acked += write_keys(&side_nodes, &second_keys, tag, end, &mut mine);
                (acked, mine)
            })
        }));
    }
    let mut acked = [0u64; 2];
    let mut shared_from_a: HashMap<String, Expected> = HashMap::new();
    for (side, writer) in writers.into_iter().enumerate() {
        let (count, mine) = writer
            .join()
            .map_err(|_| "a writer thread panicked".to_string())??;
        acked[side] = count;
        for (key, want) in mine {
            if side == 0 && key.starts_with("both-") {
                shared_from_a.insert(key, want);
            } else {
                expected.insert(key, want);
            }
        }
    }
    // A shared key B never managed to write keeps A's value.
    for (key, want) in shared_from_a {
        expected.entry(key).or_insert(want);
    }
    let during = [
        ring_of(0, sides[0][0].clone())?,
        ring_of(1, sides[1][0].clone())?,
    ];
    network.cut(false)?;
    let healed = Instant::now();
    println!(
        "healed; during the split the rings had {} and {} nodes; writes acknowledged: side A {}, side B {}",
        during[0], during[1], acked[0], acked[1]
    );
    let mut one_ring: Option<Duration> = None;
    let mut agreed: Option<Duration> = None;
    let mut wrong = expected.len();
    while healed.elapsed() < HEAL_DEADLINE && agreed.is_none() {
        if one_ring.is_none()
            && ring_of(0, sides[0][0].clone())? == total
            && ring_of(1, sides[1][0].clone())? == total
        {
            one_ring = Some(healed.elapsed());
            println!(
                "one ring of {total} after {:.1} s",
                healed.elapsed().as_secs_f64()
            );
        }
        if one_ring.is_some() {
            let (everyone, keys) = (all.clone(), expected.clone());
            wrong = in_netns(&network.sides[0], move || disagreeing(&everyone, &keys))?;
            if wrong == 0 {
                agreed = Some(healed.elapsed());
            }
        }
        thread::sleep(Duration::from_millis(250));
    }
    let seconds = |d: Option<Duration>| {
        d.map_or("never (60 s)".to_string(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        })
    };
    println!("--- partition report ---");
    println!("split {:?}, {} keys per set", settings.split, settings.keys);
    println!("heal to one ring: {}", seconds(one_ring));
    println!(
        "heal to every key agreeing on all {total} nodes: {}",
        seconds(agreed)
    );
    println!(
        "keys checked={} disagreeing or wrong at the end={wrong}",
        expected.len()
    );
    drop(nodes);
    drop(network);
    Ok(agreed.is_some())
}
