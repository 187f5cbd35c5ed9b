//! The text protocol's words for an [`Answer`]: one line for most, lines
//! closed by `END` for the commands that list things, `ERR <why>` for a
//! refusal; and the lines that describe a ring, which RESP's `CHORD`
//! commands send as they are.

use crate::chord::{Lookup, RingEntry, View};
use crate::command::{Answer, Command, Ttl, KEYS_LIMIT};
use crate::id::{Id, NodeRef};

/// Whether the answer to `command` is lines closed by `END` (unless it is
/// refused: a refusal is always one `ERR` line).
pub fn is_multiline(command: &Command) -> bool {
    matches!(
        command,
        Command::Node { .. }
            | Command::Fingers { .. }
            | Command::Ring { .. }
            | Command::Stats
            | Command::Info { .. }
            | Command::ConfigGet { .. }
            | Command::Help
            | Command::Keys { .. }
            | Command::GetMany { .. }
            | Command::Scan { .. }
    )
}

/// The answer's lines, without line endings; closed by `END` when the
/// command's answer is `multiline` ([`is_multiline`]).
pub fn format(answer: Answer, multiline: bool) -> Vec<String> {
    let found = |found: bool| if found { "OK" } else { "NOT_FOUND" }.to_string();
    let missing = || "NOT_FOUND".to_string();
    let lines = match answer {
        Answer::Ok | Answer::Hello { .. } => vec!["OK".into()],
        // The text protocol has no MULTI; worded for completeness.
        Answer::Queued => vec!["QUEUED".into()],
        Answer::Many(answers) => answers
            .into_iter()
            .flat_map(|answer| format(answer, false))
            .collect(),
        Answer::Pairs(pairs) => pairs
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect(),
        // As Redis answers an inline PING, so that a Redis tool reads it.
        Answer::Pong => vec!["+PONG".into()],
        Answer::Value(value) => vec![value.as_deref().map_or_else(missing, value_line)],
        Answer::Values(values) => values
            .iter()
            .map(|value| value.as_deref().map_or_else(missing, value_line))
            .collect(),
        Answer::Integer(n) => vec![n.to_string()],
        // DEL, of the one key a text line names: whether it had a value.
        Answer::Deleted(n) => vec![found(n > 0)],
        Answer::Sum(n) => vec![format!("VALUE {n}")],
        Answer::Written(written, _) => vec![found(written)],
        // EXPIRE: whether the key had a value; PERSIST: whether it had an
        // expiry to remove.
        Answer::Changed(changed) => vec![found(changed)],
        Answer::Ttl(Ttl::NoValue) => vec![missing()],
        Answer::Ttl(Ttl::Never) => vec!["TTL none".into()],
        Answer::Ttl(Ttl::In(n)) => vec![format!("TTL {n}")],
        Answer::Type(name) => vec![name.into()],
        Answer::Keys { keys, complete } => {
            let mut lines: Vec<String> = keys.iter().map(|key| key_text(key)).collect();
            if !complete {
                lines.push(format!(
                    "(the first {KEYS_LIMIT} only; SCAN through redis-cli lists them all)"
                ));
            }
            lines
        }
        Answer::Scan { next, keys } => std::iter::once(format!("CURSOR {next}"))
            .chain(keys.iter().map(|key| key_text(key)))
            .collect(),
        Answer::Count { keys, nodes } => vec![format!("COUNT {keys} nodes={nodes}")],
        Answer::Lines(lines) => lines,
        Answer::Text(text) => text.lines().map(str::to_string).collect(),
        Answer::Slots(runs) => runs
            .into_iter()
            .map(|r| {
                format!(
                    "SLOTS {}-{} {}:{} {}",
                    r.first, r.last, r.node.host, r.node.port, r.node.name
                )
            })
            .collect(),
        Answer::Introspection { .. } => Vec::new(),
        Answer::Bye => vec!["BYE".into()],
        Answer::Refused(why) => return vec![format!("ERR {}", why.text())],
    };
    if multiline {
        lines.into_iter().chain(["END".to_string()]).collect()
    } else {
        lines
    }
}

/// The answer to `GET` for a value: `VALUE <value>` when it is text of one
/// line, else `BYTES <value escaped>`.
pub fn value_line(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if !text.contains(['\n', '\r']) => format!("VALUE {text}"),
        _ => format!("BYTES {}", value.escape_ascii()),
    }
}

/// A key as the text protocol shows it: as it is when it is text without
/// white space or quotes, else quoted and escaped (`"a b\xff"`), as the
/// protocol reads a quoted key back.
pub fn key_text(key: &[u8]) -> String {
    let plain = |text: &str| {
        !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || "\"'\\".contains(c))
    };
    match std::str::from_utf8(key) {
        Ok(text) if plain(text) => text.to_string(),
        _ => format!("\"{}\"", key.escape_ascii()),
    }
}

