//! Rate gate (placeholder, being written).
/// A rate gate.
#[derive(Debug, Clone, Default)]
pub struct RateGate;
