//! Parley's engine: the unified IM model, the actors that keep each conversation in
//! order, the durable store, and the interface adapters implement.

pub mod adapter;
pub mod handler;
pub mod model;
