//! The one command layer: what a client may ask of a node, whichever
//! protocol it speaks, and what the node answers.
//!
//! Each wire protocol parses its requests into a [`Command`] (the text
//! protocol in [`crate::text`], RESP in [`crate::resp::command`]); the
//! server carries each command out once, in `server/execute.rs`, into an
//! [`Answer`]; each protocol then words the answer its own way. So a
//! command means the same through both: the same TTL, the same limits, the
//! same holders in a LOOKUP, the same refusals. Pure data: nothing here
//! touches a node or a socket.
//!
//! Times a client gives relative to now (`EXPIRE key 10`) stay relative
//! here ([`When`]); the executor makes them absolute by the node's clock.

use crate::error::Error;
use crate::message::ExpireIf;

/// A request, as every protocol parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `GET key`: the value, or none.
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// `SET key value` (text `PUT`), with Redis's conditions and expiry.
    Set {
        /// The key.
        key: Vec<u8>,
        /// The value: any bytes.
        value: Vec<u8>,
        /// `NX` (`Some(false)`: only if the key has no value) or `XX`
        /// (`Some(true)`: only if it has one); `None`: always.
        only_if_exists: Option<bool>,
        /// What becomes of the key's expiry.
        expiry: SetExpiry,
        /// How the answer is worded: `SETNX` answers 1 or 0 where `SET NX`
        /// answers OK or nil.
        reply: SetReply,
    },
    /// `GETSET key value`, `SET key value ... GET`, `GETDEL key`: the
    /// value is replaced (or deleted), and the answer is the one it
    /// replaced.
    Swap {
        /// The key.
        key: Vec<u8>,
        /// The new value; `None` deletes the key.
        value: Option<Vec<u8>>,
        /// `NX` (`Some(false)`) or `XX` (`Some(true)`), as for `SET`.
        only_if_exists: Option<bool>,
        /// What becomes of the key's expiry.
        expiry: SetExpiry,
    },
    /// `DEL key...`: how many of the keys had a value.
    Delete {
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// `EXISTS key...`: how many of the keys have a value.
    Exists {
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// `MGET key...`: each key's value, or none.
    GetMany {
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// `MSET key value...`: every pair written; each clears its expiry.
    SetMany {
        /// The keys and their values.
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `INCR key [by]` and its kin: the owner adds `by`, atomically.
    Increment {
        /// The key.
        key: Vec<u8>,
        /// What to add; negative subtracts.
        by: i64,
    },
    /// `EXPIRE key time [NX|XX|GT|LT]` and its kin: the key expires then
    /// (a time passed deletes it), if the condition holds.
    Expire {
        /// The key.
        key: Vec<u8>,
        /// When.
        when: When,
        /// The condition; `None`: always.
        only: Option<ExpireIf>,
    },
    /// `PERSIST key`: the key's expiry is removed.
    Persist {
        /// The key.
        key: Vec<u8>,
    },
    /// `TTL key` and its kin: when the key expires.
    Ttl {
        /// The key.
        key: Vec<u8>,
        /// How the time is given.
        form: TtlForm,
    },
    /// `GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`: the value, and its
    /// expiry changed.
    GetEx {
        /// The key.
        key: Vec<u8>,
        /// `None`: no change (a `GET`); `Some(None)`: `PERSIST`; else the
        /// new expiry.
        change: Option<Option<When>>,
    },
    /// `APPEND key value`: the new length.
    Append {
        /// The key.
        key: Vec<u8>,
        /// What goes after the value.
        value: Vec<u8>,
    },
    /// `SETRANGE key offset value`: the new length.
    SetRange {
        /// The key.
        key: Vec<u8>,
        /// Where the bytes go.
        offset: u64,
        /// The bytes.
        value: Vec<u8>,
    },
    /// `GETRANGE key start end`: the bytes from `start` to `end`, both
    /// included, counted from the end when negative.
    GetRange {
        /// The key.
        key: Vec<u8>,
        /// The first byte.
        start: i64,
        /// The last byte.
        end: i64,
    },
    /// `INCRBYFLOAT key by`: the new value.
    IncrementFloat {
        /// The key.
        key: Vec<u8>,
        /// What to add: a float, as the client wrote it.
        by: Vec<u8>,
    },
    /// `GETBIT key offset`: the bit, 0 past the value's end.
    GetBit {
        /// The key.
        key: Vec<u8>,
        /// Which bit, from the highest bit of the first byte.
        offset: u64,
    },
    /// `SETBIT key offset 0|1`: the bit before.
    SetBit {
        /// The key.
        key: Vec<u8>,
        /// Which bit.
        offset: u64,
        /// Set or clear it.
        on: bool,
    },
    /// `BITCOUNT key [start end [BYTE|BIT]]`: the bits set.
    BitCount {
        /// The key.
        key: Vec<u8>,
        /// A range of bytes, or of bits with `bits`.
        range: Option<(i64, i64)>,
        /// The range counts bits, not bytes.
        bits: bool,
    },
    /// `BITPOS key 0|1 [start [end [BYTE|BIT]]]`: the first bit equal to
    /// `on`, or -1.
    BitPos {
        /// The key.
        key: Vec<u8>,
        /// The bit looked for.
        on: bool,
        /// Where to start.
        start: Option<i64>,
        /// Where to end.
        end: Option<i64>,
        /// The range counts bits, not bytes.
        bits: bool,
    },
    /// `LCS key1 key2 [LEN]`: the longest common subsequence of the two
    /// values, or its length.
    Lcs {
        /// The two keys.
        keys: [Vec<u8>; 2],
        /// Only the length.
        len: bool,
    },
    /// `RANDOMKEY`: a key of the ring, or none when it has none.
    RandomKey,
    /// `TOUCH key...`: how many of the keys have a value.
    Touch {
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// `TIME`: this node's clock, as seconds and microseconds.
    Time,
    /// `TYPE key`: `string`, or `none` for a key with no value.
    Type {
        /// The key.
        key: Vec<u8>,
    },
    /// `STRLEN key`: the value's length in bytes, 0 for none.
    Strlen {
        /// The key.
        key: Vec<u8>,
    },
    /// `KEYS [pattern]`: the keys of the whole ring matching a Redis glob,
    /// at most [`KEYS_LIMIT`].
    Keys {
        /// The glob; every key without one.
        pattern: Option<Vec<u8>>,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT n]` over the whole ring.
    Scan {
        /// Where the last call stopped; 0 to start.
        cursor: u64,
        /// The glob keys must match.
        pattern: Option<Vec<u8>>,
        /// About how many keys to return.
        count: usize,
        /// `TYPE string`, or no `TYPE`: every key; another type, none.
        strings: bool,
    },
    /// `DBSIZE`: the keys this node holds, its own and its copies.
    DbSize,
    /// `MSETNX key value...`: every pair written, or none when any of the
    /// keys has a value; atomically at their owner (one hash tag).
    SetIfNone {
        /// The keys and their values.
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `RENAME from to` and `RENAMENX from to`, atomically at the owner.
    Rename {
        /// The key renamed.
        from: Vec<u8>,
        /// Its new name.
        to: Vec<u8>,
        /// `RENAMENX`: only if `to` has no value.
        only_if_absent: bool,
    },
    /// `COPY from to [DB 0] [REPLACE]`, atomically at the owner.
    Copy {
        /// The key copied.
        from: Vec<u8>,
        /// Where to.
        to: Vec<u8>,
        /// `REPLACE`.
        replace: bool,
    },
    /// `MULTI`: commands are queued until `EXEC` (`server/multi.rs`).
    Multi,
    /// `EXEC`: the queued commands, applied at their owner at once.
    Exec,
    /// `DISCARD`: the queued commands are dropped.
    Discard,
    /// `WATCH key...`: refused; chord does not watch keys.
    Watch,
    /// `UNWATCH`: nothing is watched, so nothing to do.
    Unwatch,
    /// `FLUSHALL` and `FLUSHDB` (the ring has one database), with `ASYNC`
    /// or `SYNC`: both finish before the answer. Every key of the whole
    /// ring is forgotten, and no copy of one comes back
    /// (`dhash/flush.rs`).
    FlushAll,
    /// `LOOKUP key`: the key's identifier, owner, hops and holders, with
    /// each holder's version of the key.
    Lookup {
        /// The key.
        key: Vec<u8>,
    },
    /// `NODE`: this node's identifier, neighbours and keys.
    Node {
        /// Whole identifiers rather than their first digits.
        full: bool,
    },
    /// `FINGERS`: this node's finger table.
    Fingers {
        /// One line per finger with whole identifiers, rather than runs.
        full: bool,
    },
    /// `RING`: every node, walking successor pointers from this one.
    Ring {
        /// Whole identifiers rather than their first digits.
        full: bool,
    },
    /// `COUNT`: the keys of the whole ring, each counted once, at its
    /// owner, and the nodes.
    Count,
    /// `STATS`: this node's counters and store usage.
    Stats,
    /// `INFO [section...]`: Redis's sections, as far as they mean
    /// something here, and a `chord` section.
    Info {
        /// The sections asked for, lower case; none: the default ones.
        sections: Vec<String>,
    },
    /// `HELP`: the text protocol's commands.
    Help,
    /// `PING [message]`.
    Ping {
        /// Echoed back, if given.
        message: Option<Vec<u8>>,
    },
    /// `ECHO message`.
    Echo {
        /// Echoed back.
        message: Vec<u8>,
    },
    /// `AUTH password`.
    Auth {
        /// The password.
        password: String,
    },
    /// `HELLO [protover [AUTH user password] [SETNAME name]]`.
    Hello {
        /// The protocol asked for; `None`: the current one.
        protocol: Option<Protocol>,
        /// `AUTH`'s password (the user is ignored).
        password: Option<String>,
        /// `SETNAME`'s name.
        name: Option<String>,
    },
    /// `SELECT db`: chord has database 0 only.
    Select {
        /// The database asked for.
        db: String,
    },
    /// `CLIENT SETNAME name`: an empty name clears it.
    SetName {
        /// The connection's new name.
        name: String,
    },
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT ID`.
    ClientId,
    /// `CLIENT INFO`: this connection, as `CLIENT LIST` shows one.
    ClientInfo,
    /// `CLIENT LIST`: every client connected to this node, a line each.
    ClientList,
    /// `CLIENT SETINFO LIB-NAME|LIB-VER value`: what the client library
    /// says it is.
    SetInfo {
        /// `lib-name` or `lib-ver`.
        attribute: LibInfo,
        /// Its value.
        value: String,
    },
    /// `CONFIG GET pattern...`: the settings whose names match.
    ConfigGet {
        /// Redis globs, lower case.
        patterns: Vec<Vec<u8>>,
    },
    /// `CONFIG SET name value`: `maxmemory` is the one setting a node
    /// changes at run time.
    ConfigSet {
        /// The setting, lower case.
        name: String,
        /// Its new value.
        value: String,
    },
    /// `CONFIG RESETSTAT`: the counters of `STATS` and `INFO` start again.
    ResetStats,
    /// `COMMAND ...`, which redis-cli sends on start: answered empty (no
    /// hints), and it goes on.
    Introspect {
        /// `COMMAND COUNT`, answered 0.
        count: bool,
    },
    /// `QUIT`: the connection closes after the answer.
    Quit,
    /// `CLUSTER SLOTS|NODES|INFO|MYID|KEYSLOT key`: the ring as a Redis
    /// Cluster client asks for it, so that it sends each key to its owner.
    Cluster(ClusterQuery),
    /// `READONLY`, `READWRITE` and `ASKING`: a Redis Cluster client sends
    /// them to read from replicas or to follow a slot being moved. Every
    /// chord node serves every key, so each is answered OK and changes
    /// nothing.
    ClusterMode,
}

/// What `CLUSTER` asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterQuery {
    /// `CLUSTER SLOTS`: the runs of hash slots and the node serving each.
    Slots,
    /// `CLUSTER NODES`: a line per node, with its slots.
    Nodes,
    /// `CLUSTER INFO`: the state of the whole.
    Info,
    /// `CLUSTER MYID`: this node's name.
    MyId,
    /// `CLUSTER KEYSLOT key`: the key's hash slot.
    KeySlot(Vec<u8>),
}

/// A node as Redis Cluster names it: where clients reach it, and a name of
/// 40 hex digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNode {
    /// The host clients connect to.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The node's name.
    pub name: String,
}

/// A run of hash slots, `first..=last`, and the node that serves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRun {
    /// The first slot of the run.
    pub first: u16,
    /// The last slot of the run.
    pub last: u16,
    /// The node serving them.
    pub node: ClusterNode,
}

/// The protocol a client speaks, as `HELLO` chose it. Only RESP has two;
/// the text protocol is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2: every client's until it says `HELLO 3`.
    Resp2,
    /// RESP3: maps, and `_` for none.
    Resp3,
}

