//! Every kernel set this CPU supports, checked against the scalar oracle and against f64.

use half::f16;
use proptest::prelude::*;

use super::*;

/// f64 sum of |a_i * b_i|: the scale of the rounding error of any f32 summation order.
fn abs_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 * y as f64).abs())
        .sum()
}

fn close(got: f32, want: f64, scale: f64) -> bool {
    (got as f64 - want).abs() <= 1e-4 * scale + 1e-30
}

fn cosine_f64(a: &[f64], b: &[f64]) -> f64 {
    let ab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let aa: f64 = a.iter().map(|x| x * x).sum();
    let bb: f64 = b.iter().map(|x| x * x).sum();
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
    }
}

/// Values over many magnitudes, including exact zeros, kept below 1e15 so that sums of up to
/// 1000 squares stay finite in f32.
fn value() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        4 => -1.0f32..1.0,
        1 => Just(0.0f32),
        1 => -1e15f32..1e15,
        1 => (-1.0f32..1.0).prop_map(|x| x * 1e-15),
    ]
}

fn pair(values: impl Strategy<Value = f32> + Clone) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (1usize..1000).prop_flat_map(move |n| {
        (
            prop::collection::vec(values.clone(), n),
            prop::collection::vec(values.clone(), n),
        )
    })
}

fn pair_i8() -> impl Strategy<Value = (Vec<i8>, Vec<i8>)> {
    (1usize..1000).prop_flat_map(|n| {
        let v = prop_oneof![4 => any::<i8>(), 1 => Just(-128i8), 1 => Just(127i8), 1 => Just(0i8)];
        (
            prop::collection::vec(v.clone(), n),
            prop::collection::vec(v, n),
        )
    })
}

fn finite_f16() -> impl Strategy<Value = f16> {
    any::<u16>()
        .prop_map(f16::from_bits)
        .prop_filter("finite", |x| x.is_finite())
}

