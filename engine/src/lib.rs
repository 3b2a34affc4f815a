//! Parley's engine: the unified IM model, the actors that keep each conversation in
//! order, the durable store, the outbox, and the interface adapters implement.

pub mod actors;
pub mod adapter;
pub mod audience;
pub mod broadcast;
mod engine;
pub mod handler;
pub mod intercept;
pub mod model;
pub mod monitor;
pub mod outbox;
pub mod ratelimit;
pub mod scheduler;
pub mod store;

pub use engine::{Engine, EngineConfig, EngineError};
