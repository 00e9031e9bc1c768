//! dejacache's core: canonical request keys and the in-memory entry store.
//!
//! Plain Rust; the Python bindings live in `py/` behind the `python` feature, so
//! `cargo test` builds and tests the core without an interpreter.

pub mod embed;
pub mod envelope;
pub mod error;
pub mod key;
pub mod savings;
pub mod store;
pub mod vector;

#[cfg(feature = "python")]
mod py;

pub use error::CoreError;
pub use key::{key_of, KeyEncoder, Value};
pub use store::{EntryStore, Eviction, StoreConfig};
