//! Softmax over candidate scores and sampling from it: the `temperature_softmax`
//! post-processor of the semantic pipeline picks one cached answer among several this way.
//!
//! ```
//! use dejacache_core::vector::sampling::{sample, softmax};
//! let p = softmax(&[1.0, 2.0, 3.0], 1.0).unwrap();
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! assert_eq!(sample(&[0.1, 0.9, 0.3], 0.0, None).unwrap(), 1); // temperature 0: argmax
//! let seeded = sample(&[1.0, 1.0, 1.0], 1.0, Some(7)).unwrap();
//! assert_eq!(sample(&[1.0, 1.0, 1.0], 1.0, Some(7)).unwrap(), seeded);
//! ```

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::CoreError;

fn invalid(msg: String) -> CoreError {
    CoreError::InvalidArgument(msg)
}

/// Checks the scores and returns the index of the first maximum.
fn check_and_argmax(scores: &[f32], temperature: f32) -> Result<usize, CoreError> {
    if scores.is_empty() {
        return Err(invalid("scores is empty: pass at least one score".into()));
    }
    if temperature.is_nan() {
        return Err(invalid(
            "temperature is NaN: pass a number (0 or less picks the maximum)".into(),
        ));
    }
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() || s == f32::INFINITY {
            return Err(invalid(format!(
                "scores[{i}] is {s}: scores must be finite numbers (-inf is allowed and never chosen)"
            )));
        }
        if s > scores[best] {
            best = i;
        }
    }
    if scores[best] == f32::NEG_INFINITY {
        return Err(invalid(
            "every score is -inf: at least one score must be finite".into(),
        ));
    }
    Ok(best)
}

/// Probabilities proportional to exp(score / temperature), computed after subtracting the
/// maximum so that no exponent overflows. A temperature of 0 or less gives the one-hot
/// vector of the first maximum; -inf scores get probability 0.
pub fn softmax(scores: &[f32], temperature: f32) -> Result<Vec<f32>, CoreError> {
    let best = check_and_argmax(scores, temperature)?;
    let mut out = vec![0.0f32; scores.len()];
    if temperature <= 0.0 {
        out[best] = 1.0;
        return Ok(out);
    }
    let max = scores[best] as f64;
    let t = temperature as f64;
    let mut weights = vec![0.0f64; scores.len()];
    let mut total = 0.0f64;
    for (w, &s) in weights.iter_mut().zip(scores) {
        // exp(-inf) is 0, but -inf/inf is NaN: keep -inf scores at exactly 0.
        *w = if s == f32::NEG_INFINITY {
            0.0
        } else {
            ((s as f64 - max) / t).exp()
        };
        total += *w;
    }
    // total >= 1: the maximum contributes exp(0).
    for (o, w) in out.iter_mut().zip(&weights) {
        *o = (w / total) as f32;
    }
    Ok(out)
}

