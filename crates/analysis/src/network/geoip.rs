//! Country and network of public addresses from a GeoIP database: the trait the analysis
//! asks, and a reader of MaxMind DB files.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Country and network of a public address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

/// A GeoIP database (MaxMind or other); optional, so that the analysis runs offline without
/// one.
pub trait GeoLookup {
    /// What the database knows of `ip`.
    fn lookup(&self, ip: IpAddr) -> Option<Geo>;
}

/// Why a GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoDbError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not a usable MaxMind DB: {0}")]
    Format(String),
}

/// Start of the metadata section of a MaxMind DB file.
pub(super) const MMDB_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// Nesting and pointer depth allowed in a data record.
const MMDB_DEPTH: u8 = 16;
/// Values decoded per lookup at most: a crafted file cannot make one lookup slow.
const MMDB_BUDGET: u32 = 100_000;

/// A MaxMind DB file (GeoLite2 / GeoIP2 Country, City or ASN), held in memory. Read with
/// the published format (search tree + data section) rather than a dependency; every read
/// is bounds-checked, since the file comes from outside.
pub struct MaxMindDb {
    data: Vec<u8>,
    node_count: u32,
    record_size: u32,
    ip_version: u32,
    /// Start of the data section (after the tree and its 16-byte separator).
    data_start: usize,
    /// Node reached after 96 zero bits: where IPv4 addresses start in an IPv6 tree.
    ipv4_start: u32,
}

/// The part of a data-section value the lookup needs.
#[derive(Debug)]
enum MmValue {
    Str(String),
    Uint(u64),
    Map(Vec<(String, MmValue)>),
    Other,
}

