//! Text embedders that need no model: lexical fallbacks for when no sentence-embedding model
//! is installed.

pub mod hashing;

pub use hashing::{HashingConfig, HashingEmbedder};
