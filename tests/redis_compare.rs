//! chord's answers beside Redis's own: the same requests, sent to a
//! `redis-server` and to chord (one node, and through every node of a
//! ring), must get the same replies, byte for byte, errors included. The
//! requests are those whose answers do not depend on the server: the
//! string commands chord serves, their edge cases and their errors.
//!
//! Redis is not part of chord. When `redis-server` is not installed the
//! comparison is skipped, and the test says so; the expectations written
//! into the other tests still run.

mod common;

use common::{RedisServer, Resp, TcpCluster};

/// Requests, in order, on keys no other request of the list shares with
/// another test. Each runs on a fresh server.
fn script() -> Vec<Vec<Vec<u8>>> {
    let lines: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["GET", "s"],
        &["GET", "missing"],
        &["SET", "s", "again", "NX"],
        &["SET", "s", "again", "XX"],
        &["GET", "s"],
        &["SETNX", "s", "x"],
        &["SETNX", "fresh", "x"],
        &["STRLEN", "s"],
        &["STRLEN", "missing"],
        &["TYPE", "s"],
        &["TYPE", "missing"],
        &["EXISTS", "s", "missing", "s"],
        &["MSET", "a", "1", "b", "2"],
        &["MGET", "a", "missing", "b"],
        &["DEL", "a", "b", "missing"],
        &["INCR", "n"],
        &["INCRBY", "n", "41"],
        &["DECR", "n"],
        &["DECRBY", "n", "-10"],
        &["INCRBY", "n", "+1"],
        &["INCRBY", "n", "01"],
        &["INCRBY", "n", "-0"],
        &["INCRBY", "n", "1.5"],
        &["INCR", "s"],
        &["SET", "big", "9223372036854775807"],
        &["INCR", "big"],
        &["SET", "small", "-9223372036854775808"],
        &["DECR", "small"],
        &["DECRBY", "n", "-9223372036854775808"],
        &["SET", "padded", "01"],
        &["INCR", "padded"],
        &["SET", "plus", "+1"],
        &["INCR", "plus"],
        &["SET", "e", "v", "EX", "0"],
        &["SET", "e", "v", "EX", "-5"],
        &["SET", "e", "v", "EX", "9223372036854776"],
        &["SET", "e", "v", "EX", "x"],
        &["SET", "e", "v", "NX", "XX"],
        &["SET", "e", "v", "EX", "10", "PX", "10"],
        &["SETEX", "e", "0", "v"],
        &["PSETEX", "e", "-1", "v"],
        &["SETEX", "e", "100", "v"],
        &["TTL", "e"],
        &["PERSIST", "e"],
        &["PERSIST", "e"],
        &["TTL", "e"],
        &["TTL", "missing"],
        &["PTTL", "missing"],
        &["EXPIRE", "e", "-9223372036854776"],
        &["EXPIRE", "e", "9223372036854776"],
        &["EXPIRE", "e", "100", "FOO"],
        &["EXPIRE", "e", "100", "NX"],
        &["EXPIRE", "e", "200", "NX"],
        &["EXPIRE", "e", "50", "GT"],
        &["EXPIRE", "e", "500", "GT"],
        &["TTL", "e"],
        &["EXPIRE", "missing", "10"],
        &["PEXPIREAT", "e", "9223370000000000000"],
        &["EXPIRE", "e", "-1"],
        &["GET", "e"],
        &["GET"],
        &["SET", "k"],
        &["SETEX", "k", "1"],
        &["MSET", "a", "1", "b"],
        &["DEL"],
        &["INCRBY", "n"],
        &["ECHO", "hi"],
        &["PING"],
        &["PING", "hello"],
        &["SELECT", "0"],
        &["NOSUCHCOMMAND", "x"],
    ];
    lines
        .iter()
        .map(|words| words.iter().map(|w| w.as_bytes().to_vec()).collect())
        .collect()
}

/// Each request's reply at `addr`, a fresh connection for the whole
/// script.
fn replies(addr: &str) -> Vec<String> {
    let mut connection = Resp::connect(addr);
    script()
        .iter()
        .map(|request| {
            let args: Vec<&[u8]> = request.iter().map(Vec::as_slice).collect();
            connection.call(&args)
        })
        .collect()
}

#[test]
fn the_string_commands_answer_as_redis_answers() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("redis-server is not installed: the comparison with Redis is skipped");
        return;
    };
    let expected = replies(&redis.addr);
    let one = TcpCluster::settled(1);
    let ring = TcpCluster::settled(3);
    for (what, addr) in [
        ("one node", one.addrs()[0].clone()),
        ("a ring", ring.addrs()[1].clone()),
    ] {
        let got = replies(&addr);
        let mismatches: Vec<String> = script()
            .iter()
            .zip(expected.iter().zip(&got))
            .filter(|(_, (redis, chord))| redis != chord)
            .map(|(request, (redis, chord))| {
                let words: Vec<String> = request
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect();
                format!("{}: Redis {redis}, chord {chord}", words.join(" "))
            })
            .collect();
        assert!(
            mismatches.is_empty(),
            "{what}: {} of {} replies differ from Redis's:\n{}",
            mismatches.len(),
            expected.len(),
            mismatches.join("\n")
        );
    }
}
