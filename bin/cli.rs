//! The command line's table of commands and flags, and its parser: a
//! small table per command rather than a crate (clap), since a dozen
//! commands do not need one and the first `make ring` on a fresh clone
//! builds twice as fast without it.

use std::collections::HashMap;
use std::str::FromStr;

/// One `--flag VALUE` of a command.
pub struct Flag {
    name: &'static str,
    value: &'static str,
    help: &'static str,
    /// `None`: the flag is required, unless `optional` says otherwise.
    default: Option<&'static str>,
    optional: bool,
}

const fn required(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value,
        help,
        default: None,
        optional: false,
    }
}

const fn optional(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value,
        help,
        default: None,
        optional: true,
    }
}

/// A `--flag` that takes no value: on when given.
const fn switch(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: "",
        help,
        default: None,
        optional: true,
    }
}

const fn with_default(
    name: &'static str,
    value: &'static str,
    help: &'static str,
    default: &'static str,
) -> Flag {
    Flag {
        name,
        value,
        help,
        default: Some(default),
        optional: true,
    }
}

/// A subcommand: its flags, and what its free arguments are, if it takes any.
pub struct Command {
    pub name: &'static str,
    about: &'static str,
    flags: &'static [Flag],
    free: Option<&'static str>,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "node",
        about: "Run one node: create a ring, or join one with --join",
        flags: &[
            required("listen", "HOST:PORT", "the address to listen on (port 0 picks one)"),
            optional("join", "HOST:PORT", "join the ring this node belongs to"),
            optional("advertise", "HOST:PORT", "the address peers dial, if not --listen"),
            with_default("bits", "M", "identifiers have M bits, 1 to 160", "160"),
            with_default("successors", "r", "the length of the successor list", "8"),
            with_default(
                "replicas",
                "R",
                "nodes that hold each key: the owner and R-1 successors",
                "3",
            ),
            with_default(
                "tombstone-hold-s",
                "S",
                "keep a deleted key's tombstone this long",
                "600",
            ),
            with_default(
                "workers",
                "N",
                "connections served at once (all but a quarter, at most 64, for text clients)",
                "1088",
            ),
            with_default("stabilize-ms", "MS", "the stabilization period", "250"),
            with_default("rpc-timeout-ms", "MS", "a peer call slower than this fails", "1000"),
            with_default(
                "request-timeout-ms",
                "MS",
                "how long a client request retries while the ring moves",
                "10000",
            ),
            with_default("idle-timeout-s", "S", "disconnect a text client silent this long", "300"),
            optional(
                "secret-file",
                "PATH",
                "the cluster secret every node of the ring shares (or set CHORD_SECRET)",
            ),
            optional(
                "password-file",
                "PATH",
                "text clients must send AUTH with this password first",
            ),
            optional(
                "max-memory",
                "MIB",
                "hold at most this many MiB of keys and values [default: a quarter of RAM]",
            ),
        ],
        free: None,
    },
    Command {
        name: "cli",
        about: "Talk to a node interactively: a prompt, history, line editing (line by line from a pipe)",
        flags: &[with_default(
            "addr",
            "HOST:PORT",
            "the node to talk to",
            "127.0.0.1:4000",
        )],
        free: None,
    },
    Command {
        name: "send",
        about: "Send text-protocol lines to a node (the arguments, else standard input) and print the answers",
        flags: &[required("addr", "HOST:PORT", "the node to talk to")],
        free: Some("LINE..."),
    },
    Command {
        name: "wait",
        about: "Wait until a RING walk from a node lists N nodes, then print it",
        flags: &[
            required("addr", "HOST:PORT", "the node to walk from"),
            required("nodes", "N", "how many nodes the ring should have"),
            with_default("timeout-s", "S", "give up after this long", "30"),
        ],
        free: None,
    },
    Command {
        name: "ports",
        about: "Check that COUNT ports from PORT on HOST are free; name each one taken",
        flags: &[
            required("host", "HOST", "the address to bind"),
            required("port", "PORT", "the first port"),
            with_default("count", "N", "how many ports", "1"),
        ],
        free: None,
    },
    Command {
        name: "hops",
        about: "LOOKUP random keys at random nodes of a ring; print the mean hop count",
        flags: &[
            required("addr", "HOST:PORT", "any node of the ring"),
            with_default("keys", "N", "how many keys to look up", "1000"),
            with_default("seed", "N", "seed for the random keys and nodes", "1"),
            with_default(
                "settle-s",
                "S",
                "first wait up to this long for every finger table to be correct",
                "60",
            ),
        ],
        free: None,
    },
    Command {
        name: "churn",
        about: "Start nodes on loopback, run a checked workload, kill and start nodes meanwhile; report",
        flags: &[
            with_default("nodes", "N", "nodes at the start", "16"),
            with_default("replicas", "R", "nodes that hold each key", "3"),
            with_default("duration-s", "S", "how long the churn and workload run", "60"),
            with_default("kill-every-ms", "MS", "SIGKILL nodes this often (0: never)", "2000"),
            with_default("join-every-ms", "MS", "start a node this often (0: never)", "2000"),
            with_default("at-once", "K", "nodes killed each time", "1"),
            switch(
                "freeze",
                "stop nodes with SIGSTOP for 5 to 15 s and resume them, instead of killing them",
            ),
            switch(
                "restart",
                "start each killed node again at once on its port, with an empty store",
            ),
            with_default("rate", "OPS", "workload operations a second, all threads", "200"),
            with_default("keys", "N", "distinct keys the workload uses", "2000"),
            with_default("threads", "T", "workload threads (each owns its keys)", "4"),
            with_default("seed", "N", "seed for every random choice", "1"),
            with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
            with_default("logs", "DIR", "where node logs go", ".churn"),
        ],
        free: None,
    },
    Command {
        name: "partition",
        about: "Split a ring between two network namespaces, write on both sides, heal; time the merge (root)",
        flags: &[
            with_default("per-side", "N", "nodes on each side", "4"),
            with_default("split-s", "S", "how long the sides stay apart", "40"),
            with_default(
                "cut",
                "HOW",
                "drop (packets vanish) or unreachable (refused at once)",
                "drop",
            ),
            with_default("keys", "N", "keys in each set (each side's, and shared)", "50"),
            with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
            with_default("logs", "DIR", "where node logs go", ".churn"),
        ],
        free: None,
    },
    Command {
        name: "massive",
        about: "Kill a fraction of a ring's nodes at once; report failed lookups and lost keys",
        flags: &[
            with_default("nodes", "N", "nodes in the ring", "32"),
            with_default("replicas", "R", "nodes that hold each key", "3"),
            with_default("fraction", "P", "the share of nodes killed at once", "0.25"),
            with_default("keys", "N", "keys written before the failure", "2000"),
            with_default("lookups", "N", "lookups in each phase", "1000"),
            with_default("seed", "N", "seed for every random choice", "1"),
            with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
            with_default("logs", "DIR", "where node logs go", ".churn"),
        ],
        free: None,
    },
    Command {
        name: "attack",
        about: "Attack a running ring as a stranger would; report what each attack achieved",
        flags: &[
            required("addr", "HOST:PORT", "any node of the ring"),
            with_default("bits", "M", "the ring's identifiers have M bits", "160"),
            optional(
                "as-member",
                "PATH",
                "attack as a member holding this secret file (malformed frames only)",
            ),
            with_default("stalls", "N", "connections that send NUL and stall", "500"),
        ],
        free: None,
    },
    Command {
        name: "fill",
        about: "Write values through a node until it answers out of memory; then read some back",
        flags: &[
            required("addr", "HOST:PORT", "the node to write through"),
            with_default("kib", "K", "the size of each value, KiB (at most 64)", "64"),
            with_default("limit", "N", "stop after this many writes", "100000"),
            with_default(
                "rewrites",
                "N",
                "then write every acknowledged key again, N times",
                "3",
            ),
        ],
        free: None,
    },
    Command {
        name: "draw",
        about: "Draw a running ring as SVG on standard output: nodes, arcs, one node's fingers",
        flags: &[
            required("addr", "HOST:PORT", "any node of the ring"),
            with_default("bits", "M", "the ring's identifiers have M bits", "160"),
            optional("fingers-of", "HOST:PORT", "whose fingers to draw [default: --addr]"),
            with_default("size", "PIXELS", "the picture's width and height", "800"),
        ],
        free: None,
    },
    Command {
        name: "sim",
        about: "Run the paper's simulation experiments on the in-memory network; write CSV",
        flags: &[
            with_default("figure", "NAME", "path-length, load, failures, or all", "all"),
            with_default("seed", "N", "seed for every random choice", "1"),
            with_default("out", "DIR", "where the CSV files go", "figures"),
            with_default("scale", "SCALE", "paper (the paper's sizes) or small", "paper"),
        ],
        free: None,
    },
    Command {
        name: "bench",
        about: "Run redis-benchmark against redis-server, one node and a ring, alternating; print ratios",
        flags: &[
            with_default("rounds", "N", "runs of each case on each system", "3"),
            with_default("requests", "N", "requests per run at 50 connections", "100000"),
            with_default("ring-nodes", "N", "nodes in the ring", "8"),
            optional("only", "TEXT", "only the cases whose name contains TEXT, e.g. \"node set\""),
        ],
        free: None,
    },
    Command {
        name: "locks",
        about: "Measure the longest store-lock hold of each kind of work at a node with many keys",
        flags: &[with_default("keys", "N", "keys each node holds", "1000000")],
        free: None,
    },
    Command {
        name: "fuzz",
        about: "Feed random and mutated bytes to every parser; save inputs that panic",
        flags: &[
            with_default("target", "NAME", "frame, peer, text, handshake, or all", "all"),
            with_default("inputs", "N", "inputs per target", "1000000"),
            with_default("seed", "N", "seed for the inputs", "1"),
            with_default("crashes", "DIR", "where inputs that panic are saved", "tests/fuzz"),
        ],
        free: None,
    },
];

