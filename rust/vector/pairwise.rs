//! Distances between two operands, each one vector or a batch of vectors: one pair, one
//! vector against many rows, or every pair of two batches (tiled so that the second batch is
//! read from memory once). Plain Rust over the kernels; `py/distance.rs` only converts numpy
//! arrays, releases the GIL and maps errors.
//!
//! ```
//! use dejacache_core::vector::kernels::Metric;
//! use dejacache_core::vector::pairwise::{distances_into, Shape};
//! let (a, b) = ([1.0f32, 0.0, 0.0, 1.0], [1.0f32, 0.0, 0.0, 2.0, 3.0, 0.0]);
//! let shape = Shape::new(&[2, 2], &[3, 2]).unwrap();
//! let mut out = vec![0.0f32; shape.out_len().unwrap()];
//! distances_into(Metric::Dot, &shape, &a, &b, &mut out).unwrap();
//! assert_eq!(out, [1.0, 0.0, 3.0, 0.0, 2.0, 0.0]);
//! ```

use half::f16;

use super::kernels::{self, Metric};
use crate::error::CoreError;

/// Bytes of b's rows scanned by all queries of a before moving on (about half an L2 cache).
const TILE_BYTES: usize = 256 * 1024;

fn invalid(msg: String) -> CoreError {
    CoreError::InvalidArgument(msg)
}

/// An element type with kernels. Batch results are float32 for float inputs and float64 for
/// int8 ones, where dot and l2 are integers that float32 would round past 2^24.
pub trait KernelElement: Copy + Sync {
    type Out: Copy + Default + Send + Sync + Into<f64>;
    fn pair(metric: Metric, a: &[Self], b: &[Self]) -> f64;
    fn many(metric: Metric, query: &[Self], rows: &[Self], out: &mut [Self::Out]);
    fn is_finite(self) -> bool;
    /// Cosine from a dot product and the two self-dots (as `pair(Dot, x, x)` gives them).
    fn cosine_from_dots(ab: Self::Out, aa: f64, bb: f64, a: &[Self], b: &[Self]) -> Self::Out;
}

impl KernelElement for f32 {
    type Out = f32;

    fn pair(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        (match metric {
            Metric::Cosine => kernels::cosine_f32(a, b),
            Metric::Dot => kernels::dot_f32(a, b),
            Metric::L2 => kernels::l2sq_f32(a, b),
        }) as f64
    }

    fn many(metric: Metric, query: &[f32], rows: &[f32], out: &mut [f32]) {
        match metric {
            Metric::Cosine => kernels::cosine_f32_many(query, rows, out),
            Metric::Dot => kernels::dot_f32_many(query, rows, out),
            Metric::L2 => kernels::l2sq_f32_many(query, rows, out),
        }
    }

    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }

    fn cosine_from_dots(ab: f32, aa: f64, bb: f64, a: &[f32], b: &[f32]) -> f32 {
        kernels::finish_cosine(ab, aa as f32, bb as f32, a, b, |x| x as f64)
    }
}

impl KernelElement for f16 {
    type Out = f32;

    fn pair(metric: Metric, a: &[f16], b: &[f16]) -> f64 {
        (match metric {
            Metric::Cosine => kernels::cosine_f16(a, b),
            Metric::Dot => kernels::dot_f16(a, b),
            Metric::L2 => kernels::l2sq_f16(a, b),
        }) as f64
    }

    fn many(metric: Metric, query: &[f16], rows: &[f16], out: &mut [f32]) {
        let kernel = match metric {
            Metric::Cosine => kernels::cosine_f16,
            Metric::Dot => kernels::dot_f16,
            Metric::L2 => kernels::l2sq_f16,
        };
        kernels::for_each_row(query, rows, out, kernel);
    }

    fn is_finite(self) -> bool {
        f16::is_finite(self)
    }

