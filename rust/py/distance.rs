//! `dejacache.distance` kernels for Python: take C-contiguous numpy arrays of one kernel dtype
//! (float32, float16, int8) without copying, release the GIL for batches, map errors.
//!
//! Anything else (lists, other dtypes, strided views, mixed dtypes) returns `NotImplemented`
//! so that `distance.py` converts once with `np.ascontiguousarray` and calls again.

use std::os::raw::c_int;

use half::f16;
use numpy::ndarray::Array2;
use numpy::npyffi::NPY_TYPES;
use numpy::{
    Element, IntoPyArray, PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods,
    PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use pyo3::types::PyFloat;

use super::errors::to_py;
use crate::error::CoreError;
use crate::vector::kernels::{self, Metric};
use crate::vector::pairwise::{self, KernelElement, Shape};

/// Below this many multiply-adds, releasing and retaking the GIL costs more than it frees.
const DETACH_WORK: usize = 1 << 15;

fn invalid(msg: String) -> PyErr {
    to_py(CoreError::InvalidArgument(msg))
}

/// The element type the kernels would read `x` as, when it is a C-contiguous native-order
/// array of one: a check of the array's own fields, much cheaper than a typed cast per type.
fn kernel_dtype(x: &Bound<'_, PyAny>) -> Option<c_int> {
    let x = x.cast::<PyUntypedArray>().ok()?;
    if !x.is_c_contiguous() {
        return None;
    }
    let dtype = x.dtype();
    let num = dtype.num();
    let kernel = [
        NPY_TYPES::NPY_FLOAT,
        NPY_TYPES::NPY_HALF,
        NPY_TYPES::NPY_BYTE,
    ]
    .iter()
    .any(|&t| t as c_int == num);
    (kernel && dtype.is_native_byteorder() != Some(false)).then_some(num)
}

/// Read-only views of both arguments, already known to be C-contiguous arrays of `T`.
fn take<'py, T: Element>(
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> Option<(PyReadonlyArrayDyn<'py, T>, PyReadonlyArrayDyn<'py, T>)> {
    // SAFETY: `kernel_dtype` checked that both are numpy arrays whose dtype is T's.
    let (a, b) = unsafe {
        (
            a.cast_unchecked::<PyArrayDyn<T>>(),
            b.cast_unchecked::<PyArrayDyn<T>>(),
        )
    };
    Some((a.try_readonly().ok()?, b.try_readonly().ok()?))
}

fn compute<'py, T>(
    py: Python<'py>,
    metric: Metric,
    a: PyReadonlyArrayDyn<'py, T>,
    b: PyReadonlyArrayDyn<'py, T>,
) -> PyResult<Bound<'py, PyAny>>
where
    T: KernelElement + Element,
    T::Out: Element,
{
    let shape = Shape::new(a.shape(), b.shape()).map_err(to_py)?;
    let (xa, xb) = (a.as_slice()?, b.as_slice()?);
    if shape.is_pair() {
        let d = pairwise::distance(metric, xa, xb).map_err(to_py)?;
        return Ok(PyFloat::new(py, d).into_any());
    }
    let (n, m) = shape.rows();
    let mut out = Vec::new();
    shape
        .out_len()
        .and_then(|len| out.try_reserve_exact(len).ok().map(|_| len))
        .map(|len| out.resize(len, T::Out::default()))
        .ok_or_else(|| {
            PyMemoryError::new_err(format!(
                "a ({n}, {m}) result does not fit in memory: pass smaller batches"
            ))
        })?;
    let work = |out: &mut [T::Out]| pairwise::distances_into(metric, &shape, xa, xb, out);
    if shape.work() >= DETACH_WORK {
        py.detach(|| work(&mut out))
    } else {
        work(&mut out)
    }
    .map_err(to_py)?;
    Ok(if shape.a_rows.is_some() && shape.b_rows.is_some() {
        let out = Array2::from_shape_vec((n, m), out).map_err(|e| invalid(e.to_string()))?;
        out.into_pyarray(py).into_any()
    } else {
        PyArray1::from_vec(py, out).into_any()
    })
}

fn distance<'py>(
    metric: Metric,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = a.py();
    let not_implemented = || Ok(py.NotImplemented().into_bound(py));
    let num = match (kernel_dtype(a), kernel_dtype(b)) {
        (Some(x), Some(y)) if x == y => x,
        _ => return not_implemented(),
    };
    // A view that is mutably borrowed elsewhere in Rust is left to distance.py, which copies it.
    if num == NPY_TYPES::NPY_FLOAT as c_int {
        if let Some((a, b)) = take::<f32>(a, b) {
            return compute(py, metric, a, b);
        }
    } else if num == NPY_TYPES::NPY_HALF as c_int {
        if let Some((a, b)) = take::<f16>(a, b) {
            return compute(py, metric, a, b);
        }
    } else if let Some((a, b)) = take::<i8>(a, b) {
        return compute(py, metric, a, b);
    }
    not_implemented()
}

/// Cosine similarity of C-contiguous arrays of one kernel dtype; NotImplemented otherwise.
#[pyfunction]
pub(crate) fn distance_cosine<'py>(
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    distance(Metric::Cosine, a, b)
}

/// Inner product of C-contiguous arrays of one kernel dtype; NotImplemented otherwise.
#[pyfunction]
pub(crate) fn distance_dot<'py>(
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    distance(Metric::Dot, a, b)
}

/// Squared L2 distance of C-contiguous arrays of one kernel dtype; NotImplemented otherwise.
#[pyfunction]
pub(crate) fn distance_l2<'py>(
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    distance(Metric::L2, a, b)
}

/// The SIMD kernel set this process uses ("avx512", "avx2+fma", "neon" or "scalar").
#[pyfunction]
pub(crate) fn simd_level() -> &'static str {
    kernels::simd_level()
}
