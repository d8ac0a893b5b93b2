//! The manifest: the one file that says what the store holds.
//!
//! Readers see exactly the files it lists, so a file written by an ingest that was killed
//! before it updated the manifest is invisible (and removed by the next ingest). It is
//! replaced atomically (write, fsync, rename).

use crate::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Current manifest format. 2: an event's identity hash covers more than eventID and account
/// (`ids::id_hash`); the id sidecars of format 1 cannot be compared with it, so such a store
/// is ingested again into a new one.
pub const FORMAT: u32 = 2;

/// What the store holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Id the next segment will get.
    pub next_segment: u64,
    pub segments: Vec<Segment>,
    /// The merged `sessions` table, and the highest segment id it covers.
    pub sessions_file: Option<String>,
    pub sessions_upto_segment: Option<u64>,
    /// Every source file ingested, by key, with what became of it. Kept in `sources_file`,
    /// not in this file: only writers need it, and it grows with the number of files read
    /// (about a million at 100 million events), while every reader loads the manifest.
    /// Manifests written before the split hold it inline; it is moved out on their next save.
    #[serde(default, serialize_with = "no_sources")]
    pub sources: BTreeMap<String, SourceRecord>,
    /// The file holding `sources` (`sources/sources-N.json`), written with each save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources_file: Option<String>,
    /// Number of the last sources file written: each save writes a new one, so the file the
    /// listed manifest names is never overwritten.
    #[serde(default)]
    pub sources_seq: u64,
    /// Recipient accounts of the stored events: the accounts whose trails the store holds
    /// (a VPC endpoint owned by none of them is the caller's own).
    #[serde(default)]
    pub accounts: std::collections::BTreeSet<String>,
    /// Runs of the identity index (`index.rs`); segments none covers are read in full.
    /// Absent in stores written before the index existed.
    #[serde(default)]
    pub index: Vec<crate::index::IndexRun>,
}

/// One ingest commit: an events file and what was derived from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    pub id: u64,
    pub events_file: String,
    pub issuances_file: String,
    pub session_parts_file: String,
    pub ids_file: String,
    pub rejects_file: String,
    pub rows: u64,
    pub issuances: u64,
    pub min_time: i64,
    pub max_time: i64,
    /// For each UTC day (days since epoch): byte offset and count of its ids in `ids_file`.
    pub id_days: Vec<IdDay>,
}

/// Where one day's event-id hashes sit in a segment's ids file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct IdDay {
    pub day: i32,
    pub offset: u64,
    pub count: u64,
}

/// What became of one source file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceRecord {
    /// Size and version (mtime or ETag) when read: a changed file is read again.
    pub size: u64,
    pub version: String,
    /// read, skipped, rejected, or unreadable (read again by the next ingest).
    pub outcome: String,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub segment: Option<u64>,
}

