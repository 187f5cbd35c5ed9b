//! The experiments of the paper's "Simulation Results", each written as
//! CSV: a header line, then one row per point. Every number comes from a
//! seeded run, so the same seed writes the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{space, SimRing};
use chord::id::{Id, NodeRef};
use chord::rng::Rng;

/// What the paper reports for load balance (ToN 2003, Section V.B), as
/// multiples of the mean number of keys per node: with 10^4 nodes and
/// 5 × 10^5 keys the 99th percentile is 4.6 times the mean.
const PAPER_LOAD_P99_AT_HALF_MILLION: f64 = 4.6;

/// The same with virtual nodes (10^4 real nodes, 10^6 keys): going from 1
/// to 10 virtual nodes per real node moves the 1st percentile from 0 to
/// 0.5 times the mean and the 99th from 4.8 to 1.6 times. Rows are
/// (virtual nodes per real node, 1st percentile, 99th percentile).
const PAPER_VIRTUAL: [(usize, f64, f64); 2] = [(1, 0.0, 4.8), (10, 0.5, 1.6)];

/// The figures `chord-lab sim` can make, by name.
pub const FIGURES: [&str; 4] = ["path-length", "load", "failures", "churn"];

/// One output file: its name and its CSV text.
pub struct Output {
    /// The file name, e.g. `path_length.csv`.
    pub file: String,
    /// The CSV.
    pub csv: String,
    /// How many simulated events made it (lookups, or in the churn runs
    /// every join, failure, maintenance round and lookup): the work behind
    /// the simulator's speed. 0 where nothing is simulated but hashing.
    pub events: u64,
}

/// Runs the experiment `figure` with `seed`; its output files.
///
/// # Errors
/// An unknown figure name.
pub fn run(figure: &str, seed: u64, scale: Scale) -> Result<Vec<Output>, String> {
    match figure {
        "path-length" => Ok(path_length(seed, scale)),
        "load" => Ok(load(seed, scale)),
        "failures" => Ok(failures(seed, scale)),
        "churn" => Ok(churn(seed, scale)),
        other => Err(format!(
            "unknown figure {other:?}; the figures are {}, or all",
            FIGURES.join(", ")
        )),
    }
}

/// How big the experiments are: the paper's sizes, or small ones for
/// tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// The paper's: up to 2^14 nodes, 10^4 nodes for load, 10^6 keys.
    Paper,
    /// A hundredth of it or so, for tests.
    Small,
}

/// The `q` quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn mean(values: &[u64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<u64>() as f64 / values.len() as f64
}

/// Path length: hops per lookup against the number of nodes, and the
/// distribution at N = 2^12 (the paper's "Path Length").
fn path_length(seed: u64, scale: Scale) -> Vec<Output> {
    let (exponents, lookups) = match scale {
        Scale::Paper => (3..=14u32, 10_000),
        Scale::Small => (3..=7u32, 200),
    };
    let at = match scale {
        Scale::Paper => 12,
        Scale::Small => 6,
    };
    let mut rows = String::from("nodes,mean_hops,p1_hops,p99_hops,paper_half_log2_n\n");
    let mut pdf = String::from("hops,fraction\n");
    let exponents_run = exponents.clone().count();
    for e in exponents {
        let n = 1usize << e;
        let ring = SimRing::settled(n, seed ^ u64::from(e));
        let mut rng = Rng::new(seed.wrapping_add(u64::from(e)));
        let mut hops: Vec<u64> = (0..lookups)
            .filter_map(|_| {
                let key = ring.random_key(&mut rng);
                let from = &ring.nodes()[rng.below(n)];
                from.find_successor(key).ok().map(|l| u64::from(l.hops()))
            })
            .collect();
        hops.sort_unstable();
        let _ = writeln!(
            rows,
            "{n},{:.3},{},{},{:.3}",
            mean(&hops),
            quantile(&hops, 0.01),
            quantile(&hops, 0.99),
            0.5 * f64::from(e)
        );
        if e == at {
            let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
            for h in &hops {
                *counts.entry(*h).or_default() += 1;
            }
            for (h, c) in counts {
                let _ = writeln!(pdf, "{h},{:.4}", c as f64 / hops.len() as f64);
            }
        }
    }
    vec![
        Output {
            file: "path_length.csv".into(),
            csv: rows,
            events: (lookups * exponents_run) as u64,
        },
        Output {
            file: format!("path_length_pdf_{}.csv", 1u32 << at),
            csv: pdf,
            events: 0,
        },
    ]
}

