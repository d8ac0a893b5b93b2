//! Discovery of local files: a file given directly, or a directory walked recursively.

use std::fs::Metadata;
use std::io;
use std::path::{Component, Path};
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use crate::layout::{Decision, decide};
use crate::{Discovery, Filter, Location, PathProblem, SourceError, SourceFile};

/// Adds the files under one local input to `found`.
pub(crate) fn discover(
    input: &str,
    filter: &Filter,
    found: &mut Discovery,
) -> Result<(), SourceError> {
    let meta = std::fs::metadata(input).map_err(|e| error(Path::new(input), e))?;
    let root = std::path::absolute(input).map_err(|e| error(Path::new(input), e))?;
    if !meta.is_dir() {
        if meta.is_file() {
            found.files.push(source_file(&root, &meta));
        } else {
            found.problems.push(special_file(&root));
        }
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
    // One bad path (a symbolic link loop, an unreadable directory, a dangling link) is
    // reported and passed by; the rest of the tree is still found.
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                found.problems.push(walk_problem(&root, &e));
                continue;
            }
        };
        let kind = entry.file_type();
        if kind.is_file() {
            match entry.metadata() {
                Ok(meta) => found.files.push(source_file(entry.path(), &meta)),
                Err(e) => found.problems.push(walk_problem(&root, &e)),
            }
        } else if !kind.is_dir() {
            found.problems.push(special_file(entry.path()));
        }
    }
    found.listed_prefixes += listed;
    found.pruned_prefixes += pruned;
    Ok(())
}

/// Why the walk could not take a path.
fn walk_problem(root: &Path, e: &walkdir::Error) -> PathProblem {
    let path = e.path().unwrap_or(root);
    if let Some(ancestor) = e.loop_ancestor() {
        return PathProblem {
            path: path.display().to_string(),
            reason: format!(
                "symbolic link loop (back to {}): not followed",
                ancestor.display()
            ),
            skipped: true,
        };
    }
    let dangling = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(path).is_err();
    let reason = match e.io_error() {
        Some(io) if dangling => format!("dangling symbolic link: {io}"),
        Some(io) => format!("unreadable: {io}"),
        None => format!("unreadable: {e}"),
    };
    PathProblem {
        path: path.display().to_string(),
        reason,
        skipped: false,
    }
}

/// A FIFO, socket or device: never opened (reading a FIFO could wait forever).
fn special_file(path: &Path) -> PathProblem {
    PathProblem {
        path: path.display().to_string(),
        reason: "not a regular file (FIFO, socket or device): not read".into(),
        skipped: true,
    }
}

/// Opens a local file for reading. Only regular files: a path that became a FIFO since
/// discovery is refused rather than waited on.
pub(crate) fn open(path: &Path) -> Result<std::fs::File, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| error(path, e))?;
    if !meta.is_file() {
        return Err(SourceError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("not a regular file"),
        });
    }
    std::fs::File::open(path).map_err(|e| error(path, e))
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