fn usage() -> String {
    let mut text = String::from(
        "chord: a Chord distributed hash table\n\nUsage: chord <COMMAND> [OPTIONS]\n\nCommands:\n",
    );
    // The names' column fits the longest, with two spaces after it.
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0) + 2;
    for command in COMMANDS {
        text += &format!("  {:<width$}{}\n", command.name, command.about);
    }
    text + "\n`chord <COMMAND> --help` describes a command's options.\n"
}

fn command_usage(command: &Command) -> String {
    let free = command.free.map(|f| format!(" [{f}]")).unwrap_or_default();
    let mut text = format!(
        "{}\n\nUsage: chord {} [OPTIONS]{free}\n\nOptions:\n",
        command.about, command.name
    );
    for flag in command.flags {
        let left = format!("--{} {}", flag.name, flag.value)
            .trim_end()
            .to_string();
        let note = match (flag.default, flag.optional) {
            (Some(default), _) => format!(" [default: {default}]"),
            (None, false) => " (required)".to_string(),
            (None, true) => String::new(),
        };
        text += &format!("  {left:<32}{}{note}\n", flag.help);
    }
    text + "  --help                          print this help\n"
}

/// A command's arguments, read against its flag table.
pub struct Parsed {
    pub command: &'static Command,
    values: HashMap<&'static str, String>,
    pub free: Vec<String>,
}

