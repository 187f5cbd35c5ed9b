//! What `chord` and `chord-lab` share: the argument parser, the log
//! format, and the way a command's outcome becomes an exit code.
//!
//! Each program is a table of commands and their flags, read here: a small
//! table per command rather than a crate (clap), since a dozen commands do
//! not need one and the first `make ring` on a fresh clone builds twice as
//! fast without it.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::str::FromStr;

/// Parses the arguments against `program`, sets up logging (to nowhere when
/// `quiet` says so for the command), and runs the command; its exit code:
/// 0, 1 when the command failed, 2 when the arguments are wrong.
pub fn main(
    program: &'static Program,
    quiet: fn(&str) -> bool,
    run: fn(&Parsed) -> Result<(), String>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = env_logger::Env::default().default_filter_or("info");
    let mut logger = env_logger::Builder::from_env(env);
    if args.first().is_some_and(|name| quiet(name)) {
        logger
            .filter_level(log::LevelFilter::Trace)
            .target(env_logger::Target::Pipe(Box::new(io::sink())));
    }
    logger
        .format(|out, record| {
            // RFC 3339 in UTC, to the millisecond, from env_logger (with
            // humantime): 2026-11-25T12:58:01.691Z.
            let now = out.timestamp_millis();
            writeln!(
                out,
                "[{now} {:<5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
    // One style for what goes wrong, arguments or later: `chord <command>:
    // <what>`, a plain line. Log lines are for a node's running log.
    let (name, result) = match parse(program, &args) {
        Ok(Request::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Request::Run(parsed)) => (parsed.command.name, run(&parsed)),
        Err(message) => {
            eprintln!("{}: {message}", program.name);
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{} {name}: {message}", program.name);
            ExitCode::FAILURE
        }
    }
}

/// Prints lines to standard output. A reader that went away (`| head`)
/// ends the output quietly, as Unix tools do.
pub fn print_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut out = io::stdout().lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => return Err(format!("writing the output: {e}")),
        }
    }
    Ok(())
}

/// One `--flag VALUE` of a command.
pub struct Flag {
    name: &'static str,
    value: &'static str,
    help: &'static str,
    /// `None`: the flag is required, unless `optional` says otherwise.
    default: Option<&'static str>,
    optional: bool,
}

pub const fn required(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value,
        help,
        default: None,
        optional: false,
    }
}

pub const fn optional(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value,
        help,
        default: None,
        optional: true,
    }
}

/// A `--flag` that takes no value: on when given.
pub const fn switch(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: "",
        help,
        default: None,
        optional: true,
    }
}

pub const fn with_default(
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
    pub about: &'static str,
    pub flags: &'static [Flag],
    pub free: Option<&'static str>,
}

/// A program: its name, what it is, and its commands.
pub struct Program {
    pub name: &'static str,
    pub about: &'static str,
    pub commands: &'static [Command],
}

fn usage(program: &Program) -> String {
    let name = program.name;
    let mut text = format!(
        "{name}: {}\n\nUsage: {name} <COMMAND> [OPTIONS]\n\nCommands:\n",
        program.about
    );
    // The names' column fits the longest, with two spaces after it.
    let commands = program.commands;
    let width = commands.iter().map(|c| c.name.len()).max().unwrap_or(0) + 2;
    for command in commands {
        text += &format!("  {:<width$}{}\n", command.name, command.about);
    }
    text + &format!("\n`{name} <COMMAND> --help` describes a command's options.\n")
}

