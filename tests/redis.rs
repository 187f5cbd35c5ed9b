//! The Redis protocol, spoken by a real client library (the `redis`
//! crate) to every node of a ring: the commands chord serves, the errors
//! it gives for those it does not, and pipelining.

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, TcpCluster};
use redis::{Commands, Connection, RedisResult};

fn connect(addr: &str) -> Connection {
    redis::Client::open(format!("redis://{addr}/"))
        .expect("a client")
        .get_connection()
        .expect("a connection")
}

/// The error text of a request that must be refused.
fn refused(result: RedisResult<()>) -> String {
    result.expect_err("refused").to_string()
}

#[test]
fn a_redis_client_reads_and_writes_through_any_node() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    let mut first = connect(&addrs[0]);
    let mut second = connect(&addrs[1]);
    let () = first.set("greeting", "hello world").unwrap();
    assert_eq!(
        second
            .get::<_, Option<String>>("greeting")
            .unwrap()
            .as_deref(),
        Some("hello world")
    );
    let () = redis::cmd("MSET")
        .arg(&["a", "1", "b", "2", "c", "3"])
        .query(&mut second)
        .unwrap();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["a", "b", "nope", "c"])
        .query(&mut first)
        .unwrap();
    assert_eq!(
        values,
        vec![Some("1".into()), Some("2".into()), None, Some("3".into())]
    );
    let existing: i64 = redis::cmd("EXISTS")
        .arg(&["a", "nope", "b"])
        .query(&mut first)
        .unwrap();
    assert_eq!(existing, 2);
    let deleted: i64 = redis::cmd("DEL")
        .arg(&["a", "b", "nope"])
        .query(&mut second)
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(first.get::<_, Option<String>>("a").unwrap(), None);
    let pong: String = redis::cmd("PING").query(&mut first).unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = redis::cmd("ECHO").arg("x y").query(&mut first).unwrap();
    assert_eq!(echo, "x y");
    let () = redis::cmd("SELECT").arg(0).query(&mut first).unwrap();
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut first)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query(&mut first)
        .unwrap();
    assert_eq!(name.as_deref(), Some("tester"));
    let size: i64 = redis::cmd("DBSIZE").query(&mut first).unwrap();
    assert!(size >= 1, "{size}");
    let info: String = redis::cmd("INFO").query(&mut first).unwrap();
    assert!(
        info.contains("# Chord") && info.contains("successors:"),
        "{info}"
    );
    let ring: Vec<String> = redis::cmd("CHORD").arg("RING").query(&mut first).unwrap();
    assert_eq!(ring.len(), 3, "{ring:?}");
    let lookup: Vec<String> = redis::cmd("CHORD")
        .arg("LOOKUP")
        .arg("greeting")
        .query(&mut first)
        .unwrap();
    assert!(lookup[0].contains("hops="), "{lookup:?}");
}

#[test]
fn what_chord_does_not_serve_yet_is_refused_by_name() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let mut con = connect(&cluster.addrs()[0]);
    let ifeq = redis::cmd("SET")
        .arg(&["k", "v", "IFEQ", "w"])
        .query(&mut con);
    assert!(refused(ifeq).contains("IFEQ"));
    let both = redis::cmd("EXPIRE")
        .arg(&["k", "10", "NX", "GT"])
        .query(&mut con);
    assert!(refused(both).contains("not compatible"));
    let () = con.set("text", "abc").unwrap();
    assert!(refused(redis::cmd("INCR").arg("text").query(&mut con)).contains("not an integer"));
    assert!(refused(redis::cmd("SELECT").arg(1).query(&mut con)).contains("database 0"));
    // The connection is still usable after each refusal.
    let () = con.set("k", "v").unwrap();
}

/// `HELLO 3` switches the connection to RESP3 (maps, `_` for none), and
/// `HELLO 2` back; `HELLO` answers the fields Redis gives.
#[test]
fn hello_3_speaks_resp3_and_hello_2_speaks_resp2_again() {
    use std::io::{Read, Write};
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let mut stream = std::net::TcpStream::connect(&cluster.addrs()[0]).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut ask = |request: &str, ends: &str| -> String {
        stream.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&got).ends_with(ends) {
            stream.read_exact(&mut byte).unwrap();
            got.push(byte[0]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    let hello = ask("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", "*0\r\n");
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n"), "{hello:?}");
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello:?}");
    assert!(
        hello.contains("$4\r\nmode\r\n$7\r\ncluster\r\n"),
        "{hello:?}"
    );
    assert!(hello.contains("$2\r\nid\r\n:"), "{hello:?}");
    assert_eq!(ask("*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", "\r\n"), "_\r\n");
    let hello = ask("*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n", "*0\r\n");
    assert!(hello.starts_with("*14\r\n"), "{hello:?}");
    assert_eq!(ask("*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", "\r\n"), "$-1\r\n");
}

/// A client library that opens with `HELLO 3` (the `redis` crate asked
/// for RESP3) works as with RESP2.
#[test]
fn a_resp3_client_reads_and_writes() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let mut con = redis::Client::open(format!("redis://{}/?protocol=resp3", cluster.addrs()[0]))
        .expect("a client")
        .get_connection()
        .expect("a RESP3 connection");
    let () = con.set("k", "v").unwrap();
    assert_eq!(
        con.get::<_, Option<String>>("k").unwrap().as_deref(),
        Some("v")
    );
    assert_eq!(con.get::<_, Option<String>>("none").unwrap(), None);
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["k", "none"])
        .query(&mut con)
        .unwrap();
    assert_eq!(values, vec![Some("v".to_string()), None]);
}

