//! The vendor layer that Parley's cloud adapters (Tencent, NetEase, RongCloud, JMessage,
//! Lanying) share, so that an adapter holds only what is its vendor's own:
//!
//! - [`sign`]: the hash, HMAC and constant-time compare primitives of the signing schemes;
//! - [`http`]: a REST client with timeouts that classifies failures (unavailable,
//!   unknown outcome, rate limited with `Retry-After`);
//! - [`webhook`]: callback intake for actix-web (body limit, clear 400s, freshness check,
//!   answering only once the event is durable, 429/503 when the inbox cannot take it);
//! - [`errors`]: typed command results from vendor answers;
//! - [`clock`]: wall-clock time that tests can replace.
//!
//! What the engine already does is not repeated here: inbound dedupe by event id (the
//! inbox), retry with backoff of transient failures and rate limiting (the outbox, from
//! `Adapter::default_rate_limits`).

pub mod clock;
pub mod errors;
pub mod http;
pub mod sign;
pub mod webhook;

pub use clock::Clock;
