//! The pairwise paths (one-to-many, tiled all-pairs, cosine from self-dots) against the scalar
//! oracle applied pair by pair.

use half::f16;
use proptest::prelude::*;

use super::*;
use crate::vector::kernels::scalar;

const METRICS: [Metric; 3] = [Metric::Cosine, Metric::Dot, Metric::L2];

/// Deterministic values in [-1, 1) (an LCG), so large cases need no proptest shrinking.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn oracle_f32(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    (match metric {
        Metric::Cosine => scalar::cosine_f32(a, b),
        Metric::Dot => scalar::dot_f32(a, b),
        Metric::L2 => scalar::l2sq_f32(a, b),
    }) as f64
}

fn oracle_f16(metric: Metric, a: &[f16], b: &[f16]) -> f64 {
    (match metric {
        Metric::Cosine => scalar::cosine_f16(a, b),
        Metric::Dot => scalar::dot_f16(a, b),
        Metric::L2 => scalar::l2sq_f16(a, b),
    }) as f64
}

fn oracle_i8(metric: Metric, a: &[i8], b: &[i8]) -> f64 {
    match metric {
        Metric::Cosine => scalar::cosine_i8(a, b) as f64,
        Metric::Dot => scalar::dot_i8(a, b) as f64,
        Metric::L2 => scalar::l2sq_i8(a, b) as f64,
    }
}

/// Every row pair of `a` (n x dim) and `b` (m x dim) through `distances_into`, compared with the
/// oracle pair by pair; `tol` is relative to the pair's scale (the sum of |x_i * y_i| terms).
fn check_all_pairs<T: KernelElement>(
    metric: Metric,
    a: &[T],
    b: &[T],
    dim: usize,
    oracle: impl Fn(Metric, &[T], &[T]) -> f64,
    tol: f64,
) {
    let (n, m) = (a.len() / dim, b.len() / dim);
    let shape = Shape::new(&[n, dim], &[m, dim]).unwrap();
    let mut out = vec![T::Out::default(); n * m];
    distances_into(metric, &shape, a, b, &mut out).unwrap();
    for (i, va) in a.chunks_exact(dim).enumerate() {
        for (j, vb) in b.chunks_exact(dim).enumerate() {
            let got: f64 = out[i * m + j].into();
            let want = oracle(metric, va, vb);
            let scale = if metric == Metric::Cosine {
                1.0
            } else {
                want.abs().max(dim as f64)
            };
            assert!(
                (got - want).abs() <= tol * scale,
                "{metric:?} n={n} m={m} dim={dim} pair ({i}, {j}): {got} vs oracle {want}"
            );
        }
        // The same row against all of b through the one-to-many path, and b against the row.
        let mut row = vec![T::Out::default(); m];
        distances_into(
            metric,
            &Shape::new(&[dim], &[m, dim]).unwrap(),
            va,
            b,
            &mut row,
        )
        .unwrap();
        let mut col = vec![T::Out::default(); m];
        distances_into(
            metric,
            &Shape::new(&[m, dim], &[dim]).unwrap(),
            b,
            va,
            &mut col,
        )
        .unwrap();
        for j in 0..m {
            let (r, c, t): (f64, f64, f64) = (row[j].into(), col[j].into(), out[i * m + j].into());
            let scale = if metric == Metric::Cosine {
                1.0
            } else {
                t.abs().max(dim as f64)
            };
            assert!(
                (r - t).abs() <= tol * scale && r == c,
                "{metric:?} row {i} col {j}: {r} {c} {t}"
            );
        }
    }
}

#[test]
fn f32_pairs_across_tiles_match_the_oracle() {
    // dim 64: a tile holds 1024 rows of b, so 1100 rows cross a tile boundary.
    let dim = 64;
    let (a, b) = (values(3 * dim, 1), values(1100 * dim, 2));
    for metric in METRICS {
        check_all_pairs(metric, &a, &b, dim, oracle_f32, 1e-5);
    }
}

#[test]
fn f16_pairs_across_tiles_match_the_oracle() {
    let dim = 64; // 2048 rows per tile
    let to_f16 = |v: Vec<f32>| v.into_iter().map(f16::from_f32).collect::<Vec<_>>();
    let (a, b) = (to_f16(values(2 * dim, 3)), to_f16(values(2100 * dim, 4)));
    for metric in METRICS {
        check_all_pairs(metric, &a, &b, dim, oracle_f16, 1e-5);
    }
}

