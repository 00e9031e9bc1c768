//! `EntryStore` for Python: converts arguments and calls the core store.

use std::sync::Arc;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyList, PyString};

use super::args::opt_usize_in;
use super::errors::to_py;
use super::hit::{decode_envelope, saved_of_meta, Hit, Meta, SavingsTotals};
use super::request_key::{request_key, KeySchema};
use crate::key::{key_from_text as parse_key, key_to_hex};
use crate::store::{self, Eviction, StoreConfig, Stored};

type Lookup<'py> = (String, Option<Bound<'py, PyBytes>>, f64);

#[pyclass(frozen, module = "dejacache._core")]
pub struct EntryStore {
    inner: store::EntryStore,
    /// What the hits `hit()` served saved, per namespace (other reads count in Python).
    saved: SavingsTotals,
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
            saved: SavingsTotals::default(),
        })
    }

    /// The exact hit path in one call: keys the request, reads, decodes the stored envelope
    /// (with `orjson.loads`), counts the entry's savings and returns the `Hit`. On a miss,
    /// returns the key. When the stored bytes are not a plain envelope of this version
    /// (another version or process wrote them, or they are corrupt) it returns
    /// `(key, value, created)` as `lookup` does, for the caller's careful read. With `mark`
    /// (what `call` returns), a hit is `[response]` alone, a dict response carrying
    /// `"cache": True`.
    #[pyo3(signature = (schema, request, namespace, now, max_age=None, mark=false))]
    #[allow(clippy::too_many_arguments)]
    fn hit<'py>(
        &self,
        py: Python<'py>,
        schema: &KeySchema,
        request: &Bound<'py, PyAny>,
        namespace: &Bound<'py, PyString>,
        now: f64,
        max_age: Option<f64>,
        mark: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = request_key(request, &schema.exclude)?;
        let ns = namespace.to_str()?;
        let found = match self.inner.get(ns, key, now, max_age) {
            Ok(found) => found,
            Err(_) => return Ok(PyString::new(py, &key_to_hex(key)).into_any()),
        };
        let careful = || {
            (
                key_to_hex(key),
                PyBytes::new(py, &found.value),
                found.created,
            )
                .into_pyobject(py)
                .map(|t| t.into_any())
        };
        let Some((response, meta)) = decode_envelope(py, &found.value, found.saved.is_some(), mark)
        else {
            return careful();
        };
        match (&meta, found.saved) {
            (_, Some(saved)) => self.saved.add(ns, &saved),
            (Meta::Decoded(dict), None) if !dict.is_empty() => {
                self.saved.add(ns, &saved_of_meta(dict)?)
            }
            _ => {}
        }
        if mark {
            return Ok(PyList::new(py, [response])?.into_any());
        }
        let hit = Hit::new_exact(
            response,
            PyString::new(py, &key_to_hex(key)).into_any(),
            intern!(py, "exact").clone().into_any(),
            PyFloat::new(py, now - found.created).into_any(),
            namespace.clone().into_any(),
            meta,
        );
        Ok(Bound::new(py, hit)?.into_any())
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

    /// Reads by key: (value, created) or None. Savings are counted by the caller.
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
    /// `meta`, when given, must be the meta encoded in `value` (checked by `put`): its
    /// savings are kept with the entry, so a hit counts them without decoding the meta.
    #[pyo3(signature = (key, namespace, value, now, ttl=None, meta=None))]
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        py: Python<'_>,
        key: &str,
        namespace: &str,
        value: &Bound<'_, PyBytes>,
        now: f64,
        ttl: Option<f64>,
        meta: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<(bool, usize)> {
        let key = parse_key(key);
        let bytes = value.as_bytes();
        let saved = meta.map(saved_of_meta).transpose()?;
        let outcome = py
            .detach(|| {
                self.inner
                    .put_saved(namespace, key, Arc::from(bytes), now, ttl, saved)
            })
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
    /// With the savings of the hits `hit()` served, where there were any.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyDict>)>> {
        let saved = self.saved.snapshot();
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
                saved.write_into(&name, &d)?;
                Ok((name, d))
            })
            .collect()
    }
}

/// A cache's exact hit path under its default controls, bound once: `path.get(request)` is
/// `store.hit(schema, request, namespace, clock())` (`path.call` with `mark`) for a plain dict request that
/// carries no controls of its own (no `cache` or `caching` field), and None for any other
/// request (the caller then resolves its controls). Saves the hit path the Python attribute
/// reads and tests that cost a measurable share of a hit.
#[pyclass(frozen, module = "dejacache._core")]
pub struct HitPath {
    store: Py<EntryStore>,
    schema: Py<KeySchema>,
    namespace: Py<PyString>,
    clock: Py<PyAny>,
}

#[pymethods]
impl HitPath {
    #[new]
    fn new(
        store: Py<EntryStore>,
        schema: Py<KeySchema>,
        namespace: Py<PyString>,
        clock: Py<PyAny>,
    ) -> Self {
        HitPath {
            store,
            schema,
            namespace,
            clock,
        }
    }

    /// `Cache.get`'s hit: a `Hit`, the key of a miss, `(key, value, created)` to read the
    /// careful way, or None for a request this path does not take.
    fn get<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.serve(py, request, false)
    }

    /// `Cache.call`'s hit: `[response]` (a dict marked `"cache": True`), else as `get`.
    fn call<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.serve(py, request, true)
    }
}

impl HitPath {
    fn serve<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        mark: bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(fields) = request.cast_exact::<PyDict>() else {
            return Ok(None);
        };
        if fields.contains(intern!(py, "cache"))? || fields.contains(intern!(py, "caching"))? {
            return Ok(None);
        }
        let now: f64 = self.clock.bind(py).call0()?.extract()?;
        let store = self.store.get();
        store
            .hit(
                py,
                self.schema.get(),
                request,
                self.namespace.bind(py),
                now,
                None,
                mark,
            )
            .map(Some)
    }
}
