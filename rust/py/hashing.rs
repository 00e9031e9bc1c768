//! `HashingEmbedder` for Python: converts the texts, embeds without the GIL, returns numpy.

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use super::errors::to_py;
use crate::embed::{HashingConfig, HashingEmbedder as CoreHashingEmbedder};

#[pyclass(frozen, module = "dejacache._core")]
pub struct HashingEmbedder {
    inner: CoreHashingEmbedder,
}

#[pymethods]
impl HashingEmbedder {
    #[new]
    #[pyo3(signature = (dim=512, min_n=3, max_n=5, words=true))]
    fn new(dim: usize, min_n: usize, max_n: usize, words: bool) -> PyResult<Self> {
        let config = HashingConfig {
            dim,
            min_n,
            max_n,
            words,
        };
        Ok(HashingEmbedder {
            inner: CoreHashingEmbedder::new(config).map_err(to_py)?,
        })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Embeds each text: a float32 array of shape (len(texts), dim) with unit rows.
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let dim = self.inner.dim();
        let rows = texts.len();
        let flat = py.detach(|| self.inner.embed(&texts));
        PyArray1::from_vec(py, flat).reshape([rows, dim])
    }
}