    fn cosine_from_dots(ab: f32, aa: f64, bb: f64, a: &[f16], b: &[f16]) -> f32 {
        kernels::finish_cosine(ab, aa as f32, bb as f32, a, b, |x| x.to_f64())
    }
}

impl KernelElement for i8 {
    type Out = f64;

    fn pair(metric: Metric, a: &[i8], b: &[i8]) -> f64 {
        match metric {
            Metric::Cosine => kernels::cosine_i8(a, b) as f64,
            Metric::Dot => kernels::dot_i8(a, b) as f64,
            Metric::L2 => kernels::l2sq_i8(a, b) as f64,
        }
    }

    fn many(metric: Metric, query: &[i8], rows: &[i8], out: &mut [f64]) {
        let many = match metric {
            Metric::Cosine => {
                return kernels::for_each_row(query, rows, out, |a, b| {
                    kernels::cosine_i8(a, b) as f64
                })
            }
            Metric::Dot => kernels::dot_i8_many,
            Metric::L2 => kernels::l2sq_i8_many,
        };
        let dim = query.len().max(1);
        const CHUNK: usize = 1024;
        let mut buf = [0i32; CHUNK];
        for (rows, out) in rows.chunks(CHUNK * dim).zip(out.chunks_mut(CHUNK)) {
            let buf = &mut buf[..out.len()];
            many(query, rows, buf);
            for (o, &x) in out.iter_mut().zip(buf.iter()) {
                *o = x as f64;
            }
        }
    }

    fn is_finite(self) -> bool {
        true
    }

    fn cosine_from_dots(ab: f64, aa: f64, bb: f64, _a: &[i8], _b: &[i8]) -> f64 {
        kernels::cosine_from_i8_parts(ab as i32, aa as i32, bb as i32) as f64
    }
}

/// The shapes of the two operands, checked: each 1-D (one vector) or 2-D (a batch of rows),
/// with the same non-zero last dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows of a when it is a batch; None when it is one vector.
    pub a_rows: Option<usize>,
    /// Rows of b when it is a batch; None when it is one vector.
    pub b_rows: Option<usize>,
    pub dim: usize,
}

impl Shape {
    /// Checks two numpy-style shapes (`[dim]` or `[rows, dim]`).
    pub fn new(sa: &[usize], sb: &[usize]) -> Result<Shape, CoreError> {
        let (ndim_a, ndim_b) = (sa.len(), sb.len());
        if !(1..=2).contains(&ndim_a) || !(1..=2).contains(&ndim_b) {
            return Err(invalid(format!(
                "expected 1-D vectors or 2-D (n, dim) batches, got shapes {sa:?} and {sb:?}: reshape \
                 the inputs"
            )));
        }
        let dim = sa[ndim_a - 1];
        if sb[ndim_b - 1] != dim {
            return Err(invalid(format!(
                "dimension mismatch: a has shape {sa:?}, b has shape {sb:?}; both must have the same \
                 last dimension"
            )));
        }
        if dim == 0 {
            return Err(invalid(
                "vectors have 0 dimensions: pass non-empty vectors".into(),
            ));
        }
        let rows = |s: &[usize]| (s.len() == 2).then(|| s[0]);
        Ok(Shape {
            a_rows: rows(sa),
            b_rows: rows(sb),
            dim,
        })
    }

    /// Both operands are single vectors: the result is one number ([`distance`]).
    pub fn is_pair(&self) -> bool {
        self.a_rows.is_none() && self.b_rows.is_none()
    }

    /// (n, m): the result holds `n * m` values, row-major, `out[i * m + j]` for a's row i and b's
    /// row j (a single vector counts as one row).
    pub fn rows(&self) -> (usize, usize) {
        (self.a_rows.unwrap_or(1), self.b_rows.unwrap_or(1))
    }

    /// Length of the result; None when it does not fit in memory's address space.
    pub fn out_len(&self) -> Option<usize> {
        let (n, m) = self.rows();
        n.checked_mul(m)
    }

