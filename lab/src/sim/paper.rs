//! The paper's own small ring, drawn from the real protocol: m = 6, the
//! ten nodes N1 ... N56 and five keys of Figure 2, the fingers of N8 of
//! Figure 4(a), and the query for key 54 from N8 of Figure 4(b).
//!
//! Identifiers are SHA-1 of the address, as everywhere, so the nodes sit
//! at addresses found to hash to the figure's identifiers
//! ([`IdSpace::name_for`]), the keys at names placed there
//! ([`IdSpace::key_for`]), and the lookup is the real `find_successor`
//! over the in-memory network. `chord-lab draw --paper` writes the
//! picture; it is the page's drawing with `--bits 6`.

use chord::id::IdSpace;
use chord::server::svg::{ring_svg_with_path, Point};
use chord::transport::MemoryNetwork;

use super::SimRing;

/// The nodes of Figure 2.
pub const NODES: [u64; 10] = [1, 8, 14, 21, 32, 38, 42, 48, 51, 56];

/// The keys of Figure 2.
pub const KEYS: [u64; 5] = [10, 24, 30, 38, 54];

/// The node whose fingers Figure 4(a) lists and whose query 4(b) follows.
pub const ASKER: u64 = 8;

/// The key of the query in Figure 4(b).
pub const QUERY: u64 = 54;

/// m of the figures.
pub const BITS: u8 = 6;

/// How far to search for a name with a given identifier: 2^6 points, so
/// a few hundred tries find any of them.
const TRIES: u32 = 100_000;

/// The figures' ring, settled, with successor lists of 3 (short enough
/// that lookups walk the fingers, as in Figure 4(b), not the list).
pub fn ring() -> Result<SimRing, String> {
    let space = space();
    let addresses = NODES
        .iter()
        .map(|&id| {
            space
                .name_for("node-", space.id(id), TRIES)
                .ok_or_else(|| format!("no address hashes to {id}"))
        })
        .collect::<Result<Vec<String>, String>>()?;
    let mut config = chord::config::NodeConfig::new(space);
    config.successors = 3;
    Ok(SimRing::settled_at(
        addresses.into_iter(),
        &config,
        &MemoryNetwork::new(),
    ))
}

/// The identifiers, in order, of the nodes the query for [`QUERY`] from
/// [`ASKER`] passes through, its owner last.
pub fn query_path(ring: &SimRing) -> Result<Vec<u64>, String> {
    let space = space();
    let asker = node(ring, ASKER)?;
    let key = space
        .key_for("key-", space.id(QUERY), TRIES)
        .ok_or_else(|| format!("no key hashes to {QUERY}"))?;
    let (_, lookup) = asker.lookup(&key).map_err(|e| e.to_string())?;
    let mut path = vec![ASKER];
    path.extend(lookup.path.iter().map(|n| value(n.id)));
    path.push(value(lookup.owner().id));
    Ok(path)
}

/// The distinct nodes [`ASKER`]'s fingers point at, nearest first.
pub fn fingers(ring: &SimRing) -> Result<Vec<u64>, String> {
    let mut targets: Vec<u64> = Vec::new();
    for (_, _, target) in node(ring, ASKER)?.view().fingers {
        let target = target.ok_or("a finger of N8 is empty")?;
        if !targets.contains(&value(target.id)) {
            targets.push(value(target.id));
        }
    }
    Ok(targets)
}

/// The picture: Figures 2 and 4 in one, `size` pixels square.
///
/// # Errors
/// A figure that could not be rebuilt, or the drawing backend's error.
pub fn figure(size: u32) -> Result<String, String> {
    let ring = ring()?;
    let at = |id: u64| id as f64 / f64::from(1u32 << BITS);
    let mut previous = NODES[NODES.len() - 1];
    let points: Vec<Point> = NODES
        .iter()
        .map(|&id| {
            // The keys in (predecessor, id], as Figure 2 places them.
            let (from, to) = (space().id(previous), space().id(id));
            let keys: Vec<String> = KEYS
                .iter()
                .filter(|&&k| space().id(k).in_open_closed(from, to))
                .map(|k| format!("K{k}"))
                .collect();
            previous = id;
            let label = if keys.is_empty() {
                format!("N{id}")
            } else {
                format!("N{id}: {}", keys.join(", "))
            };
            Point {
                at: at(id),
                label,
                keys: None,
            }
        })
        .collect();
    let asker = NODES.iter().position(|&id| id == ASKER).unwrap_or(0);
    let targets = fingers(&ring)?.into_iter().map(at).collect();
    let hops = query_path(&ring)?.into_iter().map(at).collect();
    ring_svg_with_path(
        &points,
        Some((asker, targets)),
        Some((format!("K{QUERY}"), at(QUERY), hops)),
        size,
    )
}

fn space() -> IdSpace {
    IdSpace::new(BITS).unwrap_or_else(|_| unreachable!("6 bits is a valid space"))
}

fn node(ring: &SimRing, id: u64) -> Result<&chord::node::Node, String> {
    ring.nodes()
        .iter()
        .find(|n| value(n.me().id) == id)
        .map(|n| n.as_ref())
        .ok_or_else(|| format!("no node N{id}"))
}

fn value(id: chord::id::Id) -> u64 {
    id.to_u64().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawing_follows_figure_4() {
        let ring = ring().unwrap();
        // Figure 4(a): N8's fingers point at N14 (three times), N21, N32
        // and N42; 4(b): N8 asks N42, N42 asks N51, and N56 owns 54.
        assert_eq!(fingers(&ring).unwrap(), vec![14, 21, 32, 42]);
        assert_eq!(query_path(&ring).unwrap(), vec![8, 42, 51, 56]);
        let svg = figure(1000).unwrap();
        for label in ["\nN1\n", "N32: K24, K30", "N56: K54", "K54: 2 hops"] {
            assert!(svg.contains(label), "{label} is missing");
        }
    }
}
