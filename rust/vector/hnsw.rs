//! A hierarchical navigable small-world graph (Malkov & Yashunin) over the rows of one namespace.
//!
//! Layout follows hnswlib: level-0 links of every node in one flat array (count, then up to
//! M0 = 2M slots), upper-level links only for the few nodes above level 0. Levels are drawn as
//! floor(-ln(U) * mL) with mL = 1/ln(M); neighbours are chosen with the diversity heuristic.
//! Search state (visited marks, heaps) is per call; `ef` is an argument, never stored.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::buf::Buf;
use super::rows::{Query, Rows, Scored};

pub const NO_ENTRY: u32 = u32::MAX;
/// Levels are stored in a u8; the chance of a level above 31 with M >= 2 is below 2^-31.
const MAX_LEVEL: usize = 31;
/// How many neighbour rows a walk asks memory for ahead of the one it scores.
const PREFETCH_AHEAD: usize = 8;

pub struct Graph {
    pub m: usize,
    pub m0: usize,
    pub ef_construction: usize,
    /// Per node: [count, link * m0].
    pub level0: Buf<u32>,
    pub levels: Buf<u8>,
    /// Links of nodes above level 0: level l (1-based) at [(l-1)*(m+1) .. l*(m+1)], count first.
    pub upper: HashMap<u32, Vec<u32>>,
    pub entry: u32,
    pub max_level: usize,
    pub rng: u64,
}

/// Visited marks by epoch: clearing is one increment, not a pass over all nodes.
struct Visited {
    marks: Vec<u32>,
    epoch: u32,
}

impl Visited {
    fn start(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
    }

    /// True when `i` was not yet visited in this search.
    #[inline]
    fn insert(&mut self, i: u32) -> bool {
        let m = &mut self.marks[i as usize];
        if *m == self.epoch {
            false
        } else {
            *m = self.epoch;
            true
        }
    }
}

thread_local! {
    // One per thread, so concurrent searches never share it.
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), epoch: 0 }) };
}

