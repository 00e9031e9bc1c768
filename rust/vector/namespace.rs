//! One namespace's sub-index: its rows plus, once it is large enough (or always, for
//! kind="hnsw"), a graph over them. Small namespaces are a few empty arrays and a map.

use std::collections::BinaryHeap;

use super::config::{Config, Kind};
use super::hnsw::Graph;
use super::rows::{Dtype, Query, Rows, Scored};

/// Live rows above which kind="auto" builds a graph (measured: notes/index.md).
pub const AUTO_GRAPH_AT: usize = 2048;

pub struct Namespace {
    pub rows: Rows,
    pub graph: Option<Graph>,
    /// Set when the emptied namespace is dropped from the index's map; a writer that still
    /// holds its handle then looks the namespace up again.
    pub retired: bool,
}

/// Reusable buffers of one searching thread.
#[derive(Default)]
pub struct Scratch {
    dists: Vec<f32>,
    ints: Vec<i32>,
}

impl Namespace {
    pub fn new(cfg: &Config, seed: u64) -> Self {
        // i8 rows keep their f32 originals while scanned (exact rerank); a graph drops them.
        let mut rows = Rows::new(cfg.dim, cfg.dtype, cfg.metric, cfg.kind != Kind::Hnsw);
        if cfg.kind == Kind::Hnsw {
            rows.enable_nav();
        }
        let graph = (cfg.kind == Kind::Hnsw).then(|| Graph::new(cfg.m, cfg.ef_construction, seed));
        Namespace {
            rows,
            graph,
            retired: false,
        }
    }

    /// Adds rows (row-major) under ids, linking them into the graph on `threads` threads.
    pub fn add(&mut self, ids: &[u64], vectors: &[f32], threads: usize) {
        let first = self.rows.slots() as u32;
        for (&id, row) in ids.iter().zip(vectors.chunks_exact(self.rows.dim)) {
            self.rows.push(id, row);
        }
        if let Some(g) = self.graph.as_mut() {
            g.insert_many(&self.rows, first..self.rows.slots() as u32, threads);
        }
    }

    pub fn remove(&mut self, id: u64) -> bool {
        self.rows.remove(id)
    }

    /// After a batch of writes: start a graph when auto passes its size, and clear tombstones
    /// once they pass a share (compaction for scans, a rebuild for graphs).
    pub fn maintain(&mut self, cfg: &Config, seed: u64, threads: usize) {
        let slots = self.rows.slots();
        let dead = self.rows.n_dead;
        match &self.graph {
            None => {
                if cfg.kind == Kind::Auto && self.rows.live() > AUTO_GRAPH_AT {
                    self.rebuild_graph(cfg, seed, threads);
                } else if dead > 0 && dead * 4 > slots {
                    self.rows = self.rows.compacted();
                }
            }
            Some(_) => {
                if dead > 0 && dead * 10 > slots * 3 {
                    self.rebuild_graph(cfg, seed, threads);
                }
            }
        }
    }

    fn rebuild_graph(&mut self, cfg: &Config, seed: u64, threads: usize) {
        let mut rows = self.rows.compacted();
        rows.drop_originals();
        rows.enable_nav();
        let mut g = Graph::new(cfg.m, cfg.ef_construction, seed);
        g.insert_many(&rows, 0..rows.slots() as u32, threads);
        self.rows = rows;
        self.graph = Some(g);
    }

    /// The k nearest live rows, closest first.
    pub fn search(&self, q: &Query, k: usize, ef: usize, scratch: &mut Scratch) -> Vec<Scored> {
        if let Some(g) = &self.graph {
            return g.search(&self.rows, q, k, ef);
        }
        let rows = &self.rows;
        rows.scan(q, &mut scratch.dists, &mut scratch.ints);
        // An i8 scan is approximate: keep a few times k and rerank them on the f32 originals.
        let rerank = rows.dtype == Dtype::I8 && rows.originals;
        let keep = if rerank { k * 4 + 16 } else { k };
        let mut best = top_live(rows, &scratch.dists, keep);
        if rerank {
            for c in best.iter_mut() {
                c.dist = rows.exact_dist(q, c.slot);
            }
            best.sort_unstable();
            best.truncate(k);
        }
        best
    }
}

fn top_live(rows: &Rows, dists: &[f32], k: usize) -> Vec<Scored> {
    let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k.min(dists.len()) + 1);
    let mut bound = f32::INFINITY;
    for (s, &d) in dists.iter().enumerate() {
        if heap.len() >= k && d >= bound {
            continue;
        }
        if rows.dead[s] != 0 {
            continue;
        }
        heap.push(Scored {
            dist: d,
            slot: s as u32,
        });
        if heap.len() > k {
            heap.pop();
        }
        if heap.len() >= k {
            bound = heap.peek().map_or(f32::INFINITY, |t| t.dist);
        }
    }
    heap.into_sorted_vec()
}
