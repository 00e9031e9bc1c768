//! Distance kernels: dot, squared L2 and cosine similarity over f32, f16 and i8 vectors,
//! one-to-one and one-to-many.
//!
//! Each kernel has a portable version in [`scalar`] (the oracle of the tests) and SIMD
//! versions for x86-64 (AVX2+FMA, AVX-512) and aarch64 (NEON). Wheels target the baseline
//! CPU, so the SIMD set is chosen once at run time, on first use, and kept in a static.
//!
//! Kernels assume equal lengths (checked by `debug_assert`); callers validate. With unequal
//! lengths in a release build they read only the common prefix, never out of bounds.
//!
//! ```
//! use dejacache_core::vector::kernels::{cosine_f32, dot_f32, l2sq_f32};
//! let (a, b) = ([1.0f32, 0.0, 0.0], [0.0f32, 2.0, 0.0]);
//! assert_eq!(dot_f32(&a, &b), 0.0);
//! assert_eq!(l2sq_f32(&a, &b), 5.0);
//! assert_eq!(cosine_f32(&a, &a), 1.0);
//! ```

use std::sync::OnceLock;

use half::f16;

use crate::error::CoreError;

pub mod scalar;

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "aarch64")]
mod neon;

/// How two vectors are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity, higher is closer.
    Cosine,
    /// Inner product, higher is closer.
    Dot,
    /// Squared Euclidean distance, lower is closer.
    L2,
}

impl Metric {
    /// Parses "cosine", "dot" (or "ip") and "l2".
    pub fn parse(name: &str) -> Result<Metric, CoreError> {
        match name {
            "cosine" => Ok(Metric::Cosine),
            "dot" | "ip" => Ok(Metric::Dot),
            "l2" => Ok(Metric::L2),
            other => Err(CoreError::InvalidArgument(format!(
                "unknown metric {other:?}: use \"cosine\", \"dot\" (or \"ip\") or \"l2\""
            ))),
        }
    }

    /// The canonical name, as `parse` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::L2 => "l2",
        }
    }
}

/// One implementation of every kernel; the dispatcher picks one set for the process.
pub(crate) struct KernelSet {
    pub name: &'static str,
    pub dot_f32: fn(&[f32], &[f32]) -> f32,
    pub l2sq_f32: fn(&[f32], &[f32]) -> f32,
    pub cosine_f32: fn(&[f32], &[f32]) -> f32,
    pub dot_f16: fn(&[f16], &[f16]) -> f32,
    pub l2sq_f16: fn(&[f16], &[f16]) -> f32,
    pub cosine_f16: fn(&[f16], &[f16]) -> f32,
    pub dot_i8: fn(&[i8], &[i8]) -> i32,
    pub l2sq_i8: fn(&[i8], &[i8]) -> i32,
    pub cosine_i8: fn(&[i8], &[i8]) -> f32,
    pub dot_f32_many: fn(&[f32], &[f32], &mut [f32]),
    pub l2sq_f32_many: fn(&[f32], &[f32], &mut [f32]),
    pub cosine_f32_many: fn(&[f32], &[f32], &mut [f32]),
    pub dot_i8_many: fn(&[i8], &[i8], &mut [i32]),
    pub l2sq_i8_many: fn(&[i8], &[i8], &mut [i32]),
}

pub(crate) static SCALAR: KernelSet = KernelSet {
    name: "scalar",
    dot_f32: scalar::dot_f32,
    l2sq_f32: scalar::l2sq_f32,
    cosine_f32: scalar::cosine_f32,
    dot_f16: scalar::dot_f16,
    l2sq_f16: scalar::l2sq_f16,
    cosine_f16: scalar::cosine_f16,
    dot_i8: scalar::dot_i8,
    l2sq_i8: scalar::l2sq_i8,
    cosine_i8: scalar::cosine_i8,
    dot_f32_many: scalar::dot_f32_many,
    l2sq_f32_many: scalar::l2sq_f32_many,
    cosine_f32_many: scalar::cosine_f32_many,
    dot_i8_many: scalar::dot_i8_many,
    l2sq_i8_many: scalar::l2sq_i8_many,
};

/// Every kernel set this CPU can run, fastest first; the scalar set is always last.
pub(crate) fn supported_sets() -> Vec<&'static KernelSet> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    sets.extend(x86::supported_sets());
    #[cfg(target_arch = "aarch64")]
    sets.extend(neon::supported_sets());
    sets.push(&SCALAR);
    sets
}

static SELECTED: OnceLock<&'static KernelSet> = OnceLock::new();

#[inline]
fn selected() -> &'static KernelSet {
    SELECTED.get_or_init(|| choose(std::env::var("DEJACACHE_SIMD").ok().as_deref()))
}

/// The fastest supported set, or the one named by `DEJACACHE_SIMD` when this CPU supports it
/// (benchmarks and tests use it to measure or check a slower path on the same machine).
fn choose(requested: Option<&str>) -> &'static KernelSet {
    let sets = supported_sets();
    requested
        .and_then(|name| sets.iter().find(|set| set.name == name))
        .unwrap_or(&sets[0])
}

