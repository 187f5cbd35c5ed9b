//! Input that can never succeed, or never ends, is answered at once: the
//! same answer on one node and through any node of a ring, in the Redis
//! protocol and in the text protocol, and a bounded read for a line or a
//! header that does not end.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chord::client::Client;
use chord::store::{MAX_KEY, MAX_VALUE};
use common::TcpCluster;

/// Far below the request timeout (10 s), which a retried refusal would
/// wait out; far above a loaded machine's scheduling delays.
const AT_ONCE: Duration = Duration::from_secs(1);

/// What a RESP request answered, as text: `OK`, `nil`, `"value"` or
/// `ERR ...`, and how long it took.
fn resp(addr: &str, args: &[&[u8]]) -> (String, Duration) {
    let mut connection = redis::Client::open(format!("redis://{addr}/"))
        .expect("a client")
        .get_connection()
        .expect("a connection");
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let start = Instant::now();
    let answer: redis::RedisResult<redis::Value> = cmd.query(&mut connection);
    let took = start.elapsed();
    let text = match answer {
        Ok(redis::Value::Okay) => "OK".to_string(),
        Ok(redis::Value::Nil) => "nil".to_string(),
        Ok(redis::Value::BulkString(bytes)) => format!("{:?}", String::from_utf8_lossy(&bytes)),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("ERR {}", e.detail().unwrap_or_default()),
    };
    (text, took)
}

/// The requests a Redis user sends that chord's limits decide: the empty
/// key (a key, as in Redis), a key past the limit, and the empty value (a
/// value, as in Redis).
fn edge_requests() -> Vec<Vec<Vec<u8>>> {
    let long = vec![b'k'; MAX_KEY + 44];
    let args = |words: &[&[u8]]| words.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
    vec![
        args(&[b"SET", b"", b"v"]),
        args(&[b"GET", b""]),
        args(&[b"SET", &long, b"v"]),
        args(&[b"GET", &long]),
        args(&[b"SET", b"empty", b""]),
        args(&[b"GET", b"empty"]),
        args(&[b"DEL", b"", b"empty"]),
    ]
}

/// Each edge request's answer at `addr`, each checked to come at once.
fn answers(addr: &str) -> Vec<String> {
    edge_requests()
        .iter()
        .map(|request| {
            let args: Vec<&[u8]> = request.iter().map(Vec::as_slice).collect();
            let (answer, took) = resp(addr, &args);
            assert!(
                took < AT_ONCE,
                "{} at {addr} took {took:?}",
                String::from_utf8_lossy(request[0].as_slice())
            );
            answer
        })
        .collect()
}

#[test]
fn one_request_gets_one_answer_on_one_node_and_in_a_ring() {
    let alone = TcpCluster::settled(1);
    let expected = answers(&alone.addrs()[0]);
    assert_eq!(expected[0], "OK", "the empty key is a key");
    assert_eq!(expected[1], "\"v\"");
    assert!(
        expected[2].contains(&format!(
            "key of {} bytes is longer than the {MAX_KEY} allowed",
            MAX_KEY + 44
        )),
        "{}",
        expected[2]
    );
    assert_eq!(expected[3], expected[2], "GET refuses the key as SET does");
    assert_eq!(expected[4], "OK", "the empty value is a value");
    assert_eq!(expected[5], "\"\"");
    assert_eq!(expected[6], "int(2)");
    let ring = TcpCluster::settled(8);
    for addr in ring.addrs() {
        assert_eq!(answers(&addr), expected, "through {addr}");
    }
    // The text protocol, which cannot name an empty key or value, refuses
    // the long key in the same words.
    let long = "k".repeat(MAX_KEY + 44);
    for addr in [alone.addrs()[0].clone(), ring.addrs()[3].clone()] {
        let mut client = Client::connect(&addr, Duration::from_secs(5)).expect("connect");
        for request in [format!("PUT {long} v"), format!("GET {long}")] {
            let start = Instant::now();
            let answer = client.line(&request).expect("an answer");
            assert!(start.elapsed() < AT_ONCE, "{answer}");
            assert!(expected[2].ends_with(answer.trim_start_matches("ERR ")));
        }
    }
}