/// Draws an index with the probabilities of [`softmax`]. The same seed gives the same index
/// for the same scores and temperature; `None` seeds from the operating system. A
/// temperature of 0 or less returns the first maximum without drawing.
pub fn sample(scores: &[f32], temperature: f32, seed: Option<u64>) -> Result<usize, CoreError> {
    let best = check_and_argmax(scores, temperature)?;
    if temperature <= 0.0 {
        return Ok(best);
    }
    let probs = softmax(scores, temperature)?;
    let mut rng = match seed {
        Some(s) => Xoshiro256PlusPlus::seed_from_u64(s),
        None => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| {
                invalid(format!(
                    "no entropy from the operating system ({e}): pass a seed"
                ))
            })?;
            Xoshiro256PlusPlus::seed_from_u64(u64::from_le_bytes(bytes))
        }
    };
    // 53 random bits give a uniform f64 in [0, 1).
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut acc = 0.0f64;
    let mut last_positive = best;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            acc += p as f64;
            last_positive = i;
            if u < acc {
                return Ok(i);
            }
        }
    }
    // Rounding left the cumulative sum just below u.
    Ok(last_positive)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn scores() -> impl Strategy<Value = Vec<f32>> {
        prop::collection::vec(-1e30f32..1e30, 1..50)
    }

    proptest! {
        #[test]
        fn softmax_is_a_distribution(s in scores(), t in 1e-6f32..1e6) {
            let p = softmax(&s, t).unwrap();
            prop_assert!(p.iter().all(|x| x.is_finite() && *x >= 0.0 && *x <= 1.0));
            prop_assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            // Order is preserved: a higher score never gets a lower probability.
            for i in 0..s.len() {
                for j in 0..s.len() {
                    if s[i] > s[j] {
                        prop_assert!(p[i] >= p[j]);
                    }
                }
            }
        }

        #[test]
        fn zero_temperature_is_argmax(s in scores(), t in -10f32..=0.0) {
            let best = s.iter().enumerate().fold(0, |b, (i, &x)| if x > s[b] { i } else { b });
            let p = softmax(&s, t).unwrap();
            prop_assert_eq!(p[best], 1.0);
            prop_assert_eq!(p.iter().sum::<f32>(), 1.0);
            prop_assert_eq!(sample(&s, t, None).unwrap(), best);
        }

        #[test]
        fn seeded_samples_repeat(s in scores(), t in 1e-3f32..1e3, seed in any::<u64>()) {
            let i = sample(&s, t, Some(seed)).unwrap();
            prop_assert!(i < s.len());
            prop_assert_eq!(sample(&s, t, Some(seed)).unwrap(), i);
        }
    }

    #[test]
    fn shift_invariant_and_stable_for_huge_scores() {
        let a = softmax(&[1.0, 2.0, 3.0], 1.0).unwrap();
        let b = softmax(&[1e30 + 1.0, 1e30 + 2.0, 1e30 + 3.0], 1.0).unwrap();
        // 1e30 + k rounds to 1e30 in f32: all equal, uniform.
        assert_eq!(b, vec![1.0 / 3.0; 3]);
        let c = softmax(&[1001.0, 1002.0, 1003.0], 1.0).unwrap();
        for (x, y) in a.iter().zip(&c) {
            assert!((x - y).abs() < 1e-6);
        }
        let e = [1.0f64.exp(), 2.0f64.exp(), 3.0f64.exp()];
        let total: f64 = e.iter().sum();
        for (x, y) in a.iter().zip(e) {
            assert!((*x as f64 - y / total).abs() < 1e-6);
        }
    }

    #[test]
    fn frequencies_follow_the_probabilities() {
        let s = [0.0f32, 1.0, 2.0];
        let p = softmax(&s, 1.0).unwrap();
        let mut counts = [0usize; 3];
        for seed in 0..30_000u64 {
            counts[sample(&s, 1.0, Some(seed)).unwrap()] += 1;
        }
        for (c, q) in counts.iter().zip(&p) {
            let f = *c as f32 / 30_000.0;
            assert!((f - q).abs() < 0.015, "{counts:?} vs {p:?}");
        }
    }

    #[test]
    fn neg_inf_is_never_chosen() {
        let s = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
        assert_eq!(softmax(&s, 1.0).unwrap(), vec![0.0, 1.0, 0.0]);
        assert_eq!(softmax(&s, f32::INFINITY).unwrap(), vec![0.0, 1.0, 0.0]);
        for seed in 0..100 {
            assert_eq!(sample(&s, 5.0, Some(seed)).unwrap(), 1);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let msg = |r: Result<Vec<f32>, CoreError>| r.unwrap_err().to_string();
        assert!(msg(softmax(&[], 1.0)).contains("at least one"));
        assert!(msg(softmax(&[1.0, f32::NAN], 1.0)).contains("scores[1]"));
        assert!(msg(softmax(&[f32::INFINITY], 1.0)).contains("finite"));
        assert!(msg(softmax(&[f32::NEG_INFINITY], 1.0)).contains("every score"));
        assert!(msg(softmax(&[1.0], f32::NAN)).contains("temperature"));
        assert!(sample(&[], 1.0, Some(1)).is_err());
        assert!(sample(&[f32::NAN], 0.0, Some(1)).is_err());
    }
}
