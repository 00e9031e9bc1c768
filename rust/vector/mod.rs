//! The vector core: distance kernels, i8/f16 quantisation and softmax sampling.

pub mod kernels;

// The index (VectorIndex): storage, graph, namespaces, persistence.
pub mod buf;
pub mod hnsw;
pub mod index;
pub mod namespace;
pub mod persist;
pub mod rows;

// TEMPORARY until `quant` lands from the kernels branch: the same function and contract.
pub mod quant {
    /// Symmetric per-vector max-abs scale: value ~= code * scale.
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