/// What `CLIENT SETINFO` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibInfo {
    /// `lib-name`.
    Name,
    /// `lib-ver`.
    Version,
}

/// What `SET` does to the key's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetExpiry {
    /// The value never expires (a plain `SET`).
    Clear,
    /// The expiry held stays (`KEEPTTL`).
    Keep,
    /// The value expires then (`EX`, `PX`, `EXAT`, `PXAT`).
    At(When),
}

/// How `SET` with a condition answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetReply {
    /// OK when written, none (nil) when the condition failed.
    Ok,
    /// 1 when written, 0 when not (`SETNX`).
    Integer,
}

/// A time a client gives: an amount of a unit, from now or from the Unix
/// epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct When {
    /// The amount; negative is before the start.
    pub amount: i64,
    /// Its unit.
    pub unit: Unit,
    /// From the Unix epoch (`EXPIREAT`) rather than from now (`EXPIRE`).
    pub absolute: bool,
    /// The command it came with, lower case, as Redis names it when the
    /// time is out of range (`setex`, `pexpireat`).
    pub command: &'static str,
}

impl When {
    /// The time in milliseconds since the Unix epoch, `now_ms` being now,
    /// checked as Redis 7.0 checks it: seconds must fit in milliseconds,
    /// and the sum with now must fit in a signed 64-bit integer. `None`:
    /// out of range ("invalid expire time").
    pub fn millis(self, now_ms: i64) -> Option<i64> {
        let ms = match self.unit {
            Unit::Seconds => self.amount.checked_mul(1000)?,
            Unit::Millis => self.amount,
        };
        if self.absolute {
            Some(ms)
        } else {
            ms.checked_add(now_ms)
        }
    }
}

