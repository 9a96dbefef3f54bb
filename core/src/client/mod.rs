//! The reqwest driver (placeholder, being written).