#[test]
fn i8_pairs_across_tiles_and_chunks_are_exact() {
    let dim = 64; // 4096 rows per tile; one-to-many runs in chunks of 1024 rows
    let to_i8 = |v: Vec<f32>| v.into_iter().map(|x| (x * 127.0) as i8).collect::<Vec<_>>();
    let (a, b) = (to_i8(values(2 * dim, 5)), to_i8(values(4200 * dim, 6)));
    check_all_pairs(Metric::Dot, &a, &b, dim, oracle_i8, 0.0);
    check_all_pairs(Metric::L2, &a, &b, dim, oracle_i8, 0.0);
    check_all_pairs(Metric::Cosine, &a, &b, dim, oracle_i8, 1e-6);
}

#[test]
fn cosine_of_zero_and_huge_vectors_matches_the_oracle() {
    // A zero row gives 0; rows near f32's limit overflow the f32 self-dots and take the f64 path.
    let dim = 8;
    let mut a = values(3 * dim, 7);
    a[..dim].fill(0.0);
    a[dim..2 * dim].iter_mut().for_each(|x| *x *= 1e30);
    let mut b = values(5 * dim, 8);
    b[dim..2 * dim].iter_mut().for_each(|x| *x *= 1e-25);
    check_all_pairs(Metric::Cosine, &a, &b, dim, oracle_f32, 1e-5);
}

#[test]
fn a_single_pair_matches_the_oracle() {
    let (a, b) = (values(384, 9), values(384, 10));
    for metric in METRICS {
        let got = distance(metric, &a, &b).unwrap();
        assert!(
            (got - oracle_f32(metric, &a, &b)).abs() <= 1e-4,
            "{metric:?}"
        );
    }
}

#[test]
fn shapes_are_checked() {
    let err = |r: Result<Shape, CoreError>| match r {
        Err(CoreError::InvalidArgument(m)) => m,
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(err(Shape::new(&[2, 3, 4], &[4])).contains("1-D vectors or 2-D"));
    assert!(err(Shape::new(&[], &[4])).contains("1-D vectors or 2-D"));
    assert!(err(Shape::new(&[2, 3], &[4])).contains("dimension mismatch"));
    assert!(err(Shape::new(&[0], &[0])).contains("0 dimensions"));
    let s = Shape::new(&[5, 3], &[3]).unwrap();
    assert_eq!(
        (s.rows(), s.out_len(), s.work(), s.is_pair()),
        ((5, 1), Some(5), 15, false)
    );
    assert!(Shape::new(&[3], &[3]).unwrap().is_pair());
    assert_eq!(
        Shape::new(&[usize::MAX, 1], &[2, 1]).unwrap().out_len(),
        None
    );
    assert_eq!(Shape::new(&[0, 4], &[7, 4]).unwrap().out_len(), Some(0));
}

#[test]
fn lengths_that_disagree_with_the_shape_are_refused() {
    let shape = Shape::new(&[2, 3], &[4, 3]).unwrap();
    let (a, b) = (vec![1.0f32; 6], vec![1.0f32; 12]);
    assert!(distances_into(Metric::Dot, &shape, &a[..5], &b, &mut [0.0; 8]).is_err());
    assert!(distances_into(Metric::Dot, &shape, &a, &b[..11], &mut [0.0; 8]).is_err());
    assert!(distances_into(Metric::Dot, &shape, &a, &b, &mut [0.0; 7]).is_err());
    assert!(distance(Metric::Dot, &a[..3], &b[..4]).is_err());
    assert!(distance::<f32>(Metric::Dot, &[], &[]).is_err());
}

#[test]
fn non_finite_inputs_are_named() {
    let shape = Shape::new(&[2, 3], &[2, 3]).unwrap();
    let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut b = a;
    b[4] = f32::NAN;
    let mut out = [0.0f32; 4];
    let msg = distances_into(Metric::L2, &shape, &a, &b, &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("b holds NaN or infinity (vector 1, component 1)"),
        "{msg}"
    );
    let msg = distance(Metric::Cosine, &b[3..], &a[3..])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("a holds NaN or infinity (vector 0, component 1)"),
        "{msg}"
    );
    let inf = [f16::INFINITY, f16::ONE];
    assert!(distance(Metric::Dot, &inf, &inf).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Small integers make every f32 sum exact, so dot and l2 over any shape equal the oracle
    /// bit for bit, whatever the kernel set and tiling.
    #[test]
    fn small_integer_batches_are_exact(
        n in 0usize..5, m in 0usize..40, dim in 1usize..70, seed in any::<u64>(),
    ) {
        let ints = |len: usize, s: u64| values(len, s).into_iter().map(|x| (x * 8.0).round()).collect::<Vec<f32>>();
        let (a, b) = (ints(n * dim, seed), ints(m * dim, seed ^ 1));
        for metric in [Metric::Dot, Metric::L2] {
            check_all_pairs(metric, &a, &b, dim, oracle_f32, 0.0);
        }
        check_all_pairs(Metric::Cosine, &a, &b, dim, oracle_f32, 1e-5);
    }
}
