//! backtrail-store
pub mod columns;