/// A Redis client authenticates with AUTH, or with HELLO's AUTH, and is
/// answered in Redis's words.
#[test]
fn a_redis_client_authenticates_with_auth_or_hello() {
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.password = Some("open sesame".into());
    let server = chord::Server::start(config).expect("start");
    let mut redis = common::Resp::connect(&server.addr());
    assert_eq!(
        redis.call(&[b"GET", b"k"]),
        "-NOAUTH Authentication required."
    );
    assert!(redis
        .call(&[b"HELLO", b"2"])
        .starts_with("-NOAUTH HELLO must be called"));
    assert_eq!(
        redis.call(&[b"HELLO", b"2", b"AUTH", b"default", b"wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    let hello = redis.call(&[
        b"HELLO",
        b"2",
        b"AUTH",
        b"default",
        b"open sesame",
        b"SETNAME",
        b"me",
    ]);
    assert!(hello.contains("$\"cluster\""), "{hello}");
    assert_eq!(redis.call(&[b"CLIENT", b"GETNAME"]), "$\"me\"");
    assert_eq!(redis.call(&[b"SET", b"k", b"v"]), "+OK");
    assert_eq!(redis.call(&[b"GET", b"k"]), "$\"v\"");
}

/// RANDOMKEY: none in an empty ring, else one of the ring's keys, from
/// any node.
#[test]
fn randomkey_names_a_key_of_the_ring() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    let mut con = connect(&addrs[0]);
    let none: Option<String> = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
    assert_eq!(none, None);
    let keys = ["apple", "pear", "plum", "fig", "kiwi"];
    for key in keys {
        let () = con.set(key, "fruit").unwrap();
    }
    for addr in &addrs {
        let mut con = connect(addr);
        for _ in 0..10 {
            let key: Option<String> = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
            let key = key.expect("a key");
            assert!(keys.contains(&key.as_str()), "{key}");
        }
    }
}

/// CLIENT LIST: a line per connected client, with the name each set; a
/// client that left is gone from it.
#[test]
fn client_list_shows_the_clients_connected_now() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let addr = cluster.addrs()[0].clone();
    let mut first = connect(&addr);
    let mut second = connect(&addr);
    let () = redis::cmd("CLIENT")
        .arg(&["SETNAME", "first"])
        .query(&mut first)
        .unwrap();
    let () = redis::cmd("CLIENT")
        .arg(&["SETNAME", "second"])
        .query(&mut second)
        .unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut first).unwrap();
    assert!(
        list.contains(" name=first ") && list.contains(" name=second "),
        "{list}"
    );
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut second).unwrap();
    assert!(list.contains(&format!("id={id} ")), "{list}");
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut first).unwrap();
        if !list.contains(" name=second ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a closed client is still listed: {list}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Keys that share a hash tag share an owner and its replicas, through
/// any node; keys without one are placed by their whole name.
#[test]
fn keys_with_one_hash_tag_share_an_owner() {
    let cluster = TcpCluster::settled(4);
    let addrs = cluster.addrs();
    let mut con = connect(&addrs[0]);
    let owner = |con: &mut Connection, key: &str| -> String {
        let lines: Vec<String> = redis::cmd("CHORD")
            .arg(&["LOOKUP", key])
            .query(con)
            .unwrap();
        let words: Vec<&str> = lines[0].split(' ').collect();
        format!("{} {}", words[0], words[2])
    };
    let first = owner(&mut con, "{user:42}:name");
    for key in ["{user:42}:mail", "{user:42}", "x{user:42}y"] {
        assert_eq!(owner(&mut con, key), first, "{key}");
    }
    let () = con.set("{user:42}:name", "Ada").unwrap();
    let mut other = connect(&addrs[3]);
    assert_eq!(
        other
            .get::<_, Option<String>>("{user:42}:name")
            .unwrap()
            .as_deref(),
        Some("Ada")
    );
    // Untagged keys spread as the paper places them.
    let owners: std::collections::HashSet<String> = (0..40)
        .map(|i| owner(&mut con, &format!("user:{i}")))
        .map(|line| line.split(' ').nth(1).unwrap_or("").to_string())
        .collect();
    assert!(owners.len() > 1, "{owners:?}");
}

/// The server's own commands: INFO by section, CONFIG GET and SET of the
/// memory bound, CLIENT ID and INFO, TIME.
#[test]
fn info_config_client_and_time_answer_as_redis_clients_expect() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let mut con = connect(&cluster.addrs()[0]);
    let info = |con: &mut Connection, section: &str| -> String {
        redis::cmd("INFO").arg(section).query(con).unwrap()
    };
    let cpu = info(&mut con, "cpu");
    assert!(cpu.starts_with("# CPU\r\nused_cpu_sys:"), "{cpu}");
    assert!(!cpu.contains("# Keyspace"), "{cpu}");
    assert!(info(&mut con, "memory").contains("mem_allocator:libc"));
    assert_eq!(info(&mut con, "nosuchsection"), "");
    let everything = info(&mut con, "everything");
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Stats",
        "# CPU",
        "# Keyspace",
        "# Chord",
        "# Commandstats",
    ] {
        assert!(everything.contains(section), "{section} missing");
    }
    // Per command as typed: calls, time, and calls refused before running
    // (a wrong number of arguments) or while running (INCR of text).
    let () = con.set("text", "abc").unwrap();
    let _ = redis::cmd("INCR").arg("text").query::<i64>(&mut con);
    let _ = redis::cmd("GET").query::<()>(&mut con);
    let _ = redis::cmd("NOSUCHCOMMAND").query::<()>(&mut con);
    let stats = info(&mut con, "commandstats");
    assert!(stats.starts_with("# Commandstats\r\n"), "{stats}");
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert!(
        stats.contains("cmdstat_incr:calls=1,") && stats.contains("failed_calls=1"),
        "{stats}"
    );
    assert!(
        stats.contains("cmdstat_get:calls=1,") && stats.contains("rejected_calls=1"),
        "{stats}"
    );
    assert!(!stats.contains("nosuchcommand"), "{stats}");
    let default: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(
        !default.contains("# Commandstats"),
        "not in the default INFO"
    );
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "2mb"])
        .query(&mut con)
        .unwrap();
    let bound: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxmemory"])
        .query(&mut con)
        .unwrap();
    assert_eq!(bound, vec!["maxmemory".to_string(), "2097152".to_string()]);
    let refused: RedisResult<()> = redis::cmd("CONFIG")
        .arg(&["SET", "appendonly", "yes"])
        .query(&mut con);
    assert!(refused.unwrap_err().to_string().contains("'appendonly'"));
    let refused: RedisResult<()> = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "lots"])
        .query(&mut con);
    assert!(refused.unwrap_err().to_string().contains("'lots'"));
    let big = vec![b'x'; 60 * 1024];
    let mut full = None;
    for i in 0..100 {
        if let Err(e) = con.set::<_, _, ()>(format!("big{i}"), &big) {
            full = Some(e.to_string());
            break;
        }
    }
    let full = full.expect("a 2 MiB bound refuses 6 MB of values");
    assert!(full.contains("OOM"), "{full}");
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let me: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(me.starts_with(&format!("id={id} addr=127.0.0.1:")), "{me}");
    let time: Vec<String> = redis::cmd("TIME").query(&mut con).unwrap();
    let seconds: u64 = time[0].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(seconds.abs_diff(now) <= 1, "{time:?}");
    assert!(time[1].parse::<u64>().unwrap() < 1_000_000);
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let cluster = TcpCluster::settled(2);
    let mut con = connect(&cluster.addrs()[1]);
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    for i in 0..200 {
        pipe.cmd("GET").arg(format!("p{i}"));
    }
    let values: Vec<String> = pipe.query(&mut con).unwrap();
    assert_eq!(values.len(), 200);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v, &i.to_string());
    }
}

