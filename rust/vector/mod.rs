//! The vector core: distance kernels, i8/f16 quantisation and softmax sampling.

pub mod kernels;
pub mod quant;
pub mod sampling;
