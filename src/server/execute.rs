//! The one executor: every client command, from any protocol, is carried
//! out here, once, against the node ([`crate::command`] says why). The
//! connection loops in `server/text.rs` and `server/resp.rs` only parse,
//! call [`execute`], and word the [`Answer`].

use std::net::TcpStream;

use super::expiry::{expiry_of, time};
use super::info::info;
use super::multi::{self, Transaction};
use super::{check_password, Shared, RING_LIMIT};
use crate::command::{
    Answer, Command, LibInfo, Protocol, Refusal, SetExpiry, SetReply, Ttl, TtlForm, When,
    KEYS_LIMIT,
};
use crate::message::{Expiry, Update};
use crate::node::Node;
use crate::stats::Stats;
use crate::store::strings;
use crate::text;

/// One client connection's state.
pub(super) struct Session {
    /// The connection's number at this node (`CLIENT ID`).
    id: u64,
    /// The client's address and ours.
    addr: String,
    local: String,
    /// Whether the connection may run more than [`Command::is_open`]
    /// commands: it sent the password, or the node has none.
    authenticated: bool,
    /// `CLIENT SETNAME`'s name.
    name: Option<String>,
    /// `CLIENT SETINFO`'s library name and version.
    lib_name: String,
    lib_version: String,
    /// The protocol `HELLO` chose.
    pub protocol: Protocol,
    /// The transaction being queued, between `MULTI` and `EXEC`.
    transaction: Option<Transaction>,
}

impl Session {
    /// Whether this client's commands are carried out as they come, so
    /// that pipelined ones may be carried out together: it is past `AUTH`
    /// and not queueing a transaction.
    pub(super) fn runs_commands_now(&self) -> bool {
        self.authenticated && self.transaction.is_none()
    }

    /// The state of connection `id` on `stream`, listed for `CLIENT
    /// LIST` until its [`Listed`] is dropped.
    pub(super) fn new(shared: &Shared, id: u64, stream: &TcpStream) -> Session {
        let text = |a: std::io::Result<std::net::SocketAddr>| {
            a.map_or_else(|_| "?".to_string(), |a| a.to_string())
        };
        let session = Session {
            id,
            addr: text(stream.peer_addr()),
            local: text(stream.local_addr()),
            authenticated: shared.password.is_none(),
            name: None,
            lib_name: String::new(),
            lib_version: String::new(),
            protocol: Protocol::Resp2,
            transaction: None,
        };
        session.list(shared);
        session
    }

    /// Puts this connection's line, as it is now, in `CLIENT LIST`.
    fn list(&self, shared: &Shared) {
        let line = self.describe();
        shared.clients.lock().insert(self.id, line);
    }

    /// This connection as `CLIENT INFO` and `CLIENT LIST` show one.
    fn describe(&self) -> String {
        let resp = match self.protocol {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        };
        format!(
            "id={} addr={} laddr={} name={} db=0 resp={resp} lib-name={} lib-ver={}\n",
            self.id,
            self.addr,
            self.local,
            self.name.as_deref().unwrap_or(""),
            self.lib_name,
            self.lib_version
        )
    }

    /// Sets the connection's name; an empty one clears it.
    fn set_name(&mut self, name: String) -> Answer {
        if !name.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Refusal::usage(
                "Client names cannot contain spaces, newlines or special characters.",
            );
        }
        self.name = Some(name).filter(|n| !n.is_empty());
        Answer::Ok
    }
}

/// The answer to a request: its command carried out, or why it parsed
/// into none.
pub(super) fn answer(
    shared: &Shared,
    session: &mut Session,
    parsed: Result<Command, Refusal>,
) -> Answer {
    Stats::add(&shared.node.stats().client_requests, 1);
    match parsed {
        // The answer acknowledges what the command changed: only once it
        // is as durable as the node's --fsync says.
        Ok(command) => shared
            .node
            .keys()
            .durably(|| execute(shared, session, command))
            .unwrap_or_else(Answer::from),
        Err(why) => {
            // As in Redis, a request refused while a transaction is being
            // queued discards the transaction at EXEC.
            if let Some(transaction) = session.transaction.as_mut() {
                transaction.abort();
            }
            Answer::Refused(why)
        }
    }
}

