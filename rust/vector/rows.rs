//! The vectors of one namespace, stored row by row in one contiguous array per field.
//!
//! A row is addressed by its slot (u32). Removing an id leaves a tombstone in its slot; the
//! owner compacts the rows (flat) or rebuilds the graph (HNSW) once tombstones pass a share.
//! All distances here are "lower is closer": the negated inner product for cosine (rows and
//! queries are unit length) and dot, the squared distance for l2.

use std::cmp::Ordering;
use std::collections::HashMap;

use half::f16;

use super::buf::Buf;
use super::kernels::{self, Metric};
use super::quant::quantize_i8;
use crate::error::CoreError;

/// How rows are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    /// Symmetric per-row max-abs scale: value ~= code * scale.
    I8,
}

impl Dtype {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "f32" | "float32" => Ok(Dtype::F32),
            "f16" | "float16" => Ok(Dtype::F16),
            "i8" | "int8" => Ok(Dtype::I8),
            other => Err(CoreError::InvalidArgument(format!(
                "dtype must be 'f32', 'f16' or 'i8', not {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::I8 => "i8",
        }
    }
}

/// A candidate: distance (lower is closer) and slot. Ordered by distance, total order on f32.
#[derive(Clone, Copy, Debug)]
pub struct Scored {
    pub dist: f32,
    pub slot: u32,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.slot.cmp(&other.slot))
    }
}

/// A query in every form the distance functions of one dtype need, prepared once per search.
pub struct Query {
    /// The query itself (unit length for cosine); empty when built from a stored i8 row.
    pub f32: Vec<f32>,
    pub f16: Vec<f16>,
    pub i8: Vec<i8>,
    pub scale: f32,
    /// Squared norm, for l2 over i8 codes: |q - x|^2 = |q|^2 + |x|^2 - 2 q.x
    pub sqnorm: f32,
}

pub struct Rows {
    pub dim: usize,
    pub dtype: Dtype,
    pub metric: Metric,
    /// The rows for f32; for i8, the f32 originals used to rerank an approximate scan (kept only
    /// while `originals` is true).
    pub f32s: Buf<f32>,
    pub f16s: Buf<f16>,
    pub i8s: Buf<i8>,
    pub scales: Buf<f32>,
    /// Exact squared norms of i8 rows under l2.
    pub sqnorms: Buf<f32>,
    pub ids: Buf<u64>,
    /// 1 = removed (tombstone).
    pub dead: Buf<u8>,
    pub slot_of: HashMap<u64, u32>,
    pub n_dead: usize,
    pub originals: bool,
    /// f32 rows also carry i8 codes (`i8s`, `scales`, `sqnorms`): a graph walks on the codes,
    /// a quarter of the bytes, and reranks what it found on the f32 rows.
    pub nav: bool,
}

impl Rows {
    pub fn new(dim: usize, dtype: Dtype, metric: Metric, originals: bool) -> Self {
        Rows {
            dim,
            dtype,
            metric,
            f32s: Buf::default(),
            f16s: Buf::default(),
            i8s: Buf::default(),
            scales: Buf::default(),
            sqnorms: Buf::default(),
            ids: Buf::default(),
            dead: Buf::default(),
            slot_of: HashMap::new(),
            n_dead: 0,
            originals: originals && dtype == Dtype::I8,
            nav: false,
        }
    }

    /// Slots in use, tombstones included.
    pub fn slots(&self) -> usize {
        self.ids.len()
    }

