//! `VectorIndex`: namespaces of vectors keyed by u64 ids, searched by exact scan or HNSW.
//!
//! Each namespace has its own RwLock, and one more guards the map of namespaces (held only to
//! look a namespace up, create or drop it): searches share a namespace's read lock and run in
//! parallel, a write locks only its namespace, so a graph build in one tenant's namespace does
//! not stall searches in the others.
//! writes take the write lock. Inputs are checked in full before anything changes, so a bad
//! batch leaves the index as it was.

use std::collections::HashMap;

use std::sync::Arc;

use parking_lot::RwLock;

// Re-exported: `index::{Config, Kind}` stays the path the bindings and persistence use.
pub use super::config::{Config, Kind};
use super::kernels::{self, Metric};
use super::mapped::MappedFile;
use super::namespace::{Namespace, Scratch};
use crate::error::CoreError;

pub const DEFAULT_NAMESPACE: &str = "default";

pub(crate) type Shared = Arc<RwLock<Namespace>>;
/// The id reported in unfilled result slots; it cannot be added.
pub const NO_ID: u64 = u64::MAX;

/// Search results, row-major: `ids[q * k + j]`, `scores[q * k + j]`.
pub struct Found {
    pub ids: Vec<u64>,
    pub scores: Vec<f32>,
}

pub struct VectorIndex {
    cfg: Config,
    spaces: RwLock<HashMap<String, Shared>>,
    /// The file an index loaded with mmap=True reads from; checked before every use.
    mapped: Option<MappedFile>,
}

/// Largest k a search accepts (results are allocated up front).
pub const MAX_K: usize = 1 << 20;
/// Most threads one call may start.
pub const MAX_THREADS: usize = 1024;

fn checked_threads(threads: Option<usize>) -> Result<usize, CoreError> {
    match threads {
        None => Ok(1),
        Some(t) if (1..=MAX_THREADS).contains(&t) => Ok(t),
        Some(t) => Err(CoreError::InvalidArgument(format!(
            "threads must be between 1 and {MAX_THREADS} (or None for one thread), got {t}"
        ))),
    }
}

