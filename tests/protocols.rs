//! The text protocol and the Redis protocol are two wordings of one
//! command layer: the same script of commands, sent through each to the
//! same ring, means the same answer by answer. Each row says what the
//! answer must mean where that is fixed, so two protocols that agreed on a
//! wrong answer would fail too.

mod common;

use std::time::Duration;

use chord::client::Client;
use chord::store::MAX_KEY;
use common::TcpCluster;

/// What an answer means, whichever protocol worded it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Meaning {
    /// Done (`OK`, `+OK`).
    Done,
    /// It held, or it changed something (`OK`; 1).
    Yes,
    /// It did not (`NOT_FOUND`; 0).
    No,
    /// A value.
    Value(String),
    /// No value (`NOT_FOUND`; nil; a TTL of -2).
    Nothing,
    /// A number: a sum, a count, a time left.
    Number(i64),
    /// A key that never expires (`TTL none`; -1).
    Never,
    /// Lines describing the ring, or keys.
    Lines(Vec<String>),
    /// A refusal, by its text without the error's kind.
    Refused(String),
}

/// How a row's answer is read.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Done,
    Flag,
    Value,
    Number,
    Ttl,
    Lines,
    /// Keys, in any order.
    Keys,
}

/// One command in both protocols, and what its answer must mean (`None`:
/// only that the two agree, for answers that name addresses).
struct Row {
    text: String,
    resp: Vec<String>,
    kind: Kind,
    means: Option<Meaning>,
}

fn row(text: &str, resp: &[&str], kind: Kind, means: Option<Meaning>) -> Row {
    Row {
        text: text.to_string(),
        resp: resp.iter().map(|s| s.to_string()).collect(),
        kind,
        means,
    }
}

/// The script. It ends with every key it wrote deleted, so a second run
/// starts where the first did.
fn script() -> Vec<Row> {
    use Kind as K;
    use Meaning::*;
    let long = "k".repeat(MAX_KEY + 1);
    let too_long = format!(
        "key of {} bytes is longer than the {MAX_KEY} allowed",
        MAX_KEY + 1
    );
    vec![
        row(
            "PUT fruit apple",
            &["SET", "fruit", "apple"],
            K::Done,
            Some(Done),
        ),
        row(
            "GET fruit",
            &["GET", "fruit"],
            K::Value,
            Some(Value("apple".into())),
        ),
        row("GET nothing", &["GET", "nothing"], K::Value, Some(Nothing)),
        row("INCR hits", &["INCR", "hits"], K::Number, Some(Number(1))),
        row(
            "INCR hits 5",
            &["INCRBY", "hits", "5"],
            K::Number,
            Some(Number(6)),
        ),
        row(
            "INCR hits -2",
            &["DECRBY", "hits", "2"],
            K::Number,
            Some(Number(4)),
        ),
        row("INCR fruit", &["INCR", "fruit"], K::Number, None),
        row("TTL fruit", &["TTL", "fruit"], K::Ttl, Some(Never)),
        row(
            "EXPIRE fruit 100",
            &["EXPIRE", "fruit", "100"],
            K::Flag,
            Some(Yes),
        ),
        row("TTL fruit", &["TTL", "fruit"], K::Ttl, Some(Number(100))),
        row("PERSIST fruit", &["PERSIST", "fruit"], K::Flag, Some(Yes)),
        row("PERSIST fruit", &["PERSIST", "fruit"], K::Flag, Some(No)),
        row("TTL fruit", &["TTL", "fruit"], K::Ttl, Some(Never)),
        row(
            "EXPIRE nothing 10",
            &["EXPIRE", "nothing", "10"],
            K::Flag,
            Some(No),
        ),
        row(
            "PERSIST nothing",
            &["PERSIST", "nothing"],
            K::Flag,
            Some(No),
        ),
        row("TTL nothing", &["TTL", "nothing"], K::Ttl, Some(Nothing)),
        row(
            "EXPIRE fruit 99999999999999999",
            &["EXPIRE", "fruit", "99999999999999999"],
            K::Flag,
            Some(Refused("invalid expire time in 'expire' command".into())),
        ),
        row(
            &format!("PUT {long} v"),
            &["SET", &long, "v"],
            K::Done,
            Some(Refused(too_long.clone())),
        ),
        row(
            &format!("GET {long}"),
            &["GET", &long],
            K::Value,
            Some(Refused(too_long)),
        ),
        row(
            "KEYS *",
            &["KEYS", "*"],
            K::Keys,
            Some(Lines(vec!["fruit".into(), "hits".into()])),
        ),
        row("COUNT", &["CHORD", "COUNT"], K::Number, Some(Number(2))),
        row(
            "LOOKUP fruit",
            &["CHORD", "LOOKUP", "fruit"],
            K::Lines,
            None,
        ),
        row("RING", &["CHORD", "RING"], K::Lines, None),
        row("NODE", &["CHORD", "NODE"], K::Lines, None),
        row("FINGERS", &["CHORD", "FINGERS"], K::Lines, None),
        row("PING", &["PING"], K::Value, Some(Value("PONG".into()))),
        row("DEL fruit", &["DEL", "fruit"], K::Flag, Some(Yes)),
        row("DEL fruit", &["DEL", "fruit"], K::Flag, Some(No)),
        row("DEL hits", &["DEL", "hits"], K::Flag, Some(Yes)),
        row("GET fruit", &["GET", "fruit"], K::Value, Some(Nothing)),
    ]
}