/// The answer to `LOOKUP`: `<key id> <owner id> <owner host:port> hops=<n>
/// replicas=<host:port>,...`, the replicas being the R - 1 holders after
/// the owner.
pub fn lookup_line(key_id: &Id, lookup: &Lookup, replicas: usize) -> String {
    let others: Vec<&str> = lookup
        .holders(replicas)
        .iter()
        .skip(1)
        .map(|n| &*n.addr)
        .collect();
    format!(
        "{key_id} {} hops={} replicas={}",
        lookup.owner(),
        lookup.hops(),
        others.join(",")
    )
}

/// An identifier as NODE, FINGERS and RING print it: whole with `full`,
/// else its first 8 hex digits when it is printed in hex (m > 64). Eight
/// digits tell apart the nodes of any ring a person reads (two of 64 nodes
/// share them with a chance of about 1 in 2 million).
pub fn id_text(id: &Id, full: bool) -> String {
    let text = id.to_string();
    if full || id.bits() <= 64 {
        return text;
    }
    text.chars().take(8).collect()
}

fn node_text(node: &NodeRef, full: bool) -> String {
    format!("{} {}", id_text(&node.id, full), node.addr)
}

/// The lines of `NODE`, before `END`.
pub fn node_lines(view: &View, full: bool) -> Vec<String> {
    let mut lines = vec![
        format!("id {}", id_text(&view.me.id, full)),
        format!("address {}", view.me.addr),
        format!("bits {}", view.me.id.bits()),
        match &view.predecessor {
            Some(p) => format!("predecessor {}", node_text(p, full)),
            None => "predecessor none".to_string(),
        },
    ];
    for (i, s) in view.successors.iter().enumerate() {
        lines.push(format!("successor {} {}", i + 1, node_text(s, full)));
    }
    lines.push(format!("keys {}", view.keys));
    lines
}

/// The lines of `FINGERS`, before `END`. With `full`, one per finger:
/// `<k> <start> <node id> <address>`, or `<k> <start> none` for a finger
/// not yet fixed. Without, consecutive fingers that name the same node (or
/// none) are one line, `<k>-<k'> <start of k> ...`: at m = 160 most of the
/// 160 fingers of a small ring point at its first few nodes.
pub fn finger_lines(view: &View, full: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rows = view.fingers.iter().peekable();
    while let Some((k, start, node)) = rows.next() {
        let mut last = *k;
        while let Some((next, _, same)) = rows.peek() {
            if full || same != node {
                break;
            }
            last = *next;
            rows.next();
        }
        let ks = if last == *k {
            k.to_string()
        } else {
            format!("{k}-{last}")
        };
        let target = node
            .as_ref()
            .map_or("none".to_string(), |n| node_text(n, full));
        lines.push(format!("{ks} {} {target}", id_text(start, full)));
    }
    lines
}

/// One line of `RING`: `<id> <host:port> keys=<n>`.
pub fn ring_line(entry: &RingEntry, full: bool) -> String {
    format!(
        "{} owned={} replicas={}",
        node_text(&entry.node, full),
        entry.owned,
        entry.keys.saturating_sub(entry.owned)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_is_not_one_line_of_text_is_shown_escaped() {
        assert_eq!(
            value_line(b"plain text, even \\x41"),
            "VALUE plain text, even \\x41"
        );
        assert_eq!(value_line("é".as_bytes()), "VALUE é");
        assert_eq!(value_line(b"a\r\nb"), "BYTES a\\r\\nb");
        assert_eq!(value_line(b"\x00\xff\\"), "BYTES \\x00\\xff\\\\");
    }

    #[test]
    fn fingers_that_name_one_node_are_one_line_and_ids_are_short() {
        use crate::id::IdSpace;
        let space = IdSpace::new(160).unwrap();
        let a = NodeRef::new(space, "127.0.0.1:4000");
        let b = NodeRef::new(space, "127.0.0.1:4001");
        let me = NodeRef::new(space, "127.0.0.1:4002");
        let start = |k: u8| me.id.add_pow2(k - 1);
        let view = View {
            me: me.clone(),
            predecessor: Some(a.clone()),
            successors: vec![a.clone(), b.clone()],
            fingers: vec![
                (1, start(1), Some(a.clone())),
                (2, start(2), Some(a.clone())),
                (3, start(3), Some(a.clone())),
                (4, start(4), Some(b.clone())),
                (5, start(5), None),
                (6, start(6), None),
            ],
            keys: 3,
            taking_over: false,
        };
        let short = |id: Id| id.to_string()[..8].to_string();
        assert_eq!(
            finger_lines(&view, false),
            vec![
                format!("1-3 {} {} {}", short(start(1)), short(a.id), a.addr),
                format!("4 {} {} {}", short(start(4)), short(b.id), b.addr),
                format!("5-6 {} none", short(start(5))),
            ]
        );
        let full = finger_lines(&view, true);
        assert_eq!(full.len(), 6);
        assert_eq!(full[0], format!("1 {} {a}", start(1)));
        assert_eq!(node_lines(&view, false)[0], format!("id {}", short(me.id)));
        assert_eq!(node_lines(&view, true)[0], format!("id {}", me.id));
        // Decimal identifiers of small rings are short already.
        let small = IdSpace::new(6).unwrap().id(42);
        assert_eq!(id_text(&small, false), "42");
    }
}