/// Seeds the level generator of a namespace from its name, so builds repeat exactly.
fn seed_of(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

impl VectorIndex {
    pub fn new(cfg: Config) -> Result<Self, CoreError> {
        cfg.validate()?;
        Ok(VectorIndex {
            cfg,
            spaces: RwLock::new(HashMap::new()),
            mapped: None,
        })
    }

    pub(crate) fn from_parts(cfg: Config, spaces: HashMap<String, Namespace>) -> Self {
        let spaces = spaces
            .into_iter()
            .map(|(k, v)| (k, Arc::new(RwLock::new(v))))
            .collect();
        VectorIndex {
            cfg,
            spaces: RwLock::new(spaces),
            mapped: None,
        }
    }

    pub(crate) fn with_mapped(mut self, mapped: MappedFile) -> Self {
        self.mapped = Some(mapped);
        self
    }

    /// Err when the file this index maps was changed in place since the load (see `mapped`);
    /// every operation that reads vectors, ids or links calls it first.
    pub fn check_mapped(&self) -> Result<(), CoreError> {
        self.mapped.as_ref().map_or(Ok(()), |m| m.check())
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Checks `count` rows of `data` and returns them ready to store (unit length for cosine).
    fn checked_rows<'a>(
        &self,
        data: &'a [f32],
        count: usize,
        what: &str,
    ) -> Result<std::borrow::Cow<'a, [f32]>, CoreError> {
        let d = self.cfg.dim;
        if data.len() != count * d {
            return Err(CoreError::InvalidArgument(format!(
                "{what} must have {d} columns (the index dimension); got {} values for {count} rows",
                data.len()
            )));
        }
        if let Some(pos) = data.iter().position(|x| !x.is_finite()) {
            return Err(CoreError::InvalidArgument(format!(
                "{what} row {} holds NaN or infinity; replace or drop it before calling",
                pos / d
            )));
        }
        if self.cfg.metric != Metric::Cosine {
            return Ok(std::borrow::Cow::Borrowed(data));
        }
        let mut out = data.to_vec();
        for (r, row) in out.chunks_exact_mut(d).enumerate() {
            let norm = kernels::dot_f32(row, row).sqrt();
            if !(norm > 0.0 && norm.is_finite()) {
                return Err(CoreError::InvalidArgument(format!(
                    "{what} row {r} has zero (or overflowing) length, so it has no cosine similarity; drop it or use metric='dot' or 'l2'"
                )));
            }
            row.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(std::borrow::Cow::Owned(out))
    }

    /// Adds rows; an id already in the namespace is replaced. `vectors` is row-major.
    /// With `threads` above 1, graph construction uses that many scoped threads.
    pub fn add(
        &self,
        namespace: &str,
        ids: &[u64],
        vectors: &[f32],
        threads: Option<usize>,
    ) -> Result<(), CoreError> {
        self.check_mapped()?;
        let threads = checked_threads(threads)?;
        if vectors.len() != ids.len() * self.cfg.dim {
            return Err(CoreError::InvalidArgument(format!(
                "got {} ids and {} values; pass one id per vector of {} values",
                ids.len(),
                vectors.len(),
                self.cfg.dim
            )));
        }
        if ids.contains(&NO_ID) {
            return Err(CoreError::InvalidArgument(
                "id 2**64-1 is reserved for empty result slots; use another id".into(),
            ));
        }
        let rows = self.checked_rows(vectors, ids.len(), "vectors")?;
        if ids.is_empty() {
            return Ok(());
        }
        let seed = seed_of(namespace);
        loop {
            let shared = self.shared(namespace).unwrap_or_else(|| {
                let mut spaces = self.spaces.write();
                let entry = spaces.entry(namespace.to_string());
                entry
                    .or_insert_with(|| Arc::new(RwLock::new(Namespace::new(&self.cfg, seed))))
                    .clone()
            });
            let mut space = shared.write();
            if space.retired {
                continue; // emptied and dropped from the map meanwhile: look it up again
            }
            space.add(ids, &rows, threads);
            space.maintain(&self.cfg, seed, threads);
            return Ok(());
        }
    }

    /// The namespace's shared handle; the map lock is released on return.
    fn shared(&self, namespace: &str) -> Option<Shared> {
        self.spaces.read().get(namespace).cloned()
    }

    /// Handles of every namespace, taken under the map lock and released, so that slow work on
    /// one namespace never holds the map lock.
    fn all_shared(&self) -> Vec<(String, Shared)> {
        let mut all: Vec<(String, Shared)> = self
            .spaces
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Removes ids (unknown ids are ignored); returns how many were removed.
    pub fn remove(&self, namespace: &str, ids: &[u64]) -> usize {
        let Some(shared) = self.shared(namespace) else {
            return 0;
        };
        let (removed, emptied) = {
            let mut space = shared.write();
            let removed = ids.iter().filter(|&&id| space.remove(id)).count();
            let emptied = space.rows.live() == 0;
            if removed > 0 && !emptied {
                space.maintain(&self.cfg, seed_of(namespace), 1);
            }
            (removed, emptied)
        };
        if emptied {
            // Lock order everywhere: map, then namespace. Re-check: an add may have come first.
            let mut spaces = self.spaces.write();
            if spaces
                .get(namespace)
                .is_some_and(|cur| Arc::ptr_eq(cur, &shared))
            {
                let mut space = shared.write();
                if space.rows.live() == 0 {
                    space.retired = true;
                    spaces.remove(namespace);
                }
            }
        }
        removed
    }

    /// The k nearest rows of each query. Scores are similarities (higher is better) for cosine
    /// and dot, squared distances for l2; unfilled slots hold `NO_ID` and NaN. With `threads`
    /// above 1, queries are split over that many scoped threads.
    pub fn search(
        &self,
        namespace: &str,
        queries: &[f32],
        k: usize,
        ef: Option<usize>,
        threads: Option<usize>,
    ) -> Result<Found, CoreError> {
        self.check_mapped()?;
        if !(1..=MAX_K).contains(&k) {
            return Err(CoreError::InvalidArgument(format!(
                "k must be between 1 and {MAX_K}, got {k}"
            )));
        }
        if ef == Some(0) {
            return Err(CoreError::InvalidArgument(
                "ef must be at least 1 (or None for the index default)".into(),
            ));
        }
        let threads = checked_threads(threads)?;
        let d = self.cfg.dim;
        if !queries.len().is_multiple_of(d) {
            return Err(CoreError::InvalidArgument(format!(
                "queries must have {d} columns (the index dimension); got {} values",
                queries.len()
            )));
        }
        let n = queries.len() / d;
        let queries = self.checked_rows(queries, n, "queries")?;
        let mut found = Found {
            ids: vec![NO_ID; n * k],
            scores: vec![f32::NAN; n * k],
        };
        let Some(shared) = self.shared(namespace) else {
            return Ok(found);
        };
        let space = shared.read();
        let ef = ef.unwrap_or(self.cfg.ef_search);
        let metric = self.cfg.metric;
        let run = |qs: &[f32], ids: &mut [u64], scores: &mut [f32]| {
            let mut scratch = Scratch::default();
            for ((q, ids), scores) in qs
                .chunks_exact(d)
                .zip(ids.chunks_exact_mut(k))
                .zip(scores.chunks_exact_mut(k))
            {
                let prepared = space.rows.prepare(q);
                for (j, c) in space
                    .search(&prepared, k, ef, &mut scratch)
                    .into_iter()
                    .enumerate()
                {
                    ids[j] = space.rows.ids[c.slot as usize];
                    scores[j] = if metric == Metric::L2 {
                        c.dist
                    } else {
                        -c.dist
                    };
                }
            }
        };
        let threads = threads.min(n.max(1));
        if threads <= 1 {
            run(&queries, &mut found.ids, &mut found.scores);
        } else {
            let per = n.div_ceil(threads);
            std::thread::scope(|s| {
                for ((qs, ids), scores) in queries
                    .chunks(per * d)
                    .zip(found.ids.chunks_mut(per * k))
                    .zip(found.scores.chunks_mut(per * k))
                {
                    s.spawn(move || run(qs, ids, scores));
                }
            });
        }
        drop(space);
        Ok(found)
    }

    pub fn contains(&self, namespace: &str, id: u64) -> bool {
        self.shared(namespace)
            .is_some_and(|s| s.read().rows.contains(id))
    }

    /// Live vectors in all namespaces.
    pub fn len(&self) -> usize {
        self.all_shared()
            .iter()
            .map(|(_, s)| s.read().rows.live())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live vectors in one namespace.
    pub fn count(&self, namespace: &str) -> usize {
        self.shared(namespace).map_or(0, |s| s.read().rows.live())
    }

    /// Names of the namespaces holding at least one vector, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        let all = self.all_shared();
        all.into_iter()
            .filter(|(_, s)| s.read().rows.live() > 0)
            .map(|(name, _)| name)
            .collect()
    }

    /// Bytes of memory held by vectors, ids and links (mapped file pages excluded).
    pub fn heap_bytes(&self) -> usize {
        self.all_shared()
            .iter()
            .map(|(_, s)| {
                let s = s.read();
                s.rows.heap_bytes() + s.graph.as_ref().map_or(0, |g| g.heap_bytes())
            })
            .sum()
    }

    /// The namespaces sorted by name, each to be read-locked in turn (persistence).
    pub(crate) fn namespaces_for_save(&self) -> Vec<(String, Shared)> {
        self.all_shared()
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
