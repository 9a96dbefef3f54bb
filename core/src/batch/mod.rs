//! The batch runner (placeholder, being written).