/// What the arguments ask for.
pub enum Request {
    Run(Parsed),
    Help(String),
}

pub fn parse(args: &[String]) -> Result<Request, String> {
    let Some(name) = args.first() else {
        return Err(format!("no command given\n\n{}", usage()));
    };
    match name.as_str() {
        "-h" | "--help" => return Ok(Request::Help(usage())),
        "help" => {
            return Ok(Request::Help(match args.get(1) {
                None => usage(),
                Some(name) => COMMANDS
                    .iter()
                    .find(|c| c.name == name)
                    .map(command_usage)
                    .ok_or_else(|| format!("unknown command {name:?}\n\n{}", usage()))?,
            }))
        }
        "-V" | "--version" => {
            return Ok(Request::Help(format!(
                "chord {}\n",
                env!("CARGO_PKG_VERSION")
            )))
        }
        _ => {}
    }
    let command = COMMANDS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("unknown command {name:?}\n\n{}", usage()))?;
    let mut values = HashMap::new();
    let mut free = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Request::Help(command_usage(command)));
        }
        let Some(flag_name) = arg.strip_prefix("--") else {
            if command.free.is_some() {
                free.push(arg.clone());
                continue;
            }
            return Err(format!(
                "unexpected argument {arg:?}; see `chord {name} --help`"
            ));
        };
        let (flag_name, inline) = match flag_name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag_name, None),
        };
        let flag = command
            .flags
            .iter()
            .find(|f| f.name == flag_name)
            .ok_or_else(|| format!("unknown option --{flag_name}; see `chord {name} --help`"))?;
        let value = match inline {
            Some(_) if flag.value.is_empty() => {
                return Err(format!("--{} takes no value", flag.name));
            }
            Some(value) => value,
            None if flag.value.is_empty() => "yes".to_string(),
            None => rest
                .next()
                .cloned()
                .ok_or_else(|| format!("--{} needs a value: {}", flag.name, flag.value))?,
        };
        values.insert(flag.name, value);
    }
    for flag in command.flags {
        if !flag.optional && !values.contains_key(flag.name) {
            return Err(format!(
                "--{} is required; see `chord {name} --help`",
                flag.name
            ));
        }
    }
    Ok(Request::Run(Parsed {
        command,
        values,
        free,
    }))
}

