//! Python bindings: argument conversion, GIL release, error mapping. No cache logic lives here.

mod args;
mod distance;
mod entry_store;
mod errors;
mod hashing;
mod hit;
mod request_key;
mod sampling;
mod vector_index;

use pyo3::prelude::*;

#[pymodule(name = "_core")]
fn dejacache_core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("KEY_SCHEMA_VERSION", crate::key::KEY_SCHEMA_VERSION)?;
    // Benchmarks refuse to time a debug build.
    m.add("DEBUG_BUILD", cfg!(debug_assertions))?;
    m.add_class::<request_key::KeySchema>()?;
    m.add_class::<entry_store::EntryStore>()?;
    m.add_class::<hit::Hit>()?;
    m.add_class::<entry_store::HitPath>()?;
    m.add_class::<vector_index::VectorIndex>()?;
    m.add_class::<hashing::HashingEmbedder>()?;
    m.add_function(wrap_pyfunction!(request_key::key_of_text, m)?)?;
    m.add_function(wrap_pyfunction!(distance::distance_cosine, m)?)?;
    m.add_function(wrap_pyfunction!(distance::distance_dot, m)?)?;
    m.add_function(wrap_pyfunction!(distance::distance_l2, m)?)?;
    m.add_function(wrap_pyfunction!(distance::simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(sampling::softmax, m)?)?;
    m.add_function(wrap_pyfunction!(sampling::sample, m)?)?;
    Ok(())
}
