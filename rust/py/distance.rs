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
    Element, IntoPyArray, PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use pyo3::types::PyFloat;

use super::errors::to_py;
use crate::error::CoreError;
use crate::vector::kernels::{self, Metric};

/// Bytes of b's rows scanned by all queries of a before moving on (about half an L2 cache).
const TILE_BYTES: usize = 256 * 1024;

/// Below this many multiply-adds, releasing and retaking the GIL costs more than it frees.
const DETACH_WORK: usize = 1 << 15;

fn invalid(msg: String) -> PyErr {
    to_py(CoreError::InvalidArgument(msg))
}

/// An element type with kernels. Batch results are float32 for float inputs and float64 for
/// int8 ones, where dot and l2 are integers that float32 would round past 2^24.
trait KernelElement: Element + Copy + Sync {
    type Out: Element + Copy + Default + Send + Sync + Into<f64>;
    fn pair(metric: Metric, a: &[Self], b: &[Self]) -> f64;
    fn many(metric: Metric, query: &[Self], rows: &[Self], out: &mut [Self::Out]);
    fn is_finite(self) -> bool;
    /// Cosine from a dot product and the two self-dots (as `pair(Dot, x, x)` gives them).
    fn cosine_from_dots(ab: Self::Out, aa: f64, bb: f64, a: &[Self], b: &[Self]) -> Self::Out;
}

impl KernelElement for f32 {
    type Out = f32;

    fn pair(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        (match metric {
            Metric::Cosine => kernels::cosine_f32(a, b),
            Metric::Dot => kernels::dot_f32(a, b),
            Metric::L2 => kernels::l2sq_f32(a, b),
        }) as f64
    }

    fn many(metric: Metric, query: &[f32], rows: &[f32], out: &mut [f32]) {
        match metric {
            Metric::Cosine => kernels::cosine_f32_many(query, rows, out),
            Metric::Dot => kernels::dot_f32_many(query, rows, out),
            Metric::L2 => kernels::l2sq_f32_many(query, rows, out),
        }
    }

    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }

    fn cosine_from_dots(ab: f32, aa: f64, bb: f64, a: &[f32], b: &[f32]) -> f32 {
        kernels::finish_cosine(ab, aa as f32, bb as f32, a, b, |x| x as f64)
    }
}

impl KernelElement for f16 {
    type Out = f32;

    fn pair(metric: Metric, a: &[f16], b: &[f16]) -> f64 {
        (match metric {
            Metric::Cosine => kernels::cosine_f16(a, b),
            Metric::Dot => kernels::dot_f16(a, b),
            Metric::L2 => kernels::l2sq_f16(a, b),
        }) as f64
    }

    fn many(metric: Metric, query: &[f16], rows: &[f16], out: &mut [f32]) {
        let kernel = match metric {
            Metric::Cosine => kernels::cosine_f16,
            Metric::Dot => kernels::dot_f16,
            Metric::L2 => kernels::l2sq_f16,
        };
        kernels::for_each_row(query, rows, out, kernel);
    }

    fn is_finite(self) -> bool {
        f16::is_finite(self)
    }

    fn cosine_from_dots(ab: f32, aa: f64, bb: f64, a: &[f16], b: &[f16]) -> f32 {
        kernels::finish_cosine(ab, aa as f32, bb as f32, a, b, |x| x.to_f64())
    }
}

impl KernelElement for i8 {
    type Out = f64;

    fn pair(metric: Metric, a: &[i8], b: &[i8]) -> f64 {
        match metric {
            Metric::Cosine => kernels::cosine_i8(a, b) as f64,
            Metric::Dot => kernels::dot_i8(a, b) as f64,
            Metric::L2 => kernels::l2sq_i8(a, b) as f64,
        }
    }

    fn many(metric: Metric, query: &[i8], rows: &[i8], out: &mut [f64]) {
        let many = match metric {
            Metric::Cosine => {
                return kernels::for_each_row(query, rows, out, |a, b| kernels::cosine_i8(a, b) as f64)
            }
            Metric::Dot => kernels::dot_i8_many,
            Metric::L2 => kernels::l2sq_i8_many,
        };
        let dim = query.len().max(1);
        const CHUNK: usize = 1024;
        let mut buf = [0i32; CHUNK];
        for (rows, out) in rows.chunks(CHUNK * dim).zip(out.chunks_mut(CHUNK)) {
            let buf = &mut buf[..out.len()];
            many(query, rows, buf);
            for (o, &x) in out.iter_mut().zip(buf.iter()) {
                *o = x as f64;
            }
        }
    }

    fn is_finite(self) -> bool {
        true
    }

    fn cosine_from_dots(ab: f64, aa: f64, bb: f64, _a: &[i8], _b: &[i8]) -> f64 {
        kernels::cosine_from_i8_parts(ab as i32, aa as i32, bb as i32) as f64
    }
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
    let kernel = [NPY_TYPES::NPY_FLOAT, NPY_TYPES::NPY_HALF, NPY_TYPES::NPY_BYTE]
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
    let (a, b) = unsafe { (a.cast_unchecked::<PyArrayDyn<T>>(), b.cast_unchecked::<PyArrayDyn<T>>()) };
    Some((a.try_readonly().ok()?, b.try_readonly().ok()?))
}

