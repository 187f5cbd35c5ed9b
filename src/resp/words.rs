//! What the parsers of Redis commands share: the refusals they word the
//! same way, and how they read a key or a keyword.

use crate::command::{Command, Refusal};

/// A request's command, or why it is none.
pub(super) type Parsed = Result<Command, Refusal>;

/// The refusal of a request with too few or too many arguments.
pub(super) fn arity(name: &str) -> Refusal {
    Refusal::Usage(format!(
        "wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

/// Whether `arg` is `word`, in any case.
pub(super) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis's `syntax error`.
pub(super) fn syntax() -> Refusal {
    Refusal::Usage("syntax error".into())
}
