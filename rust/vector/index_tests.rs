//! Churn against a model: random add / replace / remove / search, then exact counts and no
//! removed id ever returned, for every kind and dtype; plus save/load inside the churn.

use std::collections::HashMap;

use super::*;
use crate::vector::persist;
use crate::vector::rows::Dtype;

/// xorshift64*: a tiny deterministic generator so failures replay exactly.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

const NAMESPACES: [&str; 3] = ["default", "a", "b"];

fn churn(kind: Kind, dtype: Dtype, metric: Metric, ops: usize, seed: u64) {
    let dim = 8;
    let cfg = Config {
        dim,
        metric,
        kind,
        dtype,
        m: 8,
        ef_construction: 32,
        ef_search: 32,
    };
    let mut index = VectorIndex::new(cfg).unwrap();
    let mut model: HashMap<&str, HashMap<u64, Vec<f32>>> = HashMap::new();
    let mut rng = Rng(seed);
    let dir = std::env::temp_dir().join(format!("dejacache-churn-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for op in 0..ops {
        let ns = NAMESPACES[rng.below(3) as usize];
        let live = model.entry(ns).or_default();
        match rng.below(10) {
            0..=4 => {
                let n = 1 + rng.below(8) as usize;
                let ids: Vec<u64> = (0..n).map(|_| rng.below(1500)).collect();
                let vecs: Vec<f32> = (0..n * dim).map(|_| rng.unit() + 0.01).collect();
                index.add(ns, &ids, &vecs, None).unwrap();
                for (id, v) in ids.iter().zip(vecs.chunks(dim)) {
                    live.insert(*id, v.to_vec());
                }
            }
            5..=7 => {
                let n = 1 + rng.below(6) as usize;
                let ids: Vec<u64> = (0..n).map(|_| rng.below(1500)).collect();
                let mut expect = 0;
                for id in &ids {
                    expect += live.remove(id).is_some() as usize;
                }
                assert_eq!(index.remove(ns, &ids), expect, "op {op}");
            }
            _ => {
                let k = 1 + rng.below(12) as usize;
                let q: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
                let found = index.search(ns, &q, k, None, None).unwrap();
                let filled: Vec<u64> = found.ids.iter().copied().filter(|&i| i != NO_ID).collect();
                for id in &filled {
                    assert!(
                        live.contains_key(id),
                        "op {op}: id {id} returned from {ns} but not in it"
                    );
                }
                let mut uniq = filled.clone();
                uniq.sort_unstable();
                uniq.dedup();
                assert_eq!(uniq.len(), filled.len(), "op {op}: an id returned twice");
                if kind == Kind::Flat {
                    assert_eq!(filled.len(), k.min(live.len()), "op {op}");
                } else {
                    assert!(
                        live.is_empty() || !filled.is_empty(),
                        "op {op}: nothing found in a non-empty namespace"
                    );
                }
                assert!(found.scores[..filled.len()].iter().all(|s| s.is_finite()));
                assert!(found.scores[filled.len()..].iter().all(|s| s.is_nan()));
            }
        }
        let total: usize = model.values().map(|m| m.len()).sum();
        assert_eq!(index.len(), total, "op {op}");
        assert_eq!(index.count(ns), model[ns].len(), "op {op}");
        if op % 20_000 == 19_999 {
            let path = dir.join("churn.djv");
            persist::save(&index, &path).unwrap();
            index = persist::load(&path, op % 40_000 == 39_999).unwrap();
            assert_eq!(index.len(), total);
            for (ns, ids) in &model {
                for id in ids.keys() {
                    assert!(index.contains(ns, *id));
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn churn_flat_f32_l2() {
    churn(Kind::Flat, Dtype::F32, Metric::L2, 100_000, 1);
}

#[test]
fn churn_flat_i8_cosine() {
    churn(Kind::Flat, Dtype::I8, Metric::Cosine, 100_000, 2);
}

#[test]
fn churn_hnsw_f32_cosine() {
    churn(Kind::Hnsw, Dtype::F32, Metric::Cosine, 100_000, 3);
}

#[test]
fn churn_hnsw_f16_dot() {
    churn(Kind::Hnsw, Dtype::F16, Metric::Dot, 50_000, 4);
}

#[test]
fn churn_auto_i8_l2() {
    churn(Kind::Auto, Dtype::I8, Metric::L2, 50_000, 5);
}

#[test]
fn flat_search_is_exact_and_replacement_moves_a_vector() {
    let cfg = Config {
        dim: 2,
        metric: Metric::L2,
        kind: Kind::Flat,
        dtype: Dtype::F32,
        m: 16,
        ef_construction: 200,
        ef_search: 64,
    };
    let index = VectorIndex::new(cfg).unwrap();
    index
        .add("default", &[1, 2, 3], &[0.0, 0.0, 1.0, 0.0, 5.0, 5.0], None)
        .unwrap();
    let found = index.search("default", &[0.9, 0.0], 2, None, None).unwrap();
    assert_eq!(found.ids, vec![2, 1]);
    assert!((found.scores[0] - 0.01).abs() < 1e-6);
    index.add("default", &[2], &[100.0, 100.0], None).unwrap();
    let found = index.search("default", &[0.9, 0.0], 2, None, None).unwrap();
    assert_eq!(found.ids, vec![1, 3]);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let cfg = Config {
        dim: 3,
        metric: Metric::Cosine,
        kind: Kind::Hnsw,
        dtype: Dtype::I8,
        m: 16,
        ef_construction: 200,
        ef_search: 64,
    };
    let index = VectorIndex::new(cfg).unwrap();
    assert!(index.add("default", &[1], &[1.0, 2.0], None).is_err());
    assert!(index
        .add("default", &[1], &[f32::NAN, 2.0, 3.0], None)
        .is_err());
    assert!(index.add("default", &[1], &[0.0, 0.0, 0.0], None).is_err());
    assert!(index
        .add("default", &[NO_ID], &[1.0, 2.0, 3.0], None)
        .is_err());
    assert!(index
        .search("default", &[1.0, 2.0, 3.0], 0, None, None)
        .is_err());
    assert!(index.search("default", &[1.0, 2.0], 1, None, None).is_err());
    assert!(VectorIndex::new(Config { m: 1, ..cfg }).is_err());
    assert!(index.is_empty());
}

fn random_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    // 40 clusters, so that recall is measured on structured data like embeddings
    let centres: Vec<f32> = (0..40 * dim).map(|_| rng.unit()).collect();
    (0..n)
        .flat_map(|_| {
            let c = rng.below(40) as usize;
            (0..dim)
                .map(|j| centres[c * dim + j] + 0.3 * rng.unit())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn recall_against_flat(index: &VectorIndex, data: &[f32], dim: usize, queries: usize) -> f64 {
    let cfg = Config {
        kind: Kind::Flat,
        dtype: Dtype::F32,
        ..*index.config()
    };
    let flat = VectorIndex::new(cfg).unwrap();
    let ids: Vec<u64> = (0..(data.len() / dim) as u64).collect();
    flat.add("default", &ids, data, None).unwrap();
    let q = &data[..queries * dim];
    let want = flat.search("default", q, 10, None, None).unwrap();
    let got = index.search("default", q, 10, None, Some(2)).unwrap();
    let mut hits = 0;
    for i in 0..queries {
        let w = &want.ids[i * 10..(i + 1) * 10];
        hits += got.ids[i * 10..(i + 1) * 10]
            .iter()
            .filter(|id| w.contains(id))
            .count();
    }
    hits as f64 / (queries * 10) as f64
}

#[test]
fn parallel_build_matches_sequential_quality_and_stays_valid() {
    let dim = 16;
    let n = 6000;
    let data = random_rows(n, dim, 9);
    let ids: Vec<u64> = (0..n as u64).collect();
    for (kind, dtype) in [
        (Kind::Hnsw, Dtype::F32),
        (Kind::Hnsw, Dtype::I8),
        (Kind::Auto, Dtype::F16),
    ] {
        let cfg = Config {
            dim,
            metric: Metric::Cosine,
            kind,
            dtype,
            m: 12,
            ef_construction: 100,
            ef_search: 64,
        };
        let seq = VectorIndex::new(cfg).unwrap();
        seq.add("default", &ids, &data, None).unwrap();
        let par = VectorIndex::new(cfg).unwrap();
        // two calls: the second batch links into an existing graph
        par.add("default", &ids[..2500], &data[..2500 * dim], Some(3))
            .unwrap();
        par.add("default", &ids[2500..], &data[2500 * dim..], Some(3))
            .unwrap();
        par.namespaces_for_save()[0]
            .1
            .read()
            .graph
            .as_ref()
            .unwrap()
            .validate(n)
            .unwrap();
        let (rs, rp) = (
            recall_against_flat(&seq, &data, dim, 300),
            recall_against_flat(&par, &data, dim, 300),
        );
        assert!(
            rp >= 0.95 && rp >= rs - 0.02,
            "{kind:?} {dtype:?}: parallel {rp} sequential {rs}"
        );
    }
}

#[test]
fn a_held_namespace_lock_does_not_block_other_namespaces() {
    let cfg = Config {
        dim: 2,
        metric: Metric::L2,
        kind: Kind::Flat,
        dtype: Dtype::F32,
        m: 16,
        ef_construction: 200,
        ef_search: 64,
    };
    let index = VectorIndex::new(cfg).unwrap();
    index.add("a", &[1], &[0.0, 0.0], None).unwrap();
    index.add("b", &[2], &[1.0, 1.0], None).unwrap();
    let a = index
        .namespaces_for_save()
        .into_iter()
        .find(|(n, _)| n == "a")
        .unwrap()
        .1;
    let _writing_a = a.write(); // as a long graph build in "a" would
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let found = index.search("b", &[1.0, 1.0], 1, None, None).unwrap();
            index.add("c", &[3], &[2.0, 2.0], None).unwrap();
            tx.send(found.ids[0]).unwrap();
        });
        // A deadlock shows as a timeout here instead of a hung test run.
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(60)), Ok(2));
    });
}

#[test]
fn adds_racing_the_removal_of_an_emptied_namespace_are_never_lost() {
    let cfg = Config {
        dim: 2,
        metric: Metric::Dot,
        kind: Kind::Flat,
        dtype: Dtype::F32,
        m: 16,
        ef_construction: 200,
        ef_search: 64,
    };
    let index = VectorIndex::new(cfg).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let index = &index;
            s.spawn(move || {
                for _ in 0..3000 {
                    index.add("shared", &[t], &[1.0, t as f32], None).unwrap();
                    assert!(index.contains("shared", t));
                    assert_eq!(index.remove("shared", &[t]), 1);
                }
                index.add("shared", &[t], &[1.0, t as f32], None).unwrap();
            });
        }
    });
    assert_eq!(index.count("shared"), 4);
    assert_eq!(index.namespaces(), vec!["shared".to_string()]);
}