impl Parsed {
    /// The value of `--name`, or its default, parsed as a `T`.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let flag = self
            .command
            .flags
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("chord {} has no option --{name}", self.command.name))?;
        let text = self
            .values
            .get(name)
            .map(String::as_str)
            .or(flag.default)
            .ok_or_else(|| format!("--{name} is required"))?;
        text.parse()
            .map_err(|_| format!("--{name} takes {}, not {text:?}", flag.value))
    }

    /// The value of an optional `--name` without a default.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    /// Whether the switch `--name` was given.
    pub fn is_on(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `--name` as a `T` that must be at least `least`: a
    /// smaller one is refused, not quietly raised.
    pub fn at_least<T: FromStr + PartialOrd + std::fmt::Display>(
        &self,
        name: &str,
        least: T,
    ) -> Result<T, String> {
        let value: T = self.get(name)?;
        if value < least {
            return Err(format!("--{name} must be at least {least}, not {value}"));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_defaults_and_clear_errors() {
        let args = |line: &str| {
            line.split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let Ok(Request::Run(parsed)) = parse(&args("node --listen 127.0.0.1:0 --bits=6")) else {
            panic!("a valid node command");
        };
        assert_eq!(parsed.get::<u8>("bits"), Ok(6));
        assert_eq!(parsed.get::<usize>("successors"), Ok(8));
        assert_eq!(parsed.optional("join"), None);
        let error = |line: &str| match parse(&args(line)) {
            Err(e) => e,
            Ok(_) => panic!("{line:?} was accepted"),
        };
        assert!(error("node").contains("--listen is required"));
        assert!(error("node --listen").contains("needs a value"));
        assert!(error("node --listen x --frob 1").contains("unknown option --frob"));
        assert!(error("frob").contains("unknown command"));
        assert!(matches!(parse(&args("wait --help")), Ok(Request::Help(_))));
        let Ok(Request::Help(text)) = parse(&args("help node")) else {
            panic!("help node is help");
        };
        assert!(text.contains("--secret-file"), "{text}");
        let Ok(Request::Run(parsed)) = parse(&args("churn --threads 0")) else {
            panic!("a valid churn command");
        };
        assert!(parsed.at_least("threads", 1usize).is_err());
        assert!(parsed.get::<u8>("no-such-flag").is_err());
        let Ok(Request::Run(parsed)) = parse(&args("churn --freeze --seed 3")) else {
            panic!("a switch, then a flag");
        };
        assert!(parsed.is_on("freeze") && !parsed.is_on("restart"));
        assert!(error("churn --freeze=yes").contains("takes no value"));
    }

    #[test]
    fn the_usage_keeps_every_name_apart_from_its_text() {
        let text = usage();
        for command in COMMANDS {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(command.name))
                .unwrap_or_else(|| panic!("{} is not listed", command.name));
            let rest = &line.trim_start()[command.name.len()..];
            assert!(rest.starts_with("  "), "{line:?}");
        }
    }
}
