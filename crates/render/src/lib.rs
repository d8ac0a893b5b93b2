//! backtrail-render
