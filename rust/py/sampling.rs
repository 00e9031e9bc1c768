//! `dejacache.sampling` for Python: softmax and seeded sampling over a float32 score vector.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::errors::to_py;
use crate::vector::sampling;

/// Past this many scores the GIL is released while the exponentials are computed.
const DETACH_LEN: usize = 1 << 14;

/// Softmax probabilities of 1-D contiguous float32 scores.
#[pyfunction]
pub(crate) fn softmax<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray1<'py, f32>,
    temperature: f32,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let scores = scores.as_slice()?;
    let probs = if scores.len() >= DETACH_LEN {
        py.detach(|| sampling::softmax(scores, temperature))
    } else {
        sampling::softmax(scores, temperature)
    };
    Ok(PyArray1::from_vec(py, probs.map_err(to_py)?))
}

/// Index drawn with softmax probabilities; the same seed repeats the same draw.
#[pyfunction]
#[pyo3(signature = (scores, temperature, seed=None))]
pub(crate) fn sample(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f32>,
    temperature: f32,
    seed: Option<u64>,
) -> PyResult<usize> {
    let scores = scores.as_slice()?;
    let index = if scores.len() >= DETACH_LEN {
        py.detach(|| sampling::sample(scores, temperature, seed))
    } else {
        sampling::sample(scores, temperature, seed)
    };
    index.map_err(to_py)
}
