//! `HashingEmbedder` for Python: converts the texts, embeds without the GIL, returns numpy.

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use super::args::opt_usize_in;
use super::errors::to_py;
use crate::embed::{HashingConfig, HashingEmbedder as CoreHashingEmbedder};

#[pyclass(frozen, module = "dejacache._core")]
pub struct HashingEmbedder {
    inner: CoreHashingEmbedder,
}

#[pymethods]
impl HashingEmbedder {
    #[new]
    #[pyo3(signature = (dim=None, min_n=None, max_n=None, words=true),
           text_signature = "(dim=512, min_n=3, max_n=5, words=True)")]
    fn new(
        dim: Option<&Bound<'_, PyAny>>,
        min_n: Option<&Bound<'_, PyAny>>,
        max_n: Option<&Bound<'_, PyAny>>,
        words: bool,
    ) -> PyResult<Self> {
        let config = HashingConfig {
            dim: opt_usize_in("dim", dim, 1, 1 << 20)?.unwrap_or(512),
            min_n: opt_usize_in("min_n", min_n, 1, 16)?.unwrap_or(3),
            max_n: opt_usize_in("max_n", max_n, 1, 16)?.unwrap_or(5),
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
