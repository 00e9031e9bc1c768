//! The vector core: distance kernels, i8/f16 quantisation, softmax sampling and the index.

pub mod kernels;
pub mod pairwise;
pub mod quant;
pub mod sampling;

// The index (VectorIndex): storage, graph, namespaces, persistence.
pub mod buf;
pub mod config;
pub mod hnsw;
pub mod index;
pub(crate) mod mapped;
pub mod namespace;
pub mod persist;
pub mod rows;
