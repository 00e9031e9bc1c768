//! dejacache's core: canonical request keys and the in-memory entry store.
//!
//! Plain Rust; the Python bindings live in `py/` behind the `python` feature, so
//! `cargo test` builds and tests the core without an interpreter.

pub mod error;
pub mod key;
pub mod store;

// TEMPORARY until the `kernels` branch is merged: scalar stand-ins with the kernels' API.
pub mod vector {
    pub mod kernels {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Metric {
            Cosine,
            Dot,
            L2,
        }
        impl Metric {
            pub fn parse(s: &str) -> Result<Self, crate::CoreError> {
                match s {
                    "cosine" => Ok(Metric::Cosine),
                    "dot" | "ip" => Ok(Metric::Dot),
                    "l2" => Ok(Metric::L2),
                    o => Err(crate::CoreError::InvalidArgument(format!(
                        "bad metric {o:?}"
                    ))),
                }
            }
        }
        pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
            a.iter().zip(b).map(|(x, y)| x * y).sum()
        }
        pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
            a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
        }
        pub fn dot_f16(a: &[half::f16], b: &[half::f16]) -> f32 {
            a.iter().zip(b).map(|(x, y)| x.to_f32() * y.to_f32()).sum()
        }
        pub fn l2sq_f16(a: &[half::f16], b: &[half::f16]) -> f32 {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x.to_f32() - y.to_f32()).powi(2))
                .sum()
        }
        pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
            a.iter().zip(b).map(|(x, y)| *x as i32 * *y as i32).sum()
        }
        pub fn dot_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
            for (o, r) in out.iter_mut().zip(rows.chunks_exact(q.len())) {
                *o = dot_f32(q, r);
            }
        }
        pub fn l2sq_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
            for (o, r) in out.iter_mut().zip(rows.chunks_exact(q.len())) {
                *o = l2sq_f32(q, r);
            }
        }
        pub fn dot_i8_many(q: &[i8], rows: &[i8], out: &mut [i32]) {
            for (o, r) in out.iter_mut().zip(rows.chunks_exact(q.len())) {
                *o = dot_i8(q, r);
            }
        }
    }
    pub mod quant {
        pub fn quantize_i8(v: &[f32], out: &mut [i8]) -> f32 {
            let m = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            if m == 0.0 {
                out.iter_mut().for_each(|o| *o = 0);
                return 0.0;
            }
            let s = m / 127.0;
            for (o, x) in out.iter_mut().zip(v) {
                *o = (x / s).round().clamp(-127.0, 127.0) as i8;
            }
            s
        }
    }
    pub mod buf;
    pub mod hnsw;
    pub mod index;
    pub mod namespace;
    pub mod persist;
    pub mod rows;
}

#[cfg(feature = "python")]
mod py;

pub use error::CoreError;
pub use key::{key_of, KeyEncoder, Value};
pub use store::{EntryStore, Eviction, StoreConfig};