    /// Multiply-adds the call costs (saturating), for callers deciding whether to hand the work
    /// to another thread.
    pub fn work(&self) -> usize {
        let (n, m) = self.rows();
        n.saturating_mul(m).saturating_mul(self.dim)
    }
}

/// Names the first vector holding NaN or infinity, once a result came out non-finite.
fn check_finite<T: KernelElement>(name: &str, values: &[T], dim: usize) -> Result<(), CoreError> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(invalid(format!(
            "{name} holds NaN or infinity (vector {}, component {}): drop or replace such vectors \
             before computing distances",
            i / dim,
            i % dim
        ))),
    }
}

/// The distance of two vectors of equal, non-zero length (f64 for every element type).
pub fn distance<T: KernelElement>(metric: Metric, a: &[T], b: &[T]) -> Result<f64, CoreError> {
    Shape::new(&[a.len()], &[b.len()])?;
    let d = T::pair(metric, a, b);
    if !d.is_finite() {
        check_finite("a", a, a.len())?;
        check_finite("b", b, b.len())?;
    }
    Ok(d)
}

/// Fills `out` (`shape.out_len()` values, see [`Shape::rows`]) with the distance of every row of
/// `a` to every row of `b`. Non-finite inputs are named in the error; `out` is then unspecified.
pub fn distances_into<T: KernelElement>(
    metric: Metric,
    shape: &Shape,
    a: &[T],
    b: &[T],
    out: &mut [T::Out],
) -> Result<(), CoreError> {
    let dim = shape.dim;
    let (n, m) = shape.rows();
    if a.len() != n.saturating_mul(dim)
        || b.len() != m.saturating_mul(dim)
        || Some(out.len()) != shape.out_len()
    {
        return Err(invalid(format!(
            "got {} values of a, {} of b and room for {} results; shape {shape:?} needs {}, {} and {}",
            a.len(),
            b.len(),
            out.len(),
            n.saturating_mul(dim),
            m.saturating_mul(dim),
            n.saturating_mul(m)
        )));
    }
    let (xa, xb) = (a, b);
    if shape.a_rows.is_none() {
        T::many(metric, xa, xb, out);
    } else if shape.b_rows.is_none() {
        T::many(metric, xb, xa, out);
    } else {
        // Cosine of every pair from dot products and each vector's self-dot, computed once,
        // instead of norms again for every pair.
        let tiled = if metric == Metric::Cosine {
            Metric::Dot
        } else {
            metric
        };
        // Tiles of b that stay in cache while every query of a passes over them, so b is
        // read from memory once rather than once per query.
        let tile = (TILE_BYTES / (dim * std::mem::size_of::<T>())).max(1);
        for (t, block) in xb.chunks(tile * dim).enumerate() {
            let (start, len) = (t * tile, block.len() / dim);
            for (query, out) in xa.chunks_exact(dim).zip(out.chunks_exact_mut(m)) {
                T::many(tiled, query, block, &mut out[start..start + len]);
            }
        }
        if metric == Metric::Cosine && m > 0 {
            let self_dots = |x: &[T]| -> Vec<f64> {
                x.chunks_exact(dim)
                    .map(|v| T::pair(Metric::Dot, v, v))
                    .collect()
            };
            let (na, nb) = (self_dots(xa), self_dots(xb));
            for ((va, aa), out) in xa.chunks_exact(dim).zip(&na).zip(out.chunks_exact_mut(m)) {
                for ((vb, bb), o) in xb.chunks_exact(dim).zip(&nb).zip(out.iter_mut()) {
                    *o = T::cosine_from_dots(*o, *aa, *bb, va, vb);
                }
            }
        }
    }
    if !out.iter().all(|&x| x.into().is_finite()) {
        check_finite("a", xa, dim)?;
        check_finite("b", xb, dim)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "pairwise_tests.rs"]
mod tests;
