//! x86-64 kernels: AVX2+FMA(+F16C), and AVX-512 (F+BW+VL) where present.
//!
//! Every function here is `unsafe` with `#[target_feature]`; the safe wrappers in the kernel
//! sets below are only reachable through `supported_sets()`, which checks the CPU first.

use super::KernelSet;

pub(crate) fn supported_sets() -> Vec<&'static KernelSet> {
    let mut sets: Vec<&'static KernelSet> = Vec::new();
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
    {
        sets.push(&avx512::SET);
    }
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
    {
        sets.push(&avx2::SET);
    }
    sets
}

/// Safe wrappers around `unsafe` target-feature kernels, for the function-pointer table.
macro_rules! kernel_set {
    ($name:literal, $m:ident) => {
        pub(crate) static SET: KernelSet = KernelSet {
            name: $name,
            dot_f32: |a, b| unsafe { $m::dot_f32(a, b) },
            l2sq_f32: |a, b| unsafe { $m::l2sq_f32(a, b) },
            cosine_f32: |a, b| unsafe { $m::cosine_f32(a, b) },
            dot_f16: |a, b| unsafe { $m::dot_f16(a, b) },
            l2sq_f16: |a, b| unsafe { $m::l2sq_f16(a, b) },
            cosine_f16: |a, b| unsafe { $m::cosine_f16(a, b) },
            dot_i8: |a, b| unsafe { $m::dot_i8(a, b) },
            l2sq_i8: |a, b| unsafe { $m::l2sq_i8(a, b) },
            cosine_i8: |a, b| unsafe { $m::cosine_i8(a, b) },
            dot_f32_many: |q, r, o| unsafe { $m::dot_f32_many(q, r, o) },
            l2sq_f32_many: |q, r, o| unsafe { $m::l2sq_f32_many(q, r, o) },
            cosine_f32_many: |q, r, o| unsafe { $m::cosine_f32_many(q, r, o) },
            dot_i8_many: |q, r, o| unsafe { $m::dot_i8_many(q, r, o) },
            l2sq_i8_many: |q, r, o| unsafe { $m::l2sq_i8_many(q, r, o) },
        };
    };
}

