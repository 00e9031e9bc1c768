//! The exact hit in Python terms: the `Hit` class, the decoding of a stored envelope, and the
//! savings totals of the hits `EntryStore.hit` serves. `Hit` is a Rust class so that the hit
//! path can hand one back without running a Python `__init__`.

use std::collections::HashMap;

use parking_lot::Mutex;
use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyTuple};
use pyo3::PyTraverseError;

use crate::envelope;
use crate::savings::{Num, Saved, Total};

/// The counters the savings go to, in the order `stats()` lists them after `coalesced`.
const COUNTERS: [&str; 3] = ["latency_saved_s", "cost_saved_usd", "tokens_saved"];

/// A response served from the cache.
///
/// ``source`` says which tier answered: ``"exact"`` (the same request was seen before) or
/// ``"semantic"`` (a request meaning the same was seen; ``similarity`` tells how close).
/// ``age`` is seconds since the entry was stored; ``meta`` what was stored with it.
///
/// >>> hit = cache.get(request)          # doctest: +SKIP
/// >>> hit.source, hit.age                # doctest: +SKIP
/// ('exact', 1.5)
#[pyclass(module = "dejacache._core")]
pub struct Hit {
    #[pyo3(get, set)]
    pub response: Py<PyAny>,
    #[pyo3(get, set)]
    pub key: Py<PyAny>,
    #[pyo3(get, set)]
    pub source: Py<PyAny>,
    #[pyo3(get, set)]
    pub age: Py<PyAny>,
    #[pyo3(get, set)]
    pub namespace: Py<PyAny>,
    #[pyo3(get, set)]
    pub similarity: Py<PyAny>,
    /// Decoded on first read when the hit path left it as JSON (`meta_json`).
    meta: Option<Py<PyAny>>,
    meta_json: Option<Py<PyBytes>>,
}

/// A hit's meta as the hit path found it.
pub enum Meta<'py> {
    Decoded(Bound<'py, PyDict>),
    /// The JSON of a non-empty meta whose savings were kept with the entry: decoded only if
    /// the caller reads `Hit.meta`.
    Json(Bound<'py, PyBytes>),
}

impl Hit {
    /// An exact hit (no similarity).
    pub fn new_exact<'py>(
        response: Bound<'py, PyAny>,
        key: Bound<'py, PyAny>,
        source: Bound<'py, PyAny>,
        age: Bound<'py, PyAny>,
        namespace: Bound<'py, PyAny>,
        meta: Meta<'py>,
    ) -> Hit {
        let (meta, meta_json) = match meta {
            Meta::Decoded(d) => (Some(d.into_any().unbind()), None),
            Meta::Json(b) => (None, Some(b.unbind())),
        };
        Hit {
            similarity: response.py().None(),
            response: response.unbind(),
            key: key.unbind(),
            source: source.unbind(),
            age: age.unbind(),
            namespace: namespace.unbind(),
            meta,
            meta_json,
        }
    }
}

#[pymethods]
impl Hit {
    #[new]
    #[pyo3(signature = (response, key, source, age, namespace, similarity=None, meta=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        response: Py<PyAny>,
        key: Py<PyAny>,
        source: Py<PyAny>,
        age: Py<PyAny>,
        namespace: Py<PyAny>,
        similarity: Option<Py<PyAny>>,
        meta: Option<Py<PyAny>>,
    ) -> Self {
        Hit {
            response,
            key,
            source,
            age,
            namespace,
            similarity: similarity.unwrap_or_else(|| py.None()),
            meta: Some(meta.unwrap_or_else(|| PyDict::new(py).into_any().unbind())),
            meta_json: None,
        }
    }

    /// What was stored with the entry (a dict).
    #[getter]
    fn meta(&mut self, py: Python<'_>) -> Py<PyAny> {
        if let Some(meta) = &self.meta {
            return meta.clone_ref(py);
        }
        let decoded = self
            .meta_json
            .take()
            .and_then(|json| loads(py).ok()?.call1((json,)).ok())
            .and_then(|m| m.cast_into_exact::<PyDict>().ok())
            .unwrap_or_else(|| PyDict::new(py))
            .into_any()
            .unbind();
        self.meta = Some(decoded.clone_ref(py));
        decoded
    }

    #[setter]
    fn set_meta(&mut self, meta: Py<PyAny>) {
        self.meta = Some(meta);
        self.meta_json = None;
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let fixed = |value: &Py<PyAny>| -> PyResult<String> {
            value
                .bind(py)
                .call_method1("__format__", (".3f",))?
                .extract()
        };
        let sim = if self.similarity.is_none(py) {
            String::new()
        } else {
            format!(", similarity={}", fixed(&self.similarity)?)
        };
        Ok(format!(
            "Hit(source={}, key={}, age={}{sim})",
            self.source.bind(py).repr()?,
            self.key.bind(py).repr()?,
            fixed(&self.age)?
        ))
    }

    /// Pickles as the call that builds it.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let meta = slf.borrow_mut().meta(py);
        let h = slf.borrow();
        let args = PyTuple::new(
            py,
            [
                &h.response,
                &h.key,
                &h.source,
                &h.age,
                &h.namespace,
                &h.similarity,
                &meta,
            ],
        )?;
        Ok((slf.get_type().into_any(), args))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for field in [
            &self.response,
            &self.key,
            &self.source,
            &self.age,
            &self.namespace,
            &self.similarity,
        ] {
            visit.call(field)?;
        }
        visit.call(&self.meta)?;
        visit.call(&self.meta_json)?;
        Ok(())
    }
}

