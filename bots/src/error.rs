//! Script errors with their position, from compile or run time.

use crate::BotOptions;
use rhai::{EvalAltResult, ParseError, Position};
use std::fmt;
use std::path::{Path, PathBuf};

/// An error in a bot script: it did not compile, or a handler failed at run time.
///
/// Displays as `file:line:column: message` (the `file` as given to
/// [`BotRuntime::load`](crate::BotRuntime::load), e.g. `scripts/bad.rhai:3:7: ...`), leaving
/// out what is unknown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    pub file: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl ScriptError {
    /// An error not tied to a position in the file (unreadable file, state too large, ...).
    pub(crate) fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn at(file: &Path, position: Position, message: String) -> Self {
        Self {
            file: file.to_path_buf(),
            line: position.line(),
            column: position.position(),
            message,
        }
    }

    pub(crate) fn compile(file: &Path, error: &ParseError) -> Self {
        Self::at(file, error.position(), error.err_type().to_string())
    }

    /// A run-time error of the script at `file`, whose AST source is `source`.
    ///
    /// The position is the innermost one inside this file: an error in a helper function the
    /// script defines is reported where it happened, with the chain of calls in the message;
    /// an error inside an imported module is reported at the call (or import) in this file.
    ///
    /// Rhai gives no position for the errors that stop a script (the operation and
    /// call-depth limits); those are reported at `handler_at`, the handler's definition.
    pub(crate) fn runtime(
        file: &Path,
        source: &str,
        error: &EvalAltResult,
        handler: &str,
        handler_at: Option<(usize, usize)>,
        options: &BotOptions,
    ) -> Self {
        let mut calls = Vec::new();
        let mut current = error;
        while let EvalAltResult::ErrorInFunctionCall(function, call_source, inner, _) = current {
            if !(call_source.is_empty() || call_source == source) {
                break;
            }
            calls.push(function.as_str());
            current = inner;
        }
        let mut message = match current {
            EvalAltResult::ErrorTooManyOperations(_) => format!(
                "too many operations: the script ran over its limit of {} operations",
                options.max_operations
            ),
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "stack overflow: function calls nested deeper than the limit of {}",
                options.max_call_levels
            ),
            other => without_position(other).replace('\n', "; "),
        };
        if !calls.is_empty() {
            calls.reverse();
            message.push_str(&format!(" (in {})", describe_calls(&calls)));
        }
        let position = current.position();
        match handler_at {
            Some((line, column)) if position.is_none() => {
                message.push_str(&format!(" (in the handler `{handler}`)"));
                Self {
                    file: file.to_path_buf(),
                    line: Some(line),
                    column: Some(column),
                    message,
                }
            }
            _ => Self::at(file, position, message),
        }
    }
}

/// `function 'inner', called from 'outer'`, with runs of recursion folded: `'f' (x64)`.
fn describe_calls(innermost_first: &[&str]) -> String {
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for &function in innermost_first {
        match runs.last_mut() {
            Some((last, count)) if *last == function => *count += 1,
            _ => runs.push((function, 1)),
        }
    }
    let runs: Vec<String> = runs
        .into_iter()
        .map(|(function, count)| match count {
            1 => format!("'{function}'"),
            n => format!("'{function}' (x{n})"),
        })
        .collect();
    format!("function {}", runs.join(", called from "))
}

/// The error's text without the ` (line 3, position 7)` Rhai appends: it is reported apart.
fn without_position(error: &EvalAltResult) -> String {
    let text = error.to_string();
    let position = error.position();
    if position.is_none() {
        return text;
    }
    match text.strip_suffix(&format!(" ({position})")) {
        Some(text) => text.to_string(),
        None => text,
    }
}
