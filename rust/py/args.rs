//! Integer arguments checked against their range at the edge: a Python int too large (or too
//! negative) for the Rust type is a ValueError naming the allowed range, not pyo3's
//! OverflowError; a non-integer keeps its TypeError.

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;

/// `value` as an integer in `lo..=hi`.
pub(crate) fn int_in(name: &str, value: &Bound<'_, PyAny>, lo: u64, hi: u64) -> PyResult<u64> {
    let out_of_range = || {
        PyValueError::new_err(format!(
            "{name} must be at least {lo} and at most {hi} (an integer), got {}",
            value
                .repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string())
        ))
    };
    let v: i128 = match value.extract() {
        Ok(v) => v,
        Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => return Err(out_of_range()),
        Err(e) => return Err(e),
    };
    if v < i128::from(lo) || v > i128::from(hi) {
        return Err(out_of_range());
    }
    Ok(v as u64)
}

/// `int_in` as a usize (its `hi` capped at usize::MAX).
pub(crate) fn usize_in(
    name: &str,
    value: &Bound<'_, PyAny>,
    lo: usize,
    hi: usize,
) -> PyResult<usize> {
    Ok(int_in(name, value, lo as u64, hi as u64)? as usize)
}

/// `usize_in` for an optional argument (None passes through).
pub(crate) fn opt_usize_in(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
    lo: usize,
    hi: usize,
) -> PyResult<Option<usize>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| usize_in(name, v, lo, hi))
        .transpose()
}
