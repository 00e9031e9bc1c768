//! `VectorIndex` for Python: converts arrays once at the edge, releases the GIL, calls the core.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::args::{int_in, opt_usize_in, usize_in};
use super::errors::{no_panic, to_py};
use crate::vector::index::{self, Config, Kind, DEFAULT_NAMESPACE, MAX_K, MAX_THREADS};
use crate::vector::kernels::Metric;
use crate::vector::persist;
use crate::vector::rows::Dtype;

/// A numeric array as C-ordered (row-major) float32 values plus its shape; one conversion
/// when needed. Fortran-ordered arrays are contiguous too, but their buffer is column-major:
/// only a C-contiguous buffer is read as it is.
fn f32_values(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<usize>, Vec<f32>)> {
    if let Ok(arr) = obj.cast::<PyArrayDyn<f32>>() {
        if arr.is_c_contiguous() {
            let ro = arr.readonly();
            if let Ok(s) = ro.as_slice() {
                return Ok((arr.shape().to_vec(), s.to_vec()));
            }
        }
    }
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "f" | "i" | "u" | "b") {
        let dtype = arr.getattr("dtype")?.str()?.to_string();
        return Err(PyValueError::new_err(format!(
            "{what} must be a real numeric array (float32 preferred), not dtype {dtype}"
        )));
    }
    let arr = np.call_method1("ascontiguousarray", (arr, "float32"))?;
    let arr = arr.cast::<PyArrayDyn<f32>>()?;
    let ro = arr.readonly();
    let s = ro
        .as_slice()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((arr.shape().to_vec(), s.to_vec()))
}

/// Ids as u64: any integer array (or one int) with no negative values.
fn id_values(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    if let Ok(arr) = obj.cast::<PyArray1<u64>>() {
        let ro = arr.readonly();
        if let Ok(s) = ro.as_slice() {
            return Ok(s.to_vec());
        }
    }
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let size: usize = arr.getattr("size")?.extract()?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    let arr = arr.call_method1("reshape", (-1,))?;
    match kind.as_str() {
        "u" => Ok(np
            .call_method1("ascontiguousarray", (arr, "uint64"))?
            .cast::<PyArray1<u64>>()?
            .to_vec()?),
        "i" => {
            let signed = np
                .call_method1("ascontiguousarray", (arr, "int64"))?
                .cast::<PyArray1<i64>>()?
                .to_vec()?;
            signed
                .into_iter()
                .map(|i| {
                    u64::try_from(i).map_err(|_| {
                        PyValueError::new_err(format!("ids must be non-negative; got {i}"))
                    })
                })
                .collect()
        }
        _ if size == 0 => Ok(Vec::new()),
        _ => Err(PyValueError::new_err(
            "ids must be integers (a uint64 array, a list of ints or one int)",
        )),
    }
}

/// An approximate-nearest-neighbour index of float vectors keyed by uint64 ids, in isolated
/// namespaces.
///
/// >>> index = VectorIndex(384)                       # cosine, kind="auto", dtype="f32"
/// >>> index.add(np.arange(3, dtype=np.uint64), vectors)
/// >>> ids, scores = index.search(vectors[0], k=2)    # scores: similarity, highest first
///
/// metric: "cosine" and "dot" score by similarity (higher is better), "l2" by squared distance.
/// kind: "flat" (exact scan), "hnsw" (graph), "auto" (scan while a namespace holds up to 2048
/// vectors, then a graph). dtype: "f32", "f16" or "i8" (i8 scans rerank on kept f32 originals).
/// Unfilled result slots hold id 2**64-1 and score NaN. namespace=None means "default".
/// len(index) counts every namespace; `id in index` looks in the default one.
/// Searches run in parallel with each other; writes are exclusive. The GIL is released during
/// the work; threads are started only when a call passes threads=N.
#[pyclass(frozen, module = "dejacache._core")]
pub struct VectorIndex {
    inner: index::VectorIndex,
}

/// ef values are saved as u32.
const MAX_EF: usize = u32::MAX as usize;

fn ns(namespace: Option<&str>) -> &str {
    namespace.unwrap_or(DEFAULT_NAMESPACE)
}

type SearchResult<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);