/// `INFO commandstats` gives each kind of command its cost at this node:
/// the serving thread's CPU per call and the peer calls per call. A SET
/// through a ring of four asks the owner and copies to two replicas; a GET
/// asks the owner alone. `STATS` gives the same, per command.
#[test]
fn each_command_kind_shows_its_cpu_and_peer_calls() {
    let cluster = TcpCluster::settled(4);
    let addr = &cluster.addrs()[1];
    let mut con = connect(addr);
    // Forty of each, one after another: a connection's CPU is read for
    // one batch in sixteen, so both kinds have some timed.
    for i in 0..40 {
        let () = con.set(format!("kind-{i}"), i).unwrap();
    }
    for i in 0..40 {
        let _: String = con.get(format!("kind-{i}")).unwrap();
    }
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    let field = |command: &str, name: &str| -> f64 {
        let line = info
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{command}:")))
            .unwrap_or_else(|| panic!("no {command} in {info}"));
        line.split([':', ','])
            .find_map(|f| f.strip_prefix(&format!("{name}="))?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    assert_eq!(field("set", "calls"), 40.0);
    let (set, get) = (
        field("set", "peer_calls_per_call"),
        field("get", "peer_calls_per_call"),
    );
    assert!((2.0..=3.0).contains(&set), "a SET made {set} peer calls");
    assert!(get <= 1.0 && get < set, "a GET made {get} peer calls");
    assert!(field("set", "cpu_usec_per_call") > 0.0, "{info}");
    assert!(field("get", "cpu_usec_per_call") > 0.0, "{info}");
    let lines = chord::client::Client::connect(addr, Duration::from_secs(10))
        .and_then(|mut c| c.request("STATS"))
        .expect("STATS");
    for name in [
        "command_set_calls=40",
        "command_set_peer_calls=",
        "command_get_cpu_us=",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(name)),
            "no {name} in {lines:?}"
        );
    }
}

