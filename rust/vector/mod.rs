//! The vector core: distance kernels, i8/f16 quantisation and softmax sampling.

pub mod kernels;

// The index (VectorIndex): storage, graph, namespaces, persistence.
pub mod buf;
pub mod hnsw;
pub mod index;
pub mod namespace;
pub mod persist;
pub mod rows;

pub mod quant;
pub mod sampling;