impl Manifest {
    /// Reads the manifest of `dir` with its `sources` (what a writer needs), or an empty one
    /// for a new store.
    pub fn load(dir: &Path) -> Result<Manifest, StoreError> {
        let mut m = Self::load_catalog(dir)?;
        if let Some(f) = &m.sources_file {
            let p = dir.join(f);
            let bytes = std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?;
            m.sources = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                path: p.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(m)
    }

    /// Reads the manifest of `dir` without the `sources` of its separate file: what a
    /// reader needs (segments, sessions table, index, accounts), in a file whose size does
    /// not follow the number of source files.
    pub fn load_catalog(dir: &Path) -> Result<Manifest, StoreError> {
        let p = dir.join("manifest.json");
        match std::fs::read(&p) {
            Ok(bytes) => {
                let m: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        path: p.clone(),
                        message: e.to_string(),
                    })?;
                if m.format != FORMAT {
                    return Err(StoreError::Corrupt {
                        path: p,
                        message: format!("format {} (this backtrail reads {FORMAT})", m.format),
                    });
                }
                Ok(m)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                format: FORMAT,
                ..Default::default()
            }),
            Err(e) => Err(StoreError::io(&p, e)),
        }
    }

    /// Replaces the manifest atomically: `sources` go to a new file, durable before the
    /// manifest naming it is renamed into place; the file it replaces is removed after
    /// (only writers read it, and they hold the store's lock).
    pub fn save(&mut self, dir: &Path) -> Result<(), StoreError> {
        let seq = self.sources_seq + 1;
        let file = format!("sources/sources-{seq:08}.json");
        let sources_dir = dir.join("sources");
        std::fs::create_dir_all(&sources_dir).map_err(|e| StoreError::io(&sources_dir, e))?;
        let tmp = dir.join(format!("{file}.tmp"));
        let bytes = serde_json::to_vec(&self.sources).expect("sources serialize");
        write_durably(&tmp, &bytes)?;
        let dst = dir.join(&file);
        std::fs::rename(&tmp, &dst).map_err(|e| StoreError::io(&dst, e))?;
        sync_dir(&sources_dir);
        let replaced = self.sources_file.replace(file);
        self.sources_seq = seq;

        let tmp = dir.join("manifest.json.tmp");
        let bytes = serde_json::to_vec(self).expect("manifest serializes");
        write_durably(&tmp, &bytes)?;
        let dst = dir.join("manifest.json");
        std::fs::rename(&tmp, &dst).map_err(|e| StoreError::io(&dst, e))?;
        sync_dir(dir);
        if let Some(old) = replaced {
            let _ = std::fs::remove_file(dir.join(old));
        }
        Ok(())
    }

    /// Every file the manifest references, relative to the store directory.
    pub fn referenced_files(&self) -> Vec<String> {
        let mut v = Vec::new();
        for s in &self.segments {
            v.push(s.events_file.clone());
            v.push(s.issuances_file.clone());
            v.push(s.session_parts_file.clone());
            v.push(s.ids_file.clone());
            v.push(s.rejects_file.clone());
        }
        v.extend(self.sessions_file.clone());
        v.extend(self.index.iter().map(|r| r.file.clone()));
        v.extend(self.sources_file.clone());
        v
    }

    /// Whether the merged sessions table covers every segment: it covers the segments up to
    /// `sessions_upto_segment` (ids only grow; a compaction gives the segments it writes
    /// new ids and moves the mark to them).
    pub fn sessions_current(&self) -> bool {
        match self.segments.iter().map(|s| s.id).max() {
            None => true,
            Some(last) => self.sessions_upto_segment == Some(last),
        }
    }

    /// Whether a save would change nothing but `sources`: the sessions table and the index
    /// cover every segment and the sources are in their own file (a store an older backtrail
    /// wrote is brought to this state by its next ingest or compaction).
    pub fn up_to_date(&self) -> bool {
        self.sessions_current()
            && self.index_current()
            && (self.sources_file.is_some() || self.sources.is_empty())
    }

    /// Whether the identity index covers every segment.
    pub fn index_current(&self) -> bool {
        let covered: std::collections::HashSet<u64> = self
            .index
            .iter()
            .flat_map(|r| r.segments.iter().copied())
            .collect();
        self.segments.iter().all(|s| covered.contains(&s.id))
    }

    /// Events stored in all segments.
    pub fn total_events(&self) -> u64 {
        self.segments.iter().map(|s| s.rows).sum()
    }
}

/// `sources` as the manifest holds them now: an empty map, which older backtrail binaries
/// (for which the field is required) still read; they see no source as ingested, so an
/// ingest by one of them reads every file again and finds its events as duplicates.
fn no_sources<S: serde::Serializer>(
    _: &BTreeMap<String, SourceRecord>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    s.serialize_map(Some(0))?.end()
}

/// Writes a file and flushes it to disk before returning.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = std::fs::File::create(path).map_err(|e| StoreError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StoreError::io(path, e))?;
    f.sync_all().map_err(|e| StoreError::io(path, e))?;
    Ok(())
}

/// Makes renames in `dir` durable (best effort: not every platform allows it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