/// Carries out `command` for a client of `session`.
fn execute(shared: &Shared, session: &mut Session, command: Command) -> Answer {
    let node = &shared.node;
    if !session.authenticated && !command.is_open() {
        Stats::add(&node.stats().auth_required, 1);
        return Answer::Refused(Refusal::NoAuth);
    }
    if let Some(transaction) = session.transaction.as_mut() {
        match command {
            Command::Exec | Command::Discard => {
                let transaction = std::mem::take(transaction);
                session.transaction = None;
                return match command {
                    Command::Exec => transaction.exec(node),
                    _ => Answer::Ok,
                };
            }
            Command::Multi => return Refusal::usage("MULTI calls can not be nested"),
            Command::Watch => return Refusal::usage("WATCH inside MULTI is not allowed"),
            Command::Quit => {}
            command => return transaction.queue(node, command),
        }
    }
    match command {
        Command::Multi => {
            session.transaction = Some(Transaction::default());
            Answer::Ok
        }
        Command::Exec => Refusal::usage("EXEC without MULTI"),
        Command::Discard => Refusal::usage("DISCARD without MULTI"),
        Command::Watch => Refusal::usage(
            "WATCH is not served: chord keeps no versions a client could watch; a transaction \
             on keys of one hash tag runs at their owner with no other write between its commands",
        ),
        Command::Unwatch => Answer::Ok,
        Command::SetIfNone { pairs } => multi::set_if_none(node, pairs),
        Command::Rename {
            from,
            to,
            only_if_absent,
        } => multi::rename(node, from, to, only_if_absent),
        Command::Copy { from, to, replace } => multi::copy(node, from, to, replace),
        Command::Get { key } => node.get(&key).map_or_else(Answer::from, Answer::Value),
        Command::Set {
            key,
            value,
            only_if_exists,
            expiry,
            reply,
        } => set(node, &key, value, only_if_exists, expiry, reply),
        Command::Swap {
            key,
            value,
            only_if_exists,
            expiry,
        } => match expiry_of(node, expiry) {
            Ok(expiry) => node
                .keys()
                .swap(&key, value, only_if_exists, expiry)
                .map_or_else(Answer::from, Answer::Value),
            Err(refused) => refused,
        },
        Command::Delete { keys } => {
            let deletes: Vec<(&[u8], Option<&[u8]>)> =
                keys.iter().map(|key| (key.as_slice(), None)).collect();
            node.keys()
                .write_many(&deletes)
                .map_or_else(Answer::from, |existed| {
                    Answer::Deleted(existed.iter().filter(|&&e| e).count() as i64)
                })
        }
        // TOUCH counts as EXISTS does: chord keeps no access times.
        Command::Exists { keys } | Command::Touch { keys } => node
            .keys()
            .get_many(&slices(&keys))
            .map_or_else(Answer::from, |values| {
                Answer::Integer(values.iter().filter(|v| v.is_some()).count() as i64)
            }),
        Command::GetMany { keys } => node
            .keys()
            .get_many(&slices(&keys))
            .map_or_else(Answer::from, Answer::Values),
        Command::SetMany { pairs } => {
            let writes: Vec<(&[u8], Option<&[u8]>)> = pairs
                .iter()
                .map(|(key, value)| (key.as_slice(), Some(value.as_slice())))
                .collect();
            node.keys()
                .write_many(&writes)
                .map_or_else(Answer::from, |_| Answer::Ok)
        }
        Command::Increment { key, by } => node
            .keys()
            .increment(&key, by)
            .map_or_else(Answer::from, Answer::Sum),
        Command::Expire { key, when, only } => {
            let Some(at) = time(node, when) else {
                return Answer::Refused(Refusal::BadTime {
                    command: when.command,
                });
            };
            node.keys()
                .expire(&key, Some(at), only)
                .map_or_else(Answer::from, Answer::Changed)
        }
        Command::Persist { key } => node
            .keys()
            .expire(&key, None, None)
            .map_or_else(Answer::from, Answer::Changed),
        Command::Ttl { key, form } => ttl(node, &key, form),
        Command::GetEx { key, change } => getex(node, &key, change),
        Command::Append { key, value } => node
            .keys()
            .update(&key, &Update::Append(value))
            .map_or_else(Answer::from, |entry| Answer::Integer(length(entry))),
        // An empty value changes nothing, and creates no key.
        Command::SetRange { key, value, .. } if value.is_empty() => strlen(node, &key),
        Command::SetRange { key, offset, value } => node
            .keys()
            .update(&key, &Update::SetRange { offset, value })
            .map_or_else(Answer::from, |entry| Answer::Integer(length(entry))),
        Command::GetRange { key, start, end } => read(node, &key, |value| {
            Answer::Value(Some(strings::range(value, start, end).to_vec()))
        }),
        Command::GetBit { key, offset } => read(node, &key, |value| {
            Answer::Integer(i64::from(strings::bit(value, offset)))
        }),
        Command::SetBit { key, offset, on } => {
            if offset / 8 >= node.config().max_value as u64 {
                return Refusal::usage("string exceeds maximum allowed size (proto-max-bulk-len)");
            }
            node.keys()
                .set_bit(&key, offset, on)
                .map_or_else(Answer::from, |before| Answer::Integer(i64::from(before)))
        }
        Command::BitCount { key, range, bits } => read(node, &key, |value| {
            Answer::Integer(strings::bit_count(value, range, bits))
        }),
        Command::BitPos {
            key,
            on,
            start,
            end,
            bits,
        } => read(node, &key, |value| {
            Answer::Integer(strings::bit_position(value, on, start, end, bits))
        }),
        Command::Lcs { keys, len } => lcs(node, &keys, len),
        Command::RandomKey => random_key(node),
        Command::IncrementFloat { key, by } => node
            .keys()
            .update(&key, &Update::IncrementFloat(by))
            .map_or_else(Answer::from, |entry| {
                Answer::Value(entry.and_then(|e| e.value))
            }),
        Command::Time => {
            let now = node.config().clock.now_micros();
            let text = |n: u64| Some(n.to_string().into_bytes());
            Answer::Values(vec![text(now / 1_000_000), text(now % 1_000_000)])
        }
        Command::Type { key } => node.get(&key).map_or_else(Answer::from, |value| {
            Answer::Type(if value.is_some() { "string" } else { "none" })
        }),
        Command::Strlen { key } => strlen(node, &key),
        Command::Keys { pattern } => node
            .keys()
            .keys_matching(pattern.as_deref(), KEYS_LIMIT)
            .map_or_else(Answer::from, |(keys, complete)| Answer::Keys {
                keys,
                complete,
            }),
        Command::Scan { strings: false, .. } => Answer::Scan {
            next: 0,
            keys: Vec::new(),
        },
        Command::Scan {
            cursor,
            pattern,
            count,
            ..
        } => node
            .keys()
            .scan(cursor, count, pattern.as_deref())
            .map_or_else(Answer::from, |(next, keys)| Answer::Scan { next, keys }),
        Command::DbSize => Answer::Integer(node.store_usage().keys as i64),
        Command::FlushAll if !shared.flush_allowed => {
            Refusal::usage("FLUSHALL is disabled on this node (it was started with --no-flushall)")
        }
        Command::FlushAll => node
            .keys()
            .flush_all(RING_LIMIT)
            .map_or_else(Answer::from, |_| Answer::Ok),
        Command::Lookup { key } => lookup(node, &key),
        Command::Node { full } => Answer::Lines(text::node_lines(&node.view(), full)),
        Command::Fingers { full } => Answer::Lines(text::finger_lines(&node.view(), full)),
        Command::Ring { full } => node
            .walk_ring(RING_LIMIT)
            .map_or_else(Answer::from, |ring| {
                Answer::Lines(ring.iter().map(|e| text::ring_line(e, full)).collect())
            }),
        Command::Count => node
            .walk_ring(RING_LIMIT)
            .map_or_else(Answer::from, |ring| Answer::Count {
                keys: ring.iter().map(|e| e.owned).sum(),
                nodes: ring.len(),
            }),
        Command::Stats => Answer::Lines(stats(node, &shared.commands)),
        Command::Info { sections } => Answer::Text(info(shared, &sections)),
        Command::Help => Answer::Lines(text::HELP.iter().map(|s| s.to_string()).collect()),
        Command::Ping { message: None } => Answer::Pong,
        Command::Ping { message: Some(m) } | Command::Echo { message: m } => Answer::Value(Some(m)),
        Command::Auth { password } => match check_password(shared, &password) {
            Ok(()) => {
                session.authenticated = true;
                Answer::Ok
            }
            Err(why) => Answer::Refused(why),
        },
        Command::Hello {
            protocol,
            password,
            name,
        } => hello(shared, session, protocol, password, name),
        Command::Select { db } if db == "0" => Answer::Ok,
        Command::Select { .. } => {
            Refusal::usage("DB index is out of range (chord has database 0 only)")
        }
        Command::SetName { name } => {
            let answer = session.set_name(name);
            session.list(shared);
            answer
        }
        Command::GetName => Answer::Value(session.name.clone().map(String::into_bytes)),
        Command::ClientId => Answer::Integer(i64::try_from(session.id).unwrap_or(i64::MAX)),
        Command::ClientInfo => Answer::Value(Some(session.describe().into_bytes())),
        Command::ClientList => {
            let lines: String = shared.clients.lock().values().cloned().collect();
            Answer::Value(Some(lines.into_bytes()))
        }
        Command::SetInfo { attribute, value } => {
            match attribute {
                LibInfo::Name => session.lib_name = value,
                LibInfo::Version => session.lib_version = value,
            }
            session.list(shared);
            Answer::Ok
        }
        Command::ConfigGet { patterns } => Answer::Pairs(config(node, &patterns)),
        Command::ConfigSet { name, value } => config_set(node, &name, &value),
        Command::ResetStats => {
            node.stats().reset();
            shared.commands.reset();
            Answer::Ok
        }
        Command::Introspect { count } => Answer::Introspection { count },
        Command::Cluster(query) => super::cluster::answer(node, &shared.ring_map, query),
        Command::ClusterMode => Answer::Ok,
        Command::Quit => Answer::Bye,
    }
}