fn pair_f16() -> impl Strategy<Value = (Vec<f16>, Vec<f16>)> {
    (1usize..1000).prop_flat_map(|n| {
        (
            prop::collection::vec(finite_f16(), n),
            prop::collection::vec(finite_f16(), n),
        )
    })
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn f32_kernels_match_the_oracle((a, b) in pair(value())) {
        let dot_scale = abs_dot(&a, &b);
        let l2_scale: f64 = a.iter().zip(&b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
        let want_dot: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
        let want_cos = cosine_f64(&widen(&a), &widen(&b));
        prop_assert!(close(scalar::dot_f32(&a, &b), want_dot, dot_scale));
        prop_assert!(close(scalar::l2sq_f32(&a, &b), l2_scale, l2_scale));
        for set in supported_sets() {
            let oracle = scalar::dot_f32(&a, &b);
            let got = (set.dot_f32)(&a, &b);
            prop_assert!(close(got, oracle as f64, dot_scale), "{} dot {got} vs {oracle}", set.name);
            let got = (set.l2sq_f32)(&a, &b);
            prop_assert!(close(got, l2_scale, l2_scale), "{} l2sq {got} vs {l2_scale}", set.name);
            let got = (set.cosine_f32)(&a, &b);
            prop_assert!((got as f64 - want_cos).abs() <= 2e-4, "{} cosine {got} vs {want_cos}", set.name);
            prop_assert!((-1.0..=1.0).contains(&got));
        }
    }

    /// Small integers make every f32 sum exact, so any lane or tail bug shows as inequality.
    #[test]
    fn f32_kernels_are_exact_on_small_integers((a, b) in pair((-8i32..=8).prop_map(|x| x as f32))) {
        let want_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let want_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        for set in supported_sets() {
            prop_assert_eq!((set.dot_f32)(&a, &b), want_dot, "{}", set.name);
            prop_assert_eq!((set.l2sq_f32)(&a, &b), want_l2, "{}", set.name);
            let ah: Vec<f16> = a.iter().map(|&x| f16::from_f32(x)).collect();
            let bh: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
            prop_assert_eq!((set.dot_f16)(&ah, &bh), want_dot, "{}", set.name);
            prop_assert_eq!((set.l2sq_f16)(&ah, &bh), want_l2, "{}", set.name);
        }
    }

    #[test]
    fn f16_kernels_match_the_oracle((a, b) in pair_f16()) {
        let (af, bf): (Vec<f32>, Vec<f32>) =
            (a.iter().map(|x| x.to_f32()).collect(), b.iter().map(|x| x.to_f32()).collect());
        let dot_scale = abs_dot(&af, &bf);
        let l2_scale: f64 = af.iter().zip(&bf).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
        let want_cos = cosine_f64(&widen(&af), &widen(&bf));
        for set in supported_sets() {
            let oracle = scalar::dot_f16(&a, &b);
            prop_assert!(close((set.dot_f16)(&a, &b), oracle as f64, dot_scale), "{}", set.name);
            prop_assert!(close((set.l2sq_f16)(&a, &b), l2_scale, l2_scale), "{}", set.name);
            let got = (set.cosine_f16)(&a, &b);
            prop_assert!((got as f64 - want_cos).abs() <= 2e-4, "{} cosine {got} vs {want_cos}", set.name);
        }
    }

    #[test]
    fn i8_kernels_are_exact((a, b) in pair_i8()) {
        let want_dot: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
        let want_l2: i32 = a.iter().zip(&b).map(|(&x, &y)| (x as i32 - y as i32).pow(2)).sum();
        let af: Vec<f64> = a.iter().map(|&x| x as f64).collect();
        let bf: Vec<f64> = b.iter().map(|&x| x as f64).collect();
        let want_cos = cosine_f64(&af, &bf);
        for set in supported_sets() {
            prop_assert_eq!((set.dot_i8)(&a, &b), want_dot, "{}", set.name);
            prop_assert_eq!((set.l2sq_i8)(&a, &b), want_l2, "{}", set.name);
            prop_assert!(((set.cosine_i8)(&a, &b) as f64 - want_cos).abs() <= 1e-6, "{}", set.name);
        }
    }

    /// One-to-many equals one-to-one row by row, bit for bit.
    #[test]
    fn many_kernels_match_one_to_one(dim in 1usize..200, n in 0usize..20, seed in any::<u64>()) {
        let mut rng = seed;
        let mut next = || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 40) as i32
        };
        let q: Vec<f32> = (0..dim).map(|_| next() as f32 / 1e6).collect();
        let rows: Vec<f32> = (0..dim * n).map(|_| next() as f32 / 1e6).collect();
        let qi: Vec<i8> = (0..dim).map(|_| next() as i8).collect();
        let rowsi: Vec<i8> = (0..dim * n).map(|_| next() as i8).collect();
        for set in supported_sets() {
            let mut out = vec![f32::NAN; n];
            let mut outi = vec![i32::MIN; n];
            type ManyF32 = fn(&[f32], &[f32], &mut [f32]);
            type OneF32 = fn(&[f32], &[f32]) -> f32;
            let pairs: [(ManyF32, OneF32); 3] = [
                (set.dot_f32_many, set.dot_f32),
                (set.l2sq_f32_many, set.l2sq_f32),
                (set.cosine_f32_many, set.cosine_f32),
            ];
            for (many, one) in pairs {
                many(&q, &rows, &mut out);
                for (i, row) in rows.chunks_exact(dim).enumerate() {
                    prop_assert_eq!(out[i].to_bits(), one(&q, row).to_bits(), "{}", set.name);
                }
            }
            (set.dot_i8_many)(&qi, &rowsi, &mut outi);
            for (i, row) in rowsi.chunks_exact(dim).enumerate() {
                prop_assert_eq!(outi[i], (set.dot_i8)(&qi, row), "{}", set.name);
            }
            (set.l2sq_i8_many)(&qi, &rowsi, &mut outi);
            for (i, row) in rowsi.chunks_exact(dim).enumerate() {
                prop_assert_eq!(outi[i], (set.l2sq_i8)(&qi, row), "{}", set.name);
            }
        }
    }
}

