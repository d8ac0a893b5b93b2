//! backtrail-sources