/// One-to-many loops, compiled inside each target-feature module so the one-to-one kernel
/// inlines into the row loop.
macro_rules! many_kernels {
    ($features:literal) => {
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn dot_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
            super::super::for_each_row(q, rows, out, |a, b| unsafe { dot_f32(a, b) })
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn l2sq_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
            super::super::for_each_row(q, rows, out, |a, b| unsafe { l2sq_f32(a, b) })
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn cosine_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
            super::super::for_each_row(q, rows, out, |a, b| unsafe { cosine_f32(a, b) })
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn dot_i8_many(q: &[i8], rows: &[i8], out: &mut [i32]) {
            super::super::for_each_row(q, rows, out, |a, b| unsafe { dot_i8(a, b) })
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn l2sq_i8_many(q: &[i8], rows: &[i8], out: &mut [i32]) {
            super::super::for_each_row(q, rows, out, |a, b| unsafe { l2sq_i8(a, b) })
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn cosine_f32(a: &[f32], b: &[f32]) -> f32 {
            let (ab, aa, bb) = unsafe { cosine_parts_f32(a, b) };
            super::super::finish_cosine(ab, aa, bb, a, b, |x| x as f64)
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn cosine_f16(a: &[f16], b: &[f16]) -> f32 {
            let (ab, aa, bb) = unsafe { cosine_parts_f16(a, b) };
            super::super::finish_cosine(ab, aa, bb, a, b, |x| x.to_f64())
        }

        #[target_feature(enable = $features)]
        pub(crate) unsafe fn cosine_i8(a: &[i8], b: &[i8]) -> f32 {
            let (ab, aa, bb) = unsafe { (dot_i8(a, b), dot_i8(a, a), dot_i8(b, b)) };
            super::super::cosine_from_i8_parts(ab, aa, bb)
        }
    };
}

/// dot, squared L2 and the cosine sums over f32 at one vector width: the x86 sets differ only
/// in their intrinsics. Four (dot, L2) or two-by-three (cosine) independent accumulators;
/// the last `n % lanes` values go through the scalar kernels.
macro_rules! f32_kernels {
    (features: $f:literal, lanes: $w:literal, zero: $zero:ident, load: $load:ident, fma: $fma:ident,
     sub: $sub:ident, add: $add:ident, sum: $sum:ident) => {
        #[inline]
        #[target_feature(enable = $f)]
        pub(crate) unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
            debug_assert_eq!(a.len(), b.len());
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [$zero(); 4];
            let mut i = 0;
            unsafe {
                while i + 4 * $w <= n {
                    for (k, s) in acc.iter_mut().enumerate() {
                        let j = i + $w * k;
                        *s = $fma($load(pa.add(j)), $load(pb.add(j)), *s);
                    }
                    i += 4 * $w;
                }
                while i + $w <= n {
                    acc[0] = $fma($load(pa.add(i)), $load(pb.add(i)), acc[0]);
                    i += $w;
                }
            }
            $sum($add($add(acc[0], acc[1]), $add(acc[2], acc[3])))
                + scalar::dot_f32(&a[i..n], &b[i..n])
        }

        #[inline]
        #[target_feature(enable = $f)]
        pub(crate) unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
            debug_assert_eq!(a.len(), b.len());
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [$zero(); 4];
            let mut i = 0;
            unsafe {
                while i + 4 * $w <= n {
                    for (k, s) in acc.iter_mut().enumerate() {
                        let j = i + $w * k;
                        let d = $sub($load(pa.add(j)), $load(pb.add(j)));
                        *s = $fma(d, d, *s);
                    }
                    i += 4 * $w;
                }
                while i + $w <= n {
                    let d = $sub($load(pa.add(i)), $load(pb.add(i)));
                    acc[0] = $fma(d, d, acc[0]);
                    i += $w;
                }
            }
            $sum($add($add(acc[0], acc[1]), $add(acc[2], acc[3])))
                + scalar::l2sq_f32(&a[i..n], &b[i..n])
        }

        /// (a.b, a.a, b.b) in one pass.
        #[inline]
        #[target_feature(enable = $f)]
        pub(crate) unsafe fn cosine_parts_f32(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
            debug_assert_eq!(a.len(), b.len());
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let z = $zero();
            let (mut ab, mut aa, mut bb) = ([z; 2], [z; 2], [z; 2]);
            let mut i = 0;
            unsafe {
                while i + 2 * $w <= n {
                    for k in 0..2 {
                        let (x, y) = ($load(pa.add(i + $w * k)), $load(pb.add(i + $w * k)));
                        ab[k] = $fma(x, y, ab[k]);
                        aa[k] = $fma(x, x, aa[k]);
                        bb[k] = $fma(y, y, bb[k]);
                    }
                    i += 2 * $w;
                }
                while i + $w <= n {
                    let (x, y) = ($load(pa.add(i)), $load(pb.add(i)));
                    ab[0] = $fma(x, y, ab[0]);
                    aa[0] = $fma(x, x, aa[0]);
                    bb[0] = $fma(y, y, bb[0]);
                    i += $w;
                }
            }
            let (tab, taa, tbb) = scalar::cosine_parts_f32(&a[i..n], &b[i..n]);
            (
                $sum($add(ab[0], ab[1])) + tab,
                $sum($add(aa[0], aa[1])) + taa,
                $sum($add(bb[0], bb[1])) + tbb,
            )
        }
    };
}

pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use half::f16;

    use super::super::{scalar, KernelSet};

    kernel_set!("avx2+fma", self);
    many_kernels!("avx2,fma,f16c");

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum_ps(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum_epi32(v: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    f32_kernels!(features: "avx2,fma", lanes: 8, zero: _mm256_setzero_ps, load: _mm256_loadu_ps,
        fma: _mm256_fmadd_ps, sub: _mm256_sub_ps, add: _mm256_add_ps, sum: hsum_ps);

    /// Loads 8 f16 as 8 f32 (F16C).
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load_f16x8(p: *const f16) -> __m256 {
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 2];
        let mut i = 0;
        unsafe {
            while i + 16 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 8 * k;
                    *s = _mm256_fmadd_ps(load_f16x8(pa.add(j)), load_f16x8(pb.add(j)), *s);
                }
                i += 16;
            }
            while i + 8 <= n {
                acc[0] = _mm256_fmadd_ps(load_f16x8(pa.add(i)), load_f16x8(pb.add(i)), acc[0]);
                i += 8;
            }
        }
        let sum = hsum_ps(_mm256_add_ps(acc[0], acc[1]));
        sum + scalar::dot_f16(&a[i..n], &b[i..n])
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 2];
        let mut i = 0;
        unsafe {
            while i + 16 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 8 * k;
                    let d = _mm256_sub_ps(load_f16x8(pa.add(j)), load_f16x8(pb.add(j)));
                    *s = _mm256_fmadd_ps(d, d, *s);
                }
                i += 16;
            }
            while i + 8 <= n {
                let d = _mm256_sub_ps(load_f16x8(pa.add(i)), load_f16x8(pb.add(i)));
                acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
                i += 8;
            }
        }
        let sum = hsum_ps(_mm256_add_ps(acc[0], acc[1]));
        sum + scalar::l2sq_f16(&a[i..n], &b[i..n])
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) unsafe fn cosine_parts_f16(a: &[f16], b: &[f16]) -> (f32, f32, f32) {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut ab, mut aa, mut bb) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        unsafe {
            while i + 8 <= n {
                let (x, y) = (load_f16x8(pa.add(i)), load_f16x8(pb.add(i)));
                ab = _mm256_fmadd_ps(x, y, ab);
                aa = _mm256_fmadd_ps(x, x, aa);
                bb = _mm256_fmadd_ps(y, y, bb);
                i += 8;
            }
        }
        let (tab, taa, tbb) = scalar::cosine_parts_f16(&a[i..n], &b[i..n]);
        (hsum_ps(ab) + tab, hsum_ps(aa) + taa, hsum_ps(bb) + tbb)
    }

    /// Sign-extends 16 i8 at `p` to 16 i16.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load_i8x16(p: *const i8) -> __m256i {
        unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(p as *const __m128i)) }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_si256(); 2];
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 16 * k;
                    *s = _mm256_add_epi32(
                        *s,
                        _mm256_madd_epi16(load_i8x16(pa.add(j)), load_i8x16(pb.add(j))),
                    );
                }
                i += 32;
            }
            while i + 16 <= n {
                acc[0] = _mm256_add_epi32(
                    acc[0],
                    _mm256_madd_epi16(load_i8x16(pa.add(i)), load_i8x16(pb.add(i))),
                );
                i += 16;
            }
        }
        let sum = hsum_epi32(_mm256_add_epi32(acc[0], acc[1]));
        sum.wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_si256(); 2];
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 16 * k;
                    let d = _mm256_sub_epi16(load_i8x16(pa.add(j)), load_i8x16(pb.add(j)));
                    *s = _mm256_add_epi32(*s, _mm256_madd_epi16(d, d));
                }
                i += 32;
            }
            while i + 16 <= n {
                let d = _mm256_sub_epi16(load_i8x16(pa.add(i)), load_i8x16(pb.add(i)));
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(d, d));
                i += 16;
            }
        }
        let sum = hsum_epi32(_mm256_add_epi32(acc[0], acc[1]));
        sum.wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
    }
}

pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    use half::f16;

    use super::super::{scalar, KernelSet};

    kernel_set!("avx512", self);
    many_kernels!("avx512f,avx512bw,avx512vl,avx2,fma,f16c");

    /// A mask of the low `n` (< 16) lanes.
    #[inline]
    fn tail16(n: usize) -> u16 {
        ((1u32 << n) - 1) as u16
    }

    #[inline]
    fn tail32(n: usize) -> u32 {
        ((1u64 << n) - 1) as u32
    }

    f32_kernels!(features: "avx512f", lanes: 16, zero: _mm512_setzero_ps, load: _mm512_loadu_ps,
        fma: _mm512_fmadd_ps, sub: _mm512_sub_ps, add: _mm512_add_ps, sum: _mm512_reduce_add_ps);

    /// Loads up to 16 f16 (the low `m` lanes) as f32.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn load_f16x16(m: u16, p: *const f16) -> __m512 {
        unsafe { _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p as *const i16)) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(crate) unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 2];
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 16 * k;
                    *s = _mm512_fmadd_ps(
                        load_f16x16(u16::MAX, pa.add(j)),
                        load_f16x16(u16::MAX, pb.add(j)),
                        *s,
                    );
                }
                i += 32;
            }
            while i < n {
                let m = if n - i >= 16 { u16::MAX } else { tail16(n - i) };
                acc[0] =
                    _mm512_fmadd_ps(load_f16x16(m, pa.add(i)), load_f16x16(m, pb.add(i)), acc[0]);
                i += 16;
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(crate) unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 2];
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 16 * k;
                    let d = _mm512_sub_ps(
                        load_f16x16(u16::MAX, pa.add(j)),
                        load_f16x16(u16::MAX, pb.add(j)),
                    );
                    *s = _mm512_fmadd_ps(d, d, *s);
                }
                i += 32;
            }
            while i < n {
                let m = if n - i >= 16 { u16::MAX } else { tail16(n - i) };
                let d = _mm512_sub_ps(load_f16x16(m, pa.add(i)), load_f16x16(m, pb.add(i)));
                acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
                i += 16;
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(crate) unsafe fn cosine_parts_f16(a: &[f16], b: &[f16]) -> (f32, f32, f32) {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut ab, mut aa, mut bb) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let mut i = 0;
        unsafe {
            while i < n {
                let m = if n - i >= 16 { u16::MAX } else { tail16(n - i) };
                let (x, y) = (load_f16x16(m, pa.add(i)), load_f16x16(m, pb.add(i)));
                ab = _mm512_fmadd_ps(x, y, ab);
                aa = _mm512_fmadd_ps(x, x, aa);
                bb = _mm512_fmadd_ps(y, y, bb);
                i += 16;
            }
        }
        (
            _mm512_reduce_add_ps(ab),
            _mm512_reduce_add_ps(aa),
            _mm512_reduce_add_ps(bb),
        )
    }

    /// Sign-extends up to 32 i8 (the low `m` lanes, zeros elsewhere) to 32 i16.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn load_i8x32(m: u32, p: *const i8) -> __m512i {
        unsafe { _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p)) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(crate) unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_si512(); 2];
        let mut i = 0;
        unsafe {
            while i + 64 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 32 * k;
                    let p = _mm512_madd_epi16(
                        load_i8x32(u32::MAX, pa.add(j)),
                        load_i8x32(u32::MAX, pb.add(j)),
                    );
                    *s = _mm512_add_epi32(*s, p);
                }
                i += 64;
            }
            while i < n {
                let m = if n - i >= 32 { u32::MAX } else { tail32(n - i) };
                let p = _mm512_madd_epi16(load_i8x32(m, pa.add(i)), load_i8x32(m, pb.add(i)));
                acc[0] = _mm512_add_epi32(acc[0], p);
                i += 32;
            }
        }
        _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(crate) unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_si512(); 2];
        let mut i = 0;
        unsafe {
            while i + 64 <= n {
                for (k, s) in acc.iter_mut().enumerate() {
                    let j = i + 32 * k;
                    let d = _mm512_sub_epi16(
                        load_i8x32(u32::MAX, pa.add(j)),
                        load_i8x32(u32::MAX, pb.add(j)),
                    );
                    *s = _mm512_add_epi32(*s, _mm512_madd_epi16(d, d));
                }
                i += 64;
            }
            while i < n {
                let m = if n - i >= 32 { u32::MAX } else { tail32(n - i) };
                let d = _mm512_sub_epi16(load_i8x32(m, pa.add(i)), load_i8x32(m, pb.add(i)));
                acc[0] = _mm512_add_epi32(acc[0], _mm512_madd_epi16(d, d));
                i += 32;
            }
        }
        _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]))
    }
}
