//! aarch64 kernels (NEON, part of the aarch64 baseline). f16 vectors use the portable
//! kernels: the `half` crate converts with the FP16 instructions when the CPU has them.
//!
//! Not built on the x86-64 development machine; kept to long-stable intrinsics.

#![allow(unused_unsafe)]

use std::arch::aarch64::*;

use super::{scalar, KernelSet};

pub(crate) fn supported_sets() -> Vec<&'static KernelSet> {
    if std::arch::is_aarch64_feature_detected!("neon") {
        vec![&SET]
    } else {
        Vec::new()
    }
}

static SET: KernelSet = KernelSet {
    name: "neon",
    dot_f32: |a, b| unsafe { dot_f32(a, b) },
    l2sq_f32: |a, b| unsafe { l2sq_f32(a, b) },
    cosine_f32: |a, b| unsafe { cosine_f32(a, b) },
    dot_f16: scalar::dot_f16,
    l2sq_f16: scalar::l2sq_f16,
    cosine_f16: scalar::cosine_f16,
    dot_i8: |a, b| unsafe { dot_i8(a, b) },
    l2sq_i8: |a, b| unsafe { l2sq_i8(a, b) },
    cosine_i8: |a, b| unsafe { cosine_i8(a, b) },
    dot_f32_many: |q, r, o| unsafe { dot_f32_many(q, r, o) },
    l2sq_f32_many: |q, r, o| unsafe { l2sq_f32_many(q, r, o) },
    cosine_f32_many: |q, r, o| unsafe { cosine_f32_many(q, r, o) },
    dot_i8_many: |q, r, o| unsafe { dot_i8_many(q, r, o) },
    l2sq_i8_many: |q, r, o| unsafe { l2sq_i8_many(q, r, o) },
};

#[inline]
#[target_feature(enable = "neon")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    let sum = unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        while i + 16 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                let j = i + 4 * k;
                *s = vfmaq_f32(*s, vld1q_f32(pa.add(j)), vld1q_f32(pb.add(j)));
            }
            i += 16;
        }
        while i + 4 <= n {
            acc[0] = vfmaq_f32(acc[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            i += 4;
        }
        vaddvq_f32(vaddq_f32(
            vaddq_f32(acc[0], acc[1]),
            vaddq_f32(acc[2], acc[3]),
        ))
    };
    sum + scalar::dot_f32(&a[i..n], &b[i..n])
}

#[inline]
#[target_feature(enable = "neon")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    let sum = unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        while i + 16 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                let j = i + 4 * k;
                let d = vsubq_f32(vld1q_f32(pa.add(j)), vld1q_f32(pb.add(j)));
                *s = vfmaq_f32(*s, d, d);
            }
            i += 16;
        }
        while i + 4 <= n {
            let d = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            acc[0] = vfmaq_f32(acc[0], d, d);
            i += 4;
        }
        vaddvq_f32(vaddq_f32(
            vaddq_f32(acc[0], acc[1]),
            vaddq_f32(acc[2], acc[3]),
        ))
    };
    sum + scalar::l2sq_f32(&a[i..n], &b[i..n])
}

#[inline]
#[target_feature(enable = "neon")]
unsafe fn cosine_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    let (mut ab, mut aa, mut bb) = unsafe {
        let z = vdupq_n_f32(0.0);
        let (mut ab, mut aa, mut bb) = ([z; 2], [z; 2], [z; 2]);
        while i + 8 <= n {
            for k in 0..2 {
                let (x, y) = (vld1q_f32(pa.add(i + 4 * k)), vld1q_f32(pb.add(i + 4 * k)));
                ab[k] = vfmaq_f32(ab[k], x, y);
                aa[k] = vfmaq_f32(aa[k], x, x);
                bb[k] = vfmaq_f32(bb[k], y, y);
            }
            i += 8;
        }
        (
            vaddvq_f32(vaddq_f32(ab[0], ab[1])),
            vaddvq_f32(vaddq_f32(aa[0], aa[1])),
            vaddvq_f32(vaddq_f32(bb[0], bb[1])),
        )
    };
    let (tab, taa, tbb) = scalar::cosine_parts_f32(&a[i..n], &b[i..n]);
    (ab, aa, bb) = (ab + tab, aa + taa, bb + tbb);
    super::finish_cosine(ab, aa, bb, a, b, |x| x as f64)
}

#[inline]
#[target_feature(enable = "neon")]
unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // Each i8*i8 product fits in i16 (|p| <= 16384); pairs are then widened into i32 lanes.
    let sum = unsafe {
        let mut acc = [vdupq_n_s32(0); 2];
        while i + 16 <= n {
            let (x, y) = (vld1q_s8(pa.add(i)), vld1q_s8(pb.add(i)));
            acc[0] = vpadalq_s16(acc[0], vmull_s8(vget_low_s8(x), vget_low_s8(y)));
            acc[1] = vpadalq_s16(acc[1], vmull_s8(vget_high_s8(x), vget_high_s8(y)));
            i += 16;
        }
        vaddvq_s32(vaddq_s32(acc[0], acc[1]))
    };
    sum.wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

#[inline]
#[target_feature(enable = "neon")]
unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    let sum = unsafe {
        let mut acc = vdupq_n_s32(0);
        while i + 8 <= n {
            let d = vsubl_s8(vld1_s8(pa.add(i)), vld1_s8(pb.add(i)));
            acc = vmlal_s16(acc, vget_low_s16(d), vget_low_s16(d));
            acc = vmlal_s16(acc, vget_high_s16(d), vget_high_s16(d));
            i += 8;
        }
        vaddvq_s32(acc)
    };
    sum.wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "neon")]
unsafe fn cosine_i8(a: &[i8], b: &[i8]) -> f32 {
    let (ab, aa, bb) = unsafe { (dot_i8(a, b), dot_i8(a, a), dot_i8(b, b)) };
    super::cosine_from_i8_parts(ab, aa, bb)
}

#[target_feature(enable = "neon")]
unsafe fn dot_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    super::for_each_row(q, rows, out, |a, b| unsafe { dot_f32(a, b) })
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    super::for_each_row(q, rows, out, |a, b| unsafe { l2sq_f32(a, b) })
}

#[target_feature(enable = "neon")]
unsafe fn cosine_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    super::for_each_row(q, rows, out, |a, b| unsafe { cosine_f32(a, b) })
}

#[target_feature(enable = "neon")]
unsafe fn dot_i8_many(q: &[i8], rows: &[i8], out: &mut [i32]) {
    super::for_each_row(q, rows, out, |a, b| unsafe { dot_i8(a, b) })
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_i8_many(q: &[i8], rows: &[i8], out: &mut [i32]) {
    super::for_each_row(q, rows, out, |a, b| unsafe { l2sq_i8(a, b) })
}
