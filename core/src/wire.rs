//! The `classify` JSON-lines contract (being written).
