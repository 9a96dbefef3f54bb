//! Retry budget (placeholder, being written).
/// Budget options.
#[derive(Debug, Clone, Default)]
pub struct BudgetConfig;
/// A retry budget.
#[derive(Debug, Clone, Default)]
pub struct RetryBudget;