#[test]
fn zero_vectors() {
    for set in supported_sets() {
        for n in [1usize, 7, 8, 31, 384, 999] {
            let z = vec![0.0f32; n];
            let v: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
            assert_eq!((set.cosine_f32)(&z, &v), 0.0, "{}", set.name);
            assert_eq!((set.cosine_f32)(&z, &z), 0.0, "{}", set.name);
            assert_eq!((set.dot_f32)(&z, &v), 0.0, "{}", set.name);
            assert_eq!((set.l2sq_f32)(&z, &z), 0.0, "{}", set.name);
            let zh = vec![f16::ZERO; n];
            assert_eq!((set.cosine_f16)(&zh, &zh), 0.0, "{}", set.name);
            let zi = vec![0i8; n];
            assert_eq!((set.cosine_i8)(&zi, &zi), 0.0, "{}", set.name);
        }
    }
}

#[test]
fn empty_vectors_give_zero() {
    for set in supported_sets() {
        assert_eq!((set.dot_f32)(&[], &[]), 0.0);
        assert_eq!((set.l2sq_f32)(&[], &[]), 0.0);
        assert_eq!((set.cosine_f32)(&[], &[]), 0.0);
        assert_eq!((set.dot_i8)(&[], &[]), 0);
        let mut out = [1.0f32; 3];
        (set.dot_f32_many)(&[], &[], &mut out);
        assert_eq!(out, [0.0; 3]);
    }
}

/// Squares beyond f32::MAX or below its normal range fall back to f64 and stay right.
#[test]
fn cosine_holds_over_the_whole_f32_range() {
    let cases: [(Vec<f32>, Vec<f32>, f64); 5] = [
        (vec![3e38, 3e38, 1.0], vec![3e38, 3e38, 1.0], 1.0),
        (vec![3e38, -3e38], vec![-3e38, 3e38], -1.0),
        (vec![f32::MAX; 33], vec![f32::MAX; 33], 1.0),
        (vec![1e-40, 0.0], vec![0.0, 1e-40], 0.0),
        (vec![1e-44, 1e-44], vec![2e-44, 2e-44], 1.0),
    ];
    for set in supported_sets() {
        for (a, b, want) in &cases {
            let got = (set.cosine_f32)(a, b);
            assert!(
                (got as f64 - want).abs() < 1e-6,
                "{}: {got} vs {want}",
                set.name
            );
        }
    }
}

#[test]
fn nan_propagates() {
    for set in supported_sets() {
        let a = vec![1.0f32, f32::NAN, 3.0];
        assert!((set.dot_f32)(&a, &a).is_nan());
        assert!((set.cosine_f32)(&a, &a).is_nan());
        assert!((set.l2sq_f32)(&a, &[0.0; 3]).is_nan());
    }
}

#[test]
fn dispatch_picks_the_fastest_supported_set() {
    assert_eq!(simd_level(), supported_sets()[0].name);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        assert_ne!(simd_level(), "scalar");
        let names: Vec<&str> = supported_sets().iter().map(|s| s.name).collect();
        assert!(
            names.contains(&"avx2+fma") && names.ends_with(&["scalar"]),
            "{names:?}"
        );
    }
    assert_eq!(dot_f32(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
    assert_eq!(l2sq_i8(&[-128], &[127]), 255 * 255);
}

#[test]
fn a_supported_set_can_be_requested_by_name() {
    for set in supported_sets() {
        assert_eq!(choose(Some(set.name)).name, set.name);
    }
    assert_eq!(choose(Some("no-such-set")).name, supported_sets()[0].name);
    assert_eq!(choose(None).name, supported_sets()[0].name);
}

#[test]
fn metric_names_parse() {
    assert_eq!(Metric::parse("cosine").unwrap(), Metric::Cosine);
    assert_eq!(Metric::parse("dot").unwrap(), Metric::Dot);
    assert_eq!(Metric::parse("ip").unwrap(), Metric::Dot);
    assert_eq!(Metric::parse("l2").unwrap(), Metric::L2);
    let err = Metric::parse("euclid").unwrap_err().to_string();
    assert!(err.contains("\"cosine\""), "{err}");
    for m in [Metric::Cosine, Metric::Dot, Metric::L2] {
        assert_eq!(Metric::parse(m.name()).unwrap(), m);
    }
}