/// `STRLEN`: the value's length, 0 for none.
fn strlen(node: &Node, key: &[u8]) -> Answer {
    read(node, key, |value| Answer::Integer(value.len() as i64))
}

/// The length of the value an update left.
fn length(entry: Option<crate::store::Entry>) -> i64 {
    entry.and_then(|e| e.value).map_or(0, |v| v.len() as i64)
}

/// What `answer` makes of the value of `key` (empty when it has none).
fn read(node: &Node, key: &[u8], answer: impl FnOnce(&[u8]) -> Answer) -> Answer {
    match node.get(key) {
        Ok(value) => answer(value.as_deref().unwrap_or(&[])),
        Err(e) => e.into(),
    }
}

/// `RANDOMKEY`: the first key from a random place on the ring, going on
/// round it; none when the ring holds no key.
fn random_key(node: &Node) -> Answer {
    let start = node.config().clock.random();
    let mut cursor = start;
    let mut wrapped = false;
    loop {
        let (next, keys) = match node.keys().scan(cursor, 16, None) {
            Ok(step) => step,
            Err(e) => return e.into(),
        };
        if let Some(key) = keys.into_iter().next() {
            return Answer::Value(Some(key));
        }
        // A scan ends at the top of the ring: go on from its start, once,
        // up to where this one began.
        cursor = match next {
            0 if wrapped || start == 0 => return Answer::Value(None),
            0 => {
                wrapped = true;
                0
            }
            next if wrapped && next >= start => return Answer::Value(None),
            next => next,
        };
    }
}

