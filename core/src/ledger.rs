//! Batch ledger records (placeholder, being written).
