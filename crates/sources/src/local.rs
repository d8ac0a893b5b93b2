//! Discovery of local files: a file given directly, or a directory walked recursively.

use std::fs::Metadata;
use std::io;
use std::path::{Component, Path};
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use crate::layout::{Decision, decide};
use crate::{Discovery, Filter, Location, SourceError, SourceFile};

/// Adds the files under one local input to `found`.
pub(crate) fn discover(
    input: &str,
    filter: &Filter,
    found: &mut Discovery,
) -> Result<(), SourceError> {
    let meta = std::fs::metadata(input).map_err(|e| error(Path::new(input), e))?;
    let root = std::path::absolute(input).map_err(|e| error(Path::new(input), e))?;
    if !meta.is_dir() {
        found.files.push(source_file(&root, &meta));
        return Ok(());
    }
    let (mut listed, mut pruned) = (0, 0);
    let walk = WalkDir::new(&root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            let hidden = e.file_name().as_encoded_bytes().first() == Some(&b'.');
            if e.depth() > 0 && hidden {
                return false;
            }
            if !e.file_type().is_dir() {
                return true;
            }
            let segments = segments(e.path());
            if decide(segments.iter().map(|s| &**s), filter) == Decision::Prune {
                pruned += 1;
                false
            } else {
                listed += 1;
                true
            }
        });
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(&root).to_path_buf();
            error(&path, io::Error::from(e))
        })?;
        if entry.file_type().is_file() {
            let meta = entry
                .metadata()
                .map_err(|e| error(entry.path(), io::Error::from(e)))?;
            found.files.push(source_file(entry.path(), &meta));
        }
    }
    found.listed_prefixes += listed;
    found.pruned_prefixes += pruned;
    Ok(())
}

/// A path's named components; a name that is not UTF-8 becomes text that no layout matches.
fn segments(path: &Path) -> Vec<std::borrow::Cow<'_, str>> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy()),
            _ => None,
        })
        .collect()
}

fn source_file(path: &Path, meta: &Metadata) -> SourceFile {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    SourceFile {
        key: path.to_string_lossy().into_owned(),
        size: meta.len(),
        version: mtime.to_string(),
        location: Location::Local(path.to_path_buf()),
    }
}

/// Names the path in an I/O error, and reports a missing path as [`SourceError::NotFound`].
pub(crate) fn error(path: &Path, source: io::Error) -> SourceError {
    if source.kind() == io::ErrorKind::NotFound {
        SourceError::NotFound {
            path: path.display().to_string(),
        }
    } else {
        SourceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
