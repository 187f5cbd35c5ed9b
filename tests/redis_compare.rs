//! chord's answers beside Redis's own. Each request of the script has the
//! reply Redis 7.0 gives it, byte for byte, errors included; chord must
//! give the same, on one node and through a ring. The requests are those
//! whose answers do not depend on the server: the string commands chord
//! serves, their edge cases and their errors.
//!
//! Redis is not part of chord, so the replies are written here; when
//! `redis-server` is installed, a second test checks them against it, and
//! when it is not, that test says it skips.
//!
//! One difference is chosen, and left out: `INCRBYFLOAT` adds plain
//! decimals exactly, where Redis adds in an 80-bit `long double` and
//! prints its binary rounding (5000 + 0.3 is `5000.29999999999999982` in
//! Redis, `5000.3` here; see `chord::store::add_floats`).

mod common;

use common::{RedisServer, Resp, TcpCluster};

/// Requests, in order, and the reply Redis 7.0 gives each on a fresh
/// server, as [`Resp`] shows it.
fn script() -> Vec<(Vec<Vec<u8>>, &'static str)> {
    let lines: &[(&[&str], &str)] = &[
        (&["SET", "s", "hello"], "+OK"),
        (&["GET", "s"], "$\"hello\""),
        (&["GET", "missing"], "$nil"),
        (&["SET", "s", "again", "NX"], "$nil"),
        (&["SET", "s", "again", "XX"], "+OK"),
        (&["GET", "s"], "$\"again\""),
        (&["SETNX", "s", "x"], ":0"),
        (&["SETNX", "fresh", "x"], ":1"),
        (&["STRLEN", "s"], ":5"),
        (&["STRLEN", "missing"], ":0"),
        (&["TYPE", "s"], "+string"),
        (&["TYPE", "missing"], "+none"),
        (&["EXISTS", "s", "missing", "s"], ":2"),
        (&["MSET", "a", "1", "b", "2"], "+OK"),
        (&["MGET", "a", "missing", "b"], "*[$\"1\", $nil, $\"2\"]"),
        (&["DEL", "a", "b", "missing"], ":2"),
        (&["INCR", "n"], ":1"),
        (&["INCRBY", "n", "41"], ":42"),
        (&["DECR", "n"], ":41"),
        (&["DECRBY", "n", "-10"], ":51"),
        (
            &["INCRBY", "n", "+1"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["INCRBY", "n", "01"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["INCRBY", "n", "-0"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["INCRBY", "n", "1.5"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["INCR", "s"],
            "-ERR value is not an integer or out of range",
        ),
        (&["SET", "big", "9223372036854775807"], "+OK"),
        (
            &["INCR", "big"],
            "-ERR increment or decrement would overflow",
        ),
        (&["SET", "small", "-9223372036854775808"], "+OK"),
        (
            &["DECR", "small"],
            "-ERR increment or decrement would overflow",
        ),
        (
            &["DECRBY", "n", "-9223372036854775808"],
            "-ERR decrement would overflow",
        ),
        (&["SET", "padded", "01"], "+OK"),
        (
            &["INCR", "padded"],
            "-ERR value is not an integer or out of range",
        ),
        (&["SET", "plus", "+1"], "+OK"),
        (
            &["INCR", "plus"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["SET", "e", "v", "EX", "0"],
            "-ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "e", "v", "EX", "-5"],
            "-ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "e", "v", "EX", "9223372036854776"],
            "-ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "e", "v", "EX", "x"],
            "-ERR value is not an integer or out of range",
        ),
        (&["SET", "e", "v", "NX", "XX"], "-ERR syntax error"),
        (
            &["SET", "e", "v", "EX", "10", "PX", "10"],
            "-ERR syntax error",
        ),
        (
            &["SETEX", "e", "0", "v"],
            "-ERR invalid expire time in 'setex' command",
        ),
        (
            &["PSETEX", "e", "-1", "v"],
            "-ERR invalid expire time in 'psetex' command",
        ),
        (&["SETEX", "e", "100", "v"], "+OK"),
        (&["TTL", "e"], ":100"),
        (&["PERSIST", "e"], ":1"),
        (&["PERSIST", "e"], ":0"),
        (&["TTL", "e"], ":-1"),
        (&["TTL", "missing"], ":-2"),
        (&["PTTL", "missing"], ":-2"),
        (
            &["EXPIRE", "e", "-9223372036854776"],
            "-ERR invalid expire time in 'expire' command",
        ),
        (
            &["EXPIRE", "e", "9223372036854776"],
            "-ERR invalid expire time in 'expire' command",
        ),
        (
            &["EXPIRE", "e", "100", "FOO"],
            "-ERR Unsupported option FOO",
        ),
        (&["EXPIRE", "e", "100", "NX"], ":1"),
        (&["EXPIRE", "e", "200", "NX"], ":0"),
        (&["EXPIRE", "e", "50", "GT"], ":0"),
        (&["EXPIRE", "e", "500", "GT"], ":1"),
        (&["TTL", "e"], ":500"),
        (
            &["EXPIRE", "e", "100", "NX", "GT"],
            "-ERR NX and XX, GT or LT options at the same time are not compatible",
        ),
        (
            &["EXPIRE", "e", "100", "GT", "LT"],
            "-ERR GT and LT options at the same time are not compatible",
        ),
        (&["EXPIRE", "e", "400", "XX", "LT"], ":1"),
        (&["EXPIRE", "e", "450", "XX", "LT"], ":0"),
        (&["EXPIRE", "e", "450", "XX", "GT"], ":1"),
        (&["TTL", "e"], ":450"),
        (&["SET", "nottl", "v"], "+OK"),
        (&["EXPIRE", "nottl", "10", "XX", "LT"], ":0"),
        (&["EXPIRE", "nottl", "10", "LT"], ":1"),
        (&["SCAN", "0", "TYPE", "hash"], "*[$\"0\", *[]]"),
        (&["SCAN", "0", "FOO", "bar"], "-ERR syntax error"),
        (&["SET", "gs", "old"], "+OK"),
        (&["GETSET", "gs", "new"], "$\"old\""),
        (&["GET", "gs"], "$\"new\""),
        (&["GETSET", "gs2", "v"], "$nil"),
        (
            &["GETSET", "gs"],
            "-ERR wrong number of arguments for 'getset' command",
        ),
        (&["GETDEL", "gs"], "$\"new\""),
        (&["GETDEL", "gs"], "$nil"),
        (&["EXISTS", "gs"], ":0"),
        (
            &["GETDEL"],
            "-ERR wrong number of arguments for 'getdel' command",
        ),
        (&["SET", "sg", "a"], "+OK"),
        (&["SET", "sg", "b", "GET"], "$\"a\""),
        (&["SET", "sg", "c", "GET", "EX", "100"], "$\"b\""),
        (&["TTL", "sg"], ":100"),
        (&["SET", "sg", "d", "KEEPTTL", "GET"], "$\"c\""),
        (&["TTL", "sg"], ":100"),
        (&["SET", "sg", "e", "GET"], "$\"d\""),
        (&["TTL", "sg"], ":-1"),
        (&["SET", "sgnew", "v", "GET"], "$nil"),
        (&["GET", "sgnew"], "$\"v\""),
        (&["EXPIRE", "missing", "10"], ":0"),
        (&["PEXPIREAT", "e", "9223370000000000000"], ":1"),
        (&["EXPIRE", "e", "-1"], ":1"),
        (&["GET", "e"], "$nil"),
        (&["APPEND", "ap", "Hello"], ":5"),
        (&["APPEND", "ap", " World"], ":11"),
        (&["GET", "ap"], "$\"Hello World\""),
        (
            &["APPEND", "ap"],
            "-ERR wrong number of arguments for 'append' command",
        ),
        (&["SETRANGE", "sr", "5", "abc"], ":8"),
        (&["GET", "sr"], "$\"\\0\\0\\0\\0\\0abc\""),
        (&["SETRANGE", "sr", "0", "XY"], ":8"),
        (&["GET", "sr"], "$\"XY\\0\\0\\0abc\""),
        (&["SETRANGE", "sr", "1", ""], ":8"),
        (&["SETRANGE", "none", "3", ""], ":0"),
        (&["EXISTS", "none"], ":0"),
        (
            &["SETRANGE", "sr", "-1", "x"],
            "-ERR offset is out of range",
        ),
        (
            &["SETRANGE", "sr", "x", "x"],
            "-ERR value is not an integer or out of range",
        ),
        (&["SET", "gr", "This is a string"], "+OK"),
        (&["GETRANGE", "gr", "0", "3"], "$\"This\""),
        (&["GETRANGE", "gr", "-3", "-1"], "$\"ing\""),
        (&["GETRANGE", "gr", "0", "-1"], "$\"This is a string\""),
        (&["GETRANGE", "gr", "10", "100"], "$\"string\""),
        (&["GETRANGE", "gr", "5", "3"], "$\"\""),
        (&["GETRANGE", "gr", "-1", "-5"], "$\"\""),
        (&["GETRANGE", "gr", "-100", "2"], "$\"Thi\""),
        (&["GETRANGE", "missing", "0", "5"], "$\"\""),
        (&["SUBSTR", "gr", "0", "3"], "$\"This\""),
        (
            &["GETRANGE", "gr", "a", "1"],
            "-ERR value is not an integer or out of range",
        ),
        (&["INCRBYFLOAT", "f", "10.5"], "$\"10.5\""),
        (&["INCRBYFLOAT", "f", "0.1"], "$\"10.6\""),
        (&["INCRBYFLOAT", "f", "-10.6"], "$\"0\""),
        (&["INCRBYFLOAT", "g", "0.1"], "$\"0.1\""),
        (&["INCRBYFLOAT", "g", "0.2"], "$\"0.3\""),
        (
            &["INCRBYFLOAT", "g", "abc"],
            "-ERR value is not a valid float",
        ),
        (
            &["INCRBYFLOAT", "s", "1"],
            "-ERR value is not a valid float",
        ),
        (&["SET", "h", "3"], "+OK"),
        (&["INCRBYFLOAT", "h", "1"], "$\"4\""),
        (&["SET", "ge", "v"], "+OK"),
        (&["GETEX", "ge"], "$\"v\""),
        (&["GETEX", "ge", "EX", "100"], "$\"v\""),
        (&["TTL", "ge"], ":100"),
        (&["GETEX", "ge", "PERSIST"], "$\"v\""),
        (&["TTL", "ge"], ":-1"),
        (&["GETEX", "ge", "PERSIST"], "$\"v\""),
        (
            &["GETEX", "ge", "EX", "0"],
            "-ERR invalid expire time in 'getex' command",
        ),
        (
            &["GETEX", "ge", "EX", "10", "PX", "10"],
            "-ERR syntax error",
        ),
        (&["GETEX", "ge", "FOO"], "-ERR syntax error"),
        (&["GETEX", "missing", "EX", "10"], "$nil"),
        (&["GETEX", "ge", "PXAT", "1"], "$\"v\""),
        (&["GET", "ge"], "$nil"),
        (&["TOUCH", "s", "missing", "gr"], ":2"),
        (
            &["TOUCH"],
            "-ERR wrong number of arguments for 'touch' command",
        ),
        (&["GET"], "-ERR wrong number of arguments for 'get' command"),
        (
            &["SET", "k"],
            "-ERR wrong number of arguments for 'set' command",
        ),
        (
            &["SETEX", "k", "1"],
            "-ERR wrong number of arguments for 'setex' command",
        ),
        (
            &["MSET", "a", "1", "b"],
            "-ERR wrong number of arguments for 'mset' command",
        ),
        (&["DEL"], "-ERR wrong number of arguments for 'del' command"),
        (
            &["INCRBY", "n"],
            "-ERR wrong number of arguments for 'incrby' command",
        ),
        (&["ECHO", "hi"], "$\"hi\""),
        (&["PING"], "+PONG"),
        (&["PING", "hello"], "$\"hello\""),
        (&["SELECT", "0"], "+OK"),
        (
            &["CLIENT", "SETNAME", "a b"],
            "-ERR Client names cannot contain spaces, newlines or special characters.",
        ),
        (&["CLIENT", "SETNAME", "named"], "+OK"),
        (&["CLIENT", "GETNAME"], "$\"named\""),
        (&["CLIENT", "SETNAME", ""], "+OK"),
        (&["CLIENT", "GETNAME"], "$nil"),
        (
            &["CLIENT", "FOO"],
            "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
        ),
        (&["HELLO", "4"], "-NOPROTO unsupported protocol version"),
        (
            &["HELLO", "x"],
            "-ERR Protocol version is not an integer or out of range",
        ),
        (
            &["HELLO", "2", "FOO"],
            "-ERR Syntax error in HELLO option 'FOO'",
        ),
        (&["CONFIG", "RESETSTAT"], "+OK"),
        (
            &["CONFIG", "GET", "maxmemory-policy"],
            "*[$\"maxmemory-policy\", $\"noeviction\"]",
        ),
        (
            &["CONFIG", "FOO"],
            "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.",
        ),
        (&["INFO", "nosuchsection"], "$\"\""),
        (&["SET", "bits", "foobar"], "+OK"),
        (&["BITCOUNT", "bits"], ":26"),
        (&["BITCOUNT", "bits", "0", "0"], ":4"),
        (&["BITCOUNT", "bits", "1", "1"], ":6"),
        (&["BITCOUNT", "bits", "1", "1", "BYTE"], ":6"),
        (&["BITCOUNT", "bits", "5", "30", "BIT"], ":17"),
        (&["BITCOUNT", "bits", "-2", "-1"], ":7"),
        (&["BITCOUNT", "bits", "0"], "-ERR syntax error"),
        (&["BITCOUNT", "bits", "0", "1", "FOO"], "-ERR syntax error"),
        (&["BITCOUNT", "missing"], ":0"),
        (&["SETBIT", "sb", "7", "1"], ":0"),
        (&["SETBIT", "sb", "7", "0"], ":1"),
        (&["SETBIT", "sb", "100", "1"], ":0"),
        (
            &["GET", "sb"],
            "$\"\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\u{8}\"",
        ),
        (&["GETBIT", "sb", "100"], ":1"),
        (&["GETBIT", "sb", "7"], ":0"),
        (&["GETBIT", "sb", "1000"], ":0"),
        (&["GETBIT", "missing", "0"], ":0"),
        (
            &["SETBIT", "sb", "1", "2"],
            "-ERR bit is not an integer or out of range",
        ),
        (
            &["SETBIT", "sb", "-1", "1"],
            "-ERR bit offset is not an integer or out of range",
        ),
        (
            &["SETBIT", "sb", "4294967296", "1"],
            "-ERR bit offset is not an integer or out of range",
        ),
        (
            &["GETBIT", "sb", "x"],
            "-ERR bit offset is not an integer or out of range",
        ),
        (&["SET", "bp1", "aaa"], "+OK"),
        (&["BITPOS", "bp1", "0"], ":0"),
        (&["BITPOS", "bp1", "1"], ":1"),
        (&["BITPOS", "bp1", "1", "1"], ":9"),
        (&["BITPOS", "bp1", "0", "0", "-1"], ":0"),
        (&["BITPOS", "bp1", "1", "2", "-1", "BIT"], ":2"),
        (
            &["BITPOS", "bp1", "2"],
            "-ERR The bit argument must be 1 or 0.",
        ),
        (&["BITPOS", "missing", "1"], ":-1"),
        (&["BITPOS", "missing", "0"], ":0"),
        (&["SET", "ones", "xxx"], "+OK"),
        (&["BITPOS", "ones", "0", "0", "0"], ":0"),
        (&["SET", "lcs1", "ohmytext"], "+OK"),
        (&["SET", "lcs2", "mynewtext"], "+OK"),
        (&["LCS", "lcs1", "lcs2"], "$\"mytext\""),
        (&["LCS", "lcs1", "lcs2", "LEN"], ":6"),
        (&["LCS", "lcs1", "missing"], "$\"\""),
        (&["LCS", "lcs1", "lcs2", "FOO"], "-ERR syntax error"),
        // Atomic over several keys: one hash tag, so one owner.
        (&["MSETNX", "{m}a", "1", "{m}b", "2"], ":1"),
        (&["MSETNX", "{m}b", "3", "{m}c", "4"], ":0"),
        (&["MGET", "{m}a", "{m}b", "{m}c"], "*[$\"1\", $\"2\", $nil]"),
        (
            &["MSETNX", "{m}a"],
            "-ERR wrong number of arguments for 'msetnx' command",
        ),
        (&["SET", "{m}t", "v", "EX", "100"], "+OK"),
        (&["RENAME", "{m}t", "{m}u"], "+OK"),
        (&["TTL", "{m}u"], ":100"),
        (&["EXISTS", "{m}t"], ":0"),
        (&["RENAME", "{m}a", "{m}z"], "+OK"),
        (&["GET", "{m}z"], "$\"1\""),
        (&["RENAME", "{m}missing", "{m}y"], "-ERR no such key"),
        (&["RENAMENX", "{m}z", "{m}b"], ":0"),
        (&["RENAMENX", "{m}z", "{m}y"], ":1"),
        (&["RENAME", "{m}y", "{m}y"], "+OK"),
        (&["RENAMENX", "{m}y", "{m}y"], ":0"),
        (
            &["RENAME", "{m}y"],
            "-ERR wrong number of arguments for 'rename' command",
        ),
        (&["COPY", "{m}y", "{m}b"], ":0"),
        (&["COPY", "{m}y", "{m}b", "REPLACE"], ":1"),
        (&["GET", "{m}b"], "$\"1\""),
        (&["COPY", "{m}missing", "{m}q"], ":0"),
        (
            &["COPY", "{m}y", "{m}y"],
            "-ERR source and destination objects are the same",
        ),
        (&["COPY", "{m}y", "{m}q", "FOO"], "-ERR syntax error"),
        // Transactions, on keys of one hash tag.
        (&["MULTI"], "+OK"),
        (&["SET", "{t}a", "1"], "+QUEUED"),
        (&["INCR", "{t}a"], "+QUEUED"),
        (&["GET", "{t}a"], "+QUEUED"),
        (&["APPEND", "{t}a", "0"], "+QUEUED"),
        (&["MGET", "{t}a", "{t}b"], "+QUEUED"),
        (&["EXEC"], "*[+OK, :2, $\"2\", :2, *[$\"20\", $nil]]"),
        (&["EXEC"], "-ERR EXEC without MULTI"),
        (&["DISCARD"], "-ERR DISCARD without MULTI"),
        (&["MULTI"], "+OK"),
        (&["MULTI"], "-ERR MULTI calls can not be nested"),
        (&["INCR", "{t}a"], "+QUEUED"),
        (&["DISCARD"], "+OK"),
        (&["GET", "{t}a"], "$\"20\""),
        (&["MULTI"], "+OK"),
        (&["SET", "{t}s", "text"], "+QUEUED"),
        (&["INCR", "{t}s"], "+QUEUED"),
        (&["DEL", "{t}a"], "+QUEUED"),
        (
            &["EXEC"],
            "*[+OK, -ERR value is not an integer or out of range, :1]",
        ),
        (&["MULTI"], "+OK"),
        (
            &["INCR"],
            "-ERR wrong number of arguments for 'incr' command",
        ),
        (&["SET", "{t}a", "never"], "+QUEUED"),
        (
            &["EXEC"],
            "-EXECABORT Transaction discarded because of previous errors.",
        ),
        (&["EXISTS", "{t}a"], ":0"),
        (&["MULTI"], "+OK"),
        (&["EXEC"], "*[]"),
        (&["UNWATCH"], "+OK"),
        (&["SET", "sgx", "one"], "+OK"),
        (&["SET", "sgx", "two", "NX", "GET"], "$\"one\""),
        (&["GET", "sgx"], "$\"one\""),
        (&["SET", "sgx", "three", "XX", "GET"], "$\"one\""),
        (&["GET", "sgx"], "$\"three\""),
        (&["SET", "sgy", "one", "XX", "GET"], "$nil"),
        (&["EXISTS", "sgy"], ":0"),
        (&["SET", "sgy", "one", "NX", "GET"], "$nil"),
        (&["GET", "sgy"], "$\"one\""),
        (
            &["SET", "sgx", "four", "NX", "XX", "GET"],
            "-ERR syntax error",
        ),
        (
            &["NOSUCHCOMMAND", "x"],
            "-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ",
        ),
    ];
    lines
        .iter()
        .map(|(words, reply)| {
            (
                words.iter().map(|w| w.as_bytes().to_vec()).collect(),
                *reply,
            )
        })
        .collect()
}

/// Each request's reply at `addr`, a fresh connection for the whole
/// script.
fn replies(addr: &str) -> Vec<String> {
    let mut connection = Resp::connect(addr);
    script()
        .iter()
        .map(|(request, _)| {
            let args: Vec<&[u8]> = request.iter().map(Vec::as_slice).collect();
            connection.call(&args)
        })
        .collect()
}

/// The requests whose reply at `addr` is not `expected`, in words.
fn mismatches(addr: &str, expected: &[String]) -> Vec<String> {
    script()
        .iter()
        .zip(expected.iter().zip(replies(addr)))
        .filter(|(_, (want, got))| **want != *got)
        .map(|((request, _), (want, got))| {
            let words: Vec<String> = request
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            format!("{}: expected {want}, got {got}", words.join(" "))
        })
        .collect()
}

/// Every reply as Redis 7.0 gives it, written here: this runs with or
/// without Redis installed.
#[test]
fn the_string_commands_answer_as_redis_documents_them() {
    let expected: Vec<String> = script().iter().map(|(_, r)| r.to_string()).collect();
    let one = TcpCluster::settled(1);
    let ring = TcpCluster::settled(3);
    for (what, addr) in [
        ("one node", one.addrs()[0].clone()),
        ("a ring", ring.addrs()[1].clone()),
    ] {
        let wrong = mismatches(&addr, &expected);
        assert!(
            wrong.is_empty(),
            "{what}: {} of {} replies differ:\n{}",
            wrong.len(),
            expected.len(),
            wrong.join("\n")
        );
    }
}

/// The replies written above are Redis's own: a `redis-server`, when one
/// is installed, gives each of them.
#[test]
fn the_written_replies_are_the_ones_redis_gives() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("redis-server is not installed: the comparison with Redis is skipped");
        return;
    };
    let expected: Vec<String> = script().iter().map(|(_, r)| r.to_string()).collect();
    let wrong = mismatches(&redis.addr, &expected);
    assert!(
        wrong.is_empty(),
        "Redis answers otherwise:\n{}",
        wrong.join("\n")
    );
}
