//! The one place where core errors become Python exceptions.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::error::CoreError;

pub(crate) fn to_py(err: CoreError) -> PyErr {
    match err {
        CoreError::InvalidArgument(m) => PyValueError::new_err(m),
        CoreError::InvalidType(m) => PyTypeError::new_err(m),
    }
}
