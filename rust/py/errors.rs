//! The one place where core errors become Python exceptions.

use std::io::ErrorKind;

use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::PyErr;

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