#[pymethods]
impl VectorIndex {
    #[new]
    // Integer arguments arrive as Python objects, so an out-of-range int is a ValueError naming
    // the range (not an OverflowError); the signature Python sees shows the real defaults.
    #[pyo3(signature = (dim, metric="cosine", kind="auto", dtype="f32", M=None, ef_construction=None, ef_search=None),
           text_signature = "(dim, metric='cosine', kind='auto', dtype='f32', M=16, ef_construction=200, ef_search=64)")]
    #[allow(non_snake_case)]
    fn new(
        dim: &Bound<'_, PyAny>,
        metric: &str,
        kind: &str,
        dtype: &str,
        M: Option<&Bound<'_, PyAny>>,
        ef_construction: Option<&Bound<'_, PyAny>>,
        ef_search: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let cfg = Config {
            dim: usize_in("dim", dim, 1, 1 << 16)?,
            metric: Metric::parse(metric).map_err(to_py)?,
            kind: Kind::parse(kind).map_err(to_py)?,
            dtype: Dtype::parse(dtype).map_err(to_py)?,
            m: opt_usize_in("M", M, 2, 256)?.unwrap_or(16),
            ef_construction: opt_usize_in("ef_construction", ef_construction, 1, MAX_EF)?
                .unwrap_or(200),
            ef_search: opt_usize_in("ef_search", ef_search, 1, MAX_EF)?.unwrap_or(64),
        };
        Ok(VectorIndex {
            inner: index::VectorIndex::new(cfg).map_err(to_py)?,
        })
    }

    /// Adds vectors (n, dim) under ids (n,); an id already in the namespace is replaced.
    /// With threads=N, a graph is built on N threads (none are started otherwise).
    #[pyo3(signature = (ids, vectors, namespace=None, threads=None))]
    fn add(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        vectors: &Bound<'_, PyAny>,
        namespace: Option<&str>,
        threads: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let threads = opt_usize_in("threads", threads, 1, MAX_THREADS)?;
        let ids = id_values(ids)?;
        let (shape, values) = f32_values(vectors, "vectors")?;
        let dim = self.inner.config().dim;
        let fits = match shape.as_slice() {
            [n, d] => *n == ids.len() && *d == dim,
            [d] => ids.len() == 1 && *d == dim,
            _ => false,
        };
        if !(fits || (ids.is_empty() && values.is_empty())) {
            return Err(PyValueError::new_err(format!(
                "vectors must have shape (n, {dim}): one row of {dim} columns per id, n = len(ids) = {}; got shape {shape:?}",
                ids.len()
            )));
        }
        no_panic("VectorIndex.add", || {
            py.detach(|| self.inner.add(ns(namespace), &ids, &values, threads))
                .map_err(to_py)
        })
    }

    /// Removes ids from the namespace (unknown ids are ignored); returns how many were removed.
    #[pyo3(signature = (ids, namespace=None))]
    fn remove(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        namespace: Option<&str>,
    ) -> PyResult<usize> {
        let ids = id_values(ids)?;
        self.inner.check_mapped().map_err(to_py)?;
        no_panic("VectorIndex.remove", || {
            Ok(py.detach(|| self.inner.remove(ns(namespace), &ids)))
        })
    }

    /// The k nearest vectors of each query: (ids, scores), each (n, k) for queries (n, dim) or
    /// (k,) for one query (dim,). Scores are similarities (higher is better) for cosine and dot,
    /// squared distances for l2. Unfilled slots hold id 2**64-1 and score NaN.
    #[pyo3(signature = (queries, k=None, ef=None, namespace=None, threads=None),
           text_signature = "($self, queries, k=10, ef=None, namespace=None, threads=None)")]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: Option<&Bound<'py, PyAny>>,
        ef: Option<&Bound<'py, PyAny>>,
        namespace: Option<&str>,
        threads: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<SearchResult<'py>> {
        let k = opt_usize_in("k", k, 1, MAX_K)?.unwrap_or(10);
        let ef = opt_usize_in("ef", ef, 1, usize::MAX)?; // the index bounds it
        let threads = opt_usize_in("threads", threads, 1, MAX_THREADS)?;
        let (shape, values) = f32_values(queries, "queries")?;
        let dim = self.inner.config().dim;
        let n = match shape.as_slice() {
            [d] if *d == dim => 1,
            [n, d] if *d == dim => *n,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "queries must have shape ({dim},) or (n, {dim}); got {shape:?}"
                )))
            }
        };
        let found = no_panic("VectorIndex.search", || {
            py.detach(|| self.inner.search(ns(namespace), &values, k, ef, threads))
                .map_err(to_py)
        })?;
        let ids = PyArray1::from_vec(py, found.ids);
        let scores = PyArray1::from_vec(py, found.scores);
        if shape.len() == 1 {
            return Ok((ids.into_any(), scores.into_any()));
        }
        Ok((
            ids.reshape([n, k])?.into_any(),
            scores.reshape([n, k])?.into_any(),
        ))
    }

    /// Writes the index to `path` atomically (temporary file, fsync, rename).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        no_panic("VectorIndex.save", || {
            py.detach(|| persist::save(&self.inner, &path))
                .map_err(to_py)
        })
    }

    /// Reads an index written by `save`. With mmap=True the vectors and level-0 links are
    /// served from a read-only map of the file (copied into memory on the first write).
    /// A damaged, truncated or foreign file raises ValueError.
    /// A mapped file must only be replaced by rename (as `save` does): once the file is changed
    /// in place (rewritten or truncated), every later call on the index raises OSError; load it
    /// again. A change made during a call cannot be seen in time and may end the process.
    #[staticmethod]
    #[pyo3(signature = (path, mmap=false))]
    fn load(py: Python<'_>, path: PathBuf, mmap: bool) -> PyResult<Self> {
        let inner = no_panic("VectorIndex.load", || {
            py.detach(|| persist::load(&path, mmap)).map_err(to_py)
        })?;
        Ok(VectorIndex { inner })
    }

    /// Whether `id` is in the namespace; an int that cannot be an id (negative, or past
    /// 2**64-1) is not.
    #[pyo3(signature = (id, namespace=None))]
    fn contains(&self, id: &Bound<'_, PyAny>, namespace: Option<&str>) -> PyResult<bool> {
        let id = match int_in("id", id, 0, u64::MAX) {
            Ok(v) => v,
            Err(e) if e.is_instance_of::<PyValueError>(id.py()) => return Ok(false),
            Err(e) => return Err(e), // not an int: TypeError
        };
        self.inner.check_mapped().map_err(to_py)?;
        no_panic("VectorIndex.contains", || {
            Ok(self.inner.contains(ns(namespace), id))
        })
    }

    fn __contains__(&self, id: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(id) = id.extract::<u64>() else {
            return Ok(false);
        };
        self.inner.check_mapped().map_err(to_py)?;
        no_panic("VectorIndex.__contains__", || {
            Ok(self.inner.contains(DEFAULT_NAMESPACE, id))
        })
    }

    /// Vectors in all namespaces.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Vectors in one namespace.
    #[pyo3(signature = (namespace=None))]
    fn count(&self, namespace: Option<&str>) -> usize {
        self.inner.count(ns(namespace))
    }

    /// Names of the namespaces that hold vectors, sorted.
    fn namespaces(&self) -> Vec<String> {
        self.inner.namespaces()
    }

    /// Bytes of memory held by vectors, ids and links (mapped file pages excluded).
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.config().dim
    }

    #[getter]
    fn metric(&self) -> &'static str {
        self.inner.config().metric.name()
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.config().kind.name()
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.config().dtype.name()
    }

    #[getter]
    #[allow(non_snake_case)]
    fn M(&self) -> usize {
        self.inner.config().m
    }

    #[getter]
    fn ef_construction(&self) -> usize {
        self.inner.config().ef_construction
    }

    #[getter]
    fn ef_search(&self) -> usize {
        self.inner.config().ef_search
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "VectorIndex(dim={}, metric={:?}, kind={:?}, dtype={:?}, M={}, ef_construction={}, ef_search={}, len={})",
            c.dim,
            c.metric.name(),
            c.kind.name(),
            c.dtype.name(),
            c.m,
            c.ef_construction,
            c.ef_search,
            self.inner.len()
        )
    }
}