/// `GETEX`: the value, its expiry changed at the owner in the same
/// update. A time already passed deletes the key, and Redis still answers
/// the value it had: a delete that answers with the value it replaced, in
/// one update (as `GETDEL`).
fn getex(node: &Node, key: &[u8], change: Option<Option<When>>) -> Answer {
    let Some(change) = change else {
        return node.get(key).map_or_else(Answer::from, Answer::Value);
    };
    let at = match change.map(|when| (when, time(node, when))) {
        None => None,
        Some((when, None)) => {
            return Answer::Refused(Refusal::BadTime {
                command: when.command,
            })
        }
        Some((_, Some(at))) => Some(at),
    };
    let now = node.config().clock.now_micros();
    if at.is_some_and(|at| at <= now) {
        return node
            .keys()
            .swap(key, None, None, Expiry::Clear)
            .map_or_else(Answer::from, Answer::Value);
    }
    match node.keys().update(key, &Update::Expire { at, only: None }) {
        Ok(Some(entry)) => Answer::Value(entry.value),
        // No value, or PERSIST of a value without an expiry.
        Ok(None) => node.get(key).map_or_else(Answer::from, Answer::Value),
        Err(e) => e.into(),
    }
}

/// A connection's place in `CLIENT LIST`, taken out when it is dropped,
/// however the connection ends.
pub(super) struct Listed<'a>(pub &'a Shared, pub u64);

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.0.clients.lock().remove(&self.1);
    }
}

