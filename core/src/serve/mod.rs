//! The fault-injecting fake API (placeholder, being written).
