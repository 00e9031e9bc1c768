//! Character n-gram hashing embedder (the "hashing trick").
//!
//! Each text is lower-cased, its words are padded with a boundary mark, and every character
//! n-gram (plus every whole word) is hashed with xxh3 into one of `dim` buckets with a sign
//! taken from another bit of the same hash. Signed buckets keep collisions from adding up to a
//! spurious similarity; sublinear counts (1 + ln tf) keep one repeated word from dominating.
//! Rows are L2-normalised, so a dot product is the cosine similarity.
//!
//! The result measures shared spelling, not meaning: "cheap flights" and "inexpensive airfare"
//! come out unrelated. It is the fallback for machines without a model, nothing more.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::CoreError;

/// Marks word boundaries so that prefixes and suffixes hash differently from inner n-grams.
const BOUNDARY: char = '\u{2581}';
/// Seed for whole-word features, distinct from the n-gram seed so that a one-letter word and
/// the same letter as an n-gram land in different buckets.
const WORD_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const NGRAM_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// Shape of the features; the defaults suit short questions and chat turns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashingConfig {
    /// Width of each embedding.
    pub dim: usize,
    /// Shortest character n-gram, counted in characters (not bytes).
    pub min_n: usize,
    /// Longest character n-gram.
    pub max_n: usize,
    /// Whether whole words are features too.
    pub words: bool,
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig {
            dim: 512,
            min_n: 3,
            max_n: 5,
            words: true,
        }
    }
}

/// An immutable embedder; share it freely between threads.
#[derive(Clone, Debug)]
pub struct HashingEmbedder {
    config: HashingConfig,
}

impl HashingEmbedder {
    /// Checks the configuration once so that `embed` cannot fail.
    pub fn new(config: HashingConfig) -> Result<Self, CoreError> {
        if config.dim == 0 || config.dim > 1 << 20 {
            return Err(CoreError::InvalidArgument(format!(
                "dim must be between 1 and {}, got {}",
                1 << 20,
                config.dim
            )));
        }
        if config.min_n == 0 || config.min_n > config.max_n || config.max_n > 16 {
            return Err(CoreError::InvalidArgument(format!(
                "n-gram range must satisfy 1 <= min_n <= max_n <= 16, got min_n={} max_n={}",
                config.min_n, config.max_n
            )));
        }
        Ok(HashingEmbedder { config })
    }

    pub fn config(&self) -> &HashingConfig {
        &self.config
    }

    pub fn dim(&self) -> usize {
        self.config.dim
    }

    /// Embeds one text into `out` (length `dim`), overwriting it. An empty text (or one with
    /// no word characters) gives the zero vector, the only row that is not unit length.
    pub fn embed_into(&self, text: &str, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.config.dim);
        out.iter_mut().for_each(|x| *x = 0.0);
        let mut counts: HashMap<u64, u32> = HashMap::new();
        let mut chars: Vec<char> = Vec::with_capacity(64);
        let mut buf = String::with_capacity(64);
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            chars.clear();
            chars.push(BOUNDARY);
            chars.extend(word.chars().flat_map(char::to_lowercase));
            chars.push(BOUNDARY);
            if self.config.words {
                buf.clear();
                buf.extend(&chars[1..chars.len() - 1]);
                *counts
                    .entry(xxh3_64_with_seed(buf.as_bytes(), WORD_SEED))
                    .or_insert(0) += 1;
            }
            for n in self.config.min_n..=self.config.max_n {
                if n > chars.len() {
                    break;
                }
                for gram in chars.windows(n) {
                    buf.clear();
                    buf.extend(gram);
                    *counts
                        .entry(xxh3_64_with_seed(buf.as_bytes(), NGRAM_SEED))
                        .or_insert(0) += 1;
                }
            }
        }
        let dim = self.config.dim as u64;
        for (hash, count) in counts {
            // The low bits pick the bucket, the top bit the sign: independent for xxh3.
            let bucket = (hash % dim) as usize;
            let weight = 1.0 + (count as f32).ln();
            out[bucket] += if hash >> 63 == 1 { -weight } else { weight };
        }
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
    }

    /// Embeds each text; the result is row-major, `texts.len() * dim` values.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Vec<f32> {
        let dim = self.config.dim;
        let mut out = vec![0.0f32; texts.len() * dim];
        for (text, row) in texts.iter().zip(out.chunks_exact_mut(dim)) {
            self.embed_into(text.as_ref(), row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn one(e: &HashingEmbedder, text: &str) -> Vec<f32> {
        e.embed(&[text])
    }

    #[test]
    fn rows_are_unit_length_and_deterministic() {
        let e = HashingEmbedder::new(HashingConfig::default()).unwrap();
        let v = e.embed(&["How do I learn Rust?", "what is the capital of France", "a"]);
        for row in v.chunks_exact(e.dim()) {
            let n: f32 = row.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-5, "norm^2 = {n}");
        }
        assert_eq!(
            v,
            e.embed(&["How do I learn Rust?", "what is the capital of France", "a"])
        );
    }

    #[test]
    fn case_and_punctuation_do_not_matter() {
        let e = HashingEmbedder::new(HashingConfig::default()).unwrap();
        let a = one(&e, "How do I learn Rust?");
        let b = one(&e, "how do i learn rust");
        assert!((cosine(&a, &b) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn similar_spelling_is_closer_than_unrelated_text() {
        let e = HashingEmbedder::new(HashingConfig::default()).unwrap();
        let q = one(&e, "How do I learn the Rust programming language?");
        let near = one(&e, "How can I learn Rust programming?");
        let far = one(&e, "Best pizza recipe with mozzarella cheese");
        assert!(cosine(&q, &near) > 0.5);
        assert!(cosine(&q, &far) < 0.2);
        assert!(cosine(&q, &near) > cosine(&q, &far) + 0.3);
    }

    #[test]
    fn empty_text_gives_zero_row() {
        let e = HashingEmbedder::new(HashingConfig::default()).unwrap();
        assert!(one(&e, "").iter().all(|&x| x == 0.0));
        assert!(one(&e, "?! ...").iter().all(|&x| x == 0.0));
    }

    #[test]
    fn non_ascii_text_is_split_on_characters_not_bytes() {
        let e = HashingEmbedder::new(HashingConfig::default()).unwrap();
        let a = one(&e, "Ünïcödé wörds ünd 日本語のテキスト");
        let n: f32 = a.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5);
        assert!((cosine(&a, &one(&e, "ÜNÏCÖDÉ WÖRDS ÜND 日本語のテキスト")) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn bad_configuration_is_an_error() {
        for config in [
            HashingConfig {
                dim: 0,
                ..Default::default()
            },
            HashingConfig {
                min_n: 0,
                ..Default::default()
            },
            HashingConfig {
                min_n: 4,
                max_n: 3,
                ..Default::default()
            },
            HashingConfig {
                max_n: 17,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                HashingEmbedder::new(config),
                Err(CoreError::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn empty_batch_gives_empty_output() {
        let e = HashingEmbedder::new(HashingConfig {
            dim: 8,
            ..Default::default()
        })
        .unwrap();
        assert!(e.embed::<&str>(&[]).is_empty());
    }
}