/// `HELLO`: authenticates with its password, names the connection,
/// switches its protocol, and says who we are.
fn hello(
    shared: &Shared,
    session: &mut Session,
    protocol: Option<Protocol>,
    password: Option<String>,
    name: Option<String>,
) -> Answer {
    if let Some(password) = password {
        match check_password(shared, &password) {
            Ok(()) => session.authenticated = true,
            Err(why) => return Answer::Refused(why),
        }
    }
    if !session.authenticated {
        return Answer::Refused(Refusal::HelloNoAuth);
    }
    if let Some(name) = name {
        if let refused @ Answer::Refused(_) = session.set_name(name) {
            return refused;
        }
    }
    session.protocol = protocol.unwrap_or(session.protocol);
    session.list(shared);
    Answer::Hello {
        id: session.id,
        protocol: session.protocol,
    }
}

/// `LCS`: the longest common subsequence of two values, or its length.
fn lcs(node: &Node, keys: &[Vec<u8>; 2], len: bool) -> Answer {
    match node.keys().get_many(&slices(keys)) {
        Ok(values) => {
            let value = |i: usize| values[i].as_deref().unwrap_or(&[]);
            match strings::lcs(value(0), value(1)) {
                Some(common) if len => Answer::Integer(common.len() as i64),
                Some(common) => Answer::Value(Some(common)),
                None => Refusal::usage(format!(
                    "LCS of values this long is not supported: their lengths multiplied \
                     may be at most {}",
                    strings::MAX_LCS_CELLS
                )),
            }
        }
        Err(e) => e.into(),
    }
}

/// The keys as the key layer takes them.
fn slices(keys: &[Vec<u8>]) -> Vec<&[u8]> {
    keys.iter().map(Vec::as_slice).collect()
}

/// `SET`: a plain write, with or without an expiry, goes the way every
/// write goes; a condition or `KEEPTTL` needs the value held, so the owner
/// applies it ([`Update::Set`]).
fn set(
    node: &Node,
    key: &[u8],
    value: Vec<u8>,
    exists: Option<bool>,
    expiry: SetExpiry,
    reply: SetReply,
) -> Answer {
    let expiry = match expiry_of(node, expiry) {
        Ok(expiry) => expiry,
        Err(refused) => return refused,
    };
    let written = match (exists, expiry) {
        (None, Expiry::Clear) => node.put(key, &value).map(|()| true),
        (None, Expiry::At(at)) => node
            .keys()
            .put_expiring(key, &value, Some(at))
            .map(|()| true),
        (exists, expiry) => {
            let update = Update::Set {
                value,
                exists,
                expiry,
            };
            node.keys().update(key, &update).map(|w| w.is_some())
        }
    };
    match written {
        Ok(true) if exists.is_none() => Answer::Ok,
        Ok(written) => Answer::Written(written, reply),
        Err(e) => e.into(),
    }
}

/// `TTL` and its kin: what is left, rounded to the nearest unit as Redis
/// rounds it, or the Unix time.
fn ttl(node: &Node, key: &[u8], form: TtlForm) -> Answer {
    let entry = match node.keys().get_entry(key) {
        Ok(entry) => entry,
        Err(e) => return e.into(),
    };
    let Some(entry) = entry else {
        return Answer::Ttl(Ttl::NoValue);
    };
    let Some(at) = entry.expires else {
        return Answer::Ttl(Ttl::Never);
    };
    let unit = form.unit.micros();
    let time = if form.absolute {
        at / unit
    } else {
        let left = at.saturating_sub(node.config().clock.now_micros());
        left.saturating_add(unit / 2) / unit
    };
    Answer::Ttl(Ttl::In(i64::try_from(time).unwrap_or(i64::MAX)))
}

