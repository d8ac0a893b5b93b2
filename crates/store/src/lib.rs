//! backtrail-store
