//! Burst kernels (in progress).