#[inline]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint; it never faults, even on an invalid address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Graph {
    pub fn new(m: usize, ef_construction: usize, seed: u64) -> Self {
        Graph {
            m,
            m0: 2 * m,
            ef_construction,
            level0: Buf::default(),
            levels: Buf::default(),
            upper: HashMap::new(),
            entry: NO_ENTRY,
            max_level: 0,
            rng: seed | 1,
        }
    }

    #[inline]
    fn links(&self, node: u32, level: usize) -> &[u32] {
        if level == 0 {
            let base = node as usize * (self.m0 + 1);
            let n = self.level0[base] as usize;
            &self.level0[base + 1..base + 1 + n]
        } else {
            let v = &self.upper[&node];
            let base = (level - 1) * (self.m + 1);
            let n = v[base] as usize;
            &v[base + 1..base + 1 + n]
        }
    }

    fn set_links(&mut self, node: u32, level: usize, links: &[u32]) {
        if level == 0 {
            let base = node as usize * (self.m0 + 1);
            let l0 = self.level0.to_mut();
            l0[base] = links.len() as u32;
            l0[base + 1..base + 1 + links.len()].copy_from_slice(links);
        } else {
            let base = (level - 1) * (self.m + 1);
            let v = self
                .upper
                .get_mut(&node)
                .expect("node above level 0 has upper links");
            v[base] = links.len() as u32;
            v[base + 1..base + 1 + links.len()].copy_from_slice(links);
        }
    }

    fn random_level(&mut self) -> usize {
        // splitmix64: deterministic per namespace, so builds repeat exactly.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64; // (0, 1]
        let ml = 1.0 / (self.m as f64).ln();
        ((-u.ln() * ml) as usize).min(MAX_LEVEL)
    }

    fn greedy(
        &self,
        dist: &impl Fn(u32) -> f32,
        mut cur: u32,
        mut cur_d: f32,
        from: usize,
        to: usize,
    ) -> (u32, f32) {
        for level in (to..=from).rev() {
            loop {
                let mut changed = false;
                for &nb in self.links(cur, level) {
                    let d = dist(nb);
                    if d < cur_d {
                        cur = nb;
                        cur_d = d;
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
        }
        (cur, cur_d)
    }

    /// Best-first search of one level; returns up to `ef` nodes, closest first. With
    /// `live_only`, tombstones guide the walk but are not returned; `on_codes` says which
    /// array `dist` reads, for prefetching.
    #[allow(clippy::too_many_arguments)] // the hot loop: plain arguments, no bundling struct
    fn search_level(
        &self,
        rows: &Rows,
        dist: &impl Fn(u32) -> f32,
        entry: Scored,
        ef: usize,
        level: usize,
        live_only: bool,
        on_codes: bool,
    ) -> Vec<Scored> {
        VISITED.with(|cell| {
            let mut visited = cell.borrow_mut();
            visited.start(rows.slots());
            // ef may exceed the node count (it is a caller's number): size by what can fill.
            let room = ef.min(rows.slots()) + 1;
            let mut candidates = BinaryHeap::with_capacity(room * 2);
            let mut results: BinaryHeap<Scored> = BinaryHeap::with_capacity(room);
            visited.insert(entry.slot);
            candidates.push(Reverse(entry));
            let check_dead = live_only && rows.n_dead > 0;
            if !(check_dead && rows.is_dead(entry.slot)) {
                results.push(entry);
            }
            let mut bound = results.peek().map_or(f32::INFINITY, |r| r.dist);
            // The unvisited neighbours of the node being expanded. Their rows are fetched
            // PREFETCH_AHEAD at a time ahead of scoring: on an index larger than the cache each
            // row is a trip to memory, and several trips in flight cost about one.
            let mut fresh: Vec<u32> = Vec::with_capacity(if level == 0 { self.m0 } else { self.m });
            while let Some(Reverse(c)) = candidates.pop() {
                if c.dist > bound && results.len() >= ef {
                    break;
                }
                // The next node to expand is likely the best remaining candidate: start
                // loading its link list now.
                if level == 0 {
                    if let Some(Reverse(next)) = candidates.peek() {
                        prefetch(
                            self.level0
                                .as_ptr()
                                .wrapping_add(next.slot as usize * (self.m0 + 1)),
                        );
                    }
                }
                fresh.clear();
                fresh.extend(
                    self.links(c.slot, level)
                        .iter()
                        .copied()
                        .filter(|&nb| visited.insert(nb)),
                );
                for &nb in fresh.iter().take(PREFETCH_AHEAD) {
                    prefetch_row(rows, nb, on_codes);
                }
                for (i, &nb) in fresh.iter().enumerate() {
                    if let Some(&ahead) = fresh.get(i + PREFETCH_AHEAD) {
                        prefetch_row(rows, ahead, on_codes);
                    }
                    let d = dist(nb);
                    if results.len() < ef || d < bound {
                        candidates.push(Reverse(Scored { dist: d, slot: nb }));
                        if !(check_dead && rows.is_dead(nb)) {
                            results.push(Scored { dist: d, slot: nb });
                            if results.len() > ef {
                                results.pop();
                            }
                        }
                        if let Some(top) = results.peek() {
                            bound = top.dist;
                        }
                    }
                }
            }
            results.into_sorted_vec()
        })
    }

    /// The k nearest live rows, closest first.
    pub fn search(&self, rows: &Rows, q: &Query, k: usize, ef: usize) -> Vec<Scored> {
        if self.entry == NO_ENTRY {
            return Vec::new();
        }
        let walk = |slot| rows.walk_dist(q, slot);
        let (cur, cur_d) = self.greedy(&walk, self.entry, walk(self.entry), self.max_level, 1);
        let entry = Scored {
            dist: cur_d,
            slot: cur,
        };
        let mut found = self.search_level(rows, &walk, entry, ef.max(k), 0, true, rows.nav);
        if rows.nav {
            // The walk ranked by codes; the answer is ranked by the f32 rows, fetched all at
            // once (each is a trip to memory on a large index).
            for c in found.iter() {
                prefetch_f32_row(rows, c.slot);
            }
            for c in found.iter_mut() {
                c.dist = rows.dist(q, c.slot);
            }
            found.sort_unstable();
        }
        found.truncate(k);
        found
    }

    /// hnswlib's getNeighborsByHeuristic2: keep a candidate only when it is closer to the base
    /// than to every neighbour kept so far, which spreads links over directions.
    fn select(&self, rows: &Rows, sorted: &[Scored], m: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(m);
        for c in sorted {
            if kept.len() >= m {
                break;
            }
            if kept.iter().all(|&r| rows.dist_slots(c.slot, r) >= c.dist) {
                kept.push(c.slot);
            }
        }
        kept
    }

    /// Gives `slot` a level and empty link lists (not yet reachable from any node).
    fn make_node(&mut self, slot: u32) -> usize {
        let level = self.random_level();
        let n = slot as usize + 1;
        if self.levels.len() < n {
            self.levels.to_mut().resize(n, 0);
            self.level0.to_mut().resize(n * (self.m0 + 1), 0);
        }
        self.levels.to_mut()[slot as usize] = level as u8;
        if level > 0 {
            self.upper.insert(slot, vec![0; level * (self.m + 1)]);
        }
        level
    }

    /// Links rows `slots` (the newest slots) into the graph. With several threads, nodes are
    /// inserted in batches, in three steps: (1) in parallel, each node searches the graph as
    /// it was before the batch and picks its links among what it found plus the batch nodes
    /// before it, so no neighbour inside the batch is missed; (2) those links are written in
    /// order; (3) in parallel per target node, the back-links are merged and pruned with the
    /// same heuristic, then written.
    pub fn insert_many(&mut self, rows: &Rows, slots: std::ops::Range<u32>, threads: usize) {
        // Small graphs are built one node at a time: a batch would be most of the graph.
        const SEQUENTIAL_UNTIL: u32 = 2048;
        let mut next = slots.start;
        while next < slots.end
            && (threads <= 1 || next < SEQUENTIAL_UNTIL || self.entry == NO_ENTRY)
        {
            self.insert(rows, next);
            next += 1;
        }
        let batch = 64 * threads as u32;
        while next < slots.end {
            let end = (next + batch).min(slots.end);
            let nodes: Vec<(u32, usize)> = (next..end).map(|s| (s, self.make_node(s))).collect();
            let this = &*self;
            let chosen = parallel_map(threads, nodes.len(), |i| {
                let (slot, level) = nodes[i];
                this.choose_links(rows, slot, level, &nodes[..i])
            });
            let mut requests: Vec<(usize, u32, u32)> = Vec::new();
            for (&(slot, level), links) in nodes.iter().zip(&chosen) {
                for (lc, l) in links.iter().enumerate() {
                    self.set_links(slot, lc, l);
                    requests.extend(l.iter().map(|&nb| (lc, nb, slot)));
                }
                if level > self.max_level {
                    self.entry = slot;
                    self.max_level = level;
                }
            }
            requests.sort_unstable();
            let groups: Vec<&[(usize, u32, u32)]> =
                requests.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).collect();
            let this = &*self;
            let merged = parallel_map(threads, groups.len(), |g| {
                let (lc, target, _) = groups[g][0];
                let news: Vec<u32> = groups[g].iter().map(|r| r.2).collect();
                this.merged_links(rows, target, lc, &news)
            });
            for (group, links) in groups.iter().zip(merged) {
                self.set_links(group[0].1, group[0].0, &links);
            }
            next = end;
        }
    }

    /// Links of a new node at each of its levels (index = level): chosen among the
    /// ef_construction nearest nodes of the graph and the `earlier` nodes of its batch.
    fn choose_links(
        &self,
        rows: &Rows,
        slot: u32,
        level: usize,
        earlier: &[(u32, usize)],
    ) -> Vec<Vec<u32>> {
        // f32 rows with codes walk on the codes (a quarter of the memory traffic) and choose
        // links on exact distances of what the walk found.
        let exact = |other| rows.dist_slots(slot, other);
        let walk = |other| {
            if rows.nav {
                rows.code_dist_slots(slot, other)
            } else {
                exact(other)
            }
        };
        let (mut cur, mut cur_d) = (self.entry, walk(self.entry));
        if self.max_level > level {
            (cur, cur_d) = self.greedy(&walk, cur, cur_d, self.max_level, level + 1);
        }
        let mut links = vec![Vec::new(); level + 1];
        for lc in (0..=level).rev() {
            let mut cands = if lc <= self.max_level {
                let entry = Scored {
                    dist: cur_d,
                    slot: cur,
                };
                let mut w = self.search_level(
                    rows,
                    &walk,
                    entry,
                    self.ef_construction,
                    lc,
                    false,
                    rows.nav,
                );
                cur = w[0].slot;
                cur_d = w[0].dist;
                if rows.nav {
                    w.iter_mut().for_each(|c| c.dist = exact(c.slot));
                    w.sort_unstable();
                }
                w
            } else {
                Vec::new()
            };
            cands.extend(
                earlier
                    .iter()
                    .filter(|&&(_, l)| l >= lc)
                    .map(|&(o, _)| Scored {
                        dist: exact(o),
                        slot: o,
                    }),
            );
            cands.sort_unstable();
            links[lc] = self.select(rows, &cands, self.m);
        }
        links
    }

    /// The links of `target` at `level` after adding back-links from `news`, pruned to the
    /// level's cap with the neighbour heuristic when they overflow.
    fn merged_links(&self, rows: &Rows, target: u32, level: usize, news: &[u32]) -> Vec<u32> {
        let existing = self.links(target, level);
        let mut all: Vec<u32> = existing.to_vec();
        all.extend(news.iter().filter(|n| !existing.contains(n)));
        let cap = if level == 0 { self.m0 } else { self.m };
        if all.len() <= cap {
            return all;
        }
        let mut cands: Vec<Scored> = all
            .iter()
            .map(|&x| Scored {
                dist: rows.dist_slots(target, x),
                slot: x,
            })
            .collect();
        cands.sort_unstable();
        self.select(rows, &cands, cap)
    }

    /// Links the row in `slot` (the newest slot) into the graph.
    pub fn insert(&mut self, rows: &Rows, slot: u32) {
        let level = self.make_node(slot);
        if self.entry == NO_ENTRY {
            self.entry = slot;
            self.max_level = level;
            return;
        }
        // Links are chosen on exact distances; only searches walk on codes.
        for (lc, chosen) in self
            .choose_links(rows, slot, level, &[])
            .into_iter()
            .enumerate()
        {
            self.set_links(slot, lc, &chosen);
            let cap = if lc == 0 { self.m0 } else { self.m };
            for &nb in &chosen {
                self.link_back(rows, nb, slot, lc, cap);
            }
        }
        if level > self.max_level {
            self.entry = slot;
            self.max_level = level;
        }
    }

    fn link_back(&mut self, rows: &Rows, node: u32, new: u32, level: usize, cap: usize) {
        let existing = self.links(node, level);
        if existing.len() < cap {
            let mut v = existing.to_vec();
            v.push(new);
            self.set_links(node, level, &v);
            return;
        }
        let mut cands: Vec<Scored> = existing
            .iter()
            .chain(std::iter::once(&new))
            .map(|&x| Scored {
                dist: rows.dist_slots(node, x),
                slot: x,
            })
            .collect();
        cands.sort_unstable();
        let kept = self.select(rows, &cands, cap);
        self.set_links(node, level, &kept);
    }

    pub fn heap_bytes(&self) -> usize {
        let l0 = if self.level0.is_mapped() {
            0
        } else {
            self.level0.len() * 4 + self.levels.len()
        };
        // 40: the map entry (key, Vec header) and its control byte, rounded
        l0 + self
            .upper
            .values()
            .map(|v| v.capacity() * 4 + 40)
            .sum::<usize>()
    }

    /// Checks a graph read from a file against the rows, so that searches cannot index out of
    /// bounds; returns what is wrong.
    pub fn validate(&self, slots: usize) -> Result<(), String> {
        if self.m < 2 || self.m0 != 2 * self.m {
            return Err("bad M".into());
        }
        if self.levels.len() != slots || self.level0.len() != slots * (self.m0 + 1) {
            return Err("graph size does not match the rows".into());
        }
        if slots == 0 {
            return if self.entry == NO_ENTRY {
                Ok(())
            } else {
                Err("entry point in an empty graph".into())
            };
        }
        if self.entry as usize >= slots
            || self.levels[self.entry as usize] as usize != self.max_level
        {
            return Err("bad entry point".into());
        }
        for node in 0..slots {
            let level = self.levels[node] as usize;
            if level > self.max_level {
                return Err("node above the top level".into());
            }
            let base = node * (self.m0 + 1);
            let n = self.level0[base] as usize;
            if n > self.m0
                || self.level0[base + 1..base + 1 + n]
                    .iter()
                    .any(|&x| x as usize >= slots)
            {
                return Err("bad level-0 links".into());
            }
            match self.upper.get(&(node as u32)) {
                None if level > 0 => return Err("missing upper links".into()),
                None => {}
                Some(v) => {
                    if v.len() != level * (self.m + 1) {
                        return Err("bad upper links".into());
                    }
                    for l in 0..level {
                        let b = l * (self.m + 1);
                        let n = v[b] as usize;
                        if n > self.m
                            || v[b + 1..b + 1 + n].iter().any(|&x| {
                                x as usize >= slots || (self.levels[x as usize] as usize) < l + 1
                            })
                        {
                            return Err("bad upper links".into());
                        }
                    }
                }
            }
        }
        if self.upper.len() != (0..slots).filter(|&s| self.levels[s] > 0).count() {
            return Err("upper links of level-0 nodes".into());
        }
        Ok(())
    }
}

/// Asks the CPU to start loading the row of `slot` (its first 512 bytes) and, for codes, its
/// scale, so the walk does not wait on memory for each neighbour in turn.
#[inline]
fn prefetch_row(rows: &Rows, slot: u32, on_codes: bool) {
    use super::rows::Dtype;
    let s = slot as usize;
    let d = rows.dim;
    let (start, bytes) = match rows.dtype {
        Dtype::F32 | Dtype::I8 if on_codes || rows.dtype == Dtype::I8 => {
            prefetch(rows.scales.as_ptr().wrapping_add(s));
            (rows.i8s.as_ptr().wrapping_add(s * d) as *const u8, d)
        }
        Dtype::F32 => (rows.f32s.as_ptr().wrapping_add(s * d) as *const u8, d * 4),
        Dtype::F16 => (rows.f16s.as_ptr().wrapping_add(s * d) as *const u8, d * 2),
        Dtype::I8 => (rows.i8s.as_ptr().wrapping_add(s * d) as *const u8, d),
    };
    for off in (0..bytes.min(512)).step_by(64) {
        prefetch(start.wrapping_add(off));
    }
}

/// Asks the CPU to start loading the whole f32 row of `slot`.
#[inline]
fn prefetch_f32_row(rows: &Rows, slot: u32) {
    let d = rows.dim;
    let start = rows.f32s.as_ptr().wrapping_add(slot as usize * d) as *const u8;
    for off in (0..d * 4).step_by(64) {
        prefetch(start.wrapping_add(off));
    }
}

/// `f(0..n)` on up to `threads` scoped threads, results in index order.
fn parallel_map<T: Send>(threads: usize, n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if threads <= 1 || n < 2 {
        return (0..n).map(f).collect();
    }
    let per = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..n)
            .step_by(per)
            .map(|lo| sc.spawn(move || (lo..(lo + per).min(n)).map(f).collect::<Vec<T>>()))
            .collect();
        // A panic in a worker is a bug; re-raise it here rather than lose part of the batch.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
