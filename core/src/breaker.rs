//! Circuit breaker (placeholder, being written).
/// Breaker options.
#[derive(Debug, Clone, Default)]
pub struct BreakerConfig;
/// A circuit breaker.
#[derive(Debug, Clone, Default)]
pub struct CircuitBreaker;
