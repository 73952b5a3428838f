//! Output: atomic file writes, JSON and CSV, and figures.

pub mod figure;
#[cfg(feature = "plot")]
mod render;
mod series;

pub use figure::{Figure, Panels, Series, Style};

use crate::error::{Error, Result};
use std::path::Path;

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, then renamed,
/// so that a reader (or a crash) never sees a half-written file. Creates parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::Io { path: path.display().to_string(), source: e };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Serializes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(value).map_err(|e| Error::Other(format!("JSON encoding: {e}")))?;
    write_atomic(path, s.as_bytes())
}