/// A pipeline's runs of plain SETs and GETs are carried out together, each
/// answered as alone: a key set twice keeps the later value, a command
/// between runs (INCR, SET NX) sees the writes before it, and the runs
/// cost far fewer peer calls than the same requests sent one at a time.
#[test]
fn pipelined_runs_are_answered_as_alone_with_fewer_peer_calls() {
    let cluster = TcpCluster::settled(4);
    let node = cluster.servers()[1].node().clone();
    let mut con = connect(&cluster.addrs()[1]);
    let counters = || {
        let report = node.stats().report();
        let get = |name: &str| -> u64 {
            report
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in STATS"))
        };
        (get("client_requests"), get("client_peer_calls"))
    };
    let per_request = |before: (u64, u64), after: (u64, u64)| {
        (after.1 - before.1) as f64 / (after.0 - before.0) as f64
    };
    let start = counters();
    for i in 0..64 {
        let () = con.set(format!("one-{i}"), i).unwrap();
    }
    let alone = per_request(start, counters());
    let before = counters();
    let mut pipe = redis::pipe();
    for i in 0..64 {
        pipe.cmd("SET").arg(format!("run-{i}")).arg(i).ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let piped = per_request(before, counters());
    // Alone, a SET asks the owner, then copies to two replicas: about 2.75
    // calls. In a run, each remote owner is asked once a key, and each
    // node gets the copies of all the run's keys in one message.
    assert!(
        alone >= 2.0 && piped <= 1.25,
        "{piped} peer calls per pipelined SET, {alone} alone"
    );
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("run-0").arg("later").ignore();
    pipe.cmd("INCR").arg("run-1");
    pipe.cmd("SET").arg("run-2").arg("x").arg("NX");
    for i in 0..64 {
        pipe.cmd("GET").arg(format!("run-{i}"));
    }
    pipe.cmd("GET").arg("nobody");
    let (incremented, set_nx, values, nobody): (i64, Option<String>, Vec<String>, Option<String>) = {
        let mut answers: Vec<redis::Value> = pipe.query(&mut con).unwrap();
        assert_eq!(answers.len(), 67);
        let nobody = redis::from_redis_value(answers.pop().unwrap()).unwrap();
        let values = answers
            .split_off(2)
            .into_iter()
            .map(|v| redis::from_redis_value(v).unwrap())
            .collect();
        let set_nx = redis::from_redis_value(answers.pop().unwrap()).unwrap();
        let incremented = redis::from_redis_value(answers.pop().unwrap()).unwrap();
        (incremented, set_nx, values, nobody)
    };
    assert_eq!((incremented, set_nx, nobody), (2, None, None));
    assert_eq!(values[0], "later");
    assert_eq!(values[1], "2");
    for (i, value) in values.iter().enumerate().skip(2) {
        assert_eq!(value, &i.to_string());
    }
}

#[test]
fn set_nx_and_xx_are_checked_at_the_owner() {
    let cluster = TcpCluster::settled(3);
    let mut con = connect(&cluster.addrs()[2]);
    let set = |con: &mut Connection, option: &str, value: &str| -> Option<String> {
        redis::cmd("SET")
            .arg("once")
            .arg(value)
            .arg(option)
            .query(con)
            .unwrap()
    };
    assert_eq!(
        set(&mut con, "XX", "a"),
        None,
        "XX on a missing key writes nothing"
    );
    assert_eq!(con.get::<_, Option<String>>("once").unwrap(), None);
    assert_eq!(set(&mut con, "NX", "b").as_deref(), Some("OK"));
    assert_eq!(
        set(&mut con, "NX", "c"),
        None,
        "NX on a present key writes nothing"
    );
    assert_eq!(set(&mut con, "XX", "d").as_deref(), Some("OK"));
    assert_eq!(
        con.get::<_, Option<String>>("once").unwrap().as_deref(),
        Some("d")
    );
}

/// The original brief's integers: ten clients increment one counter a
/// hundred times each through different nodes, at once; not one increment
/// is lost.
#[test]
fn concurrent_increments_through_many_nodes_lose_none() {
    let cluster = TcpCluster::settled(4);
    let addrs = cluster.addrs();
    let threads: Vec<_> = (0..10)
        .map(|t| {
            let addr = addrs[t % addrs.len()].clone();
            std::thread::spawn(move || {
                let mut con = connect(&addr);
                for _ in 0..100 {
                    let _: i64 = redis::cmd("INCR").arg("counter").query(&mut con).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread");
    }
    let mut con = connect(&addrs[0]);
    assert_eq!(con.get::<_, String>("counter").unwrap(), "1000");
    let after: i64 = redis::cmd("INCRBY")
        .arg("counter")
        .arg(-1000)
        .query(&mut con)
        .unwrap();
    assert_eq!(after, 0);
    let down: i64 = redis::cmd("DECR").arg("counter").query(&mut con).unwrap();
    assert_eq!(down, -1);
}

/// SCAN walks the whole ring from any node: every key once at least, the
/// pattern applied, and the cursor back at 0 at the end.
/// Every key matching `pattern` that SCAN finds from `addr`, walking the
/// whole ring.
fn scan_all(addr: &str, pattern: &str) -> std::collections::BTreeSet<String> {
    let mut con = connect(addr);
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = 0u64;
    for calls in 0.. {
        assert!(calls < 10_000, "the scan never came round");
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(50)
            .query(&mut con)
            .unwrap();
        seen.extend(keys);
        if next == 0 {
            return seen;
        }
        cursor = next;
    }
    unreachable!("the loop returns or panics")
}

/// FLUSHALL through one node clears the whole ring: no node holds a key,
/// SCAN finds none from anywhere, and the ring counts none; a write after
/// it is kept. FLUSHDB is the same, and takes ASYNC and SYNC.
#[test]
fn flushall_clears_the_whole_ring_through_any_node() {
    let cluster = TcpCluster::settled(4);
    let addrs = cluster.addrs();
    let mut con = connect(&addrs[1]);
    for i in 0..200 {
        let () = con.set(format!("flush-{i}"), i).unwrap();
    }
    assert_eq!(scan_all(&addrs[0], "*").len(), 200);
    let () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    for addr in &addrs {
        let mut each = connect(addr);
        let size: i64 = redis::cmd("DBSIZE").query(&mut each).unwrap();
        assert_eq!(size, 0, "{addr} still holds keys");
        assert!(scan_all(addr, "*").is_empty(), "SCAN from {addr}");
        let count: i64 = redis::cmd("CHORD").arg("COUNT").query(&mut each).unwrap();
        assert_eq!(count, 0, "CHORD COUNT from {addr}");
        let gone: Option<String> = each.get("flush-7").unwrap();
        assert_eq!(gone, None);
    }
    let () = con.set("after", "kept").unwrap();
    let mut other = connect(&addrs[3]);
    let () = redis::cmd("FLUSHDB")
        .arg("ASYNC")
        .query(&mut other)
        .unwrap();
    assert_eq!(other.get::<_, Option<String>>("after").unwrap(), None);
    let () = con.set("after", "kept").unwrap();
    let () = redis::cmd("FLUSHALL")
        .arg("sync")
        .query(&mut other)
        .unwrap();
    let () = con.set("after", "kept").unwrap();
    assert_eq!(
        scan_all(&addrs[2], "*").into_iter().collect::<Vec<_>>(),
        ["after"]
    );
    let wrong = redis::cmd("FLUSHALL").arg("LATER").query::<()>(&mut con);
    assert!(refused(wrong).contains("syntax error"));
    let many = redis::cmd("FLUSHALL")
        .arg("SYNC")
        .arg("ASYNC")
        .query::<()>(&mut con);
    assert!(refused(many).contains("wrong number of arguments"));
}

/// A node started with `--no-flushall` refuses FLUSHALL, and nothing is
/// flushed.
#[test]
fn a_node_can_refuse_flushall() {
    let mut config = chord::server::ServerConfig::new("127.0.0.1:0", common::node_config(160));
    config.flush_allowed = false;
    let server = chord::server::Server::start(config).expect("a node");
    let mut con = connect(&server.addr());
    let () = con.set("precious", "yes").unwrap();
    let answer = redis::cmd("FLUSHALL").query::<()>(&mut con);
    assert!(refused(answer).contains("--no-flushall"));
    assert_eq!(
        con.get::<_, Option<String>>("precious").unwrap().as_deref(),
        Some("yes")
    );
}

#[test]
fn scan_sees_every_key_of_the_ring_from_any_node() {
    let cluster = TcpCluster::settled(5);
    let addrs = cluster.addrs();
    let mut writer = connect(&addrs[0]);
    for i in 0..300 {
        let () = writer.set(format!("scan-{i}"), i).unwrap();
    }
    let () = writer.set("other", "x").unwrap();
    for addr in &addrs[..2] {
        let seen = scan_all(addr, "scan-*");
        assert_eq!(seen.len(), 300, "from {addr}");
        assert!(!seen.contains("other"));
    }
}

#[test]
fn values_are_binary_safe_and_the_text_protocol_shows_them_escaped() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    // Every byte value, line breaks and NUL among them, and not UTF-8.
    let every_byte: Vec<u8> = (0..=255).collect();
    let () = connect(&addrs[0]).set("bytes", &every_byte).unwrap();
    let read: Vec<u8> = connect(&addrs[1]).get("bytes").unwrap();
    assert_eq!(read, every_byte);
    let () = redis::cmd("MSET")
        .arg("a")
        .arg(&b"\x00\xff"[..])
        .arg("b")
        .arg("two\r\nlines")
        .query(&mut connect(&addrs[2]))
        .unwrap();

    let mut text = chord::client::Client::connect(&addrs[2], std::time::Duration::from_secs(10))
        .expect("connect");
    let escaped = format!("BYTES {}", every_byte.escape_ascii());
    assert_eq!(text.line("GET bytes").unwrap(), escaped);
    assert_eq!(text.line("GET a").unwrap(), "BYTES \\x00\\xff");
    assert_eq!(text.line("GET b").unwrap(), "BYTES two\\r\\nlines");
    // Text typed in stays text.
    assert_eq!(text.line("PUT c plain words").unwrap(), "OK");
    assert_eq!(text.line("GET c").unwrap(), "VALUE plain words");
    // The ring's keys, each once: bytes, a, b and c.
    let count: i64 = redis::cmd("CHORD")
        .arg("COUNT")
        .query(&mut connect(&addrs[0]))
        .unwrap();
    assert_eq!(count, 4);
}

/// Keys are bytes, as values are: a key that is not UTF-8 (NUL, 0xff, a
/// line break) is written, read, listed and deleted through any node, and
/// the text protocol lists it escaped.
#[test]
fn keys_are_binary_safe_and_the_text_protocol_lists_them_escaped() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    let key: &[u8] = b"bin\x00\xff\r\nkey";
    let () = connect(&addrs[0]).set(key, "binary").unwrap();
    let read: Option<String> = connect(&addrs[1]).get(key).unwrap();
    assert_eq!(read.as_deref(), Some("binary"));
    let listed: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("bin*")
        .query(&mut connect(&addrs[2]))
        .unwrap();
    assert_eq!(listed, [key.to_vec()]);
    let mut text = chord::client::Client::connect(&addrs[2], std::time::Duration::from_secs(10))
        .expect("connect");
    let lines = text.request("KEYS bin*").unwrap();
    assert_eq!(lines, ["\"bin\\x00\\xff\\r\\nkey\""]);
    // And read back by that name: any key redis-cli wrote can be named.
    let read = text.line(&format!("GET {}", lines[0])).unwrap();
    assert_eq!(read, "VALUE binary");
    // A key with a space, written through RESP, read in the text protocol.
    let () = connect(&addrs[0]).set("my key", "spaced").unwrap();
    assert_eq!(text.line("GET \"my key\"").unwrap(), "VALUE spaced");
    assert_eq!(text.line("GET 'my key'").unwrap(), "VALUE spaced");
    let deleted: i64 = redis::cmd("DEL")
        .arg(key)
        .query(&mut connect(&addrs[2]))
        .unwrap();
    assert_eq!(deleted, 1);
    let gone: Option<String> = connect(&addrs[0]).get(key).unwrap();
    assert_eq!(gone, None);
}

/// A 10 MiB value is written through one node and read whole through
/// another, from its owner and after the owner dies, from a replica; a
/// value past the node's bound (16 MiB) and a key past 64 KiB are refused
/// with errors that name the bound, and the connection goes on.
#[test]
fn big_values_and_long_keys_travel_whole_and_their_bounds_are_named() {
    let mut cluster = TcpCluster::settled(4);
    let addrs = cluster.addrs();
    let big: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut con = connect(&addrs[0]);
    let () = con.set("big", &big).unwrap();
    let read: Vec<u8> = connect(&addrs[2]).get("big").unwrap();
    assert!(
        read == big,
        "the value came back changed ({} bytes)",
        read.len()
    );
    let owner = cluster.live()[0]
        .lookup("big")
        .expect("lookup")
        .1
        .owner()
        .clone();
    cluster.kill(&owner.addr);
    let survivor = cluster.addrs()[0].clone();
    let read: Vec<u8> = connect(&survivor).get("big").unwrap();
    assert!(
        read == big,
        "a replica's copy differs ({} bytes)",
        read.len()
    );

    let mut con = connect(&survivor);
    let too_big = vec![b'x'; chord::store::DEFAULT_MAX_VALUE + 1];
    let error = refused(con.set("huge", &too_big));
    assert!(
        error.contains("longer than the 16777216 allowed"),
        "{error}"
    );
    let long_key = vec![b'k'; chord::store::MAX_KEY];
    let () = con.set(&long_key, "fits").unwrap();
    let read: Option<String> = con.get(&long_key).unwrap();
    assert_eq!(read.as_deref(), Some("fits"));
    let error = refused(con.set(vec![b'k'; chord::store::MAX_KEY + 1], "no"));
    assert!(error.contains("65536"), "{error}");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

/// A transaction on keys of one hash tag runs at their owner with no
/// other write between its commands: ten clients through different nodes
/// each add 1 to two counters in one transaction, 50 times, and every
/// EXEC sees the two equal. Keys without a shared tag get CROSSSLOT.
#[test]
fn transactions_on_one_hash_tag_are_atomic_and_others_get_crossslot() {
    let cluster = TcpCluster::settled(4);
    let addrs = cluster.addrs();
    let (tx, rx) = std::sync::mpsc::channel();
    let workers: Vec<_> = (0..10)
        .map(|i| {
            let addr = addrs[i % addrs.len()].clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut con = connect(&addr);
                for _ in 0..50 {
                    let (x, y): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("{pair}:x", 1)
                        .incr("{pair}:y", 1)
                        .query(&mut con)
                        .expect("a transaction");
                    tx.send((x, y)).expect("the test waits");
                }
            })
        })
        .collect();
    drop(tx);
    for worker in workers {
        worker.join().expect("a worker");
    }
    let seen: Vec<(i64, i64)> = rx.iter().collect();
    assert_eq!(seen.len(), 500);
    assert!(seen.iter().all(|(x, y)| x == y), "interleaved: {seen:?}");
    let mut sums: Vec<i64> = seen.iter().map(|(x, _)| *x).collect();
    sums.sort_unstable();
    assert_eq!(sums, (1..=500).collect::<Vec<_>>(), "each counted once");

    let mut con = connect(&addrs[1]);
    let crossed = redis::pipe()
        .atomic()
        .set("plain-a", 1)
        .set("plain-b", 2)
        .query::<()>(&mut con);
    let error = refused(crossed);
    assert!(error.to_uppercase().contains("CROSSSLOT"), "{error}");
    assert_eq!(con.get::<_, Option<String>>("plain-a").unwrap(), None);
    let error = refused(
        redis::cmd("MSETNX")
            .arg(&["a", "1", "b", "2"])
            .query(&mut con),
    );
    assert!(error.to_uppercase().contains("CROSSSLOT"), "{error}");
    let error = refused(redis::cmd("RENAME").arg(&["a", "b"]).query(&mut con));
    assert!(error.to_uppercase().contains("CROSSSLOT"), "{error}");
    let error = refused(redis::cmd("WATCH").arg("a").query(&mut con));
    assert!(error.contains("WATCH is not served"), "{error}");
    let () = redis::cmd("MULTI").query(&mut con).unwrap();
    let error = refused(redis::cmd("SCAN").arg(0).query(&mut con));
    assert!(error.contains("not served inside MULTI"), "{error}");
    let error = refused(redis::cmd("EXEC").query(&mut con));
    assert!(error.to_uppercase().contains("EXECABORT"), "{error}");
}

/// MSET, MGET and DEL of many keys send their first attempts together, and
/// each key keeps a single write's promise: R copies before OK, even when
/// a node has just died and the tables still name it.
#[test]
fn many_keys_at_once_are_each_written_as_one_write_is() {
    let mut cluster = TcpCluster::settled(5);
    let keys = common::keys("many", 40);
    let addrs = cluster.addrs();
    let mut mset = redis::cmd("MSET");
    for key in &keys {
        mset.arg(key).arg(common::value_of(key));
    }
    let () = mset.query(&mut connect(&addrs[0])).unwrap();
    assert!(common::keys_are_at_their_holders(&cluster.live(), &keys));
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&keys)
        .query(&mut connect(&addrs[1]))
        .unwrap();
    let expected: Vec<Option<String>> = keys.iter().map(|k| Some(common::value_of(k))).collect();
    assert_eq!(values, expected);

    // A node dies; before the ring notices, the batch goes through anyway.
    cluster.kill(&addrs[3]);
    let mut mset = redis::cmd("MSET");
    for key in &keys {
        mset.arg(key).arg("second");
    }
    let () = mset.query(&mut connect(&addrs[0])).unwrap();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&keys)
        .query(&mut connect(&addrs[2]))
        .unwrap();
    assert!(
        values.iter().all(|v| v.as_deref() == Some("second")),
        "{values:?}"
    );
    let deleted: i64 = redis::cmd("DEL")
        .arg(&keys)
        .arg("never-written")
        .query(&mut connect(&addrs[4]))
        .unwrap();
    assert_eq!(deleted, 40);
    let existing: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .query(&mut connect(&addrs[1]))
        .unwrap();
    assert_eq!(existing, 0);

    // A key named twice ends as the last pair says, and is deleted once.
    let mut con = connect(&addrs[1]);
    for _ in 0..20 {
        let () = redis::cmd("MSET")
            .arg(&["twice", "first", "other", "x", "twice", "last"])
            .query(&mut con)
            .unwrap();
        assert_eq!(con.get::<_, String>("twice").unwrap(), "last");
    }
    let deleted: i64 = redis::cmd("DEL")
        .arg(&["twice", "twice"])
        .query(&mut con)
        .unwrap();
    assert_eq!(deleted, 1);
}

