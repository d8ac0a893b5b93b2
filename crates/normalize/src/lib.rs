//! From bytes to events: decompression and format detection by content, record parsing,
//! and the rows derived from events at ingest (issuances, sessions).
//!
//! Log contents are hostile: nothing here may panic, recurse without bound or loop forever
//! on any input (the fuzz target in `fuzz/` and the property tests check it). A damaged file
//! yields every readable record, and every unreadable one comes back as a reject with its
//! position and reason.

pub mod container;
pub mod derive;
mod json;
pub mod reconstruct;
pub mod record;
pub mod scan;
pub mod stream;

pub use container::{
    FileOutcome, Format, MAX_LISTED_REJECTS, ParsedFile, RecordReject, Warning, decode, parse_file,
};
pub use derive::{SessionAggregator, issuance_of};
pub use reconstruct::to_json;
pub use record::{MAX_DEPTH, MAX_FIELD_BYTES, MAX_RECORD_BYTES, RecordError, parse_record};
pub use stream::{Batch, Limits, StreamEnd, parse_stream, parse_stream_with};
