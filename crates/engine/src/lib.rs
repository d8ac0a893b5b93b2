//! backtrail-engine
