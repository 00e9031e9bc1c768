//! `EntryStore` for Python: converts arguments and calls the core store.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::args::opt_usize_in;
use super::errors::to_py;
use super::request_key::{request_key, KeySchema};
use crate::key::{key_from_text as parse_key, key_to_hex};
use crate::store::{self, Eviction, StoreConfig, Stored};

type Lookup<'py> = (String, Option<Bound<'py, PyBytes>>, f64);

#[pyclass(frozen, module = "dejacache._core")]
pub struct EntryStore {
    inner: store::EntryStore,
}

#[pymethods]
impl EntryStore {
    #[new]
    #[pyo3(signature = (max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"))]
    fn new(
        max_entries: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        default_ttl: Option<f64>,
        eviction: &str,
    ) -> PyResult<Self> {
        let eviction = Eviction::parse(eviction).map_err(to_py)?;
        let config = StoreConfig {
            max_entries: opt_usize_in("max_entries", max_entries, 1, usize::MAX)?,
            max_bytes: opt_usize_in("max_bytes", max_bytes, 1, usize::MAX)?,
            default_ttl,
            eviction,
        };
        Ok(EntryStore {
            inner: store::EntryStore::new(config).map_err(to_py)?,
        })
    }

    /// Key and read in one call (the hit path): returns (key, value or None, created).
    /// The lookup itself is a hash probe under a short lock, cheaper than releasing the GIL.
    #[pyo3(signature = (schema, request, namespace, now, max_age=None))]
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        schema: &KeySchema,
        request: &Bound<'py, PyAny>,
        namespace: &str,
        now: f64,
        max_age: Option<f64>,
    ) -> PyResult<Lookup<'py>> {
        let key = request_key(request, &schema.exclude)?;
        Ok(match self.inner.get(namespace, key, now, max_age) {
            Ok(found) => (
                key_to_hex(key),
                Some(PyBytes::new(py, &found.value)),
                found.created,
            ),
            Err(_) => (key_to_hex(key), None, 0.0),
        })
    }

    /// Reads by key: (value, created) or None.
    #[pyo3(signature = (key, namespace, now, max_age=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        namespace: &str,
        now: f64,
        max_age: Option<f64>,
    ) -> Option<(Bound<'py, PyBytes>, f64)> {
        let found = self
            .inner
            .get(namespace, parse_key(key), now, max_age)
            .ok()?;
        Some((PyBytes::new(py, &found.value), found.created))
    }

    /// Writes by key, with the GIL released while the value is copied and the store evicts.
    /// Returns (stored, evicted): stored is False when the value alone exceeds max_bytes or
    /// the ttl is 0.
    #[pyo3(signature = (key, namespace, value, now, ttl=None))]
    fn put(
        &self,
        py: Python<'_>,
        key: &str,
        namespace: &str,
        value: &Bound<'_, PyBytes>,
        now: f64,
        ttl: Option<f64>,
    ) -> PyResult<(bool, usize)> {
        let key = parse_key(key);
        let bytes = value.as_bytes();
        let outcome = py
            .detach(|| self.inner.put(namespace, key, Arc::from(bytes), now, ttl))
            .map_err(to_py)?;
        Ok(match outcome {
            Stored::Stored { evicted } => (true, evicted),
            Stored::Rejected => (false, 0),
        })
    }

    fn remove(&self, key: &str, namespace: &str) -> bool {
        self.inner.remove(namespace, parse_key(key))
    }

    fn contains(&self, key: &str, namespace: &str, now: f64) -> bool {
        self.inner.contains(namespace, parse_key(key), now)
    }

    #[pyo3(signature = (namespace=None))]
    fn clear(&self, py: Python<'_>, namespace: Option<&str>) -> usize {
        py.detach(|| self.inner.clear(namespace))
    }

    fn purge_expired(&self, py: Python<'_>, now: f64) -> usize {
        py.detach(|| self.inner.purge_expired(now))
    }

    /// Keys of one namespace, most recently used first.
    fn keys(&self, namespace: &str) -> Vec<String> {
        self.inner
            .keys(namespace)
            .into_iter()
            .map(key_to_hex)
            .collect()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn bytes(&self) -> usize {
        self.inner.bytes()
    }

    /// Misses under namespaces `stats()` does not list: reads under names never written to,
    /// past the first 1024 such names (or longer than 256 bytes), or forgotten by `clear()`.
    #[getter]
    fn unlisted_misses(&self) -> u64 {
        self.inner.unlisted_misses()
    }

    /// Counters per namespace: [(namespace, {hits, misses, stores, ...})].
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyDict>)>> {
        self.inner
            .stats()
            .into_iter()
            .map(|(name, s)| {
                let d = PyDict::new(py);
                d.set_item("hits", s.hits)?;
                d.set_item("misses", s.misses)?;
                d.set_item("stores", s.stores)?;
                d.set_item("evictions", s.evictions)?;
                d.set_item("expirations", s.expirations)?;
                d.set_item("entries", s.entries)?;
                d.set_item("bytes", s.bytes)?;
                Ok((name, d))
            })
            .collect()
    }
}
