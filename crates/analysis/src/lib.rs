//! The three questions over plain events: who (the identity chain back to its origin),
//! what (a session's activity), and from where (its network sources and flags).
//!
//! Everything here works on [`backtrail_model`] types through the
//! [`backtrail_model::EventLookup`] trait, so it runs the same over the Parquet store and
//! over events held in memory, and builds without the query engine.

pub mod activity;
pub mod calls;
pub mod catalog;
pub mod chain;
pub mod evidence;
mod federation;
pub mod forward;
pub mod investigate;
pub mod network;
mod path;
pub mod path_facts;
pub mod risk;
pub mod subject;
pub mod triage;