/// Keys per node: `ids` are the ring's points (several per real node with
/// virtual nodes: `owner_of[i]` is the real node of point i), `keys` the
/// keys' identifiers; the count per real node, sorted.
fn keys_per_node(points: &[(Id, usize)], real: usize, keys: &[Id]) -> Vec<u64> {
    let mut counts = vec![0u64; real];
    for key in keys {
        let at = points.partition_point(|(id, _)| id < key) % points.len();
        counts[points[at].1] += 1;
    }
    counts.sort_unstable();
    counts
}

/// The points of `real` nodes with `virtual_per_real` identifiers each,
/// sorted.
fn points(real: usize, virtual_per_real: usize) -> Vec<(Id, usize)> {
    let space = space();
    let mut points: Vec<(Id, usize)> = (0..real)
        .flat_map(|i| {
            (0..virtual_per_real).map(move |v| (space.hash(format!("sim-{i}#{v}").as_bytes()), i))
        })
        .collect();
    points.sort();
    points
}

/// Load balance: keys per node with 10^4 nodes against the number of keys,
/// the distribution at 5 × 10^5 keys, and the 1st and 99th percentiles
/// with virtual nodes (the paper's "Load Balance").
fn load(seed: u64, scale: Scale) -> Vec<Output> {
    let (real, max_keys, step, at) = match scale {
        Scale::Paper => (10_000, 1_000_000, 100_000, 500_000),
        Scale::Small => (100, 10_000, 1_000, 5_000),
    };
    let space = space();
    let mut rng = Rng::new(seed);
    let keys: Vec<Id> = (0..max_keys)
        .map(|_| space.hash(format!("key-{:016x}", rng.next_u64()).as_bytes()))
        .collect();
    let ring = points(real, 1);
    let mut rows = String::from("keys,mean,p1,p99,paper_p99\n");
    let mut pdf = String::from("keys_per_node,fraction_of_nodes\n");
    for total in (step..=max_keys).step_by(step) {
        let counts = keys_per_node(&ring, real, &keys[..total]);
        let paper = if total == at {
            format!("{:.1}", PAPER_LOAD_P99_AT_HALF_MILLION * mean(&counts))
        } else {
            String::new()
        };
        let _ = writeln!(
            rows,
            "{total},{:.1},{},{},{paper}",
            mean(&counts),
            quantile(&counts, 0.01),
            quantile(&counts, 0.99)
        );
        if total == at {
            let mut histogram: BTreeMap<u64, usize> = BTreeMap::new();
            for c in &counts {
                *histogram.entry(*c).or_default() += 1;
            }
            for (c, nodes) in histogram {
                let _ = writeln!(pdf, "{c},{:.5}", nodes as f64 / real as f64);
            }
        }
    }
    let mut virtual_rows = String::from("virtual_nodes_per_node,mean,p1,p99,paper_p1,paper_p99\n");
    for v in [1, 2, 5, 10, 20] {
        let counts = keys_per_node(&points(real, v), real, &keys);
        let m = mean(&counts);
        let paper = PAPER_VIRTUAL
            .iter()
            .find(|(at, _, _)| *at == v)
            .map_or(",".to_string(), |(_, p1, p99)| {
                format!("{:.1},{:.1}", p1 * m, p99 * m)
            });
        let _ = writeln!(
            virtual_rows,
            "{v},{m:.1},{},{},{paper}",
            quantile(&counts, 0.01),
            quantile(&counts, 0.99)
        );
    }
    vec![
        Output {
            file: "load.csv".into(),
            csv: rows,
            events: 0,
        },
        Output {
            file: format!("load_pdf_{at}.csv"),
            csv: pdf,
            events: 0,
        },
        Output {
            file: "load_virtual_nodes.csv".into(),
            csv: virtual_rows,
            events: 0,
        },
    ]
}