/// `LOOKUP`: the key's identifier, owner, hops and holders, and which of
/// the holders hold it now, at which version (`d` deleted, `x` expired,
/// `-` no copy, `?` no answer).
fn lookup(node: &Node, key: &[u8]) -> Answer {
    let (id, lookup) = match node.lookup(key) {
        Ok(found) => found,
        Err(e) => return e.into(),
    };
    let now = node.config().clock.now_micros();
    let replicas = node.config().replicas;
    let held: Vec<String> = lookup
        .holders(replicas)
        .iter()
        .map(|h| {
            let copy = match node.ring().peer(h).get_copy(key) {
                Ok(Some(e)) if e.is_tombstone() => format!("{}d", e.version.stamp),
                Ok(Some(e)) if !e.is_live(now) => format!("{}x", e.version.stamp),
                Ok(Some(e)) => e.version.stamp.to_string(),
                Ok(None) => "-".into(),
                Err(_) => "?".into(),
            };
            format!("{}@{copy}", h.addr)
        })
        .collect();
    Answer::Lines(vec![format!(
        "{} held={}",
        text::lookup_line(&id, &lookup, replicas),
        held.join(",")
    )])
}

/// `STATS`: the counters, then what the store holds.
fn stats(node: &Node, commands: &super::commandstats::CommandStats) -> Vec<String> {
    let held = node.store_usage();
    let usage = [
        ("keys", held.keys),
        ("entries", held.entries),
        ("expiring", held.expiring),
        ("stored_bytes", held.bytes),
        ("max_memory_bytes", held.limit),
    ];
    let disk = node.keys().disk().map(|disk| disk.status());
    let disk = disk.iter().flat_map(|s| {
        [
            ("disk_log_bytes", s.log_bytes),
            ("disk_snapshot_bytes", s.snapshot_bytes),
            ("disk_compactions", s.compactions),
            ("disk_syncs", s.syncs),
            ("disk_unsynced_bytes", s.unsynced_bytes),
            (
                "disk_longest_unsynced_ms",
                s.longest_unsynced.as_millis() as u64,
            ),
        ]
    });
    node.stats()
        .report()
        .into_iter()
        .chain(usage.map(|(name, n)| (name, n.to_string())))
        .chain(disk.map(|(name, n)| (name, n.to_string())))
        .map(|(name, value)| format!("{name}={value}"))
        .chain(commands.stats())
        .collect()
}

/// The settings `CONFIG GET` shows, with their values at `node`.
fn settings(node: &Node) -> Vec<(&'static str, String)> {
    vec![
        ("maxmemory", node.store_usage().limit.to_string()),
        ("maxmemory-policy", "noeviction".into()),
        ("databases", "1".into()),
        ("save", String::new()),
        (
            "appendonly",
            if node.keys().disk().is_some() {
                "yes"
            } else {
                "no"
            }
            .into(),
        ),
        (
            "appendfsync",
            node.keys()
                .disk()
                .map_or("no".into(), |disk| disk.status().fsync),
        ),
        ("proto-max-bulk-len", node.config().max_value.to_string()),
    ]
}

/// `CONFIG GET`: the settings whose names match any of `patterns`.
fn config(node: &Node, patterns: &[Vec<u8>]) -> Vec<(String, String)> {
    settings(node)
        .into_iter()
        .filter(|(name, _)| {
            patterns
                .iter()
                .any(|p| crate::dhash::scan::glob(p, name.as_bytes()))
        })
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// `CONFIG SET`: `maxmemory`, in bytes or with Redis's units (`64mb`);
/// every other setting is refused by name.
fn config_set(node: &Node, name: &str, value: &str) -> Answer {
    if name != "maxmemory" {
        return Refusal::usage(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - chord changes \
             only maxmemory at run time"
        ));
    }
    match memory(value) {
        Some(0) | None => Refusal::usage(format!(
            "CONFIG SET failed (possibly related to argument 'maxmemory') - argument \
             must be a memory value of at least 1 byte, not '{value}'"
        )),
        Some(bytes) => {
            node.keys().set_max_memory(bytes);
            Answer::Ok
        }
    }
}

/// A memory value as Redis writes one: bytes, or a number with `k`,
/// `kb`, `m`, `mb`, `g` or `gb` (`k` 1000, `kb` 1024, and so on).
fn memory(value: &str) -> Option<usize> {
    let value = value.to_ascii_lowercase();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let scale: usize = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}