    pub fn live(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_dead(&self, slot: u32) -> bool {
        self.dead[slot as usize] != 0
    }

    pub fn contains(&self, id: u64) -> bool {
        self.slot_of.contains_key(&id)
    }

    /// Appends a row (already unit length for cosine); an earlier row of the same id becomes a
    /// tombstone. Returns the new slot.
    pub fn push(&mut self, id: u64, v: &[f32]) -> u32 {
        let slot = self.ids.len() as u32;
        match self.dtype {
            Dtype::F32 => {
                self.f32s.to_mut().extend_from_slice(v);
                if self.nav {
                    self.push_codes(v);
                }
            }
            Dtype::F16 => self
                .f16s
                .to_mut()
                .extend(v.iter().map(|&x| f16::from_f32(x))),
            Dtype::I8 => {
                self.push_codes(v);
                if self.originals {
                    self.f32s.to_mut().extend_from_slice(v);
                }
            }
        }
        self.ids.to_mut().push(id);
        self.dead.to_mut().push(0);
        if let Some(old) = self.slot_of.insert(id, slot) {
            self.dead.to_mut()[old as usize] = 1;
            self.n_dead += 1;
        }
        slot
    }

    fn push_codes(&mut self, v: &[f32]) {
        let codes = self.i8s.to_mut();
        let start = codes.len();
        codes.resize(start + self.dim, 0);
        let scale = quantize_i8(v, &mut codes[start..]);
        self.scales.to_mut().push(scale);
        if self.metric == Metric::L2 {
            self.sqnorms.to_mut().push(kernels::dot_f32(v, v));
        }
    }

    /// Adds i8 navigation codes to f32 rows (when a graph is built over them).
    pub fn enable_nav(&mut self) {
        if self.dtype != Dtype::F32 || self.nav {
            return;
        }
        self.nav = true;
        let d = self.dim;
        for s in 0..self.slots() {
            let row = self.f32s[s * d..(s + 1) * d].to_vec();
            self.push_codes(&row);
        }
    }

    pub fn remove(&mut self, id: u64) -> bool {
        match self.slot_of.remove(&id) {
            Some(slot) => {
                self.dead.to_mut()[slot as usize] = 1;
                self.n_dead += 1;
                true
            }
            None => false,
        }
    }

    /// A copy holding only the live rows, in slot order.
    pub fn compacted(&self) -> Rows {
        let mut out = Rows::new(self.dim, self.dtype, self.metric, self.originals);
        out.nav = self.nav;
        let d = self.dim;
        let live: Vec<usize> = (0..self.slots()).filter(|&s| self.dead[s] == 0).collect();
        let pick_f32 = |src: &[f32], per: usize| -> Vec<f32> {
            live.iter()
                .flat_map(|&s| src[s * per..(s + 1) * per].iter().copied())
                .collect()
        };
        if !self.f32s.is_empty() {
            out.f32s = pick_f32(&self.f32s, d).into();
        }
        if !self.f16s.is_empty() {
            out.f16s = live
                .iter()
                .flat_map(|&s| self.f16s[s * d..(s + 1) * d].iter().copied())
                .collect::<Vec<_>>()
                .into();
        }
        if !self.i8s.is_empty() {
            out.i8s = live
                .iter()
                .flat_map(|&s| self.i8s[s * d..(s + 1) * d].iter().copied())
                .collect::<Vec<_>>()
                .into();
            out.scales = pick_f32(&self.scales, 1).into();
        }
        if !self.sqnorms.is_empty() {
            out.sqnorms = pick_f32(&self.sqnorms, 1).into();
        }
        out.ids = live.iter().map(|&s| self.ids[s]).collect::<Vec<_>>().into();
        out.dead = vec![0u8; live.len()].into();
        out.slot_of = out
            .ids
            .iter()
            .enumerate()
            .map(|(s, &id)| (id, s as u32))
            .collect();
        out
    }

    /// Stops keeping f32 originals of i8 rows (the namespace moved to a graph, which searches
    /// the codes only, to keep memory per vector low).
    pub fn drop_originals(&mut self) {
        if self.originals {
            self.originals = false;
            self.f32s = Buf::default();
        }
    }

    pub fn prepare(&self, q: &[f32]) -> Query {
        let mut query = Query {
            f32: q.to_vec(),
            f16: Vec::new(),
            i8: Vec::new(),
            scale: 0.0,
            sqnorm: 0.0,
        };
        match self.dtype {
            Dtype::F32 if !self.nav => {}
            Dtype::F16 => query.f16 = q.iter().map(|&x| f16::from_f32(x)).collect(),
            Dtype::F32 | Dtype::I8 => {
                query.i8 = vec![0; self.dim];
                query.scale = quantize_i8(q, &mut query.i8);
                query.sqnorm = kernels::dot_f32(q, q);
            }
        }
        query
    }

    /// Distance from a prepared query to the row in `slot`, in the stored dtype.
    #[inline]
    pub fn dist(&self, q: &Query, slot: u32) -> f32 {
        let s = slot as usize;
        let d = self.dim;
        match (self.dtype, self.metric) {
            (Dtype::F32, Metric::L2) => kernels::l2sq_f32(&q.f32, &self.f32s[s * d..(s + 1) * d]),
            (Dtype::F32, _) => -kernels::dot_f32(&q.f32, &self.f32s[s * d..(s + 1) * d]),
            (Dtype::F16, Metric::L2) => kernels::l2sq_f16(&q.f16, &self.f16s[s * d..(s + 1) * d]),
            (Dtype::F16, _) => -kernels::dot_f16(&q.f16, &self.f16s[s * d..(s + 1) * d]),
            (Dtype::I8, _) => self.code_dist(q, slot),
        }
    }

    /// Distance on the i8 codes (i8 rows, or the navigation codes of f32 rows).
    #[inline]
    fn code_dist(&self, q: &Query, slot: u32) -> f32 {
        let s = slot as usize;
        let d = self.dim;
        let ip =
            kernels::dot_i8(&q.i8, &self.i8s[s * d..(s + 1) * d]) as f32 * q.scale * self.scales[s];
        if self.metric == Metric::L2 {
            (q.sqnorm + self.sqnorms[s] - 2.0 * ip).max(0.0)
        } else {
            -ip
        }
    }

    /// The distance a graph walk uses: the codes when f32 rows carry them, else `dist`.
    #[inline]
    pub fn walk_dist(&self, q: &Query, slot: u32) -> f32 {
        if self.nav {
            self.code_dist(q, slot)
        } else {
            self.dist(q, slot)
        }
    }

    /// Distance between two stored rows (graph construction).
    #[inline]
    pub fn dist_slots(&self, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        let d = self.dim;
        match (self.dtype, self.metric) {
            (Dtype::F32, Metric::L2) => kernels::l2sq_f32(
                &self.f32s[a * d..(a + 1) * d],
                &self.f32s[b * d..(b + 1) * d],
            ),
            (Dtype::F32, _) => -kernels::dot_f32(
                &self.f32s[a * d..(a + 1) * d],
                &self.f32s[b * d..(b + 1) * d],
            ),
            (Dtype::F16, Metric::L2) => kernels::l2sq_f16(
                &self.f16s[a * d..(a + 1) * d],
                &self.f16s[b * d..(b + 1) * d],
            ),
            (Dtype::F16, _) => -kernels::dot_f16(
                &self.f16s[a * d..(a + 1) * d],
                &self.f16s[b * d..(b + 1) * d],
            ),
            (Dtype::I8, _) => self.code_dist_slots(a as u32, b as u32),
        }
    }

    /// Distance between two rows on their i8 codes (i8 rows, or navigation codes).
    #[inline]
    pub fn code_dist_slots(&self, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        let d = self.dim;
        let ip = kernels::dot_i8(&self.i8s[a * d..(a + 1) * d], &self.i8s[b * d..(b + 1) * d])
            as f32
            * self.scales[a]
            * self.scales[b];
        if self.metric == Metric::L2 {
            (self.sqnorms[a] + self.sqnorms[b] - 2.0 * ip).max(0.0)
        } else {
            -ip
        }
    }

    /// Exact f32 distance for reranking i8 candidates; requires `originals`.
    pub fn exact_dist(&self, q: &Query, slot: u32) -> f32 {
        let s = slot as usize;
        let row = &self.f32s[s * self.dim..(s + 1) * self.dim];
        match self.metric {
            Metric::L2 => kernels::l2sq_f32(&q.f32, row),
            _ => -kernels::dot_f32(&q.f32, row),
        }
    }

    /// Distances from the query to every slot (tombstones included) into `out`.
    pub fn scan(&self, q: &Query, out: &mut Vec<f32>, scratch: &mut Vec<i32>) {
        let n = self.slots();
        out.resize(n, 0.0);
        match (self.dtype, self.metric) {
            (Dtype::F32, Metric::L2) => kernels::l2sq_f32_many(&q.f32, &self.f32s, out),
            (Dtype::F32, _) => {
                kernels::dot_f32_many(&q.f32, &self.f32s, out);
                out.iter_mut().for_each(|x| *x = -*x);
            }
            (Dtype::I8, metric) => {
                scratch.resize(n, 0);
                kernels::dot_i8_many(&q.i8, &self.i8s, scratch);
                let qs = q.scale;
                if metric == Metric::L2 {
                    for (s, o) in out.iter_mut().enumerate() {
                        let ip = scratch[s] as f32 * qs * self.scales[s];
                        *o = q.sqnorm + self.sqnorms[s] - 2.0 * ip;
                    }
                } else {
                    for (s, o) in out.iter_mut().enumerate() {
                        *o = -(scratch[s] as f32 * qs * self.scales[s]);
                    }
                }
            }
            (Dtype::F16, _) => {
                for (s, o) in out.iter_mut().enumerate() {
                    *o = self.dist(q, s as u32);
                }
            }
        }
    }

    /// Bytes held in memory (mapped arrays count as zero: they live in the page cache).
    pub fn heap_bytes(&self) -> usize {
        fn b<T: super::buf::Pod>(x: &Buf<T>) -> usize {
            if x.is_mapped() {
                0
            } else {
                std::mem::size_of_val(&**x)
            }
        }
        b(&self.f32s)
            + b(&self.f16s)
            + b(&self.i8s)
            + b(&self.scales)
            + b(&self.sqnorms)
            + b(&self.ids)
            + b(&self.dead)
            + self.slot_of.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }
}