/// `orjson.loads`, imported once.
pub fn loads(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static LOADS: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    LOADS.import(py, "orjson", "loads")
}

/// (answer, meta) of a stored envelope: only the answer and a non-empty meta are decoded
/// (see `envelope::split`, which is why this is sound), the meta not even that when
/// `lazy_meta` (its savings were kept with the entry). `mark` adds `"cache": true` to an
/// answer that is an object, as `call` hands hits back. None when the blob is not a plain
/// envelope of this version or does not decode: the caller then reads it the careful way.
pub fn decode_envelope<'py>(
    py: Python<'py>,
    blob: &[u8],
    lazy_meta: bool,
    mark: bool,
) -> Option<(Bound<'py, PyAny>, Meta<'py>)> {
    let (answer, meta) = envelope::split(blob)?;
    let loads = loads(py).ok()?;
    let answer = &blob[answer];
    let response = if mark && answer.first() == Some(&b'{') {
        loads.call1((marked(py, answer).ok()?,)).ok()?
    } else {
        loads.call1((PyBytes::new(py, answer),)).ok()?
    };
    let meta = &blob[meta];
    let meta = if meta == b"{}" {
        Meta::Decoded(PyDict::new(py))
    } else if lazy_meta {
        Meta::Json(PyBytes::new(py, meta))
    } else {
        let decoded = loads.call1((PyBytes::new(py, meta),)).ok()?;
        Meta::Decoded(decoded.cast_into_exact::<PyDict>().ok()?)
    };
    Some((response, meta))
}

/// The JSON object `answer` with `"cache": true` as its last member: decoding it gives what
/// `response["cache"] = True` after decoding `answer` gives (JSON's last duplicate wins, in the
/// first one's place, as a dict assignment does), with the dict sized for it from the start.
/// The result parses only if `answer` does: it is `answer` with its closing brace moved.
fn marked<'py>(py: Python<'py>, answer: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    const MARK: &[u8] = br#""cache":true}"#;
    let open = &answer[..answer.len() - 1]; // answer is `{...}`: ends with its closing brace
    let empty = open == b"{";
    let len = open.len() + usize::from(!empty) + MARK.len();
    PyBytes::new_with(py, len, |buf| {
        buf[..open.len()].copy_from_slice(open);
        let mut at = open.len();
        if !empty {
            buf[at] = b',';
            at += 1;
        }
        buf[at..].copy_from_slice(MARK);
        Ok(())
    })
}

/// A meta field as a saving: an int or float from 0 to 2**63-1 (what `put` accepts); anything
/// else (written by another version or process) is skipped, as `Savings.fold` skips it.
fn saving(value: &Bound<'_, PyAny>) -> Option<Num> {
    if value.is_exact_instance_of::<PyInt>() {
        return Num::int(value.extract::<i64>().ok()?);
    }
    if value.is_exact_instance_of::<PyFloat>() {
        return Num::float(value.extract::<f64>().ok()?);
    }
    None
}

/// The savings figures of a meta dict (`latency_s`, `cost_usd`, `tokens`; 0 where absent or
/// unusable).
pub fn saved_of_meta(meta: &Bound<'_, PyDict>) -> PyResult<Saved> {
    let py = meta.py();
    let fields = [
        intern!(py, "latency_s"),
        intern!(py, "cost_usd"),
        intern!(py, "tokens"),
    ];
    let mut saved = [Num::Int(0); 3];
    for (field, slot) in fields.into_iter().zip(saved.iter_mut()) {
        if let Some(value) = meta.get_item(field)? {
            *slot = saving(&value).unwrap_or(Num::Int(0));
        }
    }
    Ok(saved)
}

/// What the hits served by `EntryStore.hit` saved, per namespace.
#[derive(Default)]
pub struct SavingsTotals(Mutex<HashMap<String, [Total; 3]>>);

/// A copy of the totals, for `stats()`.
pub struct SavingsSnapshot(HashMap<String, [Total; 3]>);

impl SavingsTotals {
    pub fn add(&self, namespace: &str, saved: &Saved) {
        if saved.iter().all(|n| *n == Num::Int(0)) {
            return;
        }
        let mut totals = self.0.lock();
        if !totals.contains_key(namespace) {
            totals.insert(namespace.to_owned(), [Total::ZERO; 3]);
        }
        if let Some(t) = totals.get_mut(namespace) {
            for (total, value) in t.iter_mut().zip(saved) {
                *total = total.plus(*value);
            }
        }
    }

    pub fn snapshot(&self) -> SavingsSnapshot {
        SavingsSnapshot(self.0.lock().clone())
    }
}

impl SavingsSnapshot {
    /// Adds one namespace's savings counters to its `stats()` dict, when it has any.
    pub fn write_into(&self, namespace: &str, d: &Bound<'_, PyDict>) -> PyResult<()> {
        let Some(totals) = self.0.get(namespace) else {
            return Ok(());
        };
        d.set_item("coalesced", 0)?;
        for (counter, total) in COUNTERS.iter().zip(totals) {
            match total {
                Total::Int(v) => d.set_item(*counter, *v)?,
                Total::Float(v) => d.set_item(*counter, *v)?,
            }
        }
        Ok(())
    }
}
