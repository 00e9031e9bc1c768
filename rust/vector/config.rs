//! What a `VectorIndex` is built with: its kind and configuration, shared by the index and its
//! namespaces (kept apart so that `namespace` does not depend on `index`).

use super::kernels::Metric;
use super::rows::Dtype;
use crate::error::CoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Flat,
    Hnsw,
    /// Scans while a namespace is small, builds a graph past `namespace::AUTO_GRAPH_AT`.
    Auto,
}

impl Kind {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "flat" => Ok(Kind::Flat),
            "hnsw" => Ok(Kind::Hnsw),
            "auto" => Ok(Kind::Auto),
            other => Err(CoreError::InvalidArgument(format!(
                "kind must be 'auto', 'flat' or 'hnsw', not {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Flat => "flat",
            Kind::Hnsw => "hnsw",
            Kind::Auto => "auto",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub dim: usize,
    pub metric: Metric,
    pub kind: Kind,
    pub dtype: Dtype,
    pub m: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
}

impl Config {
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |m: &str| Err(CoreError::InvalidArgument(m.to_string()));
        if self.dim == 0 || self.dim > 1 << 16 {
            return bad("dim must be between 1 and 65536");
        }
        if self.m < 2 || self.m > 256 {
            return bad("M must be between 2 and 256 (16 is a good default)");
        }
        if self.ef_construction < 1 || self.ef_search < 1 {
            return bad("ef_construction and ef_search must be at least 1");
        }
        Ok(())
    }
}
