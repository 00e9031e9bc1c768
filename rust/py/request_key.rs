//! Walks a Python request object straight into the canonical key encoder, with no JSON detour.

use std::borrow::Cow;
use std::cell::RefCell;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::errors::to_py;
use crate::key::{key_of_str, key_to_hex, sort_map_entries, KeyEncoder};

/// Requests nested deeper than this are refused: it stops cycles and hostile input from
/// exhausting the stack.
const MAX_DEPTH: usize = 200;

thread_local! {
    static ENCODER: RefCell<KeyEncoder> = RefCell::new(KeyEncoder::new());
}

/// Where in the request a bad value sits, built on the way back up so the happy path pays nothing.
enum Segment {
    Key(String),
    Index(usize),
}

enum WalkError {
    Unsupported {
        type_name: String,
        path: Vec<Segment>,
    },
    TooDeep {
        path: Vec<Segment>,
    },
    Python(PyErr),
}

impl WalkError {
    fn at(mut self, seg: Segment) -> Self {
        match &mut self {
            WalkError::Unsupported { path, .. } | WalkError::TooDeep { path } => path.push(seg),
            WalkError::Python(_) => {}
        }
        self
    }
}

impl From<PyErr> for WalkError {
    fn from(e: PyErr) -> Self {
        WalkError::Python(e)
    }
}

fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path.iter().rev() {
        match seg {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push_str("the request itself");
    }
    out
}

fn into_py_err(e: WalkError) -> PyErr {
    match e {
        WalkError::Unsupported { type_name, path } => PyTypeError::new_err(format!(
            "cannot make a cache key from a value of type '{type_name}' at {}: requests may hold \
             only dict, list, tuple, str, int, float, bool, None and bytes (convert it, or \
             pass key_func= to build keys yourself)",
            render_path(&path)
        )),
        WalkError::TooDeep { path } => PyValueError::new_err(format!(
            "the request is nested more than {MAX_DEPTH} levels deep at {} (does it contain \
             itself?)",
            render_path(&path)
        )),
        WalkError::Python(e) => e,
    }
}

/// A dict key as text: JSON turns int keys (as in OpenAI's `logit_bias`) into strings.
fn key_text<'a>(k: &'a Bound<'_, PyAny>) -> Result<Cow<'a, str>, WalkError> {
    if let Ok(s) = k.cast::<PyString>() {
        return Ok(Cow::Borrowed(s.to_str()?));
    }
    if k.is_instance_of::<PyInt>() && !k.is_instance_of::<PyBool>() {
        return Ok(Cow::Owned(int_decimal(k)?));
    }
    let type_name = k
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(WalkError::Unsupported {
        type_name: format!("{type_name}' (as a dict key"),
        path: vec![],
    })
}

/// The decimal digits of an int (of an int subclass, its plain int value).
fn int_decimal(v: &Bound<'_, PyAny>) -> PyResult<String> {
    let plain = v.py().get_type::<PyInt>().call1((v,))?;
    Ok(plain.str()?.to_str()?.to_owned())
}

fn walk_dict(
    enc: &mut KeyEncoder,
    d: &Bound<'_, PyDict>,
    depth: usize,
    exclude: &[String],
) -> Result<(), WalkError> {
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = d.iter().collect();
    let mut entries: Vec<(Cow<'_, str>, &Bound<'_, PyAny>)> = Vec::with_capacity(items.len());
    for (k, v) in &items {
        let text = key_text(k)?;
        if !exclude.is_empty() && exclude.iter().any(|x| x.as_str() == text) {
            continue;
        }
        entries.push((text, v));
    }
    sort_map_entries(&mut entries).map_err(|e| WalkError::Python(to_py(e)))?;
    enc.begin_map(entries.len());
    for (k, v) in entries {
        enc.str(&k);
        walk(enc, v, depth + 1).map_err(|e| e.at(Segment::Key(k.into_owned())))?;
    }
    Ok(())
}

fn walk(enc: &mut KeyEncoder, obj: &Bound<'_, PyAny>, depth: usize) -> Result<(), WalkError> {
    if depth > MAX_DEPTH {
        return Err(WalkError::TooDeep { path: vec![] });
    }
    if let Ok(s) = obj.cast::<PyString>() {
        enc.str(s.to_str()?);
    } else if let Ok(d) = obj.cast::<PyDict>() {
        walk_dict(enc, d, depth, &[])?;
    } else if let Ok(l) = obj.cast::<PyList>() {
        enc.begin_list(l.len());
        for (i, item) in l.iter().enumerate() {
            walk(enc, &item, depth + 1).map_err(|e| e.at(Segment::Index(i)))?;
        }
    } else if let Ok(b) = obj.cast::<PyBool>() {
        enc.bool(b.is_true());
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(v) => enc.int(v),
            Err(_) => enc.big_int(&int_decimal(obj)?),
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        enc.float(f.value());
    } else if obj.is_none() {
        enc.null();
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        enc.begin_list(t.len());
        for (i, item) in t.iter().enumerate() {
            walk(enc, &item, depth + 1).map_err(|e| e.at(Segment::Index(i)))?;
        }
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        enc.bytes(b.as_bytes());
    } else {
        let type_name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        return Err(WalkError::Unsupported {
            type_name,
            path: vec![],
        });
    }
    Ok(())
}

/// The 128-bit key of a request; top-level dict entries named in `exclude` are left out.
pub(crate) fn request_key(request: &Bound<'_, PyAny>, exclude: &[String]) -> PyResult<u128> {
    let run = |enc: &mut KeyEncoder| -> PyResult<u128> {
        enc.reset();
        let res = match request.cast::<PyDict>() {
            Ok(d) => walk_dict(enc, d, 0, exclude),
            Err(_) => walk(enc, request, 0),
        };
        let key = res.map(|()| enc.finish());
        enc.trim(); // a huge request must not leave its buffer to the thread
        key.map_err(into_py_err)
    };
    ENCODER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut enc) => run(&mut enc),
        // Re-entered from Python code the walk called (an int subclass's __index__, say).
        Err(_) => run(&mut KeyEncoder::new()),
    })
}

/// Which request fields stay out of keys. Built once per cache; `key(request)` is the hot path.
#[pyclass(frozen, module = "dejacache._core")]
pub struct KeySchema {
    pub(crate) exclude: Vec<String>,
}

#[pymethods]
impl KeySchema {
    #[new]
    #[pyo3(signature = (exclude=Vec::new()))]
    fn new(exclude: Vec<String>) -> Self {
        KeySchema { exclude }
    }

    /// The request's key as 32 hex digits.
    fn key(&self, request: &Bound<'_, PyAny>) -> PyResult<String> {
        Ok(key_to_hex(request_key(request, &self.exclude)?))
    }

    #[getter]
    fn exclude(&self) -> Vec<String> {
        self.exclude.clone()
    }
}

/// The key of a caller-chosen text key (from a custom key function), as 32 hex digits.
#[pyfunction]
pub(crate) fn key_of_text(text: &str) -> String {
    key_to_hex(key_of_str(text))
}
