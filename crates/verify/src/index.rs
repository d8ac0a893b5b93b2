//! Which verified file each event was read from: 64-bit hashes of event ids, sorted, each
//! with the index of its file in the report. Twelve bytes an event, so a million-event trail
//! keeps a 12 MB file that a lookup binary-searches.

use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 8] = b"BTVIDX1\n";

/// Event id hashes and file indexes, sorted by hash once [`EventIndex::finish`] ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventIndex {
    entries: Vec<(u64, u32)>,
}

impl EventIndex {
    /// The hash an event id is indexed by.
    pub fn hash(event_id: &str) -> u64 {
        xxh3_64(event_id.as_bytes())
    }

    /// Records that `event_id` was read from file `file`.
    pub fn push(&mut self, event_id: &str, file: u32) {
        self.push_hash(Self::hash(event_id), file);
    }

    /// Records that the event id hashing to `hash` ([`EventIndex::hash`]) was read from `file`.
    pub fn push_hash(&mut self, hash: u64, file: u32) {
        self.entries.push((hash, file));
    }

    /// Sorts, so that lookups work.
    pub fn finish(&mut self) {
        self.entries.sort_unstable();
        self.entries.dedup();
    }

    /// Number of (event, file) pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no event was indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The files an event id was read from (several when the same id was delivered twice, or
    /// on the rare hash collision: callers take the worst outcome).
    pub fn files_of(&self, event_id: &str) -> impl Iterator<Item = u32> + '_ {
        let h = Self::hash(event_id);
        let start = self.entries.partition_point(|e| e.0 < h);
        self.entries[start..]
            .iter()
            .take_while(move |e| e.0 == h)
            .map(|e| e.1)
    }

    /// The on-disk form: magic, count, then (hash, file) little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 12);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (h, f) in &self.entries {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&f.to_le_bytes());
        }
        out
    }

    /// Reads [`EventIndex::to_bytes`]; `None` when the bytes are not such a file.
    pub fn from_bytes(b: &[u8]) -> Option<EventIndex> {
        let rest = b.strip_prefix(MAGIC)?;
        let n = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
        let body = &rest[8..];
        if body.len() != n.checked_mul(12)? {
            return None;
        }
        let entries: Vec<(u64, u32)> = body
            .chunks_exact(12)
            .map(|c| {
                let h = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                let f = u32::from_le_bytes(c[8..].try_into().expect("4 bytes"));
                (h, f)
            })
            .collect();
        entries
            .windows(2)
            .all(|w| w[0] <= w[1])
            .then_some(EventIndex { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lookup() {
        let mut ix = EventIndex::default();
        ix.push("b", 2);
        ix.push("a", 1);
        ix.push("b", 5);
        ix.finish();
        let back = EventIndex::from_bytes(&ix.to_bytes()).unwrap();
        assert_eq!(back, ix);
        let mut b: Vec<u32> = back.files_of("b").collect();
        b.sort();
        assert_eq!(b, vec![2, 5]);
        assert_eq!(back.files_of("a").collect::<Vec<_>>(), vec![1]);
        assert_eq!(back.files_of("zzz").count(), 0);
        assert!(EventIndex::from_bytes(b"BTVIDX1\n\x01\0\0\0\0\0\0\0").is_none());
    }
}
