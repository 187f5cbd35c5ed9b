//! The Redis commands about the connection, the server and the ring
//! rather than keys: `CLIENT`, `HELLO`, `CONFIG`, `CLUSTER` and `CHORD`, parsed into
//! the shared [`Command`].

use super::words::{arity, is, Parsed};
use crate::command::{ClusterQuery, Command, LibInfo, Protocol, Refusal};

/// `CLIENT SETNAME name`, `GETNAME`, `ID`, `INFO`, `SETINFO attr value`.
pub(super) fn client(args: &[Vec<u8>]) -> Parsed {
    let lossy = |arg: &[u8]| String::from_utf8_lossy(arg).into_owned();
    match args {
        [sub, name] if is(sub, "SETNAME") => Ok(Command::SetName { name: lossy(name) }),
        [sub] if is(sub, "GETNAME") => Ok(Command::GetName),
        [sub] if is(sub, "ID") => Ok(Command::ClientId),
        [sub] if is(sub, "INFO") => Ok(Command::ClientInfo),
        [sub] if is(sub, "LIST") => Ok(Command::ClientList),
        [sub, attribute, value] if is(sub, "SETINFO") => {
            let attribute = if is(attribute, "LIB-NAME") {
                LibInfo::Name
            } else if is(attribute, "LIB-VER") {
                LibInfo::Version
            } else {
                return Err(Refusal::Usage(format!(
                    "Unrecognized option '{}'",
                    lossy(attribute)
                )));
            };
            Ok(Command::SetInfo {
                attribute,
                value: lossy(value),
            })
        }
        [sub, ..]
            if ["SETNAME", "GETNAME", "ID", "INFO", "LIST", "SETINFO"]
                .iter()
                .any(|s| is(sub, s)) =>
        {
            Err(Refusal::Usage(format!(
                "wrong number of arguments for 'client|{}' command",
                lossy(sub).to_ascii_lowercase()
            )))
        }
        [sub, ..] => Err(Refusal::Usage(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            lossy(sub)
        ))),
        [] => Err(arity("CLIENT")),
    }
}

/// `CLUSTER SLOTS`, `NODES`, `INFO`, `MYID`, `KEYSLOT key`.
pub(super) fn cluster(args: &[Vec<u8>]) -> Parsed {
    let lossy = |arg: &[u8]| String::from_utf8_lossy(arg).to_ascii_lowercase();
    let query = match args {
        [sub] if is(sub, "SLOTS") => ClusterQuery::Slots,
        [sub] if is(sub, "NODES") => ClusterQuery::Nodes,
        [sub] if is(sub, "INFO") => ClusterQuery::Info,
        [sub] if is(sub, "MYID") => ClusterQuery::MyId,
        [sub, key] if is(sub, "KEYSLOT") => ClusterQuery::KeySlot(key.clone()),
        [sub, ..]
            if ["SLOTS", "NODES", "INFO", "MYID", "KEYSLOT"]
                .iter()
                .any(|s| is(sub, s)) =>
        {
            return Err(Refusal::Usage(format!(
                "wrong number of arguments for 'cluster|{}' command",
                lossy(sub)
            )))
        }
        [sub, ..] => {
            return Err(Refusal::Usage(format!(
            "unknown subcommand '{}'. chord answers CLUSTER SLOTS, NODES, INFO, MYID and KEYSLOT; \
                 it moves no slots by hand, since the ring places keys itself",
            lossy(sub)
        )))
        }
        [] => return Err(arity("CLUSTER")),
    };
    Ok(Command::Cluster(query))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
pub(super) fn hello(args: &[Vec<u8>]) -> Parsed {
    let Some((version, mut rest)) = args.split_first() else {
        return Ok(Command::Hello {
            protocol: None,
            password: None,
            name: None,
        });
    };
    let protocol = match crate::store::integer(version) {
        Some(2) => Protocol::Resp2,
        Some(3) => Protocol::Resp3,
        Some(_) => return Err(Refusal::NoProto("unsupported protocol version".into())),
        None => {
            return Err(Refusal::Usage(
                "Protocol version is not an integer or out of range".into(),
            ))
        }
    };
    let (mut password, mut name) = (None, None);
    loop {
        match rest {
            [] => break,
            [option, _user, pass, more @ ..] if is(option, "AUTH") => {
                password = Some(String::from_utf8_lossy(pass).into_owned());
                rest = more;
            }
            [option, client, more @ ..] if is(option, "SETNAME") => {
                name = Some(String::from_utf8_lossy(client).into_owned());
                rest = more;
            }
            [option, ..] => {
                return Err(Refusal::Usage(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                )))
            }
        }
    }
    Ok(Command::Hello {
        protocol: Some(protocol),
        password,
        name,
    })
}

/// `CONFIG GET pattern...`, `CONFIG SET name value`, `CONFIG RESETSTAT`.
pub(super) fn config(args: &[Vec<u8>]) -> Parsed {
    let lower = |arg: &[u8]| String::from_utf8_lossy(arg).to_ascii_lowercase();
    match args {
        [sub, patterns @ ..] if is(sub, "GET") && !patterns.is_empty() => Ok(Command::ConfigGet {
            patterns: patterns.iter().map(|p| lower(p).into_bytes()).collect(),
        }),
        [sub, name, value] if is(sub, "SET") => Ok(Command::ConfigSet {
            name: lower(name),
            value: String::from_utf8_lossy(value).into_owned(),
        }),
        [sub] if is(sub, "RESETSTAT") => Ok(Command::ResetStats),
        [sub, ..] if ["GET", "SET", "RESETSTAT"].iter().any(|s| is(sub, s)) => {
            Err(Refusal::Usage(format!(
                "wrong number of arguments for 'config|{}' command",
                lower(sub)
            )))
        }
        [sub, ..] => Err(Refusal::Usage(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(sub)
        ))),
        [] => Err(arity("CONFIG")),
    }
}

/// `CHORD LOOKUP key`, `CHORD RING`, `CHORD COUNT`, `CHORD NODE`, `CHORD
/// FINGERS`, `CHORD STATS`.
pub(super) fn chord(args: &[Vec<u8>]) -> Parsed {
    let sub = args
        .first()
        .map(|s| String::from_utf8_lossy(s).to_ascii_uppercase());
    Ok(match (sub.as_deref(), &args[args.len().min(1)..]) {
        (Some("LOOKUP"), [key]) => Command::Lookup { key: key.to_vec() },
        (Some("RING"), []) => Command::Ring { full: false },
        (Some("COUNT"), []) => Command::Count,
        (Some("NODE"), []) => Command::Node { full: false },
        (Some("FINGERS"), []) => Command::Fingers { full: false },
        (Some("STATS"), []) => Command::Stats,
        _ => {
            return Err(Refusal::Usage(
                "CHORD takes LOOKUP <key>, RING, COUNT, NODE, FINGERS or STATS".into(),
            ))
        }
    })
}