/// Key expiry with Redis's replies, through different nodes of a ring:
/// `SET ... PX`, `TTL`/`PTTL` (-1 and -2 included), `EXPIRE`, `PERSIST`,
/// `KEEPTTL`, an `INCR` that keeps the expiry and a `SET` that clears it,
/// and a key that is gone, for every node, once its time has passed.
#[test]
fn keys_expire_through_any_node_as_in_redis() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    let (mut a, mut b, mut c) = (connect(&addrs[0]), connect(&addrs[1]), connect(&addrs[2]));
    let int = |con: &mut Connection, args: &[&str]| -> i64 {
        redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap()
    };
    let ok = |con: &mut Connection, args: &[&str]| {
        let () = redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap();
    };

    ok(&mut a, &["SET", "brief", "v", "PX", "700"]);
    assert_eq!(
        b.get::<_, Option<String>>("brief").unwrap().as_deref(),
        Some("v")
    );
    let left = int(&mut c, &["PTTL", "brief"]);
    assert!((1..=700).contains(&left), "{left}");
    assert_eq!(int(&mut c, &["TTL", "missing"]), -2);
    ok(&mut a, &["SET", "lasting", "1"]);
    assert_eq!(int(&mut b, &["TTL", "lasting"]), -1);

    // EXPIRE and PERSIST answer whether they changed anything.
    assert_eq!(int(&mut b, &["EXPIRE", "lasting", "100"]), 1);
    assert!((99..=100).contains(&int(&mut c, &["TTL", "lasting"])));
    assert_eq!(
        int(&mut c, &["INCR", "lasting"]),
        2,
        "INCR keeps the expiry"
    );
    assert!(int(&mut a, &["TTL", "lasting"]) > 0);
    ok(&mut b, &["SET", "lasting", "3", "KEEPTTL"]);
    assert!(int(&mut c, &["TTL", "lasting"]) > 0, "KEEPTTL keeps it");
    assert_eq!(int(&mut a, &["PERSIST", "lasting"]), 1);
    assert_eq!(int(&mut b, &["PERSIST", "lasting"]), 0, "nothing to remove");
    assert_eq!(int(&mut c, &["TTL", "lasting"]), -1);
    assert_eq!(int(&mut a, &["EXPIRE", "missing", "10"]), 0);
    // Redis 7's conditions: a key with no expiry expires never.
    assert_eq!(int(&mut b, &["EXPIRE", "lasting", "100", "XX"]), 0);
    assert_eq!(int(&mut b, &["EXPIRE", "lasting", "100", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "lasting", "100", "NX"]), 1);
    assert_eq!(int(&mut a, &["EXPIRE", "lasting", "50", "NX"]), 0);
    assert_eq!(int(&mut b, &["EXPIRE", "lasting", "50", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "lasting", "50", "LT"]), 1);
    assert_eq!(int(&mut a, &["EXPIRE", "lasting", "80", "XX"]), 1);
    assert!((79..=80).contains(&int(&mut b, &["TTL", "lasting"])));
    assert_eq!(int(&mut c, &["PERSIST", "lasting"]), 1);
    ok(&mut b, &["SETEX", "lasting", "50", "4"]);
    ok(&mut c, &["SET", "lasting", "5"]);
    assert_eq!(
        int(&mut a, &["TTL", "lasting"]),
        -1,
        "a plain SET clears it"
    );
    let at = int(&mut b, &["EXPIRETIME", "brief"]);
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((unix - 1..=unix + 1).contains(&at), "{at} {unix}");

    // A time already passed deletes; a non-positive SET expiry is refused.
    ok(&mut a, &["SET", "doomed", "x"]);
    assert_eq!(int(&mut b, &["EXPIRE", "doomed", "-1"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "doomed"]), 0);
    let refused: RedisResult<()> = redis::cmd("SET").arg(&["k", "v", "EX", "0"]).query(&mut a);
    assert!(refused
        .unwrap_err()
        .to_string()
        .contains("invalid expire time"));

    // Once its time passes, no node has the key.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.get::<_, Option<String>>("brief").unwrap().is_some() {
        assert!(Instant::now() < deadline, "brief never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
    for con in [&mut b, &mut c] {
        assert_eq!(con.get::<_, Option<String>>("brief").unwrap(), None);
        assert_eq!(int(con, &["TTL", "brief"]), -2);
        let (_, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(0)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .unwrap();
        assert!(!keys.contains(&"brief".to_string()), "{keys:?}");
    }
    let size: i64 = redis::cmd("CHORD").arg("COUNT").query(&mut a).unwrap();
    assert_eq!(size, 1, "only 'lasting' is left");
}

/// `DBSIZE` and `INFO`'s keyspace line count keys with a value: not the
/// tombstone a delete leaves, and `expires` counts those that expire.
#[test]
fn dbsize_counts_keys_not_tombstones() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let mut con = connect(&cluster.addrs()[0]);
    for key in ["a", "b", "c"] {
        let () = con.set(key, "v").unwrap();
    }
    let () = redis::cmd("SET")
        .arg(&["d", "v", "EX", "1000"])
        .query(&mut con)
        .unwrap();
    let deleted: i64 = redis::cmd("DEL").arg("a").query(&mut con).unwrap();
    assert_eq!(deleted, 1);
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 3, "b, c, d");
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(info.contains("db0:keys=3,expires=1\r\n"), "{info}");
}

