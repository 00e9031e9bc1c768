//! The one place where core errors become Python exceptions.

use std::io::ErrorKind;

use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::{PyErr, PyResult};

use crate::error::CoreError;

pub(crate) fn to_py(err: CoreError) -> PyErr {
    match err {
        CoreError::InvalidArgument(m) => PyValueError::new_err(m),
        CoreError::InvalidType(m) => PyTypeError::new_err(m),
        CoreError::Io(ErrorKind::NotFound, m) => PyFileNotFoundError::new_err(m),
        CoreError::Io(ErrorKind::PermissionDenied, m) => PyPermissionError::new_err(m),
        CoreError::Io(_, m) => PyOSError::new_err(m),
    }
}

/// Runs `f`, turning a panic into a RuntimeError: a panic is a bug, but it must never reach a
/// caller as pyo3's PanicException (a BaseException that `except Exception` does not catch).
pub(crate) fn no_panic<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(PyRuntimeError::new_err(format!(
                "{what} failed inside dejacache's core ({msg}); this is a bug, please report it. \
                 For an index loaded with mmap=True, its file may have been changed in place: load \
                 it again"
            )))
        }
    }
}
