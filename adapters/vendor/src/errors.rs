//! Building the model's typed command results from what a vendor answered.

use parley_engine::model::{CommandError, CommandResult, ErrorKind};

/// A failure with the vendor's own code kept for logs and bots.
pub fn vendor_error(
    kind: ErrorKind,
    code: impl ToString,
    message: impl Into<String>,
) -> CommandError {
    CommandError {
        kind,
        message: message.into(),
        platform_code: Some(code.to_string()),
        retry_after_ms: None,
    }
}

/// The result of a command the vendor has no API for.
pub fn unsupported(vendor: &str, command: &str) -> CommandResult {
    CommandResult::Failed(CommandError::new(
        ErrorKind::Unsupported,
        format!("{vendor} has no server API for `{command}`"),
    ))
}

/// A command the adapter cannot express for this vendor (a wrong target kind, a missing
/// field); never worth retrying.
pub fn invalid(message: impl Into<String>) -> CommandError {
    CommandError::new(ErrorKind::Invalid, message)
}