/// A text answer's meaning.
fn text_meaning(kind: Kind, lines: Vec<String>) -> Meaning {
    let first = lines.first().cloned().unwrap_or_default();
    if let Some(why) = first.strip_prefix("ERR ") {
        return Meaning::Refused(why.to_string());
    }
    match (kind, first.as_str()) {
        (Kind::Done, "OK") => Meaning::Done,
        (Kind::Flag, "OK") => Meaning::Yes,
        (Kind::Flag, "NOT_FOUND") => Meaning::No,
        (Kind::Value | Kind::Ttl, "NOT_FOUND") => Meaning::Nothing,
        (Kind::Value, "+PONG") => Meaning::Value("PONG".into()),
        (Kind::Value, value) if value.starts_with("VALUE ") => Meaning::Value(value[6..].into()),
        (Kind::Number, line) if line.starts_with("VALUE ") || line.starts_with("COUNT ") => {
            number(line.split(' ').nth(1))
        }
        (Kind::Ttl, "TTL none") => Meaning::Never,
        (Kind::Ttl, line) if line.starts_with("TTL ") => number(line.split(' ').nth(1)),
        (Kind::Lines, _) => Meaning::Lines(lines.iter().map(|l| without_versions(l)).collect()),
        (Kind::Keys, _) => Meaning::Lines(sorted(lines)),
        _ => panic!("a text answer with no meaning for {kind:?}: {lines:?}"),
    }
}

/// A RESP answer's meaning.
fn resp_meaning(kind: Kind, answer: redis::RedisResult<redis::Value>) -> Meaning {
    use redis::Value as V;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return Meaning::Refused(e.detail().unwrap_or_default().to_string()),
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match (kind, answer) {
        (Kind::Done, V::Okay) => Meaning::Done,
        (Kind::Flag, V::Int(1)) => Meaning::Yes,
        (Kind::Flag, V::Int(0)) => Meaning::No,
        (Kind::Value, V::Nil) | (Kind::Ttl, V::Int(-2)) => Meaning::Nothing,
        (Kind::Value, V::BulkString(bytes)) => Meaning::Value(text(&bytes)),
        (Kind::Value, V::SimpleString(s)) => Meaning::Value(s),
        (Kind::Ttl, V::Int(-1)) => Meaning::Never,
        (Kind::Number | Kind::Ttl, V::Int(n)) => Meaning::Number(n),
        (Kind::Lines | Kind::Keys, V::Array(items)) => {
            let lines: Vec<String> = items
                .into_iter()
                .map(|item| match item {
                    V::BulkString(bytes) => without_versions(&text(&bytes)),
                    other => panic!("a line that is no string: {other:?}"),
                })
                .collect();
            Meaning::Lines(if matches!(kind, Kind::Keys) {
                sorted(lines)
            } else {
                lines
            })
        }
        (kind, other) => panic!("a RESP answer with no meaning for {kind:?}: {other:?}"),
    }
}

fn number(word: Option<&str>) -> Meaning {
    Meaning::Number(word.and_then(|w| w.parse().ok()).expect("a number"))
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// A LOOKUP line with each holder's version stamp (a time) replaced by
/// `v`: the two runs write at different times.
fn without_versions(line: &str) -> String {
    line.split(',')
        .map(|part| match part.rsplit_once('@') {
            Some((holder, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
                format!(
                    "{holder}@v{}",
                    version.trim_start_matches(|c: char| c.is_ascii_digit())
                )
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_text_and_redis_protocols_mean_the_same_answers() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    let script = script();
    // Row i goes through node i mod 3 in both protocols.
    let mut texts: Vec<Client> = addrs
        .iter()
        .map(|a| Client::connect(a, Duration::from_secs(10)).expect("a text client"))
        .collect();
    let text_run: Vec<Meaning> = script
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let lines = texts[i % 3].request(&row.text).expect("a text answer");
            text_meaning(row.kind, lines)
        })
        .collect();
    let mut resps: Vec<redis::Connection> = addrs
        .iter()
        .map(|a| {
            redis::Client::open(format!("redis://{a}/"))
                .and_then(|c| c.get_connection())
                .expect("a Redis connection")
        })
        .collect();
    let resp_run: Vec<Meaning> = script
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut cmd = redis::cmd(&row.resp[0]);
            for arg in &row.resp[1..] {
                cmd.arg(arg);
            }
            resp_meaning(row.kind, cmd.query(&mut resps[i % 3]))
        })
        .collect();
    for ((row, text), resp) in script.iter().zip(&text_run).zip(&resp_run) {
        assert_eq!(text, resp, "{:?} and {:?} disagree", row.text, row.resp);
        if let Some(means) = &row.means {
            assert_eq!(text, means, "{:?}", row.text);
        }
    }
    // The rows without a fixed meaning still say something.
    let lookup = &text_run[21];
    assert!(
        matches!(lookup, Meaning::Lines(l) if l.len() == 1 && l[0].contains("held=")),
        "{lookup:?}"
    );
    assert!(matches!(&text_run[22], Meaning::Lines(l) if l.len() == 3));
    assert!(
        matches!(&text_run[6], Meaning::Refused(why) if why.contains("not an integer")),
        "{:?}",
        text_run[6]
    );
}