/// Seconds or milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds (`EX`, `EXPIRE`, `TTL`).
    Seconds,
    /// Milliseconds (`PX`, `PEXPIRE`, `PTTL`).
    Millis,
}

impl Unit {
    /// The unit in microseconds, the store's scale.
    pub fn micros(self) -> u64 {
        match self {
            Unit::Seconds => 1_000_000,
            Unit::Millis => 1_000,
        }
    }
}

/// How `TTL` and its kin give the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlForm {
    /// Seconds (`TTL`, `EXPIRETIME`) or milliseconds (`PTTL`,
    /// `PEXPIRETIME`).
    pub unit: Unit,
    /// The Unix time it expires (`EXPIRETIME`) rather than what is left
    /// (`TTL`).
    pub absolute: bool,
}

/// The most keys `KEYS` lists; `SCAN` lists any number.
pub const KEYS_LIMIT: usize = 1000;

/// What a command gave, before any protocol words it.
#[derive(Debug)]
pub enum Answer {
    /// Done.
    Ok,
    /// A command kept for `EXEC`.
    Queued,
    /// `EXEC`'s answers, one per command queued.
    Many(Vec<Answer>),
    /// `PING` without a message.
    Pong,
    /// A value, or none (a key without one, a name not set).
    Value(Option<Vec<u8>>),
    /// Values in the order of the keys asked for.
    Values(Vec<Option<Vec<u8>>>),
    /// A number: a count, a length.
    Integer(i64),
    /// How many of the keys had a value and were deleted.
    Deleted(i64),
    /// The sum an increment left.
    Sum(i64),
    /// Whether a conditional `SET` wrote, worded as the command asks.
    Written(bool, SetReply),
    /// Whether `EXPIRE` or `PERSIST` changed the key.
    Changed(bool),
    /// When a key expires.
    Ttl(Ttl),
    /// A key's type: `string` or `none`.
    Type(&'static str),
    /// Keys, and whether they are all that match.
    Keys {
        /// The keys.
        keys: Vec<Vec<u8>>,
        /// False when more match than [`KEYS_LIMIT`].
        complete: bool,
    },
    /// A `SCAN` step: the next cursor (0: done) and keys.
    Scan {
        /// Where to go on from.
        next: u64,
        /// The keys of this step.
        keys: Vec<Vec<u8>>,
    },
    /// The keys of the whole ring and the nodes counted.
    Count {
        /// Keys, each counted once.
        keys: u64,
        /// Nodes.
        nodes: usize,
    },
    /// Lines for a person: NODE, FINGERS, RING, LOOKUP, STATS, HELP.
    Lines(Vec<String>),
    /// `INFO`'s text.
    Text(String),
    /// The answer to `HELLO`: who we are, and who the client is.
    Hello {
        /// The connection's id.
        id: u64,
        /// The protocol it now speaks.
        protocol: Protocol,
    },
    /// Names and their values: `CONFIG GET`.
    Pairs(Vec<(String, String)>),
    /// The empty answer to `COMMAND`; 0 for `COMMAND COUNT`.
    Introspection {
        /// `COMMAND COUNT`.
        count: bool,
    },
    /// `CLUSTER SLOTS`: runs of slots, each with its node.
    Slots(Vec<SlotRun>),
    /// `QUIT`'s goodbye; the connection closes.
    Bye,
    /// The command was refused.
    Refused(Refusal),
}

/// When a key expires, in the unit the command asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// The key has no value.
    NoValue,
    /// The value never expires.
    Never,
    /// What is left, rounded to the nearest unit, or the Unix time.
    In(i64),
}