/// The small string commands tools reach for: `TYPE`, `STRLEN`, `SETNX`,
/// and `KEYS`, which answers up to 1,000 matches from the whole ring and
/// past that says to use `SCAN` rather than hold every key in memory.
#[test]
fn type_strlen_setnx_and_bounded_keys() {
    let cluster = TcpCluster::settled(2);
    let addrs = cluster.addrs();
    let (mut a, mut b) = (connect(&addrs[0]), connect(&addrs[1]));
    let int = |con: &mut Connection, args: &[&str]| -> i64 {
        redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap()
    };
    assert_eq!(int(&mut a, &["SETNX", "word", "hello"]), 1);
    assert_eq!(int(&mut b, &["SETNX", "word", "other"]), 0);
    assert_eq!(int(&mut b, &["STRLEN", "word"]), 5);
    assert_eq!(int(&mut a, &["STRLEN", "nothing"]), 0);
    let kind = |con: &mut Connection, key: &str| -> String {
        redis::cmd("TYPE").arg(key).query(con).unwrap()
    };
    assert_eq!(kind(&mut a, "word"), "string");
    assert_eq!(kind(&mut b, "nothing"), "none");

    let pairs: Vec<String> = (0..1_001)
        .flat_map(|i| [format!("many:{i:04}"), i.to_string()])
        .collect();
    let () = redis::cmd("MSET").arg(&pairs).query(&mut a).unwrap();
    let some: Vec<String> = redis::cmd("KEYS").arg("many:00*").query(&mut b).unwrap();
    let expected: Vec<String> = (0..100).map(|i| format!("many:{i:04}")).collect();
    assert_eq!(some, expected, "sorted, from both nodes");
    let all: RedisResult<Vec<String>> = redis::cmd("KEYS").arg("*").query(&mut a);
    assert!(all.unwrap_err().to_string().contains("SCAN"));
}

