//! The network face of a node, end to end over loopback: the text protocol
//! as a person types it, bad input of every kind, busy and idle
//! connections, and a peer that breaks the protocol. Nothing a client sends
//! may take a node down.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use chord::client::Client;
use chord::codec;
use chord::message::{Request, Response};
use chord::text::MAX_LINE;
use chord::transport::{TcpTransport, Transport, TransportError};
use chord::Server;
use common::{cluster_secret, Cluster, TcpCluster};

const TIMEOUT: Duration = Duration::from_secs(10);

fn client(server: &Server) -> Client {
    Client::connect(&server.addr(), TIMEOUT).expect("connect")
}

/// Reads what the node sends until it closes the connection.
fn read_to_close(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

/// The text protocol's expiry: EXPIRE, TTL and PERSIST through different
/// nodes, and a key that, once its second has passed, no node has.
#[test]
fn a_text_client_sets_and_reads_expiry() {
    let cluster = TcpCluster::settled(3);
    let servers = cluster.servers();
    let (mut a, mut b) = (client(&servers[0]), client(&servers[1]));
    assert_eq!(a.line("PUT session abc").unwrap(), "OK");
    assert_eq!(b.line("TTL session").unwrap(), "TTL none");
    assert_eq!(b.line("EXPIRE session 100").unwrap(), "OK");
    assert_eq!(a.line("TTL session").unwrap(), "TTL 100");
    assert_eq!(a.line("PERSIST session").unwrap(), "OK");
    assert_eq!(
        b.line("PERSIST session").unwrap(),
        "NOT_FOUND",
        "a value, but no expiry to remove"
    );
    assert_eq!(b.line("TTL session").unwrap(), "TTL none");
    assert_eq!(a.line("EXPIRE nothing 10").unwrap(), "NOT_FOUND");
    assert_eq!(a.line("PERSIST nothing").unwrap(), "NOT_FOUND");
    assert_eq!(a.line("TTL nothing").unwrap(), "NOT_FOUND");
    assert!(a
        .line("EXPIRE session soon")
        .unwrap()
        .starts_with("ERR EXPIRE needs"));

    assert_eq!(a.line("EXPIRE session 1").unwrap(), "OK");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while b.line("GET session").unwrap() != "NOT_FOUND" {
        assert!(
            std::time::Instant::now() < deadline,
            "session never expired"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.line("GET session").unwrap(), "NOT_FOUND");
    assert_eq!(a.line("TTL session").unwrap(), "NOT_FOUND");
    assert_eq!(b.line("PUT doomed x").unwrap(), "OK");
    assert_eq!(a.line("EXPIRE doomed 0").unwrap(), "OK", "0 deletes");
    assert_eq!(b.line("GET doomed").unwrap(), "NOT_FOUND");
}

/// The original brief's integers at a telnet prompt: INCR through
/// different nodes, by 1 and by more, and clear errors for a value that is
/// no integer and for a sum past 64 bits. Threads incrementing through
/// every node concurrently lose no increment.
#[test]
fn a_text_client_counts_with_incr() {
    let cluster = TcpCluster::settled(3);
    let servers = cluster.servers();
    let (mut a, mut b) = (client(&servers[0]), client(&servers[1]));
    assert_eq!(a.line("INCR hits").unwrap(), "VALUE 1");
    assert_eq!(b.line("INCR hits 41").unwrap(), "VALUE 42");
    assert_eq!(a.line("INCR hits -2").unwrap(), "VALUE 40");
    assert_eq!(b.line("GET hits").unwrap(), "VALUE 40");
    assert_eq!(a.line("PUT name ada").unwrap(), "OK");
    let answer = b.line("INCR name").unwrap();
    assert!(
        answer.starts_with("ERR value is not an integer"),
        "{answer}"
    );
    assert_eq!(a.line("GET name").unwrap(), "VALUE ada", "left as it was");
    assert_eq!(a.line("PUT big 9223372036854775807").unwrap(), "OK");
    assert!(b.line("INCR big").unwrap().starts_with("ERR "));
    assert!(a
        .line("INCR hits many")
        .unwrap()
        .starts_with("ERR INCR adds a whole number"));

    let threads: Vec<_> = servers
        .iter()
        .map(|server| {
            let addr = server.addr();
            std::thread::spawn(move || {
                let mut c = Client::connect(&addr, TIMEOUT).expect("connect");
                for _ in 0..50 {
                    let answer = c.line("INCR shared").expect("answer");
                    assert!(answer.starts_with("VALUE "), "{answer}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("an incrementing thread");
    }
    assert_eq!(a.line("GET shared").unwrap(), "VALUE 150");
}

#[test]
fn every_command_answers_as_documented() {
    let cluster = TcpCluster::settled(3);
    let servers = cluster.servers();
    let mut c = client(&servers[0]);
    assert_eq!(c.line("PUT answer 42").unwrap(), "OK");
    assert_eq!(c.line("get answer").unwrap(), "VALUE 42");
    let mut other = client(&servers[2]);
    assert_eq!(other.line("GET answer").unwrap(), "VALUE 42");
    assert_eq!(other.line("DEL answer").unwrap(), "OK");
    assert_eq!(c.line("DEL answer").unwrap(), "NOT_FOUND");
    assert_eq!(c.line("GET answer").unwrap(), "NOT_FOUND");

    let lookup = c.line("LOOKUP answer").unwrap();
    let words: Vec<&str> = lookup.split(' ').collect();
    assert_eq!(words.len(), 6, "{lookup}");
    // Deleted above: every holder keeps the tombstone, one version.
    let held: Vec<&str> = words[5]
        .strip_prefix("held=")
        .expect("held=")
        .split(',')
        .collect();
    assert_eq!(held.len(), 3, "{lookup}");
    let versions: Vec<&str> = held.iter().map(|h| h.rsplit('@').next().unwrap()).collect();
    assert!(
        versions
            .iter()
            .all(|v| v.ends_with('d') && *v == versions[0]),
        "{lookup}"
    );
    assert_eq!(words[0].len(), 40, "a 160-bit identifier in hex: {lookup}");
    assert!(servers.iter().any(|s| s.addr() == words[2]), "{lookup}");
    assert!(words[3].starts_with("hops="), "{lookup}");
    // R = 3 in a ring of 3: the two nodes other than the owner.
    let replicas = words[4].strip_prefix("replicas=").expect("replicas=");
    let mut holders: Vec<&str> = replicas.split(',').chain([words[2]]).collect();
    holders.sort_unstable();
    let mut all: Vec<String> = servers.iter().map(|s| s.addr().to_string()).collect();
    all.sort_unstable();
    assert_eq!(holders, all, "{lookup}");

    let node = c.request("NODE").unwrap();
    let id = servers[0].node().me().id.to_string();
    assert_eq!(node[0], format!("id {}", &id[..8]), "short by default");
    assert_eq!(c.request("NODE FULL").unwrap()[0], format!("id {id}"));
    assert_eq!(node[1], format!("address {}", servers[0].addr()));
    assert_eq!(node[2], "bits 160", "the ring's m");
    assert!(node[3].starts_with("predecessor "));
    assert!(node.iter().any(|l| l.starts_with("successor 1 ")));
    assert!(node.last().unwrap().starts_with("keys "));

    let fingers = c.request("FINGERS FULL").unwrap();
    assert_eq!(fingers.len(), 160);
    assert!(fingers[0].starts_with("1 "));
    // By default, runs of fingers that name one node are one line each:
    // in a ring of three, at most a handful.
    let runs = c.request("FINGERS").unwrap();
    assert!(runs.len() <= 6, "{runs:?}");
    assert!(
        runs[0].starts_with("1-") || runs[0].starts_with("1 "),
        "{runs:?}"
    );

    let ring = c.request("RING").unwrap();
    assert_eq!(ring.len(), 3, "{ring:?}");
    assert!(
        ring.iter()
            .all(|l| l.contains(" owned=") && l.contains(" replicas=")),
        "{ring:?}"
    );

    let stats = c.request("STATS").unwrap();
    assert!(stats.iter().any(|l| l.starts_with("client_requests=")));
    assert!(stats.iter().any(|l| l.starts_with("mean_hops=")));

    assert_eq!(c.request("HELP").unwrap().len(), chord::text::HELP.len());
    assert_eq!(c.line("QUIT").unwrap(), "BYE");
    assert!(c.line("GET x").is_err(), "the node closes after QUIT");
}

#[test]
fn bad_input_gets_an_error_and_the_connection_stays_usable_until_a_line_never_ends() {
    let cluster = TcpCluster::settled(2);
    let server = &cluster.servers()[0];
    let mut c = client(server);
    c.line("PUT k v").unwrap();
    let cases = [
        ("FROB x", "unknown command"),
        ("GET", "needs a key"),
        ("PUT k", "needs a value"),
        ("GET a b", "too many arguments"),
        ("", "empty line"),
    ];
    for (line, expected) in cases {
        let answer = c.line(line).unwrap();
        assert!(
            answer.starts_with("ERR ") && answer.contains(expected),
            "{line:?} -> {answer}"
        );
        assert_eq!(c.line("GET k").unwrap(), "VALUE v");
    }
    let long_key = format!("GET {}", "k".repeat(chord::store::MAX_KEY + 1));
    assert!(c
        .line(&long_key)
        .unwrap()
        .contains("longer than the 65536 allowed"));

    // Raw bytes: a line that is not UTF-8, and one over the line limit.
    let mut raw = TcpStream::connect(server.addr()).unwrap();
    raw.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut reader = BufReader::new(raw.try_clone().unwrap());
    let mut answer = String::new();
    raw.write_all(b"GET \xff\xfe\r\n").unwrap();
    reader.read_line(&mut answer).unwrap();
    assert!(
        answer.starts_with("ERR") && answer.contains("UTF-8"),
        "{answer}"
    );
    // Past the line limit the node answers at once and closes: it read
    // no further, so it cannot find where the next line starts.
    let huge = vec![b'x'; MAX_LINE + 100];
    let _ = raw.write_all(&huge);
    answer.clear();
    reader.read_line(&mut answer).unwrap();
    assert!(answer.starts_with("ERR line longer"), "{answer}");
    assert!(answer.contains("closing"), "{answer}");
}

/// The text protocol carries values up to its line's bound, 1 MiB, spaces
/// and all; a longer one is refused with the bound named.
#[test]
fn a_value_of_1_mib_with_spaces_round_trips_and_a_larger_one_is_refused() {
    let cluster = TcpCluster::settled(2);
    let servers = cluster.servers();
    let bound = chord::text::MAX_TEXT_VALUE;
    let value: String = "ab cd ".repeat(bound / 6) + &"z".repeat(bound % 6);
    assert_eq!(value.len(), bound);
    assert_eq!(
        client(&servers[0])
            .line(&format!("PUT big {value}"))
            .unwrap(),
        "OK"
    );
    assert_eq!(
        client(&servers[1]).line("GET big").unwrap(),
        format!("VALUE {value}")
    );
    let too_big = format!("PUT big {value}z");
    let answer = client(&servers[0]).line(&too_big).unwrap();
    assert!(
        answer.starts_with(&format!(
            "ERR value of {} bytes is longer than the {bound} allowed",
            bound + 1
        )),
        "{}",
        &answer[..answer.len().min(200)]
    );
}

#[test]
fn a_busy_node_says_so_at_once_and_recovers() {
    let mut cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.workers = 1;
    let server = Server::start(config).expect("start");
    // The one worker is now serving this connection.
    let mut holder = client(&server);
    assert_eq!(holder.line("GET nothing").unwrap(), "NOT_FOUND");
    // A person who types at once is told at once: the lobby sees the
    // first byte and the text clients' share is full.
    let started = std::time::Instant::now();
    let mut second = TcpStream::connect(server.addr()).unwrap();
    second.write_all(b"GET x\r\n").unwrap();
    assert_eq!(read_to_close(&mut second), "ERR busy\r\n");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(500),
        "ERR busy after {waited:?}"
    );
    drop(holder);
    // Once the worker is free again, a new connection is served.
    cluster.settle_until("a free worker", &|_| {
        Client::connect(&server.addr(), TIMEOUT)
            .and_then(|mut c| c.line("GET nothing"))
            .is_ok_and(|answer| answer == "NOT_FOUND")
    });
    // The worker that served the check may not have seen it close yet, and
    // then STATS itself is turned away: ask until a worker answers.
    let stats = std::cell::RefCell::new(Vec::new());
    cluster.settle_until("an answer to STATS", &|_| {
        let answer = client(&server).request("STATS").unwrap();
        let served = !answer[0].starts_with("ERR busy");
        *stats.borrow_mut() = answer;
        served
    });
    assert!(stats
        .borrow()
        .iter()
        .any(|l| l.starts_with("busy_rejections=") && l != "busy_rejections=0"));
}

#[test]
fn an_idle_client_is_disconnected_and_frees_its_worker() {
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.workers = 1;
    config.idle_timeout = Duration::from_millis(300);
    let server = Server::start(config).expect("start");
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.write_all(b"GET half-a-li").unwrap();
    assert_eq!(
        read_to_close(&mut idle),
        "ERR idle for too long; closing\r\n"
    );
    assert_eq!(client(&server).line("GET k").unwrap(), "NOT_FOUND");
}

#[test]
fn a_peer_that_breaks_the_protocol_is_cut_off_and_the_node_lives_on() {
    let cluster = TcpCluster::settled(2);
    let server = &cluster.servers()[0];
    // An oversized frame length: refused before reading the body.
    let mut peer = common::peer_connection(&server.addr(), Some(&common::cluster_secret()));
    peer.write_all(&u32::MAX.to_be_bytes()).unwrap();
    read_to_close(&mut peer);
    // Garbage in a frame of plausible size.
    let mut peer = common::peer_connection(&server.addr(), Some(&common::cluster_secret()));
    peer.write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff]).unwrap();
    read_to_close(&mut peer);
    // Another protocol version: the node answers with its own and hangs up.
    let mut peer = TcpStream::connect(server.addr()).unwrap();
    let mut other = codec::MAGIC.to_vec();
    other.extend_from_slice(&[codec::VERSION + 1, 1]);
    other.extend_from_slice(&[0; chord::auth::NONCE]);
    peer.write_all(&other).unwrap();
    let mut reply = Vec::new();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let _ = peer.read_to_end(&mut reply);
    assert_eq!(reply.len(), chord::auth::SERVER_HELLO);
    assert_eq!(&reply[..4], &codec::MAGIC);
    assert_eq!(reply[4], codec::VERSION);
    // A frame cut short by a vanishing peer.
    let mut peer = common::peer_connection(&server.addr(), Some(&common::cluster_secret()));
    peer.write_all(&[0, 0, 0, 50, 1, 2]).unwrap();
    drop(peer);

    let mut c = client(server);
    assert_eq!(c.line("PUT still alive").unwrap(), "OK");
    let count = |stats: &[String], name: &str| -> u64 {
        stats
            .iter()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    // The two bad frames at least, and the other version at the handshake.
    // The node counts a frame when it gives up on its connection, which
    // may come a moment after the peer has gone: wait for it, with a
    // deadline.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let stats = loop {
        let stats = c.request("STATS").unwrap();
        if count(&stats, "protocol_errors") >= 2 || std::time::Instant::now() > deadline {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(count(&stats, "protocol_errors") >= 2, "{stats:?}");
    assert_eq!(count(&stats, "handshakes_refused"), 1, "{stats:?}");
}

#[test]
fn a_client_that_stalls_mid_line_does_not_hold_up_others() {
    let cluster = TcpCluster::settled(2);
    let server = &cluster.servers()[0];
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    stalled.write_all(b"PUT k half").unwrap();
    let mut c = client(server);
    assert_eq!(c.line("PUT k whole").unwrap(), "OK");
    assert_eq!(c.line("GET k").unwrap(), "VALUE whole");
}

#[test]
fn idle_text_clients_cannot_take_the_workers_kept_for_peers() {
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.workers = 4; // three for text clients, one kept for peers
    let server = Server::start(config).expect("start");
    // Three people connect and say nothing.
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    // Once they are known to be people (after their first-byte wait), a
    // fourth person is turned away...
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let mut fourth = Client::connect(&server.addr(), TIMEOUT).unwrap();
        if fourth.line("GET k").unwrap() == "ERR busy" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "text clients were never limited"
        );
    }
    // ...but a peer still gets an answer.
    let peer = chord::TcpTransport::new(TIMEOUT, Some(common::cluster_secret()));
    use chord::transport::Transport;
    let answer = peer.call(&server.addr(), chord::message::Request::Ping);
    assert_eq!(answer, Ok(chord::message::Response::Pong));
    drop(silent);
}

#[test]
fn idle_peer_connections_give_way_to_new_connections() {
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.workers = 2;
    let server = Server::start(config).expect("start");
    // Two peers open connections, say hello, and then sit idle, as pooled
    // connections do: both workers are taken.
    let mut idle_peers: Vec<TcpStream> = (0..2)
        .map(|_| common::peer_connection(&server.addr(), Some(&common::cluster_secret())))
        .collect();
    // A person still gets served: the longest-idle peer connection is
    // closed to free its worker...
    let mut person = client(&server);
    assert_eq!(person.line("GET k").unwrap(), "NOT_FOUND");
    // ...and that peer sees its connection closed, as a pool would, and
    // reconnects when it next needs to.
    assert_eq!(read_to_close(&mut idle_peers[0]), "");
    let peer = chord::TcpTransport::new(TIMEOUT, Some(common::cluster_secret()));
    use chord::transport::Transport;
    drop(person);
    let answer = peer.call(&server.addr(), chord::message::Request::Ping);
    assert_eq!(answer, Ok(chord::message::Response::Pong));
}

#[test]
fn small_worker_pools_under_concurrent_clients_neither_deadlock_nor_lose_writes() {
    // Three workers per node, ten clients at once: peers and people compete
    // for every worker. No handler waits on another node, so this must not
    // deadlock; a client told `ERR busy` reconnects and tries again.
    let mut cluster = TcpCluster::with_workers(160, 3);
    cluster.grow_to(5);
    cluster.settle();
    let addrs: Vec<String> = cluster.servers().iter().map(Server::addr).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ask = |addr: &str, line: &str| -> String {
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no answer to {line:?} in 60 s"
            );
            let answer = Client::connect(addr, TIMEOUT).and_then(|mut c| c.line(line));
            match answer {
                Ok(answer) if answer != "ERR busy" => return answer,
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    };
    std::thread::scope(|scope| {
        for t in 0..10 {
            let (addrs, ask) = (&addrs, &ask);
            scope.spawn(move || {
                for i in 0..20 {
                    let key = format!("load-{t}-{i}");
                    let (at, other) = (
                        addrs[(t + i) % addrs.len()].as_str(),
                        addrs[(t + 2 * i + 1) % addrs.len()].as_str(),
                    );
                    assert_eq!(ask(at, &format!("PUT {key} {i}")), "OK");
                    assert_eq!(ask(other, &format!("GET {key}")), format!("VALUE {i}"));
                }
            });
        }
    });
}

#[test]
fn with_a_password_nothing_but_auth_help_and_quit_is_served_before_auth() {
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.password = Some("open sesame".into());
    let server = Server::start(config).expect("start");
    let mut c = client(&server);
    let refused = "ERR authentication required: send AUTH <password> first";
    assert_eq!(c.line("GET k").unwrap(), refused);
    assert_eq!(c.line("RING").unwrap(), refused);
    assert!(c.request("HELP").unwrap().len() > 5);
    assert_eq!(c.line("AUTH open").unwrap(), "ERR invalid password");
    assert_eq!(c.line("PUT k v").unwrap(), refused);
    // The password is the rest of the line, spaces and all.
    assert_eq!(c.line("AUTH open sesame").unwrap(), "OK");
    assert_eq!(c.line("PUT k v").unwrap(), "OK");
    assert_eq!(c.line("GET k").unwrap(), "VALUE v");
    // Each connection authenticates for itself.
    assert_eq!(client(&server).line("GET k").unwrap(), refused);
    // A node without a password says so.
    let open = TcpCluster::settled(1);
    let answer = client(&open.servers()[0]).line("AUTH x").unwrap();
    assert!(
        answer.starts_with("ERR this node has no password"),
        "{answer}"
    );
}

#[test]
fn a_node_with_another_secret_cannot_join_and_says_why() {
    let cluster = TcpCluster::settled(2);
    let mut config = cluster.server_config();
    config.secret = Some(chord::auth::Secret::new(b"not the ring's secret at all").unwrap());
    let error = Server::start(config).err().expect("refused");
    assert!(error.to_string().contains("cluster secret"), "{error}");
    // And one with no secret at all.
    let mut config = cluster.server_config();
    config.secret = None;
    let error = Server::start(config).err().expect("refused");
    assert!(error.to_string().contains("cluster secret"), "{error}");
    // The ring is as it was.
    assert_eq!(
        client(&cluster.servers()[0]).request("RING").unwrap().len(),
        2
    );
}

/// Sends one HTTP request and reads the whole answer.
fn http(server: &Server, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    read_to_close(&mut stream)
}

#[test]
fn a_browser_gets_a_page_of_the_ring_and_people_still_get_the_text_protocol() {
    let cluster = TcpCluster::settled(3);
    let server = &cluster.servers()[0];
    let page = http(server, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html") && page.contains("<html"));
    // The ring is in the first answer, not only after the script runs.
    let ring = &page[page.find("<div id=\"ring\">").expect("the ring's place")..];
    assert!(
        ring.starts_with("<div id=\"ring\"><svg"),
        "{}",
        &ring[..ring.len().min(200)]
    );
    let svg = http(server, "GET /ring.svg HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(svg.contains("Content-Type: image/svg+xml"), "{svg}");
    for s in cluster.servers() {
        let port = s.addr().rsplit(':').next().unwrap().to_string();
        assert!(
            svg.contains(&format!(":{port} (")),
            "node {port} is not drawn"
        );
    }
    let path = http(server, "GET /ring.svg?key=hello+world HTTP/1.0\r\n\r\n");
    let owner = cluster.live()[0]
        .lookup("hello world")
        .unwrap()
        .1
        .owner()
        .clone();
    let port = owner.addr.rsplit(':').next().unwrap().to_string();
    assert!(
        path.contains("hello world, owned by ") && path.contains(&format!(":{port}: ")),
        "the lookup path is labelled with the key's owner"
    );
    assert!(http(server, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    assert!(http(server, "POST / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
    // Headers that never end are refused, not waited on forever.
    let mut long = String::from("GET / HTTP/1.1\r\n");
    for i in 0..100 {
        long += &format!("X-{i}: y\r\n");
    }
    assert!(http(server, &long).starts_with("HTTP/1.1 400 "));
    let mut c = client(server);
    assert_eq!(c.line("PUT k v").unwrap(), "OK");
    assert_eq!(c.line("GET k").unwrap(), "VALUE v");
}

/// A node with the default pool serves a thousand people at once: each
/// connects, is answered, and stays connected; none is told `ERR busy`.
/// The workers start as they are needed: few at first, one per client
/// by the end.
#[test]
fn a_thousand_clients_at_once_are_all_served() {
    let limit = chord::server::raise_open_file_limit().expect("the open file limit");
    assert!(
        limit >= 2_200,
        "this test holds both ends of 1,000 connections: raise `ulimit -n` past 2,200 (it is {limit})"
    );
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.workers = chord::server::DEFAULT_WORKERS;
    let server = Server::start(config).expect("start");
    // An idle node starts few of its workers; the rest start as needed.
    let idle = server.workers_started();
    assert!(idle <= 8, "{idle} workers started before any client came");
    let mut clients: Vec<Client> = Vec::with_capacity(1_000);
    let mut busy = 0;
    for i in 0..1_000 {
        let mut c = client(&server);
        let answer = c.line(&format!("PUT crowd-{i} {i}")).expect("an answer");
        if answer == "ERR busy" {
            busy += 1;
        } else {
            assert_eq!(answer, "OK", "client {i}");
        }
        clients.push(c);
    }
    assert_eq!(busy, 0, "{busy} of 1,000 clients were turned away");
    let started = server.workers_started();
    assert!(
        (1_000..=chord::server::DEFAULT_WORKERS).contains(&started),
        "{started} workers for 1,000 clients"
    );
    // All still connected and served: the first one again, last.
    assert_eq!(
        clients[0].line("GET crowd-999").expect("an answer"),
        "VALUE 999"
    );
}

/// Two hundred clients that speak at the same moment, each on a fresh
/// connection, are all served: the workers they need start at once,
/// rather than some clients being told `ERR busy` while threads start.
#[test]
fn a_burst_of_new_clients_starts_workers_for_all() {
    let cluster = TcpCluster::new(160);
    let mut config = cluster.server_config();
    config.workers = chord::server::DEFAULT_WORKERS;
    let server = Server::start(config).expect("start");
    let mut streams: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(server.addr()).expect("connect"))
        .collect();
    for stream in &mut streams {
        stream.write_all(b"PING\r\n").expect("send");
    }
    for (i, stream) in streams.into_iter().enumerate() {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .expect("an answer");
        assert_eq!(line, "+PONG\r\n", "client {i}");
    }
}

/// Pipelined requests are answered in order, and in batches: a hundred
/// requests sent in one write take a handful of flushes, not a hundred.
#[test]
fn pipelined_requests_are_answered_in_order_and_in_batches() {
    let cluster = TcpCluster::new(160);
    let server = Server::start(cluster.server_config()).expect("start");
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut batch = String::new();
    for i in 0..100 {
        batch += &format!("PUT p{i} {i}\r\nGET p{i}\r\n");
    }
    stream.write_all(batch.as_bytes()).expect("sent");
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for i in 0..100 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "OK\r\n", "request {i}");
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("VALUE {i}\r\n"), "request {i}");
    }
    let flushes = server
        .node()
        .stats()
        .report()
        .into_iter()
        .find(|(name, _)| *name == "reply_flushes")
        .map(|(_, n)| n.parse::<u64>().unwrap())
        .expect("a reply_flushes counter");
    assert!(flushes < 50, "{flushes} flushes for 200 pipelined replies");
}

/// KEYS lists the whole ring's keys that match, from any node, sorted.
#[test]
fn keys_lists_the_whole_rings_matching_keys() {
    let cluster = TcpCluster::settled(3);
    let mut first = client(&cluster.servers()[0]);
    for i in 0..40 {
        assert_eq!(first.line(&format!("PUT fruit-{i:02} {i}")).unwrap(), "OK");
    }
    assert_eq!(first.line("PUT vegetable x").unwrap(), "OK");
    let mut other = client(&cluster.servers()[2]);
    let lines = other.request("KEYS fruit-*").unwrap();
    let expected: Vec<String> = (0..40).map(|i| format!("fruit-{i:02}")).collect();
    assert_eq!(lines, expected);
    let all = other.request("KEYS").unwrap();
    assert_eq!(all.len(), 41, "{all:?}");
    // RING counts them apart: each key owned once, and held twice more.
    let count = |line: &str, name: &str| -> u64 {
        line.split(' ')
            .find_map(|w| w.strip_prefix(name))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    let ring = other.request("RING").unwrap();
    let owned: u64 = ring.iter().map(|l| count(l, "owned=")).sum();
    let replicas: u64 = ring.iter().map(|l| count(l, "replicas=")).sum();
    assert_eq!((owned, replicas), (41, 82), "{ring:?}");
    // COUNT is that sum, from any node.
    assert_eq!(first.line("COUNT").unwrap(), "COUNT 41 nodes=3");
}

/// STATS counts the peer calls client requests make. In a ring that the
/// successor list covers, a GET makes at most one (to the owner), a PUT
/// at most three (the owner and two replicas), and an update no more than
/// a PUT of the same key.
#[test]
fn client_requests_make_few_peer_calls() {
    let cluster = TcpCluster::settled(4);
    let node = cluster.servers()[1].node().clone();
    let calls = || -> (u64, u64) {
        let get = |name: &str| {
            node.stats()
                .report()
                .into_iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in STATS"))
        };
        (get("client_requests"), get("client_peer_calls"))
    };
    let mut c = client(&cluster.servers()[1]);
    let (requests, peer) = calls();
    for i in 0..100 {
        assert_eq!(c.line(&format!("PUT few-{i} {i}")).unwrap(), "OK");
    }
    let (after_puts, peer_after_puts) = calls();
    let per_put = (peer_after_puts - peer) as f64 / (after_puts - requests) as f64;
    assert!(per_put <= 3.0, "{per_put} peer calls per PUT");
    for i in 0..100 {
        assert_eq!(
            c.line(&format!("GET few-{i}")).unwrap(),
            format!("VALUE {i}")
        );
    }
    let (after_gets, peer_after_gets) = calls();
    let per_get = (peer_after_gets - peer_after_puts) as f64 / (after_gets - after_puts) as f64;
    assert!(per_get <= 1.0, "{per_get} peer calls per GET");
    // An update (here EXPIRE; INCR alike) asks the owner the successor list
    // names, as a PUT does: on the same keys, no more calls than the PUTs.
    for i in 0..100 {
        assert_eq!(c.line(&format!("EXPIRE few-{i} 1000")).unwrap(), "OK");
    }
    let (after_updates, peer_after_updates) = calls();
    let per_update =
        (peer_after_updates - peer_after_gets) as f64 / (after_updates - after_gets) as f64;
    assert!(
        per_update <= per_put,
        "{per_update} peer calls per update, {per_put} per PUT"
    );
}

/// Many threads calling one peer through one transport at once: their
/// reads and writes share messages (the peer counts requests that came
/// batched), and each caller gets its own answer.
#[test]
fn concurrent_calls_to_one_peer_are_batched_and_each_answered() {
    let cluster = TcpCluster::settled(1);
    let server = &cluster.servers()[0];
    let addr = server.addr();
    let transport = TcpTransport::new(TIMEOUT, Some(cluster_secret()));
    let batched = || {
        server
            .node()
            .stats()
            .report()
            .into_iter()
            .find(|(n, _)| *n == "peer_batched")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .expect("peer_batched in STATS")
    };
    let before = batched();
    std::thread::scope(|s| {
        for t in 0..16 {
            let (transport, addr) = (&transport, addr.as_str());
            s.spawn(move || {
                for i in 0..50 {
                    let key = format!("lane-{t}-{i}").into_bytes();
                    let write = Request::Write {
                        key: key.clone(),
                        value: Some(key.clone()),
                        expires: None,
                    };
                    let answer = transport.call(addr, write).expect("written");
                    assert!(matches!(answer, Response::Written { .. }), "{answer:?}");
                    let read = transport.call(addr, Request::Get { key: key.clone() });
                    match read.expect("read") {
                        Response::Value(Some(entry)) => assert_eq!(entry.value, Some(key)),
                        other => panic!("{other:?}"),
                    }
                }
            });
        }
    });
    assert!(batched() > before, "no request came in a batch");
}

/// Calls to several peers at once (how a write's replica copies go out)
/// answer in the order asked, each with its own answer or error; a second
/// round does the same over the pooled connections.
#[test]
fn calls_to_several_peers_at_once_answer_in_order() {
    let cluster = TcpCluster::settled(2);
    let addrs = cluster.addrs();
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let transport = TcpTransport::new(TIMEOUT, Some(cluster_secret()));
    for _ in 0..2 {
        let answers = transport.call_all(vec![
            (addrs[0].as_str(), Request::Ping),
            (nobody.as_str(), Request::Ping),
            (addrs[1].as_str(), Request::GetNeighbours),
        ]);
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0], Ok(Response::Pong));
        assert!(
            matches!(answers[1], Err(TransportError::Unreachable { .. })),
            "{:?}",
            answers[1]
        );
        assert!(
            matches!(answers[2], Ok(Response::Neighbours { .. })),
            "{:?}",
            answers[2]
        );
    }
}

/// A Redis command typed into the text protocol is pointed at the Redis
/// protocol the same port speaks, and SET at PUT.
#[test]
fn a_redis_command_in_the_text_protocol_points_at_redis() {
    let cluster = TcpCluster::settled(1);
    let server = &cluster.servers()[0];
    let mut c = client(server);
    let port = server
        .addr()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let set = c.line("SET foo bar").unwrap();
    assert!(
        set.starts_with("ERR SET is a Redis command: here a write is PUT <key> <value>")
            && set.contains(&format!("redis-cli -p {port}")),
        "{set}"
    );
    let mget = c.line("MGET a b").unwrap();
    assert!(
        mget.contains("no such command") && mget.contains("redis-cli"),
        "{mget}"
    );
    let frob = c.line("FROB x").unwrap();
    assert!(frob.starts_with("ERR unknown command \"FROB\""), "{frob}");
}

/// A node told to listen on every interface, with no address for its
/// peers, refuses to start and says what to add.
#[test]
fn listening_on_every_interface_needs_an_advertised_address() {
    let config = chord::server::ServerConfig::new("0.0.0.0:0", common::node_config(160));
    match Server::start(config) {
        Err(chord::Error::Config(why)) => assert!(why.contains("add --advertise"), "{why}"),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a node that advertises 0.0.0.0 started"),
    }
    let no_port = chord::server::ServerConfig::new("127.0.0.1", common::node_config(160));
    match Server::start(no_port) {
        Err(chord::Error::Config(why)) => assert!(why.contains("HOST:PORT"), "{why}"),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a node with no port started"),
    }
}