/// Why a command was refused. Each protocol words it: the text protocol as
/// `ERR <text>`, RESP with Redis's error kind first.
#[derive(Debug)]
pub enum Refusal {
    /// The request is malformed; the text says how to write it.
    Usage(String),
    /// The node could not carry it out.
    Node(Error),
    /// A time out of range ([`When::millis`]).
    BadTime {
        /// The command, lower case, as Redis names it in the error.
        command: &'static str,
    },
    /// The connection must authenticate first.
    NoAuth,
    /// `HELLO` without `AUTH`, from a connection that must authenticate.
    HelloNoAuth,
    /// `AUTH` with the wrong password.
    WrongPassword,
    /// `AUTH` at a node that has no password.
    NoPassword,
    /// A protocol version chord does not speak.
    NoProto(String),
    /// `EXEC` of a transaction in which a command was refused as queued.
    ExecAbort,
    /// A command name the parser does not know; the text says which, in
    /// Redis's words.
    Unknown(String),
}

impl Refusal {
    /// A malformed request, in words.
    pub fn usage(text: impl Into<String>) -> Answer {
        Answer::Refused(Refusal::Usage(text.into()))
    }

    /// What went wrong, without the error's kind.
    pub fn text(&self) -> String {
        match self {
            Refusal::Usage(text) | Refusal::NoProto(text) | Refusal::Unknown(text) => text.clone(),
            Refusal::WrongPassword => "invalid password".into(),
            Refusal::NoPassword => {
                "this node has no password (start it with --password-file to set one)".into()
            }
            Refusal::HelloNoAuth => "HELLO must be called with the client already \
                authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be \
                used to authenticate the client and select the RESP protocol version at the \
                same time"
                .into(),
            Refusal::Node(e) => e.to_string(),
            Refusal::BadTime { command } => format!("invalid expire time in '{command}' command"),
            Refusal::NoAuth => "authentication required: send AUTH <password> first".into(),
            Refusal::ExecAbort => "Transaction discarded because of previous errors.".into(),
        }
    }
}