/// Bad expiry input gets Redis's errors, and the connection goes on.
#[test]
fn bad_expiry_input_is_refused_clearly() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(1);
    let mut con = connect(&cluster.addrs()[0]);
    let refused = |con: &mut Connection, args: &[&str]| -> String {
        let result: RedisResult<redis::Value> = redis::cmd(args[0]).arg(&args[1..]).query(con);
        result.expect_err("refused").to_string()
    };
    for (args, says) in [
        (&["SET", "k", "v", "EX"][..], "syntax error"),
        (&["SET", "k", "v", "EX", "soon"], "not an integer"),
        (&["SET", "k", "v", "PX", "-5"], "invalid expire time"),
        (&["SET", "k", "v", "NX", "XX"], "syntax error"),
        (&["SET", "k", "v", "EX", "10", "PX", "10"], "syntax error"),
        (&["SET", "k", "v", "EX", "10", "KEEPTTL"], "syntax error"),
        (
            &["SET", "k", "v", "EX", "9223372036854775807"],
            "invalid expire time",
        ),
        (&["EXPIRE", "k"], "wrong number of arguments"),
        (&["EXPIRE", "k", "10", "SOON"], "Unsupported option SOON"),
        (&["TTL"], "wrong number of arguments"),
        (&["SETEX", "k", "0", "v"], "invalid expire time"),
    ] {
        let error = refused(&mut con, args);
        assert!(error.contains(says), "{args:?}: {error}");
    }
    let () = con.set("k", "still works").unwrap();
    let ttl: i64 = redis::cmd("TTL").arg("k").query(&mut con).unwrap();
    assert_eq!(ttl, -1, "no refused SET left an expiry behind");
}