/// Names the first vector holding NaN or infinity, once a result came out non-finite.
fn check_finite<T: KernelElement>(name: &str, values: &[T], dim: usize) -> PyResult<()> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(invalid(format!(
            "{name} holds NaN or infinity (vector {}, component {}): drop or replace such vectors \
             before computing distances",
            i / dim,
            i % dim
        ))),
    }
}

fn compute<'py, T: KernelElement>(
    py: Python<'py>,
    metric: Metric,
    a: PyReadonlyArrayDyn<'py, T>,
    b: PyReadonlyArrayDyn<'py, T>,
) -> PyResult<Bound<'py, PyAny>> {
    let (sa, sb) = (a.shape(), b.shape());
    let (ndim_a, ndim_b) = (sa.len(), sb.len());
    if !(1..=2).contains(&ndim_a) || !(1..=2).contains(&ndim_b) {
        return Err(invalid(format!(
            "expected 1-D vectors or 2-D (n, dim) batches, got shapes {sa:?} and {sb:?}: reshape \
             the inputs"
        )));
    }
    let dim = sa[ndim_a - 1];
    if sb[ndim_b - 1] != dim {
        return Err(invalid(format!(
            "dimension mismatch: a has shape {sa:?}, b has shape {sb:?}; both must have the same \
             last dimension"
        )));
    }
    if dim == 0 {
        return Err(invalid("vectors have 0 dimensions: pass non-empty vectors".into()));
    }
    let (xa, xb) = (a.as_slice()?, b.as_slice()?);

    if ndim_a == 1 && ndim_b == 1 {
        let d = T::pair(metric, xa, xb);
        if !d.is_finite() {
            check_finite("a", xa, dim)?;
            check_finite("b", xb, dim)?;
        }
        return Ok(PyFloat::new(py, d).into_any());
    }

    let (n, m) = (if ndim_a == 2 { sa[0] } else { 1 }, if ndim_b == 2 { sb[0] } else { 1 });
    let work = |out: &mut [T::Out]| {
        if ndim_a == 1 {
            T::many(metric, xa, xb, out);
        } else if ndim_b == 1 {
            T::many(metric, xb, xa, out);
        } else {
            // Cosine of every pair from dot products and each vector's self-dot, computed once,
            // instead of norms again for every pair.
            let tiled = if metric == Metric::Cosine { Metric::Dot } else { metric };
            // Tiles of b that stay in cache while every query of a passes over them, so b is
            // read from memory once rather than once per query.
            let tile = (TILE_BYTES / (dim * std::mem::size_of::<T>())).max(1);
            for (t, block) in xb.chunks(tile * dim).enumerate() {
                let (start, len) = (t * tile, block.len() / dim);
                for (query, out) in xa.chunks_exact(dim).zip(out.chunks_exact_mut(m)) {
                    T::many(tiled, query, block, &mut out[start..start + len]);
                }
            }
            if metric == Metric::Cosine && m > 0 {
                let self_dots = |x: &[T]| -> Vec<f64> { x.chunks_exact(dim).map(|v| T::pair(Metric::Dot, v, v)).collect() };
                let (na, nb) = (self_dots(xa), self_dots(xb));
                for ((va, aa), out) in xa.chunks_exact(dim).zip(&na).zip(out.chunks_exact_mut(m)) {
                    for ((vb, bb), o) in xb.chunks_exact(dim).zip(&nb).zip(out.iter_mut()) {
                        *o = T::cosine_from_dots(*o, *aa, *bb, va, vb);
                    }
                }
            }
        }
        out.iter().all(|&x| x.into().is_finite())
    };
    let mut out = Vec::new();
    n.checked_mul(m)
        .and_then(|len| out.try_reserve_exact(len).ok().map(|_| len))
        .map(|len| out.resize(len, T::Out::default()))
        .ok_or_else(|| {
            PyMemoryError::new_err(format!(
                "a ({n}, {m}) result does not fit in memory: pass smaller batches"
            ))
        })?;
    let all_finite = if (n * m).saturating_mul(dim) >= DETACH_WORK {
        py.detach(|| work(&mut out))
    } else {
        work(&mut out)
    };
    if !all_finite {
        check_finite("a", xa, dim)?;
        check_finite("b", xb, dim)?;
    }
    Ok(if ndim_a == 2 && ndim_b == 2 {
        let out = Array2::from_shape_vec((n, m), out).map_err(|e| invalid(e.to_string()))?;
        out.into_pyarray(py).into_any()
    } else {
        PyArray1::from_vec(py, out).into_any()
    })
}

fn distance<'py>(metric: Metric, a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
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
pub(crate) fn distance_cosine<'py>(a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    distance(Metric::Cosine, a, b)
}

/// Inner product of C-contiguous arrays of one kernel dtype; NotImplemented otherwise.
#[pyfunction]
pub(crate) fn distance_dot<'py>(a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    distance(Metric::Dot, a, b)
}

/// Squared L2 distance of C-contiguous arrays of one kernel dtype; NotImplemented otherwise.
#[pyfunction]
pub(crate) fn distance_l2<'py>(a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    distance(Metric::L2, a, b)
}

/// The SIMD kernel set this process uses ("avx512", "avx2+fma", "neon" or "scalar").
#[pyfunction]
pub(crate) fn simd_level() -> &'static str {
    kernels::simd_level()
}
