//! Which event ids the store already holds, sharded by UTC day with bounded memory.
//!
//! CloudTrail delivers some events twice; the copies share eventID and eventTime, so they
//! fall on the same day. Each segment keeps the 128-bit hashes of its ids per day in a
//! sidecar file; a day's hashes are loaded when an event of that day arrives and dropped
//! (least recently used first) when the budget is exceeded.

use crate::StoreError;
use crate::manifest::{IdDay, Manifest};
use backtrail_model::Event;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Hash of an event's content: the record as logged, field by field. A re-delivered event
/// repeats it whole, so it is found as a duplicate; records that merely reuse an eventID
/// (the two accounts' copies of a cross-account call, documentation examples, anonymised
/// samples: a few hundred in ../shared/realdata) differ somewhere and are all kept. As only
/// identical records collapse, which copy is kept cannot matter, and the store is the same
/// whatever order the files are read in (the cluster's writers rely on it).
pub fn id_hash(ev: &Event) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut field = |v: Option<&str>| {
        match v {
            Some(v) => {
                h.update(&[1]);
                h.update(v.as_bytes());
            }
            None => h.update(&[2]),
        }
        h.update(&[0]);
    };
    field(Some(&ev.event_id));
    field(ev.recipient_account_id.as_deref());
    field(Some(&ev.event_name));
    field(Some(&ev.event_source));
    field(ev.event_type.as_deref());
    field(ev.aws_region.as_deref());
    field(ev.source_ip.as_deref());
    field(ev.user_agent.as_deref());
    field(ev.error_code.as_deref());
    field(ev.error_message.as_deref());
    field(ev.request_id.as_deref());
    field(ev.user_identity.as_deref());
    field(ev.request_parameters.as_deref());
    field(ev.response_elements.as_deref());
    field(ev.resources.as_deref());
    field(ev.additional_event_data.as_deref());
    field(ev.service_event_details.as_deref());
    field(ev.extra.as_deref());
    h.update(&ev.event_time.to_le_bytes());
    h.digest128()
}

/// Days since the Unix epoch of a time in milliseconds.
pub fn day_number(ms: i64) -> i32 {
    ms.div_euclid(86_400_000) as i32
}

/// A day's committed ids, sorted: 16 bytes an id, searched in place (a hash set took about
/// twice that, which made memory grow with the store up to the budget).
struct Loaded {
    committed: Vec<u128>,
    last_used: u64,
}

/// Lookups within which a day counts as in use and is not evicted.
const IN_USE: u64 = 100_000;

/// The id index of one ingest.
pub struct IdIndex {
    dir: PathBuf,
    /// Per day: (ids file, offset, count) of committed segments.
    sources: HashMap<i32, Vec<(String, IdDay)>>,
    loaded: HashMap<i32, Loaded>,
    /// Ids added since the last commit, per day.
    fresh: HashMap<i32, Vec<u128>>,
    fresh_set: HashSet<u128>,
    loaded_ids: usize,
    budget: usize,
    clock: u64,
}

impl IdIndex {
    /// An index over the segments in `manifest`, holding at most `budget` committed ids in
    /// memory at once (fresh ids of the running commit are always held).
    pub fn new(dir: &Path, manifest: &Manifest, budget: usize) -> Self {
        let mut sources: HashMap<i32, Vec<(String, IdDay)>> = HashMap::new();
        for s in &manifest.segments {
            for d in &s.id_days {
                sources
                    .entry(d.day)
                    .or_default()
                    .push((s.ids_file.clone(), *d));
            }
        }
        IdIndex {
            dir: dir.to_path_buf(),
            sources,
            loaded: HashMap::new(),
            fresh: HashMap::new(),
            fresh_set: HashSet::new(),
            loaded_ids: 0,
            budget,
            clock: 0,
        }
    }

    /// Records the event and returns true when it is new; false for a duplicate.
    pub fn insert(&mut self, ev: &Event) -> Result<bool, StoreError> {
        self.insert_hash(id_hash(ev), ev.event_time)
    }