fn command_usage(program: &str, command: &Command) -> String {
    let free = command.free.map(|f| format!(" [{f}]")).unwrap_or_default();
    let mut text = format!(
        "{}\n\nUsage: {program} {} [OPTIONS]{free}\n\nOptions:\n",
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
    pub program: &'static str,
    pub command: &'static Command,
    values: HashMap<&'static str, String>,
    /// The arguments that are no flag: only `chord send` takes them.
    #[allow(dead_code)]
    pub free: Vec<String>,
}

/// What the arguments ask for.
pub enum Request {
    Run(Parsed),
    Help(String),
}

/// Reads `args` (without the program's name) against `program`'s table.
pub fn parse(program: &'static Program, args: &[String]) -> Result<Request, String> {
    let usage = || usage(program);
    let me = program.name;
    let find = |name: &str| {
        program
            .commands
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("unknown command {name:?}\n\n{}", usage()))
    };
    let Some(name) = args.first() else {
        return Err(format!("no command given\n\n{}", usage()));
    };
    match name.as_str() {
        "-h" | "--help" => return Ok(Request::Help(usage())),
        "help" => {
            return Ok(Request::Help(match args.get(1) {
                None => usage(),
                Some(name) => command_usage(me, find(name)?),
            }))
        }
        "-V" | "--version" => {
            return Ok(Request::Help(format!(
                "{me} {}\n",
                env!("CARGO_PKG_VERSION")
            )))
        }
        _ => {}
    }
    let command = find(name)?;
    let mut values = HashMap::new();
    let mut free = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Request::Help(command_usage(me, command)));
        }
        let Some(flag_name) = arg.strip_prefix("--") else {
            if command.free.is_some() {
                free.push(arg.clone());
                continue;
            }
            return Err(format!(
                "unexpected argument {arg:?}; see `{me} {name} --help`"
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
            .ok_or_else(|| format!("unknown option --{flag_name}; see `{me} {name} --help`"))?;
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
                "--{} is required; see `{me} {name} --help`",
                flag.name
            ));
        }
    }
    Ok(Request::Run(Parsed {
        program: me,
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
            .ok_or_else(|| {
                format!(
                    "{} {} has no option --{name}",
                    self.program, self.command.name
                )
            })?;
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

    /// Whether the switch `--name` was given (see [`switch`]).
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

    const TEST: Program = Program {
        name: "test",
        about: "a program to test the parser",
        commands: &[
            Command {
                name: "node",
                about: "run a node",
                flags: &[
                    required("listen", "HOST:PORT", "where to listen"),
                    with_default("bits", "M", "identifier bits", "160"),
                    optional("join", "HOST:PORT", "a node of the ring"),
                ],
                free: None,
            },
            Command {
                name: "churn",
                about: "churn a ring",
                flags: &[
                    with_default("threads", "N", "client threads", "4"),
                    with_default("seed", "N", "the seed", "1"),
                    switch("freeze", "freeze instead of kill"),
                    switch("restart", "restart instead of kill"),
                ],
                free: None,
            },
        ],
    };

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_parse_with_defaults_and_clear_errors() {
        let Ok(Request::Run(parsed)) = parse(&TEST, &args("node --listen 127.0.0.1:0 --bits=6"))
        else {
            panic!("a valid node command");
        };
        assert_eq!(parsed.get::<u8>("bits"), Ok(6));
        assert_eq!(parsed.optional("join"), None);
        let error = |line: &str| match parse(&TEST, &args(line)) {
            Err(e) => e,
            Ok(_) => panic!("{line:?} was accepted"),
        };
        assert!(error("node").contains("--listen is required"));
        assert!(error("node --listen").contains("needs a value"));
        assert!(error("node --listen x --frob 1").contains("unknown option --frob"));
        assert!(error("node --listen x --frob 1").contains("`test node --help`"));
        assert!(error("frob").contains("unknown command"));
        assert!(matches!(
            parse(&TEST, &args("node --help")),
            Ok(Request::Help(_))
        ));
        let Ok(Request::Help(text)) = parse(&TEST, &args("help node")) else {
            panic!("help node is help");
        };
        assert!(
            text.contains("--listen") && text.contains("Usage: test node"),
            "{text}"
        );
        let Ok(Request::Run(parsed)) = parse(&TEST, &args("churn --threads 0")) else {
            panic!("a valid churn command");
        };
        assert!(parsed.at_least("threads", 1usize).is_err());
        assert!(parsed.get::<u8>("no-such-flag").is_err());
        let Ok(Request::Run(parsed)) = parse(&TEST, &args("churn --freeze --seed 3")) else {
            panic!("a switch, then a flag");
        };
        assert!(parsed.is_on("freeze") && !parsed.is_on("restart"));
        assert!(error("churn --freeze=yes").contains("takes no value"));
    }

    #[test]
    fn the_usage_keeps_every_name_apart_from_its_text() {
        let text = usage(&TEST);
        for command in TEST.commands {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(command.name))
                .unwrap_or_else(|| panic!("{} is not listed", command.name));
            let rest = &line.trim_start()[command.name.len()..];
            assert!(rest.starts_with("  "), "{line:?}");
        }
    }
}