impl MmValue {
    fn get(&self, key: &str) -> Option<&MmValue> {
        match self {
            MmValue::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            MmValue::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_uint(&self) -> Option<u64> {
        match self {
            MmValue::Uint(n) => Some(*n),
            _ => None,
        }
    }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Decodes the value at `off` of `buf` (pointers are offsets into `buf`); returns it and
/// the offset after it.
fn mm_decode(buf: &[u8], off: usize, depth: u8, budget: &mut u32) -> Option<(MmValue, usize)> {
    if depth > MMDB_DEPTH || *budget == 0 {
        return None;
    }
    *budget -= 1;
    let ctrl = *buf.get(off)?;
    let mut off = off + 1;
    let mut kind = ctrl >> 5;
    if kind == 1 {
        let size = usize::from((ctrl >> 3) & 3);
        let low = u64::from(ctrl & 7);
        let bytes = buf.get(off..off + size + 1)?;
        let target = match size {
            0 => (low << 8) | be(bytes),
            1 => ((low << 16) | be(bytes)) + 2048,
            2 => ((low << 24) | be(bytes)) + 526_336,
            _ => be(bytes),
        };
        let (v, _) = mm_decode(buf, usize::try_from(target).ok()?, depth + 1, budget)?;
        return Some((v, off + size + 1));
    }
    if kind == 0 {
        kind = 7u8.checked_add(*buf.get(off)?)?;
        off += 1;
    }
    let mut size = usize::from(ctrl & 0x1f);
    if size >= 29 {
        let extra = size - 28;
        let n = usize::try_from(be(buf.get(off..off + extra)?)).ok()?;
        size = match extra {
            1 => 29 + n,
            2 => 285 + n,
            _ => 65_821 + n,
        };
        off += extra;
    }
    match kind {
        2 => {
            let s = std::str::from_utf8(buf.get(off..off + size)?).ok()?;
            Some((MmValue::Str(s.to_string()), off + size))
        }
        5 | 6 | 9 | 10 => {
            let bytes = buf.get(off..off + size)?;
            let v = if size <= 8 {
                MmValue::Uint(be(bytes))
            } else {
                MmValue::Other
            };
            Some((v, off + size))
        }
        7 => {
            let mut entries = Vec::new();
            for _ in 0..size {
                let (k, next) = mm_decode(buf, off, depth + 1, budget)?;
                let (v, next) = mm_decode(buf, next, depth + 1, budget)?;
                off = next;
                if let MmValue::Str(k) = k {
                    entries.push((k, v));
                }
            }
            Some((MmValue::Map(entries), off))
        }
        11 => {
            for _ in 0..size {
                off = mm_decode(buf, off, depth + 1, budget)?.1;
            }
            Some((MmValue::Other, off))
        }
        // Double, bytes, int32, float: skipped; boolean and end marker have no payload.
        3 | 4 | 8 | 15 => {
            buf.get(off..off + size)?;
            Some((MmValue::Other, off + size))
        }
        13 | 14 => Some((MmValue::Other, off)),
        _ => None,
    }
}

impl MaxMindDb {
    /// Reads the database at `path`.
    pub fn open(path: &std::path::Path) -> Result<MaxMindDb, GeoDbError> {
        let data = std::fs::read(path).map_err(|source| GeoDbError::Io {
            path: path.display().to_string(),
            source,
        })?;
        MaxMindDb::from_bytes(data)
    }

    /// Checks the metadata of a database held in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<MaxMindDb, GeoDbError> {
        let bad = |m: &str| GeoDbError::Format(m.to_string());
        let marker = data
            .windows(MMDB_MARKER.len())
            .rposition(|w| w == MMDB_MARKER)
            .ok_or_else(|| bad("no metadata marker"))?;
        let meta = &data[marker + MMDB_MARKER.len()..];
        let mut budget = MMDB_BUDGET;
        let (meta, _) = mm_decode(meta, 0, 0, &mut budget).ok_or_else(|| bad("metadata"))?;
        let field = |k: &str| {
            meta.get(k)
                .and_then(MmValue::as_uint)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(&format!("metadata lacks {k}")))
        };
        let node_count = field("node_count")?;
        let record_size = field("record_size")?;
        let ip_version = field("ip_version")?;
        if ![24, 28, 32].contains(&record_size) {
            return Err(bad("record_size is not 24, 28 or 32"));
        }
        if ![4, 6].contains(&ip_version) {
            return Err(bad("ip_version is not 4 or 6"));
        }
        let tree_size = (node_count as usize) * (record_size as usize) / 4;
        if tree_size + 16 > marker {
            return Err(bad("search tree larger than the file"));
        }
        let mut db = MaxMindDb {
            data,
            node_count,
            record_size,
            ip_version,
            data_start: tree_size + 16,
            ipv4_start: 0,
        };
        if ip_version == 6 {
            let mut node = 0;
            for _ in 0..96 {
                if node >= node_count {
                    break;
                }
                node = db.record(node, false).ok_or_else(|| bad("search tree"))?;
            }
            db.ipv4_start = node;
        }
        Ok(db)
    }

    fn record(&self, node: u32, right: bool) -> Option<u32> {
        let n = node as usize;
        let d = &self.data;
        let v = match self.record_size {
            24 => {
                let at = n * 6 + if right { 3 } else { 0 };
                be(d.get(at..at + 3)?)
            }
            28 => {
                let at = n * 7;
                let middle = u64::from(*d.get(at + 3)?);
                if right {
                    ((middle & 0x0f) << 24) | be(d.get(at + 4..at + 7)?)
                } else {
                    ((middle & 0xf0) << 20) | be(d.get(at..at + 3)?)
                }
            }
            _ => {
                let at = n * 8 + if right { 4 } else { 0 };
                be(d.get(at..at + 4)?)
            }
        };
        u32::try_from(v).ok()
    }

    /// The data record of the network holding `ip`.
    fn find(&self, ip: IpAddr) -> Option<MmValue> {
        // IPv4-mapped IPv6 addresses are looked up as IPv4 (whether or not the file has the
        // ::ffff:0:0/96 alias).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (bytes, start): (Vec<u8>, u32) = match (ip, self.ip_version) {
            (IpAddr::V4(v4), 4) => (v4.octets().to_vec(), 0),
            (IpAddr::V4(v4), _) => (v4.octets().to_vec(), self.ipv4_start),
            (IpAddr::V6(v6), 6) => (v6.octets().to_vec(), 0),
            (IpAddr::V6(_), _) => return None,
        };
        let mut node = start;
        for i in 0..bytes.len() * 8 {
            if node >= self.node_count {
                break;
            }
            let bit = (bytes[i / 8] >> (7 - i % 8)) & 1 == 1;
            node = self.record(node, bit)?;
        }
        if node <= self.node_count {
            return None;
        }
        let offset = (node - self.node_count) as usize;
        let section = self.data.get(self.data_start..)?;
        let mut budget = MMDB_BUDGET;
        mm_decode(section, offset.checked_sub(16)?, 0, &mut budget).map(|v| v.0)
    }
}

impl GeoLookup for MaxMindDb {
    fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let rec = self.find(ip)?;
        let country = ["country", "registered_country"]
            .iter()
            .find_map(|k| rec.get(k)?.get("iso_code")?.as_str())
            .map(str::to_string);
        let asn = rec
            .get("autonomous_system_number")
            .and_then(MmValue::as_uint)
            .and_then(|n| u32::try_from(n).ok());
        let as_org = rec
            .get("autonomous_system_organization")
            .and_then(MmValue::as_str)
            .map(str::to_string);
        (country.is_some() || asn.is_some() || as_org.is_some()).then_some(Geo {
            country,
            asn,
            as_org,
        })
    }
}

/// Several databases (typically a Country or City one and an ASN one): each field from the
/// first database that has it.
impl GeoLookup for Vec<MaxMindDb> {
    fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let mut geo: Option<Geo> = None;
        for g in self.iter().filter_map(|db| db.lookup(ip)) {
            let acc = geo.get_or_insert_with(Geo::default);
            acc.country = acc.country.take().or(g.country);
            acc.asn = acc.asn.or(g.asn);
            acc.as_org = acc.as_org.take().or(g.as_org);
        }
        geo
    }
}
