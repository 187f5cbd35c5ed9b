//! An [`Answer`] in Redis's words: its reply types, and its error kinds
//! and texts where a client or a test matches them.

use super::Reply;
use crate::command::{Answer, Protocol, Refusal, SetReply, Ttl, KEYS_LIMIT};
use crate::error::Error;

/// The answer as Redis words it.
pub fn format(answer: Answer) -> Reply {
    let texts = |lines: Vec<String>| Reply::Array(lines.into_iter().map(Reply::text).collect());
    let keys_reply =
        |keys: Vec<Vec<u8>>| Reply::Array(keys.into_iter().map(|k| Reply::Bulk(Some(k))).collect());
    match answer {
        Answer::Ok | Answer::Bye => Reply::ok(),
        Answer::Queued => Reply::Simple("QUEUED"),
        Answer::Many(answers) => Reply::Array(answers.into_iter().map(format).collect()),
        Answer::Pong => Reply::Simple("PONG"),
        Answer::Value(value) => Reply::Bulk(value),
        Answer::Values(values) => Reply::Array(values.into_iter().map(Reply::Bulk).collect()),
        Answer::Integer(n) | Answer::Deleted(n) | Answer::Sum(n) => Reply::Integer(n),
        Answer::Written(written, SetReply::Ok) => {
            if written {
                Reply::ok()
            } else {
                Reply::Bulk(None)
            }
        }
        Answer::Written(written, SetReply::Integer) | Answer::Changed(written) => {
            Reply::Integer(i64::from(written))
        }
        Answer::Ttl(Ttl::NoValue) => Reply::Integer(-2),
        Answer::Ttl(Ttl::Never) => Reply::Integer(-1),
        Answer::Ttl(Ttl::In(n)) => Reply::Integer(n),
        Answer::Type(name) => Reply::Simple(name),
        Answer::Keys {
            keys,
            complete: true,
        } => keys_reply(keys),
        // A client would take a part for the whole.
        Answer::Keys { .. } => Reply::err(format!(
            "more than {KEYS_LIMIT} keys match; SCAN lists any number (redis-cli --scan)"
        )),
        Answer::Scan { next, keys } => {
            Reply::Array(vec![Reply::text(next.to_string()), keys_reply(keys)])
        }
        Answer::Count { keys, .. } => Reply::Integer(i64::try_from(keys).unwrap_or(i64::MAX)),
        Answer::Lines(lines) => texts(lines),
        Answer::Text(text) => Reply::text(text),
        Answer::Hello { id, protocol } => hello_reply(id, protocol),
        Answer::Pairs(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(name, value)| (Reply::text(name), Reply::text(value)))
                .collect(),
        ),
        Answer::Slots(runs) => Reply::Array(
            runs.into_iter()
                .map(|run| {
                    Reply::Array(vec![
                        Reply::Integer(run.first.into()),
                        Reply::Integer(run.last.into()),
                        Reply::Array(vec![
                            Reply::text(run.node.host),
                            Reply::Integer(run.node.port.into()),
                            Reply::text(run.node.name),
                        ]),
                    ])
                })
                .collect(),
        ),
        Answer::Introspection { count: true } => Reply::Integer(0),
        Answer::Introspection { count: false } => Reply::Array(Vec::new()),
        Answer::Refused(why) => refusal(&why),
    }
}

/// A refusal with Redis's error kind first, in Redis's words where a
/// client or a test matches them.
fn refusal(why: &Refusal) -> Reply {
    let kind = match why {
        Refusal::Node(Error::OutOfMemory(_)) => "OOM",
        Refusal::Node(Error::Paused) => "BUSY",
        Refusal::Node(Error::CrossSlot) => "CROSSSLOT",
        Refusal::ExecAbort => "EXECABORT",
        Refusal::NoAuth => return Reply::Error("NOAUTH Authentication required.".into()),
        Refusal::HelloNoAuth => "NOAUTH",
        Refusal::WrongPassword => {
            return Reply::Error(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            )
        }
        Refusal::NoPassword => {
            return Reply::err(
                "AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            )
        }
        Refusal::NoProto(_) => "NOPROTO",
        _ => "ERR",
    };
    Reply::Error(format!("{kind} {}", why.text()))
}

/// `HELLO`'s map, with the fields Redis gives: its mode is `cluster`, as a
/// node answers Redis Cluster's `CLUSTER SLOTS`.
fn hello_reply(id: u64, protocol: Protocol) -> Reply {
    let proto = match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    let pairs = [
        ("server", Reply::text("chord")),
        ("version", Reply::text(env!("CARGO_PKG_VERSION"))),
        ("proto", Reply::Integer(proto)),
        ("id", Reply::Integer(i64::try_from(id).unwrap_or(i64::MAX))),
        ("mode", Reply::text("cluster")),
        ("role", Reply::text("master")),
        ("modules", Reply::Array(Vec::new())),
    ];
    Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::text(k), v))
            .collect(),
    )
}
