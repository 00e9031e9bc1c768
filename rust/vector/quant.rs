//! Vector quantisation: symmetric per-vector i8 and f16.
//!
//! i8 uses each vector's own max-abs scale (value ~= i8 * scale), not a fixed x127 scale: a
//! unit-length embedding has components far below 1, and a fixed scale would spend most of the
//! 255 levels on values that never occur.
//!
//! ```
//! use dejacache_core::vector::quant::{dequantize_i8, quantize_i8};
//! let v = [0.5f32, -0.25, 0.0];
//! let mut q = [0i8; 3];
//! let scale = quantize_i8(&v, &mut q);
//! assert_eq!(q, [127, -64, 0]);
//! let mut back = [0f32; 3];
//! dequantize_i8(&q, scale, &mut back);
//! assert!((back[1] + 0.25).abs() <= scale / 2.0);
//! ```

use half::f16;
use half::slice::HalfFloatSliceExt;

/// Quantises `v` into `out` (same length) and returns the scale: `v[i] ~= out[i] * scale`,
/// with `|v[i] - out[i] * scale| <= scale / 2`. Values land in -127..=127, so negating a code
/// never overflows. A zero vector gives scale 0 and all-zero codes. Callers reject NaN and
/// infinity first; such inputs give meaningless codes, never a panic.
pub fn quantize_i8(v: &[f32], out: &mut [i8]) -> f32 {
    debug_assert_eq!(v.len(), out.len());
    let max_abs = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max_abs == 0.0 || !max_abs.is_finite() {
        out.fill(0);
        return 0.0;
    }
    let inv = 127.0 / max_abs;
    for (o, &x) in out.iter_mut().zip(v) {
        *o = (x * inv).round().clamp(-127.0, 127.0) as i8;
    }
    max_abs / 127.0
}

/// Quantises `rows` (row-major, `dim` values each) into `out`, one scale per row in `scales`.
pub fn quantize_i8_rows(rows: &[f32], dim: usize, out: &mut [i8], scales: &mut [f32]) {
    if dim == 0 {
        scales.fill(0.0);
        return;
    }
    debug_assert_eq!(rows.len(), out.len());
    debug_assert_eq!(rows.len(), dim * scales.len());
    for ((row, o), s) in rows
        .chunks_exact(dim)
        .zip(out.chunks_exact_mut(dim))
        .zip(scales.iter_mut())
    {
        *s = quantize_i8(row, o);
    }
}

/// The inverse of [`quantize_i8`], up to rounding.
pub fn dequantize_i8(q: &[i8], scale: f32, out: &mut [f32]) {
    debug_assert_eq!(q.len(), out.len());
    for (o, &x) in out.iter_mut().zip(q) {
        *o = x as f32 * scale;
    }
}

/// f32 to f16, rounding to nearest; values beyond 65504 become infinity.
pub fn to_f16(v: &[f32], out: &mut [f16]) {
    out.convert_from_f32_slice(v);
}

/// f16 to f32 (exact).
pub fn from_f16(v: &[f16], out: &mut [f32]) {
    v.convert_to_f32_slice(out);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::vector::kernels::{cosine_f32, cosine_i8};

    proptest! {
        #[test]
        fn i8_round_trip_is_within_half_a_step(v in prop::collection::vec(-1e6f32..1e6, 1..1000)) {
            let mut q = vec![0i8; v.len()];
            let scale = quantize_i8(&v, &mut q);
            let mut back = vec![0f32; v.len()];
            dequantize_i8(&q, scale, &mut back);
            let max_abs = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            if max_abs > 0.0 {
                prop_assert!(q.iter().any(|&x| x == 127 || x == -127));
            }
            prop_assert!(q.iter().all(|&x| x != -128));
            for (x, y) in v.iter().zip(&back) {
                prop_assert!((x - y).abs() <= scale * 0.5001 + max_abs * 1e-6, "{x} vs {y}, scale {scale}");
            }
        }

        /// The i8 cosine tracks the f32 cosine (the point of per-vector scaling).
        #[test]
        fn i8_cosine_tracks_f32_cosine(
            a in prop::collection::vec(-1f32..1.0, 384),
            b in prop::collection::vec(-1f32..1.0, 384),
        ) {
            let (mut qa, mut qb) = (vec![0i8; 384], vec![0i8; 384]);
            quantize_i8(&a, &mut qa);
            quantize_i8(&b, &mut qb);
            prop_assert!((cosine_i8(&qa, &qb) - cosine_f32(&a, &b)).abs() < 0.02);
        }

        #[test]
        fn f16_round_trip(v in prop::collection::vec(-60000f32..60000.0, 0..300)) {
            let mut h = vec![f16::ZERO; v.len()];
            to_f16(&v, &mut h);
            let mut back = vec![0f32; v.len()];
            from_f16(&h, &mut back);
            for (x, y) in v.iter().zip(&back) {
                prop_assert!((x - y).abs() <= x.abs() * 1e-3 + 1e-7);
                prop_assert_eq!(*y, f16::from_f32(*x).to_f32());
            }
        }
    }

    #[test]
    fn zero_and_small_unit_vectors() {
        let mut q = [5i8; 4];
        assert_eq!(quantize_i8(&[0.0; 4], &mut q), 0.0);
        assert_eq!(q, [0; 4]);
        // A unit vector with small components still uses the full code range.
        let v = [0.05f32, -0.02, 0.01, 0.0];
        let scale = quantize_i8(&v, &mut q);
        assert_eq!(q, [127, -51, 25, 0]);
        assert!((scale - 0.05 / 127.0).abs() < 1e-9);
    }

    #[test]
    fn rows_get_one_scale_each() {
        let rows = [1.0f32, -2.0, 0.0, 0.0, 0.5, 0.25];
        let (mut out, mut scales) = ([0i8; 6], [0f32; 3]);
        quantize_i8_rows(&rows, 2, &mut out, &mut scales);
        assert_eq!(out, [64, -127, 0, 0, 127, 64]);
        assert_eq!(scales, [2.0 / 127.0, 0.0, 0.5 / 127.0]);
    }
}