    /// [`IdIndex::insert`] of an event whose [`id_hash`] was computed already (on a
    /// reading thread).
    pub fn insert_hash(&mut self, h: u128, event_time: i64) -> Result<bool, StoreError> {
        if self.fresh_set.contains(&h) {
            return Ok(false);
        }
        let day = day_number(event_time);
        if self.sources.contains_key(&day) {
            self.clock += 1;
            let clock = self.clock;
            if !self.loaded.contains_key(&day) {
                self.load(day)?;
            }
            let l = self.loaded.get_mut(&day).expect("just loaded");
            l.last_used = clock;
            if l.committed.binary_search(&h).is_ok() {
                return Ok(false);
            }
        }
        self.fresh_set.insert(h);
        self.fresh.entry(day).or_default().push(h);
        Ok(true)
    }

    fn load(&mut self, day: i32) -> Result<(), StoreError> {
        // Exactly the room the day takes: a day can hold more ids than the budget (a
        // 100M-event trail has 1.7M a day), and a vector grown by doubling held twice that.
        let total = self
            .sources
            .get(&day)
            .into_iter()
            .flatten()
            .map(|(_, d)| d.count as usize)
            .sum();
        let mut set = Vec::with_capacity(total);
        for (file, d) in self.sources.get(&day).into_iter().flatten() {
            let path = self.dir.join(file);
            let mut f = std::fs::File::open(&path).map_err(|e| StoreError::io(&path, e))?;
            f.seek(SeekFrom::Start(d.offset))
                .map_err(|e| StoreError::io(&path, e))?;
            let mut buf = vec![0u8; d.count as usize * 16];
            f.read_exact(&mut buf)
                .map_err(|e| StoreError::io(&path, e))?;
            set.extend(
                buf.chunks_exact(16)
                    .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes"))),
            );
        }
        set.sort_unstable();
        set.dedup();
        self.loaded_ids += set.len();
        self.loaded.insert(
            day,
            Loaded {
                committed: set,
                last_used: self.clock,
            },
        );
        self.evict(day);
        Ok(())
    }

    /// Lets go of the least recently used days until the budget holds, sparing `keep` and
    /// every day looked up in the last [`IN_USE`] lookups: files of neighbouring days
    /// arrive in turn from the reading threads, and a day evicted while in use was loaded
    /// again at the next switch (with days larger than the budget, the 1M-event trail
    /// ingested 2.6-3.6x slower). The days in use may hold more than the budget.
    fn evict(&mut self, keep: i32) {
        let idle_before = self.clock.saturating_sub(IN_USE);
        while self.loaded_ids > self.budget {
            let Some((&oldest, _)) = self
                .loaded
                .iter()
                .filter(|(d, l)| **d != keep && l.last_used < idle_before)
                .min_by_key(|(_, l)| l.last_used)
            else {
                return;
            };
            if let Some(l) = self.loaded.remove(&oldest) {
                self.loaded_ids -= l.committed.len();
            }
        }
    }

    /// Fresh ids since the last commit, per day, sorted, for the segment's sidecar.
    pub fn take_fresh(&mut self) -> Vec<(i32, Vec<u128>)> {
        let mut v: Vec<(i32, Vec<u128>)> = self.fresh.drain().collect();
        v.sort_by_key(|(d, _)| *d);
        for (_, ids) in &mut v {
            ids.sort_unstable();
        }
        v
    }

    /// After a commit: the fresh ids now live in `ids_file` at `days`.
    pub fn committed(&mut self, ids_file: &str, days: &[IdDay]) {
        for d in days {
            let day = d.day;
            self.sources
                .entry(day)
                .or_default()
                .push((ids_file.to_string(), *d));
            // A loaded day is let go rather than grown by the commit's ids (growing a
            // vector of a large day in place held it twice, at every commit); its next
            // lookup loads it again, the new ids included, from the sidecars.
            if let Some(l) = self.loaded.remove(&day) {
                self.loaded_ids -= l.committed.len();
            }
        }
        self.fresh_set.clear();
    }
}

/// Serializes per-day sorted hashes; returns the bytes and each day's place.
pub fn encode(fresh: &[(i32, Vec<u128>)]) -> (Vec<u8>, Vec<IdDay>) {
    let mut bytes = Vec::new();
    let mut days = Vec::new();
    for (day, ids) in fresh {
        days.push(IdDay {
            day: *day,
            offset: bytes.len() as u64,
            count: ids.len() as u64,
        });
        for h in ids {
            bytes.extend_from_slice(&h.to_le_bytes());
        }
    }
    (bytes, days)
}
