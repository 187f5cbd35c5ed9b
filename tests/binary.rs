//! The `chord` binary itself, as `make ring` runs it: real processes on
//! loopback ports, stopped by signal, by pid.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use chord::client::Client;
use common::{keys, value_of, Resp, Scratch};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A `chord node` process and the address it listens on.
struct NodeProcess {
    child: Child,
    addr: String,
    /// Its standard error, read until it says where it listens.
    log: Option<BufReader<ChildStderr>>,
}

impl NodeProcess {
    /// Starts `chord node --listen 127.0.0.1:0` with `args`, and reads its
    /// log until it says where it listens; if it exits first, its log.
    fn start(args: &[&str]) -> Result<NodeProcess, String> {
        NodeProcess::start_at("127.0.0.1:0", args)
    }

    /// [`NodeProcess::start`] listening on `listen`.
    fn start_at(listen: &str, args: &[&str]) -> Result<NodeProcess, String> {
        let child = Command::new(env!("CARGO_BIN_EXE_chord"))
            .args(["node", "--listen", listen, "--stabilize-ms", "50"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the chord binary runs");
        // From here on, Drop kills and reaps the child on every path.
        let mut node = NodeProcess {
            child,
            addr: String::new(),
            log: None,
        };
        let mut log = BufReader::new(node.child.stderr.take().ok_or("no log pipe")?);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if log.read_line(&mut line).unwrap_or(0) == 0 {
                return Err(seen);
            }
            seen += &line;
            // "[... INFO  chord] node <id> listening on 127.0.0.1:<port>"
            if let Some((_, addr)) = line.trim_end().split_once(" listening on ") {
                node.addr = addr.to_string();
                node.log = Some(log);
                return Ok(node);
            }
        }
    }

    /// Sends SIGTERM, by pid, and waits for the exit (at most ten seconds);
    /// whether it exited 0.
    fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        // Drain the log so the process never blocks writing it.
        if let Some(log) = self.log.as_mut() {
            let mut rest = String::new();
            while log.read_line(&mut rest).unwrap_or(0) > 0 {}
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                // Drop kills a node that did not leave in time.
                _ => return false,
            }
        }
    }
}

impl Drop for NodeProcess {
    /// A test that fails midway must not leave its nodes running: kill the
    /// child we started (a no-op once it has exited) and reap it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ring_size(addr: &str) -> usize {
    Client::connect(addr, TIMEOUT)
        .and_then(|mut c| c.request("RING"))
        .map_or(0, |lines| lines.len())
}

#[test]
fn sigterm_makes_a_node_leave_gracefully_and_exit_0_with_no_key_lost() {
    let first = NodeProcess::start(&[]).expect("the first node starts");
    let join = ["--join", first.addr.as_str()];
    let second = NodeProcess::start(&join).expect("a node joins");
    let third = NodeProcess::start(&join).expect("a node joins");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ring_size(&first.addr) != 3 {
        assert!(Instant::now() < deadline, "the ring never reached 3 nodes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let keys = keys("binary", 40);
    let mut client = Client::connect(&first.addr, TIMEOUT).unwrap();
    for key in &keys {
        assert_eq!(
            client
                .line(&format!("PUT {key} {}", value_of(key)))
                .unwrap(),
            "OK"
        );
    }
    assert!(second.terminate(), "a node stopped by SIGTERM exits 0");
    let mut client = Client::connect(&third.addr, TIMEOUT).unwrap();
    for key in &keys {
        let answer = client.line(&format!("GET {key}")).unwrap();
        assert_eq!(answer, format!("VALUE {}", value_of(key)));
    }
    assert!(third.terminate());
    assert!(first.terminate());
}

#[test]
fn a_node_whose_identifier_is_taken_exits_with_the_reason() {
    let first = NodeProcess::start(&[]).expect("the first node starts");
    // Advertising the first node's address gives its identifier.
    let refused = NodeProcess::start(&["--join", &first.addr, "--advertise", &first.addr]);
    match refused {
        Err(log) => assert!(log.contains("already held by"), "{log}"),
        Ok(node) => panic!("a twin of {} started at {}", first.addr, node.addr),
    }
    assert!(first.terminate());
}

/// `chord ports`, which `make ring` runs before it starts anything, names
/// a port that something holds and passes free ones.
#[test]
fn the_port_check_names_a_taken_port() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = holder.local_addr().expect("its address").port().to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_chord"))
            .args(args)
            .output()
            .expect("the chord binary runs")
    };
    let taken = run(&["ports", "--host", "127.0.0.1", "--port", &port]);
    assert!(!taken.status.success());
    let said = String::from_utf8_lossy(&taken.stderr);
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    drop(holder);
    let free = run(&["ports", "--host", "127.0.0.1", "--port", &port]);
    assert!(
        free.status.success(),
        "{}",
        String::from_utf8_lossy(&free.stderr)
    );
}