/// Sends `head`, then `filler` bytes with no newline until the node
/// answers or 10 MB have gone; the answer's first line, the bytes sent by
/// then, and whether the node then closed the connection.
fn endless(addr: &str, head: &[u8], filler: u8) -> (String, usize, bool) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    let mut writer = stream.try_clone().expect("clone");
    let head = head.to_vec();
    let sender = std::thread::spawn(move || {
        let mut sent = 0;
        let chunk = vec![filler; 16 * 1024];
        if writer.write_all(&head).is_err() {
            return sent;
        }
        while sent < 10_000_000 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // A request before the endless one is answered first.
    while line.is_empty() || line == "+PONG\r\n" {
        line.clear();
        reader
            .read_line(&mut line)
            .expect("an answer before the read timeout");
    }
    let mut rest = Vec::new();
    // Closed with our bytes unread, the node's end resets the connection.
    let closed = match reader.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    let sent = sender.join().expect("the sender");
    (line, sent, closed)
}

#[test]
fn a_line_that_never_ends_is_refused_once_it_passes_its_bound() {
    let cluster = TcpCluster::settled(1);
    let addr = &cluster.addrs()[0];
    for (head, says) in [
        (&b"*"[..], "too big mbulk count string"),
        (&b"*1\r\n$"[..], "too big bulk count string"),
        // An inline command on a connection that spoke RESP first.
        (&b"*1\r\n$4\r\nPING\r\nSET k "[..], "too big inline request"),
        // The text protocol: a first byte other than `*`.
        (&b"PUT k "[..], "line longer than"),
    ] {
        let start = Instant::now();
        let (answer, sent, closed) = endless(addr, head, b'a');
        let took = start.elapsed();
        assert!(answer.contains(says), "{head:?}: {answer}");
        assert!(closed, "{head:?}: the connection stays open");
        assert!(sent < 10_000_000, "{head:?}: all 10 MB were read");
        assert!(took < Duration::from_secs(5), "{head:?}: {took:?}");
    }
}

/// Sends `bytes` on a new connection to `addr`; the first line of the
/// answer, and the reader for the rest.
fn first_line(addr: &str, bytes: &[u8]) -> (String, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    stream.write_all(bytes).expect("send");
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader.read_line(&mut answer).expect("an answer");
    (answer, reader)
}

/// A value longer than the node takes is read past and refused with an
/// error that names the bound, and the connection goes on; a length past
/// what any node can take closes it, as Redis does.
#[test]
fn a_bulk_past_the_limit_names_the_limit() {
    let cluster = TcpCluster::settled(1);
    let addr = &cluster.addrs()[0];
    let bound = chord::store::DEFAULT_MAX_VALUE;
    // Longer than any key and value the node takes together: the reader
    // reads past it (a value only a little long is refused by the store).
    let long = MAX_KEY + bound + 1;
    let mut request = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${long}\r\n").into_bytes();
    request.extend(std::iter::repeat_n(b'v', long));
    request.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
    let (answer, mut reader) = first_line(addr, &request);
    assert!(
        answer.starts_with(&format!("-ERR an argument of {long} bytes"))
            && answer.contains(&format!("values of at most {bound} bytes")),
        "{answer}"
    );
    let mut pong = String::new();
    reader.read_line(&mut pong).expect("the connection goes on");
    assert_eq!(pong, "+PONG\r\n");
    let past_any = MAX_KEY + MAX_VALUE + 1;
    let (answer, _) = first_line(
        addr,
        format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${past_any}\r\n").as_bytes(),
    );
    assert!(
        answer.starts_with(&format!(
            "-ERR Protocol error: invalid bulk length {past_any}"
        )) && answer.contains(&MAX_VALUE.to_string()),
        "{answer}"
    );
}

#[test]
fn empty_and_negative_multibulk_counts_are_skipped_as_redis_skips_them() {
    let cluster = TcpCluster::settled(1);
    let (answer, _) = first_line(
        &cluster.addrs()[0],
        b"*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n",
    );
    assert_eq!(answer, "+PONG\r\n");
}

#[test]
fn a_nul_that_opens_no_handshake_is_answered_in_words() {
    let cluster = TcpCluster::settled(1);
    let (answer, mut reader) = first_line(&cluster.addrs()[0], b"\x00hello\r\n");
    assert!(answer.starts_with("ERR a first byte of 0"), "{answer:?}");
    let mut rest = Vec::new();
    assert!(reader.read_to_end(&mut rest).is_ok(), "then closed");
}
