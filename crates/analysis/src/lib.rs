//! backtrail-analysis