impl From<Error> for Answer {
    fn from(e: Error) -> Answer {
        Answer::Refused(Refusal::Node(e))
    }
}

impl Command {
    /// Whether the command may run before `AUTH`: it reveals and changes
    /// nothing.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Command::Auth { .. }
                | Command::Hello { .. }
                | Command::Ping { .. }
                | Command::Help
                | Command::Introspect { .. }
                | Command::Quit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(amount: i64, unit: Unit, absolute: bool) -> When {
        When {
            amount,
            unit,
            absolute,
            command: "expire",
        }
    }

    #[test]
    fn times_are_checked_as_redis_checks_them() {
        let now = 1_800_000_000_000;
        assert_eq!(
            when(10, Unit::Seconds, false).millis(now),
            Some(now + 10_000)
        );
        assert_eq!(when(5, Unit::Millis, true).millis(now), Some(5));
        // Seconds that do not fit in milliseconds, either way.
        assert_eq!(
            when(i64::MAX / 1000 + 1, Unit::Seconds, false).millis(now),
            None
        );
        assert_eq!(
            when(-9_223_372_036_854_776, Unit::Seconds, false).millis(now),
            None
        );
        // Milliseconds whose sum with now does not fit.
        assert_eq!(
            when(i64::MAX - now + 1, Unit::Millis, false).millis(now),
            None
        );
        // A Unix time far ahead is a time.
        let far = 9_223_370_000_000_000_000;
        assert_eq!(when(far, Unit::Millis, true).millis(now), Some(far));
    }
}
