//! Portable kernels: the oracle every SIMD path is tested against, and the fallback on CPUs
//! without a SIMD path. Eight independent f32 accumulators keep the code obviously correct
//! while letting the compiler vectorise it for the baseline target (SSE2 on x86-64).

use half::f16;

const LANES: usize = 8;

#[inline]
fn sum_lanes(acc: [f32; LANES]) -> f32 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// Inner product.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[i] += x * y;
    }
    sum_lanes(acc)
}

/// Squared Euclidean distance.
pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        let d = x - y;
        acc[i] += d * d;
    }
    sum_lanes(acc)
}

/// (a.b, a.a, b.b) in one pass.
pub fn cosine_parts_f32(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    debug_assert_eq!(a.len(), b.len());
    let (mut ab, mut aa, mut bb) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            ab[i] += x[i] * y[i];
            aa[i] += x[i] * x[i];
            bb[i] += y[i] * y[i];
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        ab[i] += x * y;
        aa[i] += x * x;
        bb[i] += y * y;
    }
    (sum_lanes(ab), sum_lanes(aa), sum_lanes(bb))
}

/// Cosine similarity; 0.0 when either vector is zero.
pub fn cosine_f32(a: &[f32], b: &[f32]) -> f32 {
    let (ab, aa, bb) = cosine_parts_f32(a, b);
    super::finish_cosine(ab, aa, bb, a, b, |x| x as f64)
}

/// Converts a block of f16 to f32 and hands it to `f`: the f16 kernels reuse the f32 ones.
#[inline]
fn for_f16_blocks(a: &[f16], b: &[f16], mut f: impl FnMut(&[f32], &[f32])) {
    const BLOCK: usize = 256;
    let (mut xa, mut xb) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for (pa, pb) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let n = pa.len();
        for i in 0..n {
            xa[i] = pa[i].to_f32();
            xb[i] = pb[i].to_f32();
        }
        f(&xa[..n], &xb[..n]);
    }
}

pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sum = 0.0f32;
    for_f16_blocks(a, b, |x, y| sum += dot_f32(x, y));
    sum
}

pub fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sum = 0.0f32;
    for_f16_blocks(a, b, |x, y| sum += l2sq_f32(x, y));
    sum
}

pub fn cosine_parts_f16(a: &[f16], b: &[f16]) -> (f32, f32, f32) {
    debug_assert_eq!(a.len(), b.len());
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for_f16_blocks(a, b, |x, y| {
        let (p, q, r) = cosine_parts_f32(x, y);
        ab += p;
        aa += q;
        bb += r;
    });
    (ab, aa, bb)
}

pub fn cosine_f16(a: &[f16], b: &[f16]) -> f32 {
    let (ab, aa, bb) = cosine_parts_f16(a, b);
    super::finish_cosine(ab, aa, bb, a, b, |x| x.to_f64())
}

/// Integer inner product. Wrapping arithmetic: exact while |sum| < 2^31 (any vector of up to
/// 131072 elements), and identical to the SIMD paths beyond that.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0i32, |s, (&x, &y)| s.wrapping_add(x as i32 * y as i32))
}

pub fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
        let d = x as i32 - y as i32;
        s.wrapping_add(d * d)
    })
}

/// Cosine of two i8 vectors; per-vector scales cancel, so it equals the cosine of the
/// dequantised vectors.
pub fn cosine_i8(a: &[i8], b: &[i8]) -> f32 {
    super::cosine_from_i8_parts(dot_i8(a, b), dot_i8(a, a), dot_i8(b, b))
}

pub fn dot_f32_many(query: &[f32], rows: &[f32], out: &mut [f32]) {
    super::for_each_row(query, rows, out, dot_f32);
}

pub fn l2sq_f32_many(query: &[f32], rows: &[f32], out: &mut [f32]) {
    super::for_each_row(query, rows, out, l2sq_f32);
}

pub fn cosine_f32_many(query: &[f32], rows: &[f32], out: &mut [f32]) {
    super::for_each_row(query, rows, out, cosine_f32);
}

pub fn dot_i8_many(query: &[i8], rows: &[i8], out: &mut [i32]) {
    super::for_each_row(query, rows, out, dot_i8);
}

pub fn l2sq_i8_many(query: &[i8], rows: &[i8], out: &mut [i32]) {
    super::for_each_row(query, rows, out, l2sq_i8);
}