/// Failed lookups and timeouts per lookup against the fraction of nodes
/// that fail at once, before any stabilization (the paper's "Simultaneous
/// Node Failures"). A lookup fails when it errs or names a node other than
/// the key's first live successor ([`super::first_live`]: the first live
/// node of the successor list it returns). The paper counts differently: with no
/// replicas, a key whose owner died is lost, so its lookups fail too, and
/// it reports a failed fraction close to the fraction of nodes failed.
/// `failed_as_paper_counts` adds those lookups to ours.
fn failures(seed: u64, scale: Scale) -> Vec<Output> {
    let (n, lookups) = match scale {
        Scale::Paper => (10_000, 10_000),
        Scale::Small => (200, 300),
    };
    let mut rows = String::from(
        "failed_fraction,failed_lookups,failed_as_paper_counts,paper_failed_lookups,mean_timeouts,p99_timeouts\n",
    );
    for tenth in 1..=5u64 {
        let p = tenth as f64 / 10.0;
        let ring = SimRing::settled(n, seed ^ tenth);
        let mut rng = Rng::new(seed.wrapping_add(tenth));
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let dead = (n as f64 * p).round() as usize;
        for &i in &order[..dead] {
            ring.fail(i);
        }
        let live: Vec<usize> = order[dead..].to_vec();
        let (mut failed, mut lost_or_failed) = (0usize, 0usize);
        let mut timeouts: Vec<u64> = Vec::with_capacity(lookups);
        for _ in 0..lookups {
            let key = ring.random_key(&mut rng);
            let from = &ring.nodes()[live[rng.below(live.len())]];
            let expected: Option<&NodeRef> = ring.live_successor(key);
            let ok = match from.find_successor(key) {
                Ok(lookup) => {
                    let (owner, dead_owners) = ring.answered_by(&lookup);
                    timeouts.push(u64::from(lookup.timeouts) + dead_owners);
                    owner.is_some() && owner == expected
                }
                Err(_) => false,
            };
            let lost = expected != Some(ring.successor(key));
            failed += usize::from(!ok);
            lost_or_failed += usize::from(!ok || lost);
        }
        timeouts.sort_unstable();
        let _ = writeln!(
            rows,
            "{p:.1},{:.4},{:.4},{p:.1},{:.3},{}",
            failed as f64 / lookups as f64,
            lost_or_failed as f64 / lookups as f64,
            mean(&timeouts),
            quantile(&timeouts, 0.99)
        );
    }
    vec![Output {
        file: "failures.csv".into(),
        csv: rows,
        events: 5 * lookups as u64,
    }]
}

/// Lookups while nodes join and fail at a rate (the paper's "Lookups
/// During Stabilization"): 1,000 nodes, one lookup a second, each node's
/// rounds every 30 s on average, an hour of virtual time per rate; then
/// the same at 0.1 joins a second with messages lost.
fn churn(seed: u64, scale: Scale) -> Vec<Output> {
    let rates: Vec<(f64, f64)> = [0.05, 0.1, 0.2, 0.3, 0.4]
        .iter()
        .map(|r| (*r, 0.0))
        .collect();
    let losses: Vec<(f64, f64)> = [0.0, 0.01, 0.02, 0.05, 0.1]
        .iter()
        .map(|l| (0.1, *l))
        .collect();
    let (nodes, seconds, rows) = match scale {
        Scale::Paper => (1_000, 3_600.0, 5),
        Scale::Small => (64, 300.0, 2),
    };
    let (csv, events) = super::churn::figure(seed, nodes, seconds, &rates[..rows]);
    let (lossy, lossy_events) =
        super::churn::figure(seed ^ 0x1055, nodes, seconds, &losses[..rows]);
    vec![
        Output {
            file: "churn.csv".into(),
            csv,
            events,
        },
        Output {
            file: "churn_loss.csv".into(),
            csv: lossy,
            events: lossy_events,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        for figure in FIGURES {
            let once = run(figure, 7, Scale::Small).unwrap();
            let twice = run(figure, 7, Scale::Small).unwrap();
            for (a, b) in once.iter().zip(&twice) {
                assert_eq!(a.csv, b.csv, "{figure}: {}", a.file);
                assert!(a.csv.lines().count() > 2, "{}: {}", a.file, a.csv);
            }
        }
    }

    #[test]
    fn path_length_grows_like_half_log_n() {
        let out = run("path-length", 1, Scale::Small).unwrap();
        for row in out[0].csv.lines().skip(1) {
            let cols: Vec<f64> = row.split(',').map(|c| c.parse().unwrap()).collect();
            let (mean, half_log) = (cols[1], cols[4]);
            assert!(mean <= half_log + 1.0, "{row}");
        }
    }
}