/// `chord help node` is `chord node --help`, and the command list keeps
/// every name apart from its text.
#[test]
fn help_is_the_same_both_ways_and_readable() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_chord"))
            .args(args)
            .output()
            .expect("the chord binary runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run(&["help", "node"]), run(&["node", "--help"]));
    let usage = run(&["--help"]);
    assert!(usage.contains("  ports  "), "{usage}");
}

/// `chord cli` from a pipe answers each line as it is read, before the
/// next arrives: a script, or a person typing through `cat`, can talk to a
/// node with nothing else installed.
#[test]
fn the_cli_answers_each_line_as_it_is_read() {
    let node = NodeProcess::start(&[]).expect("a node starts");
    let mut cli = Command::new(env!("CARGO_BIN_EXE_chord"))
        .args(["cli", "--addr", &node.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chord cli runs");
    let mut input = cli.stdin.take().expect("its stdin");
    let mut output = BufReader::new(cli.stdout.take().expect("its stdout"));
    let mut answer = String::new();
    writeln!(input, "PUT piped value-1").expect("a line sent");
    input.flush().expect("sent now");
    output.read_line(&mut answer).expect("an answer");
    assert_eq!(answer.trim_end(), "OK");
    answer.clear();
    writeln!(input, "GET piped").expect("a second line sent");
    input.flush().expect("sent now");
    output.read_line(&mut answer).expect("a second answer");
    assert_eq!(answer.trim_end(), "VALUE value-1");
    drop(input);
    assert!(cli.wait().expect("chord cli ends").success());
}

/// Every write a node acknowledged is there after `kill -9` and a start
/// with the same data directory, whatever the `--fsync` policy: the log is
/// written before the answer, so only a machine that stops can lose the
/// writes not yet synced (see `chord::disk`).
#[test]
fn a_node_killed_with_sigkill_comes_back_with_every_acknowledged_write() {
    for fsync in ["always", "everysec", "no"] {
        let dir = Scratch::new(&format!("sigkill-{fsync}"));
        let data = dir.0.to_str().expect("a UTF-8 path");
        let args = ["--data-dir", data, "--fsync", fsync];
        let node = NodeProcess::start(&args).expect("a node starts");
        let addr = node.addr.clone();
        let mut resp = Resp::connect(&addr);
        for key in keys("durable", 300) {
            let value = value_of(&key);
            assert_eq!(
                resp.call(&[b"SET", key.as_bytes(), value.as_bytes()]),
                "+OK"
            );
        }
        assert_eq!(resp.call(&[b"INCRBY", b"counter", b"7"]), ":7");
        assert_eq!(resp.call(&[b"DEL", b"durable-0"]), ":1");
        drop(resp);
        // Drop sends SIGKILL and reaps the process.
        drop(node);
        let again = NodeProcess::start_at(&addr, &args).expect("starts again");
        let mut resp = Resp::connect(&again.addr);
        for key in keys("durable", 300).into_iter().skip(1) {
            let value = value_of(&key);
            assert_eq!(
                resp.call(&[b"GET", key.as_bytes()]),
                format!("${value:?}"),
                "--fsync {fsync}: {key}"
            );
        }
        assert_eq!(
            resp.call(&[b"GET", b"durable-0"]),
            "$nil",
            "--fsync {fsync}"
        );
        assert_eq!(resp.call(&[b"INCR", b"counter"]), ":8", "--fsync {fsync}");
    }
}