/// The name of the kernel set in use ("avx512", "avx2+fma", "neon" or "scalar"); the
/// environment variable `DEJACACHE_SIMD`, read once, can pick a slower supported set.
pub fn simd_level() -> &'static str {
    selected().name
}

/// Inner product a.b.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    (selected().dot_f32)(a, b)
}

/// Squared Euclidean distance |a-b|^2.
#[inline]
pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    (selected().l2sq_f32)(a, b)
}

/// Cosine similarity in [-1, 1]; 0.0 when either vector is zero.
#[inline]
pub fn cosine_f32(a: &[f32], b: &[f32]) -> f32 {
    (selected().cosine_f32)(a, b)
}

#[inline]
pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    (selected().dot_f16)(a, b)
}

#[inline]
pub fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    (selected().l2sq_f16)(a, b)
}

#[inline]
pub fn cosine_f16(a: &[f16], b: &[f16]) -> f32 {
    (selected().cosine_f16)(a, b)
}

/// Integer inner product (wrapping; exact for vectors of up to 131072 elements).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    (selected().dot_i8)(a, b)
}

/// Integer squared distance (wrapping; exact for vectors of up to 33025 elements).
#[inline]
pub fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    (selected().l2sq_i8)(a, b)
}

/// Cosine similarity of two i8 vectors; per-vector scales cancel out.
#[inline]
pub fn cosine_i8(a: &[i8], b: &[i8]) -> f32 {
    (selected().cosine_i8)(a, b)
}

/// `out[i] = dot(query, row i)` where `rows` holds `out.len()` rows of `query.len()` values.
#[inline]
pub fn dot_f32_many(query: &[f32], rows: &[f32], out: &mut [f32]) {
    (selected().dot_f32_many)(query, rows, out)
}

#[inline]
pub fn l2sq_f32_many(query: &[f32], rows: &[f32], out: &mut [f32]) {
    (selected().l2sq_f32_many)(query, rows, out)
}

#[inline]
pub fn cosine_f32_many(query: &[f32], rows: &[f32], out: &mut [f32]) {
    (selected().cosine_f32_many)(query, rows, out)
}

#[inline]
pub fn dot_i8_many(query: &[i8], rows: &[i8], out: &mut [i32]) {
    (selected().dot_i8_many)(query, rows, out)
}

#[inline]
pub fn l2sq_i8_many(query: &[i8], rows: &[i8], out: &mut [i32]) {
    (selected().l2sq_i8_many)(query, rows, out)
}

/// Applies a one-to-one kernel to every row. A zero-length query gives 0 for every row.
#[inline(always)]
pub(crate) fn for_each_row<T, R: Copy + Default>(
    query: &[T],
    rows: &[T],
    out: &mut [R],
    kernel: impl Fn(&[T], &[T]) -> R,
) {
    let dim = query.len();
    if dim == 0 {
        out.fill(R::default());
        return;
    }
    debug_assert_eq!(rows.len(), dim * out.len());
    let ahead = PREFETCH_BYTES / std::mem::size_of_val(query).max(1) + 1;
    for (i, (o, row)) in out.iter_mut().zip(rows.chunks_exact(dim)).enumerate() {
        if let Some(next) = rows.get((i + ahead) * dim..(i + ahead + 1) * dim) {
            prefetch_slice(next);
        }
        *o = kernel(query, row);
    }
}

/// How far ahead of the row being computed the scan asks for memory.
const PREFETCH_BYTES: usize = 4096;

/// Asks the CPU to start loading `s` into cache: a scan of many rows then keeps more memory
/// requests in flight than the hardware prefetcher alone would.
#[inline(always)]
fn prefetch_slice<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(s);
        let p = s.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: prefetch is a hint; it never faults, and the address is inside `s`.
            unsafe { _mm_prefetch(p.add(off), _MM_HINT_T0) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// Cosine from f32 sums. When a sum overflowed or underflowed (values beyond about 1e19 or
/// below 1e-19), the sums are recomputed in f64 so the result stays right over the whole f32
/// range; embeddings never take that path.
#[inline]
pub(crate) fn finish_cosine<T: Copy>(
    ab: f32,
    aa: f32,
    bb: f32,
    a: &[T],
    b: &[T],
    wide: impl Fn(T) -> f64,
) -> f32 {
    if ab.is_finite() && aa.is_finite() && bb.is_finite() && aa >= 1e-30 && bb >= 1e-30 {
        return (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0);
    }
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (wide(x), wide(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0) as f32
}

#[inline]
pub(crate) fn cosine_from_i8_parts(ab: i32, aa: i32, bb: i32) -> f32 {
    if aa == 0 || bb == 0 {
        return 0.0;
    }
    (ab as f64 / ((aa as f64).sqrt() * (bb as f64).sqrt())).clamp(-1.0, 1.0) as f32
}

#[cfg(test)]
mod tests;
