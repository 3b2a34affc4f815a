//! The unified model: what every adapter translates its platform into and back.
//!
//! This module depends on nothing else of Parley's (only serde), so adapters, the store,
//! the actors and the bot runtime can all share it.

pub mod command;
pub mod content;
pub mod directory;
pub mod event;
pub mod ids;

pub use command::*;
pub use content::*;
pub use directory::*;
pub use event::*;
pub use ids::*;

#[cfg(test)]
mod roundtrip_tests;
